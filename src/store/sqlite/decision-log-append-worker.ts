/**
 * The thread that writes the SQLite decision log for {@link openSqliteDecisionLog}
 * (decision-log-append-thread.ts): its own connection to the file (WAL,
 * `synchronous = FULL`), one append at a time, each in one transaction from
 * BEGIN IMMEDIATE to COMMIT. Once the connection is open it posts
 * `{ ready: true }`; then it answers each append `{ id, ok: true }` once
 * the rows are durable, `{ id, tail }` without writing when the stored log
 * does not end where the append expects, `{ id, logged }` without writing
 * when it already holds records of the append's `onlyNew` keys (those
 * keys), or `{ id, error }`; and each prune
 * step (`{ id, prune }`) `{ id, pruned }` or `{ id, error }`. `'close'`
 * closes the connection and ends the thread.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { GENESIS_HASH } from '../../core/log/hash-chain.js';
import {
  INSERT_SQL,
  LOGGED_SQL,
  TAIL_SQL,
  type LogKey,
  type PruneStep,
  type PruneStepResult,
} from '../sql/sql-decision-log.js';
import type { SqlRow, SqlValue } from '../sql/sql-driver.js';
import { setConnectionPragmas } from './open-sqlite-database.js';
import { sqlitePruneStep } from './sqlite-prune-step.js';

export interface AppendJob {
  id: number;
  /** The stored tail the rows continue: its seq (0 for an empty log) and hash. */
  expect: { seq: number; hash: string };
  rows: readonly (readonly SqlValue[])[];
  /** Keys of records to store only when the log holds none of them. */
  onlyNew: readonly LogKey[];
}

export interface PruneJob {
  id: number;
  prune: PruneStep;
}

export type AppendAnswer =
  | { id: number; ok: true }
  | { id: number; pruned: PruneStepResult }
  | { id: number; tail: SqlRow | null }
  | { id: number; logged: LogKey[] }
  | { id: number; error: { message: string; code?: string } };

const { file, busyTimeoutMs } = workerData as { file: string; busyTimeoutMs: number };
const db = new Database(file, { timeout: busyTimeoutMs });
setConnectionPragmas(db, busyTimeoutMs);
const tail = db.prepare(TAIL_SQL);
const insert = db.prepare(INSERT_SQL);
const logged = db.prepare(LOGGED_SQL).pluck();
const append = db.transaction((job: AppendJob): SqlRow | null | LogKey[] | true => {
  // The same test as the plan's check, which cannot cross threads: an empty log ends at 0 and the genesis hash.
  const last = (tail.get() as SqlRow | undefined) ?? null;
  const seq = last === null ? 0 : Number(last['seq']);
  const hash = last === null ? GENESIS_HASH : String(last['hash']);
  if (seq !== job.expect.seq || hash !== job.expect.hash) return last;
  const held = job.onlyNew.filter((key) => logged.get(key.time, key.decisionId, key.service) !== undefined);
  if (held.length > 0) return held;
  for (const row of job.rows) insert.run(...row);
  return true;
});

const pruneStep = sqlitePruneStep(db);

parentPort!.postMessage({ ready: true });
parentPort!.on('message', (job: AppendJob | PruneJob | 'close') => {
  if (job === 'close') {
    db.close();
    parentPort!.close();
    return;
  }
  let answer: AppendAnswer;
  try {
    if ('prune' in job) {
      answer = { id: job.id, pruned: pruneStep.immediate(job.prune) };
    } else {
      const result = append.immediate(job);
      answer =
        result === true
          ? { id: job.id, ok: true }
          : Array.isArray(result)
            ? { id: job.id, logged: result }
            : { id: job.id, tail: result };
    }
  } catch (error) {
    const e = error as { message?: unknown; code?: unknown };
    answer = {
      id: job.id,
      error: {
        message: String(e?.message ?? error),
        ...(typeof e?.code === 'string' ? { code: e.code } : {}),
      },
    };
  }
  parentPort!.postMessage(answer);
});
