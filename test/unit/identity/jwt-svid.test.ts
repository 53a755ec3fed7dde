import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { decodeProtectedHeader } from 'jose';
import { GatehouseError } from '../../../src/core/errors.js';
import {
  buildBundle,
  generateSigningKey,
  issueJwtSvid,
  JwtSvidVerifier,
  RevocationSet,
  SIGNING_ALGORITHMS,
  verifyJwtSvid,
  type SpiffeBundle,
} from '../../../src/core/identity/index.js';
import type { StoredSigningKey } from '../../../src/core/identity/signing-key.js';

const TD = 'example.org';
const ID = 'spiffe://example.org/web';
const AUD = 'spiffe://example.org/api';
const T0 = Date.parse('2026-01-01T00:00:00.000Z');

let key: StoredSigningKey;
let bundle: SpiffeBundle;

before(() => {
  key = { ...generateSigningKey({ use: 'jwt-svid', now: T0, kid: 'k1' }), state: 'active' };
  bundle = buildBundle([key], { sequence: 1, refreshHintSeconds: 300 });
});

const code = (expected: string) => (e: unknown) => {
  assert.ok(e instanceof GatehouseError, String(e));
  assert.equal(e.code, expected, e.message);
  return true;
};

class FakeClock {
  constructor(public ms: number) {}
  now(): number {
    return this.ms;
  }
}

describe('issueJwtSvid', () => {
  test('issues a token the verifier accepts, with every registered claim', async () => {
    const issued = await issueJwtSvid({ spiffeId: ID, audience: [AUD], key, now: T0 + 500 });
    assert.deepEqual(decodeProtectedHeader(issued.token), { alg: 'ES256', kid: 'k1', typ: 'JWT' });
    assert.equal(issued.claims.sub, ID);
    assert.deepEqual(issued.claims.aud, [AUD]);
    assert.equal(issued.claims.iat, T0 / 1000);
    assert.equal(issued.claims.exp, T0 / 1000 + 300);
    assert.match(issued.claims.jti, /^[0-9a-f-]{36}$/);
    assert.equal(issued.expiresAt, '2026-01-01T00:05:00.000Z');
    const verified = await verifyJwtSvid(issued.token, { [TD]: bundle }, { audience: AUD, now: T0 + 1000 });
    assert.equal(verified.spiffeId, ID);
    assert.deepEqual(verified.claims, issued.claims);
  });

  test('every signing algorithm round-trips', async () => {
    for (const alg of SIGNING_ALGORITHMS) {
      const k = { ...generateSigningKey({ use: 'jwt-svid', alg, now: T0 }), state: 'active' as const };
      const b = buildBundle([k], { sequence: 1, refreshHintSeconds: 300 });
      const { token } = await issueJwtSvid({
        spiffeId: ID,
        audience: [AUD],
        key: k,
        now: T0,
        ttlSeconds: 60,
      });
      assert.equal(decodeProtectedHeader(token).alg, alg);
      assert.equal((await verifyJwtSvid(token, { [TD]: b }, { audience: AUD, now: T0 })).spiffeId, ID);
    }
  });

  test('jti values are unique; a given jti and extra claims are kept', async () => {
    const a = await issueJwtSvid({ spiffeId: ID, audience: [AUD], key, now: T0 });
    const b = await issueJwtSvid({ spiffeId: ID, audience: [AUD], key, now: T0 });
    assert.notEqual(a.claims.jti, b.claims.jti);
    const c = await issueJwtSvid({
      spiffeId: ID,
      audience: [AUD],
      key,
      now: T0,
      jti: 'fixed',
      extraClaims: { gatehouse_grant: { id: 'grt_1' } },
    });
    assert.equal(c.claims.jti, 'fixed');
    assert.deepEqual(c.claims.gatehouse_grant, { id: 'grt_1' });
  });

  test('signs with a sealed key given its passphrase', async () => {
    const sealed = {
      ...generateSigningKey({ use: 'jwt-svid', now: T0, passphrase: 'pw' }),
      state: 'active' as const,
    };
    await assert.rejects(
      issueJwtSvid({ spiffeId: ID, audience: [AUD], key: sealed, now: T0 }),
      code('key_passphrase_required'),
    );
    const { token } = await issueJwtSvid({
      spiffeId: ID,
      audience: [AUD],
      key: sealed,
      passphrase: 'pw',
      now: T0,
    });
    const b = buildBundle([sealed], { sequence: 1, refreshHintSeconds: 300 });
    assert.equal((await verifyJwtSvid(token, { [TD]: b }, { audience: AUD, now: T0 })).spiffeId, ID);
  });

  test('refuses bad input', async () => {
    const base = { spiffeId: ID, audience: [AUD], key, now: T0 };
    await assert.rejects(issueJwtSvid({ ...base, spiffeId: 'web' }), code('spiffe_id_invalid'));
    await assert.rejects(issueJwtSvid({ ...base, audience: [] }), code('request_invalid'));
    await assert.rejects(issueJwtSvid({ ...base, audience: [''] }), code('request_invalid'));
    await assert.rejects(issueJwtSvid({ ...base, ttlSeconds: 0 }), code('request_invalid'));
    await assert.rejects(issueJwtSvid({ ...base, ttlSeconds: 1.5 }), code('request_invalid'));
    await assert.rejects(issueJwtSvid({ ...base, extraClaims: { aud: 'x' } }), code('request_invalid'));
    await assert.rejects(
      issueJwtSvid({ ...base, extraClaims: { big: 'x'.repeat(9000) } }),
      code('request_invalid'),
    );
    await assert.rejects(issueJwtSvid({ ...base, key: { ...key, state: 'next' } }), code('key_invalid'));
    await assert.rejects(issueJwtSvid({ ...base, key: { ...key, state: 'retired' } }), code('key_invalid'));
    await assert.rejects(issueJwtSvid({ ...base, key: { ...key, use: 'x509-svid' } }), code('key_invalid'));
  });
});

