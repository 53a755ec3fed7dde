/**
 * The identity authority in process: a real SQLite store (in memory, or a
 * file when a test reopens it), real keys and signatures, and a fake clock
 * the tests move by hand. Each block follows one promise of docs/identity.md.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, X509Certificate, type KeyObject } from 'node:crypto';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { GatehouseError } from '../../../src/core/errors.js';
import type { OidcIssuer } from '../../../src/core/identity/attestation-records.js';
import {
  IdentityAuthority,
  type AttestResult,
  type OidcKeySource,
} from '../../../src/core/identity/authority.js';
import type { GrantScope } from '../../../src/core/identity/grant.js';
import { issueJwtSvid } from '../../../src/core/identity/jwt-svid.js';
import { identitySettings, type IdentitySettings } from '../../../src/core/identity/settings.js';
import type { Clock, IdentityStore } from '../../../src/core/ports.js';
import { openSqliteIdentityStore } from '../../../src/store/index.js';
import { csrFor } from '../../support/csr.js';

const T0 = Date.parse('2026-01-01T00:00:00.000Z');
const TD = 'acme.corp';
const MINUTE = 60;
const HOUR = 3600;
const ORDERS = 'spiffe://acme.corp/ns/shop/orders';
const CONTROL_PLANE = 'spiffe://acme.corp/gatehouse';

/** A clock that moves only when told to. */
class FakeClock implements Clock {
  constructor(public ms = T0) {}
  now(): number {
    return this.ms;
  }
  advance(seconds: number): void {
    this.ms += seconds * 1000;
  }
}

interface Harness {
  authority: IdentityAuthority;
  store: IdentityStore;
  clock: FakeClock;
}

let tmp: string;
let files = 0;
const dbFile = () => join(tmp, `identity-${++files}.db`);
// Every store a test opens; closing twice is allowed.
const opened: IdentityStore[] = [];
before(() => {
  tmp = mkdtempSync(join(tmpdir(), 'gatehouse-authority-'));
});
after(async () => {
  for (const store of opened) await store.close();
  rmSync(tmp, { recursive: true, force: true });
});

async function open(
  options: {
    settings?: Partial<IdentitySettings>;
    file?: string;
    clock?: FakeClock;
    oidcKeys?: OidcKeySource;
  } = {},
): Promise<Harness> {
  const clock = options.clock ?? new FakeClock();
  const store = await openSqliteIdentityStore(options.file ?? ':memory:');
  opened.push(store);
  const authority = await IdentityAuthority.open({
    store,
    clock,
    settings: identitySettings({ trustDomain: TD, ...options.settings }),
    ...(options.oidcKeys ? { oidcKeys: options.oidcKeys } : {}),
  });
  return { authority, store, clock };
}

function code(expected: string) {
  return (e: unknown) => {
    assert.ok(e instanceof GatehouseError, String(e));
    assert.equal(e.code, expected, e.message);
    return true;
  };
}

const segment = (token: string, i: number) =>
  JSON.parse(Buffer.from(token.split('.')[i]!, 'base64url').toString('utf8')) as Record<string, unknown>;
const kidOf = (token: string) => segment(token, 0).kid as string;
const claimsOf = (token: string) => segment(token, 1);
const seconds = (iso: string) => Date.parse(iso) / 1000;

/** An entry that attests with a join token. */
async function joinTokenEntry(authority: IdentityAuthority, path = '/ns/shop/checkout', extra: object = {}) {
  const entry = await authority.createEntry({
    spiffeId: `spiffe://${TD}${path}`,
    kind: 'service',
    attestation: [{ type: 'join-token' }],
    ...extra,
  });
  return entry;
}

async function attestWithJoinToken(
  authority: IdentityAuthority,
  entryId: string,
  options: Parameters<IdentityAuthority['attestJoinToken']>[1] = {},
): Promise<AttestResult> {
  const { token } = await authority.createJoinToken(entryId);
  return authority.attestJoinToken(token, options);
}

/**
 * The chain a TLS client presenting `chainPem` hands the server (DER, leaf
 * first): what `renewWithX509` takes, as the server reads it off the handshake.
 */
function handshakeChain(chainPem: string): Buffer[] {
  return (chainPem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map(
    (pem) => new X509Certificate(pem).raw,
  );
}

describe('IdentityAuthority: entries', () => {
  test('a SPIFFE ID registered twice is refused, naming the entry that holds it', async () => {
    const { authority } = await open();
    const first = await joinTokenEntry(authority);
    await assert.rejects(joinTokenEntry(authority), (e: unknown) => {
      assert.ok(e instanceof GatehouseError);
      assert.equal(e.code, 'store_conflict');
      assert.equal(
        e.message,
        `cannot create entry: \`spiffe://${TD}/ns/shop/checkout\` is already registered as entry \`${first.id}\` (active)`,
      );
      return true;
    });
    assert.equal((await authority.listEntries()).length, 1);
  });

  test('a join token stops with its entry: disabled since (even if enabled again), or no longer attesting by token', async () => {
    const { authority, clock } = await open();
    const entry = await joinTokenEntry(authority);
    const before = await authority.createJoinToken(entry.id);
    clock.advance(1);
    await authority.setEntryStatus(entry.id, 'disabled');
    clock.advance(1);
    await authority.setEntryStatus(entry.id, 'active');
    clock.advance(1);
    await assert.rejects(authority.attestJoinToken(before.token), code('attestation_failed'));
    const after = await authority.createJoinToken(entry.id);
    clock.advance(1);
    assert.equal(
      (await authority.attestJoinToken(after.token)).entryId,
      entry.id,
      'a token made since works',
    );
    const unwanted = await authority.createJoinToken(entry.id);
    await authority.updateEntry(entry.id, { attestation: [] });
    await assert.rejects(authority.attestJoinToken(unwanted.token), code('attestation_failed'));
  });

  test('a bad CSR is refused before the join token is spent and before anything is minted', async () => {
    const { authority, store } = await open();
    const entry = await joinTokenEntry(authority);
    const { token } = await authority.createJoinToken(entry.id);
    const bad = '-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n';
    await assert.rejects(authority.attestJoinToken(token, { csrPem: bad }), code('csr_invalid'));
    assert.deepEqual(await store.listCredentials({ entryId: entry.id }), [], 'nothing minted');
    assert.equal((await authority.attestJoinToken(token)).entryId, entry.id, 'the token is still good');
  });

  test('an issue the entry was disabled under is revoked and not handed out, JWT-SVID and X.509-SVID', async () => {
    for (const kind of ['jwt', 'x509'] as const) {
      const clock = new FakeClock();
      const real = await openSqliteIdentityStore(':memory:');
      opened.push(real);
      // The disable lands between the check that the entry is active and the minting, and the
      // minting reads a later clock: its revocation covers credentials issued up to its time only.
      let disableBetween: (() => Promise<void>) | undefined;
      const store: IdentityStore = Object.create(real) as IdentityStore;
      store.getEntry = async (id) => {
        const entry = await real.getEntry(id);
        const disable = disableBetween;
        disableBetween = undefined;
        if (disable) await disable();
        return entry;
      };
      const authority = await IdentityAuthority.open({
        store,
        clock,
        settings: identitySettings({ trustDomain: TD }),
      });
      const entry = await joinTokenEntry(authority);
      disableBetween = async () => {
        await authority.setEntryStatus(entry.id, 'disabled');
        clock.advance(2);
      };
      const issuing =
        kind === 'jwt' ? authority.issueJwtSvid(entry.id, [ORDERS]) : authority.issueX509Svid(entry.id);
      await assert.rejects(issuing, code('entry_inactive'), kind);
      const [issued] = await real.listCredentials({ entryId: entry.id });
      assert.ok(issued, `the ${kind} credential was minted and recorded`);
      assert.ok(Date.parse(issued.issuedAt) > Date.parse((await real.listRevocations())[0]!.revokedAt));
      assert.ok(
        (await real.listRevocations()).some((r) => r.target === 'credential' && r.value === issued.id),
        'revoked by itself',
      );
    }
  });
});

// ---- 1. OIDC federation ----------------------------------------------------------------------------

const ISS = 'https://ci.example';
const CI_AUDIENCE = 'gatehouse';
const DEPLOY = 'spiffe://acme.corp/ci/shop-deploy';

interface IssuerKey {
  privateKey: CryptoKey;
  jwk: JWK;
  alg: string;
  kid: string;
}

async function issuerKey(alg: 'ES256' | 'RS256', kid: string): Promise<IssuerKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' }, alg, kid };
}

