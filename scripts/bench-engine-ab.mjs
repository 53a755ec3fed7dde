#!/usr/bin/env node
/**
 * Compares two builds of the engine on one peer workload, in one process:
 * rounds over the workload's requests alternate between the two, so that
 * whatever the neighbours of a shared machine do in a given minute weighs
 * on both alike. Separate runs of `npm run bench` on such a machine differ
 * by ±15 % for the same code; a change of a few per cent is seen only this way.
 *
 *   node scripts/bench-engine-ab.mjs --a DIR --b DIR --workload FILE [--seconds 30] [--distinct K]
 *
 * With `--distinct K` each round still makes as many decisions as the workload
 * has requests, cycling over its first K: with a few, what the engine reads
 * stays in the caches and the comparison is of its computing alone.
 *
 * DIR is a checkout with `dist/` built and `bench/peer-adapter.mjs`
 * (a `git worktree` of the other commit, say). The builds run one after the
 * other in each pair, and the second of the pair is a few per cent faster
 * whichever it is: the run is made twice, with A first and then with B first,
 * and the ratio given is the geometric mean of the two, which cancels that
 * bias. Prints one JSON line: `ratio` > 1 means B is faster. Two copies of
 * the same build read +2.1 % and -0.8 % here on the large workload (40 s and
 * 30 s), and one pair of builds +4.0 % one way and -1.6 % the other: smaller
 * differences than about 4 % are noise, and a claimed gain should hold with
 * the builds given in both orders (`--a X --b Y`, then `--a Y --b X`).
 *
 * Not for changes in how the engine looks strings up or where it keeps them:
 * the two builds share one string table, so the internalized copies one build
 * makes (of SPIFFE IDs, say) are the ones the other finds, laid out where and
 * when the first made them. Three such changes read +7 %, +6 % and +12 % here
 * one by one, and +5 % and +7.5 % together. For those, `--processes PAIRS`
 * runs the shared harness itself, one process per build, the builds taking
 * turns (A then B, then B then A, …), and gives the geometric mean of the
 * pairs' ratios of median decisions/s (each run checks 100 % agreement; a
 * pair takes about two minutes on the large workload).
 *
 *   node scripts/bench-engine-ab.mjs --a DIR --b DIR --workload FILE --processes 4 [--rounds 5] [--shared DIR]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { readFlags, UsageError } from './lib/bench-flags.mjs';
import { harnessArgv, sharedDir } from './lib/peer-harness.mjs';

function parseArgs(argv) {
  const args = {
    a: undefined,
    b: undefined,
    workload: undefined,
    seconds: 30,
    distinct: undefined,
    processes: undefined,
    rounds: 5,
    shared: undefined,
  };
  readFlags(argv, (flag, { value, count }) => {
    if (flag === '--a') args.a = resolve(value());
    else if (flag === '--b') args.b = resolve(value());
    else if (flag === '--workload') args.workload = value();
    else if (flag === '--seconds') args.seconds = count(2);
    else if (flag === '--distinct') args.distinct = count(1);
    else if (flag === '--processes') args.processes = count(1);
    else if (flag === '--rounds') args.rounds = count(1);
    else if (flag === '--shared') args.shared = value();
    else throw new UsageError(`unknown flag \`${flag}\``);
  });
  if (!args.a || !args.b || !args.workload) throw new UsageError('--a, --b and --workload are required');
  return args;
}

/** Median of B/A over pairs of rounds, for `seconds`; `bFirst` runs B first in each pair. */
function alternate(engines, seconds, bFirst) {
  let sink = 0;
  const round = ({ engine, requests, distinct }) => {
    const start = process.hrtime.bigint();
    for (let i = 0, k = 0; i < requests.length; i++) {
      if (engine.decide(requests[k])) sink++;
      if (++k === distinct) k = 0;
    }
    return requests.length / (Number(process.hrtime.bigint() - start) / 1e9);
  };
  const [a, b] = engines;
  // Warm both.
  for (let i = 0; i < 2; i++) {
    round(a);
    round(b);
  }
  const ratios = [];
  const rates = { a: [], b: [] };
  const until = Date.now() + seconds * 1000;
  while (Date.now() < until) {
    const first = round(bFirst ? b : a);
    const second = round(bFirst ? a : b);
    const [ra, rb] = bFirst ? [second, first] : [first, second];
    ratios.push(rb / ra);
    rates.a.push(ra);
    rates.b.push(rb);
  }
  if (sink < 0) console.log(sink); // keep the decisions observable
  return { ratio: median(ratios), a: median(rates.a), b: median(rates.b), pairs: ratios.length };
}

