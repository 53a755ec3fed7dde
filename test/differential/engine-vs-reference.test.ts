/**
 * Differential test: the compiled engine against the reference evaluator on
 * random policies and requests. Decisions, deciding layers and rules, every
 * layer's verdict and the condition failures must all agree.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { compilePolicy } from '../../src/index.js';
import type { Decision, DecisionRequest } from '../../src/core/decision/index.js';
import { policyDocumentFromObject, validatePolicy, type Policy } from '../../src/core/policy/index.js';
import { fixedClock } from '../../src/core/ports.js';
import { referenceDecide, type ReferenceDecision } from '../reference/evaluate.js';

const NOW = Date.parse('2026-06-15T10:30:00Z');
const TD = 'acme.corp';

const ZONE_POOL = {
  wide: ['10.0.0.0/8'],
  narrow: ['10.1.0.0/16', '10.1.2.0/24'],
  v6: ['2001:db8::/32', '::ffff:192.168.0.0/112'],
  host: ['10.2.3.4/32', '2001:db8:ffff::1/128'],
  other: ['172.16.0.0/12'],
};
const IPS = [
  '10.0.0.1',
  '10.1.0.1',
  '10.1.2.3',
  '10.2.3.4',
  '10.2.3.5',
  '172.16.5.5',
  '192.168.1.1',
  '::ffff:10.1.2.3',
  '::ffff:192.168.3.4',
  '2001:db8::1',
  '2001:db8:ffff::1',
  '2001:db9::1',
  '8.8.8.8',
  'not-an-ip',
  undefined,
];
const IDS = [
  `spiffe://${TD}/ns/a/sa/x`,
  `spiffe://${TD}/ns/a/sa/y`,
  `spiffe://${TD}/ns/b/sa/x`,
  `spiffe://${TD}/ns/b/sa/z`,
  `spiffe://${TD}/ci/build`,
  `spiffe://${TD}/ns/a`,
  `spiffe://${TD}`,
  `spiffe://${TD}/ns/c/sa/ghost`,
  'spiffe://partner.example/ns/a/sa/x',
  'spiffe://evil.example/ns/a/sa/x',
  'spiffe://ACME.corp/ns/a/sa/x',
  'not-a-spiffe-id',
];
const ID_PATTERNS = [
  ...IDS.slice(0, 6),
  `spiffe://${TD}/ns/a/**`,
  `spiffe://${TD}/ns/*/sa/x`,
  `spiffe://${TD}/**`,
  `spiffe://${TD}/ns/{ns}/sa/*`,
  `spiffe://${TD}/ns/b/sa/*`,
  'spiffe://partner.example/**',
  `spiffe://${TD}/ci/b*`,
];
const LABELS = { env: ['prod', 'dev'], team: ['red', 'blue'], tier: ['web'] };
const PATHS = [
  '/',
  '/a',
  '/a/b',
  '/a/b/c',
  '/orders',
  '/orders/1',
  '/orders/1/items',
  '/ordersX',
  '/admin',
  '/a/../admin',
  '//admin',
  '/%61dmin',
  '/x%2fy',
  '/a/./b',
  '/orders/',
  '/../x',
];
const PATH_PATTERNS = [
  '/a',
  '/a/**',
  '/orders/{id}',
  '/orders/*/items',
  '/orders/**',
  '/**',
  '/*',
  '/ad*',
  '/orders',
];
const PREFIXES = ['/', '/a', '/orders', '/admin', '/orders/'];
const METHODS = ['GET', 'POST', 'DELETE', 'get'];
const CONDITIONS = [
  'context.mtls == true',
  'context.risk < 50',
  'context.risk >= 80',
  'context.missing == 1',
  'source.labels.env == "prod"',
  'destination.port == 443',
  'action.method == "GET"',
  'credential.ageSeconds < 100.0',
  'time.getHours() >= 9',
  'context.mtls || context.risk < 10',
  'source.zone == "wide"',
  '"admin" in context',
];

const labelsArb = fc.record(
  {
    env: fc.constantFrom(...LABELS.env),
    team: fc.constantFrom(...LABELS.team),
    tier: fc.constantFrom(...LABELS.tier),
  },
  { requiredKeys: [] },
);
const nonEmptyLabels = labelsArb.filter((l) => Object.keys(l).length > 0);
const zoneNames = Object.keys(ZONE_POOL);

