#!/usr/bin/env node
/**
 * Writes the example estate of docs/rollout.md into examples/estate/: the
 * Northwind estate, deterministic (seeded), so that every run writes the same
 * bytes.
 *
 *   node scripts/gen-example-estate.mjs                     # examples/estate/
 *   node scripts/gen-example-estate.mjs --records N --out FILE [--seed S]
 *
 * The second form writes only N flow records (one flow each, in the Gatehouse
 * flow format) of the same estate and traffic model, for benchmarks.
 *
 * What the estate holds (and what the walk-through finds in it):
 * - 8 zones; `shared` mixes prod and dev workloads, `plant` mixes OT devices
 *   with an IT patch server;
 * - about 30 services, a few hundred workloads (services, jobs, CI
 *   pipelines, agents, dev copies, plant devices) in policy/ and in
 *   inventory.yaml with the addresses they send from;
 * - a week of flows (flows/week.jsonl) with the usual mess: callers with no
 *   identity (an address in no zone, an address in `shared` nobody
 *   registered), a dev load tester calling prod, a service account shared by
 *   three hosts in three zones, an agent probing an admin API;
 * - small samples of AWS VPC Flow Logs (default format, and a v5 custom
 *   format with a header) and of `hubble observe -o json`, each with a few
 *   bad lines;
 * - candidate/: the policy with `payments` tightened and in simulate mode,
 *   missing the refund worker on purpose.
 */
