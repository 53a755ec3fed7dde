import assert from 'node:assert/strict';
import { createHmac, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { describe, test } from 'node:test';
import { SignJWT } from 'jose';
import { GatehouseError } from '../../../src/core/errors.js';
import type { OidcIssuer } from '../../../src/core/identity/attestation-records.js';
import { matchClaimConditions, matchClaimGlob, verifyOidcToken } from '../../../src/core/identity/index.js';

const ISS = 'https://token.actions.githubusercontent.com';
const AUD = 'https://gatehouse.example';
const now = Date.parse('2026-01-01T00:00:00.000Z');
const s = now / 1000;

const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const stranger = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const jwk = (key: KeyObject, kid: string, extra: object = {}) => ({
  ...createPublicKey(key).export({ format: 'jwk' }),
  kid,
  ...extra,
});
const issuer: OidcIssuer = {
  issuer: ISS,
  jwks: { keys: [jwk(ec.privateKey, 'ec-1', { use: 'sig', alg: 'ES256' }), jwk(rsa.privateKey, 'rsa-1')] },
  createdAt: '2025-12-01T00:00:00.000Z',
};
const claims = {
  iss: ISS,
  aud: AUD,
  sub: 'repo:acme/api:ref:refs/heads/main',
  repository: 'acme/api',
  ref: 'refs/heads/main',
  iat: s - 30,
  exp: s + 300,
};

async function sign(
  payload: Record<string, unknown>,
  { key = ec.privateKey, alg = 'ES256', kid = 'ec-1' }: { key?: KeyObject; alg?: string; kid?: string } = {},
): Promise<string> {
  return new SignJWT(payload).setProtectedHeader({ alg, kid, typ: 'JWT' }).sign(key);
}

async function rejects(
  token: string,
  why: RegExp,
  options: Partial<Parameters<typeof verifyOidcToken>[2]> = {},
) {
  await assert.rejects(verifyOidcToken(token, issuer, { audience: AUD, now, ...options }), (e: unknown) => {
    assert.ok(e instanceof GatehouseError, String(e));
    assert.equal(e.code, 'attestation_failed');
    assert.match(e.message, why);
    assert.match(e.message, /^OIDC token from `https:\/\/token\.actions\.githubusercontent\.com` rejected: /);
    return true;
  });
}

describe('verifyOidcToken', () => {
  test('returns the claims of a valid token (ES256 and RS256)', async () => {
    assert.deepEqual(await verifyOidcToken(await sign(claims), issuer, { audience: AUD, now }), claims);
    const viaRsa = await sign(claims, { key: rsa.privateKey, alg: 'RS256', kid: 'rsa-1' });
    assert.equal(
      (await verifyOidcToken(viaRsa, issuer, { audience: AUD, now: new Date(now) })).ref,
      'refs/heads/main',
    );
    const listAud = await sign({ ...claims, aud: ['other', AUD] });
    assert.equal((await verifyOidcToken(listAud, issuer, { audience: AUD, now })).sub, claims.sub);
  });

  test('checks iss exactly and aud', async () => {
    await rejects(
      await sign({ ...claims, iss: `${ISS}/` }),
      /issuer `https:\/\/token\.actions\.githubusercontent\.com\/` is not/,
    );
    await rejects(
      await sign({ ...claims, aud: 'https://other.example' }),
      /audience `https:\/\/other\.example` does not include/,
    );
    const { aud: _aud, ...noAud } = claims;
    await rejects(await sign(noAud), /no `aud` claim/);
  });

  test('checks exp, nbf and iat with the skew', async () => {
    await rejects(await sign({ ...claims, exp: s - 31 }), /expired at 2025-12-31T23:59:29\.000Z/);
    assert.ok(await verifyOidcToken(await sign({ ...claims, exp: s - 29 }), issuer, { audience: AUD, now }));
    await rejects(await sign({ ...claims, nbf: s + 60 }), /not valid before/);
    await rejects(await sign({ ...claims, iat: s + 60 }), /issued in the future/);
    const { exp: _exp, ...noExp } = claims;
    await rejects(await sign(noExp), /no `exp` claim/);
    const { iat: _iat, ...noIat } = claims;
    await rejects(await sign(noIat), /no `iat` claim/);
    // The issuer's own skew applies unless the caller overrides it.
    const lenient = { ...issuer, clockSkewSeconds: 120 };
    assert.ok(await verifyOidcToken(await sign({ ...claims, exp: s - 60 }), lenient, { audience: AUD, now }));
    await assert.rejects(
      verifyOidcToken(await sign({ ...claims, exp: s - 60 }), lenient, {
        audience: AUD,
        now,
        clockSkewSeconds: 0,
      }),
      /expired/,
    );
  });

  test('accepts asymmetric algorithms only', async () => {
    const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
    const body = Buffer.from(JSON.stringify(claims)).toString('base64url');
    await rejects(`${header}.${body}.`, /algorithm `none` is not allowed/);
    // HS256 keyed with the issuer's public key, the classic confusion attack.
    const hs = Buffer.from(JSON.stringify({ alg: 'HS256', kid: 'ec-1' })).toString('base64url');
    const secret = createPublicKey(ec.privateKey).export({ type: 'spki', format: 'pem' });
    const mac = createHmac('sha256', secret).update(`${hs}.${body}`).digest('base64url');
    await rejects(`${hs}.${body}.${mac}`, /algorithm `HS256` is not allowed/);
  });

  test('verifies the signature with a key of the issuer', async () => {
    await rejects(await sign(claims, { key: stranger.privateKey }), /signature does not verify/);
    await rejects(await sign(claims, { kid: 'unknown' }), /no key of the issuer matches kid `unknown`/);
    // A key declared for ES256 does not verify RS256.
    await rejects(
      await sign(claims, { key: rsa.privateKey, alg: 'RS256', kid: 'ec-1' }),
      /no key of the issuer/,
    );
    await rejects('a.b', /malformed/);
    await rejects('x'.repeat(17 * 1024), /larger than 16384 bytes/);
  });

  test('takes the key set from the caller when the issuer has none inline', async () => {
    const remote: OidcIssuer = {
      issuer: ISS,
      jwksUri: `${ISS}/.well-known/jwks`,
      createdAt: issuer.createdAt,
    };
    await assert.rejects(
      verifyOidcToken(await sign(claims), remote, { audience: AUD, now }),
      /has no key set/,
    );
    const result = await verifyOidcToken(await sign(claims), remote, {
      audience: AUD,
      now,
      jwks: issuer.jwks,
    });
    assert.equal(result.repository, 'acme/api');
  });
});

describe('matchClaimConditions', () => {
  const token = {
    repository: 'acme/api',
    ref: 'refs/heads/main',
    environment: 'production',
    run_attempt: 2,
    fork: false,
    groups: ['a', 'b'],
    context: { job: 'deploy' },
    nothing: null,
  };

  test('exact strings and lists; every claim must match', () => {
    assert.deepEqual(matchClaimConditions(token, { repository: 'acme/api', ref: 'refs/heads/main' }), {
      matched: true,
      mismatches: [],
    });
    assert.ok(matchClaimConditions(token, { environment: ['staging', 'production'] }).matched);
    const miss = matchClaimConditions(token, { repository: 'acme/api', ref: 'refs/heads/dev' });
    assert.deepEqual(miss, {
      matched: false,
      mismatches: ['claim `ref` is `refs/heads/main`: want `refs/heads/dev`'],
    });
    assert.deepEqual(matchClaimConditions(token, { environment: ['dev', 'qa'] }).mismatches, [
      'claim `environment` is `production`: want one of `dev`, `qa`',
    ]);
  });

  test('`*` globs do not cross `/`', () => {
    assert.ok(matchClaimConditions(token, { ref: 'refs/heads/*' }).matched);
    assert.ok(matchClaimConditions(token, { repository: 'acme/*' }).matched);
    assert.ok(!matchClaimConditions({ ref: 'refs/heads/feature/x' }, { ref: 'refs/heads/*' }).matched);
    assert.ok(!matchClaimConditions(token, { repository: '*' }).matched);
    assert.ok(matchClaimConditions(token, { repository: '*/*' }).matched);
  });

  test('missing claims never match', () => {
    assert.deepEqual(matchClaimConditions(token, { workflow: '*' }).mismatches, [
      'claim `workflow` is missing: want `*`',
    ]);
  });

  test('numbers and booleans compare by their JSON form; lists, objects and null never match', () => {
    assert.ok(matchClaimConditions(token, { run_attempt: '2' }).matched);
    assert.ok(matchClaimConditions(token, { fork: 'false' }).matched);
    assert.ok(!matchClaimConditions(token, { fork: 'False' }).matched);
    assert.ok(matchClaimConditions(token, { run_attempt: '*' }).matched);
    assert.deepEqual(matchClaimConditions(token, { groups: 'a' }).mismatches, [
      'claim `groups` is a list: only strings, numbers and booleans can match',
    ]);
    assert.ok(!matchClaimConditions(token, { groups: '*' }).matched);
    assert.ok(!matchClaimConditions(token, { context: '*' }).matched);
    assert.ok(!matchClaimConditions(token, { nothing: '*' }).matched);
    assert.ok(!matchClaimConditions(token, { nothing: 'null' }).matched);
  });

  test('an entry with no conditions never matches', () => {
    const result = matchClaimConditions(token, {});
    assert.equal(result.matched, false);
    assert.match(result.mismatches[0]!, /never matches/);
  });

  test('only own claims count', () => {
    assert.ok(!matchClaimConditions({}, { toString: '*' }).matched);
    assert.ok(
      !matchClaimConditions(Object.create({ inherited: 'x' }) as object as Record<string, unknown>, {
        inherited: 'x',
      }).matched,
    );
  });
});

describe('matchClaimGlob', () => {
  const cases: [string, string, boolean][] = [
    ['', '', true],
    ['*', '', true],
    ['*', 'abc', true],
    ['*', 'a/b', false],
    ['a*', 'a', true],
    ['a*c', 'abbbc', true],
    ['a*c', 'abbbd', false],
    ['*b*', 'abc', true],
    ['a*b*c', 'aXbYc', true],
    ['a*b*c', 'aXcYb', false],
    ['a.b', 'axb', false],
    ['a+b', 'a+b', true],
    ['(x)', '(x)', true],
    ['refs/*/main', 'refs/heads/main', true],
    ['refs/*/main', 'refs/heads/x/main', false],
    ['refs/heads/*', 'refs/heads/', true],
    ['**', 'a/b', false],
  ];
  for (const [pattern, value, want] of cases) {
    test(`\`${pattern}\` ${want ? 'matches' : 'does not match'} \`${value}\``, () => {
      assert.equal(matchClaimGlob(pattern, value), want);
    });
  }

  test('a pathological pattern stays fast', () => {
    const start = performance.now();
    assert.equal(matchClaimGlob(`${'a*'.repeat(50)}b`, 'a'.repeat(10_000)), false);
    assert.ok(performance.now() - start < 500);
  });
});
