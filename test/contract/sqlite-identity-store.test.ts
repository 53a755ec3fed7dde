import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { GatehouseError } from '../../src/core/errors.js';
import { openSqliteIdentityStore } from '../../src/store/index.js';
import { latestVersion, runMigrations, type MigrationSet } from '../../src/store/sql/migrate.js';
import { SQLITE_MIGRATIONS } from '../../src/store/sqlite/migrations.js';
import type { SqlExecutor } from '../../src/store/sql/sql-driver.js';
import { createSqliteDriver } from '../../src/store/sqlite/sqlite-driver.js';
import {
  checkActivationSeeded,
  checkRevocationsNumbered,
  holdActivePolicyUnnumbered,
  entryRecord,
  fullEntryRecord,
  holdRevocationsUnnumbered,
  identityStoreContract,
} from './identity-store.contract.js';

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-sqlite-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;
function newFile(): string {
  return join(dir, `store-${++files}.db`);
}

let current = '';
identityStoreContract('SQLite identity store contract', {
  openEmpty: () => openSqliteIdentityStore((current = newFile())),
  openAgain: () => openSqliteIdentityStore(current),
});

function ledger(file: string): { version: number; name: string; applied_at: string }[] {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare('SELECT version, name, applied_at FROM schema_migrations ORDER BY version').all() as {
      version: number;
      name: string;
      applied_at: string;
    }[];
  } finally {
    db.close();
  }
}

describe('SQLite identity store', () => {
  test('an in-memory database works', async () => {
    const store = await openSqliteIdentityStore(':memory:');
    await store.createEntry(entryRecord('ent_mem'));
    assert.equal((await store.listEntries()).length, 1);
    await store.close();
  });

  test('data survives close and reopen of the same file', async () => {
    const file = newFile();
    const first = await openSqliteIdentityStore(file);
    await first.createEntry(fullEntryRecord('ent_kept'));
    await first.createJoinToken({
      hash: 'sha256:t',
      entryId: 'ent_kept',
      createdAt: '2026-01-01T00:00:00.000Z',
      expiresAt: '2026-01-01T01:00:00.000Z',
    });
    assert.ok(await first.consumeJoinToken('sha256:t', '2026-01-01T00:10:00.000Z'));
    await first.setMeta('bundle.sequence', '7');
    await first.close();

    const second = await openSqliteIdentityStore(file);
    assert.deepEqual(await second.getEntry('ent_kept'), fullEntryRecord('ent_kept'));
    assert.equal(await second.getMeta('bundle.sequence'), '7');
    // A consumed token stays consumed across a restart.
    assert.equal(await second.consumeJoinToken('sha256:t', '2026-01-01T00:20:00.000Z'), undefined);
    await second.close();
  });

  test('the database is in WAL mode', async () => {
    const file = newFile();
    await (await openSqliteIdentityStore(file)).close();
    const db = new Database(file, { readonly: true });
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    db.close();
  });

  test('migrations are applied once and recorded', async () => {
    const file = newFile();
    await (await openSqliteIdentityStore(file)).close();
    const first = ledger(file);
    assert.deepEqual(
      first.map((m) => [m.version, m.name]),
      SQLITE_MIGRATIONS.migrations.map((m) => [m.version, m.name]),
    );
    assert.match(first[0]!.applied_at, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    await (await openSqliteIdentityStore(file)).close();
    assert.deepEqual(ledger(file), first);
  });

  test('migration versions count up from 1', () => {
    SQLITE_MIGRATIONS.migrations.forEach((m, i) => assert.equal(m.version, i + 1));
  });

  test('a database from a newer schema version is refused', async () => {
    const file = newFile();
    await (await openSqliteIdentityStore(file)).close();
    const future = latestVersion(SQLITE_MIGRATIONS) + 1;
    const db = new Database(file);
    db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(
      future,
      'from_the_future',
      '2030-01-01T00:00:00.000Z',
    );
    db.close();
    await assert.rejects(openSqliteIdentityStore(file), (error: unknown) => {
      assert.ok(error instanceof GatehouseError);
      assert.equal(error.code, 'store_error');
      assert.match(error.message, new RegExp(`schema version ${future} is newer than this Gatehouse knows`));
      return true;
    });
    // The refusal changed nothing.
    assert.equal(ledger(file).at(-1)?.version, future);
  });

  /** A store opened on a database left at schema `version`, holding what `hold` put there. */
  async function openedFrom(version: number, hold: (driver: SqlExecutor) => Promise<void>) {
    const file = newFile();
    const driver = createSqliteDriver(new Database(file));
    await runMigrations(driver, {
      ...SQLITE_MIGRATIONS,
      migrations: SQLITE_MIGRATIONS.migrations.slice(0, version),
    });
    await hold(driver);
    await driver.close();
    return openSqliteIdentityStore(file);
  }

  test('version 3 numbers the revocations of an older database in the order of their times', async () => {
    const store = await openedFrom(2, holdRevocationsUnnumbered);
    await checkRevocationsNumbered(store);
    await store.close();
  });

  test('version 4 numbers the active policy of an older database as the first activation', async () => {
    const store = await openedFrom(3, holdActivePolicyUnnumbered);
    await checkActivationSeeded(store);
    await store.close();
  });

  test('a migration that fails leaves the schema as it was', async () => {
    const file = newFile();
    await (await openSqliteIdentityStore(file)).close();
    const broken: MigrationSet = {
      ...SQLITE_MIGRATIONS,
      migrations: [
        ...SQLITE_MIGRATIONS.migrations,
        {
          version: latestVersion(SQLITE_MIGRATIONS) + 1,
          name: 'broken',
          statements: ['CREATE TABLE half_done (x TEXT) STRICT', 'CREATE TABLE entries (x TEXT) STRICT'],
        },
      ],
    };
    const driver = createSqliteDriver(new Database(file));
    await assert.rejects(runMigrations(driver, broken), /already exists/);
    assert.deepEqual(await driver.rows("SELECT name FROM sqlite_master WHERE name = 'half_done'"), []);
    await driver.close();
    assert.equal(ledger(file).length, SQLITE_MIGRATIONS.migrations.length);
  });

  test('a file that cannot be opened is a store_error', async () => {
    await assert.rejects(openSqliteIdentityStore(join(dir, 'no-such-dir', 'x.db')), (error: unknown) => {
      assert.ok(error instanceof GatehouseError);
      assert.equal(error.code, 'store_error');
      assert.match(error.message, /cannot open SQLite database/);
      return true;
    });
    const junk = newFile();
    writeFileSync(
      junk,
      'this is not a database, but long enough to have a header of a hundred bytes or more. '.repeat(3),
    );
    await assert.rejects(openSqliteIdentityStore(junk), (error: unknown) => {
      assert.ok(error instanceof GatehouseError);
      assert.equal(error.code, 'store_error');
      return true;
    });
  });
});
