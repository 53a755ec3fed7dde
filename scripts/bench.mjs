#!/usr/bin/env node
/**
 * `npm run bench`: Gatehouse measured on the shared peer workload, in the
 * shared peer harness, next to the reference evaluator (and any other peer)
 * in the same run. Each engine runs in its own process
 * (`<shared>/bench.mjs`), which checks every answer against the workload's
 * expected decisions before it reports a number. Each Gatehouse
 * configuration (decision ids on, and off) runs in two processes, in the
 * order on, off, off, on, and its figures are over the rounds of both.
 *
 * Then the HTTP part, with wrk on loopback (Debian package `wrk`): `POST
 * /v1/decide` of a real `gatehouse serve` next to a bare Node `http` server
 * (scripts/bench-http.mjs), and `gatehouse proxy` next to direct calls to its
 * upstream (scripts/bench-proxy.mjs), each in alternating rounds. Without
 * wrk, or with `--skip-http`, the summary says the part was not measured.
 *
 *   npm run bench -- [--workload FILE | --size small|large [--seed N]] [--rounds N] [--budget-s N]
 *                    [--peers reference,cedar-sharded,...|none] [--skip-no-ids] [--shared DIR]
 *                    [--skip-http] [--http-seconds N] [--http-rounds N]
 *   node scripts/bench.mjs --generate-only --size large [--seed 42] --out FILE
 *
 * The workload defaults to `.bench/workload-<size>-s<seed>.json`, generated
 * with the shared generator when missing or older than it. Peers other than
 * `reference` need the harness's own dependencies: the shared folder is then
 * copied to `.bench/peer-bench/` and `npm ci` runs there. Results go to
 * `.bench/results/`; nothing is written into the shared folder.
 *
 * Prints a table, then, as the last line of stdout, one JSON summary. Exits 1
 * when Gatehouse disagrees with the expected decisions or deciding rules on
 * any request, reports engine errors, or could not be measured, and when a
 * part of the HTTP benchmark fails or answers a request with an error (a
 * wrong engine or server must not look fast); 3 on invalid flags. Targets
 * missed are reported, not failures: the figures depend on the machine.
 */
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { readFlags, UsageError } from './lib/bench-flags.mjs';
import { HEAP_FLAG, harnessArgv, sharedDir } from './lib/peer-harness.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const ADAPTER = join(ROOT, 'bench', 'peer-adapter.mjs');
const WORK = join(ROOT, '.bench');
const PEERS = ['reference', 'cedar', 'cedar-sharded', 'cedar-floor', 'casbin', 'casbin-sharded', 'opa'];
/** Peers whose adapters import nothing outside the harness. */
const SELF_CONTAINED = new Set(['reference']);

function parseArgs(argv) {
  const args = {
    size: 'small',
    seed: 42,
    rounds: 5,
    peers: ['reference'],
    noIds: true,
    generateOnly: false,
    http: true,
    httpSeconds: 5,
    httpRounds: 3,
  };
  readFlags(argv, (flag, { value, count }) => {
    if (flag === '--workload') args.workload = value();
    else if (flag === '--size') args.size = value();
    else if (flag === '--seed') args.seed = count(0);
    else if (flag === '--rounds') args.rounds = count(1);
    else if (flag === '--budget-s') args.budgetS = count(1);
    else if (flag === '--peers') {
      const v = value().trim();
      args.peers = v === '' || v === 'none' ? [] : [...new Set(v.split(',').map((p) => p.trim()))];
    } else if (flag === '--shared') args.shared = value();
    else if (flag === '--skip-no-ids') args.noIds = false;
    else if (flag === '--skip-http') args.http = false;
    else if (flag === '--http-seconds') args.httpSeconds = count(1);
    else if (flag === '--http-rounds') args.httpRounds = count(1);
    else if (flag === '--generate-only') args.generateOnly = true;
    else if (flag === '--out') args.out = value();
    else if (flag === '--help' || flag === '-h') args.help = true;
    else throw new UsageError(`unknown flag \`${flag}\`: see the header of scripts/bench.mjs`);
  });
  if (!['small', 'large'].includes(args.size)) {
    throw new UsageError(`invalid size \`${args.size}\`: use small or large`);
  }
  for (const p of args.peers) {
    if (!PEERS.includes(p)) throw new UsageError(`unknown peer \`${p}\`: use one of ${PEERS.join(', ')}`);
  }
  if (args.generateOnly && !args.out) throw new UsageError('`--generate-only` needs `--out FILE`');
  return args;
}

