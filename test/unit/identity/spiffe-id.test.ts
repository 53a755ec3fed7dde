import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { GatehouseError } from '../../../src/core/errors.js';
import { parseSpiffeId } from '../../../src/core/identity/index.js';

interface Vector {
  title: string;
  input: string;
  valid: boolean;
  trustDomain?: string;
  path?: string;
  why?: string;
}
const vectors = JSON.parse(
  readFileSync(new URL('../../vectors/spiffe-id/ids.json', import.meta.url), 'utf8'),
) as Vector[];

describe('parseSpiffeId vectors', () => {
  for (const v of vectors) {
    test(v.title, () => {
      if (v.valid) {
        const id = parseSpiffeId(v.input);
        assert.equal(id.trustDomain, v.trustDomain);
        assert.equal(id.path, v.path);
        assert.equal(id.toString(), v.input);
      } else {
        assert.throws(
          () => parseSpiffeId(v.input),
          (e: unknown) =>
            e instanceof GatehouseError && e.code === 'spiffe_id_invalid' && e.message.includes(v.why!),
        );
      }
    });
  }
  test('IDs over 2048 bytes are refused', () => {
    const long = `spiffe://example.org/${'a'.repeat(2030)}`;
    assert.throws(() => parseSpiffeId(long), /longer than 2048 bytes/);
    assert.doesNotThrow(() => parseSpiffeId(`spiffe://example.org/${'a'.repeat(2048 - 21)}`));
  });
});

describe('parseSpiffeId against the standard read segment by segment', () => {
  // The parser settles the common, valid case with two scans of the whole ID; this is the
  // standard's rules applied one trust-domain character and one path segment at a time.
  const validBySegments = (text: string): boolean => {
    if (!text.startsWith('spiffe://')) return false;
    const rest = text.slice('spiffe://'.length);
    const slash = rest.indexOf('/');
    const td = slash === -1 ? rest : rest.slice(0, slash);
    const path = slash === -1 ? '' : rest.slice(slash);
    if (td === '' || [...td].some((c) => !'abcdefghijklmnopqrstuvwxyz0123456789.-_'.includes(c)))
      return false;
    if (path === '') return true;
    return path
      .slice(1)
      .split('/')
      .every((s) => s !== '' && s !== '.' && s !== '..' && [...s].every((c) => /[A-Za-z0-9._-]/.test(c)));
  };
  test('valid exactly when every character and segment is', () => {
    const part = fc.array(
      fc.constantFrom('a', 'Z', '9', '.', '-', '_', '/', '%', ':', '@', '?', '#', ' ', 'é'),
      {
        maxLength: 12,
      },
    );
    fc.assert(
      fc.property(part, part, (td, path) => {
        const text = `spiffe://${td.join('')}${path.join('')}`;
        let valid = true;
        try {
          parseSpiffeId(text);
        } catch (e) {
          assert.ok(e instanceof GatehouseError && e.code === 'spiffe_id_invalid');
          valid = false;
        }
        assert.equal(valid, validBySegments(text), text);
      }),
      { numRuns: 20_000 },
    );
  });
});
