/**
 * The decision log in one SQLite file, for a single control-plane node. The
 * file may be the identity store's: the log keeps its own table and its own
 * migration ledger.
 */
import type { DecisionLogStore } from '../../core/ports.js';
import { createSqlDecisionLog, INSERT_SQL, TAIL_SQL, type AppendPlan } from '../sql/sql-decision-log.js';
import type { SqlRow } from '../sql/sql-driver.js';
import { SQLITE_DECISION_LOG_MIGRATIONS } from './decision-log-migrations.js';
import { openSqliteDatabase } from './open-sqlite-database.js';

export interface SqliteDecisionLogOptions {
  /**
   * How long an append waits for another connection's write lock (the
   * identity store's, another process's) before it fails with `store_error`,
   * in milliseconds. Default 5000.
   */
  busyTimeoutMs?: number;
}

/**
 * Opens (creating when missing) the SQLite database at `file`, or a private
 * in-memory one for `':memory:'`, and migrates the decision log's tables to
 * the newest schema.
 *
 * In WAL mode with `synchronous = FULL` ({@link openSqliteDatabase}): an
 * append resolves only once its records are synced to disk, so they survive
 * a crash of the process and of the machine. Each append runs from BEGIN to COMMIT without yielding: no
 * other statement on this connection slips into it, and a connection of the
 * same process (the identity store's on the same file) never blocks the
 * thread waiting for a lock that only a yielded transaction could release.
 * The price: the event loop stands still for the commit, disk sync included
 * (milliseconds per batch), and for up to `busyTimeoutMs` while another
 * process holds the write lock.
 *
 * Fails with `store_error` for a busy timeout that is not whole
 * milliseconds, when the file cannot be opened or when the log's schema is
 * newer than this code knows; the connection is closed again then.
 */
export async function openSqliteDecisionLog(
  file: string,
  options: SqliteDecisionLogOptions = {},
): Promise<DecisionLogStore> {
  const { db, driver } = await openSqliteDatabase({
    file,
    busyTimeoutMs: options.busyTimeoutMs ?? 5000,
    what: 'SQLite decision log',
    migrations: SQLITE_DECISION_LOG_MIGRATIONS,
  });

  const tail = db.prepare(TAIL_SQL);
  // One row a statement: with no round trips to save, SQLite inserts them faster than in many-row statements.
  const insert = db.prepare(INSERT_SQL);
  // Synchronous from BEGIN IMMEDIATE to COMMIT; a throw rolls back.
  const append = db.transaction((plan: AppendPlan) => {
    plan.check(tail.get() as SqlRow | undefined);
    for (const row of plan.rows) insert.run(...row);
  });

  return createSqlDecisionLog({
    reader: driver,
    runAppend: async (plan) => {
      append.immediate(plan);
    },
    close: () => driver.close(),
  });
}
