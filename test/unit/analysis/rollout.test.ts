/**
 * Rollout analysis: path templates, the dependency map and its renderers,
 * replay (grouping and folding checked against deciding every flow one by
 * one), simulate's coverage, breaks, newly allowed flows and promotion
 * verdicts, suggest (checked and replayed at 100 % of its input, also on
 * random traffic), and assess's next steps.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  createFlowFormatParser,
  EndpointResolver,
  formatFlowRecord,
  ingestFlowLines,
  type FlowRecord,
} from '../../../src/core/analysis/flows/index.js';
import {
  assess,
  buildDependencyMap,
  dependencyMapDot,
  dependencyMapMermaid,
  FlowGroups,
  isIdSegment,
  PathTemplates,
  PolicyReplayer,
  simulate,
  suggestPolicy,
  templatePath,
} from '../../../src/core/analysis/rollout/index.js';
import type { InventorySnapshot } from '../../../src/core/identity/inventory.js';
import { checkPolicy, compileValidatedPolicy, parsePolicy } from '../../../src/core/policy/index.js';
import { fixedClock } from '../../../src/core/ports.js';
import { golden } from '../../support/cli-run.js';

const NOW = Date.parse('2026-11-23T06:00:00Z');
const TD = 'shop.example';
const id = (path: string) => `spiffe://${TD}${path}`;
const WEB = id('/ns/shop/sa/web');
const CHECKOUT = id('/ns/shop/sa/checkout');
const ORDERS = id('/ns/shop/sa/orders');
const REFUNDS = id('/ns/pay/sa/refund-worker');
const TESTER = id('/ns/dev/sa/load-tester');
const AGENT = id('/agents/pricing');

const BASE = `
apiVersion: gatehouse.dev/v1
trustDomain: ${TD}
zones:
  prod: { cidrs: [10.10.0.0/16] }
  data: { cidrs: [10.11.0.0/16] }
  dev: { cidrs: [10.30.0.0/16] }
services:
  orders: { zone: prod, ports: [8443], spiffeId: ${ORDERS}, owner: team-orders, mode: enforce }
  payments: { zone: prod, ports: [8443], spiffeId: ${id('/ns/pay/sa/payments')}, mode: observe }
  db: { zone: data, ports: [5432], owner: team-data, mode: simulate }
  ledger: { zone: prod, ports: [8443], owner: team-finance, mode: observe }
workloads:
  - { spiffeId: ${WEB}, labels: { env: prod } }
  - { spiffeId: ${CHECKOUT}, labels: { env: prod } }
  - { spiffeId: ${REFUNDS}, labels: { env: prod } }
  - { spiffeId: ${AGENT}, labels: { env: prod } }
  - { spiffeId: ${TESTER}, labels: { env: dev } }
segmentation:
  - { id: seg-prod, effect: allow, from: [prod], to: [prod, data], owner: netsec, reviewBy: 2027-06-01 }
  - { id: seg-no-dev, effect: deny, from: [dev], to: [prod, data], owner: netsec, reviewBy: 2027-06-01 }
flows:
  - { id: flow-orders, effect: allow, from: [${WEB}, ${CHECKOUT}, ${TESTER}], to: { service: orders }, owner: team-orders, reviewBy: 2027-06-01 }
  - { id: flow-payments-interim, effect: allow, from: [{ labels: { env: prod } }], to: { service: payments }, owner: team-payments, reviewBy: 2027-06-01 }
  - { id: flow-db, effect: allow, from: [${ORDERS}], to: { service: db }, owner: team-data, reviewBy: 2027-06-01 }
permissions:
  - id: perm-web-orders
    effect: allow
    from: [${WEB}]
    to: { service: orders }
    actions: [{ methods: [GET], paths: ['/orders/{id}'] }]
    owner: team-orders
    reviewBy: 2027-06-01
  - id: perm-checkout-orders
    effect: allow
    from: [${CHECKOUT}]
    to: { service: orders }
    actions: [{ methods: [POST], paths: [/orders] }]
    owner: team-orders
    reviewBy: 2027-06-01
  - id: perm-payments-interim
    effect: allow
    from: [{ labels: { env: prod } }]
    to: { service: payments }
    actions: [{ paths: ['/**'] }]
    owner: team-payments
    reviewBy: 2027-06-01
`;
const base = parsePolicy(BASE);

/** The candidate: payments tightened and in simulate mode, without a rule for the refund worker. */
const candidate = parsePolicy(
  BASE.replace('mode: observe }\n  db:', 'mode: simulate }\n  db:')
    .replace(
      / {2}- \{ id: flow-payments-interim[^\n]*\n/,
      `  - { id: flow-payments, effect: allow, from: [${CHECKOUT}], to: { service: payments }, owner: team-payments, reviewBy: 2027-06-01 }
  - { id: flow-no-agents, effect: deny, from: [{ spiffeId: 'spiffe://${TD}/agents/**' }], to: { service: payments }, owner: secops, reviewBy: 2027-06-01 }\n`,
    )
    .replace(
      / {2}- id: perm-payments-interim[\s\S]*$/,
      `  - id: perm-checkout-charges
    effect: allow
    from: [${CHECKOUT}]
    to: { service: payments }
    actions: [{ methods: [POST], paths: [/v1/charges] }]
    owner: team-payments
    reviewBy: 2027-06-01
`,
    ),
);

let seq = 0;
function flow(
  source: FlowRecord['source'],
  destination: FlowRecord['destination'],
  action?: FlowRecord['action'],
  extra: Partial<FlowRecord> = {},
): FlowRecord {
  const time = new Date(Date.parse('2026-11-16T00:00:00Z') + (seq++ % 7) * 86_400_000).toISOString();
  const r: FlowRecord = { v: 1, time, source, destination, protocol: 'tcp', origin: 'gatehouse', ...extra };
  if (action) r.action = action;
  return r;
}

/** A week of traffic, resolved: web and checkout call orders, checkout and the refund worker call payments… */
function traffic(): FlowRecord[] {
  const out: FlowRecord[] = [];
  for (let i = 0; i < 20; i++) {
    out.push(
      flow(
        { ip: '10.10.1.10', spiffeId: WEB, zone: 'prod' },
        { service: 'orders', port: 8443, zone: 'prod' },
        { method: 'GET', path: `/orders/${1000 + i}` },
      ),
    );
    out.push(
      flow(
        { ip: '10.10.1.20', spiffeId: CHECKOUT, zone: 'prod' },
        { service: 'payments', port: 8443, zone: 'prod' },
        { method: 'POST', path: '/v1/charges' },
        { count: 3 },
      ),
    );
  }
  for (let i = 0; i < 5; i++) {
    out.push(
      flow(
        { ip: '10.10.1.30', spiffeId: REFUNDS, zone: 'prod' },
        { service: 'payments', port: 8443, zone: 'prod' },
        { method: 'POST', path: `/v1/refunds/${77 + i}` },
      ),
    );
  }
  out.push(
    flow(
      { ip: '10.10.1.20', spiffeId: CHECKOUT, zone: 'prod' },
      { service: 'orders', port: 8443, zone: 'prod' },
      { method: 'POST', path: '/orders' },
    ),
  );
  out.push(
    flow(
      { ip: '10.10.1.40', spiffeId: AGENT, zone: 'prod' },
      { service: 'payments', port: 8443, zone: 'prod' },
      { method: 'GET', path: '/admin/config' },
    ),
  );
  out.push(
    flow(
      { ip: '10.30.0.5', spiffeId: TESTER, zone: 'dev' },
      { service: 'orders', port: 8443, zone: 'prod' },
      { method: 'GET', path: '/orders/1' },
      { verdict: 'deny', count: 4 },
    ),
  );
  out.push(
    flow(
      { ip: '10.10.9.9', zone: 'prod' },
      { service: 'orders', port: 8443, zone: 'prod' },
      { method: 'GET', path: '/orders/5' },
    ),
  );
  // L4 only, as VPC flow logs see it.
  out.push(
    flow(
      { ip: '10.10.2.1', spiffeId: ORDERS, zone: 'prod' },
      { service: 'db', port: 5432, zone: 'data' },
      undefined,
      { count: 10 },
    ),
  );
  // To an endpoint that is no declared service.
  out.push(
    flow(
      { ip: '10.10.1.10', spiffeId: WEB, zone: 'prod' },
      { ip: '10.99.0.1', port: 53, zone: 'unknown' },
      undefined,
      { protocol: 'udp' },
    ),
  );
  return out;
}

describe('path templates', () => {
  test('values become variables, names stay', () => {
    const values = [
      '42',
      '0',
      '3f1c2b9e-2c4d-4f5e-9a1b-2c3d4e5f6a7b',
      'deadbeef01',
      '5f1e9c8a7b6d',
      'sku-1042',
      '2026-11-20',
      'ord_8f3k29',
      'PX-1001',
      'aB3dE5gH7jK9mN1pQ3sT5v',
      'a*b',
      '{x}',
    ];
    const names = [
      'orders',
      'v1',
      'v2.1',
      'sha256',
      'oauth2',
      'http2',
      'utf8',
      's3',
      'api',
      'me',
      'sku-1',
      'deadbeef',
      'lowercase-words-only-but-very-long',
    ];
    for (const v of values) assert.ok(isIdSegment(v), v);
    for (const n of names) assert.ok(!isIdSegment(n), n);
    assert.equal(templatePath('/orders/42/items/7'), '/orders/{id}/items/{id2}');
    assert.equal(templatePath('/v1/charges'), '/v1/charges');
  });

  test('a position with too many distinct names becomes a variable; the rest stays tight', () => {
    const t = new PathTemplates({ maxLiterals: 3 });
    for (const u of ['alice', 'bob', 'carol', 'dave']) t.add(templatePath(`/users/${u}/profile`));
    t.add('/users');
    t.add(templatePath('/orders/12'));
    assert.equal(t.templateOf('/users/alice/profile'), '/users/{id}/profile');
    assert.equal(t.templateOf('/users/zed/profile'), '/users/{id}/profile');
    assert.equal(t.templateOf('/users'), '/users');
    assert.equal(t.templateOf('/orders/{id}'), '/orders/{id}');
    assert.equal(t.templateOf('/other/thing'), '/other/thing');
  });
});

describe('dependency map', () => {
  const map = buildDependencyMap(base, traffic());

  test('who talks to whom, with templated actions, counts, first and last seen, zones crossed', () => {
    const edge = (from: string, to: string) => map.edges.find((e) => e.from === from && e.to === to)!;
    const web = edge(`wl:${WEB}`, 'svc:orders');
    assert.equal(web.flows, 20);
    assert.deepEqual(web.actions, [{ method: 'GET', path: '/orders/{id}', flows: 20 }]);
    assert.equal(web.firstSeen, '2026-11-16T00:00:00.000Z');
    assert.equal(web.crossesZones, false);
    const tester = edge(`wl:${TESTER}`, 'svc:orders');
    assert.equal(tester.crossesZones, true);
    assert.deepEqual(tester.verdicts, { allow: 0, deny: 4, unreported: 0 });
    // The orders service calls the database as itself: one node for both roles.
    assert.equal(edge('svc:orders', 'svc:db').flows, 10);
    assert.ok(map.nodes.some((n) => n.id === 'ip:10.10.9.9' && n.kind === 'unknown'));
    assert.ok(map.nodes.some((n) => n.id === 'ip:10.99.0.1' && n.kind === 'unknown'));
    assert.equal(map.totals.unknownSources, 1);
    assert.equal(map.totals.unknownDestinations, 1);
  });

  test('--service keeps the edges into and out of a service', () => {
    const only = buildDependencyMap(base, traffic(), { services: ['db'] });
    assert.deepEqual(
      only.edges.map((e) => `${e.from} > ${e.to}`),
      ['svc:orders > svc:db'],
    );
    const orders = buildDependencyMap(base, traffic(), { services: ['orders'] });
    assert.ok(orders.edges.some((e) => e.from === 'svc:orders'));
  });

  test('Graphviz DOT and Mermaid renderings (golden)', () => {
    golden('rollout-map.dot', dependencyMapDot(map));
    golden('rollout-map.mmd', dependencyMapMermaid(map));
  });
});

describe('a service name the policy does not declare', () => {
  // Traffic to a declared service, to a name the policy does not declare, and to a bare address.
  const lines = [
    flow(
      { ip: '10.10.1.10', spiffeId: WEB },
      { service: 'orders', port: 8443 },
      { method: 'GET', path: '/orders/1' },
    ),
    flow({ ip: '10.10.1.10', spiffeId: WEB }, { service: 'ghost', port: 8443, ip: '10.11.0.9' }, undefined, {
      count: 2,
    }),
    flow({ ip: '10.10.1.10', spiffeId: WEB }, { ip: '10.99.0.1', port: 53 }, undefined, { protocol: 'udp' }),
  ].map(formatFlowRecord);
  const { records, report } = ingestFlowLines(lines, createFlowFormatParser(), {
    resolver: new EndpointResolver(base),
  });

  test('is an undeclared destination of the map, drawn as one, its name kept', () => {
    const map = buildDependencyMap(base, records);
    assert.equal(map.totals.services, 1);
    assert.equal(map.totals.unknownDestinations, 2);
    const ghost = map.nodes.find((n) => n.id === 'svc:ghost')!;
    assert.equal(ghost.kind, 'unknown');
    assert.equal(ghost.label, 'unknown service ghost');
    assert.equal(ghost.service, 'ghost');
    // Placed by its address, as other undeclared endpoints are.
    assert.equal(ghost.zone, 'data');
    assert.match(dependencyMapMermaid(map), /\(\["unknown service ghost"\]\)/);
    assert.match(dependencyMapDot(map), /"svc:ghost" \[label="unknown service ghost", [^\]]*style=dashed/);
  });

  test('ingest, map, simulate, suggest and assess count the same flows as reaching no declared service', () => {
    const map = buildDependencyMap(base, records);
    const sim = simulate(records, { candidate: base, now: NOW });
    assert.equal(report.unknownDestinations, 2);
    assert.equal(map.totals.unknownDestinations, report.unknownDestinations);
    assert.equal(sim.totals.notReplayed, 3);
    assert.equal(sim.totals.replayed, 1);
    const suggestion = suggestPolicy(records, { base, now: NOW });
    assert.deepEqual(
      suggestion.services.map((s) => s.service),
      ['orders'],
    );
    const readiness = assess(records, { policy: base, now: NOW });
    assert.ok(!readiness.services.some((s) => s.service === 'ghost'));
  });
});

describe('replay', () => {
  test('identical flows are grouped; value segments fold only where no rule can tell them apart', () => {
    const groups = new FlowGroups([base]);
    for (const r of traffic()) groups.add(r);
    const web = groups.groups().filter((g) => g.spiffeId === WEB && g.service === 'orders');
    assert.equal(web.length, 1);
    assert.equal(web[0]!.path, '/orders/{id}');
    assert.equal(web[0]!.flows, 20);
    assert.equal(groups.unattributed.flows, 1);
    // A rule naming a value keeps that value apart.
    const named = parsePolicy(
      BASE.replace("paths: ['/orders/{id}']", "paths: ['/orders/{id}', /orders/1005]"),
    );
    const g2 = new FlowGroups([named]);
    for (const r of traffic()) g2.add(r);
    assert.ok(g2.groups().some((g) => g.path === '/orders/1005'));
  });

  test('grouped replay agrees with deciding every flow one by one (random paths and rules)', () => {
    const segment = fc.oneof(
      fc.constantFrom('orders', 'items', 'admin', 'v1', 'x'),
      fc.integer({ min: 0, max: 30 }).map(String),
      fc.constantFrom('sku-1001', 'sku-1002', '2026-11-20'),
    );
    const pathArb = fc.array(segment, { minLength: 1, maxLength: 4 }).map((s) => '/' + s.join('/'));
    const patternArb = fc
      .array(fc.oneof(segment, fc.constantFrom('*', '{id}', '**', 'o*')), { minLength: 1, maxLength: 4 })
      .map((s) => '/' + s.join('/'))
      .filter((p) => !/\*\*./.test(p));
    const ruleArb = fc.record({
      effect: fc.constantFrom('allow', 'allow', 'deny'),
      paths: fc.array(patternArb, { minLength: 1, maxLength: 2 }),
      prefixes: fc.array(
        fc.oneof(
          pathArb,
          pathArb.map((p) => p + '/'),
        ),
        { maxLength: 1 },
      ),
      when: fc.constantFrom(undefined, undefined, 'action.path.size() > 8'),
    });
    fc.assert(
      fc.property(
        fc.array(ruleArb, { minLength: 1, maxLength: 4 }),
        fc.array(pathArb, { minLength: 1, maxLength: 30 }),
        (rules, paths) => {
          const permissions = rules
            .map(
              (r, i) =>
                `  - id: p${i}\n    effect: ${r.effect}\n    from: '*'\n    to: { service: orders }\n    actions: [{ paths: ${JSON.stringify(r.paths)} }${r.prefixes.length ? `, { prefixes: ${JSON.stringify(r.prefixes)} }` : ''}]\n${r.when ? `    when: '${r.when}'\n` : ''}`,
            )
            .join('');
          const policy = parsePolicy(
            `apiVersion: gatehouse.dev/v1\ntrustDomain: ${TD}\nzones: { prod: { cidrs: [10.10.0.0/16] } }\nservices: { orders: { zone: prod, ports: [8443] } }\nsegmentation: [{ id: s, effect: allow, from: [prod], to: [prod] }]\nflows: [{ id: f, effect: allow, from: '*', to: { service: orders } }]\npermissions:\n${permissions}`,
          );
          const records = paths.map((p) =>
            flow(
              { ip: '10.10.1.1', spiffeId: WEB, zone: 'prod' },
              { service: 'orders', port: 8443 },
              { method: 'GET', path: p },
            ),
          );
          const groups = new FlowGroups([policy]);
          for (const r of records) groups.add(r);
          const replayer = new PolicyReplayer(policy, { now: NOW });
          let grouped = 0;
          for (const g of groups.groups()) if (replayer.judge(g).allowed) grouped += g.flows;
          const engine = compileValidatedPolicy(policy, { clock: fixedClock(NOW) });
          let oneByOne = 0;
          for (const r of records)
            if (
              engine.decide({
                source: { spiffeId: WEB, ip: '10.10.1.1' },
                credential: { type: 'x509-svid', verified: true },
                destination: { service: 'orders', port: 8443 },
                action: r.action!,
              }).decision === 'allow'
            )
              oneByOne++;
          assert.equal(grouped, oneByOne);
        },
      ),
      { numRuns: 150 },
    );
  });

  test('a caller seen in a zone without an address is replayed from that zone, even when nested zones hold both ends of its CIDR', () => {
    const policy = parsePolicy(
      `apiVersion: gatehouse.dev/v1\ntrustDomain: ${TD}\nzones:\n  prod: { cidrs: [10.0.0.0/8, '2001:db8::/32'] }\n  low: { cidrs: [10.0.0.0/16, '2001:db8::/48'] }\n  high: { cidrs: [10.255.0.0/16] }\nservices: { orders: { zone: prod, ports: [8443] } }\nsegmentation: [{ id: s, effect: allow, from: [prod], to: [prod] }]\nflows: [{ id: f, effect: allow, from: '*', to: { service: orders } }]\n`,
    );
    const groups = new FlowGroups([policy]);
    groups.add(flow({ spiffeId: WEB, zone: 'prod' }, { service: 'orders', port: 8443 }));
    const v = new PolicyReplayer(policy, { now: NOW }).judge(groups.groups()[0]!);
    assert.equal(v.sourceZone, 'prod');
    assert.equal(v.allowed, true);
  });
});

describe('simulate', () => {
  const report = simulate(traffic(), { candidate, current: base, now: NOW });

  test('coverage of the candidate and of the current policy', () => {
    assert.equal(report.totals.records, 51);
    assert.equal(report.totals.notReplayed, 1);
    assert.equal(report.totals.replayed, 20 + 60 + 5 + 1 + 1 + 4 + 1 + 10);
    assert.equal(report.candidate.allowed, 20 + 60 + 1 + 10);
    assert.equal(report.current!.allowed, 20 + 60 + 5 + 1 + 1 + 10);
    assert.ok(report.candidate.coverage! < report.current!.coverage!);
  });

  test('the exact flows it would break, grouped by service and missing rule, with a fix', () => {
    const refunds = report.breaks.find((b) => b.service === 'payments' && !b.intended)!;
    assert.equal(refunds.layer, 'flow');
    assert.equal(refunds.reason, 'default_deny');
    assert.equal(
      refunds.missing,
      'flow rule /ns/pay/sa/refund-worker → payments:8443 and a permission rule for POST /v1/refunds/{id}',
    );
    assert.equal(refunds.flows, 5);
    assert.deepEqual(refunds.callers, [REFUNDS]);
    assert.equal(refunds.examples.length, 1);
    assert.equal(refunds.examples[0]!.action!.path, '/v1/refunds/{id}');
    assert.equal(refunds.examples[0]!.current, 'allow');
    assert.deepEqual(refunds.fixes, [
      `{ id: flow-refund-worker-to-payments, effect: allow, from: [${REFUNDS}], to: { service: payments, ports: [8443] } }`,
      `{ id: perm-refund-worker-to-payments, effect: allow, from: [${REFUNDS}], to: { service: payments }, actions: [{ methods: [POST], paths: ['/v1/refunds/{id}'] }] }`,
    ]);
    const anonymous = report.breaks.find((b) => b.layer === 'credential')!;
    assert.equal(anonymous.service, 'orders');
    assert.match(anonymous.missing, /an identity for the caller/);
    assert.deepEqual(anonymous.callers, ['10.10.9.9']);
  });

  test('deny rules deny as intended; what is newly allowed; rule and mode changes', () => {
    const agent = report.breaks.find((b) => b.service === 'payments' && b.intended)!;
    assert.deepEqual(agent.rules, ['flow-no-agents']);
    const tester = report.breaks.find((b) => b.service === 'orders' && b.intended)!;
    assert.deepEqual(tester.rules, ['seg-no-dev']);
    assert.equal(tester.alreadyDenied, 4);
    assert.deepEqual(report.newlyAllowed, []);
    assert.deepEqual(report.ruleChanges, {
      added: ['flow-no-agents', 'flow-payments', 'perm-checkout-charges'],
      removed: ['flow-payments-interim', 'perm-payments-interim'],
      changed: [],
      modes: [{ service: 'payments', from: 'observe', to: 'simulate' }],
    });
    const reverse = simulate(traffic(), { candidate: base, current: candidate, now: NOW });
    const refunds = reverse.newlyAllowed.find((g) => g.service === 'payments')!;
    assert.deepEqual(refunds.callers, [AGENT, REFUNDS]);
    assert.deepEqual(refunds.rules, ['perm-payments-interim']);
  });

  test('a promotion verdict per service, and why', () => {
    const verdict = (s: string) => report.services.find((p) => p.service === s)!;
    assert.equal(verdict('payments').verdict, 'not-ready');
    assert.match(
      verdict('payments').reason,
      /^would break 5 flow\(s\) from 1 caller\(s\): missing flow rule \/ns\/pay\/sa\/refund-worker → payments:8443/,
    );
    assert.equal(verdict('orders').verdict, 'not-ready');
    assert.match(
      verdict('orders').reason,
      /missing an identity for the caller.*enforced now, so these are blocked/,
    );
    assert.equal(verdict('db').verdict, 'ready');
    assert.match(
      verdict('db').reason,
      /^ready for enforce: all 10 observed flow\(s\) from 1 caller\(s\) allowed; set `mode: enforce`$/,
    );
    assert.equal(verdict('ledger').verdict, 'no-traffic');
    // With the refund worker admitted, payments is ready; in enforce mode, it is enforced.
    const fixed = parsePolicy(
      BASE.replace('mode: observe }\n  db:', 'mode: enforce }\n  db:').replace(
        'flow-payments-interim, effect: allow, from: [{ labels: { env: prod } }]',
        `flow-payments-interim, effect: allow, from: [${CHECKOUT}, ${REFUNDS}]`,
      ),
    );
    const after = simulate(
      traffic().filter((r) => r.source.spiffeId !== AGENT),
      { candidate: fixed, current: base, now: NOW, services: ['payments'] },
    );
    assert.deepEqual(
      after.services.map((s) => [s.service, s.verdict]),
      [['payments', 'enforced']],
    );
    assert.equal(after.breaks.length, 0);
  });

  test('conditions see the context given; flows without an action skip the permission layer', () => {
    const conditional = parsePolicy(
      BASE.replace(
        "actions: [{ methods: [GET], paths: ['/orders/{id}'] }]",
        "actions: [{ methods: [GET], paths: ['/orders/{id}'] }]\n    when: context.mtls == true",
      ),
    );
    const web = traffic().filter((r) => r.source.spiffeId === WEB && r.destination.service === 'orders');
    const without = simulate(web, { candidate: conditional, now: NOW });
    assert.equal(without.candidate.allowed, 0);
    assert.match(
      without.breaks[0]!.missing,
      /a condition failed to evaluate: perm-web-orders: no such key: mtls/,
    );
    assert.equal(
      simulate(web, { candidate: conditional, now: NOW, context: { mtls: true } }).candidate.allowed,
      20,
    );
    const db = traffic().filter((r) => r.destination.service === 'db');
    assert.equal(simulate(db, { candidate: base, now: NOW }).candidate.allowed, 10);
  });
});

describe('suggest', () => {
  const inventory: InventorySnapshot = {
    entries: [
      {
        id: 'e1',
        spiffeId: id('/ns/pay/sa/payments'),
        kind: 'service',
        owner: 'team-payments',
        labels: {},
        attestation: [],
        status: 'active',
        createdAt: '2026-01-01T00:00:00.000Z',
        updatedAt: '2026-01-01T00:00:00.000Z',
      },
    ],
    credentials: [],
    grants: [],
    revocations: [],
  };
  const s = suggestPolicy(traffic(), { base, now: NOW, inventory });

  test('tight rules per caller with templates, owners from the inventory, review dates', () => {
    const perms = s.document.permissions as Record<string, unknown>[];
    const refunds = perms.find((r) => r.id === 'perm-refund-worker-to-payments')!;
    assert.deepEqual(refunds.actions, [{ methods: ['POST'], paths: ['/v1/refunds/{id}'] }]);
    assert.equal(refunds.owner, 'team-payments');
    assert.equal(refunds.reviewBy, '2027-02-21');
    const web = perms.find((r) => r.id === 'perm-web-to-orders')!;
    assert.deepEqual(web.actions, [{ methods: ['GET'], paths: ['/orders/{id}'] }]);
    assert.deepEqual(s.rules.replaced, [
      'flow-db',
      'flow-orders',
      'flow-payments-interim',
      'perm-checkout-orders',
      'perm-payments-interim',
      'perm-web-orders',
    ]);
    const flows = s.document.flows as Record<string, unknown>[];
    assert.deepEqual(flows.find((r) => r.id === 'flow-orders-to-db')!.to, { service: 'db', ports: [5432] });
    // The L4 caller of db gets a flow rule only.
    assert.ok(!perms.some((r) => r.id === 'perm-orders-to-db'));
  });

  test('a review date past the calendar is refused with a typed error, before anything is built', () => {
    for (const reviewDays of [1e9, 3_000_000, 0, 1.5])
      assert.throws(() => suggestPolicy(traffic(), { base, now: NOW, reviewDays }), {
        name: 'GatehouseError',
        code: 'request_invalid',
      });
  });

  test('what it leaves out, and why', () => {
    assert.deepEqual(
      s.excluded.map((e) => [e.service, e.reason, e.flows, e.callers]),
      [
        ['orders', 'denied-by-rule', 4, [TESTER]],
        ['orders', 'no-identity', 1, ['10.10.9.9']],
      ],
    );
  });

  test('it passes check and replays with 100 % coverage of the traffic it was built from', () => {
    assert.deepEqual(s.check.errors, []);
    assert.equal(s.coverage.coverage, 1);
    const policy = checkPolicy([{ file: 'suggested.yaml', text: s.yaml }], { now: NOW }).policy!;
    const included = traffic().filter((r) => r.source.spiffeId !== undefined && r.source.spiffeId !== TESTER);
    const replay = simulate(included, { candidate: policy, now: NOW });
    assert.equal(replay.candidate.coverage, 1);
    assert.equal(replay.breaks.length, 0);
  });

  test('on random traffic: it always passes check and allows 100 % of what it was built from', () => {
    const callers = [WEB, CHECKOUT, ORDERS, REFUNDS, id('/ci/github/shop/main')];
    const segment = fc.oneof(
      fc.constantFrom('orders', 'items', 'v1', 'charges', 'me'),
      fc.integer({ min: 1, max: 99999 }).map(String),
      fc.uuid(),
    );
    const recordArb = fc.record({
      caller: fc.constantFrom(...callers),
      ip: fc.constantFrom('10.10.1.1', '10.10.1.2', '10.11.0.3'),
      service: fc.constantFrom('orders', 'payments', 'db', 'ledger'),
      method: fc.constantFrom('GET', 'POST', 'DELETE', undefined),
      path: fc.option(
        fc.array(segment, { minLength: 1, maxLength: 4 }).map((x) => '/' + x.join('/')),
        { nil: undefined },
      ),
      count: fc.integer({ min: 1, max: 5 }),
    });
    const open = parsePolicy(BASE.replace(/ {2}- \{ id: seg-no-dev[^\n]*\n/, ''));
    fc.assert(
      fc.property(fc.array(recordArb, { minLength: 1, maxLength: 40 }), (xs) => {
        const records = xs.map((x) =>
          flow(
            { ip: x.ip, spiffeId: x.caller, zone: x.ip.startsWith('10.11') ? 'data' : 'prod' },
            { service: x.service, port: x.service === 'db' ? 5432 : 8443 },
            x.method || x.path
              ? { ...(x.method ? { method: x.method } : {}), ...(x.path ? { path: x.path } : {}) }
              : undefined,
            { count: x.count },
          ),
        );
        const suggestion = suggestPolicy(records, { base: open, now: NOW });
        assert.deepEqual(suggestion.check.errors, [], suggestion.yaml);
        assert.deepEqual(suggestion.excluded, []);
        const policy = checkPolicy([{ file: 's.yaml', text: suggestion.yaml }], { now: NOW }).policy!;
        const replay = simulate(records, { candidate: policy, now: NOW });
        assert.equal(replay.candidate.coverage, 1, JSON.stringify(replay.breaks.map((b) => b.missing)));
      }),
      { numRuns: 60 },
    );
  });
});

describe('assess', () => {
  const policy = parsePolicy(
    BASE.replace(
      '  dev: { cidrs: [10.30.0.0/16] }',
      '  dev: { cidrs: [10.30.0.0/16] }\n  shared: { cidrs: [10.20.0.0/16] }',
    )
      .replace(
        '  ledger: { zone: prod',
        '  legacy: { zone: shared, ports: [8080], owner: team-finance }\n  ledger: { zone: prod',
      )
      .replace(
        '  - { spiffeId: ${TESTER}, labels: { env: dev } }'.replace('${TESTER}', TESTER),
        `  - { spiffeId: ${TESTER}, labels: { env: dev } }\n  - { spiffeId: ${id('/ns/x/sa/legacy')}, labels: { env: prod } }\n  - { spiffeId: ${id('/ns/x/sa/wiki')}, labels: { env: test } }`,
      ),
  );
  const inventory: InventorySnapshot = {
    entries: [id('/ns/x/sa/legacy'), id('/ns/x/sa/wiki')].map((spiffeId, i) => ({
      id: `e${i}`,
      spiffeId,
      kind: 'service' as const,
      labels: {},
      zone: 'shared',
      attestation: [],
      status: 'active' as const,
      createdAt: '2026-01-01T00:00:00.000Z',
      updatedAt: '2026-01-01T00:00:00.000Z',
    })),
    credentials: [],
    grants: [],
    revocations: [],
  };
  const records = [
    ...traffic(),
    flow(
      { ip: '10.20.0.9', spiffeId: id('/ns/x/sa/wiki'), zone: 'shared' },
      { service: 'legacy', port: 8080 },
      { method: 'GET', path: '/x' },
    ),
  ];
  const report = assess(records, { policy, inventory, now: NOW });
  const step = (s: string) => report.services.find((r) => r.service === s)!;

  test('zones that mix environments come first', () => {
    assert.deepEqual(
      report.zones.filter((z) => z.mixed).map((z) => z.problem),
      ['zone `shared` mixes prod and non-prod workloads (1 prod, 1 non-prod)'],
    );
    assert.equal(step('legacy').nextStep, 'zone-first');
    assert.match(
      step('legacy').reason,
      /^zone `shared` mixes prod and non-prod workloads .*: separate the zones before microsegmenting$/,
    );
  });

  test('observe, microsegment, tighten identity, enforce, each with its reason', () => {
    assert.equal(step('ledger').nextStep, 'observe');
    assert.equal(step('orders').nextStep, 'microsegment');
    assert.match(
      step('orders').reason,
      /1 caller\(s\) have no identity \(10\.10\.9\.9\)|have no zone or flow rule/,
    );
    assert.equal(step('payments').nextStep, 'tighten-identity');
    assert.match(step('payments').reason, /`perm-payments-interim` allows every path/);
    assert.equal(step('payments').ownership.owned, false);
    assert.equal(step('db').nextStep, 'enforce');
    assert.match(step('db').reason, /set `mode: enforce`$/);
    assert.equal(step('db').dependencies.coverage, 1);
    const enforced = assess(
      traffic().filter((r) => r.destination.service === 'db'),
      { policy: parsePolicy(BASE.replace('mode: simulate', 'mode: enforce')), now: NOW, services: ['db'] },
    );
    assert.equal(enforced.services[0]!.nextStep, 'enforced');
  });
});