import { mkdirSync, openSync, writeSync, closeSync, writeFileSync, renameSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as prettier from 'prettier';
import { Document, isScalar, visit } from 'yaml';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

// ---- flags ----------------------------------------------------------------
const args = { seed: 7, records: undefined, out: undefined };
for (let i = 2; i < process.argv.length; i++) {
  const flag = process.argv[i];
  const value = process.argv[++i];
  if (value === undefined) fail(`flag \`${flag}\` needs a value`);
  if (flag === '--seed') args.seed = Number(value);
  else if (flag === '--records') args.records = Number(value);
  else if (flag === '--out') args.out = value;
  else fail(`unknown flag \`${flag}\`: see the header of scripts/gen-example-estate.mjs`);
}
if ((args.records === undefined) !== (args.out === undefined)) fail('give --records and --out together');
if (args.records !== undefined && !(Number.isInteger(args.records) && args.records > 0))
  fail('--records must be a positive whole number');

function fail(message) {
  process.stderr.write(`gen-example-estate: ${message}\n`);
  process.exit(3);
}

// ---- randomness -------------------------------------------------------------
function prng(seed) {
  let s = seed | 0;
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
let rand = prng(args.seed);
const int = (n) => Math.floor(rand() * n);
const pick = (xs) => xs[int(xs.length)];
const hex = (n) => Array.from({ length: n }, () => int(16).toString(16)).join('');

// ---- the estate ---------------------------------------------------------------
const TD = 'northwind.example';
const spiffe = (path) => `spiffe://${TD}${path}`;
const WEEK_START = Date.parse('2026-11-16T00:00:00Z');
const WEEK_MS = 7 * 86_400_000;
const GENERATED_AT = '2026-11-23T06:00:00Z';
const REVIEW = '2027-05-31';

const ZONES = {
  edge: { description: 'Internet-facing gateways', cidrs: ['10.0.0.0/20'] },
  prod: { description: 'Production application tier', cidrs: ['10.10.0.0/16'] },
  'prod-data': { description: 'Production databases and queues', cidrs: ['10.11.0.0/16'] },
  shared: { description: 'Legacy shared network: prod and dev hosts side by side', cidrs: ['10.20.0.0/16'] },
  dev: { description: 'Development and test', cidrs: ['10.30.0.0/16'] },
  ci: { description: 'CI runners and the artifact registry', cidrs: ['10.40.0.0/20'] },
  mgmt: { description: 'Monitoring, secrets, backup', cidrs: ['10.50.0.0/20'] },
  plant: { description: 'Plant floor: PLCs, HMIs, historian', cidrs: ['192.168.50.0/24'] },
};
const ZONE_BASE = {
  edge: [10, 0],
  prod: [10, 10],
  'prod-data': [10, 11],
  shared: [10, 20],
  dev: [10, 30],
  ci: [10, 40],
  mgmt: [10, 50],
  plant: [192, 168, 50],
};
const nextHost = new Map();
/** The next free address of a zone (hosts from .10 up). */
function address(zone) {
  const n = nextHost.get(zone) ?? 0;
  nextHost.set(zone, n + 1);
  const base = ZONE_BASE[zone];
  if (base.length === 3) return `${base.join('.')}.${10 + n}`;
  return `${base.join('.')}.${1 + Math.floor(n / 200)}.${10 + (n % 200)}`;
}

/** Every identity: `{ spiffeId, kind, owner, labels, zone, addresses, name }`. */
const identities = new Map();
function identity(path, kind, owner, labels, zone, hosts = 1, extraZones = []) {
  const spiffeId = spiffe(path);
  const addresses = [];
  for (let i = 0; i < hosts; i++) addresses.push(address(zone));
  for (const z of extraZones) addresses.push(address(z));
  const w = { spiffeId, path, kind, owner, labels, zone, addresses };
  identities.set(spiffeId, w);
  return w;
}

// Services: name, namespace, zone, port, owner, mode, actions (HTTP) or L4.
const SERVICES = [];
function service(name, ns, zone, port, owner, mode, actions, extra = {}) {
  const env = extra.env ?? (zone === 'dev' ? 'dev' : 'prod');
  const labels = { app: name, env, team: owner.replace(/^team-/, '') };
  if (extra.domain) labels.domain = extra.domain;
  const w = identity(`/ns/${ns}/sa/${name}`, 'service', owner, labels, zone, extra.hosts ?? 2);
  const s = { name, ns, zone, port, owner, mode, actions, identity: w, ...extra };
  SERVICES.push(s);
  return s;
}
const get = (path, weight = 1) => ({ method: 'GET', path, weight });
const post = (path, weight = 1) => ({ method: 'POST', path, weight });
const put = (path, weight = 1) => ({ method: 'PUT', path, weight });

const S = {};
S['api-gateway'] = service('api-gateway', 'edge', 'edge', 443, 'team-edge', 'enforce', [get('/v1/status')]);
S.orders = service('orders', 'shop', 'prod', 8443, 'team-orders', 'enforce', [
  get('/orders/{id}', 6),
  get('/orders', 2),
  post('/orders', 2),
  post('/orders/{id}/cancel', 0.3),
  get('/orders/{id}/items', 2),
]);
S.checkout = service('checkout', 'shop', 'prod', 8443, 'team-checkout', 'enforce', [
  post('/checkout', 3),
  get('/checkout/{uuid}', 2),
]);
S.catalog = service('catalog', 'shop', 'prod', 8443, 'team-catalog', 'enforce', [
  get('/products/{sku}', 8),
  get('/products', 2),
  get('/categories/{id}', 1),
]);
S.inventory = service('inventory', 'shop', 'prod', 8443, 'team-inventory', 'simulate', [
  get('/stock/{sku}', 5),
  post('/stock/{sku}/reserve', 2),
  post('/stock/{sku}/release', 0.5),
]);
S.payments = service('payments', 'pay', 'prod', 8443, 'team-payments', 'observe', []);
S.users = service('users', 'identity', 'prod', 8443, 'team-identity', 'enforce', [
  get('/users/{user}', 4),
  get('/users/{user}/preferences', 1),
]);
S.search = service('search', 'shop', 'prod', 8443, 'team-search', 'simulate', [
  get('/search', 6),
  get('/suggest', 2),
]);
S.pricing = service('pricing', 'shop', 'prod', 8443, 'team-pricing', 'enforce', [
  get('/prices/{sku}', 5),
  put('/prices/{sku}', 0.2),
]);
S.shipping = service('shipping', 'logistics', 'prod', 8443, 'team-logistics', 'simulate', [
  post('/shipments', 2),
  get('/shipments/{id}', 2),
  get('/shipments/{id}/label', 0.5),
]);
S.notifications = service('notifications', 'comms', 'prod', 8443, 'team-comms', 'enforce', [
  post('/v1/messages', 4),
  get('/v1/messages/{uuid}', 1),
]);
S.reports = service('reports', 'finance', 'prod', 8443, 'team-finance', 'simulate', [
  get('/reports/daily/{date}', 2),
  get('/reports/monthly/{month}', 0.5),
]);
S.fraud = service('fraud-score', 'pay', 'prod', 8443, 'team-risk', 'enforce', [post('/v1/score', 4)]);
S['feature-flags'] = service('feature-flags', 'platform', 'prod', 8443, 'team-platform', 'observe', [
  get('/flags/{id}'),
]);
// prod-data: L4 only (flow logs see them)
S['orders-db'] = service('orders-db', 'data', 'prod-data', 5432, 'team-orders', 'enforce', null);
S['payments-db'] = service('payments-db', 'data', 'prod-data', 5432, 'team-payments', 'enforce', null);
S.kafka = service('kafka', 'data', 'prod-data', 9092, 'team-platform', 'enforce', null, { hosts: 3 });
S.redis = service('redis', 'data', 'prod-data', 6379, 'team-platform', 'simulate', null);
// shared (mixed), mgmt, ci, plant
S['legacy-billing'] = service('legacy-billing', 'finance', 'shared', 8080, 'team-finance', 'observe', [
  post('/billing/run', 1),
  get('/billing/invoices/{id}', 3),
]);
S.metrics = service('metrics', 'ops', 'mgmt', 9090, 'team-sre', 'observe', [post('/api/v1/write', 10)]);
S.vault = service('vault', 'ops', 'mgmt', 8200, 'team-security', 'enforce', [
  get('/v1/secret/data/{team}/{secret}', 3),
]);
S['artifact-registry'] = service(
  'artifact-registry',
  'ci',
  'ci',
  443,
  'team-devex',
  'enforce',
  [get('/v2/{repo}/manifests/{tag}', 5), put('/v2/{repo}/manifests/{tag}', 0.5)],
  { env: 'tools' },
);
S['plc-gateway'] = service(
  'plc-gateway',
  'plant',
  'plant',
  8443,
  'team-plant',
  'observe',
  [get('/registers/{id}', 5), put('/registers/{id}', 0.2)],
  { env: 'prod', domain: 'ot' },
);
S.historian = service('historian', 'plant', 'plant', 8443, 'team-plant', 'observe', [post('/samples', 5)], {
  env: 'prod',
  domain: 'ot',
});

// The payments API, observed (the candidate is written for it).
const PAYMENTS = {
  charge: post('/v1/charges', 4),
  chargeGet: get('/v1/charges/{id}', 3),
  refund: post('/v1/refunds', 1),
  refundGet: get('/v1/refunds/{id}', 0.5),
  status: get('/v1/charges/{id}/status', 2),
  settlements: get('/v1/settlements/{date}', 0.3),
  admin: get('/admin/config', 0.05),
};

// Workloads that call services: jobs, workers, agents, CI pipelines.
const W = {};
W['refund-worker'] = identity(
  '/ns/pay/sa/refund-worker',
  'job',
  'team-payments',
  { app: 'refund-worker', env: 'prod', team: 'payments' },
  'prod',
  2,
);
W['ledger-sync'] = identity(
  '/ns/finance/sa/ledger-sync',
  'job',
  'team-finance',
  { app: 'ledger-sync', env: 'ops', team: 'finance' },
  'mgmt',
);
W['pricing-agent'] = identity(
  '/agents/pricing-agent',
  'agent',
  'team-pricing',
  { app: 'pricing-agent', env: 'prod', team: 'pricing' },
  'prod',
);
W['mobile-bff'] = identity(
  '/ns/edge/sa/mobile-bff',
  'service',
  'team-edge',
  { app: 'mobile-bff', env: 'prod', team: 'edge' },
  'edge',
  2,
);
W['load-tester'] = identity(
  '/ns/dev/sa/load-tester',
  'job',
  'team-qa',
  { app: 'load-tester', env: 'dev', team: 'qa' },
  'dev',
);
// One service account, three hosts, three zones: the shared-credential mess.
W.automation = identity(
  '/ns/ops/sa/automation',
  'job',
  'team-sre',
  { app: 'automation', env: 'ops', team: 'sre' },
  'mgmt',
  1,
  ['ci', 'dev'],
);
W.backup = identity(
  '/ns/ops/sa/backup',
  'job',
  'team-sre',
  { app: 'backup', env: 'ops', team: 'sre' },
  'mgmt',
);
W.prometheus = identity(
  '/ns/ops/sa/prometheus',
  'service',
  'team-sre',
  { app: 'prometheus', env: 'ops', team: 'sre' },
  'mgmt',
);
W['patch-server'] = identity(
  '/ns/it/sa/patch-server',
  'service',
  'team-it',
  { app: 'patch-server', env: 'prod', domain: 'it', team: 'it' },
  'plant',
);
W['wiki-bot'] = identity(
  '/ns/dev/sa/wiki-bot',
  'job',
  'team-devex',
  { app: 'wiki-bot', env: 'dev', team: 'devex' },
  'shared',
);
W['build-cache'] = identity(
  '/ns/dev/sa/build-cache',
  'service',
  'team-devex',
  { app: 'build-cache', env: 'dev', team: 'devex' },
  'shared',
);

// Batch jobs and workers of each team: the bulk of the estate.
const TEAM_JOBS = [
  [
    'shop',
    'team-orders',
    ['order-sync', 'cart-cleanup', 'order-export', 'invoice-render', 'abandoned-cart'],
    ['orders', 'catalog', 'inventory'],
  ],
  [
    'logistics',
    'team-logistics',
    ['label-printer', 'carrier-sync', 'route-planner', 'returns-intake'],
    ['shipping', 'orders'],
  ],
  ['comms', 'team-comms', ['email-sender', 'sms-sender', 'digest-builder'], ['notifications', 'users']],
  ['finance', 'team-finance', ['tax-export', 'revenue-report', 'payout-batch'], ['reports', 'orders']],
  ['search', 'team-search', ['indexer', 'ranker-train', 'synonym-sync'], ['search', 'catalog']],
  ['identity', 'team-identity', ['user-export', 'gdpr-erasure', 'session-reaper'], ['users']],
  ['pricing', 'team-pricing', ['price-import', 'promo-scheduler'], ['pricing', 'catalog']],
];
const JOBS = [];
for (const [ns, owner, names, targets] of TEAM_JOBS) {
  for (const name of names) {
    for (let replica = 1; replica <= 4; replica++) {
      const w = identity(
        `/ns/${ns}/sa/${name}-${replica}`,
        'job',
        owner,
        { app: name, env: 'prod', team: ns },
        'prod',
      );
      JOBS.push({ w, targets: [pick(targets), ...(int(3) === 0 ? [pick(targets)] : [])] });
    }
  }
}
// CI pipelines push to and pull from the artifact registry.
const PIPELINES = [];
for (const repo of [
  'shop',
  'payments',
  'search',
  'comms',
  'logistics',
  'identity',
  'platform',
  'plant-tools',
]) {
  for (const branch of ['main', 'release']) {
    PIPELINES.push(
      identity(
        `/ci/github/northwind/${repo}/${branch}`,
        'ci-pipeline',
        'team-devex',
        { repo, branch, env: 'ci' },
        'ci',
      ),
    );
  }
}
// Dev copies of the shop: they talk among themselves (undeclared endpoints).
const DEV = [];
for (const name of ['orders', 'checkout', 'catalog', 'inventory', 'payments', 'users', 'search', 'pricing']) {
  for (let i = 1; i <= 6; i++)
    DEV.push(
      identity(
        `/ns/dev-${name}/sa/${name}-${i}`,
        'service',
        `team-${name === 'payments' ? 'payments' : 'qa'}`,
        { app: name, env: 'dev', team: 'qa' },
        'dev',
      ),
    );
}
// Plant: HMIs read PLC registers through the gateway; PLCs push samples to the historian.
const HMIS = [];
const PLCS = [];
for (let i = 1; i <= 8; i++)
  HMIS.push(
    identity(
      `/ns/plant/sa/hmi-${i}`,
      'service',
      'team-plant',
      { app: 'hmi', env: 'prod', domain: 'ot' },
      'plant',
    ),
  );
for (let i = 1; i <= 48; i++)
  PLCS.push(
    identity(
      `/ns/plant/sa/plc-${String(i).padStart(2, '0')}`,
      'service',
      'team-plant',
      { app: 'plc', env: 'prod', domain: 'ot' },
      'plant',
    ),
  );
// Partners and API keys.
W.partner = identity(
  '/partners/carrier-express',
  'third-party-app',
  'team-logistics',
  { app: 'carrier-express', env: 'prod' },
  'edge',
);
W['report-key'] = identity(
  '/keys/bi-dashboard',
  'api-key',
  'team-finance',
  { app: 'bi-dashboard', env: 'prod' },
  'mgmt',
);

// ---- traffic: edges ------------------------------------------------------------
/**
 * An edge: a caller (identity or bare address) reaching a service with some of
 * its actions, `perDay` flows a day. `verdict` is what the observer saw.
 */
const EDGES = [];
function edge(from, to, perDay, actions, extra = {}) {
  EDGES.push({ from, to, perDay, actions: actions ?? to.actions, ...extra });
}
const sid = (s) => s.identity;
edge(W['mobile-bff'], S['api-gateway'], 400, [get('/v1/status')]);
edge(W.partner, S['api-gateway'], 60, [get('/v1/status')]);
edge(sid(S['api-gateway']), S.orders, 2400, [S.orders.actions[0], S.orders.actions[1], S.orders.actions[4]]);
edge(sid(S['api-gateway']), S.catalog, 5200);
edge(sid(S['api-gateway']), S.search, 3100);
edge(sid(S['api-gateway']), S.checkout, 900);
edge(sid(S['api-gateway']), S.users, 1500);
edge(sid(S.checkout), S.orders, 800, [post('/orders', 1)]);
edge(sid(S.checkout), S.inventory, 900, [S.inventory.actions[0], S.inventory.actions[1]]);
edge(sid(S.checkout), S.pricing, 1100, [get('/prices/{sku}')]);
edge(sid(S.checkout), S.payments, 850, [PAYMENTS.charge, PAYMENTS.chargeGet]);
edge(sid(S.checkout), S.fraud, 850);
edge(sid(S.orders), S.payments, 420, [PAYMENTS.status]);
edge(sid(S.orders), S.inventory, 300, [S.inventory.actions[2]]);
edge(sid(S.orders), S.shipping, 600, [post('/shipments')]);
edge(sid(S.orders), S.notifications, 700, [post('/v1/messages')]);
edge(sid(S.catalog), S.pricing, 2600, [get('/prices/{sku}')]);
edge(sid(S.catalog), S.inventory, 1400, [get('/stock/{sku}')]);
edge(sid(S.search), S.catalog, 900, [get('/products/{sku}')]);
edge(sid(S.shipping), S.notifications, 300, [post('/v1/messages')]);
edge(sid(S.users), S.notifications, 80, [post('/v1/messages')]);
edge(sid(S.reports), S.orders, 50, [get('/orders')]);
edge(W['refund-worker'], S.payments, 140, [PAYMENTS.refund, PAYMENTS.refundGet, PAYMENTS.chargeGet]);
edge(W['ledger-sync'], S.payments, 24, [PAYMENTS.settlements]);
edge(W['pricing-agent'], S.pricing, 90, [get('/prices/{sku}', 5), put('/prices/{sku}', 1)]);
// The agent probes the payments admin API: the candidate denies it on purpose.
edge(W['pricing-agent'], S.payments, 2, [PAYMENTS.admin], { unwanted: true });
edge(W['report-key'], S.reports, 40);
for (const s of [S.orders, S.checkout, S.catalog, S.payments, S.users, S.inventory]) {
  edge(sid(s), S.metrics, 1440, [post('/api/v1/write')]);
  edge(sid(s), S.vault, 24, [get('/v1/secret/data/{team}/{secret}')]);
}
edge(W.prometheus, S.metrics, 2880, [post('/api/v1/write')]);
edge(W.backup, S['orders-db'], 4, null, { l4: true });
edge(W.backup, S['payments-db'], 4, null, { l4: true });
// L4: application tiers to their data (seen by VPC flow logs; also in the week file).
edge(sid(S.orders), S['orders-db'], 1200, null, { l4: true });
edge(sid(S.payments), S['payments-db'], 700, null, { l4: true });
edge(sid(S.orders), S.kafka, 900, null, { l4: true });
edge(sid(S.payments), S.kafka, 400, null, { l4: true });
edge(sid(S.shipping), S.kafka, 300, null, { l4: true });
edge(sid(S.catalog), S.redis, 3000, null, { l4: true });
edge(sid(S['legacy-billing']), S['orders-db'], 60, null, { l4: true });
// CI.
for (const p of PIPELINES)
  edge(
    p,
    S['artifact-registry'],
    30,
    p.path.endsWith('main') ? S['artifact-registry'].actions : [get('/v2/{repo}/manifests/{tag}')],
  );
edge(W.automation, S['artifact-registry'], 12, [get('/v2/{repo}/manifests/{tag}')], { fromZone: 'ci' });
edge(W.automation, S.vault, 20, [get('/v1/secret/data/{team}/{secret}')], { fromZone: 'mgmt' });
// The shared account from its dev host reaches for prod: denied by the zone rules.
edge(W.automation, S.orders, 6, [get('/orders')], { fromZone: 'dev', verdict: 'deny', unwanted: true });
// The dev load tester aims at prod orders: denied, as it should be.
edge(W['load-tester'], S.orders, 200, [get('/orders/{id}')], { verdict: 'deny', unwanted: true });
// Legacy billing in the mixed zone, and what calls it.
edge(W['wiki-bot'], S['legacy-billing'], 8, [get('/billing/invoices/{id}')]);
edge(sid(S.reports), S['legacy-billing'], 20, [get('/billing/invoices/{id}')]);
edge({ ip: '10.99.4.17' }, S['legacy-billing'], 30, [post('/billing/run')]);
edge({ ip: '10.20.7.7' }, S.reports, 12, [get('/reports/daily/{date}')]);
// Plant.
for (const h of HMIS) edge(h, S['plc-gateway'], 720, S['plc-gateway'].actions);
for (const p of PLCS) edge(p, S.historian, 1440, S.historian.actions);
edge(W['patch-server'], S['plc-gateway'], 6, [get('/registers/{id}')]);
// Jobs.
for (const { w, targets } of JOBS) {
  for (const t of targets) {
    const s = S[t];
    const reads = s.actions.filter((a) => a.method === 'GET');
    edge(w, s, 20 + int(60), [pick(reads.length ? reads : s.actions)]);
  }
}
// Dev copies talking among themselves (undeclared endpoints; seen, not governed).
for (let i = 0; i < 24; i++) edge(pick(DEV), { dev: pick(DEV), port: 8443 }, 40, [get('/health')]);

// ---- paths ------------------------------------------------------------------------
// Usernames are names, not ids: only their number gives them away as values.
const FIRST = ['ada', 'grace', 'alan', 'edsger', 'barbara', 'ken', 'linus', 'margaret', 'donald', 'frances'];
const LAST = [
  'lovelace',
  'hopper',
  'turing',
  'dijkstra',
  'liskov',
  'thompson',
  'torvalds',
  'hamilton',
  'knuth',
  'allen',
];
function fill(template) {
  return template
    .replace('{id}', () => String(1000 + int(900000)))
    .replace(
      '{uuid}',
      () => `${hex(8)}-${hex(4)}-4${hex(3)}-${pick(['8', '9', 'a', 'b'])}${hex(3)}-${hex(12)}`,
    )
    .replace('{sku}', () => `sku-${String(1000 + int(9000))}`)
    .replace('{date}', () => `2026-11-${String(10 + int(13))}`)
    .replace('{month}', () => `2026-${String(1 + int(11)).padStart(2, '0')}`)
    .replace('{user}', () => `${pick(FIRST)}.${pick(LAST)}`)
    .replace('{team}', () => pick(['orders', 'payments', 'shared', 'catalog']))
    .replace('{secret}', () => pick(['db-password', 'api-key', 'tls', 'cdn-token']))
    .replace('{repo}', () => pick(['shop', 'payments', 'search', 'comms']))
    .replace('{tag}', () => `1.${int(20)}.${int(10)}`);
}

// ---- flow records -------------------------------------------------------------------
const hostsOf = (w, zone) => {
  if (!zone) return w.addresses;
  const inZone = w.addresses.filter((a) => zoneOfAddress(a) === zone);
  return inZone.length ? inZone : w.addresses;
};
function zoneOfAddress(ip) {
  for (const zone of Object.keys(ZONES)) if (ip.startsWith(ZONE_BASE[zone].join('.') + '.')) return zone;
  return 'unknown';
}

/** One flow record of an edge at a time, standing for `count` flows. */
function record(e, time, count) {
  const r = { v: 1, time: new Date(time).toISOString() };
  const from = e.from;
  const sourceIp = from.ip ?? pick(hostsOf(from, e.fromZone));
  // Most records come from enforcement points that know both identities; a
  // third from network sensors that see only addresses.
  const sensor = rand() < 0.3;
  r.source = from.spiffeId && !sensor ? { ip: sourceIp, spiffeId: from.spiffeId } : { ip: sourceIp };
  if (e.to.dev) {
    r.destination = { ip: pick(e.to.dev.addresses), port: e.to.port };
  } else {
    const s = e.to;
    r.destination = sensor
      ? { ip: pick(s.identity.addresses), port: s.port }
      : { service: s.name, port: s.port };
  }
  r.protocol = 'tcp';
  if (!e.l4 && e.actions.length) {
    let total = 0;
    for (const a of e.actions) total += a.weight;
    let x = rand() * total;
    let action = e.actions[0];
    for (const a of e.actions) {
      x -= a.weight;
      if (x <= 0) {
        action = a;
        break;
      }
    }
    r.action = { method: action.method, path: fill(action.path) };
  }
  r.verdict = e.verdict ?? 'allow';
  if (count > 1) r.count = count;
  r.bytes = count * (e.l4 ? 4000 + int(60000) : 600 + int(4000));
  r.origin = 'gatehouse';
  return r;
}

function weekRecords() {
  const out = [];
  for (const e of EDGES) {
    const week = Math.max(1, Math.round(e.perDay * 7));
    const lines = Math.max(2, Math.min(60, Math.round(Math.sqrt(week) / 2)));
    for (let i = 0; i < lines; i++) {
      const count = Math.max(1, Math.round((week / lines) * (0.5 + rand())));
      out.push(record(e, WEEK_START + int(WEEK_MS), count));
    }
  }
  out.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
  return out;
}

// ---- policy ------------------------------------------------------------------------------
/** The callers a policy should admit: not the traffic nobody wants. */
const callersOf = (s) => EDGES.filter((e) => e.to === s && e.from.spiffeId && !e.unwanted);

function serviceDoc(s, mode = s.mode) {
  const out = { spiffeId: s.identity.spiffeId, zone: s.zone, ports: [s.port], mode, owner: s.owner };
  return out;
}

/** Policy paths of a caller's actions: templates, names kept (`/orders/{id}`). */
function actionsDoc(actions) {
  const byPath = new Map();
  for (const a of actions) {
    const path = a.path;
    const methods = byPath.get(path) ?? new Set();
    methods.add(a.method);
    byPath.set(path, methods);
  }
  const byMethods = new Map();
  for (const [path, methods] of byPath) {
    const key = [...methods].sort().join(',');
    byMethods.set(key, [...(byMethods.get(key) ?? []), path]);
  }
  return [...byMethods].sort().map(([m, paths]) => ({ methods: m.split(','), paths: paths.sort() }));
}

// Services whose rules are not written in the generic, tight way.
const SPECIAL = new Set(['payments', 'metrics', 'feature-flags', 'legacy-billing', 'reports', 'search']);
/** `perm-checkout-to-payments`; CI pipelines keep their repository (`perm-shop-main-to-…`). */
const ruleId = (kind, from, to) => {
  const parts = from.split('/');
  const name = from.includes('/ci/') ? parts.slice(-2).join('-') : parts.pop();
  return `${kind}-${name}-to-${to}`;
};

function tightRules(s, callers, owner = s.owner) {
  const flows = [];
  const permissions = [];
  const ids = [...new Set(callers.map((e) => e.from.spiffeId))].sort();
  if (!ids.length) return { flows, permissions };
  flows.push({
    id: `flow-to-${s.name}`,
    effect: 'allow',
    from: ids,
    to: { service: s.name, ports: [s.port] },
    owner,
    reviewBy: REVIEW,
  });
  if (s.actions) {
    for (const id of ids) {
      const actions = callers.filter((e) => e.from.spiffeId === id).flatMap((e) => e.actions);
      if (!actions.length) continue;
      permissions.push({
        id: ruleId('perm', id, s.name),
        effect: 'allow',
        from: [id],
        to: { service: s.name },
        actions: actionsDoc(actions),
        owner,
        reviewBy: REVIEW,
      });
    }
  }
  return { flows, permissions };
}

function policyFiles() {
  const header = (what) => `# yaml-language-server: $schema=../../../schemas/policy.v1.json\n# ${what}\n`;
  const estate = {
    apiVersion: 'gatehouse.dev/v1',
    kind: 'Policy',
    metadata: { name: 'northwind', owner: 'platform-security' },
    trustDomain: TD,
    zones: ZONES,
    services: Object.fromEntries(
      SERVICES.filter((s) => s.name !== 'payments').map((s) => [s.name, serviceDoc(s)]),
    ),
  };
  const workloads = {
    apiVersion: 'gatehouse.dev/v1',
    workloads: [...identities.values()]
      .sort((a, b) => a.spiffeId.localeCompare(b.spiffeId))
      .map((w) => ({ spiffeId: w.spiffeId, kind: w.kind, owner: w.owner, labels: w.labels })),
  };
  const segmentation = {
    apiVersion: 'gatehouse.dev/v1',
    segmentation: [
      {
        id: 'seg-edge-to-prod',
        effect: 'allow',
        from: ['edge'],
        to: ['edge', 'prod'],
        owner: 'netsec',
        reviewBy: REVIEW,
      },
      {
        id: 'seg-prod-internal',
        effect: 'allow',
        from: ['prod'],
        to: ['prod', 'prod-data'],
        owner: 'netsec',
        reviewBy: REVIEW,
      },
      {
        id: 'seg-mgmt-reach',
        effect: 'allow',
        from: ['mgmt'],
        to: ['prod', 'prod-data', 'ci', 'mgmt'],
        owner: 'netsec',
        reviewBy: REVIEW,
      },
      {
        id: 'seg-to-mgmt',
        effect: 'allow',
        from: ['prod', 'prod-data', 'ci', 'edge'],
        to: ['mgmt'],
        owner: 'netsec',
        reviewBy: REVIEW,
      },
      {
        id: 'seg-ci-registry',
        effect: 'allow',
        from: ['ci', 'dev', 'prod'],
        to: ['ci'],
        owner: 'netsec',
        reviewBy: REVIEW,
      },
      {
        id: 'seg-dev-internal',
        effect: 'allow',
        from: ['dev'],
        to: ['dev'],
        owner: 'netsec',
        reviewBy: REVIEW,
      },
      {
        id: 'seg-deny-dev-to-prod',
        effect: 'deny',
        from: ['dev'],
        to: ['edge', 'prod', 'prod-data'],
        owner: 'netsec',
        reviewBy: REVIEW,
      },
      // Legacy: the shared zone reaches billing data and is reached by reports.
      {
        id: 'seg-shared-legacy',
        effect: 'allow',
        from: ['shared'],
        to: ['shared', 'prod-data'],
        owner: 'netsec',
        reviewBy: REVIEW,
      },
      {
        id: 'seg-prod-to-shared',
        effect: 'allow',
        from: ['prod'],
        to: ['shared'],
        owner: 'netsec',
        reviewBy: REVIEW,
      },
      {
        id: 'seg-plant-internal',
        effect: 'allow',
        from: ['plant'],
        to: ['plant'],
        owner: 'team-plant',
        reviewBy: REVIEW,
      },
    ],
  };
  const flows = [];
  const permissions = [];
  for (const s of SERVICES) {
    if (SPECIAL.has(s.name)) continue;
    const r = tightRules(s, callersOf(s));
    flows.push(...r.flows);
    permissions.push(...r.permissions);
  }
  // search: mapped and tight, but nobody owns its permissions yet.
  {
    const r = tightRules(S.search, callersOf(S.search));
    flows.push(...r.flows);
    for (const p of r.permissions) {
      delete p.owner;
      delete p.reviewBy;
    }
    permissions.push(...r.permissions);
  }
  // reports: rules for its known callers only (an unregistered host calls it too).
  {
    const r = tightRules(S.reports, callersOf(S.reports));
    flows.push(...r.flows);
    permissions.push(...r.permissions);
  }
  // legacy-billing: wide open, as legacy goes.
  flows.push({
    id: 'flow-legacy-billing',
    effect: 'allow',
    from: '*',
    to: { service: 'legacy-billing' },
    owner: 'team-finance',
    reviewBy: REVIEW,
  });
  permissions.push({
    id: 'perm-legacy-billing',
    effect: 'allow',
    from: '*',
    to: { service: 'legacy-billing' },
    owner: 'team-finance',
    reviewBy: REVIEW,
  });
  // Guardrails.
  permissions.push({
    id: 'perm-deny-admin-apis',
    effect: 'deny',
    from: '*',
    to: { services: ['orders', 'catalog', 'pricing', 'users'] },
    actions: [{ paths: ['/admin/**'] }],
    owner: 'platform-security',
    reviewBy: REVIEW,
  });
  const rules = { apiVersion: 'gatehouse.dev/v1', flows, permissions };
  const flowRules = { apiVersion: 'gatehouse.dev/v1', flows: rules.flows };
  const permissionRules = { apiVersion: 'gatehouse.dev/v1', permissions: rules.permissions };

  const paymentsCurrent = {
    apiVersion: 'gatehouse.dev/v1',
    services: { payments: serviceDoc(S.payments, 'observe') },
    flows: [
      {
        id: 'flow-prod-to-payments',
        effect: 'allow',
        description: 'interim: any prod workload, until the dependency map is done',
        from: [{ labels: { env: 'prod' } }],
        to: { service: 'payments' },
        owner: 'team-payments',
        reviewBy: REVIEW,
      },
    ],
    permissions: [
      {
        id: 'perm-payments-interim',
        effect: 'allow',
        description: 'interim: any prod workload, any path',
        from: [{ labels: { env: 'prod' } }],
        to: { service: 'payments' },
        actions: [{ paths: ['/**'] }],
        owner: 'team-payments',
        reviewBy: REVIEW,
      },
    ],
  };
  const checkoutId = sid(S.checkout).spiffeId;
  const ordersId = sid(S.orders).spiffeId;
  const ledgerId = W['ledger-sync'].spiffeId;
  const paymentsCandidate = {
    apiVersion: 'gatehouse.dev/v1',
    services: { payments: serviceDoc(S.payments, 'simulate') },
    flows: [
      {
        id: 'flow-to-payments',
        effect: 'allow',
        from: [checkoutId, ordersId, ledgerId],
        to: { service: 'payments', ports: [8443] },
        owner: 'team-payments',
        reviewBy: REVIEW,
      },
      {
        id: 'flow-deny-agents-to-payments',
        effect: 'deny',
        description: 'AI agents never reach payments directly',
        from: [{ spiffeId: spiffe('/agents/**') }],
        to: { service: 'payments' },
        owner: 'platform-security',
        reviewBy: REVIEW,
      },
    ],
    permissions: [
      {
        id: 'perm-checkout-charges',
        effect: 'allow',
        from: [checkoutId],
        to: { service: 'payments' },
        actions: [
          { methods: ['POST'], paths: ['/v1/charges'] },
          { methods: ['GET'], paths: ['/v1/charges/{id}'] },
        ],
        owner: 'team-payments',
        reviewBy: REVIEW,
      },
      {
        id: 'perm-orders-charge-status',
        effect: 'allow',
        from: [ordersId],
        to: { service: 'payments' },
        actions: [{ methods: ['GET'], paths: ['/v1/charges/{id}/status'] }],
        owner: 'team-payments',
        reviewBy: REVIEW,
      },
      {
        id: 'perm-ledger-settlements',
        effect: 'allow',
        from: [ledgerId],
        to: { service: 'payments' },
        actions: [{ methods: ['GET'], paths: ['/v1/settlements/{date}'] }],
        owner: 'team-payments',
        reviewBy: REVIEW,
      },
      {
        id: 'perm-deny-payments-admin',
        effect: 'deny',
        from: '*',
        to: { service: 'payments' },
        actions: [{ paths: ['/admin/**'] }],
        owner: 'platform-security',
        reviewBy: REVIEW,
      },
    ],
  };
  const refundId = W['refund-worker'].spiffeId;
  const paymentsFix = {
    apiVersion: 'gatehouse.dev/v1',
    flows: [
      {
        id: 'flow-refund-worker-to-payments',
        effect: 'allow',
        from: [refundId],
        to: { service: 'payments', ports: [8443] },
        owner: 'team-payments',
        reviewBy: REVIEW,
      },
    ],
    permissions: [
      {
        id: 'perm-refund-worker-to-payments',
        effect: 'allow',
        from: [refundId],
        to: { service: 'payments' },
        actions: [
          { methods: ['POST'], paths: ['/v1/refunds'] },
          { methods: ['GET'], paths: ['/v1/charges/{id}', '/v1/refunds/{id}'] },
        ],
        owner: 'team-payments',
        reviewBy: REVIEW,
      },
    ],
  };
  const common = {
    '00-estate.yaml': [header('Northwind: zones and services (payments is in 40-payments.yaml).'), estate],
    '05-workloads.yaml': [
      header('The inventory of non-human identities, with the labels selectors match.'),
      workloads,
    ],
    '10-segmentation.yaml': [header('Layer 1: which zones may reach which.'), segmentation],
    '20-flows.yaml': [
      header('Layer 2: which workloads may open connections to which service ports.'),
      flowRules,
    ],
    '30-permissions.yaml': [header('Layer 3: which identities may take which actions.'), permissionRules],
  };
  return {
    policy: {
      ...common,
      '40-payments.yaml': [
        header('payments, observed: interim rules while its dependencies are mapped.'),
        paymentsCurrent,
      ],
    },
    candidate: {
      ...common,
      '40-payments.yaml': [
        header('payments, tightened from the dependency map and rehearsed in simulate mode.'),
        paymentsCandidate,
      ],
    },
    fixes: {
      '45-payments-refunds.yaml': [
        header('The refund worker, missed by the candidate: copy this file into the candidate folder.'),
        paymentsFix,
      ],
    },
  };
}

/** YAML with short collections on one line, as people write policies, formatted as the repository is. */
async function yamlText(value, filepath) {
  const doc = new Document(value);
  visit(doc, {
    Map(_, node) {
      if (JSON.stringify(node.toJSON()).length <= 72) node.flow = true;
    },
    Seq(_, node) {
      if (node.items.every(isScalar) && JSON.stringify(node.toJSON()).length <= 100) node.flow = true;
    },
  });
  const text = doc.toString({ lineWidth: 0 });
  const options = (await prettier.resolveConfig(filepath)) ?? {};
  return prettier.format(text, { ...options, filepath });
}

// ---- inventory ------------------------------------------------------------------------------
function inventoryDoc() {
  const entries = [...identities.values()]
    .sort((a, b) => a.spiffeId.localeCompare(b.spiffeId))
    .map((w) => ({
      spiffeId: w.spiffeId,
      kind: w.kind,
      owner: w.owner,
      labels: w.labels,
      zone: w.zone,
      addresses: w.addresses,
      attestation: [{ type: 'join-token' }],
      createdAt: '2026-03-02T09:00:00Z',
      lastSeenAt: '2026-11-23T05:58:00Z',
    }));
  return {
    apiVersion: 'gatehouse.dev/v1',
    kind: 'Inventory',
    trustDomain: TD,
    generatedAt: GENERATED_AT,
    entries,
  };
}

// ---- VPC flow logs and Hubble samples ------------------------------------------------------------
const ACCOUNT = '123456789012';
function vpcSample() {
  const lines = [];
  const t0 = Math.floor(Date.parse('2026-11-20T10:00:00Z') / 1000);
  const l4 = EDGES.filter((e) => e.l4);
  for (let i = 0; i < 160; i++) {
    const e = pick(l4);
    const src = pick(e.from.addresses);
    const dst = pick(e.to.identity.addresses);
    const sport = 32768 + int(28000);
    const start = t0 + i * 15;
    const eni = `eni-0${hex(16)}`;
    const packets = 5 + int(200);
    lines.push(
      [
        2,
        ACCOUNT,
        eni,
        src,
        dst,
        sport,
        e.to.port,
        6,
        packets,
        packets * 900,
        start,
        start + 60,
        'ACCEPT',
        'OK',
      ].join(' '),
    );
    // The reply half of the same connection.
    if (i % 3 === 0)
      lines.push(
        [
          2,
          ACCOUNT,
          eni,
          dst,
          src,
          e.to.port,
          sport,
          6,
          packets,
          packets * 300,
          start,
          start + 60,
          'ACCEPT',
          'OK',
        ].join(' '),
      );
    if (i % 40 === 7)
      lines.push(
        [2, ACCOUNT, eni, '-', '-', '-', '-', '-', '-', '-', start, start + 60, '-', 'NODATA'].join(' '),
      );
    if (i % 70 === 11)
      lines.push(
        [2, ACCOUNT, eni, '-', '-', '-', '-', '-', '-', '-', start, start + 60, '-', 'SKIPDATA'].join(' '),
      );
  }
  // A port scan from an address nobody knows, rejected.
  for (let p = 0; p < 6; p++)
    lines.push(
      [
        2,
        ACCOUNT,
        'eni-0a1b2c3d4e5f60718',
        '10.99.4.17',
        pick(S['orders-db'].identity.addresses),
        40000 + p,
        [22, 3306, 5432, 6379, 9200, 27017][p],
        6,
        1,
        44,
        t0 + 900 + p,
        t0 + 960,
        'REJECT',
        'OK',
      ].join(' '),
    );
  // The usual damage: a truncated line and an address that is not one.
  lines.splice(40, 0, `2 ${ACCOUNT} eni-0f00ba4 10.10.1.10 10.11.1.10 49152`);
  lines.splice(
    90,
    0,
    [
      2,
      ACCOUNT,
      'eni-0f00ba5',
      '10.10.1.300',
      '10.11.1.10',
      41000,
      5432,
      6,
      3,
      200,
      t0,
      t0 + 60,
      'ACCEPT',
      'OK',
    ].join(' '),
  );
  return lines.join('\n') + '\n';
}

const V5_FIELDS = [
  'version',
  'vpc-id',
  'subnet-id',
  'instance-id',
  'interface-id',
  'account-id',
  'type',
  'srcaddr',
  'dstaddr',
  'srcport',
  'dstport',
  'pkt-srcaddr',
  'pkt-dstaddr',
  'protocol',
  'bytes',
  'packets',
  'start',
  'end',
  'action',
  'tcp-flags',
  'log-status',
  'region',
  'az-id',
  'sublocation-type',
  'sublocation-id',
  'pkt-src-aws-service',
  'pkt-dst-aws-service',
  'flow-direction',
  'traffic-path',
];
function vpcV5Sample() {
  const lines = [V5_FIELDS.join(' ')];
  const t0 = Math.floor(Date.parse('2026-11-21T08:00:00Z') / 1000);
  const l4 = EDGES.filter((e) => e.l4);
  for (let i = 0; i < 40; i++) {
    const e = pick(l4);
    const src = pick(e.from.addresses);
    const dst = pick(e.to.identity.addresses);
    const start = t0 + i * 30;
    // Through a load balancer: srcaddr is the balancer, pkt-srcaddr the real caller.
    const lb = '10.11.0.5';
    const v = {
      version: 5,
      'vpc-id': 'vpc-0a1b2c3d',
      'subnet-id': 'subnet-0f1e2d3c',
      'instance-id': `i-0${hex(16)}`,
      'interface-id': `eni-0${hex(16)}`,
      'account-id': ACCOUNT,
      type: 'IPv4',
      srcaddr: i % 2 ? lb : src,
      dstaddr: dst,
      srcport: 33000 + int(20000),
      dstport: e.to.port,
      'pkt-srcaddr': src,
      'pkt-dstaddr': dst,
      protocol: 6,
      bytes: 1000 + int(90000),
      packets: 4 + int(80),
      start,
      end: start + 60,
      action: 'ACCEPT',
      'tcp-flags': 19,
      'log-status': 'OK',
      region: 'eu-west-1',
      'az-id': 'euw1-az2',
      'sublocation-type': '-',
      'sublocation-id': '-',
      'pkt-src-aws-service': '-',
      'pkt-dst-aws-service': '-',
      'flow-direction': 'ingress',
      'traffic-path': '-',
    };
    lines.push(V5_FIELDS.map((f) => v[f]).join(' '));
  }
  lines.push(
    [
      5,
      'vpc-0a1b2c3d',
      'subnet-0f1e2d3c',
      '-',
      `eni-0${hex(16)}`,
      ACCOUNT,
      '-',
      '-',
      '-',
      '-',
      '-',
      '-',
      '-',
      '-',
      '-',
      '-',
      t0,
      t0 + 60,
      '-',
      '-',
      'NODATA',
      'eu-west-1',
      'euw1-az2',
      '-',
      '-',
      '-',
      '-',
      '-',
      '-',
    ].join(' '),
  );
  return lines.join('\n') + '\n';
}

function hubbleSample() {
  const lines = [];
  const t0 = Date.parse('2026-11-20T14:00:00Z');
  const endpoint = (w) => {
    const [, , ns, , sa] = w.path.split('/');
    return {
      ID: 1000 + int(3000),
      identity: 20000 + int(5000),
      namespace: ns,
      labels: [
        `k8s:app=${w.labels.app}`,
        `k8s:io.cilium.k8s.policy.serviceaccount=${sa}`,
        `k8s:io.kubernetes.pod.namespace=${ns}`,
      ],
      pod_name: `${w.labels.app}-${hex(10)}-${hex(5)}`,
      workloads: [{ name: w.labels.app, kind: 'Deployment' }],
    };
  };
  const l7 = EDGES.filter(
    (e) =>
      !e.l4 &&
      e.from.path?.startsWith('/ns/') &&
      e.to.identity &&
      e.to.zone === 'prod' &&
      e.from.zone === 'prod',
  );
  for (let i = 0; i < 120; i++) {
    const e = pick(l7);
    // Hubble writes nanoseconds.
    const time = new Date(t0 + i * 1500 + int(1000)).toISOString().replace(/Z$/, '456789Z');
    const src = pick(e.from.addresses);
    const dst = pick(e.to.identity.addresses);
    const sport = 40000 + int(20000);
    const base = {
      time,
      verdict: 'FORWARDED',
      IP: { source: src, destination: dst, ipVersion: 'IPv4' },
      l4: { TCP: { source_port: sport, destination_port: e.to.port } },
      source: endpoint(e.from),
      destination: endpoint(e.to.identity),
      node_name: `prod-node-${1 + int(6)}`,
      traffic_direction: 'INGRESS',
    };
    const action = pick(e.actions);
    const path = fill(action.path);
    lines.push(
      JSON.stringify({
        flow: {
          ...base,
          Type: 'L3_L4',
          l4: { TCP: { ...base.l4.TCP, flags: { SYN: true } } },
          is_reply: false,
          Summary: 'TCP Flags: SYN',
        },
        node_name: base.node_name,
        time,
      }),
    );
    lines.push(
      JSON.stringify({
        flow: {
          ...base,
          Type: 'L7',
          is_reply: false,
          l7: {
            type: 'REQUEST',
            latency_ns: '0',
            http: {
              method: action.method,
              url: `http://${e.to.name}.${e.to.ns}.svc.cluster.local:${e.to.port}${path}?trace=${hex(6)}`,
              protocol: 'HTTP/1.1',
              headers: [{ key: 'X-Request-Id', value: hex(16) }],
            },
          },
        },
        node_name: base.node_name,
        time,
      }),
    );
    if (i % 2 === 0)
      lines.push(
        JSON.stringify({
          flow: {
            ...base,
            IP: { source: dst, destination: src, ipVersion: 'IPv4' },
            source: base.destination,
            destination: base.source,
            Type: 'L7',
            is_reply: true,
            l7: {
              type: 'RESPONSE',
              latency_ns: String(200000 + int(4000000)),
              http: {
                code: 200,
                method: action.method,
                url: `http://${e.to.name}.${e.to.ns}.svc.cluster.local:${e.to.port}${path}`,
                protocol: 'HTTP/1.1',
              },
            },
          },
          node_name: base.node_name,
          time,
        }),
      );
    if (i % 5 === 0)
      lines.push(
        JSON.stringify({
          flow: {
            ...base,
            traffic_direction: 'EGRESS',
            Type: 'L3_L4',
            l4: { TCP: { ...base.l4.TCP, flags: { SYN: true } } },
          },
          node_name: base.node_name,
          time,
        }),
      );
    if (i % 9 === 0)
      lines.push(
        JSON.stringify({
          flow: { ...base, Type: 'L3_L4', l4: { TCP: { ...base.l4.TCP, flags: { ACK: true, FIN: true } } } },
          node_name: base.node_name,
          time,
        }),
      );
    if (i % 12 === 0) {
      // DNS to kube-dns: an endpoint the policy does not declare.
      lines.push(
        JSON.stringify({
          flow: {
            time,
            verdict: 'FORWARDED',
            IP: { source: src, destination: '10.10.0.2', ipVersion: 'IPv4' },
            l4: { UDP: { source_port: 50000 + int(9000), destination_port: 53 } },
            source: base.source,
            destination: {
              namespace: 'kube-system',
              labels: ['k8s:k8s-app=kube-dns'],
              pod_name: 'coredns-5d78c9869d-abcde',
            },
            Type: 'L7',
            traffic_direction: 'EGRESS',
            l7: {
              type: 'REQUEST',
              dns: { query: `${e.to.name}.${e.to.ns}.svc.cluster.local.`, qtypes: ['A'] },
            },
          },
          node_name: base.node_name,
          time,
        }),
      );
    }
  }
  lines.splice(
    30,
    0,
    JSON.stringify({
      node_status: { state_change: 'NODE_CONNECTED', node_names: ['prod-node-3'] },
      node_name: 'prod-node-3',
      time: new Date(t0).toISOString(),
    }),
  );
  lines.splice(
    61,
    0,
    '{"flow":{"time":"2026-11-20T14:01:00Z","verdict":"FORWARDED","IP":{"source":"10.10.1.10"',
  );
  return lines.join('\n') + '\n';
}

// ---- write -------------------------------------------------------------------------------------------
function write(path, text) {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}

if (args.out !== undefined) {
  // Bench input: N records of one flow each, drawn by edge weight.
  const out = resolve(process.cwd(), args.out);
  mkdirSync(dirname(out), { recursive: true });
  const tmp = `${out}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  const total = EDGES.reduce((n, e) => n + e.perDay, 0);
  const cumulative = [];
  let acc = 0;
  for (const e of EDGES) cumulative.push((acc += e.perDay / total));
  let buffer = '';
  for (let i = 0; i < args.records; i++) {
    const x = rand();
    let lo = 0;
    let hi = cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cumulative[mid] < x) lo = mid + 1;
      else hi = mid;
    }
    buffer +=
      JSON.stringify(record(EDGES[lo], WEEK_START + Math.floor((i / args.records) * WEEK_MS), 1)) + '\n';
    if (buffer.length > 1 << 20) {
      writeSync(fd, buffer);
      buffer = '';
    }
  }
  writeSync(fd, buffer);
  closeSync(fd);
  renameSync(tmp, out);
  process.stderr.write(`gen-example-estate: wrote ${args.records} flow records to ${args.out}\n`);
} else {
  const dir = join(ROOT, 'examples', 'estate');
  const files = policyFiles();
  for (const [folder, set] of Object.entries(files))
    for (const [name, [head, doc]] of Object.entries(set)) {
      const path = join(dir, folder, name);
      write(path, await yamlText(doc, path).then((text) => head + text));
    }
  const inventoryPath = join(dir, 'inventory.yaml');
  write(
    inventoryPath,
    '# yaml-language-server: $schema=../../schemas/inventory.v1.json\n' +
      '# Northwind inventory snapshot: every identity with the addresses it sends from.\n' +
      '# Generated by scripts/gen-example-estate.mjs.\n' +
      (await yamlText(inventoryDoc(), inventoryPath)),
  );
  rand = prng(args.seed + 1);
  write(
    join(dir, 'flows', 'week.jsonl'),
    weekRecords()
      .map((r) => JSON.stringify(r))
      .join('\n') + '\n',
  );
  rand = prng(args.seed + 2);
  write(join(dir, 'flows', 'vpc-flow-logs.txt'), vpcSample());
  write(join(dir, 'flows', 'vpc-flow-logs-v5.txt'), vpcV5Sample());
  rand = prng(args.seed + 3);
  write(join(dir, 'flows', 'hubble.jsonl'), hubbleSample());
  process.stderr.write(
    `gen-example-estate: wrote ${dir} (${identities.size} identities, ${SERVICES.length} services, ${EDGES.length} edges)\n`,
  );
}
