import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { MethodSet, SmallMap, SmallSet } from '../../../../src/core/analysis/exposure/small-collections.js';

// More distinct keys than a collection keeps in its scanned array, so that every form is met:
// empty, one inline entry, the array, and the Map or Set that takes over.
const key = fc.constantFrom(
  'a',
  'b',
  'c',
  'spiffe://example.org/ns/a/sa/long-enough-name',
  '',
  ...Array.from({ length: 10 }, (_, i) => `k${i}`),
);

test('a small map reads as a Map given the same sets, in the same order', () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(key, fc.integer()), { maxLength: 40 }), fc.array(key), (sets, probes) => {
      const small = new SmallMap<string, number>();
      const map = new Map<string, number>();
      for (const [k, v] of sets) {
        // Fresh copies: keys compare by content, not by identity.
        small.set((' ' + k).slice(1), v);
        map.set(k, v);
      }
      assert.equal(small.size, map.size);
      assert.deepEqual([...small], [...map]);
      assert.deepEqual([...small.keys()], [...map.keys()]);
      assert.deepEqual([...small.values()], [...map.values()]);
      for (const p of probes) {
        assert.equal(small.get(p), map.get(p));
        assert.equal(small.has(p), map.has(p));
      }
    }),
  );
});

test('a small set reads as a Set given the same adds, in the same order', () => {
  fc.assert(
    fc.property(fc.array(key, { maxLength: 40 }), fc.array(key), (adds, probes) => {
      const small = new SmallSet<string>();
      const set = new Set<string>();
      for (const k of adds) {
        small.add((' ' + k).slice(1));
        set.add(k);
      }
      assert.equal(small.size, set.size);
      assert.deepEqual([...small], [...set]);
      assert.deepEqual([...small.keys()], [...set.keys()]);
      for (const p of probes) assert.equal(small.has(p), set.has(p));
    }),
  );
});

test('a method set holds the same methods as a Set, common ones and any other', () => {
  const method = fc.constantFrom(
    '',
    'GET',
    'HEAD',
    'POST',
    'PUT',
    'PATCH',
    'DELETE',
    'OPTIONS',
    'PROPFIND',
    'get',
    'constructor',
    'toString',
  );
  fc.assert(
    fc.property(fc.array(method, { maxLength: 30 }), fc.array(method), (adds, probes) => {
      const methods = new MethodSet();
      const set = new Set<string>();
      for (const m of adds) {
        methods.add(m);
        set.add(m);
      }
      assert.equal(methods.size, set.size);
      assert.deepEqual([...methods].sort(), [...set].sort());
      assert.deepEqual([...methods.keys()].sort(), [...set].sort());
      for (const p of probes) assert.equal(methods.has(p), set.has(p));
    }),
  );
});
