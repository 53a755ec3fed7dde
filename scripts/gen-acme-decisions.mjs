#!/usr/bin/env node
/**
 * Writes examples/acme/decisions.jsonl: two weeks of synthetic traffic in the
 * example estate, each request decided by the real engine against
 * examples/acme/policy and logged as a hash-chained decision record, exactly
 * as an enforcement point would. Deterministic: the same seed gives the same
 * file, byte for byte.
 *
 *   npm run build && node scripts/gen-acme-decisions.mjs [--seed N] [--out FILE]
 *
 * Besides everyday traffic, the log holds what docs/exposure.md walks
 * through: a dev identity used from production addresses, a static API key
 * shared across many addresses and workloads, a deploy identity used by a
 * person from the bastion (curl and a browser, office hours, bursts, probing),
 * a disabled identity still in use, denied cross-zone attempts, and an
 * identity missing from the inventory. Records carry the client's
 * `userAgent`, which the hash covers like every other field.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const dist = (p) => import(new URL(`../dist/${p}`, import.meta.url).href);
const { compilePolicy, parsePolicy } = await dist('index.js');
const { ChainWriter } = await dist('core/log/hash-chain.js');
const { recordFromDecision } = await dist('core/log/record-from-decision.js');

let seed = 20261122;
let out = join(ROOT, 'examples/acme/decisions.jsonl');
for (let i = 2; i < process.argv.length; i++) {
  if (process.argv[i] === '--seed') seed = Number(process.argv[++i]);
  else if (process.argv[i] === '--out') out = process.argv[++i];
  else {
    process.stderr.write(`gen-acme-decisions: unknown flag \`${process.argv[i]}\`\n`);
    process.exit(3);
  }
}

// mulberry32: small, fast, and the same on every machine.
function prng(s) {
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = prng(seed);
const int = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1));
const pick = (xs) => xs[Math.floor(rand() * xs.length)];

const START = Date.UTC(2026, 10, 8); // Sunday 2026-11-08
const END = Date.UTC(2026, 10, 22, 10); // Sunday 2026-11-22 10:00
const DAY = 86_400_000;
const MIN = 60_000;
const TD = 'spiffe://acme.corp';

/** Who calls, from which addresses, with which client. */
const ID = {
  gateway: { id: `${TD}/ns/edge/sa/api-gateway`, net: '10.0.1.', ua: 'envoy/1.31.2' },
  web: { id: `${TD}/ns/shop/sa/web`, net: '10.10.1.', ua: 'node-fetch/3.3' },
  orders: { id: `${TD}/ns/shop/sa/orders`, net: '10.10.2.', ua: 'grpc-go/1.64.0' },
  checkout: { id: `${TD}/ns/shop/sa/checkout`, net: '10.10.3.', ua: 'grpc-go/1.64.0' },
  catalog: { id: `${TD}/ns/shop/sa/catalog`, net: '10.10.5.', ua: 'Go-http-client/2.0' },
  reco: { id: `${TD}/ns/shop/sa/recommendations`, net: '10.10.6.', ua: 'python-httpx/0.27' },
  search: { id: `${TD}/ns/shop/sa/search`, net: '10.10.7.', ua: 'Go-http-client/2.0' },
  shipping: { id: `${TD}/ns/shop/sa/shipping-worker`, net: '10.10.8.', ua: 'amqp-client/5.1' },
  payments: { id: `${TD}/ns/pay/sa/payments`, net: '10.10.20.', ua: 'okhttp/4.12' },
  refund: { id: `${TD}/ns/pay/sa/refund-worker`, net: '10.10.22.', ua: 'okhttp/4.12' },
  etl: { id: `${TD}/ns/data/sa/etl-nightly`, net: '10.11.3.', ua: 'python-requests/2.32.3' },
  backup: { id: `${TD}/ns/data/sa/backup-agent`, net: '10.11.4.', ua: 'restic/0.17' },
  prometheus: { id: `${TD}/ns/platform/sa/prometheus`, net: '10.50.4.', ua: 'Prometheus/2.54' },
  ciMain: { id: `${TD}/ci/github/acme/shop/main`, net: '10.40.1.', ua: 'containerd/1.7', cred: 'jwt' },
  ciFeature: { id: `${TD}/ci/github/acme/shop/feature`, net: '10.40.2.', ua: 'containerd/1.7', cred: 'jwt' },
  deployer: { id: `${TD}/ci/deployer`, net: '10.40.3.', ua: 'deployer/2.3 (go1.22)', cred: 'jwt' },
  copilot: { id: `${TD}/agents/support-copilot`, net: '10.10.31.', ua: 'copilot-runtime/0.9' },
  pricing: { id: `${TD}/agents/pricing-agent`, net: '10.10.32.', ua: 'copilot-runtime/0.9' },
  loadTester: { id: `${TD}/ns/shop-dev/sa/load-tester`, net: '10.30.1.', ua: 'k6/0.52.0' },
  devWeb: { id: `${TD}/ns/shop-dev/sa/web`, net: '10.30.2.', ua: 'node-fetch/3.3' },
  plc: { id: `${TD}/ns/plant/sa/plc-gateway`, net: '192.168.100.', ua: 'modbus-bridge/1.2' },
  historian: { id: `${TD}/ns/plant/sa/historian`, net: '10.10.40.', ua: 'historian/7.1' },
  crm: { id: `${TD}/apps/crm-sync`, net: '10.10.90.', ua: 'crmco-connector/3.4' },
  legacy: {
    id: `${TD}/keys/legacy-reporting`,
    net: '10.10.50.',
    ua: 'python-requests/2.31.0',
    cred: 'api-key',
  },
  canary: { id: `${TD}/ns/shop/sa/web-canary`, net: '10.10.1.', ua: 'node-fetch/3.3' },
  partner: {
    id: 'spiffe://partner.example/ns/logistics/sa/tracker',
    net: '203.0.113.',
    ua: 'partner-tracker/1.0',
    cred: 'jwt',
  },
};

