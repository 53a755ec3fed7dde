/**
 * The decision log in one SQLite file, for a single control-plane node. The
 * file may be the identity store's: the log keeps its own table and its own
 * migration ledger.
 */
import type { DecisionLogStore } from '../../core/ports.js';
import {
  createSqlDecisionLog,
  INSERT_SQL,
  LOGGED_SQL,
  TAIL_SQL,
  type AppendPlan,
} from '../sql/sql-decision-log.js';
import type { SqlRow } from '../sql/sql-driver.js';
import { startAppendThread } from './decision-log-append-thread.js';
import { SQLITE_DECISION_LOG_MIGRATIONS } from './decision-log-migrations.js';
import { openSqliteDatabase } from './open-sqlite-database.js';
import { sqlitePruneStep } from './sqlite-prune-step.js';

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
 * a crash of the process and of the machine. A file's appends run on a
 * thread of their own with its own connection (decision-log-append-thread.ts),
 * each from BEGIN IMMEDIATE to COMMIT without yielding, so the event loop
 * goes on while a batch is written and synced, and while another connection
 * (the identity store's, another process's) holds the write lock, for up to
 * `busyTimeoutMs`. The log's reads stay on this thread's connection and see
 * committed records only. An in-memory log, which a second connection could
 * not see, appends on this thread.
 *
 * Fails with `store_error` for a busy timeout that is not whole
 * milliseconds, when the file cannot be opened (here or by the writing
 * thread) or when the log's schema is newer than this code knows; the
 * connection is closed again then.
 */
export async function openSqliteDecisionLog(
  file: string,
  options: SqliteDecisionLogOptions = {},
): Promise<DecisionLogStore> {
  const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
  const { db, driver } = await openSqliteDatabase({
    file,
    busyTimeoutMs,
    what: 'SQLite decision log',
    migrations: SQLITE_DECISION_LOG_MIGRATIONS,
  });

  if (file !== ':memory:') {
    let thread;
    try {
      thread = await startAppendThread(file, busyTimeoutMs);
    } catch (error) {
      await driver.close();
      throw error;
    }
    return createSqlDecisionLog({
      reader: driver,
      runAppend: (plan) => thread.append(plan),
      runPruneStep: (step) => thread.prune(step),
      problem: () => thread.problem(),
      close: async () => {
        await thread.close();
        await driver.close();
      },
    });
  }

  const tail = db.prepare(TAIL_SQL);
  // One row a statement: with no round trips to save, SQLite inserts them faster than in many-row statements.
  const insert = db.prepare(INSERT_SQL);
  const logged = db.prepare(LOGGED_SQL).pluck();
  // Synchronous from BEGIN IMMEDIATE to COMMIT; a throw rolls back.
  const append = db.transaction((plan: AppendPlan) => {
    plan.check(tail.get() as SqlRow | undefined);
    const held = plan.onlyNew.filter(
      (key) => logged.get(key.time, key.decisionId, key.service) !== undefined,
    );
    if (held.length > 0) throw plan.alreadyLogged(held);
    for (const row of plan.rows) insert.run(...row);
  });
  const pruneStep = sqlitePruneStep(db);

  return createSqlDecisionLog({
    reader: driver,
    runAppend: async (plan) => {
      append.immediate(plan);
    },
    runPruneStep: async (step) => pruneStep.immediate(step),
    close: () => driver.close(),
  });
}