/** A CI token as the issuer would sign it, valid for five minutes from `nowMs`. */
async function ciToken(key: IssuerKey, nowMs: number, claims: Record<string, unknown> = {}): Promise<string> {
  const s = Math.floor(nowMs / 1000);
  return new SignJWT({
    iss: ISS,
    aud: CI_AUDIENCE,
    sub: 'repo:acme/shop:ref:refs/heads/main',
    repository: 'acme/shop',
    ref: 'refs/heads/main',
    iat: s,
    exp: s + 5 * MINUTE,
    ...claims,
  })
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT' })
    .sign(key.privateKey);
}

describe('IdentityAuthority: OIDC federation', () => {
  let es: IssuerKey;
  let rs: IssuerKey;
  let stranger: IssuerKey;
  before(async () => {
    es = await issuerKey('ES256', 'ci-es');
    rs = await issuerKey('RS256', 'ci-rs');
    stranger = await issuerKey('ES256', 'ci-es');
  });

  async function federated(): Promise<Harness & { entryId: string }> {
    const h = await open();
    await h.authority.trustOidcIssuer({ issuer: ISS, jwks: { keys: [es.jwk, rs.jwk] } });
    // An entry that does not federate, so there is something to choose from.
    await joinTokenEntry(h.authority, '/ns/shop/checkout');
    const entry = await h.authority.createEntry({
      spiffeId: DEPLOY,
      kind: 'ci-pipeline',
      attestation: [
        {
          type: 'oidc',
          issuer: ISS,
          audience: CI_AUDIENCE,
          claims: { repository: 'acme/shop', ref: 'refs/heads/*' },
        },
      ],
    });
    return { ...h, entryId: entry.id };
  }

  test('a token whose claims match gets SVIDs for the matching entry (ES256 and RS256)', async () => {
    const { authority, entryId, clock } = await federated();
    for (const key of [es, rs]) {
      const result = await authority.attestOidc(await ciToken(key, clock.now()), { audience: [ORDERS] });
      assert.equal(result.via, 'oidc');
      assert.equal(result.spiffeId, DEPLOY);
      assert.equal(result.entryId, entryId);
      assert.deepEqual(result.jwtSvid?.audience, [CONTROL_PLANE]);
      assert.deepEqual(result.audienceJwtSvid?.audience, [ORDERS]);
      const verified = await authority.verifyJwtSvid(result.audienceJwtSvid!.token, ORDERS);
      assert.equal(verified.spiffeId, DEPLOY);
      assert.equal((await authority.verifyX509Svid(result.x509Svid!.chainPem)).spiffeId, DEPLOY);
    }
    assert.ok((await authority.getEntry(entryId))?.lastSeenAt, 'attestation moves lastSeenAt');
  });

  test('claims that do not match every condition get attestation_failed', async () => {
    const { authority, clock } = await federated();
    for (const claims of [
      { ref: 'refs/tags/v1.0.0' },
      // `*` never crosses `/`.
      { ref: 'refs/heads/feature/x' },
      { repository: 'acme/shop-fork' },
      { repository: undefined },
      { ref: ['refs/heads/main'] },
    ]) {
      await assert.rejects(
        authority.attestOidc(await ciToken(es, clock.now(), claims)),
        (e: unknown) => {
          code('attestation_failed')(e);
          // What the entries want is not told to a caller that is not yet anyone.
          const told = JSON.stringify((e as GatehouseError).problems);
          assert.doesNotMatch(told, /: want /, told);
          return true;
        },
        JSON.stringify(claims),
      );
    }
  });

  test('a JWKS URL must be HTTPS, but on this machine', async () => {
    const { authority } = await open();
    for (const jwksUri of [
      'http://ci.example/jwks',
      'ftp://ci.example/jwks',
      'http://127.0.0.1.evil.example/jwks',
    ])
      await assert.rejects(
        authority.trustOidcIssuer({ issuer: ISS, jwksUri }),
        code('entry_invalid'),
        jwksUri,
      );
    for (const jwksUri of ['https://ci.example/jwks', 'http://127.0.0.1:9000/jwks', 'http://localhost/jwks'])
      await authority.trustOidcIssuer({ issuer: `${ISS}/${encodeURIComponent(jwksUri)}`, jwksUri });
  });

  test('wrong audience, expiry, a foreign key, `none` and HS256, unknown issuer: attestation_failed', async () => {
    const { authority, clock } = await federated();
    const now = clock.now();
    const cases: [string, Promise<string>][] = [
      ['wrong audience', ciToken(es, now, { aud: 'someone-else' })],
      ['expired', ciToken(es, now - HOUR * 1000)],
      ['issued in the future', ciToken(es, now + HOUR * 1000)],
      ['signed by another key under the same kid', ciToken(stranger, now)],
      ['unknown issuer', ciToken(es, now, { iss: 'https://other.example' })],
      ['issuer differing in case', ciToken(es, now, { iss: 'https://CI.example' })],
      [
        'alg none',
        (async () => {
          const good = await ciToken(es, now);
          const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
          return `${header}.${good.split('.')[1]}.`;
        })(),
      ],
      [
        'HS256 keyed with the issuer JWK',
        new SignJWT({
          iss: ISS,
          aud: CI_AUDIENCE,
          repository: 'acme/shop',
          ref: 'refs/heads/main',
          iat: Math.floor(now / 1000),
          exp: Math.floor(now / 1000) + 300,
        })
          .setProtectedHeader({ alg: 'HS256', kid: es.kid })
          .sign(new TextEncoder().encode(JSON.stringify(es.jwk))),
      ],
      ['not a JWT', Promise.resolve('not-a-jwt')],
    ];
    for (const [why, token] of cases) {
      await assert.rejects(authority.attestOidc(await token), code('attestation_failed'), why);
    }
    assert.equal((await authority.inventory()).credentials.length, 0, 'nothing was issued');
  });

  test('an attestation reads only the active entries that federate with the token issuer', async () => {
    const { authority, store, clock } = await federated();
    for (let i = 0; i < 20; i++) await joinTokenEntry(authority, `/ns/batch/job-${i}`);
    const read: string[] = [];
    const list = store.listEntries.bind(store);
    store.listEntries = async (filter) => {
      const entries = await list(filter);
      read.push(...entries.map((e) => e.spiffeId));
      return entries;
    };
    assert.equal((await authority.attestOidc(await ciToken(es, clock.now()))).spiffeId, DEPLOY);
    assert.deepEqual(read, [DEPLOY], 'not the 21 entries that attest with join tokens');
  });

  test('two entries federating with one issuer: `spiffeId` picks one; a disabled entry is never chosen', async () => {
    const { authority, clock } = await federated();
    const release = await authority.createEntry({
      spiffeId: 'spiffe://acme.corp/ci/shop-release',
      kind: 'ci-pipeline',
      attestation: [
        {
          type: 'oidc',
          issuer: ISS,
          audience: CI_AUDIENCE,
          claims: { repository: 'acme/shop', ref: ['refs/heads/main', 'refs/tags/*'] },
        },
      ],
    });
    const token = await ciToken(es, clock.now());
    assert.equal((await authority.attestOidc(token, { spiffeId: DEPLOY })).spiffeId, DEPLOY);
    const picked = await authority.attestOidc(token, { spiffeId: release.spiffeId });
    assert.equal(picked.spiffeId, release.spiffeId);
    assert.equal(picked.entryId, release.id);
    // A tag matches only the release entry, whatever is asked.
    const tag = await ciToken(es, clock.now(), { ref: 'refs/tags/v2' });
    assert.equal((await authority.attestOidc(tag)).spiffeId, release.spiffeId);
    await assert.rejects(authority.attestOidc(tag, { spiffeId: DEPLOY }), code('attestation_failed'));
    // `spiffeId` of an entry that does not federate at all.
    await assert.rejects(
      authority.attestOidc(token, { spiffeId: 'spiffe://acme.corp/ns/shop/checkout' }),
      code('attestation_failed'),
    );

    await authority.setEntryStatus(release.id, 'disabled');
    await assert.rejects(authority.attestOidc(tag), code('attestation_failed'));
    await assert.rejects(
      authority.attestOidc(token, { spiffeId: release.spiffeId }),
      code('attestation_failed'),
    );
    assert.equal((await authority.attestOidc(token)).spiffeId, DEPLOY, 'the disabled one is skipped');
  });

  test('an issuer registered by `jwksUri` gets its keys from the key source port', async () => {
    const asked: OidcIssuer[] = [];
    const source: OidcKeySource = {
      jwksFor: (issuer) => {
        asked.push(issuer);
        return Promise.resolve({ keys: [es.jwk] });
      },
    };
    const { authority, clock } = await open({ oidcKeys: source });
    await authority.trustOidcIssuer({ issuer: ISS, jwksUri: 'https://ci.example/.well-known/jwks' });
    await authority.createEntry({
      spiffeId: DEPLOY,
      kind: 'ci-pipeline',
      attestation: [
        { type: 'oidc', issuer: ISS, audience: CI_AUDIENCE, claims: { repository: 'acme/shop' } },
      ],
    });
    const result = await authority.attestOidc(await ciToken(es, clock.now()));
    assert.equal(result.spiffeId, DEPLOY);
    assert.equal(asked.length, 1);
    assert.equal(asked[0]!.issuer, ISS);
    assert.equal(asked[0]!.jwksUri, 'https://ci.example/.well-known/jwks');
    // The key source only knows the ES256 key: an RS256 token has no key.
    await assert.rejects(authority.attestOidc(await ciToken(rs, clock.now())), code('attestation_failed'));

    // Without a key source, an issuer registered by URL cannot be used.
    const bare = await open();
    await bare.authority.trustOidcIssuer({ issuer: ISS, jwksUri: 'https://ci.example/.well-known/jwks' });
    await bare.authority.createEntry({
      spiffeId: DEPLOY,
      kind: 'ci-pipeline',
      attestation: [
        { type: 'oidc', issuer: ISS, audience: CI_AUDIENCE, claims: { repository: 'acme/shop' } },
      ],
    });
    await assert.rejects(
      bare.authority.attestOidc(await ciToken(es, bare.clock.now())),
      code('attestation_failed'),
    );
  });
});

