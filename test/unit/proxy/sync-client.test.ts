/**
 * The proxy's sync client against answers of a real server, replayed: a
 * bundle or a policy older than the one held (from a server of the store
 * that has not yet taken up a rotation or an activation) is left aside
 * unless every answer offers it for LOWER_ANSWER_AFTER_MS (a store restored
 * or started anew); revocations past their expiry are forgotten.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { App } from '../../../src/app.js';
import type { SpiffeBundle } from '../../../src/core/identity/bundle.js';
import { REVOCATION_EXPIRY_MARGIN_MS } from '../../../src/core/identity/revocation-set.js';
import type { Clock } from '../../../src/core/ports.js';
import type { ControlPlaneClient } from '../../../src/proxy/control-plane-client.js';
import { LOWER_ANSWER_AFTER_MS, SyncClient } from '../../../src/proxy/sync-client.js';
import type { PolicyResponse, SyncResponse } from '../../../src/server/routes/sync-routes.js';
import { adminGet, inProcessApp } from '../../support/in-process-app.js';

let now = Date.parse('2026-12-07T12:00:00.000Z');
const clock: Clock = { now: () => now };
let app: App;

before(async () => {
  app = await inProcessApp({ clock });
});
after(() => app.close());

const get = <T>(path: string) => adminGet<T>(app, path);

/** A control plane whose answers are given by the test; the policy is the server's unless given. */
function replaying(answer: () => SyncResponse, policy?: () => PolicyResponse): ControlPlaneClient {
  return {
    server: app.url,
    get: <T>(path: string) =>
      path.startsWith('/v1/sync')
        ? Promise.resolve(answer() as T)
        : policy && path === '/v1/policy'
          ? Promise.resolve(policy() as T)
          : get<T>(path),
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
    now += LOWER_ANSWER_AFTER_MS / 2;
    assert.deepEqual(kids(sync), held);
  }
  assert.equal(events.filter((e) => e === 'bundle_older_kept_aside').length, 2);

  // Every answer offers it, long enough: the store was restored, its bundle is the bundle now.
  answer = old;
  await sync.syncOnce();
  now += LOWER_ANSWER_AFTER_MS - 1;
  await sync.syncOnce();
  assert.deepEqual(kids(sync), held);
  now += 1;
  await sync.syncOnce();
  assert.notDeepEqual(kids(sync), held);
  assert.ok(events.includes('bundle_sequence_reset'));
});

test('a policy of an earlier activation is left aside, from the sync or from the policy fetch', async () => {
  const [oldSync, oldPolicy] = [await get<SyncResponse>('/v1/sync'), await get<PolicyResponse>('/v1/policy')];
  const sources = oldPolicy.sources.map((f) =>
    f.file.endsWith('00-estate.yaml')
      ? { ...f, text: f.text.replace('Production databases', 'Databases') }
      : f,
  );
  await app.policies.upload(sources, { activate: true });
  const [newSync, newPolicy] = [await get<SyncResponse>('/v1/sync'), await get<PolicyResponse>('/v1/policy')];
  assert.notEqual(newSync.policyRevision, oldSync.policyRevision);
  assert.ok(newSync.policyActivation > oldSync.policyActivation);
  assert.equal(newPolicy.activation, newSync.policyActivation);

  let sync = newSync;
  let policy = newPolicy;
  const events: string[] = [];
  const client = new SyncClient({
    client: replaying(
      () => sync,
      () => policy,
    ),
    clock,
    ids: { id: () => 'id' },
    logger: { log: (_level, event) => events.push(event) },
  });
  await client.syncOnce();
  assert.equal(client.policy?.revision, newSync.policyRevision);

  // A server behind: its sync answer names the old revision; it is not fetched.
  sync = oldSync;
  policy = oldPolicy;
  await client.syncOnce();
  assert.equal(client.policy?.revision, newSync.policyRevision);
  assert.deepEqual(
    events.filter((e) => e.startsWith('policy_')),
    ['policy_updated', 'policy_older_kept_aside'],
  );

  // The sync answer is current but the policy fetch reaches a server behind: asked again later.
  const fresh = new SyncClient({
    client: replaying(
      () => newSync,
      () => policy,
    ),
    clock,
    ids: { id: () => 'id' },
    logger: { log() {} },
  });
  await fresh.syncOnce();
  const enforced = (c: SyncClient) => c.policy?.revision;
  assert.equal(enforced(fresh), undefined, 'the old policy is not taken for the new');
  policy = newPolicy;
  await fresh.syncOnce();
  assert.equal(enforced(fresh), newSync.policyRevision);

  // Every answer offers the old one for long enough: a store restored; it is the policy now.
  sync = oldSync;
  policy = oldPolicy;
  await client.syncOnce();
  now += LOWER_ANSWER_AFTER_MS;
  await client.syncOnce();
  assert.equal(client.policy?.revision, oldSync.policyRevision);
  assert.ok(events.includes('policy_activation_reset'));

  // The same revision numbered lower for long enough (a store restored): the number is taken, once.
  const renumbered = { ...oldSync, policyActivation: oldSync.policyActivation - 1 };
  const keptAside = () => events.filter((e) => e === 'policy_older_kept_aside').length;
  const before = keptAside();
  sync = renumbered;
  await client.syncOnce();
  now += LOWER_ANSWER_AFTER_MS;
  await client.syncOnce();
  await client.syncOnce();
  assert.equal(keptAside(), before + 1);
  assert.equal(client.policy?.revision, oldSync.policyRevision);
});

test('revocations past their expiry are forgotten', async () => {
  await app.authority.revoke({ target: 'identity', value: 'spiffe://acme.corp/ns/test/gone-soon' });
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

test('a poll that takes up a revocation logs it; one that brings nothing new, or repeats, does not', async () => {
  const logged: [string, Record<string, unknown> | undefined][] = [];
  // The server's own answers, until `repeat` is set: then that answer, every time.
  let repeat: SyncResponse | undefined = undefined;
  const client: ControlPlaneClient = {
    server: app.url,
    get: <T>(path: string) =>
      repeat && path.startsWith('/v1/sync') ? Promise.resolve(repeat as T) : get<T>(path),
    post: () => Promise.reject(new Error('not used')),
  };
  const sync = new SyncClient({
    client,
    clock,
    ids: { id: () => 'id' },
    logger: { log: (_level, event, fields) => logged.push([event, fields]) },
  });
  await sync.syncOnce();
  const held = sync.revocations.size;
  const events = () => logged.filter(([e]) => e === 'revocations_synced');
  assert.deepEqual(events(), [], 'the first sync says what it holds in proxy_synced');

  await app.authority.revoke({ target: 'identity', value: 'spiffe://acme.corp/ns/test/taken-up' });
  await sync.syncOnce();
  assert.deepEqual(events(), [['revocations_synced', { taken: 1, held: held + 1 }]]);
  await sync.syncOnce();
  assert.equal(events().length, 1, 'nothing new');

  // Every revocation sent again (as after a restore): nothing taken up, nothing logged.
  repeat = await get<SyncResponse>('/v1/sync');
  assert.ok(repeat.revocations.some((r) => r.value === 'spiffe://acme.corp/ns/test/taken-up'));
  await sync.syncOnce();
  assert.equal(events().length, 1, 'a repeat');
});