const log = (line) => process.stderr.write(`${line}\n`);

/** Runs a command with its output on our stderr, so that stdout carries only the table and the summary. */
function run(command, args, options = {}) {
  const res = spawnSync(command, args, { stdio: ['ignore', 2, 2], ...options });
  if (res.error) throw res.error;
  return res.status ?? 1;
}

// --- HTTP part ----------------------------------------------------------------

/**
 * Runs one HTTP benchmark script: its table goes to our stdout, its JSON
 * summary (its last line) is returned with `ok`, or `{ measured: false }`
 * and the reason when it did not run to the end.
 */
function httpPart(script, argv) {
  log(`bench: ${script} ${argv.join(' ')}`);
  const res = spawnSync(process.execPath, [join(ROOT, 'scripts', script), ...argv], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 2],
  });
  if (res.error) return { measured: false, reason: String(res.error.message) };
  const lines = (res.stdout ?? '').trimEnd().split('\n');
  let summary;
  try {
    summary = JSON.parse(lines.at(-1));
  } catch {
    summary = undefined;
  }
  if (summary === undefined || typeof summary !== 'object' || summary === null) {
    process.stdout.write(res.stdout ?? '');
    return { measured: false, reason: `${script} exited with ${res.status ?? res.signal} and no summary` };
  }
  console.log('');
  console.log(lines.slice(0, -1).join('\n'));
  return { ...summary, ok: res.status === 0 };
}

/** The HTTP part's summaries, or why it was not measured. */
function httpBench(args) {
  if (!args.http) return { skipped: { measured: false, reason: '--skip-http' } };
  if (spawnSync('wrk', ['--version']).error) {
    return { skipped: { measured: false, reason: 'wrk is not installed (apt-get install wrk)' } };
  }
  const rounds = String(args.httpRounds);
  const seconds = String(args.httpSeconds);
  return {
    http: httpPart('bench-http.mjs', ['--duration', seconds, '--rounds', rounds]),
    proxy: httpPart('bench-proxy.mjs', ['--seconds', seconds, '--rounds', rounds]),
  };
}

/** What makes the HTTP part's figures untrustworthy: a part that failed, or errors answered under load. */
function httpProblems({ http, proxy }) {
  const problems = [];
  if (http?.measured === false) problems.push(`HTTP benchmark: ${http.reason}`);
  else if (http && (!http.ok || http.decideNon2xx > 0)) {
    problems.push(`HTTP benchmark: /v1/decide answered ${http.decideNon2xx} requests with an error status`);
  }
  if (proxy?.measured === false) problems.push(`proxy benchmark: ${proxy.reason}`);
  else if (proxy && !proxy.ok)
    problems.push(`proxy benchmark: ${proxy.errors} errors or proxied requests not allowed`);
  return problems;
}

// --- workload ---------------------------------------------------------------

async function generateTo(shared, size, seed, out) {
  const { generate, summarize } = await import(pathToFileURL(join(shared, 'gen-workload.mjs')).href);
  const t0 = performance.now();
  const doc = generate({ size, seed });
  const tmp = `${out}.tmp-${process.pid}`;
  mkdirSync(resolve(out, '..'), { recursive: true });
  writeFileSync(tmp, JSON.stringify(doc));
  renameSync(tmp, out);
  log(`generated ${out} in ${((performance.now() - t0) / 1000).toFixed(1)} s (seed ${seed})`);
  log(JSON.stringify(summarize(doc)));
}

/** The default workload, (re)generated like the harness's run.sh does: when missing or older than the generator. */
function defaultWorkload(shared, size, seed) {
  const file = join(WORK, `workload-${size}-s${seed}.json`);
  const sources = ['gen-workload.mjs', 'lib/reference.mjs', 'lib/prng.mjs'].map((f) => join(shared, f));
  const fresh =
    existsSync(file) &&
    statSync(file).size > 0 &&
    sources.every((s) => !existsSync(s) || statSync(s).mtimeMs <= statSync(file).mtimeMs);
  if (!fresh) {
    // A child with a large heap: the large workload does not fit Node's default one.
    const script = fileURLToPath(import.meta.url);
    const argv = [HEAP_FLAG, script, '--generate-only', '--shared', shared, '--size', size];
    const status = run(process.execPath, [...argv, '--seed', String(seed), '--out', file]);
    if (status !== 0) throw new Error(`workload generation failed (exit ${status})`);
  }
  return file;
}

