/**
 * Runs the `gatehouse` command in-process, as tests drive it: standard output
 * and error captured, standard input given, the clock fixed when asked. And
 * golden files for outputs worth keeping word for word.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { CliIo } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';

export const root = new URL('../..', import.meta.url).pathname;

export interface CliResult {
  code: number;
  out: string;
  err: string;
}

export interface CliRunOptions {
  stdin?: string;
  /** Epoch milliseconds the command sees as now; the real clock when absent. */
  now?: number;
  cwd?: string;
  env?: Record<string, string | undefined>;
}

export async function runCli(args: string[], options: CliRunOptions = {}): Promise<CliResult> {
  let out = '';
  let err = '';
  const io: CliIo = {
    stdout: { write: (t: string) => (out += t) },
    stderr: { write: (t: string) => (err += t) },
    readStdin: async () => options.stdin ?? '',
    cwd: options.cwd ?? root,
    env: options.env ?? {},
    isTty: false,
  };
  const now = options.now;
  const code = now === undefined ? await main(args, io) : await main(args, io, () => now);
  return { code, out, err };
}

/** Compares `actual` with `test/golden/<name>`; GATEHOUSE_UPDATE_GOLDEN=1 rewrites the file instead. */
export function golden(name: string, actual: string): void {
  const path = join(root, 'test/golden', name);
  if (process.env.GATEHOUSE_UPDATE_GOLDEN === '1') {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, actual);
  }
  assert.equal(
    actual,
    readFileSync(path, 'utf8'),
    `golden file ${name} differs (GATEHOUSE_UPDATE_GOLDEN=1 to accept)`,
  );
}