// ---- 2. Renewal ------------------------------------------------------------------------------------

describe('IdentityAuthority: renewal', () => {
  test('renewWithJwt with the control-plane JWT-SVID gives fresh SVIDs', async () => {
    const { authority, clock } = await open();
    const entry = await joinTokenEntry(authority);
    const first = await attestWithJoinToken(authority, entry.id, { audience: [ORDERS] });
    clock.advance(MINUTE);
    const renewed = await authority.renewWithJwt(first.jwtSvid!.token, { audience: [ORDERS] });
    assert.equal(renewed.via, 'renewal');
    assert.equal(renewed.spiffeId, entry.spiffeId);
    assert.equal(renewed.entryId, entry.id);
    assert.notEqual(renewed.jwtSvid!.jti, first.jwtSvid!.jti);
    assert.ok(renewed.jwtSvid!.expiresAt > first.jwtSvid!.expiresAt);
    assert.notEqual(renewed.x509Svid!.serial, first.x509Svid!.serial);
    await authority.verifyJwtSvid(renewed.jwtSvid!.token, CONTROL_PLANE);
    await authority.verifyJwtSvid(renewed.audienceJwtSvid!.token, ORDERS);
    await authority.verifyX509Svid(renewed.x509Svid!.chainPem);
    const credentials = await authority.inventory();
    assert.deepEqual(
      credentials.credentials.map((c) => c.via),
      ['join-token', 'join-token', 'join-token', 'renewal', 'renewal', 'renewal'],
    );
  });

  test('renewWithJwt refuses a token for another audience, an expired one, and a revoked identity', async () => {
    const { authority, clock } = await open();
    const entry = await joinTokenEntry(authority);
    const other = await authority.issueJwtSvid(entry.id, [ORDERS]);
    await assert.rejects(authority.renewWithJwt(other.token), code('svid_bad_audience'));

    const first = await attestWithJoinToken(authority, entry.id);
    clock.advance(10 * MINUTE);
    await assert.rejects(authority.renewWithJwt(first.jwtSvid!.token), code('svid_expired'));

    const second = await attestWithJoinToken(authority, entry.id);
    clock.advance(MINUTE);
    await authority.revoke({ target: 'identity', value: entry.spiffeId, reason: 'leaked' });
    await assert.rejects(authority.renewWithJwt(second.jwtSvid!.token), code('svid_revoked'));
  });

  test('renewWithJwt refuses a grant credential and an entry that is no longer active', async () => {
    const { authority, clock } = await open();
    const entry = await joinTokenEntry(authority);
    const { jwtSvid: grantSvid } = await authority.startGrant({
      entry: entry.id,
      task: 'INC-1',
      scope: { service: ORDERS, methods: [], paths: [], operations: [] },
      ttlSeconds: 600,
      audience: [CONTROL_PLANE],
    });
    await assert.rejects(authority.renewWithJwt(grantSvid.token), code('attestation_failed'));

    const current = await attestWithJoinToken(authority, entry.id);
    clock.advance(1);
    await authority.updateEntry(entry.id, { expiresAt: new Date(clock.now() + 1000).toISOString() });
    clock.advance(2);
    await assert.rejects(authority.renewWithJwt(current.jwtSvid!.token), code('entry_inactive'));
  });

  test('renewWithX509 takes the chain of a TLS handshake: fresh SVIDs, for the CSR’s key or a generated one', async () => {
    const { authority, clock } = await open();
    const entry = await joinTokenEntry(authority);
    const first = await attestWithJoinToken(authority, entry.id);
    const presented = handshakeChain(first.x509Svid!.chainPem);

    clock.advance(MINUTE);
    const renewed = await authority.renewWithX509(presented);
    assert.equal(renewed.via, 'renewal');
    assert.equal(renewed.spiffeId, entry.spiffeId);
    assert.equal(renewed.entryId, entry.id);
    assert.notEqual(renewed.x509Svid!.serial, first.x509Svid!.serial);
    assert.ok(renewed.x509Svid!.privateKeyPem, 'no CSR: a generated key, as a JWT-SVID renewal gives');
    await authority.verifyX509Svid(renewed.x509Svid!.chainPem);
    await authority.verifyJwtSvid(renewed.jwtSvid!.token, CONTROL_PLANE);

    // The handshake proved the current key, so the CSR may be for a new one: the workload moves to it.
    const next = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const nextKeyPem = next.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    const moved = await authority.renewWithX509(presented, {
      csrPem: await csrFor(nextKeyPem),
      audience: [ORDERS],
    });
    assert.equal(moved.x509Svid!.privateKeyPem, undefined, 'the key stays with the workload');
    const spki = (key: KeyObject) => key.export({ type: 'spki', format: 'der' }).toString('base64');
    assert.equal(spki(new X509Certificate(moved.x509Svid!.certificatePem).publicKey), spki(next.publicKey));
    assert.deepEqual(moved.jwtSvid!.audience, [CONTROL_PLANE]);
    assert.deepEqual(moved.audienceJwtSvid!.audience, [ORDERS]);
    await assert.rejects(authority.renewWithX509(presented, { csrPem: 'not a CSR' }), code('csr_invalid'));
  });

  test('renewWithX509 refuses an expired or revoked SVID, one of another trust domain, and an inactive entry', async () => {
    const { authority, clock } = await open();
    const entry = await joinTokenEntry(authority);

    const expiring = await attestWithJoinToken(authority, entry.id);
    clock.advance(2 * HOUR);
    await assert.rejects(
      authority.renewWithX509(handshakeChain(expiring.x509Svid!.chainPem)),
      code('svid_expired'),
    );

    const revoked = await attestWithJoinToken(authority, entry.id);
    await authority.revoke({ target: 'credential', value: revoked.x509Svid!.serial });
    await assert.rejects(
      authority.renewWithX509(handshakeChain(revoked.x509Svid!.chainPem)),
      code('svid_revoked'),
    );

    const elsewhere = await open({ clock, settings: { trustDomain: 'other.example' } });
    const stranger = await attestWithJoinToken(
      elsewhere.authority,
      (
        await elsewhere.authority.createEntry({
          spiffeId: 'spiffe://other.example/ns/shop/checkout',
          kind: 'service',
          attestation: [{ type: 'join-token' }],
        })
      ).id,
    );
    await assert.rejects(
      authority.renewWithX509(handshakeChain(stranger.x509Svid!.chainPem)),
      code('svid_foreign_trust_domain'),
    );

    const current = await attestWithJoinToken(authority, entry.id);
    await authority.updateEntry(entry.id, { expiresAt: new Date(clock.now() + 1000).toISOString() });
    clock.advance(2);
    await assert.rejects(
      authority.renewWithX509(handshakeChain(current.x509Svid!.chainPem)),
      code('entry_inactive'),
    );
    assert.deepEqual(
      (await authority.inventory()).credentials.filter((c) => c.via === 'renewal'),
      [],
      'nothing was issued',
    );
  });
});

// ---- 2b. The control plane's audience goes alone ---------------------------------------------------