const termArb: fc.Arbitrary<Record<string, unknown>> = fc
  .record(
    {
      spiffeId: fc.constantFrom(...ID_PATTERNS),
      labels: nonEmptyLabels,
      zones: fc.subarray([...zoneNames, 'unknown'], { minLength: 1 }),
      not: fc
        .record({ spiffeId: fc.constantFrom(...ID_PATTERNS), labels: nonEmptyLabels }, { requiredKeys: [] })
        .filter((t) => Object.keys(t).length > 0),
    },
    { requiredKeys: [] },
  )
  .filter((t) => Object.keys(t).length > 0);
const selectorArb = fc.oneof(
  { weight: 1, arbitrary: fc.constant('*') },
  { weight: 6, arbitrary: fc.array(termArb, { minLength: 1, maxLength: 3 }) },
);
const portsArb = fc.oneof(
  fc.constant('*'),
  fc.constant([443]),
  fc.constant([80, '8000-8100']),
  fc.constant([8080]),
);
const expiresArb = fc.option(fc.constantFrom('2026-01-01T00:00:00Z', '2027-01-01', '2026-06-15T10:30:00Z'), {
  nil: undefined,
});

function policyArb(): fc.Arbitrary<Record<string, unknown>> {
  const services = ['svc-a', 'svc-b', 'svc-c'];
  const targetArb = fc.record(
    {
      services: fc.oneof(
        { weight: 1, arbitrary: fc.constant('*' as const) },
        { weight: 5, arbitrary: fc.subarray(services, { minLength: 1 }) },
      ),
      ports: fc.option(portsArb, { nil: undefined }),
    },
    { requiredKeys: ['services'] },
  );
  const actionArb = fc.oneof(
    fc.record(
      {
        methods: fc.oneof(fc.constant('*'), fc.subarray(['GET', 'POST', 'DELETE'], { minLength: 1 })),
        paths: fc.subarray(PATH_PATTERNS, { minLength: 1 }),
        prefixes: fc.subarray(PREFIXES, { minLength: 1 }),
      },
      { requiredKeys: [] },
    ),
    fc.record({ operations: fc.constant(['read']) }),
    // Plain actions (methods and prefixes only), which the engine reads in place.
    fc.record({
      methods: fc.oneof(fc.constant('*'), fc.subarray(['GET', 'POST', 'DELETE'], { minLength: 1 })),
      prefixes: fc.subarray(PREFIXES, { minLength: 1 }),
    }),
  );
  const effectArb = fc.constantFrom('allow', 'allow', 'deny');
  const zoneRule = fc.record({
    effect: effectArb,
    from: fc.oneof(fc.constant('*'), fc.subarray([...zoneNames, 'unknown'], { minLength: 1 })),
    to: fc.oneof(fc.constant('*'), fc.subarray([...zoneNames, 'unknown'], { minLength: 1 })),
    expires: expiresArb,
  });
  const flowRule = fc.record({ effect: effectArb, from: selectorArb, to: targetArb, expires: expiresArb });
  const permRule = fc.record({
    effect: effectArb,
    from: selectorArb,
    to: targetArb,
    actions: fc.option(fc.array(actionArb, { minLength: 1, maxLength: 2 }), { nil: undefined }),
    when: fc.option(fc.constantFrom(...CONDITIONS), { nil: undefined, freq: 2 }),
    expires: expiresArb,
  });
  return fc
    .record({
      zones: fc.subarray(zoneNames, { minLength: 1 }),
      serviceZones: fc.tuple(
        fc.constantFrom(...zoneNames),
        fc.constantFrom(...zoneNames),
        fc.constantFrom(...zoneNames),
      ),
      servicePorts: fc.tuple(portsArb, portsArb, portsArb),
      modes: fc.tuple(
        fc.constantFrom('enforce', 'simulate', 'observe'),
        fc.constantFrom('enforce', 'enforce', 'simulate'),
        fc.constant('enforce'),
      ),
      workloads: fc.uniqueArray(
        fc.record({ spiffeId: fc.constantFrom(...IDS.slice(0, 8)), labels: labelsArb }),
        { selector: (w) => w.spiffeId, maxLength: 6 },
      ),
      segmentation: fc.array(zoneRule, { maxLength: 5 }),
      flows: fc.array(flowRule, { maxLength: 8 }),
      permissions: fc.array(permRule, { maxLength: 12 }),
      // Broad allows in the outer layers, most of the time, so that requests
      // often reach the permission layer with everything else allowing.
      openZones: fc.integer({ min: 0, max: 3 }).map((n) => n > 0),
      openFlows: fc.integer({ min: 0, max: 3 }),
    })
    .map((g) => {
      const zones: Record<string, unknown> = {};
      for (const z of zoneNames) zones[z] = { cidrs: ZONE_POOL[z as keyof typeof ZONE_POOL] };
      const svc: Record<string, unknown> = {};
      services.forEach((name, i) => {
        svc[name] = {
          zone: g.serviceZones[i],
          ports: g.servicePorts[i],
          mode: g.modes[i],
          operations: { read: [{ methods: ['GET'], paths: ['/orders/**'] }] },
        };
      });
      const withIds = (rules: Record<string, unknown>[], prefix: string) =>
        rules.map((r, i) => {
          const out: Record<string, unknown> = { id: `${prefix}${i}`, owner: 'o' };
          for (const [k, v] of Object.entries(r)) {
            if (v === undefined) continue;
            if (k === 'to' && prefix !== 'z' && typeof v === 'object') {
              const t = v as { services: unknown; ports?: unknown };
              out.to = { services: t.services, ...(t.ports !== undefined ? { ports: t.ports } : {}) };
            } else out[k] = v;
          }
          // Operations need named services.
          if (
            prefix === 'p' &&
            (out.to as { services: unknown }).services === '*' &&
            Array.isArray(out.actions)
          ) {
            out.actions = (out.actions as Record<string, unknown>[]).filter((a) => !('operations' in a));
            if ((out.actions as unknown[]).length === 0) delete out.actions;
          }
          return out;
        });
      return {
        apiVersion: 'gatehouse.dev/v1',
        trustDomain: TD,
        federatedTrustDomains: ['partner.example'],
        zones,
        services: svc,
        workloads: g.workloads,
        segmentation: [
          ...withIds(g.segmentation, 'z'),
          ...(g.openZones ? [{ id: 'z-open', effect: 'allow', from: '*', to: '*', owner: 'o' }] : []),
        ],
        flows: [
          ...withIds(g.flows, 'f'),
          ...(g.openFlows > 0
            ? [{ id: 'f-open', effect: 'allow', from: '*', to: { services: '*', ports: '*' }, owner: 'o' }]
            : []),
        ],
        permissions: withIds(g.permissions, 'p'),
      };
    });
}