function median(values) {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[sorted.length >> 1];
}

/** One run of the shared harness on the build in `dir`: its median decisions/s, its answers checked. */
function harnessRun(dir, args, shared, out) {
  const argv = harnessArgv({
    harness: shared,
    adapter: resolve(dir, 'bench/peer-adapter.mjs'),
    engine: 'gatehouse',
    workload: args.workload,
    rounds: args.rounds,
    out,
  });
  const res = spawnSync(process.execPath, argv, { stdio: ['ignore', 'ignore', 2] });
  if (res.error) throw res.error;
  if (res.status !== 0) throw new Error(`the harness exited with ${res.status} on ${dir}`);
  const result = JSON.parse(readFileSync(out, 'utf8'));
  if (result.agreementPct !== 100 || (result.reasonAgreementPct ?? 100) !== 100) {
    throw new Error(`${dir} disagrees with the expected decisions (${result.agreementPct} %)`);
  }
  return result.median.decisionsPerSec;
}

/** `--processes PAIRS`: the builds in separate harness processes, taking turns. */
function separate(args) {
  const shared = sharedDir(args.shared);
  const work = mkdtempSync(join(tmpdir(), 'gatehouse-ab-'));
  const pairs = [];
  try {
    for (let i = 0; i < args.processes; i++) {
      const order = i % 2 === 0 ? ['a', 'b'] : ['b', 'a'];
      const rate = {};
      for (const key of order)
        rate[key] = harnessRun(args[key], args, shared, join(work, `${i}-${key}.json`));
      pairs.push({ first: order[0], a: rate.a, b: rate.b, ratio: rate.b / rate.a });
      console.log(
        `pair ${i + 1} (${order.join(' then ')}): A ${rate.a}, B ${rate.b}, B/A ${(rate.b / rate.a).toFixed(3)}`,
      );
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const ratio = Math.exp(pairs.reduce((sum, p) => sum + Math.log(p.ratio), 0) / pairs.length);
  console.log(`A ${args.a}\nB ${args.b}`);
  console.log(`B against A: ${pct(ratio)} (geometric mean of ${pairs.length} pairs)`);
  console.log(
    JSON.stringify({
      bench: 'engine-ab',
      mode: 'processes',
      ratio: Number(ratio.toFixed(3)),
      pairs: pairs.map((p) => ({ ...p, ratio: Number(p.ratio.toFixed(3)) })),
    }),
  );
}

const pct = (r) => `${r >= 1 ? '+' : ''}${((r - 1) * 100).toFixed(1)} %`;

async function main() {
  const args = parseArgs(process.argv.slice(2));
  if (args.processes !== undefined) return separate(args);
  const text = readFileSync(args.workload, 'utf8');
  const engines = [];
  for (const dir of [args.a, args.b]) {
    // Each build gets its own copy of the workload: an engine may change the strings it is given
    // (V8 turns a string it internalizes into a pointer to the copy), which would speed up the
    // other build's lookups of the same strings and hide the difference being measured.
    const workload = JSON.parse(text);
    const adapter = await import(pathToFileURL(resolve(dir, 'bench/peer-adapter.mjs')).href);
    const requests = workload.requests;
    engines.push({
      engine: await adapter.load(workload),
      requests,
      distinct: args.distinct ?? requests.length,
    });
  }
  const aFirst = alternate(engines, args.seconds / 2, false);
  const bFirst = alternate(engines, args.seconds / 2, true);
  const ratio = Math.sqrt(aFirst.ratio * bFirst.ratio);
  console.log(`A ${args.a}\nB ${args.b}`);
  console.log(`A first: B/A ${aFirst.ratio.toFixed(3)} over ${aFirst.pairs} pairs`);
  console.log(`B first: B/A ${bFirst.ratio.toFixed(3)} over ${bFirst.pairs} pairs`);
  console.log(`B against A: ${pct(ratio)}`);
  console.log(
    JSON.stringify({
      bench: 'engine-ab',
      ratio: Number(ratio.toFixed(3)),
      aFirst: { ratio: Number(aFirst.ratio.toFixed(3)), pairs: aFirst.pairs },
      bFirst: { ratio: Number(bFirst.ratio.toFixed(3)), pairs: bFirst.pairs },
      aDecisionsPerSec: Math.round((aFirst.a + bFirst.a) / 2),
      bDecisionsPerSec: Math.round((aFirst.b + bFirst.b) / 2),
    }),
  );
}

main().catch((error) => {
  console.error(`bench-engine-ab: ${error.message}`);
  process.exit(error instanceof UsageError ? 3 : 1);
});
