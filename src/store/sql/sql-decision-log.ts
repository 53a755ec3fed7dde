/**
 * The decision log over any {@link SqlDriver}: every query of the port,
 * written once in the SQL that SQLite and PostgreSQL share. Adapters supply
 * the reading driver, how one append's transaction runs (the one thing that
 * differs: see sqlite-decision-log.ts) and the schema
 * (decision-log-migrations.ts in each).
 */
import { GatehouseError } from '../../core/errors.js';
import { InTurn } from '../../core/in-turn.js';
import type { DecisionRecord } from '../../core/log/decision-record.js';
import { RecordsAlreadyLogged } from '../../core/log/records-already-logged.js';
import { canonicalRecordJson, GENESIS_HASH } from '../../core/log/hash-chain.js';
import type {
  DecisionLogAnchor,
  DecisionLogAppendOptions,
  DecisionLogFilter,
  DecisionLogStore,
  StoredDecisionRecord,
} from '../../core/ports.js';
import type { SqlDriver, SqlRow, SqlValue } from './sql-driver.js';
import { storeFailure } from './store-failure.js';
import { storedTime } from './stored-time.js';

/**
 * One append as data: the check of the stored tail, then the inserts. A
 * plan is run in one transaction by the adapter ({@link SqlDecisionLogParts}).
 */
export interface AppendPlan {
  /**
   * Throws `store_conflict` unless the records continue `tail`, the row that
   * {@link TAIL_SQL} read inside the same transaction (undefined when empty).
   */
  check(tail: SqlRow | undefined): void;
  /** The stored last record the rows continue, as {@link check} wants it: `seq` 0 for an empty log. */
  expect: { seq: number; hash: string };
  /** The rows to insert, in order, their values in the order of {@link INSERT_SQL}'s columns. */
  rows: readonly (readonly SqlValue[])[];
  /**
   * Records to store only when the log holds none with the same key
   * (`DecisionLogAppendOptions.onlyNew`); the adapter looks for them after
   * the tail's check, in the same transaction, and throws
   * {@link alreadyLogged} of the ids it found, if any.
   */
  onlyNew: readonly LogKey[];
  /** The error for an append refused because the log holds records of these keys. */
  alreadyLogged(held: readonly LogKey[]): RecordsAlreadyLogged;
  /**
   * When {@link check} refuses `tail`: the rows of the same records chained
   * again after it (`DecisionLogAppendOptions.rechain`), which the adapter
   * inserts instead, in the same transaction. Absent when the caller gave
   * no way to chain again; then the refusal stands.
   */
  rechain?(tail: SqlRow | undefined): readonly (readonly SqlValue[])[];
}

/**
 * How a record is found by its decision id: with the canonical time it was
 * decided at (`decided_at`) and its service. The service keeps one caller's
 * records from standing for another's: a workload ships records only for its
 * own services, and decision ids are not secret (every answer carries one),
 * so a record of the same id and time for its service must not make the log
 * take a record of another service for already held. `index`: the record's
 * place in its append.
 */
export interface LogKey {
  index: number;
  time: string;
  decisionId: string;
  service: string;
}

/** Whether the log holds a record of this key: `decided_at`, `decision_id`, `service`. */
export const LOGGED_SQL =
  'SELECT 1 FROM decision_log WHERE decided_at = ? AND decision_id = ? AND service = ? LIMIT 1';

/** The stored last record: `seq`, `hash`. */
export const TAIL_SQL = 'SELECT seq, hash FROM decision_log ORDER BY seq DESC LIMIT 1';

/**
 * The record's canonical text (`record_json`), which its hash covers, and copies of its fields
 * for the queries to filter and order by. INVARIANT: each copy equals the field it copies
 * ({@link recordRow}); `decisions verify` checks it (core/log/stored-record-problem.ts).
 */
const COLUMNS = [
  'seq',
  'decided_at',
  'decision_id',
  'source_spiffe_id',
  'service',
  'verdict',
  'hash',
  'record_json',
] as const;

/**
 * A batch of {@link DecisionLogStore.scan}: every column, for `decisions verify` to check the
 * copies against the record's text.
 */
const SCAN_SQL = `SELECT ${COLUMNS.join(', ')} FROM decision_log WHERE seq >= ? ORDER BY seq LIMIT ?`;

const ROW_PLACEHOLDERS = `(${COLUMNS.map(() => '?').join(', ')})`;

