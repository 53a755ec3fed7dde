import assert from 'node:assert/strict';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { before, describe, test } from 'node:test';
import { GatehouseError } from '../../../src/core/errors.js';
import {
  buildBundle,
  bundleFor,
  createTrustDomainCa,
  generateSigningKey,
  issueX509Svid,
  jwtAuthority,
  parseBundle,
  x509Authorities,
} from '../../../src/core/identity/index.js';
import type { StoredSigningKey } from '../../../src/core/identity/signing-key.js';

const now = Date.parse('2026-01-01T00:00:00.000Z');
let jwtKey: StoredSigningKey;
let rsaJwtKey: StoredSigningKey;
let caKey: StoredSigningKey;

before(async () => {
  jwtKey = { ...generateSigningKey({ use: 'jwt-svid', now, kid: 'jwt-1' }), state: 'active' };
  rsaJwtKey = generateSigningKey({ use: 'jwt-svid', alg: 'RS256', now: now + 1000, kid: 'jwt-2' });
  const ca = generateSigningKey({ use: 'x509-svid', now, kid: 'ca-1' });
  caKey = { ...ca, certificatePem: await createTrustDomainCa({ trustDomain: 'example.org', key: ca, now }) };
});

function invalid(path: string | undefined, why: RegExp) {
  return (e: unknown) => {
    assert.ok(e instanceof GatehouseError, String(e));
    assert.equal(e.code, 'bundle_invalid', e.message);
    assert.equal(e.path, path, e.message);
    assert.match(e.message, why);
    return true;
  };
}

describe('buildBundle', () => {
  test('publishes jwt-svid keys with kid and x509-svid keys with x5c, public members only', () => {
    const bundle = buildBundle([caKey, rsaJwtKey, jwtKey], { sequence: 3, refreshHintSeconds: 300 });
    assert.equal(bundle.spiffe_sequence, 3);
    assert.equal(bundle.spiffe_refresh_hint, 300);
    assert.deepEqual(
      bundle.keys.map((k) => [k.use, k.kid]),
      [
        ['jwt-svid', 'jwt-1'],
        ['jwt-svid', 'jwt-2'],
        ['x509-svid', undefined],
      ],
    );
    const [ec, rsa, x509] = bundle.keys;
    assert.deepEqual(Object.keys(ec!).sort(), ['crv', 'kid', 'kty', 'use', 'x', 'y']);
    assert.deepEqual(Object.keys(rsa!).sort(), ['e', 'kid', 'kty', 'n', 'use']);
    assert.deepEqual(Object.keys(x509!).sort(), ['crv', 'kty', 'use', 'x', 'x5c', 'y']);
    // X.509-SVID §6.1: the DER of the CA certificate, base64.
    assert.equal(x509!.x5c!.length, 1);
    assert.ok(new X509Certificate(Buffer.from(x509!.x5c![0]!, 'base64')).ca);
    assert.ok(!JSON.stringify(bundle).includes('"d"'));
  });

  test('refuses an x509-svid key without a CA certificate, or with another key certified', () => {
    const bare = generateSigningKey({ use: 'x509-svid', now });
    const opts = { sequence: 1, refreshHintSeconds: 60 };
    assert.throws(() => buildBundle([bare], opts), { code: 'key_invalid' });
    assert.throws(() => buildBundle([{ ...bare, certificatePem: caKey.certificatePem }], opts), {
      code: 'key_invalid',
    });
    assert.throws(() => buildBundle([], { sequence: -1, refreshHintSeconds: 60 }), {
      code: 'bundle_invalid',
    });
  });

  test('round-trips through JSON and parseBundle', () => {
    const bundle = buildBundle([jwtKey, caKey], { sequence: 9, refreshHintSeconds: 120 });
    const parsed = parseBundle(JSON.stringify(bundle), 'example.org');
    assert.deepEqual(parsed, bundle);
    assert.equal(jwtAuthority(parsed, 'jwt-1')?.kid, 'jwt-1');
    assert.equal(jwtAuthority(parsed, 'ca-1'), undefined);
    assert.equal(x509Authorities(parsed).length, 1);
    assert.equal(bundleFor({ 'example.org': parsed }, 'example.org'), parsed);
    assert.equal(bundleFor(new Map([['example.org', parsed]]), 'example.org'), parsed);
    assert.equal(bundleFor({ 'example.org': parsed }, 'toString'), undefined);
  });
});