describe("IdentityAuthority: the control plane's audience goes alone", () => {
  test('attestation and renewal answer a JWT-SVID for the control plane and one for the audiences asked', async () => {
    const { authority, clock } = await open();
    const entry = await joinTokenEntry(authority);
    const first = await attestWithJoinToken(authority, entry.id, { audience: [ORDERS] });
    assert.deepEqual(first.jwtSvid!.audience, [CONTROL_PLANE]);
    assert.deepEqual(claimsOf(first.jwtSvid!.token).aud, [CONTROL_PLANE]);
    assert.deepEqual(first.audienceJwtSvid!.audience, [ORDERS]);
    assert.deepEqual(claimsOf(first.audienceJwtSvid!.token).aud, [ORDERS]);
    assert.notEqual(first.audienceJwtSvid!.jti, first.jwtSvid!.jti);

    // Each token works where it is for, and nowhere else.
    await authority.verifyJwtSvid(first.jwtSvid!.token, CONTROL_PLANE);
    await authority.verifyJwtSvid(first.audienceJwtSvid!.token, ORDERS);
    await assert.rejects(authority.verifyJwtSvid(first.jwtSvid!.token, ORDERS), code('svid_bad_audience'));
    await assert.rejects(
      authority.verifyJwtSvid(first.audienceJwtSvid!.token, CONTROL_PLANE),
      code('svid_bad_audience'),
    );
    await assert.rejects(authority.renewWithJwt(first.audienceJwtSvid!.token), code('svid_bad_audience'));

    clock.advance(MINUTE);
    const renewed = await authority.renewWithJwt(first.jwtSvid!.token, { audience: [ORDERS, ORDERS] });
    assert.deepEqual(renewed.jwtSvid!.audience, [CONTROL_PLANE]);
    assert.deepEqual(renewed.audienceJwtSvid!.audience, [ORDERS]);

    // Nothing asked, or the control plane alone: its JWT-SVID is the one answer.
    const plain = await attestWithJoinToken(authority, entry.id);
    assert.deepEqual(plain.jwtSvid!.audience, [CONTROL_PLANE]);
    assert.equal(plain.audienceJwtSvid, undefined);
    const own = await attestWithJoinToken(authority, entry.id, { audience: [CONTROL_PLANE] });
    assert.deepEqual(own.jwtSvid!.audience, [CONTROL_PLANE]);
    assert.equal(own.audienceJwtSvid, undefined);
  });

  test('an audience that mixes the control plane with others is refused at issuance', async () => {
    const { authority } = await open();
    const entry = await joinTokenEntry(authority);
    const mixed = [ORDERS, CONTROL_PLANE];
    const refused = (e: unknown) => {
      code('request_invalid')(e);
      assert.match((e as Error).message, /mixes the control plane `spiffe:\/\/acme\.corp\/gatehouse`/);
      return true;
    };
    await assert.rejects(authority.issueJwtSvid(entry.id, mixed), refused);
    await assert.rejects(authority.issueJwtSvid(entry.id, [CONTROL_PLANE, ORDERS]), refused);
    await assert.rejects(authority.checkAttestOptions({ audience: mixed }), refused);
    await authority.checkAttestOptions({ audience: [ORDERS] });
    await assert.rejects(
      authority.startGrant({
        entry: entry.id,
        task: 'INC-2',
        scope: { service: ORDERS, methods: [], paths: [], operations: [] },
        ttlSeconds: 600,
        audience: mixed,
      }),
      refused,
    );
    const current = await attestWithJoinToken(authority, entry.id);
    const before = (await authority.inventory()).credentials.length;
    await assert.rejects(authority.renewWithJwt(current.jwtSvid!.token, { audience: mixed }), refused);
    await assert.rejects(
      authority.renewWithX509(handshakeChain(current.x509Svid!.chainPem), { audience: mixed }),
      refused,
    );
    assert.equal((await authority.inventory()).credentials.length, before, 'nothing was issued');
    // Either side alone is fine.
    assert.deepEqual((await authority.issueJwtSvid(entry.id, [CONTROL_PLANE])).audience, [CONTROL_PLANE]);
    assert.deepEqual((await authority.issueJwtSvid(entry.id, [ORDERS])).audience, [ORDERS]);
  });

  test('a JWT-SVID issued before the rule, for a service and the control plane, is refused by both', async () => {
    const { authority, clock } = await open();
    const entry = await joinTokenEntry(authority);
    const key = authority.signingKeys().find((k) => k.use === 'jwt-svid' && k.state === 'active')!;
    // As issueForAttestation signed it before: the asked audience and the control plane's.
    const legacy = (
      await issueJwtSvid({
        spiffeId: entry.spiffeId,
        audience: [ORDERS, CONTROL_PLANE],
        key,
        now: clock.now(),
      })
    ).token;
    await assert.rejects(authority.verifyJwtSvid(legacy, ORDERS), (e: unknown) => {
      code('svid_bad_audience')(e);
      assert.match((e as Error).message, /a control-plane JWT-SVID is not for services/);
      return true;
    });
    await assert.rejects(authority.verifyJwtSvid(legacy, CONTROL_PLANE), code('svid_bad_audience'));
    await assert.rejects(authority.renewWithJwt(legacy), code('svid_bad_audience'));
    // The same key, one audience: verifies.
    const single = await issueJwtSvid({
      spiffeId: entry.spiffeId,
      audience: [ORDERS],
      key,
      now: clock.now(),
    });
    assert.equal((await authority.verifyJwtSvid(single.token, ORDERS)).spiffeId, entry.spiffeId);
  });
});

// ---- 3. Keys at rest -------------------------------------------------------------------------------

describe('IdentityAuthority: keys at rest', () => {
  const PASSPHRASE = 'correct horse battery staple';

  test('with a passphrase, private keys are sealed and the store reopens with it', async () => {
    const file = dbFile();
    const first = await open({ file, settings: { keyPassphrase: PASSPHRASE } });
    const keys = await first.store.listSigningKeys();
    assert.equal(keys.length, 2);
    for (const k of keys) {
      assert.ok(k.privateKey.startsWith('enc:v1:'), `${k.use} key is sealed`);
      assert.doesNotMatch(k.privateKey, /PRIVATE KEY/);
    }
    const entry = await joinTokenEntry(first.authority);
    const earlier = await attestWithJoinToken(first.authority, entry.id);
    await first.store.close();

    const again = await open({ file, clock: first.clock, settings: { keyPassphrase: PASSPHRASE } });
    assert.deepEqual(
      (await again.store.listSigningKeys()).map((k) => k.kid).sort(),
      keys.map((k) => k.kid).sort(),
      'the same keys, none created',
    );
    assert.equal(
      (await again.authority.verifyJwtSvid(earlier.jwtSvid!.token, CONTROL_PLANE)).spiffeId,
      entry.spiffeId,
    );
    await again.authority.verifyX509Svid(earlier.x509Svid!.chainPem);
    const later = await again.authority.issueJwtSvid(entry.id, [ORDERS]);
    assert.equal(kidOf(later.token), kidOf(earlier.jwtSvid!.token));
  });

  for (const [label, passphrase, expected] of [
    ['no passphrase', undefined, 'key_passphrase_required'],
    ['a wrong passphrase', 'wrong horse battery staple', 'key_passphrase_wrong'],
  ] as const) {
    test(`reopening with ${label} fails closed with ${expected}`, async () => {
      const file = dbFile();
      const first = await open({ file, settings: { keyPassphrase: PASSPHRASE } });
      const entry = await joinTokenEntry(first.authority);
      const { token: joinToken } = await first.authority.createJoinToken(entry.id);
      const sealed = await first.store.listSigningKeys();
      await first.store.close();

      const store = await openSqliteIdentityStore(file);
      opened.push(store);
      const clock = new FakeClock(first.clock.now());
      const settings = identitySettings({ trustDomain: TD, keyPassphrase: passphrase });
      // The authority refuses to open: nothing can attest against it, so nothing is issued and
      // no join token is spent.
      await assert.rejects(IdentityAuthority.open({ store, clock, settings }), code(expected));

      // Even when a rotation is due, no key is made under the wrong (or no) passphrase.
      clock.advance(30 * HOUR);
      await assert.rejects(IdentityAuthority.open({ store, clock, settings }), code(expected));
      assert.deepEqual(await store.listSigningKeys(), sealed, 'no key was created, changed or deleted');
      assert.deepEqual(await store.listCredentials(), [], 'nothing was issued');
      await store.close();

      // With the passphrase, the unspent join token works, and rotation seals new keys too.
      const reopened = await open({
        file,
        clock: new FakeClock(first.clock.now()),
        settings: { keyPassphrase: PASSPHRASE },
      });
      const result = await reopened.authority.attestJoinToken(joinToken);
      assert.equal(result.spiffeId, entry.spiffeId);
      reopened.clock.advance(30 * HOUR);
      assert.equal(await reopened.authority.rotateKeys(), true);
      const keys = await reopened.store.listSigningKeys();
      assert.equal(keys.filter((k) => k.state === 'next').length, 2);
      for (const k of keys) assert.ok(k.privateKey.startsWith('enc:v1:'), `${k.kid} is sealed`);
    });
  }
});