/** Inserts one row of an {@link AppendPlan}. */
export const INSERT_SQL = `INSERT INTO decision_log (${COLUMNS.join(', ')}) VALUES ${ROW_PLACEHOLDERS}`;

/** The anchor: the last record pruned (docs/decision-log.md, "Retention"). */
export const ANCHOR_SQL = 'SELECT seq, hash, pruned_at, pruned FROM decision_log_anchor WHERE id = 1';

/** The oldest records below the newest, at most `?` of them: what one prune step may delete. */
export const PRUNE_CANDIDATES_SQL =
  'SELECT seq, decided_at, hash FROM decision_log WHERE seq < (SELECT MAX(seq) FROM decision_log) ORDER BY seq LIMIT ?';
const PRUNE_DELETE_SQL = 'DELETE FROM decision_log WHERE seq <= ?';
const ANCHOR_MOVE_SQL = `INSERT INTO decision_log_anchor (id, seq, hash, pruned_at, pruned) VALUES (1, ?, ?, ?, ?)
  ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, pruned_at = excluded.pruned_at,
  pruned = decision_log_anchor.pruned + excluded.pruned`;

/**
 * One step of a prune, as data: run in one transaction by the adapter
 * ({@link SqlDecisionLogParts.runPruneStep}), which reads
 * {@link PRUNE_CANDIDATES_SQL} with `batchSize` and runs what
 * {@link pruneStepPlan} makes of the rows.
 */
export interface PruneStep {
  /** Canonical time: the first record decided at or after it stays, and every record after it. */
  before: string;
  /** Canonical time of the prune, for the anchor. */
  at: string;
  batchSize: number;
}

export interface PruneStepResult {
  pruned: number;
  /** Whether a next step may find more to delete. */
  more: boolean;
}

/**
 * What a prune step does with the candidates it read, oldest first: the
 * statements to run in the same transaction (`[sql, params]`; none when
 * nothing is deleted) and its result. The records before the first one
 * decided at or after `before` are deleted, and the anchor moves to the
 * last of them.
 */
export function pruneStepPlan(
  candidates: readonly SqlRow[],
  step: PruneStep,
): { statements: [string, SqlValue[]][]; result: PruneStepResult } {
  let count = 0;
  // Canonical times: text order is time order.
  while (count < candidates.length && String(candidates[count]!['decided_at']) < step.before) count++;
  if (count === 0) return { statements: [], result: { pruned: 0, more: false } };
  const last = candidates[count - 1]!;
  const seq = Number(last['seq']);
  return {
    statements: [
      [PRUNE_DELETE_SQL, [seq]],
      [ANCHOR_MOVE_SQL, [seq, String(last['hash']), step.at, count]],
    ],
    result: { pruned: count, more: count === step.batchSize },
  };
}

/**
 * Rows per INSERT statement in {@link appendThrough}: few round trips per
 * batch, far below the database's parameter limit.
 */
const ROWS_PER_INSERT = 100;

export interface SqlDecisionLogParts {
  /** Every read, and the dialect of every error. Must see committed records only. */
  reader: SqlDriver;
  /**
   * Runs one plan in one transaction that no other writer of the log can
   * interleave with, durable when it resolves. Called for one append at a
   * time.
   */
  runAppend(plan: AppendPlan): Promise<void>;
  /**
   * Runs one prune step in one transaction that no other writer of the log
   * can interleave with. Called for one step or append at a time.
   */
  runPruneStep(step: PruneStep): Promise<PruneStepResult>;
  /** Why appends cannot run now (a writing thread that stopped), if the adapter knows. */
  problem?(): string | undefined;
  /** Releases every connection, the reader's included. */
  close(): Promise<void>;
}

/**
 * {@link SqlDecisionLogParts.runAppend} through {@link SqlDriver.exclusive},
 * for a driver whose calls go over the network: rows are inserted many to a
 * statement.
 */
export function appendThrough(writer: SqlDriver): (plan: AppendPlan) => Promise<void> {
  return (plan) =>
    writer.exclusive(async (tx) => {
      const [tail] = await tx.rows(TAIL_SQL);
      let follows = true;
      try {
        plan.check(tail);
      } catch (error) {
        if (plan.rechain === undefined) throw error;
        follows = false;
      }
      if (plan.onlyNew.length > 0) {
        const logged = await loggedKeys(plan.onlyNew, (sql, params) => tx.rows(sql, params));
        if (logged.length > 0) throw plan.alreadyLogged(logged);
      }
      // Chained again here, under the lock: no other writer can append before this one commits.
      const rows = follows ? plan.rows : plan.rechain!(tail);
      for (let at = 0; at < rows.length; at += ROWS_PER_INSERT) {
        const chunk = rows.slice(at, at + ROWS_PER_INSERT);
        await tx.run(
          `INSERT INTO decision_log (${COLUMNS.join(', ')}) VALUES ${chunk.map(() => ROW_PLACEHOLDERS).join(', ')}`,
          chunk.flat(),
        );
      }
    });
}

