/**
 * The proxy's synced state on file: saved after each sync that changed it,
 * restored whole or not at all, and taken up from where it left off (no
 * policy fetched again, the revocation cursor and bundle sequence sent).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { App } from '../../../src/app.js';
import type { SpiffeBundle } from '../../../src/core/identity/bundle.js';
import type { Clock } from '../../../src/core/ports.js';
import type { ControlPlaneClient } from '../../../src/proxy/control-plane-client.js';
import { SyncClient } from '../../../src/proxy/sync-client.js';
import {
  SYNCED_STATE_FORMAT,
  SyncedStateFile,
  type SyncedState,
} from '../../../src/proxy/synced-state-file.js';
import { adminGet, inProcessApp } from '../../support/in-process-app.js';

const now = Date.parse('2026-12-08T12:00:00.000Z');
const clock: Clock = { now: () => now };
let app: App;
const dir = mkdtempSync(join(tmpdir(), 'gatehouse-synced-state-'));
const REVOKED = 'spiffe://acme.corp/ns/test/revoked-before-restart';

before(async () => {
  app = await inProcessApp({ clock });
  await app.authority.revoke({ target: 'identity', value: REVOKED });
});
after(async () => {
  await app.close();
  rmSync(dir, { recursive: true, force: true });
});

const quiet = { log() {} };

/** The in-process server, with every path asked for written down. */
function recording(asked: string[]): ControlPlaneClient {
  return {
    server: app.url,
    get: <T>(path: string) => {
      asked.push(path);
      return adminGet<T>(app, path);
    },
    post: () => Promise.reject(new Error('not used')),
  };
}

const kids = (sync: SyncClient) =>
  Object.values(sync.bundles as Record<string, SpiffeBundle>)
    .flatMap((b) => b.keys.map((k) => k.kid))
    .sort();

/** A client synced once with the server, its state saved to `file`. */
async function syncedTo(file: SyncedStateFile): Promise<SyncClient> {
  const sync = new SyncClient({
    client: recording([]),
    clock,
    ids: { id: () => 'id' },
    logger: quiet,
    persist: (s) => file.save(s),
  });
  await sync.syncOnce();
  await file.flush();
  return sync;
}

test('a state saved after a sync is restored whole, and the next sync takes up from it', async () => {
  const file = new SyncedStateFile(join(dir, 'whole', 'synced-state.json'), quiet);
  const first = await syncedTo(file);
  const state = file.read()!;
  assert.equal(state.format, SYNCED_STATE_FORMAT);
  assert.equal(state.server, app.url);
  assert.equal(state.syncedAt, new Date(now).toISOString());
  assert.ok(state.revocations.some((r) => r.value === REVOKED));
  assert.deepEqual(readdirSync(join(dir, 'whole')), ['synced-state.json'], 'no temporary file left');

  const asked: string[] = [];
  const events: string[] = [];
  const restored = new SyncClient({
    client: recording(asked),
    clock,
    ids: { id: () => 'id' },
    logger: { log: (_level, event) => events.push(event) },
  });
  restored.restore(state);
  assert.equal(restored.policy?.revision, first.policy?.revision);
  assert.deepEqual(kids(restored), kids(first));
  assert.equal(restored.revocations.size, first.revocations.size);
  assert.ok(restored.revocations.isRevoked({ spiffeId: REVOKED, issuedAt: now - 60_000 }));
  assert.equal(restored.bundleSequence, first.bundleSequence);
  assert.equal(restored.lastSyncAt, now);
  assert.equal(restored.restoredOnly, true);
  assert.deepEqual(events, ['synced_state_restored']);

  await restored.syncOnce();
  assert.deepEqual(asked.length, 1, `the policy is not fetched again: ${asked.join(', ')}`);
  const q = new URLSearchParams(asked[0]!.split('?')[1]);
  assert.equal(q.get('bundleSequence'), String(state.bundle.sequence));
  assert.equal(q.get('revocationCursor'), state.revocationCursor);
  assert.equal(restored.restoredOnly, false);
  assert.deepEqual(
    events,
    ['synced_state_restored', 'proxy_synced'],
    'the first answer of the server is told',
  );
});

