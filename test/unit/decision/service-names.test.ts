import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compilePolicy } from '../../../src/index.js';
import { fixedClock } from '../../../src/core/ports.js';
import type { DecisionRequest } from '../../../src/core/decision/index.js';
import { referenceDecide } from '../../reference/evaluate.js';
import { validatePolicy, policyDocumentFromObject } from '../../../src/core/policy/index.js';

const NOW = Date.parse('2026-06-15T10:00:00Z');
/** Names an object with a prototype answers for, and names that read as array indexes. */
const NAMES = ['constructor', 'valueof', '0', '7', '4294967294', '4294967295', 'orders'];

test('services are found by any valid name, and unknown names are unknown services', () => {
  const p = validatePolicy(
    policyDocumentFromObject({
      apiVersion: 'gatehouse.dev/v1',
      trustDomain: 'acme.corp',
      zones: { prod: { cidrs: ['10.0.0.0/8'] } },
      services: Object.fromEntries(NAMES.map((n) => [n, { zone: 'prod' }])),
      segmentation: [{ id: 'seg', effect: 'allow', from: '*', to: '*', owner: 'net' }],
      flows: NAMES.map((n) => ({
        id: `flow-${n}`,
        effect: 'allow',
        from: '*',
        to: { service: n },
        owner: 'o',
      })),
      permissions: NAMES.filter((_, i) => i % 2 === 0).map((n) => ({
        id: `perm-${n}`,
        effect: 'allow',
        from: [{ spiffeId: 'spiffe://acme.corp/ns/shop/sa/web' }],
        to: { service: n },
        owner: 'o',
      })),
    }),
  ).policy!;
  const engine = compilePolicy(p, { clock: fixedClock(NOW), ids: false });
  const asked = [...NAMES, '__proto__', 'toString', 'hasOwnProperty', '1', '00', 'Orders', ''];
  let allowed = 0;
  for (const service of asked) {
    const r: DecisionRequest = {
      source: { spiffeId: 'spiffe://acme.corp/ns/shop/sa/web', ip: '10.1.2.3' },
      credential: { type: 'x509-svid', verified: true },
      destination: { service },
      action: { method: 'GET', path: '/x' },
    };
    const got = engine.decide(r);
    const want = referenceDecide(p, r, { now: NOW });
    assert.deepEqual(
      { decision: got.decision, layer: got.layer, rules: [...got.rules], reason: got.reason },
      { decision: want.decision, layer: want.layer, rules: [...want.rules], reason: want.reason },
      service,
    );
    if (got.decision === 'allow') allowed++;
  }
  // Every other declared name has a permission: the lookup must find each of them.
  assert.equal(allowed, NAMES.filter((_, i) => i % 2 === 0).length);
});
