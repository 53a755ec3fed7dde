import assert from 'node:assert/strict';
import { test } from 'node:test';
import { internalized } from '../../../src/core/decision/internalized.js';

test('internalized copies keep the text of any string, property names of Object.prototype included', () => {
  const body = JSON.stringify({ id: 'spiffe://acme.corp/ns/shop/sa/web', pad: 'x'.repeat(1000) });
  const cut = (JSON.parse(body) as { id: string }).id;
  const texts = [
    cut,
    '',
    '0',
    '42',
    '4294967295',
    '-1',
    '1e3',
    '__proto__',
    'constructor',
    'hasOwnProperty',
    'toString',
    'ünïcödé ✓',
    '\u0000nul',
  ];
  for (const text of texts) {
    const copy = internalized(text);
    assert.equal(typeof copy, 'string');
    assert.equal(copy, text);
  }
});

test('internalized names no property of Object.prototype into existence', () => {
  internalized('__proto__');
  internalized('polluted');
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.equal(Object.getPrototypeOf({}), Object.prototype);
});