const credentialArb = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.constant({
      type: 'x509-svid',
      verified: true,
      issuedAt: '2026-06-15T10:29:00Z',
      expiresAt: '2026-06-15T11:29:00Z',
    }),
  },
  { weight: 1, arbitrary: fc.constant({ type: 'jwt-svid', verified: true }) },
  { weight: 1, arbitrary: fc.constant({ type: 'jwt-svid', verified: false }) },
  { weight: 1, arbitrary: fc.constant({ type: 'x509-svid', verified: true, revoked: true }) },
  {
    weight: 1,
    arbitrary: fc.constant({ type: 'x509-svid', verified: true, expiresAt: '2026-06-15T10:00:00Z' }),
  },
  {
    weight: 1,
    arbitrary: fc.constant({ type: 'x509-svid', verified: true, notBefore: '2026-06-15T11:00:00Z' }),
  },
  {
    weight: 2,
    arbitrary: fc
      .record(
        {
          service: fc.constantFrom('svc-a', 'svc-b', 'svc-unknown'),
          methods: fc.subarray([...METHODS]),
          paths: fc.subarray([...PATHS, '/orders/*', '/**']),
          operations: fc.subarray(['read', 'write']),
        },
        { requiredKeys: ['service'] },
      )
      .map((scope) => ({ type: 'grant', verified: true, scope })),
  },
  { weight: 1, arbitrary: fc.constant(undefined) },
);

