#!/usr/bin/env node
/**
 * What `gatehouse proxy` costs: a bare Node upstream on loopback, called by
 * wrk directly and through the real proxy process (plain HTTP, enforce mode,
 * a bearer JWT-SVID verified and an allow decided on every request, decision
 * records shipped to a real `gatehouse serve`), in the same run.
 *
 *   npm run bench:proxy -- [--seconds 5] [--latency-seconds 3] [--connections 32] [--rounds 3]
 *       [--pause-control-plane] [--spool none|sync] [--dir DIR] [--keep]
 *
 * Two phases per target and round: one connection (latency), then
 * `--connections` connections (throughput). Rounds alternate which target
 * goes first, so that a noisy neighbour does not always favour the same side;
 * each figure is the median of the rounds.
 *
 * The control plane runs at the lowest CPU priority: in a deployment it is on
 * another machine, and here it should only take what the request path leaves.
 * The proxy keeps its default decision buffer; the records shipped, left
 * unshipped at exit and dropped because the buffer was full are reported.
 * `--pause-control-plane` stops the server (SIGSTOP) for the measured phases
 * once the proxy has synced: the proxy's own cost, without the server taking
 * in records on the same cores (the proxy buffers them, then drops).
 * `--spool none` runs the proxy without its decision spool, `--spool sync`
 * with `--decision-spool-sync`: what the spool, and syncing it, cost.
 *
 * Each phase also reports the CPU per request of the process that answered
 * it (the upstream called directly, or the proxy; user and system time of
 * all its threads, from /proc on Linux): on a shared, noisy machine it moves
 * far less than the requests per second.
 *
 * Needs wrk (Debian package `wrk`). Prints a table, then, as the last line
 * of stdout, a JSON summary with the p50 added by the proxy and the
 * throughput kept (budget: ≤ 0.3 ms, ≥ 60 %). Exits 1 when a phase had
 * errors or a proxied request was not allowed, 3 on invalid flags.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { join, resolve } from 'node:path';
import { clearInterval, setInterval } from 'node:timers';
import { fileURLToPath } from 'node:url';
import { readFlags, UsageError } from './lib/bench-flags.mjs';
import { cpuMicrosPerRequest, cpuSeconds } from './lib/process-cpu.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(ROOT, 'dist/cli/main.js');
const SELF = fileURLToPath(import.meta.url);
const POLICY = 'test/fixtures/proxy/policy.yaml';
const CLIENT = 'spiffe://example.org/client/web';
const SERVICE = 'spiffe://example.org/svc/hello';

function parseArgs(argv) {
  const args = {
    role: 'main',
    seconds: 5,
    latencySeconds: 3,
    connections: 32,
    rounds: 3,
    dir: join(ROOT, '.bench', 'proxy'),
    keep: false,
    pauseControlPlane: false,
    spool: 'on',
  };
  readFlags(argv, (flag, { value, count }) => {
    if (flag === '--seconds') args.seconds = count(1);
    else if (flag === '--latency-seconds') args.latencySeconds = count(1);
    else if (flag === '--connections') args.connections = count(1);
    else if (flag === '--rounds') args.rounds = count(1);
    else if (flag === '--dir') args.dir = resolve(value());
    else if (flag === '--keep') args.keep = true;
    else if (flag === '--pause-control-plane') args.pauseControlPlane = true;
    else if (flag === '--spool') {
      args.spool = value();
      if (!['none', 'sync'].includes(args.spool)) throw new UsageError('--spool takes none or sync');
    }
    // Internal: the upstream child process.
    else if (flag === '--role') args.role = value();
    else if (flag === '--help' || flag === '-h') args.help = true;
    else throw new UsageError(`unknown flag \`${flag}\`: see the header of scripts/bench-proxy.mjs`);
  });
  return args;
}

// ---- child: the bare upstream ------------------------------------------------

function upstream() {
  const server = http.createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '3' });
    res.end('ok\n');
  });
  server.keepAliveTimeout = 120_000;
  server.listen(0, '127.0.0.1', () => process.stdout.write(`port ${server.address().port}\n`));
}

// ---- wrk -------------------------------------------------------------------------

const UNIT_MS = { us: 0.001, ms: 1, s: 1000 };

/** One wrk run; resolves with its figures. */
function wrk(url, headers, connections, seconds) {
  const argv = ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency'];
  for (const [k, v] of Object.entries(headers)) argv.push('-H', `${k}: ${v}`);
  argv.push(url);
  return new Promise((resolveRun, reject) => {
    const proc = spawn('wrk', argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    proc.stdout.on('data', (d) => (out += d));
    proc.stderr.on('data', (d) => (out += d));
    proc.once('error', reject);
    proc.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`wrk exited with ${code}:\n${out}`));
      const at = (q) => {
        const m = new RegExp(`^\\s+${q}%\\s+([\\d.]+)(us|ms|s)\\s*$`, 'm').exec(out);
        return m ? round(Number(m[1]) * UNIT_MS[m[2]]) : NaN;
      };
      const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
      const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
      const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
      const socketErrors = socket ? socket.slice(1).reduce((n, x) => n + Number(x), 0) : 0;
      resolveRun({
        requests,
        errors: non2xx + socketErrors,
        rps: Math.round(Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0)),
        p50Ms: at(50),
        p90Ms: at(90),
        p99Ms: at(99),
      });
    });
  });
}

