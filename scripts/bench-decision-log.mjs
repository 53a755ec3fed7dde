#!/usr/bin/env node
/**
 * Sustained throughput of the decision log: `--concurrency` callers each
 * record a decision, wait until it is durable, and record the next, through
 * the DecisionLogWriter into a SQLite file (WAL, synchronous = FULL), for
 * `--seconds` after `--warmup-s`. The writer defers its writes with
 * setImmediate, as a server does.
 *
 *   npm run build && node scripts/bench-decision-log.mjs [--seconds 10] [--warmup-s 1]
 *       [--concurrency 64] [--max-batch 1000] [--max-queue 10000] [--dir DIR] [--keep]
 *   node --import tsx scripts/bench-decision-log.mjs --src [...]   (from src/, without a build)
 *
 * Prints a table, then, as the last line of stdout, one JSON summary. The
 * log is verified at the end (count and hash chain); exits 1 when it is not
 * intact or a record failed (a lossy log must not look fast), 3 on invalid flags.
 */
import { mkdirSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setImmediate } from 'node:timers';
import { fileURLToPath } from 'node:url';
import { readFlags, UsageError } from './lib/bench-flags.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

function parseArgs(argv) {
  const args = {
    seconds: 10,
    warmupS: 1,
    concurrency: 64,
    maxBatch: 1000,
    maxQueue: 10_000,
    dir: join(ROOT, '.bench', 'decision-log'),
    keep: false,
    src: false,
  };
  readFlags(argv, (flag, { value, count }) => {
    if (flag === '--seconds') args.seconds = count(1);
    else if (flag === '--warmup-s') args.warmupS = count(0);
    else if (flag === '--concurrency') args.concurrency = count(1);
    else if (flag === '--max-batch') args.maxBatch = count(1);
    else if (flag === '--max-queue') args.maxQueue = count(1);
    else if (flag === '--dir') args.dir = resolve(value());
    else if (flag === '--keep') args.keep = true;
    else if (flag === '--src') args.src = true;
    else if (flag === '--help' || flag === '-h') args.help = true;
    else throw new UsageError(`unknown flag \`${flag}\`: see the header of scripts/bench-decision-log.mjs`);
  });
  return args;
}

async function load(src) {
  const base = src ? join(ROOT, 'src') : join(ROOT, 'dist');
  const ext = src ? '.ts' : '.js';
  const at = (path) => join(base, `${path}${ext}`);
  try {
    const [{ DecisionLogWriter }, { verifyDecisionLog }, { openSqliteDecisionLog }] = await Promise.all([
      import(at('core/log/decision-log-writer')),
      import(at('core/log/verify-decision-log')),
      import(at('store/index')),
    ]);
    return { DecisionLogWriter, verifyDecisionLog, openSqliteDecisionLog };
  } catch (error) {
    throw new Error(
      src
        ? `cannot load src/: run with \`node --import tsx\`: ${error.message}`
        : `cannot load dist/: run \`npm run build\` first, or use \`node --import tsx scripts/bench-decision-log.mjs --src\`: ${error.message}`,
    );
  }
}

/** A decision as an enforcement point would record it; varied like a real workload. */
function body(n, time) {
  const verdict = n % 5 === 0 ? 'deny' : 'allow';
  return {
    v: 1,
    decisionId: `dec_${n.toString(36).padStart(8, '0')}`,
    time,
    policyRevision: 'sha256:5f1c0a6e2b7d4e9a8c3b1f0e7d6c5b4a39281706f5e4d3c2b1a0918273645546',
    via: 'ext_authz',
    source: {
      spiffeId: `spiffe://acme.example/ns/payments/sa/worker-${n % 97}`,
      ip: `10.1.${n % 250}.${n % 200}`,
      zone: 'prod',
    },
    credential: { type: 'x509-svid', id: `x509:${(n % 997).toString(16)}` },
    destination: { service: `svc-${n % 53}`, port: 8443, zone: 'prod-data' },
    action: { method: n % 3 === 0 ? 'POST' : 'GET', path: `/v1/orders/${n % 10_000}` },
    decision: verdict,
    allowed: verdict === 'allow',
    enforced: true,
    mode: 'enforce',
    wouldDeny: verdict === 'deny',
    layer: verdict === 'allow' ? 'permission' : 'flow',
    reason: verdict === 'allow' ? 'allow_rule' : 'default_deny',
    rules: verdict === 'allow' ? ['payments-read-orders'] : [],
    layers: { credential: 'allow', zone: 'allow', flow: verdict, permission: verdict },
    latencyMicros: 20 + (n % 60),
  };
}

