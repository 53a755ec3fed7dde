#!/usr/bin/env node
/**
 * Where the engine's time goes on a large workload: the same compiled policy
 * asked the same requests, cycling over the first K of them for growing K,
 * next to the machine's latency for one dependent load from memory. From
 * dist/ (npm run build first).
 *
 *   node scripts/bench-working-set.mjs [--workload FILE] [--decisions N]
 *
 * With a few distinct requests everything the engine touches stays in the
 * caches and the figure is the engine's compute; with the workload's 200,000
 * the caller's identity, the destination's rule index and the request itself
 * come from memory for most decisions. The gap between the two, read against
 * the load latency, says how much of a decision is waiting for memory.
 *
 * Prints a table, then, as the last line of stdout, a JSON summary.
 * Exits 3 on invalid flags.
 */
import { readFileSync } from 'node:fs';
import { load } from '../bench/peer-adapter.mjs';
import { readFlags, UsageError } from './lib/bench-flags.mjs';
import { LARGE_WORKLOAD, requireWorkload } from './lib/peer-harness.mjs';

const args = { workload: LARGE_WORKLOAD, decisions: 400_000 };
try {
  readFlags(process.argv.slice(2), (flag, { value, count }) => {
    if (flag === '--workload') args.workload = value();
    else if (flag === '--decisions') args.decisions = count(1000);
    else throw new UsageError(`unknown flag \`${flag}\`: see the header of scripts/bench-working-set.mjs`);
  });
  requireWorkload(args.workload);
} catch (e) {
  if (!(e instanceof UsageError)) throw e;
  process.stderr.write(`bench-working-set: ${e.message}\n`);
  process.exit(3);
}

/** Nanoseconds per load when each load's address comes from the one before, over `mb` megabytes. */
function loadLatency(mb) {
  const ints = (mb * 1024 * 1024) / 4;
  const stride = 16; // one load per 64-byte line
  const lines = ints / stride;
  const order = Int32Array.from({ length: lines }, (_, i) => i);
  let seed = 42;
  const random = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
  for (let i = lines - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const next = new Int32Array(ints);
  for (let i = 0; i < lines; i++) next[order[i] * stride] = order[(i + 1) % lines] * stride;
  let p = 0;
  const steps = 2_000_000;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < steps; i++) p = next[p];
  const ns = Number(process.hrtime.bigint() - t0) / steps;
  return p >= 0 ? ns : NaN;
}

const workload = JSON.parse(readFileSync(args.workload, 'utf8'));
const engine = await load(workload);
const requests = workload.requests;
// Warm-up over every request: identities are indexed on first sight, and the JIT settles.
for (const r of requests) engine.decide(r);

const sizes = [16, 256, 4096, 65536, requests.length].filter(
  (k, i, all) => k <= requests.length && all.indexOf(k) === i,
);
const rows = [];
for (const k of sizes) {
  const set = requests.slice(0, k);
  let allowed = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < args.decisions; i++) if (engine.decide(set[i % k])) allowed++;
  const ns = Number(process.hrtime.bigint() - t0);
  rows.push({
    requests: k,
    decisionsPerSec: Math.round(args.decisions / (ns / 1e9)),
    nsPerDecision: Math.round(ns / args.decisions),
    allowed,
  });
}
const latency = [1, 8, 64, 512].map((mb) => ({ mb, ns: Number(loadLatency(mb).toFixed(1)) }));

const pad = (s, n) => String(s).padStart(n);
console.log(`${pad('distinct requests', 18)}  ${pad('decisions/s', 12)}  ${pad('ns/decision', 12)}`);
for (const r of rows)
  console.log(
    `${pad(r.requests.toLocaleString('en-US'), 18)}  ${pad(r.decisionsPerSec.toLocaleString('en-US'), 12)}  ${pad(r.nsPerDecision, 12)}`,
  );
console.log('');
console.log(`${pad('working set', 18)}  ${pad('ns per dependent load', 22)}`);
for (const l of latency) console.log(`${pad(`${l.mb} MB`, 18)}  ${pad(l.ns, 22)}`);
console.log(
  JSON.stringify({
    workload: args.workload,
    engine: engine.engine,
    decisions: args.decisions,
    workingSets: rows,
    loadLatencyNs: latency,
    node: process.version,
    date: new Date().toISOString(),
  }),
);
