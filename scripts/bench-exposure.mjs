#!/usr/bin/env node
/**
 * Exposure analysis at scale, from the built dist/ (npm run build first):
 *
 * - blast radius on a generated estate of 100,000 identities and 2,000
 *   services with 1,000,000 edges (800,000 reach edges from 1,000 team rules
 *   of each layer, 200,000 held-credential edges), followed to any depth from
 *   one identity: estate build (indexes) + the whole breadth-first search +
 *   ranked paths + graph, timed together;
 * - audit of 1,000,000 hash-chained decision-log records over that estate,
 *   read from a JSON-lines file as the CLI reads it (read, parse, chain check,
 *   every finding family), and once more with the chain check skipped; each
 *   round in a process of its own, as each `gatehouse audit` runs, once the
 *   policy and inventory are read (that reading is not timed).
 *
 *   node --max-old-space-size=4096 scripts/bench-exposure.mjs [--identities N] [--records N] [--rounds N]
 *
 * The log is generated once into .bench/ (git-ignored). Prints a table, then a
 * JSON summary as the last line with blastRadiusMs, auditMs and the command.
 */
import { spawnSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const dist = (p) => import(new URL(`../dist/${p}`, import.meta.url).href);
const { blastRadius, buildEstate, resolveBlastTarget } = await dist('core/analysis/exposure/index.js');
const { validatePolicy, policyDocumentFromObject } = await dist('core/policy/index.js');
const { ChainWriter } = await dist('core/log/hash-chain.js');
const { auditWithLog } = await dist('cli/audit-log.js');

// One audit round in a process of its own, as one `gatehouse audit` runs after it has read its
// files: `--audit-child ESTATE.json LOG.jsonl true|false` prints its time and what it found.
if (process.argv[2] === '--audit-child') {
  const [estateFile, logPath, chain] = process.argv.slice(3);
  const estate = JSON.parse(readFileSync(estateFile, 'utf8'));
  const checked = validatePolicy(policyDocumentFromObject(estate.doc));
  const s = performance.now();
  const report = await auditWithLog(
    checked.policy,
    estate.inventory,
    { now: estate.now, verifyChain: chain === 'true' },
    { path: logPath, cwd: ROOT },
  );
  const ms = performance.now() - s;
  console.log(JSON.stringify({ ms, log: report.log, summary: report.summary }));
  process.exit(0);
}

const args = { identities: 100_000, records: 1_000_000, rounds: 3 };
for (let i = 2; i < process.argv.length; i += 2) {
  const k = process.argv[i].replace(/^--/, '');
  if (!(k in args)) {
    process.stderr.write(`bench-exposure: unknown flag \`${process.argv[i]}\`\n`);
    process.exit(3);
  }
  args[k] = Number(process.argv[i + 1]);
}
const command = `node --max-old-space-size=4096 scripts/bench-exposure.mjs${process.argv.slice(2).length ? ' ' + process.argv.slice(2).join(' ') : ''}`;

function prng(s) {
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = prng(42);
const int = (n) => Math.floor(rand() * n);

const N = args.identities;
const SERVICES = Math.max(8, Math.floor(N / 50));
const TEAMS = Math.max(1, Math.floor(N / 100));
const PER_TEAM = 8;
const HOLDS = 100;
const ZONES = 10;
const NOW = Date.parse('2026-11-22T12:00:00Z');
const at = new Date(NOW - 30 * 86_400_000).toISOString();
const id = (i) => `spiffe://bench.example/ns/t${i % TEAMS}/sa/w${i}`;
const teamOf = (i) => i % TEAMS;
const zoneOf = (t) => `z${t % ZONES}`;
const teamServices = (t) =>
  Array.from({ length: PER_TEAM }, (_, k) => `s${(t * PER_TEAM + k * 7) % SERVICES}`);

// ---- the estate ----------------------------------------------------------------
const t0 = performance.now();
const doc = {
  apiVersion: 'gatehouse.dev/v1',
  trustDomain: 'bench.example',
  zones: Object.fromEntries(
    Array.from({ length: ZONES }, (_, z) => [`z${z}`, { cidrs: [`10.${z}.0.0/16`] }]),
  ),
  services: Object.fromEntries(
    Array.from({ length: SERVICES }, (_, s) => [
      `s${s}`,
      { zone: `z${s % ZONES}`, ports: [8443], spiffeId: id(s), owner: 'o' },
    ]),
  ),
  segmentation: [
    { id: 'seg-all', effect: 'allow', from: '*', to: '*', owner: 'n' },
    { id: 'seg-no-9-0', effect: 'deny', from: ['z9'], to: ['z0'], owner: 'n' },
  ],
  flows: Array.from({ length: TEAMS }, (_, t) => ({
    id: `f${t}`,
    effect: 'allow',
    from: [{ labels: { team: `t${t}` } }],
    to: { services: teamServices(t) },
    owner: 'o',
  })),
  permissions: Array.from({ length: TEAMS }, (_, t) => ({
    id: `p${t}`,
    effect: 'allow',
    from: [{ labels: { team: `t${t}` } }],
    to: { services: teamServices(t) },
    actions: [{ methods: ['GET', 'POST'], paths: ['/api/**'] }],
    ...(t % 3 === 0 ? { when: 'context.mtls == true' } : {}),
    owner: 'o',
  })),
};
const validated = validatePolicy(policyDocumentFromObject(doc));
if (!validated.policy) throw new Error(`generated policy is invalid: ${validated.errors[0]?.message}`);
const policy = validated.policy;
const entries = [];
const credentials = [];
for (let i = 0; i < N; i++) {
  const t = teamOf(i);
  const entry = {
    id: `e${i}`,
    spiffeId: id(i),
    kind: 'service',
    owner: 'o',
    labels: { team: `t${t}`, env: 'prod' },
    zone: zoneOf(t),
    addresses: [`10.${t % ZONES}.${Math.floor(i / 250) % 256}.${(i % 250) + 1}/32`],
    attestation: [{ type: 'join-token' }],
    status: 'active',
    createdAt: at,
    updatedAt: at,
    lastSeenAt: new Date(NOW - int(200) * 86_400_000).toISOString(),
  };
  if (i < SERVICES) entry.holdsCredentialsOf = Array.from({ length: HOLDS }, () => id(int(N)));
  if (i % 20 === 0) entry.staticSecrets = [{ id: `k${i}`, hash: `sha256:${'a'.repeat(64)}`, createdAt: at }];
  entries.push(entry);
  const issued = NOW - int(3_600_000);
  credentials.push({
    id: `c${i}`,
    type: 'x509-svid',
    spiffeId: id(i),
    entryId: `e${i}`,
    kid: 'k',
    via: 'renewal',
    issuedAt: new Date(issued).toISOString(),
    expiresAt: new Date(issued + (i % 7 === 0 ? 30 * 86_400_000 : 3_600_000)).toISOString(),
  });
}
const inventory = {
  trustDomain: 'bench.example',
  generatedAt: new Date(NOW).toISOString(),
  entries,
  credentials,
  grants: [],
  revocations: [],
};
const generateMs = performance.now() - t0;

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const heapMB = () => Math.round(process.memoryUsage().heapUsed / 1e6);

// ---- blast radius ---------------------------------------------------------------
const blast = [];
let result;
for (let r = 0; r < args.rounds; r++) {
  const s = performance.now();
  const estate = buildEstate(policy, inventory, { now: NOW });
  const built = performance.now();
  const start = resolveBlastTarget(estate, id(1)).start;
  result = blastRadius(estate, start, { maxHops: 1_000, maxPaths: 20 });
  const e = performance.now();
  blast.push({ total: e - s, build: built - s, search: e - built });
}
const reachEdges = result.graph.edges.filter((e) => e.kind === 'reaches').length;
const holdEdges = result.graph.edges.length - reachEdges;
// Only the totals are kept: the audit below runs as `gatehouse audit` would, in a heap of its own size.
const totals = result.totals;
result = undefined;

// ---- the decision log -------------------------------------------------------------
const WORK = join(ROOT, '.bench');
mkdirSync(WORK, { recursive: true });
const logFile = join(WORK, `exposure-decisions-${N}-${args.records}.jsonl`);
if (!existsSync(logFile) || statSync(logFile).size === 0) {
  const g = performance.now();
  const fd = openSync(`${logFile}.tmp`, 'w');
  const chain = new ChainWriter();
  const start = NOW - 14 * 86_400_000;
  let buffer = '';
  for (let n = 0; n < args.records; n++) {
    const i = int(N);
    const t = teamOf(i);
    const denied = n % 50 === 0;
    const service = denied ? `s${int(SERVICES)}` : teamServices(t)[int(PER_TEAM)];
    const srcZone = zoneOf(t);
    const dstZone = `z${Number(service.slice(1)) % ZONES}`;
    const body = {
      v: 1,
      decisionId: `d${n}`,
      time: new Date(start + Math.floor((n / args.records) * 14 * 86_400_000)).toISOString(),
      policyRevision: policy.revision,
      via: `proxy:${service}`,
      source: {
        spiffeId: id(i),
        ip: `10.${t % ZONES}.${Math.floor(i / 250) % 256}.${(i % 250) + 1}`,
        zone: srcZone,
      },
      credential: { type: 'x509-svid', id: `c${i}` },
      destination: { service, port: 8443, zone: dstZone },
      action: { method: n % 3 ? 'GET' : 'POST', path: `/api/items/${n % 1000}` },
      decision: denied ? 'deny' : 'allow',
      allowed: !denied,
      enforced: true,
      mode: 'enforce',
      wouldDeny: false,
      layer: denied ? 'flow' : 'permission',
      reason: denied ? 'default_deny' : 'allow_rule',
      rules: denied ? [] : [`p${t}`],
      layers: {
        credential: 'allow',
        zone: 'allow',
        flow: denied ? 'deny' : 'allow',
        permission: denied ? 'deny' : 'allow',
      },
      latencyMicros: 5 + (n % 40),
      userAgent: 'grpc-go/1.64.0',
    };
    buffer += JSON.stringify(chain.append(body)) + '\n';
    if (buffer.length > 1 << 20) {
      writeSync(fd, buffer);
      buffer = '';
    }
  }
  writeSync(fd, buffer);
  closeSync(fd);
  const { renameSync } = await import('node:fs');
  renameSync(`${logFile}.tmp`, logFile);
  process.stderr.write(
    `bench-exposure: wrote ${args.records} records to ${logFile} in ${((performance.now() - g) / 1000).toFixed(1)} s\n`,
  );
}

// Each audit runs in a process of its own, as each `gatehouse audit` does: not in a heap that the
// blast radius rounds and the audits before it have filled. It reads the log as the command does
// (on a second thread, which also checks the chain); reading the policy and inventory files is not
// timed.
const estateFile = join(WORK, `exposure-estate-${N}.json`);
writeFileSync(estateFile, JSON.stringify({ doc, inventory, now: NOW }));
async function auditOnce(verifyChain) {
  const self = fileURLToPath(import.meta.url);
  const child = spawnSync(
    process.execPath,
    ['--max-old-space-size=4096', self, '--audit-child', estateFile, logFile, String(verifyChain)],
    { encoding: 'utf8', maxBuffer: 1 << 20, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  if (child.status !== 0) throw new Error(`the audit round failed (exit ${child.status})`);
  const { ms, log, summary } = JSON.parse(child.stdout.trim().split('\n').pop());
  return { total: ms, report: { log, summary } };
}
const audits = [];
const auditsNoChain = [];
let report;
for (let r = 0; r < args.rounds; r++) {
  const a = await auditOnce(true);
  report = a.report;
  audits.push(a.total);
  auditsNoChain.push((await auditOnce(false)).total);
}

// ---- report ----------------------------------------------------------------------
const fmt = (ms) => `${(ms / 1000).toFixed(2)} s`;
const rows = [
  [
    'estate',
    `${N.toLocaleString('en-US')} identities, ${SERVICES.toLocaleString('en-US')} services, ${(TEAMS * 2).toLocaleString('en-US')} rules`,
    fmt(generateMs) + ' to generate',
  ],
  [
    'blast radius',
    `${totals.identities.toLocaleString('en-US')} identities reached, ${totals.edges.toLocaleString('en-US')} edges (${reachEdges.toLocaleString('en-US')} reach, ${holdEdges.toLocaleString('en-US')} held)`,
    `${fmt(median(blast.map((b) => b.total)))} (build ${fmt(median(blast.map((b) => b.build)))}, search ${fmt(median(blast.map((b) => b.search)))}; first round ${fmt(blast[0].total)})`,
  ],
  [
    'audit',
    `${report.log.records.toLocaleString('en-US')} records, chain ${report.log.chain}, ${report.summary.findings.toLocaleString('en-US')} findings`,
    `${fmt(median(audits))} (log read and chain checked on a second thread)`,
  ],
  ['audit, no chain check', 'same', fmt(median(auditsNoChain))],
];
const widths = [0, 1, 2].map((c) => Math.max(...rows.map((r) => r[c].length)));
for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i])).join('  '));
const summary = {
  // The estate holds N × PER_TEAM reach edges and SERVICES × HOLDS held-credential edges; a blast radius
  // follows the part of them one identity gets to.
  ok: totals.edges > 0 && report.log.chain === 'intact',
  estateEdges: N * PER_TEAM + SERVICES * HOLDS,
  command,
  identities: N,
  services: SERVICES,
  edges: totals.edges,
  identitiesReached: totals.identities,
  blastRadiusMs: Math.round(median(blast.map((b) => b.total))),
  blastRadiusBuildMs: Math.round(median(blast.map((b) => b.build))),
  // The first round runs cold, as one `gatehouse blast-radius` does; the median is of warm and cold rounds.
  blastRadiusFirstRoundMs: Math.round(blast[0].total),
  records: report.log.records,
  auditMs: Math.round(median(audits)),
  auditNoChainMs: Math.round(median(auditsNoChain)),
  findings: report.summary.findings,
  rounds: args.rounds,
  heapMB: heapMB(),
  node: process.version,
  date: new Date().toISOString(),
};
console.log(JSON.stringify(summary));