// ---- 4. Rotation -----------------------------------------------------------------------------------

describe('IdentityAuthority: key rotation with overlap', () => {
  const settings = { keyActiveLifetimeSeconds: 24 * HOUR, keyPrepublishSeconds: HOUR };
  const jwtKids = (a: IdentityAuthority) =>
    a
      .bundle()
      .keys.filter((k) => k.use === 'jwt-svid')
      .map((k) => k.kid!);
  const state = (a: IdentityAuthority, kid: string) => a.signingKeys().find((k) => k.kid === kid)?.state;

  test('a next key is published before it signs, then takes over; the old one stays while its tokens live', async () => {
    const { authority, clock, store } = await open({ settings });
    const entry = await joinTokenEntry(authority);
    const seq = () => authority.bundle().spiffe_sequence!;
    const start = seq();
    assert.ok(start >= 1);
    const [first] = jwtKids(authority);
    assert.equal(jwtKids(authority).length, 1);
    assert.equal(state(authority, first!), 'active');

    // Nothing is due: no change, no new sequence.
    clock.advance(HOUR);
    assert.equal(await authority.rotateKeys(), false);
    assert.equal(seq(), start);

    // Prepublication: a next key enters the bundle, but the old key still signs.
    clock.advance(22 * HOUR);
    assert.equal(await authority.rotateKeys(), true);
    assert.equal(seq(), start + 1);
    const kids = jwtKids(authority);
    assert.equal(kids.length, 2);
    const second = kids.find((k) => k !== first)!;
    assert.equal(state(authority, second), 'next');
    const beforeSwitch = await authority.issueJwtSvid(entry.id, [ORDERS]);
    assert.equal(kidOf(beforeSwitch.token), first);
    assert.equal(await authority.rotateKeys(), false, 'a pending key is not created twice');
    assert.equal(seq(), start + 1);

    // The active lifetime ends and the next key has been published for an hour: it becomes
    // active and the old key retires.
    clock.advance(HOUR - 2 * MINUTE);
    const lastOld = await authority.issueJwtSvid(entry.id, [ORDERS]);
    assert.equal(kidOf(lastOld.token), first);
    clock.advance(2 * MINUTE);
    assert.equal(await authority.rotateKeys(), true);
    assert.equal(seq(), start + 2);
    assert.equal(state(authority, second), 'active');
    assert.equal(state(authority, first!), 'retired');
    const afterSwitch = await authority.issueJwtSvid(entry.id, [ORDERS]);
    assert.equal(kidOf(afterSwitch.token), second);
    assert.deepEqual(jwtKids(authority).sort(), [first, second].sort());

    // The old key's last token keeps verifying until it expires; the old key stays until then.
    assert.equal(
      (await store.listSigningKeys()).find((k) => k.kid === first)?.signedUntil,
      lastOld.expiresAt,
    );
    clock.ms = Date.parse(lastOld.expiresAt) - 1000;
    assert.equal(await authority.rotateKeys(), false);
    assert.equal(seq(), start + 2);
    assert.ok(jwtKids(authority).includes(first!));
    await authority.verifyJwtSvid(lastOld.token, ORDERS);

    // At its signedUntil the old key leaves the bundle and the store.
    clock.ms = Date.parse(lastOld.expiresAt);
    assert.equal(await authority.rotateKeys(), true);
    assert.equal(seq(), start + 3);
    assert.deepEqual(jwtKids(authority), [second]);
    assert.equal(
      (await store.listSigningKeys()).some((k) => k.kid === first),
      false,
    );
    clock.advance(MINUTE);
    await assert.rejects(authority.verifyJwtSvid(lastOld.token, ORDERS), code('svid_unknown_key'));
    await authority.verifyJwtSvid(afterSwitch.token, ORDERS);

    // The sequence is kept in the store.
    assert.equal(await store.getMeta('bundle_sequence'), String(seq()));
  });

  test('the X.509 CA rotates the same way; a retired CA stays while its SVIDs live', async () => {
    const { authority, clock } = await open({ settings });
    const entry = await joinTokenEntry(authority);
    const caKids = () => authority.signingKeys().filter((k) => k.use === 'x509-svid');
    clock.advance(23 * HOUR);
    await authority.rotateKeys();
    assert.deepEqual(
      caKids().map((k) => k.state),
      ['active', 'next'],
    );
    clock.advance(59 * MINUTE);
    const svid = await authority.issueX509Svid(entry.id, { ttlSeconds: HOUR });
    clock.advance(MINUTE);
    await authority.rotateKeys();
    assert.deepEqual(
      caKids().map((k) => k.state),
      ['retired', 'active'],
    );
    assert.equal(authority.bundle().keys.filter((k) => k.use === 'x509-svid').length, 2);
    await authority.verifyX509Svid(svid.chainPem);
    clock.ms = Date.parse(svid.expiresAt);
    await authority.rotateKeys();
    assert.deepEqual(
      caKids().map((k) => k.state),
      ['active'],
    );
  });

  test('a chain given as PEM is remembered as verified, and still checked for revocation and expiry each call', async () => {
    const { authority, clock } = await open({ settings });
    const entry = await joinTokenEntry(authority);
    const other = await joinTokenEntry(authority, '/ns/shop/other');
    const [byCredential, byEntry, byExpiry] = [
      await authority.issueX509Svid(entry.id, { ttlSeconds: HOUR }),
      await authority.issueX509Svid(other.id, { ttlSeconds: HOUR }),
      await authority.issueX509Svid(entry.id, { ttlSeconds: 2 * MINUTE }),
    ];
    for (const svid of [byCredential, byEntry, byExpiry]) {
      // The same text twice: the second is answered from memory, and alike.
      const first = await authority.verifyX509Svid(svid.chainPem);
      assert.deepEqual(await authority.verifyX509Svid(`${svid.chainPem}`), first);
    }
    clock.advance(1);
    await authority.revoke({ target: 'credential', value: byCredential.serial });
    await assert.rejects(authority.verifyX509Svid(byCredential.chainPem), code('svid_revoked'));
    await authority.revoke({ target: 'entry', value: other.id });
    await assert.rejects(authority.verifyX509Svid(byEntry.chainPem), code('svid_revoked'));
    await authority.verifyX509Svid(byExpiry.chainPem);
    clock.ms = Date.parse(byExpiry.expiresAt) + 1000;
    await assert.rejects(authority.verifyX509Svid(byExpiry.chainPem), code('svid_expired'));
  });

  for (const order of ['rotation first', 'issuance first'] as const) {
    test(`SVIDs issued while a rotation runs stay verifiable (${order})`, async () => {
      const { authority, clock, store } = await open({ settings });
      const entry = await joinTokenEntry(authority);
      // The previous keys signed long ago: nothing of theirs is still valid.
      await authority.issueJwtSvid(entry.id, [ORDERS]);
      clock.advance(23 * HOUR);
      await authority.rotateKeys();
      clock.advance(HOUR);
      // The server rotates on a timer while requests are served: both run interleaved.
      const issue = () =>
        Promise.all([authority.issueJwtSvid(entry.id, [ORDERS]), authority.issueX509Svid(entry.id)]);
      const [changed, [jwt, svid]] =
        order === 'rotation first'
          ? await Promise.all([authority.rotateKeys(), issue()])
          : await Promise.all([issue(), authority.rotateKeys()]).then(([i, c]) => [c, i] as const);
      assert.equal(changed, true);
      await authority.verifyJwtSvid(jwt.token, ORDERS);
      await authority.verifyX509Svid(svid.chainPem);

      const stored = await store.listSigningKeys();
      for (const use of ['jwt-svid', 'x509-svid']) {
        assert.equal(
          stored.filter((k) => k.use === use && k.state === 'active').length,
          1,
          `one active ${use} key`,
        );
      }
      const signers = [
        [kidOf(jwt.token), jwt.expiresAt],
        [(await store.getCredential(svid.serial))!.kid, svid.expiresAt],
      ] as const;
      for (const [kid, until] of signers) {
        const key = stored.find((k) => k.kid === kid);
        assert.ok(key && key.signedUntil! >= until, `key ${kid} is kept until ${until}`);
      }
      assert.deepEqual(
        authority
          .signingKeys()
          .map((k) => `${k.kid}:${k.state}`)
          .sort(),
        stored.map((k) => `${k.kid}:${k.state}`).sort(),
        'memory and store agree',
      );
      // After a restart, too.
      const again = await IdentityAuthority.open({
        store,
        clock,
        settings: identitySettings({ trustDomain: TD, ...settings }),
      });
      await again.verifyJwtSvid(jwt.token, ORDERS);
      await again.verifyX509Svid(svid.chainPem);
    });
  }

  test('rotateKeys({force: true}) switches the signing key now, whether or not a next key waits', async () => {
    const { authority, clock } = await open({ settings });
    const entry = await joinTokenEntry(authority);
    const seq = () => authority.bundle().spiffe_sequence!;
    const [first] = jwtKids(authority);
    const before = await authority.issueJwtSvid(entry.id, [ORDERS]);

    // No next key waits: a forced rotation makes one and activates it at once.
    clock.advance(MINUTE);
    const s0 = seq();
    assert.equal(await authority.rotateKeys({ force: true }), true);
    assert.equal(seq(), s0 + 1);
    const second = authority.signingKeys().find((k) => k.use === 'jwt-svid' && k.state === 'active')!.kid;
    assert.notEqual(second, first);
    assert.equal(state(authority, first!), 'retired');
    assert.equal(kidOf((await authority.issueJwtSvid(entry.id, [ORDERS])).token), second);
    await authority.verifyJwtSvid(before.token, ORDERS);
    assert.equal(
      authority.signingKeys().filter((k) => k.state === 'active').length,
      2,
      'one active key per use',
    );
    assert.equal(
      authority.signingKeys().filter((k) => k.state === 'next').length,
      0,
      'a forced rotation rotates once',
    );

    // A next key waits (prepublication): a forced rotation activates that one.
    clock.advance(23 * HOUR + 30 * MINUTE);
    await authority.rotateKeys();
    const waiting = authority.signingKeys().find((k) => k.use === 'jwt-svid' && k.state === 'next')!.kid;
    const lastBySecond = await authority.issueJwtSvid(entry.id, [ORDERS]);
    const s1 = seq();
    assert.equal(await authority.rotateKeys({ force: true }), true);
    assert.equal(seq(), s1 + 1);
    assert.equal(state(authority, waiting), 'active');
    assert.equal(state(authority, second), 'retired');
    assert.equal(kidOf((await authority.issueJwtSvid(entry.id, [ORDERS])).token), waiting);
    await authority.verifyJwtSvid(lastBySecond.token, ORDERS);
  });
});

