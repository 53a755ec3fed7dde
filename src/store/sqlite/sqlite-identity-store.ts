/**
 * The identity store in one SQLite file, for a single control-plane node.
 */
import Database from 'better-sqlite3';
import { GatehouseError } from '../../core/errors.js';
import type { IdentityStore } from '../../core/ports.js';
import { runMigrations } from '../sql/migrate.js';
import { createSqlIdentityStore } from '../sql/sql-identity-store.js';
import { storeFailure } from '../sql/store-failure.js';
import { SQLITE_MIGRATIONS } from './migrations.js';
import { createSqliteDriver } from './sqlite-driver.js';

export interface SqliteIdentityStoreOptions {
  /**
   * How long a statement waits for another connection's write lock before it
   * fails with `store_error`, in milliseconds. Default 5000.
   */
  busyTimeoutMs?: number;
}

/**
 * Opens (creating when missing) the SQLite database at `file`, or a private
 * in-memory one for `':memory:'`, and migrates it to the newest schema.
 *
 * Fails with `store_error` when the file cannot be opened or when its schema
 * is newer than this code knows; the connection is closed again then.
 */
export async function openSqliteIdentityStore(
  file: string,
  options: SqliteIdentityStoreOptions = {},
): Promise<IdentityStore> {
  const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
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
    db.pragma(`busy_timeout = ${busyTimeoutMs}`);
    // WAL: readers do not block the writer, and a commit is one append.
    db.pragma('journal_mode = WAL');
    // FULL, not NORMAL: in WAL mode NORMAL already survives a crash of this
    // process, but an OS crash or power loss may drop the last commits. Here
    // that could hand a consumed join token back or undo a revocation, so
    // each commit is synced; the write rate of the identity plane is low.
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    await runMigrations(driver, SQLITE_MIGRATIONS);
  } catch (error) {
    await driver.close();
    throw storeFailure(`open SQLite database \`${file}\``, error, driver.describeFailure(error));
  }
  return createSqlIdentityStore(driver);
}