describe('verifyJwtSvid', () => {
  test('checks the expected audience and time', async () => {
    const { token } = await issueJwtSvid({ spiffeId: ID, audience: [AUD], key, now: T0, ttlSeconds: 60 });
    const bundles = { [TD]: bundle };
    await assert.rejects(
      verifyJwtSvid(token, bundles, { audience: 'spiffe://example.org/db', now: T0 }),
      code('svid_bad_audience'),
    );
    // exp is T0+60; the default skew is 30 seconds.
    assert.ok(await verifyJwtSvid(token, bundles, { audience: AUD, now: T0 + 89_999 }));
    await assert.rejects(
      verifyJwtSvid(token, bundles, { audience: AUD, now: T0 + 90_000 }),
      code('svid_expired'),
    );
    await assert.rejects(
      verifyJwtSvid(token, bundles, { audience: AUD, now: T0 + 61_000, clockSkewSeconds: 0 }),
      code('svid_expired'),
    );
    await assert.rejects(verifyJwtSvid(token, bundles, { audience: '', now: T0 }), code('request_invalid'));
  });

  test("the control plane's audience beside another is refused for every audience", async () => {
    const controlPlane = 'spiffe://example.org/gatehouse';
    const bundles = { [TD]: bundle };
    const verifier = new JwtSvidVerifier({ bundles, clock: new FakeClock(T0) });
    for (const audience of [
      [AUD, controlPlane],
      [controlPlane, AUD],
    ]) {
      const { token } = await issueJwtSvid({ spiffeId: ID, audience, key, now: T0 });
      for (const expected of [AUD, controlPlane]) {
        await assert.rejects(verifyJwtSvid(token, bundles, { audience: expected, now: T0 }), (e: unknown) => {
          code('svid_bad_audience')(e);
          assert.match((e as Error).message, /mixes the control plane `spiffe:\/\/example\.org\/gatehouse`/);
          return true;
        });
        await assert.rejects(verifier.verify(token, { audience: expected }), code('svid_bad_audience'));
      }
    }
    // Alone, either verifies where it is for; the control plane of the subject's trust domain is meant.
    for (const audience of [[controlPlane], [AUD], [AUD, 'spiffe://example.org/db']]) {
      const { token } = await issueJwtSvid({ spiffeId: ID, audience, key, now: T0 });
      assert.ok(await verifyJwtSvid(token, bundles, { audience: audience[0]!, now: T0 }));
    }
    const foreign = await issueJwtSvid({
      spiffeId: ID,
      audience: [AUD, 'spiffe://other.org/gatehouse'],
      key,
      now: T0,
    });
    assert.ok(await verifyJwtSvid(foreign.token, bundles, { audience: AUD, now: T0 }));
  });

  test('a token signed by a key that left the bundle is rejected', async () => {
    const { token } = await issueJwtSvid({ spiffeId: ID, audience: [AUD], key, now: T0 });
    const next = { ...generateSigningKey({ use: 'jwt-svid', now: T0, kid: 'k2' }), state: 'active' as const };
    const rotated = buildBundle([next], { sequence: 2, refreshHintSeconds: 300 });
    await assert.rejects(
      verifyJwtSvid(token, { [TD]: rotated }, { audience: AUD, now: T0 }),
      code('svid_unknown_key'),
    );
  });
});