// ---- 5. Revocation ---------------------------------------------------------------------------------

describe('IdentityAuthority: revocation', () => {
  async function issueBoth(authority: IdentityAuthority, entryId: string) {
    return {
      jwt: await authority.issueJwtSvid(entryId, [ORDERS]),
      x509: await authority.issueX509Svid(entryId),
    };
  }
  async function valid(authority: IdentityAuthority, c: Awaited<ReturnType<typeof issueBoth>>) {
    await authority.verifyJwtSvid(c.jwt.token, ORDERS);
    await authority.verifyX509Svid(c.x509.chainPem);
  }
  async function revoked(authority: IdentityAuthority, c: Awaited<ReturnType<typeof issueBoth>>) {
    await assert.rejects(authority.verifyJwtSvid(c.jwt.token, ORDERS), code('svid_revoked'));
    await assert.rejects(authority.verifyX509Svid(c.x509.chainPem), code('svid_revoked'));
  }

  test('disable revokes, enable issues anew, disable again revokes what was issued in between', async () => {
    const { authority, clock, store } = await open();
    const entry = await joinTokenEntry(authority);
    const neighbour = await joinTokenEntry(authority, '/ns/shop/cart');
    const theirs = await issueBoth(authority, neighbour.id);
    const first = await issueBoth(authority, entry.id);
    await valid(authority, first);

    clock.advance(10);
    await authority.setEntryStatus(entry.id, 'disabled');
    await revoked(authority, first);
    await assert.rejects(authority.issueJwtSvid(entry.id, [ORDERS]), code('entry_inactive'));
    await assert.rejects(authority.createJoinToken(entry.id), code('entry_inactive'));

    clock.advance(10);
    await authority.setEntryStatus(entry.id, 'active');
    const second = await issueBoth(authority, entry.id);
    await valid(authority, second);
    await revoked(authority, first);

    clock.advance(10);
    await authority.setEntryStatus(entry.id, 'disabled');
    await revoked(authority, second);
    await revoked(authority, first);
    const byEntry = (await store.listRevocations()).find((r) => r.target === 'entry' && r.value === entry.id);
    assert.equal(byEntry?.revokedAt, new Date(clock.now()).toISOString(), 'the later revocation is kept');

    await valid(authority, theirs);
  });

  test('a single credential revocation takes back that credential only', async () => {
    const { authority } = await open();
    const entry = await joinTokenEntry(authority);
    const a = await issueBoth(authority, entry.id);
    const b = await issueBoth(authority, entry.id);
    await authority.revoke({ target: 'credential', value: a.jwt.jti, reason: 'leaked in a log' });
    await authority.revoke({ target: 'credential', value: a.x509.serial });
    await revoked(authority, a);
    await valid(authority, b);
  });

  test('offboarding is final', async () => {
    const { authority, clock } = await open();
    const entry = await joinTokenEntry(authority);
    const c = await issueBoth(authority, entry.id);
    clock.advance(1);
    await authority.setEntryStatus(entry.id, 'offboarded');
    await revoked(authority, c);
    clock.advance(1);
    await assert.rejects(authority.setEntryStatus(entry.id, 'active'), code('entry_inactive'));
    await assert.rejects(authority.setEntryStatus(entry.id, 'disabled'), code('entry_inactive'));
    await assert.rejects(authority.updateEntry(entry.id, { status: 'active' }), code('entry_inactive'));
    await assert.rejects(authority.updateEntry(entry.id, { owner: 'someone' }), code('entry_inactive'));
    await assert.rejects(authority.issueJwtSvid(entry.id, [ORDERS]), code('entry_inactive'));
    assert.equal((await authority.getEntry(entry.id))?.status, 'offboarded');
  });

  test('revocations made by one instance hold after reopening the store in another', async () => {
    const file = dbFile();
    const first = await open({ file });
    const { authority, clock } = first;
    const entry = await joinTokenEntry(authority);
    const other = await joinTokenEntry(authority, '/ns/shop/cart');
    const one = await issueBoth(authority, entry.id);
    const kept = await issueBoth(authority, other.id);
    const single = await issueBoth(authority, other.id);
    await authority.revoke({ target: 'credential', value: single.jwt.jti });
    clock.advance(10);
    await authority.setEntryStatus(entry.id, 'disabled');
    clock.advance(10);
    await authority.setEntryStatus(entry.id, 'active');
    const two = await issueBoth(authority, entry.id);
    clock.advance(10);
    await authority.setEntryStatus(entry.id, 'disabled');
    await first.store.close();

    const second = await open({ file, clock });
    await revoked(second.authority, one);
    await revoked(second.authority, two);
    await assert.rejects(second.authority.verifyJwtSvid(single.jwt.token, ORDERS), code('svid_revoked'));
    await second.authority.verifyX509Svid(single.x509.chainPem);
    await valid(second.authority, kept);
  });

  test('an X.509-SVID the store has no record of is still covered by identity revocations', async () => {
    // A store restored from a backup taken before the SVID was issued: the CA is the same, the
    // credential record is missing.
    const file = dbFile();
    const backup = dbFile();
    const first = await open({ file });
    const entry = await joinTokenEntry(first.authority);
    await first.store.close();
    copyFileSync(file, backup);
    const live = await open({ file, clock: first.clock });
    first.clock.advance(MINUTE);
    const svid = await live.authority.issueX509Svid(entry.id);
    await live.store.close();

    const restored = await open({ file: backup, clock: first.clock });
    assert.equal(await restored.store.getCredential(svid.serial), undefined);
    await restored.authority.verifyX509Svid(svid.chainPem);
    first.clock.advance(MINUTE);
    await restored.authority.revoke({ target: 'identity', value: entry.spiffeId, reason: 'compromised' });
    for (const later of [0, 1, HOUR / 2]) {
      first.clock.advance(later);
      await assert.rejects(
        restored.authority.verifyX509Svid(svid.chainPem),
        code('svid_revoked'),
        `+${later}s`,
      );
    }
    // An SVID issued after the revocation is unaffected.
    await restored.authority.verifyX509Svid((await restored.authority.issueX509Svid(entry.id)).chainPem);
  });
});

// ---- 6. JIT grants ---------------------------------------------------------------------------------

