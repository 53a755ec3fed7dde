import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ownStrings } from '../../src/core/own-strings.js';

describe('ownStrings', () => {
  test('keeps every value, changes plain objects and arrays in place', () => {
    const text = 'x — id: perm-web-orders é 漢 \u{1f600} "q" \\ \n';
    const inner = {
      id: text.slice(8, 23),
      wide: text.slice(24),
      list: ['', text.slice(0, 3), 7, true, null],
    };
    const value = { a: inner, b: [inner], n: 1, u: undefined };
    const result = ownStrings(value);
    assert.equal(result, value);
    assert.equal(result.a, inner);
    assert.deepEqual(result, {
      a: { id: 'perm-web-orders', wide: 'é 漢 \u{1f600} "q" \\ \n', list: ['', 'x —', 7, true, null] },
      b: [{ id: 'perm-web-orders', wide: 'é 漢 \u{1f600} "q" \\ \n', list: ['', 'x —', 7, true, null] }],
      n: 1,
      u: undefined,
    });
  });

  test('leaves other objects alone and stops on cycles', () => {
    const date = new Date(0);
    const map = new Map([['k', 'v']]);
    const cyclic: Record<string, unknown> = { name: 'c' };
    cyclic.self = cyclic;
    const result = ownStrings({ date, map, cyclic });
    assert.equal(result.date, date);
    assert.equal(result.map, map);
    assert.equal(result.cyclic, cyclic);
    assert.equal(result.cyclic.name, 'c');
  });
});
