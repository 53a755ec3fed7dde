/**
 * The proxy's sync client against answers of a real server, replayed: a
 * bundle older than the one held (from a server of the store that has not
 * yet taken up a rotation) is left aside unless every answer offers it for
 * LOWER_BUNDLE_AFTER_MS (a store restored or started anew); revocations past
 * their expiry are forgotten.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { App } from '../../../src/app.js';
import type { SpiffeBundle } from '../../../src/core/identity/bundle.js';
import { REVOCATION_EXPIRY_MARGIN_MS } from '../../../src/core/identity/revocation-set.js';
import type { Clock } from '../../../src/core/ports.js';
import type { ControlPlaneClient } from '../../../src/proxy/control-plane-client.js';
import { LOWER_BUNDLE_AFTER_MS, SyncClient } from '../../../src/proxy/sync-client.js';
import type { SyncResponse } from '../../../src/server/routes/sync-routes.js';
import { adminGet, inProcessApp } from '../../support/in-process-app.js';

let now = Date.parse('2026-12-07T12:00:00.000Z');
const clock: Clock = { now: () => now };
let app: App;

before(async () => {
  app = await inProcessApp({ clock });
});
after(() => app.close());

const get = <T>(path: string) => adminGet<T>(app, path);

/** A control plane whose sync answers are given by the test; the policy is the server's. */
function replaying(answer: () => SyncResponse): ControlPlaneClient {
  return {
    server: app.url,
    get: <T>(path: string) => (path.startsWith('/v1/sync') ? Promise.resolve(answer() as T) : get<T>(path)),
    post: () => Promise.reject(new Error('not used')),
  };
}

const kids = (sync: SyncClient) =>
  Object.values(sync.bundles as Record<string, SpiffeBundle>)
    .flatMap((b) => b.keys.map((k) => k.kid))
    .sort();

test('a bundle older than the one held is left aside, unless every answer offers it for a while', async () => {
  const old = await get<SyncResponse>('/v1/sync');
  await app.authority.rotateKeys({ force: true });
  const current = await get<SyncResponse>('/v1/sync');
  assert.ok(current.bundleSequence > old.bundleSequence);

  let answer = current;
  const events: string[] = [];
  const sync = new SyncClient({
    client: replaying(() => answer),
    clock,
    ids: { id: () => 'id' },
    logger: { log: (_level, event) => events.push(event) },
  });
  await sync.syncOnce();
  const held = kids(sync);
  assert.ok(sync.policy, 'synced');

  // A server behind the others: its older bundle is not taken, even in turns with a current one.
  for (let i = 0; i < 4; i++) {
    answer = i % 2 ? current : old;
    await sync.syncOnce();
    now += LOWER_BUNDLE_AFTER_MS / 2;
    assert.deepEqual(kids(sync), held);
  }
  assert.equal(events.filter((e) => e === 'bundle_older_kept_aside').length, 2);

  // Every answer offers it, long enough: the store was restored, its bundle is the bundle now.
  answer = old;
  await sync.syncOnce();
  now += LOWER_BUNDLE_AFTER_MS - 1;
  await sync.syncOnce();
  assert.deepEqual(kids(sync), held);
  now += 1;
  await sync.syncOnce();
  assert.notDeepEqual(kids(sync), held);
  assert.ok(events.includes('bundle_sequence_reset'));
});

test('revocations past their expiry are forgotten', async () => {
  await app.authority.revoke({ target: 'credential', value: 'jti-gone-soon' });
  const answer = await get<SyncResponse>('/v1/sync');
  const sync = new SyncClient({
    client: replaying(() => answer),
    clock,
    ids: { id: () => 'id' },
    logger: { log() {} },
  });
  await sync.syncOnce();
  assert.equal(sync.revocations.size, 1);
  const { jwtSvidMaxTtlSeconds, x509SvidMaxTtlSeconds } = app.authority.settings;
  now += Math.max(jwtSvidMaxTtlSeconds, x509SvidMaxTtlSeconds) * 1000 + REVOCATION_EXPIRY_MARGIN_MS + 1;
  await sync.syncOnce();
  assert.equal(sync.revocations.size, 0);
});
