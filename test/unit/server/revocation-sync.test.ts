/**
 * `GET /v1/sync` hands each revocation to a polling proxy once, after the
 * cursor of its last poll, whatever the time it carries: one recorded after
 * the server's clock was set back (or by another server of the same store
 * whose clock is slower) still reaches a proxy that already holds a later
 * time, and a cursor this store never gave brings every live revocation again.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { App } from '../../../src/app.js';
import type { Clock } from '../../../src/core/ports.js';
import { adminGet, inProcessApp } from '../../support/in-process-app.js';

let now = Date.parse('2026-12-07T12:00:00.000Z');
const clock: Clock = { now: () => now };
let app: App;

before(async () => {
  app = await inProcessApp({ clock });
});
after(() => app.close());

interface Synced {
  revocations: { target: string; value: string; revokedAt: string }[];
  revocationCursor: string;
}

/** The change number of a cursor `N.MARK`. */
const change = (cursor: string) => Number(/^(\d+)\.[\w-]{12}$/.exec(cursor)![1]);

const sync = (cursor?: string) =>
  adminGet<Synced>(app, `/v1/sync${cursor === undefined ? '' : `?revocationCursor=${cursor}`}`);

test('a revocation recorded after the clock was set back reaches a proxy that synced before', async () => {
  await app.authority.revoke({ target: 'identity', value: 'spiffe://acme.corp/ns/test/before' });
  const first = await sync();
  assert.deepEqual(
    first.revocations.map((r) => r.value),
    ['spiffe://acme.corp/ns/test/before'],
  );

  now -= 5 * 60_000;
  await app.authority.revoke({ target: 'identity', value: 'spiffe://acme.corp/ns/test/after-the-step' });
  const next = await sync(first.revocationCursor);
  assert.deepEqual(
    next.revocations.map((r) => r.value),
    ['spiffe://acme.corp/ns/test/after-the-step'],
  );
  assert.ok(Date.parse(next.revocations[0]!.revokedAt) < Date.parse(first.revocations[0]!.revokedAt));

  // Nothing new: nothing sent, the cursor stays.
  const quiet = await sync(next.revocationCursor);
  assert.deepEqual(quiet.revocations, []);
  assert.equal(quiet.revocationCursor, next.revocationCursor);

  // A cursor from an older server (a time), another store, or this one before a restore (the
  // same number marking another change): every live revocation again.
  for (const foreign of [
    String(Date.parse('2026-12-07T12:00:00.000Z')),
    String(change(quiet.revocationCursor) + 1),
    `${change(quiet.revocationCursor)}.AAAAAAAAAAAA`,
  ]) {
    const again = await sync(foreign);
    assert.deepEqual(
      again.revocations.map((r) => r.value),
      ['spiffe://acme.corp/ns/test/before', 'spiffe://acme.corp/ns/test/after-the-step'],
    );
    assert.equal(again.revocationCursor, quiet.revocationCursor);
  }
  const metrics = await (await fetch(`${app.url}/metrics`)).text();
  assert.match(metrics, /^gatehouse_revocations_held 2$/m);
  assert.match(metrics, /^gatehouse_revocations_pruned_total 0$/m);
});

test('an expired revocation is not sent, and the cursor moves past it', async () => {
  const start = (await sync()).revocationCursor;
  await app.authority.revoke({ target: 'identity', value: 'spiffe://acme.corp/ns/test/soon-moot' });
  // Past its expiry (the longest SVID lifetime) and the margin for the proxies' clocks.
  now += 3 * 24 * 3_600_000;
  const later = await sync(start);
  assert.deepEqual(later.revocations, []);
  assert.ok(change(later.revocationCursor) > change(start));
});
