/**
 * The contract every IdentityStore adapter passes against its real database
 * (STYLE.md §2). Each adapter's test file calls {@link identityStoreContract}
 * with a harness that opens stores on that database.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { GatehouseError, type GatehouseErrorCode } from '../../src/core/errors.js';
import type { AdminCredential, JoinToken, OidcIssuer } from '../../src/core/identity/attestation-records.js';
import type { IssuedCredential, Revocation } from '../../src/core/identity/credential.js';
import type { RegistrationEntry } from '../../src/core/identity/entry.js';
import type { Grant } from '../../src/core/identity/grant.js';
import type { StoredSigningKey } from '../../src/core/identity/signing-key.js';
import type { IdentityStore } from '../../src/core/ports.js';
import type { SqlExecutor } from '../../src/store/sql/sql-driver.js';

export interface IdentityStoreHarness {
  /** Opens a store on an empty database: schema current, no records. */
  openEmpty(): Promise<IdentityStore>;
  /** Opens another store (its own connection or pool) on the database of the last `openEmpty`. */
  openAgain(): Promise<IdentityStore>;
}

/** Minute `m` of 2026-01-01, canonical form. */
export function at(minute: number, ms = 0): string {
  return new Date(Date.UTC(2026, 0, 1, 0, minute, 0, ms)).toISOString();
}

export function entryRecord(id: string, fields: Partial<RegistrationEntry> = {}): RegistrationEntry {
  return {
    id,
    spiffeId: `spiffe://example.org/${id}`,
    kind: 'service',
    labels: {},
    attestation: [{ type: 'join-token' }],
    status: 'active',
    createdAt: at(0),
    updatedAt: at(0),
    ...fields,
  };
}

/** An entry with every optional field present. */
export function fullEntryRecord(id: string): RegistrationEntry {
  return entryRecord(id, {
    kind: 'ci-pipeline',
    owner: 'team-payments',
    description: 'deploys `payments` — ünïcode and "quotes"',
    labels: { zeta: '1', env: 'prod', alpha: 'x' },
    zone: 'prod-eu',
    addresses: ['10.0.0.0/24', '2001:db8::1'],
    attestation: [
      { type: 'join-token' },
      {
        type: 'oidc',
        issuer: 'https://token.actions.githubusercontent.com',
        audience: 'gatehouse',
        claims: { repository: 'acme/payments', ref: ['refs/heads/main', 'refs/tags/*'] },
      },
    ],
    jwtSvidTtlSeconds: 300,
    x509SvidTtlSeconds: 3600,
    expiresAt: at(600),
    status: 'disabled',
    holdsCredentialsOf: ['spiffe://example.org/deployer'],
    staticSecrets: [
      { id: 'legacy-key', hash: `sha256:${'a'.repeat(64)}`, createdAt: at(1), rotatedAt: at(2) },
      { id: 'other', hash: `sha256:${'b'.repeat(64)}`, createdAt: at(1) },
    ],
    createdAt: at(1),
    updatedAt: at(2, 5),
    lastSeenAt: at(3, 999),
  });
}

function signingKey(kid: string, fields: Partial<StoredSigningKey> = {}): StoredSigningKey {
  return {
    kid,
    use: 'jwt-svid',
    alg: 'ES256',
    state: 'next',
    publicJwk: { kty: 'EC', crv: 'P-256', x: 'x-coordinate', y: 'y-coordinate', kid },
    privateKey: '-----BEGIN PRIVATE KEY-----\nMIG...\n-----END PRIVATE KEY-----\n',
    createdAt: at(0),
    ...fields,
  };
}

function credential(id: string, entryId: string, fields: Partial<IssuedCredential> = {}): IssuedCredential {
  return {
    id,
    type: 'jwt-svid',
    spiffeId: `spiffe://example.org/${entryId}`,
    entryId,
    kid: 'k1',
    via: 'join-token',
    issuedAt: at(0),
    expiresAt: at(5),
    ...fields,
  };
}

function grant(id: string, entryId: string, fields: Partial<Grant> = {}): Grant {
  return {
    id,
    entryId,
    spiffeId: `spiffe://example.org/${entryId}`,
    task: 'INC-42',
    scope: { service: 'orders', methods: ['GET'], paths: ['/orders/*'], operations: [] },
    startedAt: at(0),
    expiresAt: at(30),
    ...fields,
  };
}

function joinToken(hash: string, entryId: string, fields: Partial<JoinToken> = {}): JoinToken {
  return { hash, entryId, createdAt: at(0), expiresAt: at(10), ...fields };
}

