/**
 * Opening a SQLite file for one of the stores: the connection, its lock
 * wait, WAL with synced commits, and the store's migrations. The identity
 * store and the decision log open the same way and may share the file; each
 * keeps its own tables and migration ledger.
 */
import Database from 'better-sqlite3';
import { GatehouseError } from '../../core/errors.js';
import { runMigrations, type MigrationSet } from '../sql/migrate.js';
import type { SqlDriver } from '../sql/sql-driver.js';
import { storeFailure } from '../sql/store-failure.js';
import { createSqliteDriver } from './sqlite-driver.js';

export interface SqliteOpening {
  file: string;
  /** How long a statement waits for another connection's write lock, in milliseconds. */
  busyTimeoutMs: number;
  /** What is opened, for errors: `SQLite database`, `SQLite decision log`. */
  what: string;
  migrations: MigrationSet;
  /** Pragmas set after the shared ones, before migrating (`foreign_keys = ON`). */
  pragmas?: readonly string[];
}

/**
 * What every connection to a store's file sets, this one's and the decision
 * log's writing thread's (decision-log-append-worker.ts): the lock wait, WAL
 * and synced commits (see {@link openSqliteDatabase} for why FULL).
 */
export function setConnectionPragmas(db: Database.Database, busyTimeoutMs: number): void {
  db.pragma(`busy_timeout = ${busyTimeoutMs}`);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
}

/**
 * Opens (creating when missing) the database at `file`, or a private
 * in-memory one for `':memory:'`, and migrates it.
 *
 * WAL: readers do not block the writer, and a commit is one append.
 * `synchronous = FULL`, not NORMAL: in WAL mode NORMAL survives a crash of
 * this process, but an OS crash or power loss may drop the last commits,
 * and both stores promise more — a consumed join token stays consumed, a
 * revocation stays revoked, an acknowledged decision stays logged.
 *
 * Fails with `store_error` for a busy timeout that is not whole milliseconds,
 * when the file cannot be opened, or when its schema is newer than this code
 * knows; the connection is closed again then.
 */
export async function openSqliteDatabase(
  opening: SqliteOpening,
): Promise<{ db: Database.Database; driver: SqlDriver }> {
  const { file, busyTimeoutMs, what } = opening;
  if (!Number.isInteger(busyTimeoutMs) || busyTimeoutMs < 0) {
    throw new GatehouseError(
      'store_error',
      `invalid busy timeout \`${busyTimeoutMs}\`: want whole milliseconds`,
    );
  }
  let db: Database.Database;
  try {
    db = new Database(file, { timeout: busyTimeoutMs });
  } catch (error) {
    throw new GatehouseError('store_error', `cannot open SQLite database \`${file}\``, { cause: error });
  }
  const driver = createSqliteDriver(db);
  try {
    setConnectionPragmas(db, busyTimeoutMs);
    for (const pragma of opening.pragmas ?? []) db.pragma(pragma);
    await runMigrations(driver, opening.migrations);
  } catch (error) {
    await driver.close();
    throw storeFailure(`open ${what} \`${file}\``, error, driver.describeFailure(error));
  }
  return { db, driver };
}
