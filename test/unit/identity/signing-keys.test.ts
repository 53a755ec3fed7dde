import assert from 'node:assert/strict';
import { createPublicKey, sign, verify } from 'node:crypto';
import { describe, test } from 'node:test';
import { GatehouseError } from '../../../src/core/errors.js';
import {
  activeSigningKey,
  generateSigningKey,
  isProtectedPrivateKey,
  jwkThumbprint,
  loadPrivateCryptoKey,
  loadPrivateKey,
  SIGNING_ALGORITHMS,
} from '../../../src/core/identity/index.js';

const now = Date.parse('2026-01-01T00:00:00.000Z');
const code = (expected: string) => (e: unknown) => e instanceof GatehouseError && e.code === expected;

describe('generateSigningKey', () => {
  for (const alg of SIGNING_ALGORITHMS) {
    test(`${alg}: a next key whose private half signs for its public JWK`, () => {
      const key = generateSigningKey({ use: 'jwt-svid', alg, now });
      assert.equal(key.state, 'next');
      assert.equal(key.alg, alg);
      assert.equal(key.createdAt, '2026-01-01T00:00:00.000Z');
      assert.equal(key.kid, jwkThumbprint(key.publicJwk));
      const members = Object.keys(key.publicJwk).sort();
      assert.deepEqual(members, alg.startsWith('ES') ? ['crv', 'kty', 'x', 'y'] : ['e', 'kty', 'n']);
      const privateKey = loadPrivateKey(key);
      const publicKey = createPublicKey({ key: key.publicJwk as never, format: 'jwk' });
      const signature = sign('sha256', Buffer.from('x'), privateKey);
      assert.ok(verify('sha256', Buffer.from('x'), publicKey, signature));
    });
  }

  test('defaults to ES256 on P-256 and accepts a kid', () => {
    const key = generateSigningKey({ use: 'x509-svid', now: new Date(now), kid: 'ca-2026-01' });
    assert.equal(key.alg, 'ES256');
    assert.equal(key.publicJwk.crv, 'P-256');
    assert.equal(key.kid, 'ca-2026-01');
  });

  test('seals the private key under a passphrase', async () => {
    const key = generateSigningKey({ use: 'jwt-svid', now, passphrase: 'secret' });
    assert.ok(isProtectedPrivateKey(key.privateKey));
    assert.throws(() => loadPrivateKey(key), code('key_passphrase_required'));
    assert.throws(() => loadPrivateKey(key, 'wrong'), code('key_passphrase_wrong'));
    assert.equal(loadPrivateKey(key, 'secret').asymmetricKeyType, 'ec');
    // Loaded keys are cached: the second load is the same object.
    assert.equal(loadPrivateKey({ ...key, state: 'active' }, 'secret'), loadPrivateKey(key, 'secret'));
    const cryptoKey = await loadPrivateCryptoKey(key, 'secret');
    assert.equal(cryptoKey.type, 'private');
  });

  test('refuses unknown uses and algorithms, bad kids and small RSA keys', () => {
    assert.throws(() => generateSigningKey({ use: 'tls' as never, now }), code('key_invalid'));
    assert.throws(
      () => generateSigningKey({ use: 'jwt-svid', alg: 'HS256' as never, now }),
      code('key_invalid'),
    );
    assert.throws(() => generateSigningKey({ use: 'jwt-svid', kid: 'a b', now }), code('key_invalid'));
    assert.throws(() => generateSigningKey({ use: 'jwt-svid', kid: '', now }), code('key_invalid'));
    assert.throws(
      () => generateSigningKey({ use: 'jwt-svid', alg: 'RS256', rsaModulusLength: 1024, now }),
      code('key_invalid'),
    );
  });

  test('a private key that is not the pair of the public JWK does not load', () => {
    const a = generateSigningKey({ use: 'jwt-svid', now });
    const b = generateSigningKey({ use: 'jwt-svid', now });
    assert.throws(() => loadPrivateKey({ ...a, privateKey: b.privateKey }), code('key_invalid'));
    assert.throws(() => loadPrivateKey({ ...a, alg: 'ES384' }), code('key_invalid'));
  });
});

describe('activeSigningKey', () => {
  test('picks the most recently activated key of the use', () => {
    const base = generateSigningKey({ use: 'jwt-svid', now });
    const keys = [
      { ...base, kid: 'old', state: 'active' as const, activatedAt: '2026-01-01T00:00:00.000Z' },
      { ...base, kid: 'new', state: 'active' as const, activatedAt: '2026-01-02T00:00:00.000Z' },
      { ...base, kid: 'next', state: 'next' as const },
      {
        ...base,
        kid: 'x509',
        use: 'x509-svid' as const,
        state: 'active' as const,
        activatedAt: '2026-01-03T00:00:00.000Z',
      },
    ];
    assert.equal(activeSigningKey(keys, 'jwt-svid')?.kid, 'new');
    assert.equal(activeSigningKey(keys, 'x509-svid')?.kid, 'x509');
    assert.equal(activeSigningKey([keys[2]!], 'jwt-svid'), undefined);
  });
});