function quantile(sorted, q) {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

function table(rows) {
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n');
}

async function main() {
  let args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(error.message);
      process.exit(3);
    }
    throw error;
  }
  if (args.help) {
    console.log('see the header of scripts/bench-decision-log.mjs');
    return;
  }
  const { DecisionLogWriter, verifyDecisionLog, openSqliteDecisionLog } = await load(args.src);

  mkdirSync(args.dir, { recursive: true });
  const file = join(args.dir, `bench-${process.pid}.db`);
  const store = await openSqliteDecisionLog(file);
  const writer = await DecisionLogWriter.open(store, {
    maxBatch: args.maxBatch,
    maxQueue: args.maxQueue,
    defer: (run) => setImmediate(run),
  });

  let n = 0;
  let failures = 0;
  let deepest = 0;
  let measuring = false;
  const latencies = [];
  const start = performance.now();
  const measureFrom = start + args.warmupS * 1000;
  const stopAt = measureFrom + args.seconds * 1000;
  let counted = 0;
  let statsAtStart;

  async function caller() {
    while (true) {
      const now = performance.now();
      if (now >= stopAt) return;
      if (!measuring && now >= measureFrom) {
        measuring = true;
        statsAtStart = writer.stats();
      }
      const t0 = performance.now();
      try {
        await writer.record(body(++n, new Date().toISOString()));
      } catch {
        failures++;
      }
      const t1 = performance.now();
      deepest = Math.max(deepest, writer.queueDepth());
      // Only records both started and finished inside the measured window count.
      if (t0 >= measureFrom && t1 < stopAt) {
        latencies.push(t1 - t0);
        counted++;
      }
    }
  }

  await Promise.all(Array.from({ length: args.concurrency }, caller));
  await writer.close();
  const elapsedS = args.seconds;
  const stats = writer.stats();
  statsAtStart ??= { written: 0, batches: 0 };

  const total = await store.count();
  const status = await verifyDecisionLog(store, { batchSize: 5000 });
  await store.close();
  const bytes = statSync(file).size + (statSync(`${file}-wal`, { throwIfNoEntry: false })?.size ?? 0);
  if (!args.keep) for (const f of [file, `${file}-wal`, `${file}-shm`]) rmSync(f, { force: true });

  latencies.sort((a, b) => a - b);
  const batches = stats.batches - statsAtStart.batches;
  const written = stats.written - statsAtStart.written;
  const summary = {
    bench: 'decision-log',
    store: 'sqlite',
    concurrency: args.concurrency,
    maxBatch: args.maxBatch,
    maxQueue: args.maxQueue,
    seconds: elapsedS,
    recordsPerSecond: Math.round(counted / elapsedS),
    batchesPerSecond: Math.round(batches / elapsedS),
    meanBatch: batches === 0 ? 0 : Math.round((written / batches) * 10) / 10,
    latencyMs: {
      p50: round(quantile(latencies, 0.5)),
      p99: round(quantile(latencies, 0.99)),
      p999: round(quantile(latencies, 0.999)),
      max: round(latencies.at(-1) ?? 0),
    },
    maxQueueDepth: deepest,
    recordsTotal: total,
    failures,
    bytesPerRecord: total === 0 ? 0 : Math.round(bytes / total),
    verified: status.firstBreak === undefined && status.checked === total && total === stats.written,
    node: process.version,
    from: args.src ? 'src' : 'dist',
  };

  console.log(
    table([
      ['store', `SQLite, WAL, synchronous=FULL (${args.dir})`],
      ['concurrency', String(args.concurrency)],
      ['measured', `${elapsedS} s after ${args.warmupS} s warm-up`],
      ['records/s', summary.recordsPerSecond.toLocaleString('en-US')],
      ['transactions/s', summary.batchesPerSecond.toLocaleString('en-US')],
      ['records per transaction', String(summary.meanBatch)],
      ['record() p50', `${summary.latencyMs.p50} ms`],
      ['record() p99', `${summary.latencyMs.p99} ms`],
      ['record() p99.9', `${summary.latencyMs.p999} ms`],
      ['record() max', `${summary.latencyMs.max} ms`],
      ['max queue depth', String(deepest)],
      ['records in log', total.toLocaleString('en-US')],
      ['bytes per record', String(summary.bytesPerRecord)],
      ['failed record() calls', String(failures)],
      ['chain verified', summary.verified ? 'yes' : `NO: ${status.firstBreak?.message ?? 'count mismatch'}`],
    ]),
  );
  console.log(JSON.stringify(summary));
  if (!summary.verified || failures > 0) process.exit(1);
}

function round(ms) {
  return Math.round(ms * 1000) / 1000;
}

main().catch((error) => {
  console.error(error.message ?? String(error));
  process.exit(1);
});