const PORT = {
  orders: 8443,
  payments: 8443,
  inventory: 8443,
  catalog: 8443,
  'ledger-db': 5432,
  'orders-queue': 5672,
  secrets: 8200,
  'artifact-registry': 443,
  metrics: 9090,
  'plc-gateway': 8443,
  'api-gateway': 443,
};

const events = [];

/** One request at time `t` (ms) by `who` to `service`. */
function call(t, who, service, method, path, extra = {}) {
  const ip = extra.ip ?? `${who.net}${int(2, 13)}`;
  const request = {
    source: { spiffeId: who.id, ip, ...(extra.labels ? { labels: extra.labels } : {}) },
    credential: credentialFor(who, t, extra),
    destination: { service, port: PORT[service] },
    action: { method, path },
    context: { mtls: true, risk: int(3, 45), ...(extra.context ?? {}) },
    time: new Date(t).toISOString(),
  };
  events.push({
    t,
    request,
    userAgent: extra.ua ?? who.ua,
    via: service === 'api-gateway' ? 'ext_authz' : `proxy:${service}`,
  });
}

function credentialFor(who, t, extra) {
  if (who.cred === 'api-key') return { type: 'api-key', id: 'legacy-reporting-key', verified: true };
  if (who === ID.deployer) {
    const current = t >= Date.UTC(2026, 10, 10, 8);
    return {
      type: 'jwt-svid',
      id: current ? 'jwt-deployer-7c1e' : 'jwt-deployer-19d0',
      verified: true,
      issuedAt: new Date(current ? Date.UTC(2026, 10, 10, 8) : Date.UTC(2026, 9, 20, 8)).toISOString(),
      expiresAt: new Date(current ? Date.UTC(2026, 11, 10, 8) : Date.UTC(2026, 10, 19, 8)).toISOString(),
    };
  }
  const ttl = who.cred === 'jwt' ? 10 * MIN : 60 * MIN;
  const issued = t - (extra.fresh ? int(10, 120) * 1000 : int(1, ttl / 1000 - 60) * 1000);
  return {
    type: who.cred === 'jwt' ? 'jwt-svid' : 'x509-svid',
    id: `${who.cred === 'jwt' ? 'jwt' : 'x509'}-${who.id.split('/').pop()}-${Math.floor(issued / ttl)
      .toString(16)
      .slice(-5)}`,
    verified: true,
    issuedAt: new Date(issued).toISOString(),
    expiresAt: new Date(issued + ttl).toISOString(),
  };
}

