/**
 * Merging policy files (src/core/policy/parse.ts): keys that an object answers for through its
 * prototype are plain keys, reported like any other unknown or invalid name.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { checkPolicy, parsePolicyDocument } from '../../../src/core/policy/index.js';

const NOW = Date.parse('2026-06-15T00:00:00Z');
const BASE = 'apiVersion: gatehouse.dev/v1\ntrustDomain: acme.corp\n';

function problems(...texts: string[]): string[] {
  const result = checkPolicy(
    texts.map((text, i) => ({ file: `p${i}.yaml`, text })),
    { now: NOW },
  );
  return result.errors.map((e) => `${e.code} ${e.path}`);
}

describe('merging policy files', () => {
  test('a top-level `constructor` is an unknown field, not a field defined twice', () => {
    assert.deepEqual(problems(`${BASE}constructor: 1\n`), ['unknown_field constructor']);
    assert.deepEqual(problems(BASE, 'constructor: 1\n'), ['unknown_field constructor']);
  });

  test('a top-level `__proto__` is an unknown field whose members are not read as the policy’s', () => {
    for (const text of [
      `apiVersion: gatehouse.dev/v1\n__proto__:\n  trustDomain: evil.example\n`,
      `{"apiVersion": "gatehouse.dev/v1", "__proto__": {"trustDomain": "evil.example"}}`,
    ]) {
      const doc = parsePolicyDocument([{ file: 'p.json', text }]);
      assert.equal(doc.value.trustDomain, undefined, text);
      assert.ok(Object.hasOwn(doc.value, '__proto__'), text);
      const codes = checkPolicy([{ file: 'p.json', text }], { now: NOW }).errors.map(
        (e) => `${e.code} ${e.path}`,
      );
      assert.ok(codes.includes('missing_field '), codes.join(', '));
      assert.ok(
        codes.some((c) => c.startsWith('unknown_field') && c.includes('__proto__')),
        codes.join(', '),
      );
    }
  });

  test('a zone named `__proto__` is an invalid name, in one file or merged from two', () => {
    const zone = 'zones:\n  __proto__:\n    cidrs: [10.0.0.0/8]\n';
    for (const files of [[`${BASE}${zone}`], [BASE, zone]]) {
      const codes = problems(...files);
      assert.ok(
        codes.some((c) => c.startsWith('invalid_name')),
        codes.join(', '),
      );
    }
  });
});
