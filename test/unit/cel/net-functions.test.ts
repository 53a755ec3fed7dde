import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { tryParseIpAddress } from '../../../src/core/net/index.js';
import { scanDottedQuad } from '../../../src/core/policy/cel/net-functions.js';
import { compileRegexLiteral } from '../../../src/core/policy/cel/regex-literal.js';

describe('scanDottedQuad', () => {
  test('accepts only what parseIpAddress accepts, with the same value', () => {
    const digits = fc.constantFrom(
      ...'0123456789.'.split(''),
      '25',
      '255',
      '256',
      '00',
      '01',
      '1',
      ':',
      ' ',
      'x',
    );
    const text = fc.oneof(
      fc.array(digits, { maxLength: 10 }).map((parts) => parts.join('')),
      fc.tuple(fc.nat(300), fc.nat(300), fc.nat(300), fc.nat(300)).map((o) => o.join('.')),
      fc.string({ maxLength: 16 }),
    );
    fc.assert(
      fc.property(text, (s) => {
        const v = scanDottedQuad(s);
        const ip = tryParseIpAddress(s);
        if (v >= 0) assert.deepEqual(ip, { family: 4, value: v }, s);
        // Every dotted quad the library reads, the scanner reads too (the fast path is the common path).
        if (ip?.family === 4 && !s.includes(':')) assert.equal(v, ip.value, s);
      }),
      { numRuns: 3000 },
    );
  });

  test('the edges', () => {
    assert.equal(scanDottedQuad('0.0.0.0'), 0);
    assert.equal(scanDottedQuad('255.255.255.255'), 0xffffffff);
    assert.equal(scanDottedQuad('10.0.0.1'), 0x0a000001);
    for (const bad of [
      '010.0.0.1',
      '1.2.3',
      '1.2.3.4.5',
      '1..2.3',
      '256.0.0.1',
      '1.2.3.4 ',
      '::ffff:1.2.3.4',
      '',
    ]) {
      assert.equal(scanDottedQuad(bad), -1, bad);
    }
  });
});

describe('compileRegexLiteral', () => {
  test('compiles patterns both engines read alike', () => {
    for (const p of [
      '^/orders/[0-9]+$',
      'a|b',
      '^(ab)+$',
      '(?:x|y)z',
      '\\d{1,3}',
      '[^a-z\\]]',
      '.*',
      'a+?',
      '^$',
    ]) {
      assert.ok(compileRegexLiteral(p) instanceof RegExp, p);
    }
  });

  test('leaves to cel-js what RE2 reads differently or what may backtrack catastrophically', () => {
    const left = [
      '(a)\\1',
      '(?=a)',
      '(?<n>a)',
      '[[:alpha:]]',
      '[]a]',
      '(a+)+',
      '(a|aa)*',
      '\\p{L}',
      'a{2000}',
      '😀',
      'x}',
    ];
    for (const p of left) assert.equal(compileRegexLiteral(p), undefined, p);
  });

  test('throws on what JavaScript cannot compile', () => {
    // RE2's inline flags are one case: cel-js fails on every evaluation, Gatehouse at load time.
    for (const p of ['(', '(?i)a', 'a**']) assert.throws(() => compileRegexLiteral(p), SyntaxError, p);
  });
});