test('a state is saved when a sync changes it, not on every poll', async () => {
  const saved: SyncedState[] = [];
  const sync = new SyncClient({
    client: recording([]),
    clock,
    ids: { id: () => 'id' },
    logger: quiet,
    persist: (s) => saved.push(s),
  });
  await sync.syncOnce();
  await sync.syncOnce();
  await sync.syncOnce();
  assert.equal(saved.length, 1);
  await app.authority.revoke({ target: 'identity', value: 'spiffe://acme.corp/ns/test/revoked-later' });
  await sync.syncOnce();
  assert.equal(saved.length, 2);
  assert.ok(saved[1]!.revocations.some((r) => r.value === 'spiffe://acme.corp/ns/test/revoked-later'));
  assert.notEqual(saved[1]!.revocationCursor, saved[0]!.revocationCursor);
});

test('a state of which any part does not read is not taken at all', async () => {
  const file = new SyncedStateFile(join(dir, 'parts', 'synced-state.json'), quiet);
  await syncedTo(file);
  const good = file.read()!;
  const spoiled: [string, SyncedState, RegExp][] = [
    [
      'a policy text edited',
      {
        ...good,
        policy: {
          ...good.policy,
          sources: good.policy.sources.map((s) => ({
            ...s,
            text: s.text.replace('Production databases', 'Databases'),
          })),
        },
      },
      /parses to revision/,
    ],
    [
      'a revocation that does not read',
      {
        ...good,
        revocations: [...good.revocations, { target: 'identity', value: REVOKED, revokedAt: 'then' }],
      },
      /revokedAt/,
    ],
    [
      'a bundle that does not read',
      { ...good, bundle: { ...good.bundle, value: { keys: 'none' } } },
      /bundle/,
    ],
  ];
  for (const [what, state, why] of spoiled) {
    const sync = new SyncClient({ client: recording([]), clock, ids: { id: () => 'id' }, logger: quiet });
    assert.throws(() => sync.restore(state), why, what);
    assert.equal(sync.policy, undefined, `${what}: no policy held`);
    assert.equal(sync.revocations.size, 0, `${what}: no revocation held`);
    assert.equal(sync.restoredOnly, false);
  }
});

test('a state synced from another control plane is not taken', async () => {
  const file = new SyncedStateFile(join(dir, 'other', 'synced-state.json'), quiet);
  await syncedTo(file);
  const events: string[] = [];
  const sync = new SyncClient({
    client: recording([]),
    clock,
    ids: { id: () => 'id' },
    logger: { log: (_level, event) => events.push(event) },
  });
  assert.equal(sync.restore({ ...file.read()!, server: 'http://127.0.0.1:9' }), false);
  assert.equal(sync.policy, undefined);
  assert.equal(sync.revocations.size, 0);
  assert.deepEqual(events, ['synced_state_ignored']);
  assert.equal(sync.restore(file.read()!), true);
  assert.ok(sync.policy);
});

test('the file: absent is no state; unreadable or of another format is an error naming it', async () => {
  const file = new SyncedStateFile(join(dir, 'file', 'synced-state.json'), quiet);
  assert.equal(file.read(), undefined);
  await syncedTo(file);
  const text = readFileSync(file.file, 'utf8');
  for (const [content, why] of [
    [text.slice(0, text.length / 2), /is not JSON/],
    ['[]', /not a JSON object/],
    [
      text.replace(SYNCED_STATE_FORMAT, 'gatehouse.proxy.synced-state/v0'),
      /format is "gatehouse.proxy.synced-state\/v0"/,
    ],
    [text.replace('"revocations":[', '"revocations":{"x":['), /is not JSON|revocations is not an array/],
    [
      JSON.stringify({ ...(JSON.parse(text) as object), policy: { revision: 'r', sources: [1] } }),
      /policy.sources\[0\]/,
    ],
    // The server refuses such a cursor: the proxy would never sync again, enforcing this state.
    [
      JSON.stringify({ ...(JSON.parse(text) as object), revocationCursor: 'garbage' }),
      /revocationCursor is not a cursor of the server/,
    ],
  ] as const) {
    writeFileSync(file.file, content);
    assert.throws(
      () => file.read(),
      (e: Error & { code?: string }) =>
        e.code === 'store_error' && e.message.includes(file.file) && why.test(e.message),
      content.slice(0, 60),
    );
  }
});

test('states saved in a burst are written one at a time, the last one last', async () => {
  const file = new SyncedStateFile(join(dir, 'burst', 'synced-state.json'), quiet);
  await syncedTo(file);
  const state = file.read()!;
  for (let i = 0; i < 20; i++) file.save({ ...state, syncedAt: new Date(now + i).toISOString() });
  await file.flush();
  assert.equal(file.read()!.syncedAt, new Date(now + 19).toISOString());
  assert.deepEqual(readdirSync(join(dir, 'burst')), ['synced-state.json']);
});