/**
 * Keys per query of {@link loggedKeys}: two parameters each, far below either
 * database's limit.
 */
const LOOKUPS_PER_QUERY = 500;

/**
 * The keys among `keys` that the log holds a record of, a few queries for
 * many keys (for a driver whose calls go over the network).
 */
async function loggedKeys(
  keys: readonly LogKey[],
  rowsOf: (sql: string, params: SqlValue[]) => Promise<SqlRow[]>,
): Promise<LogKey[]> {
  const found = new Set<string>();
  for (let at = 0; at < keys.length; at += LOOKUPS_PER_QUERY) {
    const times = new Set<string>();
    const ids = new Set<string>();
    for (const key of keys.slice(at, at + LOOKUPS_PER_QUERY)) {
      times.add(key.time);
      ids.add(key.decisionId);
    }
    const rows = await rowsOf(
      `SELECT decided_at, decision_id, service FROM decision_log WHERE decided_at IN (${placeholders(times.size)}) AND decision_id IN (${placeholders(ids.size)})`,
      [...times, ...ids],
    );
    // A row matches only a key of its own time, id and service, not any time with any id asked for.
    for (const row of rows)
      found.add(`${String(row['decided_at'])} ${String(row['decision_id'])} ${String(row['service'])}`);
  }
  return keys.filter((key) => found.has(`${key.time} ${key.decisionId} ${key.service}`));
}

/** {@link SqlDecisionLogParts.runPruneStep} through {@link SqlDriver.exclusive}. */
export function pruneThrough(writer: SqlDriver): (step: PruneStep) => Promise<PruneStepResult> {
  return (step) =>
    writer.exclusive(async (tx) => {
      const plan = pruneStepPlan(await tx.rows(PRUNE_CANDIDATES_SQL, [step.batchSize]), step);
      for (const [sql, params] of plan.statements) await tx.run(sql, params);
      return plan.result;
    });
}

const VERDICTS: ReadonlySet<string> = new Set(['allow', 'deny']);

/**
 * Appends are serialized inside the store, and each one checks, in its
 * transaction, that it continues the stored log: the first record follows
 * the stored last one by sequence number and links to its hash, and each
 * following record to the one before. The stored `record_json` is the
 * record's canonical JSON (keys sorted, no white space), the text its hash
 * covers plus the hash itself. After `close` (which may be called again)
 * every method fails with `store_error`.
 */
