/**
 * One prune step of the SQLite decision log (sql-decision-log.ts,
 * `pruneStepPlan`) as a better-sqlite3 transaction: synchronous from BEGIN
 * to COMMIT, for the writing thread's connection and for an in-memory log.
 */
import type Database from 'better-sqlite3';
import {
  PRUNE_CANDIDATES_SQL,
  pruneStepPlan,
  type PruneStep,
  type PruneStepResult,
} from '../sql/sql-decision-log.js';
import type { SqlRow } from '../sql/sql-driver.js';

export function sqlitePruneStep(
  db: Database.Database,
): Database.Transaction<(step: PruneStep) => PruneStepResult> {
  const candidates = db.prepare(PRUNE_CANDIDATES_SQL);
  const statements = new Map<string, Database.Statement>();
  return db.transaction((step: PruneStep) => {
    const plan = pruneStepPlan(candidates.all(step.batchSize) as SqlRow[], step);
    for (const [sql, params] of plan.statements) {
      let statement = statements.get(sql);
      if (!statement) statements.set(sql, (statement = db.prepare(sql)));
      statement.run(...params);
    }
    return plan.result;
  });
}
