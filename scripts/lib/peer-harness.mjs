/**
 * Where the shared peer harness is, for the scripts that run it.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from './bench-flags.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The node flag every harness process gets: the large workload needs more than the default heap. */
export const HEAP_FLAG = '--max-old-space-size=8192';

/**
 * The node arguments of one run of the shared harness (`<harness>/bench.mjs`): one engine on
 * one workload, its result written to `out`.
 */
export function harnessArgv({ harness, adapter, engine, workload, rounds, budgetS, out }) {
  return [
    '--expose-gc',
    HEAP_FLAG,
    join(harness, 'bench.mjs'),
    ...(adapter ? ['--adapter', adapter] : []),
    '--engine',
    engine,
    '--workload',
    workload,
    '--rounds',
    String(rounds),
    ...(budgetS !== undefined ? ['--budget-s', String(budgetS)] : []),
    '--out',
    out,
  ];
}

/** The shared harness folder: `flag`, then GATEHOUSE_PEER_BENCH, then ../shared/bench beside the repository. */
export function sharedDir(flag) {
  const dir = resolve(flag ?? process.env.GATEHOUSE_PEER_BENCH ?? join(ROOT, '..', 'shared', 'bench'));
  for (const file of ['bench.mjs', 'gen-workload.mjs']) {
    if (!existsSync(join(dir, file))) {
      throw new UsageError(
        `no peer harness at \`${dir}\` (missing ${file}): use --shared DIR or GATEHOUSE_PEER_BENCH`,
      );
    }
  }
  return dir;
}

/** The large peer workload, which the engine benchmarks read unless given another. */
export const LARGE_WORKLOAD = join(ROOT, '.bench', 'workload-large-s42.json');

/** @throws UsageError when there is no workload at `path`, saying how to make one. */
export function requireWorkload(path) {
  if (!existsSync(path)) {
    throw new UsageError(
      `no workload at ${path}: generate it with ` +
        '`node scripts/bench.mjs --generate-only --size large --out .bench/workload-large-s42.json` ' +
        'or name one with --workload FILE',
    );
  }
}