const anyTime = () => START + Math.floor(rand() * (END - START));
/** `n` calls spread over the whole window. */
const steady = (n, fn) => {
  for (let i = 0; i < n; i++) fn(anyTime());
};
/** Each day in the window, `perDay` calls between `from` and `to` hours (UTC). */
const daily = (from, to, perDay, fn, weekdaysOnly = false) => {
  for (let d = START; d < END; d += DAY) {
    const dow = new Date(d).getUTCDay();
    if (weekdaysOnly && (dow === 0 || dow === 6)) continue;
    for (let i = 0; i < perDay; i++) {
      const t = d + from * 3_600_000 + Math.floor(rand() * (to - from) * 3_600_000);
      if (t < END) fn(t);
    }
  }
};
const sku = () => `sku-${int(100, 999)}`;
const orderId = () => String(int(1000, 9999));

// ---- everyday traffic -------------------------------------------------------
steady(420, (t) => call(t, ID.gateway, 'orders', 'GET', `/orders/${orderId()}`));
steady(330, (t) =>
  rand() < 0.7
    ? call(t, ID.web, 'orders', 'GET', `/orders/${orderId()}`)
    : call(t, ID.web, 'orders', 'POST', '/orders'),
);
steady(200, (t) => call(t, ID.web, 'catalog', 'GET', `/products/${sku()}`));
steady(20, (t) => call(t, ID.web, 'metrics', 'POST', '/api/v1/write'));
steady(12, (t) => call(t, ID.web, 'secrets', 'GET', '/v1/secret/data/storefront/session-key'));
steady(160, (t) => call(t, ID.checkout, 'payments', 'POST', '/v1/charges'));
steady(7, (t) => call(t, ID.checkout, 'payments', 'POST', '/v1/charges', { context: { risk: int(81, 97) } }));
steady(70, (t) => call(t, ID.checkout, 'orders', 'POST', '/orders'));
steady(10, (t) => call(t, ID.checkout, 'secrets', 'GET', '/v1/secret/data/orders/payment-config'));
steady(70, (t) => call(t, ID.orders, 'payments', 'GET', `/v1/charges/ch_${orderId()}`));
steady(100, (t) => call(t, ID.orders, 'inventory', 'POST', `/stock/${sku()}/reserve`));
steady(130, (t) => call(t, ID.orders, 'orders-queue', 'PUBLISH', '/queues/orders'));
steady(12, (t) => call(t, ID.orders, 'secrets', 'GET', '/v1/secret/data/orders/db-password'));
steady(20, (t) => call(t, ID.orders, 'metrics', 'POST', '/api/v1/write'));
steady(130, (t) => call(t, ID.shipping, 'orders-queue', 'CONSUME', '/queues/orders'));
steady(130, (t) => call(t, ID.payments, 'ledger-db', 'POST', '/entries'));
steady(12, (t) => call(t, ID.payments, 'secrets', 'GET', '/v1/secret/data/payments/stripe-key'));
steady(20, (t) => call(t, ID.payments, 'metrics', 'POST', '/api/v1/write'));
daily(8, 20, 3, (t) => call(t, ID.refund, 'payments', 'POST', `/v1/charges/ch_${orderId()}/refund`));
daily(8, 20, 2, (t) => call(t, ID.refund, 'ledger-db', 'POST', '/entries'));
daily(2, 2.2, 10, (t) => call(t, ID.etl, 'ledger-db', 'GET', '/entries'));
daily(3, 3.1, 4, (t) => call(t, ID.backup, 'ledger-db', 'GET', '/snapshot'));
steady(70, (t) => call(t, ID.prometheus, 'metrics', 'POST', '/api/v1/write'));
steady(70, (t) => call(t, ID.search, 'catalog', 'GET', `/products/${sku()}`));
steady(55, (t) => call(t, ID.copilot, 'orders', 'GET', `/orders/${orderId()}`));
steady(35, (t) => call(t, ID.pricing, 'catalog', 'GET', `/products/${sku()}`));
steady(20, (t) =>
  call(t, ID.pricing, 'catalog', 'PATCH', `/products/${sku()}/price`, {
    fresh: true,
    context: { approval: 'human-approved' },
  }),
);
call(START + 5 * DAY + 3 * 3_600_000, ID.pricing, 'catalog', 'GET', '/admin/users');
call(START + 9 * DAY + 4 * 3_600_000, ID.pricing, 'catalog', 'GET', '/admin/config');
steady(100, (t) => call(t, ID.historian, 'plc-gateway', 'GET', `/registers/${int(40001, 40099)}`));
daily(
  9,
  18,
  4,
  (t) => call(t, ID.ciMain, 'artifact-registry', 'PUT', `/v2/shop/manifests/1.4.${int(1, 60)}`),
  true,
);
daily(
  9,
  18,
  4,
  (t) => call(t, ID.ciMain, 'artifact-registry', 'GET', `/v2/shop/blobs/sha256-${int(1e5, 9e5)}`),
  true,
);
daily(9, 18, 1, (t) => call(t, ID.ciMain, 'secrets', 'GET', '/v1/secret/data/platform/registry-token'), true);
daily(
  9,
  18,
  4,
  (t) => call(t, ID.ciFeature, 'artifact-registry', 'GET', `/v2/shop/blobs/sha256-${int(1e5, 9e5)}`),
  true,
);
daily(
  9,
  18,
  1,
  (t) => call(t, ID.ciFeature, 'artifact-registry', 'PUT', `/v2/shop/manifests/feature-${int(1, 99)}`),
  true,
);
steady(55, (t) => call(t, ID.partner, 'api-gateway', 'GET', `/track/PX-${int(1000, 9999)}`));
steady(12, (t) => call(t, ID.crm, 'metrics', 'POST', '/api/v1/write'));

