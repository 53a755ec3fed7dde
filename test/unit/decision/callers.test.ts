import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compilePolicy } from '../../../src/index.js';
import { fixedClock } from '../../../src/core/ports.js';
import type { DecisionRequest } from '../../../src/core/decision/index.js';
import { referenceDecide } from '../../reference/evaluate.js';
import { validatePolicy, policyDocumentFromObject } from '../../../src/core/policy/index.js';

const NOW = Date.parse('2026-06-15T10:00:00Z');
const KNOWN = 300;

function policy() {
  return validatePolicy(
    policyDocumentFromObject({
      apiVersion: 'gatehouse.dev/v1',
      trustDomain: 'acme.corp',
      zones: { prod: { cidrs: ['10.0.0.0/8'] } },
      services: { orders: { zone: 'prod' } },
      workloads: Array.from({ length: KNOWN }, (_, i) => ({
        spiffeId: `spiffe://acme.corp/ns/shop/sa/w${i}`,
        labels: { team: i % 3 === 0 ? 'red' : 'blue', tier: i % 2 === 0 ? 'web' : 'api' },
      })),
      segmentation: [{ id: 'seg', effect: 'allow', from: '*', to: '*', owner: 'net' }],
      flows: [{ id: 'flow', effect: 'allow', from: '*', to: { service: 'orders' }, owner: 'o' }],
      permissions: [
        {
          id: 'red-web',
          effect: 'allow',
          from: [{ labels: { team: 'red', tier: 'web' } }],
          to: { service: 'orders' },
          owner: 'o',
        },
        {
          id: 'jobs',
          effect: 'allow',
          from: [{ spiffeId: 'spiffe://acme.corp/ns/jobs/**' }],
          to: { service: 'orders' },
          owner: 'o',
        },
        {
          id: 'w7',
          effect: 'allow',
          from: [{ spiffeId: 'spiffe://acme.corp/ns/shop/sa/w7' }],
          to: { service: 'orders' },
          owner: 'o',
        },
        {
          id: 'no-api-from-blue-tier',
          effect: 'deny',
          from: [{ labels: { tier: 'api' }, zones: ['prod'] }],
          to: { service: 'orders' },
          owner: 'o',
        },
      ],
    }),
  ).policy!;
}

function request(spiffeId: string, labels?: Record<string, string>): DecisionRequest {
  return {
    source: { spiffeId, ip: '10.1.2.3', ...(labels ? { labels } : {}) },
    credential: { type: 'x509-svid', verified: true },
    destination: { service: 'orders' },
    action: { method: 'GET', path: '/x' },
  };
}

test('callers stay right while the caller table grows and forgets strangers past its bound', () => {
  const p = policy();
  const engine = compilePolicy(p, { clock: fixedClock(NOW), ids: false });
  const check = (r: DecisionRequest) => {
    const got = engine.decide(r);
    const want = referenceDecide(p, r, { now: NOW });
    assert.deepEqual(
      { decision: got.decision, layer: got.layer, rules: [...got.rules].sort() },
      { decision: want.decision, layer: want.layer, rules: [...want.rules].sort() },
      `${r.source.spiffeId} ${JSON.stringify(r.source.labels ?? {})}`,
    );
  };
  // More strangers than the engine keeps (50,000), among the known callers: the table grows many
  // times and is made again from the known callers at least once.
  for (let i = 0; i < 120_000; i++) {
    check(request(`spiffe://acme.corp/ns/${i % 2 ? 'jobs' : 'other'}/sa/s${i}`));
    if (i % 97 === 0) check(request(`spiffe://acme.corp/ns/shop/sa/w${i % KNOWN}`));
    if (i % 1_001 === 0)
      check(request(`spiffe://acme.corp/ns/shop/sa/w${i % KNOWN}`, { tier: 'api', team: 'red' }));
    if (i % 1_003 === 0) check(request(`spiffe://acme.corp/ns/jobs/sa/s${i}`, { team: 'red', tier: 'web' }));
  }
  for (let i = 0; i < KNOWN; i++) check(request(`spiffe://acme.corp/ns/shop/sa/w${i}`));
  check(request('not a spiffe id'));
  // Names an object with a prototype answers for, and array indexes: denied as any non-SPIFFE ID.
  for (const id of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', '0', '4294967294'])
    check(request(id));
  check(request('spiffe://partner.example/ns/jobs/sa/x'));
});
