/**
 * A revocation cursor names the change read last by its number and a mark,
 * so that a reader of a store restored from a backup (which numbers changes
 * again from where the backup was) is sent every revocation rather than
 * those after a number that now names another change.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { Revocation } from '../../../src/core/identity/credential.js';
import {
  formatRevocationCursor,
  parseRevocationCursor,
  readRevocationChanges,
  revocationMark,
  type RevocationCursor,
} from '../../../src/core/identity/revocation-cursor.js';
import { GatehouseError } from '../../../src/core/errors.js';
import type { IdentityStore } from '../../../src/core/ports.js';
import { openSqliteIdentityStore } from '../../../src/store/index.js';

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-cursor-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const revoked = (value: string, second = 0): Revocation => ({
  target: 'credential',
  value,
  revokedAt: new Date(Date.UTC(2026, 11, 7, 12, 0, second)).toISOString(),
});

/** Reads with `store`, counting the store's reads. */
function reader(store: IdentityStore) {
  const counted = { reads: 0 };
  const read = (cursor: RevocationCursor) =>
    readRevocationChanges((afterChange) => {
      counted.reads++;
      return store.listRevocationChanges(afterChange);
    }, cursor);
  return Object.assign(counted, { read });
}

test('cursors are written as N.MARK and read back; a plain number of an earlier version is taken', () => {
  const mark = revocationMark(revoked('jti-1'));
  assert.match(mark, /^[A-Za-z0-9_-]{12}$/);
  assert.notEqual(mark, revocationMark(revoked('jti-1', 1)));
  assert.notEqual(mark, revocationMark({ ...revoked('jti-1'), target: 'grant' }));
  for (const cursor of [{ change: 0 }, { change: 42, mark }, { change: 1_765_000_000_000 }])
    assert.deepEqual(parseRevocationCursor(formatRevocationCursor(cursor)), cursor);
  assert.equal(formatRevocationCursor({ change: 7, mark }), `7.${mark}`);
  for (const bad of ['', '-1', '1e3', '1.5', `1.${mark}x`, `.${mark}`, '12345678901234567', '0x10', ' 1'])
    assert.throws(
      () => parseRevocationCursor(bad),
      (e: unknown) => e instanceof GatehouseError && e.code === 'request_invalid',
      bad,
    );
});

test('a reader of a store restored from a backup gets the changes its number would skip', async () => {
  const file = join(dir, 'live.db');
  const backup = join(dir, 'backup.db');
  let live = await openSqliteIdentityStore(file);
  for (const v of ['r1', 'r2']) await live.addRevocation(revoked(v));
  await live.close();
  copyFileSync(file, backup);

  live = await openSqliteIdentityStore(file);
  for (const v of ['r3', 'r4', 'r5']) await live.addRevocation(revoked(v));
  const proxy = await reader(live).read({ change: 0 });
  assert.deepEqual(
    proxy.revocations.map((r) => r.value),
    ['r1', 'r2', 'r3', 'r4', 'r5'],
  );
  assert.deepEqual(proxy.through, { change: 5, mark: revocationMark(revoked('r5')) });
  await live.close();

  // The store is restored from the backup (two changes) and four are recorded before the proxy
  // polls again: change 5 is now x5, and x3 and x4 lie below the proxy's number.
  const restored = await openSqliteIdentityStore(backup);
  for (const v of ['x3', 'x4', 'x5', 'x6']) await restored.addRevocation(revoked(v));
  const afterRestore = reader(restored);
  const next = await afterRestore.read(proxy.through);
  assert.deepEqual(
    next.revocations.map((r) => r.value),
    ['r1', 'r2', 'x3', 'x4', 'x5', 'x6'],
  );
  assert.deepEqual(next.through, { change: 6, mark: revocationMark(revoked('x6')) });
  assert.equal(afterRestore.reads, 2);

  // A number alone (the cursor of an earlier version) cannot tell: it misses x3 to x5.
  const unmarked = await afterRestore.read({ change: 5 });
  assert.deepEqual(
    unmarked.revocations.map((r) => r.value),
    ['x6'],
  );

  // From there, one read per poll again, and nothing new is nothing.
  const steady = reader(restored);
  assert.deepEqual(await steady.read(next.through), { revocations: [], through: next.through });
  await restored.addRevocation(revoked('x7'));
  const later = await steady.read(next.through);
  assert.deepEqual(
    later.revocations.map((r) => r.value),
    ['x7'],
  );
  assert.equal(steady.reads, 2);
  await restored.close();
});

test('a cursor whose change was pruned, or of another store, reads everything once', async () => {
  const store = await openSqliteIdentityStore(':memory:');
  const soon = (v: string): Revocation => ({ ...revoked(v), expiresAt: '2026-12-07T13:00:00.000Z' });
  await store.addRevocation(soon('old'));
  const first = await reader(store).read({ change: 0 });
  await store.addRevocation(revoked('new'));
  assert.equal(await store.pruneRevocations('2026-12-08T00:00:00.000Z'), 1);
  const pruned = reader(store);
  const next = await pruned.read(first.through);
  assert.deepEqual(
    next.revocations.map((r) => r.value),
    ['new'],
  );
  assert.equal(pruned.reads, 2);
  assert.deepEqual(next.through, { change: 2, mark: revocationMark(revoked('new')) });

  // Another store's cursor at the same number, or a mark of nothing here.
  const other = await reader(store).read({ change: 2, mark: revocationMark(revoked('elsewhere')) });
  assert.deepEqual(
    other.revocations.map((r) => r.value),
    ['new'],
  );
  // A plain number is taken as before, and the answer carries the mark from then on.
  assert.deepEqual(await reader(store).read({ change: 2 }), { revocations: [], through: next.through });
  // An empty store.
  const empty = await openSqliteIdentityStore(':memory:');
  assert.deepEqual(await reader(empty).read(next.through), { revocations: [], through: { change: 0 } });
  await store.close();
  await empty.close();
});
