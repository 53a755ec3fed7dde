import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  blastRadius,
  blastRadiusDot,
  buildEstate,
  resolveBlastTarget,
} from '../../../../src/core/analysis/exposure/index.js';
import { parsePolicy } from '../../../../src/core/policy/index.js';
import { acmeInventory, acmeNow, acmePolicy } from './acme.js';
import { inventoryFrom } from './exposure-cases.js';

const estate = buildEstate(acmePolicy, acmeInventory, { now: acmeNow });
const start = (q: string) => {
  const r = resolveBlastTarget(estate, q);
  assert.ok(r.start, r.problem);
  return r.start;
};

describe('blast radius on the example estate', () => {
  const b = blastRadius(estate, start('/ns/shop/sa/web'));

  test('the first hop is what the three layers allow, with the rules of each', () => {
    const first = b.identities[0]!;
    assert.deepEqual(
      first.reach.map((r) => r.service),
      ['catalog', 'inventory', 'metrics', 'orders', 'secrets', 'staging-orders'],
    );
    const orders = first.reach.find((r) => r.service === 'orders')!;
    assert.deepEqual(orders.zoneRules, ['seg-prod-internal']);
    assert.deepEqual(orders.flowRules, ['flow-shop-to-orders']);
    assert.deepEqual(orders.permissionRules, ['perm-web-orders']);
    assert.equal(orders.conditional, true);
    assert.match(orders.actions[0]!, /when context\.mtls == true/);
    const staging = first.reach.find((r) => r.service === 'staging-orders')!;
    assert.equal(staging.allowedByPolicy, false, 'prod may not reach staging by zone');
    assert.equal(staging.unenforced, true, 'but staging-orders is in simulate mode');
  });

  test('lateral moves follow the credentials reached services hold', () => {
    const got = Object.fromEntries(
      b.identities.map((c) => [c.spiffeId.replace('spiffe://acme.corp', ''), c.via?.service ?? null]),
    );
    assert.deepEqual(got, {
      '/ns/shop/sa/web': null,
      '/ns/pay/sa/refund-worker': 'orders',
      '/ci/deployer': 'secrets',
      '/ns/data/sa/backup-agent': 'secrets',
      '/ci/github/acme/shop/main': 'artifact-registry',
    });
    // A credential taken from a service is used from that service's zone.
    assert.deepEqual(b.identities.find((c) => c.spiffeId.endsWith('/ci/deployer'))!.zones, ['mgmt']);
  });

  test('paths rank by reach weighted by remaining credential lifetime, and explain each hop', () => {
    assert.deepEqual(
      b.paths.map((p) => [p.identity.replace('spiffe://acme.corp', ''), p.window.text]),
      [
        ['/ns/data/sa/backup-agent', 'no expiry'],
        ['/ci/deployer', '17d 21h'],
        ['/ns/shop/sa/web', '30m'],
        ['/ns/pay/sa/refund-worker', '25m'],
        ['/ci/github/acme/shop/main', '5m'],
      ],
    );
    const top = b.paths[0]!;
    assert.deepEqual(
      top.steps.map((s) => s.kind),
      ['start', 'reach', 'holds'],
    );
    assert.match(
      top.explanation[1]!,
      /reaches `secrets` on 8200 from `prod`: zone `seg-prod-to-mgmt`, flow `flow-secrets-clients`, permission `perm-secrets-read` \(conditional\)/,
    );
    assert.match(
      top.explanation[2]!,
      /`secrets` holds credentials of `\/ns\/data\/sa\/backup-agent` \(no expiry\)/,
    );
    for (let i = 1; i < b.paths.length; i++) assert.ok(b.paths[i - 1]!.score >= b.paths[i]!.score);
  });

  test('--max-hops 0 stops at the first hop', () => {
    const only = blastRadius(estate, start('/ns/shop/sa/web'), { maxHops: 0 });
    assert.equal(only.identities.length, 1);
    assert.ok(only.graph.edges.every((e) => e.kind === 'reaches'));
  });

  test('a stolen credential is weighted by its own lifetime and does not take the workload', () => {
    const stolen = blastRadius(estate, start('legacy-reporting-key'));
    assert.equal(stolen.start.via, 'credential');
    assert.equal(stolen.window.text, 'no expiry');
    const revoked = blastRadius(estate, start('jwt-deployer-19d0'));
    assert.equal(revoked.window.state, 'expired');
    assert.equal(revoked.identities.length, 1, 'an expired credential leads nowhere further');
  });

  test('the graph has identity and service nodes, reach and hold edges; DOT escapes labels', () => {
    assert.ok(b.graph.nodes.some((n) => n.kind === 'service' && n.id === 'service:secrets'));
    assert.ok(b.graph.edges.some((e) => e.kind === 'holds' && e.from === 'service:secrets'));
    const dot = blastRadiusDot(b);
    assert.match(dot, /^digraph blast_radius \{/);
    assert.match(dot, /"service:secrets" -> "spiffe:\/\/acme\.corp\/ci\/deployer" \[color="#c0392b"/);
    const quoted = blastRadiusDot({
      ...b,
      graph: {
        nodes: [{ id: 'x"y\\z', kind: 'service', label: 'a"b', zone: 'z', mode: 'enforce' }],
        edges: [],
      },
    });
    assert.match(quoted, /"x\\"y\\\\z" \[shape=box, label="a\\"b\\nz"\];/);
  });

  test('an unknown target is a problem, not an exception', () => {
    assert.match(resolveBlastTarget(estate, 'nothing-like-this').problem!, /names no identity/);
  });
});

describe('blast radius ranking', () => {
  test('a longer-lived credential outranks a wider but short-lived reach', () => {
    const policy = parsePolicy(
      [
        'apiVersion: gatehouse.dev/v1',
        'trustDomain: t.org',
        'zones: { z: { cidrs: [10.0.0.0/8] } }',
        'services:',
        '  hub: { zone: z, ports: [1], spiffeId: spiffe://t.org/hub }',
        '  a: { zone: z, ports: [1] }',
        '  b: { zone: z, ports: [1] }',
        '  c: { zone: z, ports: [1] }',
        'segmentation: [{ id: s, effect: allow, from: [z], to: [z] }]',
        'flows:',
        '  - { id: f-start, effect: allow, from: [spiffe://t.org/start], to: { service: hub } }',
        '  - { id: f-wide, effect: allow, from: [spiffe://t.org/wide], to: { services: [a, b, c] } }',
        '  - { id: f-long, effect: allow, from: [spiffe://t.org/long], to: { service: a } }',
        'permissions:',
        '  - { id: p-start, effect: allow, from: [spiffe://t.org/start], to: { service: hub } }',
        '  - { id: p-wide, effect: allow, from: [spiffe://t.org/wide], to: { services: [a, b, c] } }',
        '  - { id: p-long, effect: allow, from: [spiffe://t.org/long], to: { service: a } }',
      ].join('\n'),
    );
    const at = '2026-11-22T12:00:00Z';
    const inventory = inventoryFrom({
      entries: [
        { id: 'e1', spiffeId: 'spiffe://t.org/start', kind: 'service', zone: 'z', createdAt: at },
        {
          id: 'e2',
          spiffeId: 'spiffe://t.org/hub',
          kind: 'service',
          zone: 'z',
          createdAt: at,
          holdsCredentialsOf: ['spiffe://t.org/wide', 'spiffe://t.org/long'],
        },
        { id: 'e3', spiffeId: 'spiffe://t.org/wide', kind: 'service', createdAt: at },
        { id: 'e4', spiffeId: 'spiffe://t.org/long', kind: 'service', createdAt: at },
      ],
      credentials: [
        {
          id: 'c-start',
          type: 'x509-svid',
          spiffeId: 'spiffe://t.org/start',
          entryId: 'e1',
          kid: 'k',
          via: 'renewal',
          issuedAt: at,
          expiresAt: '2026-11-22T13:00:00Z',
        },
        {
          id: 'c-wide',
          type: 'x509-svid',
          spiffeId: 'spiffe://t.org/wide',
          entryId: 'e3',
          kid: 'k',
          via: 'renewal',
          issuedAt: at,
          expiresAt: '2026-11-22T13:00:00Z',
        },
        {
          id: 'c-long',
          type: 'jwt-svid',
          spiffeId: 'spiffe://t.org/long',
          entryId: 'e4',
          kid: 'k',
          via: 'admin',
          issuedAt: at,
          expiresAt: '2027-11-22T12:00:00Z',
        },
      ],
    });
    const e = buildEstate(policy, inventory, { now: Date.parse(at) });
    const b = blastRadius(e, resolveBlastTarget(e, 'spiffe://t.org/start').start!);
    assert.deepEqual(
      b.paths.map((p) => p.identity),
      ['spiffe://t.org/long', 'spiffe://t.org/wide', 'spiffe://t.org/start'],
    );
    assert.equal(b.paths[0]!.score, 1);
  });
});

describe('blast radius and denies', () => {
  test('a service denies forbid is left out, and the ports shown are those a grant opens', () => {
    const policy = parsePolicy(
      [
        'apiVersion: gatehouse.dev/v1',
        'trustDomain: t.org',
        'zones: { z: { cidrs: [10.0.0.0/8] } }',
        'services:',
        '  s1: { zone: z, ports: [443, 8443] }',
        '  s2: { zone: z, ports: [443] }',
        'segmentation: [{ id: s, effect: allow, from: [z], to: [z] }]',
        'flows: [{ id: f, effect: allow, from: [spiffe://t.org/x], to: { services: "*" } }]',
        'permissions:',
        '  - { id: p1, effect: allow, from: [spiffe://t.org/x], to: { service: s1 } }',
        '  - { id: d1, effect: deny, from: [spiffe://t.org/x], to: { service: s1, ports: [443] } }',
        '  - { id: p2, effect: allow, from: [spiffe://t.org/x], to: { service: s2 }, actions: [{ methods: [GET, POST] }] }',
        '  - { id: d2a, effect: deny, from: [spiffe://t.org/x], to: { service: s2 }, actions: [{ methods: [GET] }] }',
        '  - { id: d2b, effect: deny, from: [spiffe://t.org/x], to: { service: s2 }, actions: [{ methods: [POST] }] }',
      ].join('\n'),
    );
    const at = '2026-11-22T12:00:00Z';
    const inventory = inventoryFrom({
      entries: [{ id: 'e1', spiffeId: 'spiffe://t.org/x', kind: 'service', zone: 'z', createdAt: at }],
    });
    const e = buildEstate(policy, inventory, { now: Date.parse(at) });
    const b = blastRadius(e, resolveBlastTarget(e, '/x').start!);
    assert.deepEqual(
      b.identities[0]!.reach.map((r) => [r.service, r.ports]),
      [['s1', '8443']],
    );
  });
});
