import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
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
