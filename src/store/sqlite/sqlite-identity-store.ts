/**
 * The identity store in one SQLite file, for a single control-plane node.
 */
import type { IdentityStore } from '../../core/ports.js';
import { createSqlIdentityStore } from '../sql/sql-identity-store.js';
import { SQLITE_MIGRATIONS } from './migrations.js';
import { openSqliteDatabase } from './open-sqlite-database.js';

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
 * Fails with `store_error` for a busy timeout that is not whole
 * milliseconds, when the file cannot be opened or when its schema is newer
 * than this code knows; the connection is closed again then.
 */
export async function openSqliteIdentityStore(
  file: string,
  options: SqliteIdentityStoreOptions = {},
): Promise<IdentityStore> {
  const { driver } = await openSqliteDatabase({
    file,
    busyTimeoutMs: options.busyTimeoutMs ?? 5000,
    what: 'SQLite database',
    migrations: SQLITE_MIGRATIONS,
    pragmas: ['foreign_keys = ON'],
  });
  return createSqlIdentityStore(driver);
}
