/**
 * The canonical JSON behind a policy's revision: keys sorted by UTF-16 code units at every
 * depth, nothing else changed. Held to a plain recursive reference on random values, with
 * objects of more keys than the insertion sort takes.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { canonicalJson, policyRevision } from '../../../src/core/policy/revision.js';

function reference(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reference);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(value).sort()) out[k] = reference((value as Record<string, unknown>)[k]);
  return out;
}

const key = fc.oneof(
  fc.string({ maxLength: 4 }),
  fc.constantFrom('a', 'B', 'é', 'Z', '_', '\ud83d\ude00', '\uffff'),
);
const { tree } = fc.letrec((tie) => ({
  tree: fc.oneof({ depthSize: 'small' }, fc.jsonValue({ maxDepth: 0 }), tie('array'), tie('object')),
  array: fc.array(tie('tree'), { maxLength: 4 }),
  object: fc.oneof(
    fc.dictionary(key, tie('tree'), { maxKeys: 6 }),
    fc.dictionary(key, fc.integer(), { minKeys: 30, maxKeys: 60 }),
  ),
}));

test('canonical JSON sorts keys at every depth and changes nothing else', () => {
  fc.assert(
    fc.property(tree, (value) => {
      assert.equal(canonicalJson(value), JSON.stringify(reference(value)) ?? 'null');
    }),
    { numRuns: 1000 },
  );
});

test('a revision does not depend on the order of rules, workloads or keys', () => {
  const rules = Array.from({ length: 40 }, (_, i) => ({
    id: `r${(i * 7) % 40}`,
    effect: 'allow',
    owner: 'o',
  }));
  const a = policyRevision({ trustDomain: 'acme.corp', permissions: rules });
  const b = policyRevision({
    permissions: [...rules].reverse().map((r) => ({ owner: r.owner, effect: r.effect, id: r.id })),
    trustDomain: 'acme.corp',
  });
  assert.equal(a, b);
  assert.notEqual(a, policyRevision({ trustDomain: 'acme.corp', permissions: rules.slice(1) }));
});
