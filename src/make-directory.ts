/**
 * `mkdir -p`, one level at a time. Node's own recursive `mkdirSync` spins
 * for ever where a parent exists but the child cannot be made in it (ENOENT,
 * as under `/proc`): a bad path must be an error, not a hang.
 */
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';

/** Makes `dir` and any parents it lacks; throws the file system's error when it cannot. */
export function makeDirectory(dir: string): void {
  try {
    mkdirSync(dir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' && statSync(dir).isDirectory()) return;
    const parent = dirname(dir);
    if (code !== 'ENOENT' || parent === dir || existsSync(parent)) throw error;
    makeDirectory(parent);
    mkdirSync(dir);
  }
}
