import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { GatehouseError } from '../core/errors.js';
import type { PolicySourceText } from '../core/policy/index.js';
import { fileProblem } from './file-problem.js';

const POLICY_FILE = /\.(ya?ml|json)$/i;

/**
 * Reads policy sources from files and folders. A folder contributes every
 * `.yaml`, `.yml` and `.json` file below it, in sorted path order, so that a
 * merged policy is the same on every machine.
 * @throws GatehouseError `policy_io_error` for a missing path or an empty folder
 */
export function readPolicySources(paths: readonly string[], cwd: string): PolicySourceText[] {
  const out: PolicySourceText[] = [];
  for (const p of paths) {
    const abs = resolve(cwd, p);
    let st;
    try {
      st = statSync(abs);
    } catch {
      throw new GatehouseError('policy_io_error', `cannot read policy \`${p}\`: no such file or folder`);
    }
    const files = st.isDirectory()
      ? walk(abs)
          .filter((f) => POLICY_FILE.test(f))
          .sort()
      : [abs];
    if (files.length === 0)
      throw new GatehouseError('policy_io_error', `policy folder \`${p}\` has no .yaml, .yml or .json files`);
    for (const f of files) {
      try {
        out.push({ file: relative(cwd, f) || f, text: readFileSync(f, 'utf8') });
      } catch (e) {
        throw new GatehouseError(
          'policy_io_error',
          `cannot read policy file \`${relative(cwd, f)}\`: ${fileProblem(e)}`,
        );
      }
    }
  }
  return out;
}

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    if (name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...walk(path));
    else out.push(path);
  }
  return out;
}