describe('IdentityAuthority: JIT grants', () => {
  const scope: GrantScope = { service: ORDERS, methods: ['GET'], paths: ['/orders/*'], operations: [] };

  test('the TTL is capped by grantMaxTtlSeconds and the scope is validated', async () => {
    const { authority } = await open({ settings: { grantMaxTtlSeconds: 2 * HOUR } });
    const entry = await joinTokenEntry(authority);
    const start = (over: object) =>
      authority.startGrant({ entry: entry.id, task: 'INC-42 backfill', scope, ttlSeconds: 600, ...over });
    await assert.rejects(start({ ttlSeconds: 2 * HOUR + 1 }), code('grant_invalid'));
    await assert.rejects(start({ ttlSeconds: 0 }), code('grant_invalid'));
    await assert.rejects(start({ ttlSeconds: 1.5 }), code('grant_invalid'));
    await assert.rejects(start({ task: '' }), code('grant_invalid'));
    for (const bad of [
      undefined,
      [],
      { methods: ['GET'] },
      { service: '' },
      { ...scope, methods: ['get'] },
      { ...scope, methods: 'GET' },
      { ...scope, paths: ['orders/*'] },
      { ...scope, paths: [''] },
      { ...scope, operations: [1] },
      { ...scope, extra: true },
    ]) {
      await assert.rejects(start({ scope: bad }), code('grant_invalid'), JSON.stringify(bad));
    }
    assert.deepEqual(await authority.listGrants(), [], 'no refused grant was stored');
    const { grant } = await start({ ttlSeconds: 2 * HOUR });
    assert.equal(grant.task, 'INC-42 backfill');
  });

  test('the grant credential lives no longer than the grant and carries its scope', async () => {
    const { authority, clock } = await open();
    const entry = await joinTokenEntry(authority);
    for (const ttlSeconds of [60, 8 * HOUR]) {
      const { grant, jwtSvid } = await authority.startGrant({
        entry: entry.id,
        task: 'INC-42 backfill',
        // As an HTTP body would give it: lists left out are filled in as empty.
        scope: {
          service: ORDERS,
          methods: ['GET'],
          paths: ['/orders/*'],
        } as Partial<GrantScope> as GrantScope,
        ttlSeconds,
      });
      assert.equal(grant.expiresAt, new Date(clock.now() + ttlSeconds * 1000).toISOString());
      assert.ok(jwtSvid.expiresAt <= grant.expiresAt, `${jwtSvid.expiresAt} <= ${grant.expiresAt}`);
      assert.ok((claimsOf(jwtSvid.token).exp as number) <= seconds(grant.expiresAt));
      assert.deepEqual(jwtSvid.audience, [ORDERS], 'the audience defaults to the scoped service');
      const verified = await authority.verifyJwtSvid(jwtSvid.token, ORDERS);
      assert.deepEqual(verified.grant, { id: grant.id, scope });
      assert.equal(verified.spiffeId, entry.spiffeId);
    }
  });

  test('revocations past their expiry are forgotten, in the store and in memory, and not loaded again', async () => {
    const file = dbFile();
    const { authority, store, clock } = await open({ file });
    await authority.revoke({ target: 'identity', value: 'spiffe://acme.corp/ns/old' });
    await authority.revoke({ target: 'identity', value: ORDERS });
    assert.equal(authority.revocationsHeld, 2);
    const { jwtSvidMaxTtlSeconds, x509SvidMaxTtlSeconds } = authority.settings;
    // Until the longest SVID lifetime and the margin for clocks have passed, nothing goes.
    clock.advance(Math.max(jwtSvidMaxTtlSeconds, x509SvidMaxTtlSeconds) + 5 * 60);
    assert.equal(await authority.pruneRevocations(), 0);
    assert.equal(authority.revocationsHeld, 2);
    clock.advance(1);
    await authority.revoke({ target: 'identity', value: 'spiffe://acme.corp/ns/new' });
    const restarted = await open({ file, clock });
    assert.equal(restarted.authority.revocationsHeld, 1, 'the outlived are not loaded');
    assert.equal(await authority.pruneRevocations(), 2);
    assert.equal(authority.revocationsHeld, 1);
    assert.deepEqual(
      (await store.listRevocations()).map((r) => r.value),
      ['spiffe://acme.corp/ns/new'],
    );
  });

  test('a revocation lasts as long as the credentials it covers, issued when lifetimes were longer', async () => {
    const file = dbFile();
    const clock = new FakeClock();
    const before = await open({ file, clock });
    const entry = await joinTokenEntry(before.authority, '/ns/shop/checkout', { jwtSvidTtlSeconds: 3600 });
    const long = await before.authority.issueJwtSvid(entry.id, [ORDERS]);
    const expires = JSON.parse(Buffer.from(long.token.split('.')[1]!, 'base64url').toString()) as {
      jti: string;
      exp: number;
    };
    // Restarted with shorter maximum lifetimes: the credential issued before keeps its hour.
    const short = { jwtSvidMaxTtlSeconds: 300, x509SvidTtlSeconds: 600, x509SvidMaxTtlSeconds: 600 };
    const { authority } = await open({ file, clock, settings: short });
    for (const [target, value] of [
      ['credential', expires.jti],
      ['entry', entry.id],
    ] as const) {
      const revocation = await authority.revoke({ target, value });
      assert.equal(revocation.expiresAt, new Date(expires.exp * 1000).toISOString(), target);
    }
    const identity = (await authority.listRevocations()).find((r) => r.target === 'identity');
    assert.equal(identity?.expiresAt, new Date(expires.exp * 1000).toISOString());
    // With nothing of the kind issued, the longest lifetime of now.
    const none = await authority.revoke({ target: 'identity', value: 'spiffe://acme.corp/ns/none' });
    assert.equal(Date.parse(none.expiresAt!) - clock.now(), 600_000);
    clock.advance(600 + 5 * 60 + 1);
    await authority.pruneRevocations();
    await assert.rejects(authority.verifyJwtSvid(long.token, ORDERS), code('svid_revoked'));
  });

  test('revocations are recorded under the form verifiers look up; one of nothing known is refused', async () => {
    const { authority } = await open();
    const entry = await joinTokenEntry(authority);
    const x = await authority.issueX509Svid(entry.id);
    // As `openssl x509 -serial` prints it: upper case, and maybe with colons and leading zeros.
    const printed = `00${x.serial.toUpperCase()}`.replace(/(..)(?!$)/g, '$1:');
    const bySerial = await authority.revoke({ target: 'credential', value: printed });
    assert.equal(bySerial.value, x.serial);
    await assert.rejects(authority.verifyX509Svid(x.chainPem), code('svid_revoked'));
    // An entry by its SPIFFE ID is the entry.
    const byId = await authority.revoke({ target: 'entry', value: entry.spiffeId });
    assert.equal(byId.value, entry.id);
    for (const [target, value] of [
      ['credential', 'no-such-jti'],
      ['credential', 'ABCDEF'],
      ['entry', 'ent_none'],
      ['grant', 'grt_none'],
    ] as const)
      await assert.rejects(
        authority.revoke({ target, value }),
        code('store_not_found'),
        `${target} ${value}`,
      );
  });

  test('endGrant revokes the grant credential at once; ending twice is fine', async () => {
    const { authority, clock } = await open();
    const entry = await joinTokenEntry(authority);
    const standing = await authority.issueJwtSvid(entry.id, [ORDERS]);
    const { grant, jwtSvid } = await authority.startGrant({
      entry: entry.id,
      task: 'INC-7',
      scope,
      ttlSeconds: 600,
    });
    await authority.verifyJwtSvid(jwtSvid.token, ORDERS);
    clock.advance(MINUTE);
    const ended = await authority.endGrant(grant.id);
    assert.equal(ended.endedAt, new Date(clock.now()).toISOString());
    await assert.rejects(authority.verifyJwtSvid(jwtSvid.token, ORDERS), code('svid_revoked'));
    clock.advance(MINUTE);
    const again = await authority.endGrant(grant.id);
    assert.equal(again.endedAt, ended.endedAt, 'the first end is kept');
    await assert.rejects(authority.verifyJwtSvid(jwtSvid.token, ORDERS), code('svid_revoked'));
    await authority.verifyJwtSvid(standing.token, ORDERS);
    await assert.rejects(authority.endGrant('grt_unknown'), code('store_not_found'));
  });

  test('a grant needs an active entry', async () => {
    const { authority } = await open();
    const entry = await joinTokenEntry(authority);
    await authority.setEntryStatus(entry.id, 'disabled');
    await assert.rejects(
      authority.startGrant({ entry: entry.id, task: 'INC-8', scope, ttlSeconds: 600 }),
      code('entry_inactive'),
    );
  });
});

// ---- 7. TTL caps -----------------------------------------------------------------------------------

