import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { compilePathGlob } from '../../../src/core/policy/index.js';
import { pathGlob } from '../../reference/evaluate.js';

const TABLE: [pattern: string, path: string, matches: boolean][] = [
  ['/orders', '/orders', true],
  ['/orders', '/orders/', false],
  ['/orders/**', '/orders', true],
  ['/orders/**', '/orders/', true],
  ['/orders/**', '/orders/1/2', true],
  ['/orders/**', '/ordersX', false],
  ['/orders/*', '/orders/1', true],
  ['/orders/*', '/orders/', false],
  ['/orders/*', '/orders/1/2', false],
  ['/orders/{id}/items', '/orders/7/items', true],
  ['/orders/{id}/items', '/orders//items', false],
  ['/a/**/z', '/a/z', true],
  ['/a/**/z', '/a/b/c/z', true],
  ['/a/**/z', '/a/b/c/zz', false],
  ['/*.json', '/x.json', true],
  ['/*.json', '/.json', true],
  ['/*.json', '/a/x.json', false],
  ['/**', '/', true],
  ['/**', '', true],
  ['/v*/x', '/v1/x', true],
  ['/a.b', '/aXb', false],
  ['/(x)', '/(x)', true],
];

describe('path globs', () => {
  for (const [pattern, path, want] of TABLE) {
    test(`${pattern} ${want ? 'matches' : 'does not match'} ${path || '(empty)'}`, () => {
      assert.equal(compilePathGlob(pattern).matches(path), want);
      assert.equal(pathGlob(pattern, path), want, 'reference');
    });
  }

  test('malformed patterns are refused with a reason', () => {
    assert.throws(() => compilePathGlob('orders'), /must start with `\/`/);
    assert.throws(() => compilePathGlob('/a**'), /`\*\*` must be a whole segment/);
    assert.throws(() => compilePathGlob('/a{id}'), /template variable/);
  });

  test('the compiled glob agrees with the recursive reference on random patterns and paths', () => {
    const seg = fc.constantFrom('a', 'b', 'ab', '', 'x.json');
    const pseg = fc.constantFrom('a', 'b', '*', '**', '{v}', 'a*', '*b', '*.json');
    fc.assert(
      fc.property(
        fc.array(pseg, { minLength: 1, maxLength: 4 }),
        fc.array(seg, { maxLength: 5 }),
        (ps, ss) => {
          const pattern = '/' + ps.join('/');
          const path = ss.length ? '/' + ss.join('/') : '';
          assert.equal(
            compilePathGlob(pattern).matches(path),
            pathGlob(pattern, path),
            `${pattern} vs ${path}`,
          );
        },
      ),
      { numRuns: 3000 },
    );
  });
});
