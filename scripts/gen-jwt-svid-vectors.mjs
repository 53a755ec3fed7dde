#!/usr/bin/env node
// Regenerates test/vectors/jwt-svid/vectors.json: JWT-SVID verification
// vectors, each titled with the section of the SPIFFE JWT-SVID standard it
// exercises. Tokens are built and signed here with node:crypto alone, not
// with the code under test, so the vectors check it from the outside and
// can hold tokens a well-behaved signer would refuse to produce.
//
//   node scripts/gen-jwt-svid-vectors.mjs
//
// Keys are fresh on every run, so the output differs each time; the tests
// read the committed file and never run this script.
import { createHmac, createPublicKey, generateKeyPairSync, sign, constants } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as prettier from 'prettier';

const out = new URL('../test/vectors/jwt-svid/vectors.json', import.meta.url);
const NOW = Date.parse('2026-01-01T00:00:00.000Z');
const now = NOW / 1000;
const TD = 'example.org';
const PARTNER = 'partner.example';
const AUDIENCE = 'spiffe://example.org/api';
const SKEW = 30;

const b64url = (value) => Buffer.from(value).toString('base64url');
const json = (value) => b64url(JSON.stringify(value));

function newKey(kid, alg) {
  const pair =
    alg === 'ES256'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : alg === 'ES384'
        ? generateKeyPairSync('ec', { namedCurve: 'P-384' })
        : generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = createPublicKey(pair.privateKey).export({ format: 'jwk' });
  return { kid, alg, privateKey: pair.privateKey, jwk };
}

/** Signs `header.payload` with `key` the way RFC 7518 §3 says `alg` is computed. */
function signWith(alg, key, input) {
  switch (alg) {
    case 'ES256':
      return sign('sha256', input, { key, dsaEncoding: 'ieee-p1363' });
    case 'ES384':
      return sign('sha384', input, { key, dsaEncoding: 'ieee-p1363' });
    case 'RS256':
      return sign('sha256', input, key);
    case 'PS256':
      return sign('sha256', input, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 });
    default:
      throw new Error(`cannot sign ${alg}`);
  }
}

/** A compact JWS over exactly this header and payload. */
function token(header, payload, key = keys.es256, alg = header.alg) {
  const input = `${json(header)}.${json(payload)}`;
  return `${input}.${b64url(signWith(alg, key.privateKey, input))}`;
}

const keys = {
  es256: newKey('td-es256', 'ES256'),
  es384: newKey('td-es384', 'ES384'),
  rsa: newKey('td-rsa', 'RS256'),
  partner: newKey('partner-es256', 'ES256'),
  stranger: newKey('not-published', 'ES256'),
};

const bundleEntry = (key) => ({ ...key.jwk, use: 'jwt-svid', kid: key.kid });
const bundles = {
  [TD]: {
    keys: [
      bundleEntry(keys.es256),
      bundleEntry(keys.es384),
      bundleEntry(keys.rsa),
      // Trust Domain and Bundle §4.2.2: an entry with an unknown use is ignored.
      { ...keys.stranger.jwk, use: 'wit-svid', kid: 'ignored-use' },
    ],
    spiffe_sequence: 7,
    spiffe_refresh_hint: 300,
  },
  [PARTNER]: { keys: [bundleEntry(keys.partner)], spiffe_sequence: 1, spiffe_refresh_hint: 300 },
};

const header = (key = keys.es256, extra = {}) => ({ alg: key.alg, kid: key.kid, typ: 'JWT', ...extra });
const claims = (extra = {}) => ({
  sub: 'spiffe://example.org/web',
  aud: [AUDIENCE],
  iat: now - 60,
  exp: now + 240,
  jti: 'jti-ok',
  ...extra,
});
const without = (object, name) => {
  const copy = { ...object };
  delete copy[name];
  return copy;
};