const requestArb: fc.Arbitrary<DecisionRequest> = fc
  .record({
    spiffeId: fc.constantFrom(...IDS),
    ip: fc.constantFrom(...IPS),
    labels: fc.option(labelsArb, { nil: undefined, freq: 4 }),
    credential: credentialArb,
    service: fc.constantFrom('svc-a', 'svc-b', 'svc-c', 'svc-unknown'),
    port: fc.option(fc.constantFrom(443, 80, 8050, 8080, 9999), { nil: undefined, freq: 6 }),
    method: fc.option(fc.constantFrom(...METHODS), { nil: undefined, freq: 8 }),
    path: fc.option(fc.constantFrom(...PATHS), { nil: undefined, freq: 8 }),
    operation: fc.option(fc.constantFrom('read', 'write'), { nil: undefined, freq: 5 }),
    context: fc.record(
      { mtls: fc.boolean(), risk: fc.integer({ min: 0, max: 100 }), admin: fc.constant(1) },
      { requiredKeys: [] },
    ),
  })
  .map((r) => {
    const req: DecisionRequest = {
      source: {
        spiffeId: r.spiffeId,
        ...(r.ip !== undefined ? { ip: r.ip } : {}),
        ...(r.labels ? { labels: r.labels as Record<string, string> } : {}),
      },
      destination: { service: r.service, ...(r.port !== undefined ? { port: r.port } : {}) },
      context: r.context,
    };
    if (r.credential) req.credential = r.credential as DecisionRequest['credential'] & object;
    const action: Record<string, string> = {};
    if (r.method !== undefined) action.method = r.method;
    if (r.path !== undefined) action.path = r.path;
    if (r.operation !== undefined) action.operation = r.operation;
    if (Object.keys(action).length) req.action = action;
    return req;
  });

function comparable(d: Decision | ReferenceDecision) {
  const sorted = (xs: readonly string[]) => [...xs].sort();
  const layer = (v: { verdict: string; reason: string; rules: readonly string[] }) =>
    `${v.verdict}/${v.reason}/${sorted(v.rules).join(',')}`;
  return {
    decision: d.decision,
    allowed: d.allowed,
    enforced: d.enforced,
    mode: d.mode,
    wouldDeny: d.wouldDeny,
    layer: d.layer,
    reason: d.reason,
    rules: sorted(d.rules),
    layers: {
      credential: layer(d.layers.credential),
      zone: layer(d.layers.zone),
      flow: layer(d.layers.flow),
      permission: layer(d.layers.permission),
    },
    errors: d.errors.map((e) => `${e.layer}:${e.ruleId}:${e.outcome}`).sort(),
    sourceZone: d.sourceZone,
    destinationZone: d.destinationZone,
  };
}

function validated(doc: Record<string, unknown>): Policy {
  const result = validatePolicy(policyDocumentFromObject(doc));
  assert.deepEqual(
    result.errors.map((e) => `${e.path}: ${e.message}`),
    [],
    'generated policy must be valid',
  );
  return result.policy!;
}

test('compiled engine agrees with the reference evaluator on random policies and requests', () => {
  let decisions = 0;
  const seen = new Set<string>();
  fc.assert(
    fc.property(policyArb(), fc.array(requestArb, { minLength: 5, maxLength: 25 }), (doc, requests) => {
      const policy = validated(doc);
      const engine = compilePolicy(policy, { clock: fixedClock(NOW), ids: false });
      for (const req of requests) {
        const got = comparable(engine.decide(req));
        const want = comparable(referenceDecide(policy, req, { now: NOW }));
        assert.deepEqual(got, want, `request ${JSON.stringify(req)}`);
        decisions++;
        seen.add(`${got.decision}:${got.layer}:${got.reason}:${got.errors.length > 0}`);
      }
    }),
    {
      numRuns: Number(process.env.GATEHOUSE_FUZZ_RUNS ?? 400),
      seed: process.env.GATEHOUSE_FUZZ_SEED ? Number(process.env.GATEHOUSE_FUZZ_SEED) : undefined,
    },
  );
  // The generators must reach every interesting outcome, or the test proves little.
  for (const outcome of [
    'allow:permission:allow_rule:false',
    'deny:permission:deny_rule:false',
    'deny:permission:default_deny:false',
    'deny:zone:deny_rule:false',
    'deny:flow:default_deny:false',
    'deny:credential:credential_expired:false',
    'deny:credential:foreign_trust_domain:false',
  ]) {
    assert.ok(
      seen.has(outcome),
      `no generated case reached ${outcome}; reached: ${[...seen].sort().join(' ')}`,
    );
  }
  assert.ok(
    [...seen].some((s) => s.endsWith(':true')),
    'no generated case had a condition error',
  );
  assert.ok(decisions > 2000);
});
