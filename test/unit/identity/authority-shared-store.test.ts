/**
 * Two identity authorities on one PostgreSQL store (a schema of its own,
 * dropped at the end), as two servers scaled out: key rotations take turns
 * under the store's lock, so a rotation that falls due on both at once
 * creates one next key, not two, and each server publishes what the other
 * did; servers starting together on an empty store create one admin
 * credential.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { IdentityAuthority } from '../../../src/core/identity/authority.js';
import { identitySettings } from '../../../src/core/identity/settings.js';
import type { Clock, IdentityStore } from '../../../src/core/ports.js';
import { openPostgresIdentityStore } from '../../../src/store/index.js';
import { postgresUnreachable, TEST_PG_URL, testSchemaName } from '../../support/postgres-server.js';

const problem = await postgresUnreachable();
const schema = testSchemaName('gatehouse_rotation_test');
const admin = new pg.Client({ connectionString: TEST_PG_URL });
const stores: IdentityStore[] = [];

before(async () => {
  if (problem === undefined) await admin.connect();
});
after(async () => {
  for (const store of stores) await store.close();
  if (problem !== undefined) return;
  await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await admin.end();
});

test('a rotation due on two servers at once creates one next key per use, and both publish it', async () => {
  assert.equal(problem, undefined, problem);
  let now = Date.parse('2026-01-01T00:00:00.000Z');
  const clock: Clock = { now: () => now };
  const settings = identitySettings({
    trustDomain: 'acme.corp',
    keyActiveLifetimeSeconds: 3600,
    keyPrepublishSeconds: 600,
  });
  const open = async () => {
    const store = await openPostgresIdentityStore({ connectionString: TEST_PG_URL, schema });
    stores.push(store);
    return IdentityAuthority.open({ store, clock, settings });
  };
  const one = await open();
  const other = await open();
  const jwtKeys = async (state: string) =>
    (await stores[0]!.listSigningKeys()).filter((k) => k.use === 'jwt-svid' && k.state === state);
  const count = async (state: string) => (await jwtKeys(state)).length;
  assert.equal(await count('next'), 0);

  // Within the pre-publication window of the active key: a next key is due, on both servers.
  now += (3600 - 300) * 1000;
  for (let round = 0; round < 5; round++) {
    await Promise.all([one.rotateKeys(), other.rotateKeys(), one.rotateKeys(), other.rotateKeys()]);
  }
  assert.equal(await count('next'), 1);
  assert.equal(await count('active'), 1);
  assert.deepEqual(one.bundle(), other.bundle());
  const [next] = await jwtKeys('next');

  // The lifetime over: that next key is activated, once (the old one, which signed nothing, goes).
  now += 600 * 1000;
  await Promise.all([one.rotateKeys(), other.rotateKeys()]);
  assert.equal(await count('next'), 0);
  assert.deepEqual(
    (await jwtKeys('active')).map((k) => k.kid),
    [next!.kid],
  );
  assert.deepEqual(one.bundle(), other.bundle());
  assert.equal(one.bundle().spiffe_sequence, other.bundle().spiffe_sequence);
});

test('servers starting together on an empty store create one admin credential', async () => {
  assert.equal(problem, undefined, problem);
  const fresh = `${schema}_admin`;
  try {
    const clock: Clock = { now: () => Date.parse('2026-01-01T00:00:00.000Z') };
    const settings = identitySettings({ trustDomain: 'acme.corp' });
    const authorities = await Promise.all(
      [1, 2, 3].map(async () => {
        const store = await openPostgresIdentityStore({ connectionString: TEST_PG_URL, schema: fresh });
        stores.push(store);
        return IdentityAuthority.open({ store, clock, settings });
      }),
    );
    const created = await Promise.all(authorities.map((a) => a.ensureAdminCredential()));
    assert.equal(created.filter((secret) => secret !== undefined).length, 1);
    assert.equal(await stores.at(-1)!.countAdminCredentials(), 1);
  } finally {
    await admin.query(`DROP SCHEMA IF EXISTS "${fresh}" CASCADE`);
  }
});