// ---- what the walk-through finds --------------------------------------------

// The deployer at work: a few deploys a weekday from CI...
daily(
  10,
  17,
  2,
  (t) =>
    call(
      t,
      ID.deployer,
      'secrets',
      'GET',
      pick(['/v1/secret/data/payments/stripe-key', '/v1/secret/data/orders/db-password']),
    ),
  true,
);
daily(
  10,
  17,
  2,
  (t) => call(t, ID.deployer, 'artifact-registry', 'GET', `/v2/shop/manifests/1.4.${int(1, 60)}`),
  true,
);
// ...and a person using its token from the bastion: bursts in office hours, curl and a browser, probing.
const PROBES = [
  ['secrets', 'GET', '/v1/secret/data/payments/stripe-key'],
  ['secrets', 'GET', '/v1/secret/data/orders/db-password'],
  ['secrets', 'GET', '/v1/secret/data/platform/root-token'],
  ['secrets', 'GET', '/v1/secret/data/data/ledger-admin'],
  ['secrets', 'GET', '/v1/secret/metadata/payments'],
  ['secrets', 'GET', '/v1/sys/mounts'],
  ['secrets', 'GET', '/v1/sys/policies/acl'],
  ['secrets', 'LIST', '/v1/secret/metadata'],
  ['secrets', 'GET', '/v1/auth/token/lookup-self'],
  ['payments', 'GET', '/v1/charges'],
  ['ledger-db', 'GET', '/entries'],
];
for (const day of [1, 2, 4, 8, 10, 11]) {
  let t = START + day * DAY + int(9 * 60 + 30, 16 * 60) * MIN;
  const n = int(6, 13);
  const ua =
    rand() < 0.5 ? 'curl/8.5.0' : 'Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0';
  for (let i = 0; i < n; i++) {
    const [service, method, path] = pick(PROBES);
    call(t, ID.deployer, service, method, path, { ip: '10.50.0.5', ua });
    t += int(4, 90) * 1000;
  }
}

