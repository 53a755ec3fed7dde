#!/usr/bin/env node
// The HTTP part of the benchmarks: `/v1/decide` of a real `gatehouse serve`
// (SQLite, durable decision log) against a bare Node `http` server answering
// a fixed JSON body, loaded by wrk on loopback in the same run.
//
//   npm run build && node scripts/bench-http.mjs [--duration 10] [--connections 64] [--rounds 3]
//
// Each round measures both servers, in alternating order; the figures are the
// medians over the rounds, and the ratio is the median of the rounds' ratios,
// so that a busy minute on a shared machine weighs on both servers alike.
//
// Needs wrk (Debian package `wrk`). Prints a table, then a JSON summary as
// its last line. Exits 1 when /v1/decide answered any request with an error
// status (a failing server must not look fast).
//
// Besides requests per second, each server's CPU time per request (user and
// system, all its threads, read from /proc on Linux): on a shared, noisy
// machine the ratio of throughputs moves with the neighbours, while the CPU
// a request costs the server moves much less, so it is the figure to compare
// two versions by.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { cpuMicrosPerRequest, cpuSeconds } from './lib/process-cpu.mjs';

const root = new URL('..', import.meta.url).pathname;
const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '64' },
    rounds: { type: 'string', default: '3' },
  },
});
if (spawnSync('wrk', ['--version']).error) {
  console.error('bench-http: wrk is not installed (apt-get install wrk)');
  process.exit(1);
}
const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-http-'));

function waitFor(child, pattern, what) {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`${what} did not start: ${out}`)), 20000);
    child.stdout.on('data', (d) => {
      out += d;
      const m = pattern.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.once('exit', (code) => reject(new Error(`${what} exited with ${code}: ${out}`)));
  });
}

const bare = spawn(
  process.execPath,
  [
    '-e',
    `const body = JSON.stringify({ decision: 'allow', allowed: true });
     const s = require('node:http').createServer((req, res) => {
       req.resume();
       req.on('end', () => { res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }); res.end(body); });
     });
     s.keepAliveTimeout = 65000;
     s.listen(0, '127.0.0.1', () => console.log('PORT ' + s.address().port));`,
  ],
  { stdio: ['ignore', 'pipe', 'inherit'] },
);
const gatehouse = spawn(
  process.execPath,
  [
    join(root, 'dist/cli/main.js'),
    'serve',
    '--listen',
    '127.0.0.1:0',
    '--db',
    join(dir, 'g.db'),
    '--admin-token-file',
    join(dir, 'admin.token'),
    '--log-level',
    'warn',
  ],
  { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] },
);

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[(sorted.length - 1) >> 1];
}

/** Each figure of the runs, as its median over them. */
function medianRun(runs) {
  const pick = (key) => median(runs.map((r) => r[key]));
  return {
    rps: pick('rps'),
    p50: pick('p50'),
    p99: pick('p99'),
    non2xx: runs.reduce((n, r) => n + r.non2xx, 0),
    requests: pick('requests'),
    cpuMicrosPerRequest: runs.some((r) => r.cpuMicrosPerRequest == null) ? null : pick('cpuMicrosPerRequest'),
  };
}

/** wrk against `url`, with the CPU that `pid` spent on the requests, in µs per request. */
function measured(pid, url, body, headers) {
  const before = cpuSeconds(pid);
  const result = wrk(url, body, headers);
  return { ...result, cpuMicrosPerRequest: cpuMicrosPerRequest(before, cpuSeconds(pid), result.requests) };
}

function wrk(url, body, headers) {
  const lua = join(dir, `req-${Math.random().toString(36).slice(2)}.lua`);
  writeFileSync(
    lua,
    `wrk.method = "POST"\nwrk.body = ${JSON.stringify(body)}\n` +
      Object.entries(headers)
        .map(([k, v]) => `wrk.headers[${JSON.stringify(k)}] = ${JSON.stringify(v)}`)
        .join('\n') +
      '\n',
  );
  const r = spawnSync(
    'wrk',
    ['-t1', `-c${values.connections}`, `-d${values.duration}s`, '--latency', '-s', lua, url],
    { encoding: 'utf8' },
  );
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(r.stdout)?.[1]);
  const requests = Number(/(\d+) requests in/.exec(r.stdout)?.[1]);
  const toMs = (m) => (m ? Number(m[1]) * { us: 0.001, ms: 1, s: 1000 }[m[2]] : NaN);
  const p50 = toMs(/50%\s+([\d.]+)(us|ms|s)/.exec(r.stdout));
  const p99 = toMs(/99%\s+([\d.]+)(us|ms|s)/.exec(r.stdout));
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(r.stdout)?.[1] ?? 0);
  return { rps, p50, p99, non2xx, requests };
}