// --- harness copy for peers with dependencies --------------------------------

function makeWritable(path) {
  const st = statSync(path);
  chmodSync(path, st.mode | 0o200);
  if (st.isDirectory()) for (const entry of readdirSync(path)) makeWritable(join(path, entry));
}

/** `.bench/peer-bench/`: the shared harness with its node_modules, refreshed from the shared folder. */
function peerHarness(shared) {
  const dest = join(WORK, 'peer-bench');
  mkdirSync(dest, { recursive: true });
  for (const entry of readdirSync(shared)) {
    if (['node_modules', 'data', 'results'].includes(entry)) continue;
    rmSync(join(dest, entry), { recursive: true, force: true });
    cpSync(join(shared, entry), join(dest, entry), { recursive: true });
    makeWritable(join(dest, entry));
  }
  const lock = readFileSync(join(dest, 'package-lock.json'), 'utf8');
  const stamp = join(dest, 'node_modules', '.gatehouse-bench-lock');
  if (!existsSync(stamp) || readFileSync(stamp, 'utf8') !== lock) {
    log(`installing the peer harness's dependencies in ${relative(ROOT, dest)} (npm ci)`);
    const status = run('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: dest });
    if (status !== 0) throw new Error(`npm ci in ${dest} failed (exit ${status})`);
    writeFileSync(stamp, lock);
  }
  return dest;
}

// --- runs -------------------------------------------------------------------

function measure(runSpec, args, workload) {
  const part = runSpec.part > 1 ? `-${runSpec.part}` : '';
  const out = join(WORK, 'results', `${basename(workload, '.json')}-${runSpec.key}${part}.json`);
  rmSync(out, { force: true });
  const argv = harnessArgv({
    harness: runSpec.harness,
    adapter: runSpec.adapter,
    engine: runSpec.key,
    workload,
    rounds: args.rounds,
    budgetS: args.budgetS,
    out,
  });
  log(`\n== ${runSpec.key}${runSpec.part ? ` (process ${runSpec.part} of 2)` : ''}`);
  const status = run(process.execPath, argv, { cwd: ROOT, env: { ...process.env, ...runSpec.env } });
  if (status !== 0 || !existsSync(out)) return { key: runSpec.key, failed: `harness exited with ${status}` };
  return { key: runSpec.key, result: JSON.parse(readFileSync(out, 'utf8')), file: out };
}

/**
 * One Gatehouse configuration's two harness processes as one result: its
 * rounds are those of both, the median round is taken over all of them (the
 * lower of the middle two), and every other figure is the worse of the two
 * (least agreement, most time and memory, errors added up).
 */
function combined(a, b) {
  if (a.failed || !a.result.runnable) return a;
  if (b.failed || !b.result.runnable) return b;
  const x = a.result;
  const y = b.result;
  const rounds = [...x.rounds, ...y.rounds];
  const byTput = [...rounds].sort((p, q) => p.decisionsPerSec - q.decisionsPerSec);
  const worse = (key, pick) =>
    x[key] === undefined || y[key] === undefined ? undefined : pick(x[key], y[key]);
  return {
    key: a.key,
    file: y.mismatches?.length && !x.mismatches?.length ? b.file : a.file,
    result: {
      ...x,
      rounds,
      median: byTput[(byTput.length - 1) >> 1],
      requestsChecked: Math.min(x.requestsChecked, y.requestsChecked),
      capped: x.capped || y.capped,
      agreementPct: Math.min(x.agreementPct, y.agreementPct),
      reasonAgreementPct: worse('reasonAgreementPct', Math.min),
      engineErrors: x.engineErrors + y.engineErrors,
      mismatches: [...(x.mismatches ?? []), ...(y.mismatches ?? [])],
      translateMs: Math.max(x.translateMs, y.translateMs),
      compileMs: Math.max(x.compileMs, y.compileMs),
      loadMs: Math.max(x.loadMs, y.loadMs),
      heapDeltaMB: Math.max(x.heapDeltaMB, y.heapDeltaMB),
      heapAfterRunDeltaMB: Math.max(x.heapAfterRunDeltaMB, y.heapAfterRunDeltaMB),
      rssDeltaMB: Math.max(x.rssDeltaMB, y.rssDeltaMB),
    },
  };
}

const round1 = (x) => (x === undefined || x === null ? null : Math.round(x * 10) / 10);

function figures(r) {
  const m = r.median;
  return {
    engine: r.engine,
    requestsChecked: r.requestsChecked,
    capped: r.capped,
    agreement: r.agreementPct,
    reasonAgreement: r.reasonAgreementPct ?? null,
    decisionsPerSec: m.decisionsPerSec,
    p50Micros: m.p50Us,
    p99Micros: m.p99Us,
    translateMs: r.translateMs,
    compileMs: r.compileMs,
    loadMs: r.loadMs,
    heapMB: r.heapDeltaMB,
    heapAfterRunMB: r.heapAfterRunDeltaMB,
    rssMB: r.rssDeltaMB,
    engineErrors: r.engineErrors,
  };
}

function table(rows) {
  const header = [
    'engine',
    'requests checked',
    'agreement decision / reasons',
    'decisions/s',
    'p50 µs',
    'p99 µs',
    'load / compile ms',
    'heap MB',
  ];
  const lines = rows.map((row) => {
    if (row.failed) return [row.key, 'not measured', row.failed, '', '', '', '', ''];
    const r = row.result;
    if (!r.runnable) return [row.key, 'not runnable', String(r.error).split(':')[0], '', '', '', '', ''];
    const m = r.median;
    const reasons = r.reasonAgreementPct === undefined ? 'n/a' : `${r.reasonAgreementPct}%`;
    return [
      `${row.key} (${r.engine})`,
      `${r.requestsChecked.toLocaleString('en-US')}${r.capped ? ' (capped)' : ''}`,
      `${r.agreementPct}% / ${reasons}`,
      m.decisionsPerSec.toLocaleString('en-US'),
      m.p50Us.toFixed(2),
      m.p99Us.toFixed(2),
      `${r.loadMs.toFixed(0)} / ${r.compileMs.toFixed(0)}`,
      String(r.heapDeltaMB),
    ];
  });
  const all = [header, ...lines];
  const widths = header.map((_, i) => Math.max(...all.map((l) => l[i].length)));
  const fmt = (l) =>
    l.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ');
  return [fmt(header), widths.map((w) => '-'.repeat(w)).join('  '), ...lines.map(fmt)].join('\n');
}

async function main() {
  let args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (e) {
    if (e instanceof UsageError) {
      log(`bench: ${e.message}`);
      return 3;
    }
    throw e;
  }
  if (args.help) {
    // The header comment above, without its comment markers.
    const header = readFileSync(fileURLToPath(import.meta.url), 'utf8')
      .split('*/')[0]
      .split('\n')
      .slice(2);
    log(header.map((line) => line.replace(/^ \*( |$)/, '')).join('\n'));
    return 0;
  }
  let shared;
  try {
    shared = sharedDir(args.shared);
  } catch (e) {
    if (e instanceof UsageError) {
      log(`bench: ${e.message}`);
      return 3;
    }
    throw e;
  }
  if (args.generateOnly) {
    await generateTo(shared, args.size, args.seed, resolve(args.out));
    return 0;
  }
  const workload = args.workload ? resolve(args.workload) : defaultWorkload(shared, args.size, args.seed);
  if (!existsSync(workload)) {
    log(`bench: no workload file \`${workload}\``);
    return 3;
  }

  // Each Gatehouse configuration runs in two processes, in the order ids on, ids off, ids off,
  // ids on, so that neither has the first place after the build to itself: when ids on always
  // ran first, ids off read higher in 8 of 10 runs, by 4 % on average, more than ids cost in
  // alternating runs (docs/performance.md, Comparing two builds).
  const on = { key: 'gatehouse', harness: shared, adapter: ADAPTER };
  const off = { ...on, key: 'gatehouse-no-ids', env: { GATEHOUSE_BENCH_DECISION_IDS: 'off' } };
  const ourRuns = args.noIds
    ? [
        { ...on, part: 1 },
        { ...off, part: 1 },
        { ...off, part: 2 },
        { ...on, part: 2 },
      ]
    : [
        { ...on, part: 1 },
        { ...on, part: 2 },
      ];
  const measuredOurs = ourRuns.map((spec) => measure(spec, args, workload));
  const rows = [on, ...(args.noIds ? [off] : [])].map((spec) => {
    const [a, b] = measuredOurs.filter((row) => row.key === spec.key);
    return combined(a, b);
  });
  const needsCopy = args.peers.some((p) => !SELF_CONTAINED.has(p));
  const peerDir = needsCopy ? peerHarness(shared) : shared;
  for (const p of args.peers)
    rows.push(measure({ key: p, harness: SELF_CONTAINED.has(p) ? shared : peerDir }, args, workload));
  console.log('');
  console.log(table(rows));

  const byKey = new Map(rows.map((r) => [r.key, r]));
  const ours = byKey.get('gatehouse');
  const problems = [];
  const usable = (row) => row && !row.failed && row.result.runnable;
  if (!usable(ours)) problems.push(`gatehouse was not measured: ${ours.failed ?? ours.result.error}`);
  for (const key of ['gatehouse', 'gatehouse-no-ids']) {
    const row = byKey.get(key);
    if (!usable(row)) continue;
    const r = row.result;
    if (r.agreementPct < 100) problems.push(`${key}: decision agreement ${r.agreementPct}% (< 100%)`);
    if (!(r.reasonAgreementPct >= 100)) {
      problems.push(`${key}: deciding-rule agreement ${r.reasonAgreementPct ?? 'unknown'}% (< 100%)`);
    }
    if (r.engineErrors) problems.push(`${key}: ${r.engineErrors} decisions with engine errors`);
    if (r.mismatches?.length) problems.push(`${key}: first mismatches in ${relative(ROOT, row.file)}`);
  }

  const web = httpBench(args);
  problems.push(...httpProblems(web));

  const g = usable(ours) ? ours.result : undefined;
  const ref = byKey.get('reference');
  const refDps = usable(ref) ? ref.result.median.decisionsPerSec : null;
  const noIds = byKey.get('gatehouse-no-ids');
  const peers = {};
  for (const p of args.peers) {
    const row = byKey.get(p);
    if (row.failed) peers[p] = { measured: false, reason: row.failed };
    else if (!row.result.runnable) peers[p] = { measured: false, reason: row.result.error };
    else peers[p] = figures(row.result);
  }
  const meta = g ?? rows.find(usable)?.result;
  const summary = {
    ok: problems.length === 0,
    workload: relative(ROOT, workload).startsWith('..') ? workload : relative(ROOT, workload),
    size: meta?.size ?? null,
    seed: meta?.seed ?? null,
    requests: meta?.requestsInWorkload ?? null,
    rules: meta?.rules ?? null,
    workloads: meta?.workloads ?? null,
    services: meta?.services ?? null,
    ...(g ? figures(g) : {}),
    noIds: usable(noIds) ? figures(noIds.result) : null,
    referenceDecisionsPerSec: refDps,
    speedupVsReference: g && refDps ? round1(g.median.decisionsPerSec / refDps) : null,
    peers,
    rounds: args.rounds,
    // Gatehouse's figures are over the rounds of two harness processes per configuration.
    gatehouseProcesses: 2,
    // POST /v1/decide against a bare node:http server, and the proxy against direct calls.
    http: web.skipped ?? httpFigures(web.http),
    proxy: web.skipped ?? proxyFigures(web.proxy),
    node: meta?.node ?? process.version,
    nproc: meta?.nproc ?? null,
    cpu: meta?.cpu ?? null,
    date: meta?.date ?? new Date().toISOString(),
  };
  for (const p of problems) log(`bench: ${p}`);
  console.log(JSON.stringify(summary));
  return problems.length ? 1 : 0;
}

function httpFigures(h) {
  if (h.measured === false) return h;
  return {
    ratio: h.ratio,
    target: 0.8,
    roundRatios: h.roundRatios,
    bareRequestsPerSec: h.bareRequestsPerSec,
    decideRequestsPerSec: h.decideRequestsPerSec,
    decideP50Ms: h.decideP50Ms,
    decideP99Ms: h.decideP99Ms,
    decideNon2xx: h.decideNon2xx,
    bareCpuMicrosPerRequest: h.bareCpuMicrosPerRequest,
    decideCpuMicrosPerRequest: h.decideCpuMicrosPerRequest,
    connections: h.connections,
    durationS: h.durationS,
    rounds: h.rounds,
  };
}

function proxyFigures(p) {
  if (p.measured === false) return p;
  const { bench: _bench, ok: _ok, ...rest } = p;
  return { ...rest, targets: { addedP50Ms: 0.3, throughputKept: 0.6 } };
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    log(`bench: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    process.exitCode = 1;
  },
);
