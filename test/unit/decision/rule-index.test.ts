import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KeySpace, RuleBucket } from '../../../src/core/decision/rule-index.js';
import type { Selector } from '../../../src/core/policy/model.js';

test('a key that files more rules than a call takes arguments seals and finds them all', () => {
  const keys = new KeySpace();
  const selector: Selector = [{ spiffeId: 'spiffe://acme.corp/ns/shop/**' }];
  const bucket = new RuleBucket<{ proven: boolean; n: number }>();
  const count = 200_000;
  for (let n = 0; n < count; n++) bucket.add({ proven: false, n }, selector, keys);
  bucket.seal();
  assert.equal(bucket.keyCount, 1);
  const at = bucket.find(bucket.index[0]!);
  assert.equal(at, 0);
  const [from, to] = [bucket.index[at + 1]!, bucket.index[at + 3]!];
  assert.equal(to - from, count);
  assert.equal(bucket.rules[from + count - 1]!.n, count - 1);
  assert.equal(bucket.find(bucket.index[0]! + 1), -1);
});