// A dev load tester run from production addresses, and from dev straight at production.
for (const day of [3, 9]) {
  let t = START + day * DAY + 14 * 3_600_000;
  for (let i = 0; i < 15; i++) {
    call(t, ID.loadTester, 'orders', 'GET', `/orders/${orderId()}`, { ip: `10.10.60.${int(2, 20)}` });
    t += int(1, 20) * 1000;
  }
}
for (const day of [5, 12]) {
  let t = START + day * DAY + 15 * 3_600_000;
  for (let i = 0; i < 12; i++) {
    call(t, ID.loadTester, 'orders', 'GET', '/orders');
    t += int(1, 15) * 1000;
  }
}
steady(14, (t) => call(t, ID.devWeb, 'metrics', 'POST', '/api/v1/write'));

// The legacy key: one secret shared by scripts on many hosts, including web's and the bastion.
const LEGACY_IPS = [
  ...Array.from({ length: 11 }, (_, i) => `10.10.50.${10 + i}`),
  '10.10.1.5',
  '10.10.1.9',
  '10.50.0.5',
];
daily(5.5, 7, 2, (t) => call(t, ID.legacy, 'inventory', 'GET', `/stock/${sku()}`, { ip: pick(LEGACY_IPS) }));
steady(8, (t) =>
  call(t, ID.legacy, 'payments', 'GET', `/v1/charges/ch_${orderId()}`, { ip: pick(LEGACY_IPS) }),
);
steady(6, (t) => call(t, ID.legacy, 'metrics', 'POST', '/api/v1/write', { ip: pick(LEGACY_IPS) }));

// Recommendations was disabled on 2026-11-15 09:30 but keeps calling the catalog.
steady(45, (t) => call(t, ID.reco, 'catalog', 'GET', `/products/${sku()}`));

// Denied crossings: the plant gateway reaching into production, the catalog probing payments.
for (const day of [2, 6, 13]) {
  call(START + day * DAY + 3 * 3_600_000 + int(0, 600) * 1000, ID.plc, 'orders', 'GET', '/orders');
  call(START + day * DAY + 3 * 3_600_000 + int(601, 1200) * 1000, ID.plc, 'orders', 'GET', '/admin');
}
for (const day of [7, 7, 11])
  call(START + day * DAY + int(1, 23) * 3_600_000, ID.catalog, 'payments', 'GET', '/v1/charges/1');

// The CRM connector tries secrets its label lets it near.
steady(4, (t) => call(t, ID.crm, 'secrets', 'GET', '/v1/secret/data/sales/crm-token'));

// A canary of web nobody registered, labelled by its sidecar.
steady(14, (t) =>
  call(t, ID.canary, 'catalog', 'GET', `/products/${sku()}`, { labels: { app: 'web', env: 'prod' } }),
);

// ---- decide and log ----------------------------------------------------------
events.sort((a, b) => a.t - b.t);
const policyDir = join(ROOT, 'examples/acme/policy');
const sources = readdirSync(policyDir)
  .filter((f) => /\.ya?ml$/.test(f))
  .sort()
  .map((f) => ({ file: `examples/acme/policy/${f}`, text: readFileSync(join(policyDir, f), 'utf8') }));
const engine = compilePolicy(parsePolicy(sources), { clock: { now: () => END }, ids: false });
const chain = new ChainWriter();
const lines = [];
const hex = () =>
  Math.floor(rand() * 2 ** 32)
    .toString(16)
    .padStart(8, '0');
for (const e of events) {
  const decision = engine.decide(e.request);
  const body = recordFromDecision(e.request, decision, {
    decisionId: `${hex()}${hex()}`,
    time: new Date(e.t).toISOString(),
    via: e.via,
    latencyMicros: int(6, 60),
  });
  lines.push(JSON.stringify(chain.append({ ...body, userAgent: e.userAgent })));
}
writeFileSync(out, lines.join('\n') + '\n');
process.stderr.write(
  `gen-acme-decisions: ${lines.length} records, ${events[0] && new Date(events[0].t).toISOString()} … ${new Date(events.at(-1).t).toISOString()} -> ${out}\n`,
);
