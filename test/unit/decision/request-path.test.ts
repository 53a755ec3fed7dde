import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { normalizeRequestPath } from '../../../src/core/decision/index.js';
import { isPlain } from '../../../src/core/decision/request-path.js';

const TABLE: [raw: string, normalized: string | undefined][] = [
  ['/orders/1', '/orders/1'],
  ['/orders/1?x=/admin', '/orders/1'],
  ['/orders#frag', '/orders'],
  ['//admin', '/admin'],
  ['/a//b///c', '/a/b/c'],
  ['/a/./b', '/a/b'],
  ['/a/b/..', '/a/'],
  ['/a/../admin', '/admin'],
  ['/a/b/../../admin', '/admin'],
  ['/..', undefined],
  ['/../x', undefined],
  ['/%61dmin', '/admin'],
  ['/%2e%2e/etc', undefined],
  ['/a/%2e%2e/admin', '/admin'],
  ['/a%2fb', undefined],
  ['/a%2Fb', undefined],
  ['/a%5cb', undefined],
  ['/a%00', undefined],
  ['/a%zz', undefined],
  ['/a%', undefined],
  ['/a\\b', undefined],
  ['/caf%C3%A9', '/caf%C3%A9'],
  ['/space%20x', '/space%20x'],
  ['/a/..;/admin', undefined],
  ['/a/..;x=1/admin', undefined],
  ['/a/.;x/b', undefined],
  ['/a/%2e%2e;/admin', undefined],
  ['/a/b;v=1/c', '/a/b;v=1/c'],
  ['/a/..x;y', '/a/..x;y'],
  ['relative', undefined],
  ['/', '/'],
];

describe('request path normalization', () => {
  for (const [raw, want] of TABLE) {
    test(`${raw} → ${want ?? 'refused'}`, () => assert.equal(normalizeRequestPath(raw), want));
  }
});

describe('the plain-path check', () => {
  test('agrees with a regular expression on random paths', () => {
    const plainByRegex = (p: string): boolean => !/[?#%\\]|\/[/.]/.test(p);
    fc.assert(
      fc.property(
        fc.array(
          fc.constantFrom('/', '.', 'a', 'Z', '0', '%', '?', '#', '\\', '-', 'é', '\u2f2f', '\u012e'),
          {
            maxLength: 12,
          },
        ),
        (chars) => {
          const path = chars.join('');
          assert.equal(isPlain(path), plainByRegex(path), JSON.stringify(path));
        },
      ),
      { numRuns: 5000 },
    );
  });
});