describe('IdentityAuthority: SVID lifetimes', () => {
  const caps = {
    jwtSvidTtlSeconds: 300,
    jwtSvidMaxTtlSeconds: 900,
    x509SvidTtlSeconds: HOUR,
    x509SvidMaxTtlSeconds: 4 * HOUR,
  };
  const lifetime = (from: number, until: string) => (Date.parse(until) - from) / 1000;

  test('server defaults, per-entry overrides and the server maximum', async () => {
    const { authority, clock } = await open({ settings: caps });
    const plain = await joinTokenEntry(authority, '/ns/plain');
    const short = await joinTokenEntry(authority, '/ns/short', {
      jwtSvidTtlSeconds: 120,
      x509SvidTtlSeconds: 600,
    });
    const long = await joinTokenEntry(authority, '/ns/long', {
      jwtSvidTtlSeconds: 24 * HOUR,
      x509SvidTtlSeconds: 48 * HOUR,
    });
    const now = clock.now();
    const expect = [
      [plain.id, 300, HOUR],
      [short.id, 120, 600],
      [long.id, 900, 4 * HOUR],
    ] as const;
    for (const [id, jwt, x509Ttl] of expect) {
      const r = await attestWithJoinToken(authority, id);
      assert.equal(lifetime(now, r.jwtSvid!.expiresAt), jwt, `${id} JWT-SVID`);
      const exp = claimsOf(r.jwtSvid!.token).exp as number;
      assert.equal(exp - (claimsOf(r.jwtSvid!.token).iat as number), jwt);
      assert.equal(lifetime(now, r.x509Svid!.expiresAt), x509Ttl, `${id} X.509-SVID`);
      assert.equal(Date.parse(new X509Certificate(r.x509Svid!.certificatePem).validTo), now + x509Ttl * 1000);
    }
    // A requested TTL is capped by the server maximum too.
    const asked = await authority.issueJwtSvid(plain.id, [ORDERS], { ttlSeconds: 24 * HOUR });
    assert.equal(lifetime(now, asked.expiresAt), 900);
    const asked509 = await authority.issueX509Svid(plain.id, { ttlSeconds: 24 * HOUR });
    assert.equal(lifetime(now, asked509.expiresAt), 4 * HOUR);
    // And by the entry's own: a workload cannot outlive what its entry allows; shorter is fine.
    assert.equal(
      lifetime(now, (await authority.issueJwtSvid(short.id, [ORDERS], { ttlSeconds: 900 })).expiresAt),
      120,
    );
    assert.equal(
      lifetime(now, (await authority.issueX509Svid(short.id, { ttlSeconds: 4 * HOUR })).expiresAt),
      600,
    );
    assert.equal(
      lifetime(now, (await authority.issueJwtSvid(short.id, [ORDERS], { ttlSeconds: 60 })).expiresAt),
      60,
    );
  });

  test('an entry expiry cuts SVID lifetimes, and an expired entry cannot attest', async () => {
    const { authority, clock } = await open({ settings: caps });
    const expiresAt = new Date(clock.now() + 90 * 1000).toISOString();
    const entry = await joinTokenEntry(authority, '/ns/temp', { expiresAt });
    const ci = await authority.createEntry({
      spiffeId: 'spiffe://acme.corp/ci/temp',
      kind: 'ci-pipeline',
      expiresAt,
      attestation: [
        { type: 'oidc', issuer: ISS, audience: CI_AUDIENCE, claims: { repository: 'acme/shop' } },
      ],
    });
    const key = await issuerKey('ES256', 'ci-es');
    await authority.trustOidcIssuer({ issuer: ISS, jwks: { keys: [key.jwk] } });

    const r = await attestWithJoinToken(authority, entry.id);
    assert.equal(r.jwtSvid!.expiresAt, expiresAt);
    assert.equal(r.x509Svid!.expiresAt, expiresAt);
    const viaOidc = await authority.attestOidc(await ciToken(key, clock.now()));
    assert.equal(viaOidc.entryId, ci.id);
    assert.equal(viaOidc.jwtSvid!.expiresAt, expiresAt);

    clock.advance(60);
    const grant = await authority.startGrant({
      entry: entry.id,
      task: 'INC-9',
      scope: { service: ORDERS } as Partial<GrantScope> as GrantScope,
      ttlSeconds: 600,
    });
    assert.equal(grant.jwtSvid.expiresAt, expiresAt, 'a grant credential is cut by the entry expiry too');

    const { token } = await authority.createJoinToken(entry.id);
    clock.advance(30);
    await assert.rejects(authority.attestJoinToken(token), code('entry_inactive'));
    await assert.rejects(authority.createJoinToken(entry.id), code('entry_inactive'));
    await assert.rejects(authority.issueJwtSvid(entry.id, [ORDERS]), code('entry_inactive'));
    await assert.rejects(authority.attestOidc(await ciToken(key, clock.now())), code('attestation_failed'));
    // Its last JWT-SVID is still within the verifier's clock skew, but the entry is over.
    await assert.rejects(authority.renewWithJwt(r.jwtSvid!.token), code('entry_inactive'));
  });
});

describe('IdentityAuthority: other servers of the same store', () => {
  test('revocations and rotations made by one are taken up by the other on refresh', async () => {
    const file = dbFile();
    const one = await open({ file });
    const other = await open({ file, clock: one.clock });
    assert.deepEqual(await other.authority.refreshFromStore(), { revocations: 0, keys: false });
    const entry = await joinTokenEntry(one.authority);
    const jwt = await one.authority.issueJwtSvid(entry.id, [ORDERS]);
    const x509 = await one.authority.issueX509Svid(entry.id);
    await other.authority.verifyJwtSvid(jwt.token, ORDERS);

    one.clock.advance(5);
    await one.authority.setEntryStatus(entry.id, 'disabled');
    // Until the other looks, it enforces what it knew: the credential is still valid there.
    await other.authority.verifyJwtSvid(jwt.token, ORDERS);
    const taken = await other.authority.refreshFromStore();
    assert.equal(taken.keys, false);
    assert.ok(taken.revocations >= 1, `${taken.revocations}`);
    await assert.rejects(other.authority.verifyJwtSvid(jwt.token, ORDERS), code('svid_revoked'));
    await assert.rejects(other.authority.verifyX509Svid(x509.chainPem), code('svid_revoked'));

    // A forced rotation on one: the other verifies with the new key once it has looked.
    one.clock.advance(10);
    await one.authority.setEntryStatus(entry.id, 'active');
    for (let i = 0; i < 2; i++) await one.authority.rotateKeys({ force: true });
    const signed = await one.authority.issueJwtSvid(entry.id, [ORDERS]);
    await assert.rejects(other.authority.verifyJwtSvid(signed.token, ORDERS), code('svid_unknown_key'));
    assert.equal((await other.authority.refreshFromStore()).keys, true);
    await other.authority.verifyJwtSvid(signed.token, ORDERS);
    assert.deepEqual(other.authority.bundle(), one.authority.bundle());
    assert.deepEqual((await other.authority.refreshFromStore()).keys, false);
  });
});

describe('IdentityAuthority: signing while another server rotates', () => {
  test('a server that has not seen a rotation signs with the new key and never revives the old one', async () => {
    const file = dbFile();
    const one = await open({ file });
    const other = await open({ file, clock: one.clock });
    const entry = await joinTokenEntry(one.authority);
    const before = await other.authority.issueJwtSvid(entry.id, [ORDERS]);
    for (let i = 0; i < 2; i++) await one.authority.rotateKeys({ force: true });
    const rotated = (await one.store.listSigningKeys()).filter((k) => k.use === 'jwt-svid');
    const active = rotated.find((k) => k.state === 'active')!;
    assert.notEqual(active.kid, kidOf(before.token));
    one.clock.advance(1);
    const after = await other.authority.issueJwtSvid(entry.id, [ORDERS]);
    assert.equal(kidOf(after.token), active.kid);
    const stored = (await one.store.listSigningKeys()).find((k) => k.kid === kidOf(before.token))!;
    assert.equal(stored.state, 'retired');
    // The old key stays published for what it signed; both servers verify both tokens.
    assert.ok(stored.signedUntil! >= before.expiresAt, `${stored.signedUntil} < ${before.expiresAt}`);
    for (const authority of [one.authority, other.authority]) {
      await authority.verifyJwtSvid(before.token, ORDERS);
      await authority.verifyJwtSvid(after.token, ORDERS);
    }
  });
});

describe("IdentityAuthority: a rotation that finds another server's keys", () => {
  test('publishes and verifies them at once, whatever its own plan did', async () => {
    const file = dbFile();
    const one = await open({ file });
    const other = await open({ file, clock: one.clock });
    const entry = await joinTokenEntry(one.authority);
    for (let i = 0; i < 2; i++) await one.authority.rotateKeys({ force: true });
    const signed = await one.authority.issueJwtSvid(entry.id, [ORDERS]);
    // Nothing is due on the other server: its rotation changes nothing, but reads the new keys.
    assert.equal(await other.authority.rotateKeys(), false);
    await other.authority.verifyJwtSvid(signed.token, ORDERS);
    assert.deepEqual(other.authority.bundle(), one.authority.bundle());
  });
});