try {
  const barePort = await waitFor(bare, /PORT (\d+)/, 'bare server');
  const url = await waitFor(gatehouse, /API\s+(http:\/\/\S+)\/v1/, 'gatehouse');
  const token = readFileSync(join(dir, 'admin.token'), 'utf8').trim();
  const request = JSON.stringify({
    source: { spiffeId: 'spiffe://acme.corp/ns/shop/sa/web', ip: '10.10.1.20' },
    credential: { type: 'x509-svid', verified: true },
    destination: { service: 'orders', port: 8443 },
    action: { method: 'GET', path: '/orders/42' },
    context: { mtls: true, risk: 10 },
  });
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${token}` };
  const rounds = Number(values.rounds);
  if (!Number.isInteger(rounds) || rounds < 1)
    throw new Error('--rounds must be a whole number of 1 or more');
  const targets = {
    bare: { pid: bare.pid, url: `http://127.0.0.1:${barePort}/`, runs: [] },
    decide: { pid: gatehouse.pid, url: `${url}/v1/decide`, runs: [] },
  };
  // Warm both up.
  for (const t of Object.values(targets)) wrk(t.url, request, headers);
  const ratios = [];
  for (let r = 0; r < rounds; r++) {
    for (const name of r % 2 === 0 ? ['bare', 'decide'] : ['decide', 'bare']) {
      const t = targets[name];
      t.runs.push(measured(t.pid, t.url, request, headers));
    }
    ratios.push(targets.decide.runs[r].rps / targets.bare.runs[r].rps);
  }
  const base = medianRun(targets.bare.runs);
  const decide = medianRun(targets.decide.runs);
  const rows = [
    ['bare node http', base],
    ['gatehouse /v1/decide', decide],
  ];
  console.log(
    `loopback, wrk -t1 -c${values.connections} -d${values.duration}s, one server process each, median of ${rounds} round(s)`,
  );
  console.log('server                 req/s      p50 ms   p99 ms   non-2xx   server CPU µs/req');
  for (const [name, r] of rows) {
    console.log(
      `${name.padEnd(22)} ${r.rps.toFixed(0).padStart(8)}   ${r.p50.toFixed(2).padStart(6)}   ${r.p99.toFixed(2).padStart(6)}   ${String(r.non2xx).padStart(7)}   ${String(r.cpuMicrosPerRequest ?? '-').padStart(17)}`,
    );
  }
  const ratio = median(ratios);
  console.log(
    `ratio /v1/decide vs bare: ${(ratio * 100).toFixed(1)} % (target >= 80 %)` +
      (rounds > 1 ? `; rounds: ${ratios.map((x) => `${(x * 100).toFixed(1)} %`).join(', ')}` : ''),
  );
  console.log(
    JSON.stringify({
      bench: 'http',
      connections: Number(values.connections),
      durationS: Number(values.duration),
      rounds,
      roundRatios: ratios.map((x) => Number(x.toFixed(3))),
      bareRequestsPerSec: Math.round(base.rps),
      decideRequestsPerSec: Math.round(decide.rps),
      ratio: Number(ratio.toFixed(3)),
      bareP99Ms: base.p99,
      decideP50Ms: decide.p50,
      decideP99Ms: decide.p99,
      decideNon2xx: decide.non2xx,
      bareCpuMicrosPerRequest: base.cpuMicrosPerRequest,
      decideCpuMicrosPerRequest: decide.cpuMicrosPerRequest,
    }),
  );
  if (decide.non2xx > 0) process.exitCode = 1;
} finally {
  bare.kill();
  gatehouse.kill('SIGTERM');
  await new Promise((r) => gatehouse.once('exit', r));
  rmSync(dir, { recursive: true, force: true });
}
