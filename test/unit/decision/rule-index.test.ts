import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KeySpace, RuleBucket } from '../../../src/core/decision/rule-index.js';
import type { Selector } from '../../../src/core/policy/model.js';

type Rule = { proven: boolean; shared: boolean; n: number };
const encode = (rule: Rule, table: number[]) => table.push(rule.n);

/** Where the pair for `key` is in the bucket written at `at`, or -1; checks that keys ascend. */
function findKey(table: Int32Array, at: number, key: number): number {
  const pairs = at + 3;
  for (let i = 0; i < table[at]!; i++) {
    if (i > 0) assert.ok(table[pairs + 2 * i]! > table[pairs + 2 * i - 2]!, 'keys ascend');
    if (table[pairs + 2 * i] === key) return pairs + 2 * i;
  }
  return -1;
}

test('a key that files more rules than a call takes arguments is written and found whole', () => {
  const keys = new KeySpace();
  const selector: Selector = [{ spiffeId: 'spiffe://acme.corp/ns/shop/**' }];
  const bucket = new RuleBucket<Rule>();
  const count = 200_000;
  for (let n = 0; n < count; n++) bucket.add({ proven: false, shared: false, n }, selector, keys);
  assert.equal(bucket.keyCount, 1);
  const table: number[] = [7]; // something before the bucket: positions are absolute
  const at = bucket.write(table, encode);
  assert.equal(at, 1);
  const t = Int32Array.from(table);
  const key = keys.intern('p:spiffe://acme.corp/ns/shop');
  const p = findKey(t, at, key);
  assert.notEqual(p, -1);
  const [from, to] = [t[p + 1]!, t[p + 3]!];
  assert.equal(to - from, count);
  assert.equal(t[from + count - 1], count - 1);
  assert.equal(findKey(t, at, key + 1), -1);
  assert.equal(t[at + 1], t[at + 2], 'no always rules');
});

test('keys are found among many; always rules follow the keyed ones; a rule under two keys is shared', () => {
  const keys = new KeySpace();
  const bucket = new RuleBucket<Rule>();
  const rules: Rule[] = [];
  for (let n = 0; n < 50; n++) {
    const rule = { proven: false, shared: false, n };
    rules.push(rule);
    bucket.add(rule, [{ spiffeId: `spiffe://acme.corp/sa/${n % 25}` }], keys);
  }
  const both = { proven: false, shared: false, n: 100 };
  bucket.add(both, [{ spiffeId: 'spiffe://acme.corp/sa/3' }, { spiffeId: 'spiffe://acme.corp/sa/4' }], keys);
  const always = { proven: true, shared: true, n: 200 };
  bucket.add(always, '*', keys);
  assert.equal(bucket.keyCount, 25);
  assert.equal(both.shared, true);
  assert.equal(both.proven, true);
  assert.equal(always.shared, false);
  assert.equal(new RuleBucket<Rule>().write([], encode), -1, 'an empty bucket is not written');
  const table: number[] = [];
  const at = bucket.write(table, encode);
  const t = Int32Array.from(table);
  for (let s = 0; s < 25; s++) {
    const p = findKey(t, at, keys.intern(`e:spiffe://acme.corp/sa/${s}`));
    const found = [...t.subarray(t[p + 1]!, t[p + 3]!)].sort((a, b) => a - b);
    const expected = [s, s + 25, ...(s === 3 || s === 4 ? [100] : [])];
    assert.deepEqual(found, expected, `key of sa/${s}`);
  }
  assert.deepEqual([...t.subarray(t[at + 1]!, t[at + 2]!)], [200]);
});