describe('JwtSvidVerifier', () => {
  test('caches a verification and still applies a revocation at once', async () => {
    const clock = new FakeClock(T0);
    const revocations = new RevocationSet();
    const verifier = new JwtSvidVerifier({ bundles: { [TD]: bundle }, clock, isRevoked: revocations });
    const issued = await issueJwtSvid({ spiffeId: ID, audience: [AUD], key, now: T0 });
    const first = await verifier.verify(issued.token, { audience: AUD });
    const second = await verifier.verify(issued.token, { audience: AUD });
    assert.equal(second, first, 'the second call is served from the cache');
    assert.equal(verifier.size, 1);
    assert.ok(Object.isFrozen(first.claims));
    revocations.add({
      target: 'credential',
      value: issued.claims.jti,
      revokedAt: new Date(T0).toISOString(),
    });
    await assert.rejects(verifier.verify(issued.token, { audience: AUD }), code('svid_revoked'));
  });

  test('runs a revocation callback on cache hits too', async () => {
    const revoked = new Set<string>();
    let calls = 0;
    const verifier = new JwtSvidVerifier({
      bundles: { [TD]: bundle },
      clock: new FakeClock(T0),
      isRevoked: (claims) => (calls++, revoked.has(claims.jti ?? '')),
    });
    const { token, claims } = await issueJwtSvid({ spiffeId: ID, audience: [AUD], key, now: T0 });
    await verifier.verify(token, { audience: AUD });
    await verifier.verify(token, { audience: AUD });
    assert.equal(calls, 2);
    revoked.add(claims.jti);
    await assert.rejects(verifier.verify(token, { audience: AUD }), code('svid_revoked'));
  });

  test('a cached token expires out of the cache', async () => {
    const clock = new FakeClock(T0);
    const verifier = new JwtSvidVerifier({ bundles: { [TD]: bundle }, clock, clockSkewSeconds: 10 });
    const { token } = await issueJwtSvid({ spiffeId: ID, audience: [AUD], key, now: T0, ttlSeconds: 60 });
    await verifier.verify(token, { audience: AUD });
    clock.ms = T0 + 69_999;
    assert.ok(await verifier.verify(token, { audience: AUD }));
    clock.ms = T0 + 70_000;
    await assert.rejects(verifier.verify(token, { audience: AUD }), code('svid_expired'));
    assert.equal(verifier.size, 0);
  });

  test('the audience is part of the cache key', async () => {
    const verifier = new JwtSvidVerifier({ bundles: { [TD]: bundle }, clock: new FakeClock(T0) });
    const { token } = await issueJwtSvid({ spiffeId: ID, audience: [AUD], key, now: T0 });
    await verifier.verify(token, { audience: AUD });
    await assert.rejects(
      verifier.verify(token, { audience: 'spiffe://example.org/db' }),
      code('svid_bad_audience'),
    );
  });

  test('a new bundle object invalidates what was verified with the old one', async () => {
    let current: SpiffeBundle = bundle;
    const verifier = new JwtSvidVerifier({ bundles: () => ({ [TD]: current }), clock: new FakeClock(T0) });
    const { token } = await issueJwtSvid({ spiffeId: ID, audience: [AUD], key, now: T0 });
    const first = await verifier.verify(token, { audience: AUD });
    // A getter that builds a fresh record each call still hits while the bundle is the same object.
    assert.equal(await verifier.verify(token, { audience: AUD }), first);
    const other = {
      ...generateSigningKey({ use: 'jwt-svid', now: T0, kid: 'k9' }),
      state: 'active' as const,
    };
    current = buildBundle([other], { sequence: 2, refreshHintSeconds: 300 });
    await assert.rejects(verifier.verify(token, { audience: AUD }), code('svid_unknown_key'));
    // setBundles drops everything.
    current = bundle;
    await verifier.verify(token, { audience: AUD });
    assert.equal(verifier.size, 1);
    verifier.setBundles({});
    assert.equal(verifier.size, 0);
    await assert.rejects(verifier.verify(token, { audience: AUD }), code('svid_foreign_trust_domain'));
  });

  test('keeps at most maxEntries, evicting the oldest', async () => {
    const verifier = new JwtSvidVerifier({
      bundles: { [TD]: bundle },
      clock: new FakeClock(T0),
      maxEntries: 2,
    });
    const tokens = await Promise.all(
      [1, 2, 3].map(async () => (await issueJwtSvid({ spiffeId: ID, audience: [AUD], key, now: T0 })).token),
    );
    const results = [];
    for (const t of tokens) results.push(await verifier.verify(t, { audience: AUD }));
    assert.equal(verifier.size, 2);
    // The first was evicted: verifying again gives a fresh result object; the third is still cached.
    assert.notEqual(await verifier.verify(tokens[0]!, { audience: AUD }), results[0]);
    assert.equal(await verifier.verify(tokens[2]!, { audience: AUD }), results[2]);
  });

  test('failures are not cached', async () => {
    const verifier = new JwtSvidVerifier({ bundles: { [TD]: bundle }, clock: new FakeClock(T0) });
    const { token } = await issueJwtSvid({ spiffeId: ID, audience: [AUD], key, now: T0 });
    await verifier.verify(token, { audience: AUD });
    await assert.rejects(verifier.verify('a.b.c', { audience: AUD }), code('svid_malformed'));
    await assert.rejects(verifier.verify(token, { audience: 'other' }), code('svid_bad_audience'));
    assert.equal(verifier.size, 1);
  });
});
