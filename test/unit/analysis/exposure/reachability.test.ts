/**
 * Reachability against the engine itself: on small random policies, for
 * every identity, source zone, service, port and action of a small universe,
 * what reachability says (allow, conditional, deny) must match what
 * `decide` answers — allowed when the conditions hold, and allowed even when
 * they do not only if reachability called it unconditional.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { Reachability, reachVerdict } from '../../../../src/core/analysis/exposure/index.js';
import { compilePolicy } from '../../../../src/index.js';
import { parsePolicy } from '../../../../src/core/policy/index.js';
import { fixedClock } from '../../../../src/core/ports.js';

const NOW = Date.parse('2026-06-15T10:00:00Z');
const ZONES = { z1: '10.1.0.0/16', z2: '10.2.0.0/16', z3: '10.3.0.0/16' };
const IP: Record<string, string> = { z1: '10.1.0.1', z2: '10.2.0.1', z3: '10.3.0.1', unknown: '192.0.2.1' };
const IDS = [
  { spiffeId: 'spiffe://t.org/a', labels: { team: 'red', env: 'prod' } },
  { spiffeId: 'spiffe://t.org/b', labels: { team: 'blue', env: 'prod' } },
  { spiffeId: 'spiffe://t.org/ns/c', labels: { team: 'red', env: 'dev' } },
];
const SERVICES = ['s1', 's2', 's3'];
const PORTS = [80, 443, 8080];
const ACTIONS = [
  { method: 'GET', path: '/a/x' },
  { method: 'POST', path: '/b' },
  { method: 'GET', path: '/b' },
  { method: 'DELETE', path: '/c' },
];

const zoneSet = fc.oneof(
  fc.constant('*' as const),
  fc.subarray(['z1', 'z2', 'z3', 'unknown'], { minLength: 1 }),
);
const term = fc
  .record(
    {
      spiffeId: fc.constantFrom(
        'spiffe://t.org/a',
        'spiffe://t.org/b',
        'spiffe://t.org/ns/**',
        'spiffe://t.org/*',
      ),
      labels: fc.constantFrom({ team: 'red' }, { env: 'prod' }, { team: 'blue', env: 'prod' }),
      zones: fc.subarray(['z1', 'z2', 'z3', 'unknown'], { minLength: 1 }),
      not: fc.constantFrom({ labels: { env: 'dev' } }, { spiffeId: 'spiffe://t.org/b' }),
    },
    { requiredKeys: [] },
  )
  .filter((t) => Object.keys(t).length > 0);
const selector = fc.oneof(
  { weight: 1, arbitrary: fc.constant('*' as const) },
  { weight: 5, arbitrary: fc.array(term, { minLength: 1, maxLength: 2 }) },
);
const target = fc.record(
  {
    services: fc.oneof(fc.constant('*' as const), fc.subarray(SERVICES, { minLength: 1 })),
    ports: fc.constantFrom([80], [443], ['8000-8100'], '*' as const),
  },
  { requiredKeys: ['services'] },
);
const actions = fc.oneof(
  fc.constant(undefined),
  fc.array(
    fc.constantFrom<Record<string, unknown>>(
      { methods: ['GET'] },
      { paths: ['/a/**'] },
      { methods: ['POST'], paths: ['/b'] },
      { methods: ['GET', 'DELETE'] },
      {},
    ),
    { minLength: 1, maxLength: 2 },
  ),
);

const policyArb = fc
  .record({
    open: fc.record({ zones: fc.boolean(), flows: fc.boolean() }),
    modes: fc.tuple(...SERVICES.map(() => fc.constantFrom('enforce', 'enforce', 'observe'))),
    segmentation: fc.array(
      fc.record({ effect: fc.constantFrom('allow', 'allow', 'deny'), from: zoneSet, to: zoneSet }),
      { maxLength: 4 },
    ),
    flows: fc.array(
      fc.record({ effect: fc.constantFrom('allow', 'allow', 'deny'), from: selector, to: target }),
      { maxLength: 4 },
    ),
    permissions: fc.array(
      fc.record({
        effect: fc.constantFrom('allow', 'allow', 'deny'),
        from: selector,
        to: target,
        actions,
        conditional: fc.boolean(),
        expired: fc.boolean(),
      }),
      { maxLength: 5 },
    ),
  })
  .map((p) => ({
    apiVersion: 'gatehouse.dev/v1',
    trustDomain: 't.org',
    zones: Object.fromEntries(Object.entries(ZONES).map(([z, c]) => [z, { cidrs: [c] }])),
    services: {
      s1: { zone: 'z1', ports: [80], mode: p.modes[0] },
      s2: { zone: 'z2', ports: [80, 443], mode: p.modes[1] },
      s3: { zone: 'z3', mode: p.modes[2] },
    },
    // Often one wide-open layer, so that the other layers decide and allows are common.
    segmentation: [
      ...(p.open.zones ? [{ id: 'seg-open', effect: 'allow', from: '*', to: '*' }] : []),
      ...p.segmentation.map((r, i) => ({ id: `seg${i}`, ...r })),
    ],
    flows: [
      ...(p.open.flows ? [{ id: 'flow-open', effect: 'allow', from: '*', to: { services: '*' } }] : []),
      ...p.flows.map((r, i) => ({ id: `flow${i}`, ...r })),
    ],
    permissions: p.permissions.map(({ conditional, expired, actions: a, ...r }, i) => ({
      id: `perm${i}`,
      ...r,
      ...(a ? { actions: a } : {}),
      ...(conditional ? { when: r.effect === 'allow' ? 'context.ok == true' : 'context.bad == true' } : {}),
      ...(expired && i % 2 ? { expires: '2026-01-01' } : {}),
    })),
  }));

describe('reachability', () => {
  test('agrees with decide on every point of a small universe, on random policies', () => {
    const seen = { allow: 0, conditional: 0, deny: 0 };
    fc.assert(
      fc.property(policyArb, (doc) => {
        const policy = parsePolicy([{ file: 'random.yaml', text: JSON.stringify(doc) }]);
        const engine = compilePolicy(policy, { clock: fixedClock(NOW), ids: false });
        const reach = new Reachability(policy, NOW);
        for (const id of IDS) {
          for (const zone of Object.keys(IP)) {
            const r = reach.of({ spiffeId: id.spiffeId, labels: id.labels, zones: [zone] });
            for (const service of SERVICES) {
              const sr = r.services.find((s) => s.service === service);
              const svc = policy.services.find((s) => s.name === service);
              for (const port of PORTS) {
                for (const action of ACTIONS) {
                  const verdict = sr
                    ? reachVerdict(sr, svc, port, { ...action, operation: undefined })
                    : 'deny';
                  seen[verdict]++;
                  const ask = (context: Record<string, unknown>) =>
                    engine.decide({
                      source: { spiffeId: id.spiffeId, ip: IP[zone]!, labels: id.labels },
                      credential: { type: 'x509-svid', verified: true },
                      destination: { service, port },
                      action,
                      context,
                      time: new Date(NOW).toISOString(),
                    }).decision;
                  const where = `${id.spiffeId} from ${zone} to ${service}:${port} ${action.method} ${action.path}`;
                  assert.equal(
                    ask({ ok: true, bad: false }) === 'allow',
                    verdict !== 'deny',
                    `${where}: ${verdict}`,
                  );
                  assert.equal(
                    ask({ ok: false, bad: true }) === 'allow',
                    verdict === 'allow',
                    `${where}: ${verdict}`,
                  );
                }
              }
            }
          }
        }
      }),
      { numRuns: 120, seed: 20261122 },
    );
    // Not vacuous: every kind of answer came up many times.
    for (const [k, n] of Object.entries(seen)) assert.ok(n > 500, `${k}: ${n}`);
  });

  test('a conditional allow is reported with its condition, not dropped', () => {
    const policy = parsePolicy(
      [
        'apiVersion: gatehouse.dev/v1',
        'trustDomain: t.org',
        'zones: { z: { cidrs: [10.0.0.0/8] } }',
        'services: { api: { zone: z, ports: [443] } }',
        'segmentation: [{ id: s, effect: allow, from: [z], to: [z] }]',
        'flows: [{ id: f, effect: allow, from: "*", to: { service: api } }]',
        'permissions: [{ id: p, effect: allow, from: "*", to: { service: api }, when: "context.mtls == true" }]',
      ].join('\n'),
    );
    const r = new Reachability(policy, NOW).of({ spiffeId: 'spiffe://t.org/x', labels: {}, zones: ['z'] });
    assert.equal(r.services.length, 1);
    assert.equal(r.services[0]!.conditional, true);
    assert.equal(r.services[0]!.grants[0]!.when, 'context.mtls == true');
    assert.deepEqual(r.services[0]!.zone.rules, ['s']);
    assert.deepEqual(r.services[0]!.flowRules, ['f']);
  });

  test('what unconditional denies forbid together is not reached: ports, methods and a catch-all path', () => {
    const policy = parsePolicy(
      [
        'apiVersion: gatehouse.dev/v1',
        'trustDomain: t.org',
        'zones: { z: { cidrs: [10.0.0.0/8] } }',
        'services:',
        '  s1: { zone: z, ports: [443, 8443] }',
        '  s2: { zone: z, ports: [443] }',
        '  s3: { zone: z, ports: [443] }',
        '  s4: { zone: z, ports: [443] }',
        'segmentation: [{ id: seg, effect: allow, from: [z], to: [z] }]',
        'flows: [{ id: f, effect: allow, from: "*", to: { services: "*" } }]',
        'permissions:',
        '  - { id: p1, effect: allow, from: "*", to: { service: s1 } }',
        '  - { id: d1, effect: deny, from: "*", to: { service: s1, ports: [443] } }',
        '  - { id: p2, effect: allow, from: "*", to: { service: s2 }, actions: [{ methods: [GET, POST] }] }',
        '  - { id: d2-get, effect: deny, from: "*", to: { service: s2 }, actions: [{ methods: [GET] }] }',
        '  - { id: d2-post, effect: deny, from: "*", to: { service: s2 }, actions: [{ methods: [POST] }] }',
        '  - id: p3',
        '    effect: allow',
        '    from: "*"',
        '    to: { service: s3 }',
        "    actions: [{ methods: [GET], paths: ['/a/**'] }, { methods: [PUT], prefixes: [/a/b] }]",
        "  - { id: d3, effect: deny, from: '*', to: { service: s3 }, actions: [{ paths: ['/**'] }] }",
        // A deny on paths does not cover an allow of one method on any path (requests without a path).
        '  - { id: p4, effect: allow, from: "*", to: { service: s4 }, actions: [{ methods: [GET] }] }',
        "  - { id: d4, effect: deny, from: '*', to: { service: s4 }, actions: [{ paths: ['/**'] }] }",
      ].join('\n'),
    );
    const r = new Reachability(policy, NOW).of({ spiffeId: 'spiffe://t.org/x', labels: {}, zones: ['z'] });
    const allowed = r.services.filter((s) => s.allowedByPolicy);
    assert.deepEqual(
      allowed.map((s) => s.service),
      ['s1', 's4'],
    );
    assert.deepEqual(allowed[0]!.grants[0]!.ports, [{ from: 8443, to: 8443 }]);
    const engine = compilePolicy(policy, { clock: fixedClock(NOW), ids: false });
    const decide = (service: string, port: number, method: string, path: string) =>
      engine.decide({
        source: { spiffeId: 'spiffe://t.org/x', ip: '10.0.0.1' },
        credential: { type: 'x509-svid', verified: true },
        destination: { service, port },
        action: { method, path },
        time: new Date(NOW).toISOString(),
      }).decision;
    assert.equal(decide('s1', 443, 'GET', '/'), 'deny');
    assert.equal(decide('s1', 8443, 'GET', '/'), 'allow');
    assert.equal(decide('s2', 443, 'GET', '/'), 'deny');
    assert.equal(decide('s2', 443, 'POST', '/'), 'deny');
    assert.equal(decide('s3', 443, 'GET', '/a/x'), 'deny');
    assert.equal(decide('s3', 443, 'PUT', '/a/bc'), 'deny');
  });
});