async function rejectsWith(work: Promise<unknown>, code: GatehouseErrorCode): Promise<GatehouseError> {
  let caught: unknown;
  await assert.rejects(work, (error: unknown) => {
    caught = error;
    return true;
  });
  assert.ok(caught instanceof GatehouseError, `want a GatehouseError, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  return caught;
}

const SQL_WORDS = /\b(INSERT|SELECT|UPDATE|DELETE|VALUES|WHERE|RETURNING)\b/;

/**
 * Revocations as a store before schema version 3 held them, without change
 * numbers; {@link checkRevocationsNumbered} checks what a store migrated
 * from them answers.
 */
export async function holdRevocationsUnnumbered(executor: SqlExecutor): Promise<void> {
  const held: [string, string, string][] = [
    ['identity', 'spiffe://example.org/b', '2026-01-01T00:00:02.000Z'],
    ['credential', 'jti-1', '2026-01-01T00:00:01.000Z'],
    ['entry', 'e1', '2026-01-01T00:00:02.000Z'],
  ];
  for (const [target, value, revokedAt] of held)
    await executor.run('INSERT INTO revocations (target, value, revoked_at) VALUES (?, ?, ?)', [
      target,
      value,
      revokedAt,
    ]);
}

/** The revocations of {@link holdRevocationsUnnumbered} are numbered in the order of their times, and the numbers go on. */
export async function checkRevocationsNumbered(store: IdentityStore): Promise<void> {
  const all = await store.listRevocationChanges(0);
  assert.deepEqual(
    all.revocations.map((r) => r.value),
    ['jti-1', 'e1', 'spiffe://example.org/b'],
  );
  assert.equal(all.through, 3);
  const next: Revocation = { target: 'grant', value: 'g1', revokedAt: '2025-01-01T00:00:00.000Z' };
  await store.addRevocation(next);
  const { at, ...changes } = await store.listRevocationChanges(3);
  assert.deepEqual(changes, { revocations: [next], through: 4 });
  assert.equal(at?.value, 'spiffe://example.org/b');
}

/**
 * An active policy as a store before schema version 4 held it (a meta row
 * naming the revision); {@link checkActivationSeeded} checks what a store
 * migrated from it answers.
 */
export async function holdActivePolicyUnnumbered(executor: SqlExecutor): Promise<void> {
  await executor.run(
    'INSERT INTO policy_versions (revision, sources, created_at, activated_at) VALUES (?, ?, ?, ?)',
    [
      'sha256:aa',
      '[{"file":"a.yaml","text":"x: 1\\n"}]',
      '2026-01-01T00:00:01.000Z',
      '2026-01-01T00:00:02.000Z',
    ],
  );
  await executor.run("INSERT INTO meta (name, value) VALUES ('active_policy_revision', 'sha256:aa')");
}

/** The policy of {@link holdActivePolicyUnnumbered} is activation 1, and the numbers go on. */
export async function checkActivationSeeded(store: IdentityStore): Promise<void> {
  assert.deepEqual(await store.latestPolicyActivation(), {
    n: 1,
    revision: 'sha256:aa',
    activatedAt: '2026-01-01T00:00:02.000Z',
  });
  assert.equal(await store.markPolicyActivated('sha256:aa', '2026-01-01T00:00:03.000Z'), 2);
}

/** Registers the whole contract suite, titled `name`, against the stores `harness` opens. */
export function identityStoreContract(name: string, harness: IdentityStoreHarness): void {
  describe(name, () => {
    const opened: IdentityStore[] = [];
    async function fresh(): Promise<IdentityStore> {
      const store = await harness.openEmpty();
      opened.push(store);
      return store;
    }
    async function again(): Promise<IdentityStore> {
      const store = await harness.openAgain();
      opened.push(store);
      return store;
    }
    afterEach(async () => {
      for (const store of opened.splice(0)) await store.close();
    });

    describe('entries', () => {
      test('round-trips every field, and optional fields stay absent when absent', async () => {
        const store = await fresh();
        const full = fullEntryRecord('ent_full');
        const bare = entryRecord('ent_bare');
        await store.createEntry(full);
        await store.createEntry(bare);
        assert.deepEqual(await store.getEntry('ent_full'), full);
        assert.deepEqual(await store.getEntry('ent_bare'), bare);
        assert.deepEqual(await store.getEntryBySpiffeId(full.spiffeId), full);
        // Label order is kept as written.
        assert.deepEqual(Object.keys((await store.getEntry('ent_full'))!.labels), ['zeta', 'env', 'alpha']);
      });

      test('an empty list stays an empty list, distinct from absent', async () => {
        const store = await fresh();
        const e = entryRecord('ent_empty', { addresses: [], holdsCredentialsOf: [], staticSecrets: [] });
        await store.createEntry(e);
        assert.deepEqual(await store.getEntry('ent_empty'), e);
      });

      test('unknown ids and SPIFFE IDs read as undefined', async () => {
        const store = await fresh();
        assert.equal(await store.getEntry('ent_missing'), undefined);
        assert.equal(await store.getEntryBySpiffeId('spiffe://example.org/missing'), undefined);
      });

      test('a duplicate id is a store_conflict whose message carries no SQL', async () => {
        const store = await fresh();
        await store.createEntry(entryRecord('ent_a'));
        const error = await rejectsWith(
          store.createEntry(entryRecord('ent_a', { spiffeId: 'spiffe://example.org/other' })),
          'store_conflict',
        );
        assert.match(error.message, /ent_a/);
        assert.doesNotMatch(error.message, SQL_WORDS);
        assert.ok(error.cause !== undefined, 'the driver error is kept as the cause');
      });

      test('a SPIFFE ID is held by one entry only', async () => {
        const store = await fresh();
        await store.createEntry(entryRecord('ent_a', { spiffeId: 'spiffe://example.org/shared' }));
        const error = await rejectsWith(
          store.createEntry(entryRecord('ent_b', { spiffeId: 'spiffe://example.org/shared' })),
          'store_conflict',
        );
        assert.match(error.message, /spiffeId/);
        await store.createEntry(entryRecord('ent_c'));
        await rejectsWith(
          store.updateEntry(entryRecord('ent_c', { spiffeId: 'spiffe://example.org/shared' })),
          'store_conflict',
        );
        assert.equal((await store.getEntry('ent_c'))?.spiffeId, 'spiffe://example.org/ent_c');
      });

      test('updateEntry replaces the whole entry, dropping optional fields left out', async () => {
        const store = await fresh();
        const full = fullEntryRecord('ent_u');
        await store.createEntry(full);
        const replaced = entryRecord('ent_u', {
          spiffeId: 'spiffe://example.org/renamed',
          labels: { tier: 'gold' },
          status: 'offboarded',
          createdAt: full.createdAt,
          updatedAt: at(9),
        });
        await store.updateEntry(replaced);
        assert.deepEqual(await store.getEntry('ent_u'), replaced);
        assert.equal(await store.getEntryBySpiffeId(full.spiffeId), undefined);
        assert.deepEqual(await store.getEntryBySpiffeId('spiffe://example.org/renamed'), replaced);
      });

      test('updateEntry of an unknown id is store_not_found', async () => {
        const store = await fresh();
        const error = await rejectsWith(store.updateEntry(entryRecord('ent_ghost')), 'store_not_found');
        assert.match(error.message, /ent_ghost/);
        assert.equal(await store.getEntry('ent_ghost'), undefined);
      });

      test('listEntries orders by createdAt, then id byte by byte', async () => {
        const store = await fresh();
        const ids: [string, number][] = [
          ['ent_b', 1],
          ['ent_late', 9],
          ['ent_a', 1],
          ['ent_B', 1],
          ['ent_early', 0],
        ];
        for (const [id, minute] of ids) await store.createEntry(entryRecord(id, { createdAt: at(minute) }));
        assert.deepEqual(
          (await store.listEntries()).map((e) => e.id),
          ['ent_early', 'ent_B', 'ent_a', 'ent_b', 'ent_late'],
        );
      });

      test('listEntries applies every filter given', async () => {
        const store = await fresh();
        await store.createEntry(entryRecord('e1', { owner: 'team-a', kind: 'job', createdAt: at(1) }));
        await store.createEntry(entryRecord('e2', { owner: 'team-a', status: 'disabled', createdAt: at(2) }));
        await store.createEntry(entryRecord('e3', { owner: 'team-b', kind: 'job', createdAt: at(3) }));
        await store.createEntry(entryRecord('e4', { createdAt: at(4) }));
        const ids = async (filter: Parameters<IdentityStore['listEntries']>[0]) =>
          (await store.listEntries(filter)).map((e) => e.id);
        assert.deepEqual(await ids({}), ['e1', 'e2', 'e3', 'e4']);
        assert.deepEqual(await ids({ owner: 'team-a' }), ['e1', 'e2']);
        assert.deepEqual(await ids({ kind: 'job' }), ['e1', 'e3']);
        assert.deepEqual(await ids({ status: 'active' }), ['e1', 'e3', 'e4']);
        assert.deepEqual(await ids({ status: 'disabled' }), ['e2']);
        assert.deepEqual(await ids({ spiffeId: 'spiffe://example.org/e3' }), ['e3']);
        assert.deepEqual(await ids({ owner: 'team-a', kind: 'job', status: 'active' }), ['e1']);
        assert.deepEqual(await ids({ owner: 'team-b', status: 'disabled' }), []);
        assert.deepEqual(await ids({ owner: 'nobody' }), []);
      });

      test('listEntries finds the entries federating with an OIDC issuer, and only those', async () => {
        const store = await fresh();
        const oidc = (issuer: string) => ({
          type: 'oidc' as const,
          issuer,
          audience: 'gatehouse',
          claims: { repository: 'acme/shop' },
        });
        const github = 'https://token.actions.githubusercontent.com';
        // LIKE and JSON both have special characters: the issuer is compared as a value.
        const odd = 'https://idp.example/a_b%c/"quoted"\\x';
        await store.createEntry(entryRecord('o1', { attestation: [oidc(github)], createdAt: at(1) }));
        await store.createEntry(
          entryRecord('o2', { attestation: [{ type: 'join-token' }, oidc(odd)], createdAt: at(2) }),
        );
        await store.createEntry(
          entryRecord('o3', { attestation: [oidc(odd), oidc(github)], status: 'disabled', createdAt: at(3) }),
        );
        await store.createEntry(entryRecord('o4', { createdAt: at(4) }));
        // An issuer named by another field, or differing in case, is not the issuer.
        await store.createEntry(
          entryRecord('o5', {
            attestation: [{ ...oidc('https://other.example'), audience: github }],
            createdAt: at(5),
          }),
        );
        await store.createEntry(
          entryRecord('o6', { attestation: [oidc(github.toUpperCase())], createdAt: at(6) }),
        );
        const ids = async (filter: Parameters<IdentityStore['listEntries']>[0]) =>
          (await store.listEntries(filter)).map((e) => e.id);
        assert.deepEqual(await ids({ oidcIssuer: github }), ['o1', 'o3']);
        assert.deepEqual(await ids({ oidcIssuer: github, status: 'active' }), ['o1']);
        assert.deepEqual(await ids({ oidcIssuer: odd }), ['o2', 'o3']);
        assert.deepEqual(await ids({ oidcIssuer: 'https://idp.example/a_b_c/"quoted"\\x' }), []);
        assert.deepEqual(await ids({ oidcIssuer: 'https://idp.example/%' }), []);
        assert.deepEqual(await ids({ oidcIssuer: github, spiffeId: 'spiffe://example.org/o3' }), ['o3']);
        assert.deepEqual(await ids({ oidcIssuer: github, limit: 1 }), ['o1']);
        // An entry updated away from the issuer is no longer found under it.
        const o1 = (await store.getEntry('o1'))!;
        await store.updateEntry({ ...o1, attestation: [{ type: 'join-token' }] });
        assert.deepEqual(await ids({ oidcIssuer: github }), ['o3']);
      });

      test('listEntries pages by (createdAt, id): every entry once, in order, filters kept', async () => {
        const store = await fresh();
        // Ties on createdAt, ids that sort byte by byte, and a filter that skips some.
        const made: [string, number, string][] = [
          ['ent_b', 1, 'team-a'],
          ['ent_a', 1, 'team-a'],
          ['ent_B', 1, 'team-b'],
          ['ent_c', 2, 'team-a'],
          ['ent_early', 0, 'team-a'],
          ['ent_late', 9, 'team-a'],
          ['ent_d', 2, 'team-b'],
        ];
        for (const [id, minute, owner] of made)
          await store.createEntry(entryRecord(id, { createdAt: at(minute), owner }));
        const all = (await store.listEntries()).map((e) => e.id);
        for (const owner of [undefined, 'team-a']) {
          for (const size of [1, 2, 3, 100]) {
            const seen: string[] = [];
            let after: { createdAt: string; id: string } | undefined;
            for (let pages = 0; pages < 20; pages++) {
              const page = await store.listEntries({
                ...(owner ? { owner } : {}),
                ...(after ? { after } : {}),
                limit: size,
              });
              assert.ok(page.length <= size);
              seen.push(...page.map((e) => e.id));
              if (page.length < size) break;
              after = { createdAt: page[page.length - 1]!.createdAt, id: page[page.length - 1]!.id };
            }
            const want = owner ? all.filter((id) => made.find((m) => m[0] === id)![2] === owner) : all;
            assert.deepEqual(seen, want, `pages of ${size}${owner ? ` for ${owner}` : ''}`);
          }
        }
        assert.deepEqual(await store.listEntries({ after: { createdAt: at(9), id: 'ent_late' } }), []);
        await assert.rejects(store.listEntries({ limit: 0 }), /invalid entry limit/);
        await assert.rejects(
          store.listEntries({ after: { createdAt: 'yesterday', id: 'x' } }),
          /invalid timestamp/,
        );
      });

      test('touchEntry only moves lastSeenAt forward and leaves the rest alone', async () => {
        const store = await fresh();
        const e = entryRecord('ent_t', { updatedAt: at(1) });
        await store.createEntry(e);
        await store.touchEntry('ent_t', at(5));
        assert.deepEqual(await store.getEntry('ent_t'), { ...e, lastSeenAt: at(5) });
        await store.touchEntry('ent_t', at(3));
        assert.equal((await store.getEntry('ent_t'))?.lastSeenAt, at(5));
        await store.touchEntry('ent_t', at(5));
        assert.equal((await store.getEntry('ent_t'))?.lastSeenAt, at(5));
        await store.touchEntry('ent_t', at(5, 1));
        assert.equal((await store.getEntry('ent_t'))?.lastSeenAt, at(5, 1));
        assert.equal((await store.getEntry('ent_t'))?.updatedAt, at(1));
      });

      test('touchEntry of an unknown id is store_not_found', async () => {
        const store = await fresh();
        await rejectsWith(store.touchEntry('ent_ghost', at(1)), 'store_not_found');
      });
    });

    describe('timestamps', () => {
      test('come back in canonical UTC form with milliseconds', async () => {
        const store = await fresh();
        await store.createEntry(
          entryRecord('ent_tz', {
            createdAt: '2026-01-01T01:30:00+01:30',
            updatedAt: '2026-01-01T00:00:00Z',
            expiresAt: '2026-01-01T00:00:00.123456Z',
          }),
        );
        const got = await store.getEntry('ent_tz');
        assert.equal(got?.createdAt, '2026-01-01T00:00:00.000Z');
        assert.equal(got?.updatedAt, '2026-01-01T00:00:00.000Z');
        assert.equal(got?.expiresAt, '2026-01-01T00:00:00.123Z');
      });

      test('order by instant whatever precision or offset they were written with', async () => {
        const store = await fresh();
        await store.createEntry(entryRecord('ent_2', { createdAt: '2026-01-01T00:00:00.5Z' }));
        await store.createEntry(entryRecord('ent_1', { createdAt: '2026-01-01T00:00:00Z' }));
        await store.createEntry(entryRecord('ent_0', { createdAt: '2026-01-01T00:59:00+01:00' }));
        assert.deepEqual(
          (await store.listEntries()).map((e) => e.id),
          ['ent_0', 'ent_1', 'ent_2'],
        );
      });

      test('text that is not RFC 3339 is refused with store_error', async () => {
        const store = await fresh();
        for (const bad of [
          'yesterday',
          '2026-02-30T00:00:00Z',
          '2026-01-01 00:00:00',
          '2026-01-01T24:00:00Z',
        ]) {
          const error = await rejectsWith(
            store.createEntry(entryRecord('ent_bad', { createdAt: bad })),
            'store_error',
          );
          assert.match(error.message, /RFC 3339/);
        }
        assert.equal(await store.getEntry('ent_bad'), undefined);
      });
    });

    describe('signing keys', () => {
      test('round-trip with and without optional fields, ordered by createdAt then kid', async () => {
        const store = await fresh();
        const ca = signingKey('ca-1', {
          use: 'x509-svid',
          alg: 'ES384',
          state: 'retired',
          certificatePem: '-----BEGIN CERTIFICATE-----\nMII...\n-----END CERTIFICATE-----\n',
          createdAt: at(1),
          activatedAt: at(2),
          retiredAt: at(3),
          signedUntil: at(4),
        });
        const b = signingKey('k-b', { createdAt: at(2) });
        const a = signingKey('k-a', { createdAt: at(2), privateKey: 'enc:v1:opaque' });
        await store.putSigningKey(b);
        await store.putSigningKey(ca);
        await store.putSigningKey(a);
        assert.deepEqual(await store.listSigningKeys(), [ca, a, b]);
      });

      test('putSigningKey replaces by kid', async () => {
        const store = await fresh();
        await store.putSigningKey(signingKey('k1', { certificatePem: 'pem' }));
        const active = signingKey('k1', { state: 'active', activatedAt: at(1), alg: 'PS256' });
        await store.putSigningKey(active);
        assert.deepEqual(await store.listSigningKeys(), [active]);
      });

      test('putSigningKey never moves signedUntil back', async () => {
        const store = await fresh();
        await store.putSigningKey(signingKey('k1', { state: 'active', signedUntil: at(5) }));
        // A copy read before that reservation, now retired: the state changes, the reservation stays.
        const retired = signingKey('k1', { state: 'retired', retiredAt: at(3), signedUntil: at(4) });
        await store.putSigningKey(retired);
        assert.deepEqual(await store.listSigningKeys(), [{ ...retired, signedUntil: at(5) }]);
        await store.putSigningKey(signingKey('k1', { state: 'retired', retiredAt: at(3) }));
        assert.equal((await store.listSigningKeys())[0]!.signedUntil, at(5));
        await store.putSigningKey(
          signingKey('k1', { state: 'retired', retiredAt: at(3), signedUntil: at(6) }),
        );
        assert.equal((await store.listSigningKeys())[0]!.signedUntil, at(6));
      });

      test('reserveSigningKey raises signedUntil only, and answers the key as stored', async () => {
        const store = await fresh();
        const key = signingKey('k1', { state: 'active', activatedAt: at(1) });
        await store.putSigningKey(key);
        assert.deepEqual(await store.reserveSigningKey('k1', at(5)), { ...key, signedUntil: at(5) });
        assert.deepEqual(await store.reserveSigningKey('k1', at(4)), { ...key, signedUntil: at(5) });
        // The same instant with an offset is the same time.
        const later = new Date(Date.parse(at(6))).toISOString().replace('Z', '+00:00');
        assert.equal((await store.reserveSigningKey('k1', later))?.signedUntil, at(6));
        // Retired by another writer meanwhile: the reservation does not bring it back.
        await store.putSigningKey({ ...key, state: 'retired', retiredAt: at(7), signedUntil: at(6) });
        assert.equal((await store.reserveSigningKey('k1', at(8)))?.state, 'retired');
        assert.equal(await store.reserveSigningKey('k-gone', at(8)), undefined);
        assert.deepEqual(
          (await store.listSigningKeys()).map((k) => k.kid),
          ['k1'],
        );
        await assert.rejects(store.reserveSigningKey('k1', 'tomorrow'), (e: unknown) => {
          assert.ok(e instanceof GatehouseError);
          return true;
        });
      });

      test('withLock runs the work of one name in turn, with its result or its error', async () => {
        const store = await fresh();
        let inside = 0;
        let most = 0;
        const work = async (i: number) => {
          inside++;
          most = Math.max(most, inside);
          await store.putSigningKey(signingKey(`k${i}`));
          await new Promise((resolve) => setTimeout(resolve, 5));
          inside--;
          if (i === 2) throw new Error('the work failed');
          return i;
        };
        const results = await Promise.allSettled(
          [1, 2, 3].map((i) => store.withLock('key-rotation', () => work(i))),
        );
        assert.equal(most, 1);
        assert.deepEqual(
          results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message)),
          [1, 'the work failed', 3],
        );
        assert.equal((await store.listSigningKeys()).length, 3);
      });

      test('deleteSigningKey removes one key; an unknown kid is a no-op', async () => {
        const store = await fresh();
        await store.putSigningKey(signingKey('k1'));
        await store.putSigningKey(signingKey('k2'));
        await store.deleteSigningKey('k1');
        await store.deleteSigningKey('k-unknown');
        assert.deepEqual(
          (await store.listSigningKeys()).map((k) => k.kid),
          ['k2'],
        );
      });
    });

    describe('credentials', () => {
      async function withEntries(store: IdentityStore) {
        await store.createEntry(entryRecord('e1'));
        await store.createEntry(entryRecord('e2'));
        await store.createGrant(grant('g1', 'e1'));
      }

      test('round-trip with and without optional fields', async () => {
        const store = await fresh();
        await withEntries(store);
        const full = credential('c-full', 'e1', {
          type: 'x509-svid',
          audience: ['orders', 'billing'],
          grantId: 'g1',
          via: 'renewal',
          issuedAt: at(1, 250),
          expiresAt: at(61),
        });
        const bare = credential('c-bare', 'e2');
        await store.recordCredential(full);
        await store.recordCredential(bare);
        assert.deepEqual(await store.getCredential('c-full'), full);
        assert.deepEqual(await store.getCredential('c-bare'), bare);
        assert.equal(await store.getCredential('c-missing'), undefined);
      });

      test('a duplicate id is a store_conflict', async () => {
        const store = await fresh();
        await withEntries(store);
        await store.recordCredential(credential('c1', 'e1'));
        await rejectsWith(store.recordCredential(credential('c1', 'e2')), 'store_conflict');
        assert.equal((await store.getCredential('c1'))?.entryId, 'e1');
      });

      test('a credential must name a stored entry and grant', async () => {
        const store = await fresh();
        await withEntries(store);
        const error = await rejectsWith(
          store.recordCredential(credential('c1', 'e-ghost')),
          'store_conflict',
        );
        assert.doesNotMatch(error.message, SQL_WORDS);
        await rejectsWith(
          store.recordCredential(credential('c2', 'e1', { grantId: 'g-ghost' })),
          'store_conflict',
        );
        assert.deepEqual(await store.listCredentials(), []);
      });

      test('listCredentials filters and orders by issuedAt, then id', async () => {
        const store = await fresh();
        await withEntries(store);
        const all = [
          credential('c3', 'e1', { issuedAt: at(2), expiresAt: at(10), grantId: 'g1' }),
          credential('c1', 'e1', { issuedAt: at(1), expiresAt: at(5) }),
          credential('c2', 'e2', { issuedAt: at(1), expiresAt: at(20) }),
          credential('c0', 'e2', {
            issuedAt: at(3),
            expiresAt: at(4),
            spiffeId: 'spiffe://example.org/moved',
          }),
        ];
        for (const c of all) await store.recordCredential(c);
        const ids = async (filter?: Parameters<IdentityStore['listCredentials']>[0]) =>
          (await store.listCredentials(filter)).map((c) => c.id);
        assert.deepEqual(await ids(), ['c1', 'c2', 'c3', 'c0']);
        assert.deepEqual(await ids({ entryId: 'e2' }), ['c2', 'c0']);
        assert.deepEqual(await ids({ spiffeId: 'spiffe://example.org/e2' }), ['c2']);
        assert.deepEqual(await ids({ grantId: 'g1' }), ['c3']);
        // Live means expiresAt strictly after the instant.
        assert.deepEqual(await ids({ liveAt: at(5) }), ['c2', 'c3']);
        assert.deepEqual(await ids({ liveAt: at(4, 999) }), ['c1', 'c2', 'c3']);
        assert.deepEqual(await ids({ entryId: 'e1', liveAt: at(5) }), ['c3']);
        assert.deepEqual(await ids({ liveAt: at(20) }), []);
        assert.deepEqual(await store.listCredentials({ grantId: 'g1' }), [all[0]]);
      });
    });

    describe('revocations', () => {
      test('round-trip and order by revokedAt, then target and value', async () => {
        const store = await fresh();
        const revocations: Revocation[] = [
          { target: 'identity', value: 'spiffe://example.org/a', revokedAt: at(2), reason: 'compromised' },
          { target: 'credential', value: 'jti-1', revokedAt: at(1), expiresAt: at(6) },
          { target: 'entry', value: 'e1', revokedAt: at(2), reason: 'offboarded', expiresAt: at(9) },
          { target: 'grant', value: 'g1', revokedAt: at(3) },
        ];
        for (const r of revocations) await store.addRevocation(r);
        assert.deepEqual(await store.listRevocations(), [
          revocations[1],
          revocations[2],
          revocations[0],
          revocations[3],
        ]);
      });

      test('a repeated revocation only moves forward', async () => {
        const store = await fresh();
        const first: Revocation = { target: 'identity', value: 'spiffe://example.org/a', revokedAt: at(2) };
        await store.addRevocation(first);
        await store.addRevocation({ ...first, revokedAt: at(1), reason: 'older' });
        assert.deepEqual(await store.listRevocations(), [first]);
        const later: Revocation = { ...first, revokedAt: at(7), reason: 'again', expiresAt: at(9) };
        await store.addRevocation(later);
        await store.addRevocation({ ...first, revokedAt: at(7) });
        assert.deepEqual(await store.listRevocations(), [later]);
      });

      test('changes are listed after a number, in the order they were made, whatever their times', async () => {
        const store = await fresh();
        const key = (r: Revocation) => `${r.target}:${r.value}`;
        const a: Revocation = { target: 'credential', value: 'jti-a', revokedAt: at(5) };
        // Made later with an earlier time (a clock set back, another server's slower clock).
        const b: Revocation = { target: 'identity', value: 'spiffe://example.org/b', revokedAt: at(1) };
        await store.addRevocation(a);
        await store.addRevocation(b);
        const all = await store.listRevocationChanges(0);
        assert.deepEqual(all.revocations, [a, b]);
        const afterA = await store.listRevocationChanges(all.through - 1);
        assert.deepEqual(afterA.revocations, [b]);
        assert.equal(afterA.through, all.through);
        // The change read last comes back as `at`: a reader checks by it that this store gave the number.
        assert.deepEqual(await store.listRevocationChanges(all.through), {
          revocations: [],
          through: all.through,
          at: b,
        });

        // A repeat that changes nothing is no change; one that moves forward is, and comes last.
        await store.addRevocation({ ...a, revokedAt: at(4) });
        assert.deepEqual((await store.listRevocationChanges(all.through)).revocations, []);
        const aAgain: Revocation = { ...a, revokedAt: at(6), reason: 'again' };
        await store.addRevocation(aAgain);
        const c: Revocation = { target: 'grant', value: 'g1', revokedAt: at(2) };
        await store.addRevocation(c);
        const next = await store.listRevocationChanges(all.through);
        assert.deepEqual(next.revocations, [aAgain, c]);
        assert.ok(next.through > all.through);
        assert.deepEqual(
          (await store.listRevocationChanges(0)).revocations.map(key),
          [b, aAgain, c].map(key),
        );

        // The numbers go on after a reopen.
        const reopened = await again();
        const d: Revocation = { target: 'entry', value: 'e9', revokedAt: at(0) };
        await reopened.addRevocation(d);
        assert.deepEqual(await reopened.listRevocationChanges(next.through), {
          revocations: [d],
          through: next.through + 1,
          at: c,
        });
      });

      test('a number beyond the last change lists every revocation', async () => {
        const store = await fresh();
        assert.deepEqual(await store.listRevocationChanges(7), { revocations: [], through: 0 });
        const a: Revocation = { target: 'credential', value: 'jti-a', revokedAt: at(5) };
        await store.addRevocation(a);
        const { through } = await store.listRevocationChanges(0);
        // A cursor of another store, of this one before a restore, or a time from an older server.
        for (const beyond of [through + 1, 1_765_000_000_000])
          assert.deepEqual(await store.listRevocationChanges(beyond), { revocations: [a], through });
      });

      test('revocations made at once by two stores on one database are each listed once, in turn', async () => {
        const first = await fresh();
        const second = await again();
        const made: Revocation[] = Array.from({ length: 30 }, (_, i) => ({
          target: 'credential',
          value: `jti-${i}`,
          revokedAt: at(i % 7),
        }));
        const seen: string[] = [];
        let through = 0;
        let writing = true;
        const reader = (async () => {
          while (writing) {
            const changes = await first.listRevocationChanges(through);
            assert.ok(changes.through >= through);
            through = changes.through;
            seen.push(...changes.revocations.map((r) => r.value));
            await new Promise((resolve) => setImmediate(resolve));
          }
        })();
        try {
          await Promise.all(made.map((r, i) => (i % 2 ? first : second).addRevocation(r)));
        } finally {
          writing = false;
          await reader;
        }
        const rest = await second.listRevocationChanges(through);
        seen.push(...rest.revocations.map((r) => r.value));
        assert.deepEqual([...seen].sort(), made.map((r) => r.value).sort());
      });

      test('pruneRevocations deletes the expired but the last change, and the numbers go on', async () => {
        const store = await fresh();
        const made: Revocation[] = [
          { target: 'credential', value: 'jti-1', revokedAt: at(1), expiresAt: at(3) },
          { target: 'identity', value: 'spiffe://example.org/a', revokedAt: at(2) },
          { target: 'grant', value: 'g1', revokedAt: at(3), expiresAt: at(9) },
          { target: 'entry', value: 'e1', revokedAt: at(4), expiresAt: at(4) },
        ];
        for (const r of made) await store.addRevocation(r);
        const { through } = await store.listRevocationChanges(0);
        // `e1` expired too, but it is the last change: the numbering goes on from it.
        assert.equal(await store.pruneRevocations(at(5)), 1);
        assert.deepEqual(await store.listRevocations(), [made[1], made[2], made[3]]);
        assert.equal(await store.pruneRevocations(at(5)), 0);
        const next: Revocation = { target: 'credential', value: 'jti-2', revokedAt: at(5) };
        await store.addRevocation(next);
        assert.deepEqual(await store.listRevocationChanges(through), {
          revocations: [next],
          through: through + 1,
          at: made[3],
        });
        // A change pruned is not held: no `at`, the changes after it all the same.
        assert.deepEqual(await store.listRevocationChanges(1), {
          revocations: [made[1], made[2], made[3], next],
          through: through + 1,
        });
        assert.equal(await store.pruneRevocations(at(10)), 2);
        assert.deepEqual(await store.listRevocations(), [made[1], next]);
        await assert.rejects(store.pruneRevocations('soon'), (e: unknown) => e instanceof GatehouseError);
      });

      test('the same value under another target is another revocation', async () => {
        const store = await fresh();
        await store.addRevocation({ target: 'entry', value: 'x', revokedAt: at(1) });
        await store.addRevocation({ target: 'grant', value: 'x', revokedAt: at(1) });
        assert.deepEqual(
          (await store.listRevocations()).map((r) => r.target),
          ['entry', 'grant'],
        );
      });
    });

    describe('join tokens', () => {
      test('a token is consumed once, and returned marked used', async () => {
        const store = await fresh();
        await store.createEntry(entryRecord('e1'));
        const token = joinToken('sha256:t1', 'e1');
        await store.createJoinToken(token);
        assert.deepEqual(await store.consumeJoinToken('sha256:t1', at(3)), { ...token, usedAt: at(3) });
        assert.equal(await store.consumeJoinToken('sha256:t1', at(4)), undefined);
        assert.equal(await store.consumeJoinToken('sha256:t1', at(2)), undefined);
      });

      test('an unknown token is not consumable', async () => {
        const store = await fresh();
        assert.equal(await store.consumeJoinToken('sha256:nope', at(1)), undefined);
      });

      test('an expired token is not consumable, and a failed attempt does not use it', async () => {
        const store = await fresh();
        await store.createEntry(entryRecord('e1'));
        await store.createJoinToken(joinToken('sha256:t1', 'e1', { expiresAt: at(10) }));
        assert.equal(await store.consumeJoinToken('sha256:t1', at(10)), undefined);
        assert.equal(await store.consumeJoinToken('sha256:t1', at(11)), undefined);
        assert.equal((await store.consumeJoinToken('sha256:t1', at(9, 999)))?.usedAt, at(9, 999));
      });

      test('a token stored as used is not consumable', async () => {
        const store = await fresh();
        await store.createEntry(entryRecord('e1'));
        await store.createJoinToken(joinToken('sha256:t1', 'e1', { usedAt: at(1) }));
        assert.equal(await store.consumeJoinToken('sha256:t1', at(2)), undefined);
      });

      test('of many concurrent consumers on two connections exactly one wins', async () => {
        const store = await fresh();
        const other = await again();
        await store.createEntry(entryRecord('e1'));
        const token = joinToken('sha256:race', 'e1', { expiresAt: at(59) });
        await store.createJoinToken(token);
        const consumers = 24;
        const results = await Promise.all(
          Array.from({ length: consumers }, (_, i) =>
            (i % 2 ? other : store).consumeJoinToken('sha256:race', at(1, i)),
          ),
        );
        const winners = results.flatMap((r, i) => (r ? [{ r, i }] : []));
        assert.equal(winners.length, 1, `want exactly one winner, got ${winners.length}`);
        const [{ r, i }] = winners as [{ r: JoinToken; i: number }];
        assert.deepEqual(r, { ...token, usedAt: at(1, i) });
        assert.equal(await store.consumeJoinToken('sha256:race', at(2)), undefined);
      });

      test('a duplicate hash is a store_conflict; the entry must exist', async () => {
        const store = await fresh();
        await store.createEntry(entryRecord('e1'));
        await store.createJoinToken(joinToken('sha256:t1', 'e1'));
        await rejectsWith(store.createJoinToken(joinToken('sha256:t1', 'e1')), 'store_conflict');
        await rejectsWith(store.createJoinToken(joinToken('sha256:t2', 'e-ghost')), 'store_conflict');
      });
    });

    describe('OIDC issuers', () => {
      const inline: OidcIssuer = {
        issuer: 'https://issuer.example.com',
        jwks: { keys: [{ kty: 'EC', crv: 'P-256', x: 'x', y: 'y', kid: 'k1' }] },
        createdAt: at(2),
      };
      const remote: OidcIssuer = {
        issuer: 'https://token.actions.githubusercontent.com',
        jwksUri: 'https://token.actions.githubusercontent.com/.well-known/jwks',
        clockSkewSeconds: 30,
        createdAt: at(1),
      };

      test('round-trip ordered by createdAt; put replaces by issuer', async () => {
        const store = await fresh();
        await store.putOidcIssuer(inline);
        await store.putOidcIssuer(remote);
        assert.deepEqual(await store.listOidcIssuers(), [remote, inline]);
        const replaced: OidcIssuer = {
          issuer: inline.issuer,
          jwksUri: 'https://issuer.example.com/jwks',
          createdAt: at(0),
        };
        await store.putOidcIssuer(replaced);
        assert.deepEqual(await store.listOidcIssuers(), [replaced, remote]);
      });

      test('deleteOidcIssuer says whether it removed one', async () => {
        const store = await fresh();
        await store.putOidcIssuer(inline);
        await store.putOidcIssuer(remote);
        assert.equal(await store.deleteOidcIssuer(inline.issuer), true);
        assert.equal(await store.deleteOidcIssuer(inline.issuer), false);
        assert.equal(await store.deleteOidcIssuer('https://unknown.example.com'), false);
        assert.deepEqual(await store.listOidcIssuers(), [remote]);
      });
    });

    describe('grants', () => {
      test('round-trip with and without optional fields', async () => {
        const store = await fresh();
        await store.createEntry(entryRecord('e1'));
        const full = grant('g-full', 'e1', {
          scope: { service: 'reports', methods: [], paths: ['/reports/**'], operations: ['export'] },
          endedAt: at(20),
          requestedBy: 'alice@example.com',
        });
        const bare = grant('g-bare', 'e1');
        await store.createGrant(full);
        await store.createGrant(bare);
        assert.deepEqual(await store.getGrant('g-full'), full);
        assert.deepEqual(await store.getGrant('g-bare'), bare);
        assert.equal(await store.getGrant('g-missing'), undefined);
      });

      test('a duplicate id is a store_conflict; the entry must exist', async () => {
        const store = await fresh();
        await store.createEntry(entryRecord('e1'));
        await store.createGrant(grant('g1', 'e1'));
        await rejectsWith(store.createGrant(grant('g1', 'e1', { task: 'other' })), 'store_conflict');
        await rejectsWith(store.createGrant(grant('g2', 'e-ghost')), 'store_conflict');
        assert.equal((await store.getGrant('g1'))?.task, 'INC-42');
      });

      test('endGrant ends once and keeps the first endedAt', async () => {
        const store = await fresh();
        await store.createEntry(entryRecord('e1'));
        const g = grant('g1', 'e1');
        await store.createGrant(g);
        assert.deepEqual(await store.endGrant('g1', at(7)), { ...g, endedAt: at(7) });
        assert.deepEqual(await store.endGrant('g1', at(9)), { ...g, endedAt: at(7) });
        assert.deepEqual(await store.getGrant('g1'), { ...g, endedAt: at(7) });
        assert.equal(await store.endGrant('g-missing', at(7)), undefined);
      });

      test('listGrants filters by entry and by the instant a grant is active', async () => {
        const store = await fresh();
        await store.createEntry(entryRecord('e1'));
        await store.createEntry(entryRecord('e2'));
        await store.createGrant(grant('g-later', 'e1', { startedAt: at(10), expiresAt: at(20) }));
        await store.createGrant(grant('g-open', 'e1', { startedAt: at(0), expiresAt: at(10) }));
        await store.createGrant(
          grant('g-ended', 'e2', { startedAt: at(0), expiresAt: at(30), endedAt: at(5) }),
        );
        await store.createGrant(grant('g-b', 'e2', { startedAt: at(0), expiresAt: at(30) }));
        const ids = async (filter?: Parameters<IdentityStore['listGrants']>[0]) =>
          (await store.listGrants(filter)).map((g) => g.id);
        assert.deepEqual(await ids(), ['g-b', 'g-ended', 'g-open', 'g-later']);
        assert.deepEqual(await ids({ entryId: 'e1' }), ['g-open', 'g-later']);
        assert.deepEqual(await ids({ activeAt: at(0) }), ['g-b', 'g-ended', 'g-open']);
        assert.deepEqual(await ids({ activeAt: at(4, 999) }), ['g-b', 'g-ended', 'g-open']);
        // Ended at 5: no longer active at 5. Expiring at 10: no longer active at 10, when g-later starts.
        assert.deepEqual(await ids({ activeAt: at(5) }), ['g-b', 'g-open']);
        assert.deepEqual(await ids({ activeAt: at(10) }), ['g-b', 'g-later']);
        assert.deepEqual(await ids({ activeAt: at(10), entryId: 'e1' }), ['g-later']);
        assert.deepEqual(await ids({ activeAt: at(30) }), []);
      });

      test('an ended grant stops being active from its endedAt', async () => {
        const store = await fresh();
        await store.createEntry(entryRecord('e1'));
        await store.createGrant(grant('g1', 'e1'));
        await store.endGrant('g1', at(3));
        assert.deepEqual(
          (await store.listGrants({ activeAt: at(2) })).map((g) => g.id),
          ['g1'],
        );
        assert.deepEqual(await store.listGrants({ activeAt: at(3) }), []);
      });
    });

    describe('admin credentials', () => {
      test('found by hash and counted', async () => {
        const store = await fresh();
        assert.equal(await store.countAdminCredentials(), 0);
        const full: AdminCredential = {
          id: 'adm_1',
          hash: 'sha256:one',
          createdAt: at(1),
          lastUsedAt: at(2),
        };
        const bare: AdminCredential = { id: 'adm_2', hash: 'sha256:two', createdAt: at(1) };
        await store.createAdminCredential(full);
        await store.createAdminCredential(bare);
        assert.equal(await store.countAdminCredentials(), 2);
        assert.deepEqual(await store.getAdminCredentialByHash('sha256:one'), full);
        assert.deepEqual(await store.getAdminCredentialByHash('sha256:two'), bare);
        assert.equal(await store.getAdminCredentialByHash('sha256:three'), undefined);
        assert.equal(await store.getAdminCredentialByHash('adm_1'), undefined);
      });

      test('a duplicate id or hash is a store_conflict', async () => {
        const store = await fresh();
        await store.createAdminCredential({ id: 'adm_1', hash: 'sha256:one', createdAt: at(1) });
        await rejectsWith(
          store.createAdminCredential({ id: 'adm_1', hash: 'sha256:other', createdAt: at(1) }),
          'store_conflict',
        );
        await rejectsWith(
          store.createAdminCredential({ id: 'adm_2', hash: 'sha256:one', createdAt: at(1) }),
          'store_conflict',
        );
        assert.equal(await store.countAdminCredentials(), 1);
      });
    });

    describe('policy versions', () => {
      test('versions are content-addressed, listed newest first, and activation is recorded', async () => {
        const store = await fresh();
        const v1 = { revision: 'sha256:aa', sources: [{ file: 'a.yaml', text: 'x: 1\n' }], createdAt: at(1) };
        const v2 = {
          revision: 'sha256:bb',
          sources: [
            { file: 'a.yaml', text: 'x: 2\n' },
            { file: 'b.yaml', text: 'y: [ü]\n' },
          ],
          comment: 'tighten orders',
          createdAt: at(2),
        };
        await store.putPolicyVersion(v1);
        await store.putPolicyVersion(v2);
        await store.putPolicyVersion({ ...v1, comment: 'again', createdAt: at(3) });
        assert.deepEqual(await store.listPolicyVersions(), [v2, v1]);
        assert.deepEqual(await store.getPolicyVersion('sha256:bb'), v2);
        assert.equal(await store.getPolicyVersion('sha256:cc'), undefined);
        await store.markPolicyActivated('sha256:aa', at(4));
        assert.equal((await store.getPolicyVersion('sha256:aa'))?.activatedAt, at(4));
        await assert.rejects(store.markPolicyActivated('sha256:cc', at(5)), { code: 'store_not_found' });
      });

      test('activations are numbered in the order made, by every store on the database; the last is the active one', async () => {
        const first = await fresh();
        const second = await again();
        assert.equal(await first.latestPolicyActivation(), undefined);
        for (const revision of ['sha256:aa', 'sha256:bb'])
          await first.putPolicyVersion({
            revision,
            sources: [{ file: 'a.yaml', text: revision }],
            createdAt: at(1),
          });
        assert.equal(await first.markPolicyActivated('sha256:aa', at(2)), 1);
        assert.equal(await second.markPolicyActivated('sha256:bb', at(3)), 2);
        // Numbers, not times, order them: an activation stamped earlier is still the later one.
        assert.equal(await first.markPolicyActivated('sha256:aa', at(1)), 3);
        assert.deepEqual(await second.latestPolicyActivation(), {
          n: 3,
          revision: 'sha256:aa',
          activatedAt: at(1),
        });
        const made = await Promise.all(
          Array.from({ length: 12 }, (_, i) =>
            (i % 2 ? first : second).markPolicyActivated(i % 3 ? 'sha256:aa' : 'sha256:bb', at(4)),
          ),
        );
        assert.deepEqual(
          [...made].sort((a, b) => a - b),
          Array.from({ length: 12 }, (_, i) => i + 4),
        );
        assert.equal((await first.latestPolicyActivation())?.n, 15);
      });
    });

    describe('meta', () => {
      test('get of a missing key is undefined; set inserts and overwrites', async () => {
        const store = await fresh();
        assert.equal(await store.getMeta('bundle.sequence'), undefined);
        await store.setMeta('bundle.sequence', '1');
        await store.setMeta('note', '');
        assert.equal(await store.getMeta('bundle.sequence'), '1');
        await store.setMeta('bundle.sequence', '2');
        assert.equal(await store.getMeta('bundle.sequence'), '2');
        assert.equal(await store.getMeta('note'), '');
      });
    });

    describe('connections', () => {
      test('what one store writes another on the same database reads', async () => {
        const store = await fresh();
        const other = await again();
        await store.createEntry(fullEntryRecord('ent_shared'));
        assert.deepEqual(await other.getEntry('ent_shared'), fullEntryRecord('ent_shared'));
        await other.setMeta('k', 'v');
        assert.equal(await store.getMeta('k'), 'v');
        await rejectsWith(other.createEntry(fullEntryRecord('ent_shared')), 'store_conflict');
      });

      test('close can be called twice; a closed store fails with store_error', async () => {
        const store = await fresh();
        await store.close();
        await store.close();
        const error = await rejectsWith(store.getEntry('ent_a'), 'store_error');
        assert.match(error.message, /closed/);
      });
    });
  });
}