const revocations = [
  { target: 'credential', value: 'jti-revoked', revokedAt: new Date(NOW - 30_000).toISOString() },
  {
    target: 'identity',
    value: 'spiffe://example.org/revoked-workload',
    revokedAt: new Date(NOW - 30_000).toISOString(),
  },
];

const hsSecret = Buffer.from(createPublicKey(keys.es256.privateKey).export({ type: 'spki', format: 'pem' }));
const hsInput = `${json({ alg: 'HS256', kid: keys.es256.kid, typ: 'JWT' })}.${json(claims())}`;
const valid = token(header(), claims());
const [validHeader, validPayload, validSignature] = valid.split('.');
const tamperedPayload = json(claims({ sub: 'spiffe://example.org/admin' }));

const ok = (spiffeId = 'spiffe://example.org/web') => ({ spiffeId });
const err = (error) => ({ error });

const cases = [
  { title: 'JWT-SVID §3: a valid ES256 token', token: valid, want: ok() },
  {
    title: 'JWT-SVID §2.1: ES384 is allowed',
    token: token(header(keys.es384), claims(), keys.es384),
    want: ok(),
  },
  {
    title: 'JWT-SVID §2.1: RS256 is allowed',
    token: token(header(keys.rsa), claims(), keys.rsa),
    want: ok(),
  },
  {
    title: 'JWT-SVID §2.1: PS256 is allowed with an RSA key',
    token: token(header(keys.rsa, { alg: 'PS256' }), claims(), keys.rsa, 'PS256'),
    want: ok(),
  },
  {
    title: 'JWT-SVID §2.3: typ JOSE is allowed',
    token: token(header(keys.es256, { typ: 'JOSE' }), claims()),
    want: ok(),
  },
  {
    title: 'JWT-SVID §2.3: typ may be absent',
    token: token(without(header(), 'typ'), claims()),
    want: ok(),
  },
  {
    title: 'JWT-SVID §3.2: aud may be a single string',
    token: token(header(), claims({ aud: AUDIENCE })),
    want: ok(),
  },
  {
    title: 'JWT-SVID §3.2: the verifier audience may be any one of several',
    token: token(header(), claims({ aud: ['spiffe://example.org/other', AUDIENCE] })),
    want: ok(),
  },
  {
    title: 'JWT-SVID Appendix A: exp just past, within the clock skew, is accepted',
    token: token(header(), claims({ exp: now - SKEW + 5 })),
    want: ok(),
  },
  {
    title: 'JWT-SVID Bundle §3: a token of a federated trust domain verifies with its own bundle',
    token: token(header(keys.partner), claims({ sub: 'spiffe://partner.example/billing' }), keys.partner),
    want: ok('spiffe://partner.example/billing'),
  },
  {
    title: 'JWT-SVID §2.1: alg none is rejected',
    token: `${json({ alg: 'none', typ: 'JWT', kid: keys.es256.kid })}.${json(claims())}.`,
    want: err('svid_bad_algorithm'),
  },
  {
    title: 'JWT-SVID §2.1: alg none with a signature is rejected',
    token: `${json({ alg: 'none', typ: 'JWT', kid: keys.es256.kid })}.${json(claims())}.${validSignature}`,
    want: err('svid_bad_algorithm'),
  },
  {
    title: 'JWT-SVID §2.1: HS256 signed with the public key bytes as HMAC secret is rejected',
    token: `${hsInput}.${b64url(createHmac('sha256', hsSecret).update(hsInput).digest())}`,
    want: err('svid_bad_algorithm'),
  },
  {
    title: 'JWT-SVID §2.1: an alg that does not fit the key is rejected',
    token: token(header(keys.es256, { alg: 'ES384' }), claims(), keys.es384, 'ES384'),
    want: err('svid_bad_algorithm'),
  },
  {
    title: 'JWT-SVID §2.1: RS256 named for an EC key is rejected',
    token: token(header(keys.es256, { alg: 'RS256' }), claims(), keys.rsa, 'RS256'),
    want: err('svid_bad_algorithm'),
  },
  {
    title: 'JWT-SVID §2: a header outside alg, kid and typ is rejected',
    token: token(header(keys.es256, { jku: 'https://attacker.example/jwks' }), claims()),
    want: err('svid_malformed'),
  },
  {
    title: 'JWT-SVID §2.3: typ other than JWT or JOSE is rejected',
    token: token(header(keys.es256, { typ: 'at+jwt' }), claims()),
    want: err('svid_malformed'),
  },
  {
    title: 'JWT-SVID §6.1: an unknown kid is rejected',
    token: token(header(keys.stranger), claims(), keys.stranger),
    want: err('svid_unknown_key'),
  },
  {
    title: 'JWT-SVID §6.1: a missing kid is rejected (a key id is required here)',
    token: token(without(header(), 'kid'), claims()),
    want: err('svid_unknown_key'),
  },
  {
    title: 'JWT-SVID §6.2: a kid of an entry with another use is not a jwt-svid key',
    token: token(header(keys.stranger, { kid: 'ignored-use' }), claims(), keys.stranger),
    want: err('svid_unknown_key'),
  },
  {
    title: 'JWT-SVID Bundle §3: a key of another trust domain does not vouch for this one',
    token: token(header(keys.es256), claims({ sub: 'spiffe://partner.example/billing' })),
    want: err('svid_unknown_key'),
  },
  {
    title: 'JWT-SVID Bundle §3: a trust domain without a bundle is foreign',
    token: token(header(), claims({ sub: 'spiffe://evil.example/web' })),
    want: err('svid_foreign_trust_domain'),
  },
  {
    title: 'JWT-SVID §4: a tampered payload fails the signature',
    token: `${validHeader}.${tamperedPayload}.${validSignature}`,
    want: err('svid_bad_signature'),
  },
  {
    title: 'JWT-SVID §4: a signature by a key not in the bundle is rejected',
    token: token(header(), claims(), keys.stranger),
    want: err('svid_bad_signature'),
  },
  {
    title: 'JWT-SVID §3.2: a token without aud is rejected',
    token: token(header(), without(claims(), 'aud')),
    want: err('svid_missing_claim'),
  },
  {
    title: 'JWT-SVID §3.2: a token with an empty aud list is rejected',
    token: token(header(), claims({ aud: [] })),
    want: err('svid_missing_claim'),
  },
  {
    title: 'JWT-SVID §3.2: a token for another audience is rejected',
    token: token(header(), claims({ aud: ['spiffe://example.org/other'] })),
    want: err('svid_bad_audience'),
  },
  {
    title: 'JWT-SVID §3.2: the audience must match exactly',
    token: token(header(), claims({ aud: ['spiffe://example.org/api/'] })),
    want: err('svid_bad_audience'),
  },
  {
    title: 'JWT-SVID §3.3: a token without exp is rejected',
    token: token(header(), without(claims(), 'exp')),
    want: err('svid_missing_claim'),
  },
  {
    title: 'JWT-SVID §3.3: a non-numeric exp is malformed',
    token: token(header(), claims({ exp: String(now + 240) })),
    want: err('svid_malformed'),
  },
  {
    title: 'JWT-SVID Appendix A: an expired token is rejected',
    token: token(header(), claims({ iat: now - 400, exp: now - SKEW - 1 })),
    want: err('svid_expired'),
  },
  {
    title: 'JWT-SVID Appendix A: exp exactly at now minus the skew is expired',
    token: token(header(), claims({ exp: now - SKEW })),
    want: err('svid_expired'),
  },
  {
    title: 'RFC 7519 §4.1.5: a token before its nbf is not yet valid',
    token: token(header(), claims({ nbf: now + 120 })),
    want: err('svid_not_yet_valid'),
  },
  {
    title: 'RFC 7519 §4.1.5: nbf within the clock skew is accepted',
    token: token(header(), claims({ nbf: now + 10 })),
    want: ok(),
  },
  {
    title: 'JWT-SVID §3.1: a token without sub is rejected',
    token: token(header(), without(claims(), 'sub')),
    want: err('svid_missing_claim'),
  },
  {
    title: 'JWT-SVID §3.1: a sub that is not a SPIFFE ID is malformed',
    token: token(header(), claims({ sub: 'https://example.org/web' })),
    want: err('svid_malformed'),
  },
  {
    title: 'JWT-SVID §3.1: a sub with upper case in the trust domain is malformed',
    token: token(header(), claims({ sub: 'spiffe://Example.org/web' })),
    want: err('svid_malformed'),
  },
  {
    title: 'JWT-SVID §7.1: a revoked jti is rejected',
    token: token(header(), claims({ jti: 'jti-revoked' })),
    want: err('svid_revoked'),
  },
  {
    title: 'JWT-SVID §7.1: a token of a revoked identity issued before the revocation is rejected',
    token: token(header(), claims({ sub: 'spiffe://example.org/revoked-workload', iat: now - 60 })),
    want: err('svid_revoked'),
  },
  {
    title: 'JWT-SVID §7.1: a token of a revoked identity issued after the revocation is accepted',
    token: token(header(), claims({ sub: 'spiffe://example.org/revoked-workload', iat: now - 10 })),
    want: ok('spiffe://example.org/revoked-workload'),
  },
  {
    title: 'JWT-SVID §5.1: two segments are malformed',
    token: `${validHeader}.${validPayload}`,
    want: err('svid_malformed'),
  },
  {
    title: 'JWT-SVID §5.1: five segments (a JWE) are malformed',
    token: `${validHeader}.${validPayload}.${validSignature}.x.y`,
    want: err('svid_malformed'),
  },
  {
    title: 'JWT-SVID §5.1: a header that is not base64url is malformed',
    token: `${validHeader.slice(0, 10)}*${validHeader.slice(11)}.${validPayload}.${validSignature}`,
    want: err('svid_malformed'),
  },
  {
    title: 'JWT-SVID §5.1: padded base64 is not base64url',
    token: `${validHeader}==.${validPayload}.${validSignature}`,
    want: err('svid_malformed'),
  },
  {
    title: 'JWT-SVID §5.1: a header that is not JSON is malformed',
    token: `${b64url('{"alg":"ES256",')}.${validPayload}.${validSignature}`,
    want: err('svid_malformed'),
  },
  {
    title: 'JWT-SVID §5.1: a payload that is not a JSON object is malformed',
    token: token(header(), ['spiffe://example.org/web']),
    want: err('svid_malformed'),
  },
  {
    title: 'JWT-SVID §5.1: an empty signature is malformed',
    token: `${validHeader}.${validPayload}.`,
    want: err('svid_malformed'),
  },
  {
    title: 'JWT-SVID §5: a token over 8 KiB is rejected before parsing',
    token: token(header(), claims({ padding: 'x'.repeat(8 * 1024) })),
    want: err('svid_oversized'),
  },
  {
    title: 'JWT-SVID §5: an oversized token of garbage is rejected as oversized, not malformed',
    token: '#'.repeat(8 * 1024 + 1),
    want: err('svid_oversized'),
  },
];

const vectors = {
  note: 'Generated by scripts/gen-jwt-svid-vectors.mjs; each case is verified at `now` with `audience` unless it names its own, a clock skew of 30 s, the `bundles` by trust domain and the `revocations`.',
  now: NOW,
  audience: AUDIENCE,
  clockSkewSeconds: SKEW,
  bundles,
  revocations,
  cases,
};

mkdirSync(new URL('.', out), { recursive: true });
// Written as Prettier formats it, so `prettier --check` passes on a fresh regeneration.
const options = { ...(await prettier.resolveConfig(out.pathname)), filepath: out.pathname };
writeFileSync(out, await prettier.format(JSON.stringify(vectors), options));
console.log(`wrote ${cases.length} cases to ${out.pathname}`);