const round = (n) => Math.round(n * 1000) / 1000;

/** Each figure of the runs at its median; requests and errors summed. */
function median(runs) {
  const mid = (key) => {
    const sorted = runs.map((r) => r[key]).sort((a, b) => a - b);
    return sorted[Math.floor((sorted.length - 1) / 2)];
  };
  return {
    requests: runs.reduce((n, r) => n + r.requests, 0),
    errors: runs.reduce((n, r) => n + r.errors, 0),
    rps: mid('rps'),
    p50Ms: mid('p50Ms'),
    p90Ms: mid('p90Ms'),
    p99Ms: mid('p99Ms'),
    cpuMicrosPerRequest: runs.some((r) => r.cpuMicrosPerRequest === null) ? null : mid('cpuMicrosPerRequest'),
  };
}

// ---- main ----------------------------------------------------------------------

/** Spawns a child and resolves once its stdout matches `ready`; `nice` lowers its priority. */
function child(argv, ready, what, nice = false) {
  const [command, list] = nice ? ['nice', ['-n', '19', process.execPath, ...argv]] : [process.execPath, argv];
  const proc = spawn(command, list, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout.on('data', (d) => (out += d));
  proc.stderr.on('data', (d) => (err += d));
  return new Promise((resolveChild, reject) => {
    const poll = setInterval(() => {
      const m = ready.exec(out);
      if (m) {
        clearInterval(poll);
        proc.removeAllListeners('exit');
        resolveChild({ proc, match: m, errors: () => err });
      }
    }, 20);
    proc.once('exit', (code) => {
      clearInterval(poll);
      reject(new Error(`${what} exited with ${code}:\n${out}\n${err}`));
    });
  });
}

async function api(server, token, method, path, body) {
  const res = await globalThis.fetch(server + path, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status}: ${await res.text()}`);
  return res.json();
}

/** SIGTERM, and the exit; the proxy logs what it shipped on the way out. */
function stop(proc) {
  return new Promise((done) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return done();
    proc.once('exit', () => done());
    proc.kill('SIGTERM');
  });
}

async function main(args) {
  if (spawnSync('wrk', ['--version']).error) {
    console.error('bench-proxy: wrk is not installed (apt-get install wrk)');
    return 1;
  }
  rmSync(args.dir, { recursive: true, force: true });
  mkdirSync(args.dir, { recursive: true });
  const running = [];
  try {
    const server = await child(
      [BIN, 'serve', '--listen', '127.0.0.1:0', '--db', join(args.dir, 'gatehouse.db')].concat([
        '--policy',
        POLICY,
        '--admin-token-file',
        join(args.dir, 'admin.token'),
        '--log-level',
        'warn',
      ]),
      /API\s+(http:\/\/\S+)\/v1/,
      'gatehouse serve',
      true,
    );
    running.push(server.proc);
    const serverUrl = server.match[1];
    const admin = readFileSync(join(args.dir, 'admin.token'), 'utf8').trim();
    await api(serverUrl, admin, 'POST', '/v1/entries', { spiffeId: CLIENT, kind: 'service', owner: 'bench' });
    const { token } = await api(serverUrl, admin, 'POST', '/v1/svid/jwt', {
      spiffeId: CLIENT,
      audience: [SERVICE],
    });

    const up = await child([SELF, '--role', 'upstream'], /port (\d+)/, 'upstream');
    running.push(up.proc);
    const upstreamUrl = `http://127.0.0.1:${up.match[1]}`;
    const proxy = await child(
      [BIN, 'proxy', '--service', 'hello', '--listen', '127.0.0.1:0', '--upstream', upstreamUrl].concat([
        '--server',
        serverUrl,
        '--token-file',
        join(args.dir, 'admin.token'),
        '--decision-spool',
        args.spool === 'none' ? 'none' : join(args.dir, 'spool'),
        ...(args.spool === 'sync' ? ['--decision-spool-sync'] : []),
        '--log-level',
        'info',
      ]),
      /listening\s+(http:\/\/\S+)/,
      'gatehouse proxy',
    );
    running.push(proxy.proc);
    const direct = `${upstreamUrl}/hello/bench`;
    const proxied = `${proxy.match[1]}/hello/bench`;
    const auth = { authorization: `Bearer ${token}` };
    // Wait for the first sync: until then every request is denied.
    for (let i = 0; ; i++) {
      const res = await globalThis.fetch(proxied, { headers: auth });
      await res.text();
      if (res.status === 200) break;
      if (i > 200) throw new Error(`the proxy never allowed the request: HTTP ${res.status}`);
      await new Promise((r) => setTimeout(r, 50));
    }

    if (args.pauseControlPlane) server.proc.kill('SIGSTOP');
    const phases = { directLatency: [], proxyLatency: [], directThroughput: [], proxyThroughput: [] };
    for (let r = 0; r < args.rounds; r++) {
      const order = r % 2 === 0 ? ['direct', 'proxy'] : ['proxy', 'direct'];
      for (const kind of ['Latency', 'Throughput']) {
        const connections = kind === 'Latency' ? 1 : args.connections;
        const seconds = kind === 'Latency' ? args.latencySeconds : args.seconds;
        for (const target of order) {
          const url = target === 'direct' ? direct : proxied;
          // The CPU of the process that answers wrk: the upstream called directly, or the proxy.
          const pid = target === 'direct' ? up.proc.pid : proxy.proc.pid;
          const before = cpuSeconds(pid);
          const run = await wrk(url, target === 'direct' ? {} : auth, connections, seconds);
          run.cpuMicrosPerRequest = cpuMicrosPerRequest(before, cpuSeconds(pid), run.requests);
          phases[target + kind].push(run);
        }
      }
    }

    if (args.pauseControlPlane) server.proc.kill('SIGCONT');
    // The records of the run reach the server once the load is gone.
    await stop(proxy.proc);
    const stopped = proxy
      .errors()
      .split('\n')
      .filter((l) => l.includes('"proxy_stopped"'))
      .map((l) => JSON.parse(l))[0];
    const shipping = stopped
      ? { shipped: stopped.shipped, unshipped: stopped.unshippedDecisions, dropped: stopped.dropped }
      : { shipped: NaN, unshipped: NaN, dropped: NaN };

    const results = Object.fromEntries(Object.entries(phases).map(([name, runs]) => [name, median(runs)]));
    const rows = Object.entries(results).map(([name, r]) => [
      name,
      String(r.requests),
      String(r.errors),
      String(r.rps),
      r.p50Ms.toFixed(3),
      r.p90Ms.toFixed(3),
      r.p99Ms.toFixed(3),
      String(r.cpuMicrosPerRequest ?? '-'),
    ]);
    // CPU: of the process that answered (the upstream for direct phases, the proxy for proxied ones).
    const head = ['PHASE', 'REQUESTS', 'ERRORS', 'REQ/S', 'P50 MS', 'P90 MS', 'P99 MS', 'CPU US/REQ'];
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
    console.log(
      `loopback, wrk -t1, latency -c1 ${args.latencySeconds}s, throughput -c${args.connections} ` +
        `${args.seconds}s, median of ${args.rounds} rounds` +
        (args.pauseControlPlane ? ', control plane paused' : ''),
    );
    for (const row of [head, ...rows])
      console.log(
        row
          .map((c, i) => c.padEnd(widths[i]))
          .join('  ')
          .trimEnd(),
      );
    const addedP50Ms = round(results.proxyLatency.p50Ms - results.directLatency.p50Ms);
    const throughputKept = round(results.proxyThroughput.rps / results.directThroughput.rps);
    const errors = Object.values(results).reduce((n, r) => n + r.errors, 0);
    console.log(
      `\nthe proxy adds ${addedP50Ms} ms at p50 (budget 0.3) and keeps ${Math.round(throughputKept * 100)} % ` +
        `of the direct throughput with ${args.connections} connections (budget 60 %)`,
    );
    console.log(
      `decision records: ${shipping.shipped} shipped, ${shipping.unshipped} left unshipped at exit, ` +
        `${shipping.dropped} dropped`,
    );
    console.log(
      JSON.stringify({
        bench: 'proxy',
        connections: args.connections,
        seconds: args.seconds,
        latencySeconds: args.latencySeconds,
        rounds: args.rounds,
        controlPlanePaused: args.pauseControlPlane,
        addedP50Ms,
        throughputKept,
        withinBudget: addedP50Ms <= 0.3 && throughputKept >= 0.6,
        errors,
        records: shipping,
        ...results,
      }),
    );
    return errors === 0 ? 0 : 1;
  } finally {
    for (const proc of running.reverse()) {
      // A paused server takes SIGTERM only once it runs again.
      if (args.pauseControlPlane) proc.kill('SIGCONT');
      await stop(proc);
    }
    if (!args.keep) rmSync(args.dir, { recursive: true, force: true });
  }
}

let args;
try {
  args = parseArgs(process.argv.slice(2));
} catch (err) {
  if (err instanceof UsageError) {
    console.error(`bench-proxy: ${err.message}`);
    process.exit(3);
  }
  throw err;
}
if (args.help) {
  console.log('usage: node scripts/bench-proxy.mjs [--seconds 5] [--latency-seconds 3] [--connections 32]');
  console.log('         [--rounds 3] [--pause-control-plane] [--dir DIR] [--keep]');
} else if (args.role === 'upstream') upstream();
else process.exitCode = await main(args);