export function createSqlDecisionLog({
  reader,
  runAppend,
  runPruneStep,
  problem,
  close,
}: SqlDecisionLogParts): DecisionLogStore {
  // `closing` refuses new appends; `closed`, set once the appends asked for before are done, everything.
  let closing = false;
  let closed = false;
  // The tail of the append queue: settles when the last requested append has.
  const appending = new InTurn();
  let shutDown: Promise<void> = Promise.resolve();

  const closedError = (action: string) =>
    new GatehouseError('store_error', `cannot ${action}: the decision log is closed`);

  async function attempt<T>(action: string, work: () => Promise<T>): Promise<T> {
    if (closed) throw closedError(action);
    try {
      return await work();
    } catch (error) {
      throw storeFailure(action, error, reader.describeFailure(error));
    }
  }

  async function appendNow(
    records: readonly DecisionRecord[],
    texts: readonly string[] | undefined,
    options: DecisionLogAppendOptions,
  ): Promise<void> {
    const first = records[0]!;
    const action = `append decision records ${first.seq} to ${records.at(-1)!.seq}`;
    await attempt(action, async () => {
      const rows = batchRows(records, texts, action);
      const onlyNew = (options.onlyNew ?? []).map((i): LogKey => {
        const row = rows[i];
        if (row === undefined) {
          throw new GatehouseError('store_error', `cannot ${action}: no record ${i} to store only once`);
        }
        // The row's `decided_at`, `decision_id` and `service`.
        return { index: i, time: String(row[1]), decisionId: String(row[2]), service: String(row[4]) };
      });
      const rechain = options.rechain;
      await runAppend({
        check: (tail) => checkFollows(first, tail, action),
        expect: { seq: first.seq - 1, hash: first.prevHash },
        rows,
        onlyNew,
        alreadyLogged: (held) => new RecordsAlreadyLogged(action, held),
        ...(rechain && {
          rechain(tail) {
            const again = rechain(
              tail === undefined ? undefined : { seq: Number(tail['seq']), hash: String(tail['hash']) },
            );
            const next = again.records[0];
            if (again.records.length !== records.length || next === undefined) {
              throw new GatehouseError(
                'store_error',
                `cannot ${action}: chained again as ${again.records.length} records`,
              );
            }
            const rowsAgain = batchRows(again.records, again.texts, action);
            checkFollows(next, tail, action);
            // The same records, in the same order: the keys looked for are theirs too.
            return rowsAgain;
          },
        }),
      });
    });
  }

  /** Runs `work` after every append and prune step asked for before it. */
  function queued<T>(work: () => Promise<T>): Promise<T> {
    return appending.run(work);
  }

  const anchor = () =>
    attempt('read the decision log anchor', async () => {
      const [row] = await reader.rows(ANCHOR_SQL);
      return row === undefined ? undefined : anchorOf(row);
    });

  return {
    async append(records, texts, options = {}) {
      if (closing) throw closedError('append decision records');
      if (records.length === 0) return;
      return queued(() => appendNow(records, texts, options));
    },

    anchor,

    async prune(before, options) {
      const step: PruneStep = {
        before: filterTime(before, 'before'),
        at: storedTime(options.at, 'prune time'),
        batchSize: wholeNumber(options.batchSize ?? 1000, 'batch size', 1),
      };
      let pruned = 0;
      // Step by step, each queued behind the appends asked for meanwhile: a long prune holds no one up.
      for (let more = true; more && options.signal?.aborted !== true;) {
        if (closing) throw closedError('prune the decision log');
        const result = await queued(() => attempt('prune the decision log', () => runPruneStep(step)));
        pruned += result.pruned;
        more = result.more;
      }
      return { pruned, anchor: await anchor() };
    },

    last: () =>
      attempt('read the last decision record', async () => {
        const [row] = await reader.rows(TAIL_SQL);
        return row === undefined ? undefined : { seq: Number(row['seq']), hash: String(row['hash']) };
      }),

    query: async (filter) => {
      const { where, params } = filterClause(filter);
      const order = filter.descending === true ? 'DESC' : 'ASC';
      return attempt('query the decision log', async () => {
        const rows = await reader.rows(
          `SELECT seq, record_json FROM decision_log${where} ORDER BY seq ${order} LIMIT ?`,
          [...params, filter.limit],
        );
        return rows.map((row) => parseRecord(Number(row['seq']), String(row['record_json'])));
      });
    },

    scan(fromSeq, batchSize) {
      return {
        async *[Symbol.asyncIterator]() {
          wholeNumber(fromSeq, 'scan start', 0);
          wholeNumber(batchSize, 'scan batch size', 1);
          let next = fromSeq;
          while (true) {
            const rows = await attempt(`read decision records from ${next}`, () =>
              reader.values(SCAN_SQL, [next, batchSize]),
            );
            if (rows.length === 0) return;
            // In the order of COLUMNS.
            const batch: StoredDecisionRecord[] = rows.map((row) => ({
              seq: Number(row[0]),
              json: String(row[7]),
              columns: {
                decidedAt: String(row[1]),
                decisionId: String(row[2]),
                sourceSpiffeId: String(row[3]),
                service: String(row[4]),
                verdict: String(row[5]),
                hash: String(row[6]),
              },
            }));
            yield batch;
            if (batch.length < batchSize) return;
            next = batch.at(-1)!.seq + 1;
          }
        },
      };
    },

    problem: () => (closing ? 'the decision log is closed' : problem?.()),

    count: () =>
      attempt('count decision records', async () => {
        const [row] = await reader.rows('SELECT COUNT(*) AS n FROM decision_log');
        return Number(row?.['n'] ?? 0);
      }),

    close() {
      if (!closing) {
        closing = true;
        shutDown = (async () => {
          await appending.idle();
          closed = true;
          await close();
        })();
      }
      return shutDown;
    },
  };
}

/**
 * The rows of an append's records, once they are known to link one to the
 * next. Fails with `store_error` for a count of texts that does not match,
 * `store_conflict` for a record that does not follow the one before.
 */
