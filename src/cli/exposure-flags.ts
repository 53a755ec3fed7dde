import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { emptyWindowProblem } from '../core/analysis/exposure/index.js';
import { GatehouseError } from '../core/errors.js';
import type { InventorySnapshot } from '../core/identity/inventory.js';
import { UsageError } from './usage-error.js';
import { parseTimeFlag } from './time-flag.js';
import { fileProblem } from './file-problem.js';

/** The instant an analysis judges against: `--now`, else the inventory's `generatedAt`, else the clock. */
export function analysisNow(
  flag: string | undefined,
  inventory: InventorySnapshot,
  clock: () => number,
): number {
  if (flag !== undefined) return parseTimeFlag(flag, '--now');
  if (inventory.generatedAt) return Date.parse(inventory.generatedAt);
  return clock();
}

/** Refuses an empty log window: `--since` at or after `--until`, which defaults to `--now`. */
export function checkWindow(since: number | undefined, until: number): void {
  const problem = emptyWindowProblem(since, until, { since: '--since', until: '--until (default: --now)' });
  if (problem) throw new UsageError(problem);
}

export function oneOf<T extends string>(value: string, allowed: readonly T[], flag: string): T {
  if (!(allowed as readonly string[]).includes(value))
    throw new UsageError(`${flag} must be ${allowed.join(', ').replace(/, ([^,]*)$/, ' or $1')}`);
  return value as T;
}

/** Writes to `--out FILE` relative to the working directory. */
export function writeOut(path: string, cwd: string, text: string): void {
  try {
    writeFileSync(resolve(cwd, path), text);
  } catch (e) {
    throw new UsageError(`cannot write \`${path}\`: ${fileProblem(e, 'write')}`);
  }
}

/**
 * Runs a verb's body, reporting an invalid inventory as invalid input (exit 3)
 * with every problem, as `check` does for policies.
 */
export async function withInventoryErrors(
  verb: string,
  io: { stderr: { write(text: string): unknown } },
  body: () => Promise<number>,
): Promise<number> {
  try {
    return await body();
  } catch (e) {
    if (e instanceof GatehouseError && e.code === 'entry_invalid') {
      io.stderr.write(`gatehouse ${verb}: ${e.message}\n`);
      for (const p of e.problems?.slice(1) ?? []) io.stderr.write(`  ${p.message}\n`);
      return 3;
    }
    throw e;
  }
}