describe('parseBundle', () => {
  const ec = () => ({ ...(jwtKey.publicJwk as Record<string, unknown>), use: 'jwt-svid', kid: 'k1' });
  const x5c = () => Buffer.from(new X509Certificate(caKey.certificatePem!).raw).toString('base64');

  test('ignores entries the standards say to ignore', () => {
    const parsed = parseBundle({
      keys: [
        ec(),
        // Bundle §4.2.2: unknown use.
        { ...ec(), use: 'wit-svid', kid: 'w' },
        // Bundle §4.2.1: unknown key type.
        { kty: 'OKP', crv: 'Ed25519', x: 'AAAA', use: 'jwt-svid', kid: 'ed' },
        // X.509-SVID §6.2: no x5c, or an empty one.
        { kty: 'EC', use: 'x509-svid' },
        { kty: 'EC', use: 'x509-svid', x5c: [] },
      ],
      // Bundle §4.1: unknown top-level members are allowed.
      extra: true,
    });
    assert.deepEqual(
      parsed.keys.map((k) => k.kid),
      ['k1'],
    );
    assert.equal(parsed.spiffe_sequence, undefined);
  });

  test('keeps only the first x5c certificate', () => {
    const parsed = parseBundle({ keys: [{ kty: 'EC', use: 'x509-svid', x5c: [x5c(), 'ignored'] }] });
    assert.deepEqual(parsed.keys[0]!.x5c, [x5c()]);
  });

  test('rejects bad bundles saying where and why', () => {
    const rsa1024 = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'jwk' });
    const cases: [unknown, string | undefined, RegExp][] = [
      ['{', undefined, /not JSON/],
      [[], undefined, /JSON object/],
      [{}, 'keys', /required/],
      [{ keys: {} }, 'keys', /required/],
      [{ keys: ['x'] }, 'keys[0]', /JWK object/],
      [{ keys: [{ use: 'jwt-svid' }] }, 'keys[0].kty', /required/],
      [{ keys: [{ kty: 'EC' }] }, 'keys[0].use', /required/],
      [{ keys: [{ ...ec(), d: 'secret' }] }, 'keys[0].d', /private key members/],
      [{ keys: [{ ...ec(), kid: undefined }] }, 'keys[0].kid', /required on jwt-svid/],
      [{ keys: [ec(), ec()] }, 'keys[1].kid', /duplicate kid `k1`/],
      [{ keys: [{ kty: 'EC', use: 'jwt-svid', kid: 'k' }] }, 'keys[0]', /public key members/],
      [{ keys: [{ ...ec(), x: 'AAAA' }] }, 'keys[0]', /valid public key/],
      [{ keys: [{ ...ec(), crv: 'P-192' }] }, 'keys[0].crv', /P-256/],
      [{ keys: [{ ...rsa1024, use: 'jwt-svid', kid: 'r' }] }, 'keys[0].n', /2048/],
      [
        { keys: [{ kty: 'EC', use: 'x509-svid', kid: 'no', x5c: [x5c()] }] },
        'keys[0].kid',
        /must not be set/,
      ],
      [{ keys: [{ kty: 'EC', use: 'x509-svid', x5c: 'abc' }] }, 'keys[0].x5c', /list/],
      [
        { keys: [{ kty: 'EC', use: 'x509-svid', x5c: ['bm90IGEgY2VydA=='] }] },
        'keys[0].x5c[0]',
        /not a base64 DER/,
      ],
      [
        { keys: [{ kty: 'EC', use: 'x509-svid', x5c: [x5c().replace(/^.{4}/, '!!!!')] }] },
        'keys[0].x5c[0]',
        /not a base64 DER/,
      ],
      [
        { keys: [{ ...(jwtKey.publicJwk as object), use: 'x509-svid', x5c: [x5c()] }] },
        'keys[0]',
        /do not match the certificate/,
      ],
      [{ keys: [], spiffe_sequence: -1 }, 'spiffe_sequence', /non-negative integer/],
      [{ keys: [], spiffe_sequence: 1.5 }, 'spiffe_sequence', /non-negative integer/],
      [{ keys: [], spiffe_refresh_hint: '300' }, 'spiffe_refresh_hint', /whole number/],
    ];
    for (const [input, path, why] of cases) {
      assert.throws(
        () => parseBundle(input, 'example.org'),
        invalid(path, why),
        JSON.stringify(input).slice(0, 80),
      );
    }
  });

  test('rejects a leaf certificate as an X.509 authority', async () => {
    const svid = await issueX509Svid({
      spiffeId: 'spiffe://example.org/web',
      ca: { key: { ...caKey, state: 'active' } },
      now,
    });
    const leaf = Buffer.from(new X509Certificate(svid.certificatePem).raw).toString('base64');
    assert.throws(
      () => parseBundle({ keys: [{ kty: 'EC', use: 'x509-svid', x5c: [leaf] }] }),
      invalid('keys[0].x5c[0]', /not a CA certificate/),
    );
  });

  test('names the trust domain in messages and checks it', () => {
    assert.throws(
      () => parseBundle({}, 'example.org'),
      /invalid SPIFFE bundle of `example.org`: keys: required/,
    );
    assert.throws(() => parseBundle({ keys: [] }, 'Example.org'), invalid(undefined, /lower case/));
  });
});
