/**
 * Granted vs used: the example log against the example estate, and the
 * tightened policy: it passes check, and every request the log shows allowed
 * is still allowed by it.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  ActivityCollector,
  buildEstate,
  grantedVsUsed,
  policyToDocument,
  proposeTightenedPolicy,
} from '../../../../src/core/analysis/exposure/index.js';
import { compilePolicy } from '../../../../src/index.js';
import { parsePolicy, validatePolicy, policyDocumentFromObject } from '../../../../src/core/policy/index.js';
import { fixedClock } from '../../../../src/core/ports.js';
import { acmeInventory, acmeNow, acmePolicy, acmeRecords } from './acme.js';
import { loadExposureCases, recordsFor, type TrafficItem } from './exposure-cases.js';

describe('granted vs used on the example estate', () => {
  const estate = buildEstate(acmePolicy, acmeInventory, { now: acmeNow });
  const activity = new ActivityCollector({ until: acmeNow });
  for (const r of acmeRecords()) activity.add(r);
  const report = grantedVsUsed(estate, activity);

  test('per identity: granted services, what it contacted, what it never did', () => {
    const web = report.identities.find((p) => p.spiffeId === 'spiffe://acme.corp/ns/shop/sa/web')!;
    assert.deepEqual(
      web.granted.services.map((s) => s.service),
      ['catalog', 'metrics', 'orders', 'secrets'],
    );
    assert.deepEqual(web.used.services, ['catalog', 'metrics', 'orders', 'secrets']);
    const copilot = report.identities.find(
      (p) => p.spiffeId === 'spiffe://acme.corp/agents/support-copilot',
    )!;
    assert.deepEqual(
      copilot.unusedServices.map((s) => s.service),
      ['catalog', 'metrics', 'secrets'],
    );
    const shipping = report.identities.find((p) => p.spiffeId.endsWith('/shipping-worker'))!;
    assert.deepEqual(shipping.broadRules, [
      { rule: 'perm-queue', service: 'orders-queue', methods: ['CONSUME'] },
    ]);
  });

  test('the tightened policy passes check and names why each rule changed', () => {
    const p = report.proposal;
    assert.deepEqual(p.check.errors, []);
    assert.ok(p.changes.length > 0);
    const byRule = new Map(p.changes.map((c) => [`${c.rule} ${c.change}`, c.detail]));
    // etl-nightly and backup-agent call ledger-db from prod-data, which no zone rule opens: only POST got through.
    assert.match(byRule.get('perm-ledger actions')!, /: POST$/);
    assert.match(
      byRule.get('perm-staging-orders removed')!,
      /no allowed decision between 2026-11-08T00:00:53\.969Z and 2026-11-22T09:58:01\.783Z used it/,
    );
    assert.match(
      byRule.get('flow-ledger-writers selector')!,
      /etl-nightly.*backup-agent.*no caller matched them/,
    );
    assert.match(p.yaml, /^# Proposed by `gatehouse privileges` from 2973 decision\(s\)/);
    // Deny rules and zone rules are never touched.
    const kept = parsePolicy([{ file: 'p.yaml', text: p.yaml }]);
    assert.deepEqual(
      kept.segmentation.map((r) => r.id),
      acmePolicy.segmentation.map((r) => r.id),
    );
    for (const deny of acmePolicy.permissions.filter((r) => r.effect === 'deny'))
      assert.ok(
        kept.permissions.some((r) => r.id === deny.id),
        deny.id,
      );
  });
});

describe('the tightened policy keeps what was used', () => {
  test('every request allowed in the window is still allowed, on every exposure case', () => {
    for (const c of loadExposureCases()) {
      const estate = buildEstate(c.policy, c.inventory, { now: c.now });
      const activity = new ActivityCollector({ until: c.now + 1 });
      for (const r of c.records) activity.add(r);
      const proposal = proposeTightenedPolicy(estate, activity);
      assert.deepEqual(proposal.check.errors, [], c.file);
      const tightened = compilePolicy(parsePolicy([{ file: 'p.yaml', text: proposal.yaml }]), {
        clock: fixedClock(c.now),
        ids: false,
      });
      const original = compilePolicy(c.policy, { clock: fixedClock(c.now), ids: false });
      // Re-decide the case's own requests: the records were made from them.
      const again = recordsFor(c.policy, c.now, [], c.inventory);
      assert.deepEqual(again, []);
      for (const r of c.records) {
        if (r.decision !== 'allow') continue;
        const request = {
          source: {
            spiffeId: r.source.spiffeId,
            ...(r.source.ip ? { ip: r.source.ip } : {}),
            labels: { ...(c.inventory.entries.find((e) => e.spiffeId === r.source.spiffeId)?.labels ?? {}) },
          },
          credential: { type: 'x509-svid' as const, verified: true },
          destination: {
            service: r.destination.service,
            ...(r.destination.port ? { port: r.destination.port } : {}),
          },
          ...(r.action ? { action: r.action } : {}),
          context: {},
          time: r.time,
        };
        if (original.decide(request).decision !== 'allow') continue;
        assert.equal(tightened.decide(request).decision, 'allow', `${c.file}: ${JSON.stringify(request)}`);
      }
    }
  });

  test('a rule nobody used is removed; a rule used by one term keeps only that term', () => {
    const policy = parsePolicy(
      [
        'apiVersion: gatehouse.dev/v1',
        'trustDomain: t.org',
        'zones: { z: { cidrs: [10.0.0.0/8] } }',
        'services: { a: { zone: z, ports: [1] }, b: { zone: z, ports: [2] } }',
        'segmentation: [{ id: s, effect: allow, from: [z], to: [z], owner: o }]',
        'flows: [{ id: f, effect: allow, from: [spiffe://t.org/x, spiffe://t.org/y], to: { services: [a, b] }, owner: o }]',
        'permissions:',
        '  - { id: p-used, effect: allow, from: [spiffe://t.org/x, spiffe://t.org/y], to: { services: [a, b] }, owner: o }',
        '  - { id: p-idle, effect: allow, from: [spiffe://t.org/y], to: { service: b }, actions: [{ methods: [GET] }], owner: o }',
      ].join('\n'),
    );
    const now = Date.parse('2026-11-22T12:00:00Z');
    const traffic: TrafficItem[] = [
      {
        request: {
          source: { spiffeId: 'spiffe://t.org/x', ip: '10.0.0.1' },
          destination: { service: 'a', port: 1 },
          action: { method: 'PUT', path: '/k' },
        },
        at: ['2026-11-22T10:00:00Z'],
      },
    ];
    const records = recordsFor(policy, now, traffic);
    const estate = buildEstate(
      policy,
      { entries: [], credentials: [], grants: [], revocations: [] },
      { now },
    );
    const activity = new ActivityCollector({ until: now });
    records.forEach((r) => activity.add(r));
    const p = proposeTightenedPolicy(estate, activity);
    assert.deepEqual(
      p.changes.map((c) => `${c.layer} ${c.rule} ${c.change}`),
      [
        'flow f services',
        'flow f selector',
        'permission p-used services',
        'permission p-used selector',
        'permission p-used actions',
        'permission p-idle removed',
      ],
    );
    const after = parsePolicy([{ file: 'p.yaml', text: p.yaml }]);
    assert.deepEqual(
      after.permissions.map((r) => r.id),
      ['p-used'],
    );
    assert.deepEqual(after.permissions[0]!.from, [{ spiffeId: 'spiffe://t.org/x' }]);
    assert.deepEqual(after.permissions[0]!.actions, [
      { methods: ['PUT'], paths: [], prefixes: [], operations: [] },
    ]);
  });
});

describe('policy documents', () => {
  test('the example policy written back decides every example request the same way', () => {
    const doc = policyToDocument(acmePolicy);
    const result = validatePolicy(policyDocumentFromObject(doc));
    assert.deepEqual(result.errors, []);
    assert.equal(result.policy!.permissions.length, acmePolicy.permissions.length);
    const a = compilePolicy(acmePolicy, { clock: fixedClock(acmeNow), ids: false });
    const b = compilePolicy(result.policy!, { clock: fixedClock(acmeNow), ids: false });
    for (const r of acmeRecords().slice(0, 400)) {
      const request = {
        source: { spiffeId: r.source.spiffeId, ...(r.source.ip ? { ip: r.source.ip } : {}) },
        credential: { type: 'x509-svid' as const, verified: true },
        destination: {
          service: r.destination.service,
          ...(r.destination.port ? { port: r.destination.port } : {}),
        },
        ...(r.action ? { action: r.action } : {}),
        context: { mtls: true, risk: 10 },
        time: r.time,
      };
      const x = a.decide(request);
      const y = b.decide(request);
      assert.equal(
        `${x.decision} ${x.layer} ${x.rules.join(',')}`,
        `${y.decision} ${y.layer} ${y.rules.join(',')}`,
      );
    }
  });
});