function batchRows(
  records: readonly DecisionRecord[],
  texts: readonly string[] | undefined,
  action: string,
): SqlValue[][] {
  if (texts !== undefined && texts.length !== records.length) {
    throw new GatehouseError(
      'store_error',
      `cannot ${action}: ${texts.length} texts for ${records.length} records`,
    );
  }
  for (let i = 1; i < records.length; i++) {
    const record = records[i]!;
    const before = records[i - 1]!;
    if (record.seq !== before.seq + 1 || record.prevHash !== before.hash) {
      throw new GatehouseError(
        'store_conflict',
        `cannot ${action}: record ${record.seq} does not follow record ${before.seq} of the same batch`,
      );
    }
  }
  return records.map((record, i) => recordRow(record, texts?.[i]));
}

/** Throws `store_conflict` unless `first` continues `tail`, the stored last row (undefined when empty). */
function checkFollows(first: DecisionRecord, tail: SqlRow | undefined, action: string): void {
  const tailSeq = tail === undefined ? 0 : Number(tail['seq']);
  const tailHash = tail === undefined ? GENESIS_HASH : String(tail['hash']);
  if (first.seq !== tailSeq + 1) {
    throw new GatehouseError('store_conflict', `cannot ${action}: the stored log ends at record ${tailSeq}`);
  }
  if (first.prevHash !== tailHash) {
    throw new GatehouseError(
      'store_conflict',
      `cannot ${action}: record ${first.seq} does not link to the stored record ${tailSeq}`,
    );
  }
}

/** The row of a record, in {@link COLUMNS} order; `text` is its canonical JSON when already written. */
function recordRow(record: DecisionRecord, text: string | undefined): SqlValue[] {
  return [
    record.seq,
    storedTime(record.time, `decision record ${record.seq}`),
    record.decisionId,
    record.source.spiffeId,
    record.destination.service,
    record.decision,
    record.hash,
    text ?? canonicalRecordJson(record),
  ];
}

const placeholders = (n: number) => Array.from({ length: n }, () => '?').join(', ');

function anchorOf(row: SqlRow): DecisionLogAnchor {
  return {
    seq: Number(row['seq']),
    hash: String(row['hash']),
    prunedAt: String(row['pruned_at']),
    pruned: Number(row['pruned']),
  };
}

function parseRecord(seq: number, json: string): DecisionRecord {
  try {
    return JSON.parse(json) as DecisionRecord;
  } catch (error) {
    throw new GatehouseError(
      'store_error',
      `decision record ${seq} is unreadable: its stored text is not JSON; check the log with \`gatehouse decisions verify\``,
      { cause: error },
    );
  }
}

/** The WHERE clause of a filter (empty or with a leading space) and its parameters. */
function filterClause(filter: DecisionLogFilter): { where: string; params: SqlValue[] } {
  wholeNumber(filter.limit, 'limit', 1);
  const conditions: string[] = [];
  const params: SqlValue[] = [];
  const add = (condition: string, value: SqlValue) => {
    conditions.push(condition);
    params.push(value);
  };
  if (filter.identity !== undefined) add('source_spiffe_id = ?', filter.identity);
  if (filter.service !== undefined) add('service = ?', filter.service);
  if (filter.verdict !== undefined) {
    if (!VERDICTS.has(filter.verdict)) {
      throw new GatehouseError(
        'request_invalid',
        `invalid verdict \`${filter.verdict}\`: want allow or deny`,
      );
    }
    add('verdict = ?', filter.verdict);
  }
  if (filter.since !== undefined) add('decided_at >= ?', filterTime(filter.since, 'since'));
  if (filter.until !== undefined) add('decided_at < ?', filterTime(filter.until, 'until'));
  if (filter.afterSeq !== undefined) add('seq > ?', wholeNumber(filter.afterSeq, 'afterSeq', 0));
  if (filter.beforeSeq !== undefined) add('seq < ?', wholeNumber(filter.beforeSeq, 'beforeSeq', 0));
  return { where: conditions.length === 0 ? '' : ` WHERE ${conditions.join(' AND ')}`, params };
}

function filterTime(value: string, name: string): string {
  try {
    return storedTime(value, name);
  } catch {
    throw new GatehouseError('request_invalid', `invalid ${name} \`${String(value)}\`: want RFC 3339`);
  }
}

function wholeNumber(value: number, name: string, min: number): number {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new GatehouseError(
      'request_invalid',
      `invalid ${name} \`${String(value)}\`: want a whole number of ${min} or more`,
    );
  }
  return value;
}