test('a state that cannot be written is told, and the proxy goes on', async () => {
  const logged: string[] = [];
  // A directory where the file should be: every write fails.
  const file = new SyncedStateFile(dir, { log: (_level, event) => logged.push(event) });
  const sync = await syncedTo(file);
  assert.ok(sync.policy);
  assert.deepEqual(logged, ['synced_state_save_failed']);
});

test('revocations a poll took up before it failed are kept on file too', async () => {
  const saved: SyncedState[] = [];
  let policyFails = false;
  const client: ControlPlaneClient = {
    server: app.url,
    get: <T>(path: string) =>
      policyFails && path === '/v1/policy'
        ? Promise.reject(new Error('the server went away'))
        : adminGet<T>(app, path),
    post: () => Promise.reject(new Error('not used')),
  };
  const sync = new SyncClient({
    client,
    clock,
    ids: { id: () => 'id' },
    logger: quiet,
    persist: (s) => saved.push(s),
  });
  await sync.syncOnce();
  assert.equal(saved.length, 1);
  // A revocation and a new policy in one answer; the policy cannot be fetched.
  await app.authority.revoke({ target: 'identity', value: 'spiffe://acme.corp/ns/test/revoked-mid-poll' });
  const { sources } = await adminGet<{ sources: { file: string; text: string }[] }>(app, '/v1/policy');
  await app.policies.upload(
    sources.map((f) => ({ ...f, text: f.text.replace('Production databases', 'All databases') })),
    { activate: true },
  );
  policyFails = true;
  await assert.rejects(sync.syncOnce(), /went away/);
  assert.equal(saved.length, 2);
  assert.ok(saved[1]!.revocations.some((r) => r.value === 'spiffe://acme.corp/ns/test/revoked-mid-poll'));
  assert.equal(
    saved[1]!.policy.revision,
    saved[0]!.policy.revision,
    'the policy held, not the one not fetched',
  );
});

test('a state that could not be written is written once the file can be: the proxy enforces it meanwhile', async () => {
  const logged: string[] = [];
  const parent = join(dir, 'full');
  const file = new SyncedStateFile(join(parent, 'synced-state.json'), {
    log: (_level, event) => logged.push(event),
  });
  // A file where the directory should be: the write fails, as on a full disk.
  writeFileSync(parent, 'in the way');
  const sync = await syncedTo(file);
  assert.deepEqual(logged, ['synced_state_save_failed']);
  // Room again, and nothing new to sync: the state enforced reaches the file all the same.
  rmSync(parent);
  const deadline = Date.now() + 5_000;
  while (file.read() === undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.equal(file.read()?.policy.revision, sync.policy?.revision, 'the state enforced is on file');
  assert.deepEqual(logged, ['synced_state_save_failed', 'synced_state_saved']);
});

test('revocations a poll takes up are saved before it waits for the policy it names', async () => {
  const saved: SyncedState[] = [];
  let policyChanged = false;
  let answerPolicy: (() => void) | undefined;
  const sync = new SyncClient({
    client: {
      server: app.url,
      get: async <T>(path: string) => {
        const body = await adminGet<T>(app, path);
        if (!policyChanged) return body;
        // A slow policy answer: the revocations are enforced meanwhile.
        if (path.startsWith('/v1/policy')) await new Promise<void>((r) => (answerPolicy = r));
        return path.startsWith('/v1/sync')
          ? ({ ...body, policyRevision: 'sha256:next', policyActivation: 1e6 } as T)
          : body;
      },
      post: () => Promise.reject(new Error('not used')),
    },
    clock,
    ids: { id: () => 'id' },
    logger: quiet,
    persist: (s) => saved.push(s),
  });
  await sync.syncOnce();
  const later = 'spiffe://acme.corp/ns/test/revoked-before-a-slow-policy';
  await app.authority.revoke({ target: 'identity', value: later });
  policyChanged = true;
  const poll = sync.syncOnce();
  while (!answerPolicy) await new Promise((r) => setTimeout(r, 5));
  assert.ok(sync.revocations.isRevoked({ spiffeId: later, issuedAt: now - 60_000 }), 'enforced');
  assert.ok(
    saved.at(-1)!.revocations.some((r) => r.value === later),
    'saved while the policy is awaited',
  );
  answerPolicy();
  await poll;
});
