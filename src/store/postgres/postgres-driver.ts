/**
 * The {@link SqlDriver} over a node-postgres pool. It translates the shared
 * SQL's `?` placeholders to `$1, $2, …` and reads values back in the form the
 * shared store expects.
 */
import pg from 'pg';
import type { ClientBase, CustomTypesConfig, Pool } from 'pg';
import {
  sqlNames,
  type SqlDriver,
  type SqlExecutor,
  type SqlFailure,
  type SqlRow,
  type SqlValue,
} from '../sql/sql-driver.js';

const { types } = pg;

/**
 * A `timestamptz` as PostgreSQL writes it in a UTC session:
 * `2026-01-02 03:04:05.67+00` (the fraction, to the microsecond, ends at its
 * last digit that is not 0, and is absent when all are).
 */
const UTC_MILLIS = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)(?:\.(\d{1,6}))?\+00$/;

/**
 * Pool `types`: timestamps as canonical RFC 3339 text (`timestamptz` holds
 * microseconds; the store writes milliseconds, so nothing is lost), JSON as
 * its text, 64-bit integers (`COUNT(*)`) as numbers. A timestamp with a
 * fraction below the millisecond, which the store never writes, is read
 * with its microseconds (`…05.000500Z`), not cut to the millisecond: an
 * edit of the database by less than a millisecond stays visible to
 * `decisions verify`, which compares a record's time with its column.
 */
export const POSTGRES_TYPE_PARSERS: CustomTypesConfig = {
  getTypeParser: (oid: number, format?: 'text' | 'binary') => {
    switch (oid) {
      case types.builtins.TIMESTAMPTZ: {
        const toDate = types.getTypeParser(oid, format) as (text: string) => Date;
        return (text: string) => {
          // Read on its characters when it is in UTC: a Date made for every record of a scan
          // was a tenth of `decisions verify` (docs/performance.md). Any other form: as a Date.
          const utc = UTC_MILLIS.exec(text);
          if (utc !== null) {
            const fraction = utc[3] ?? '';
            return `${utc[1]}T${utc[2]}.${fraction.padEnd(fraction.length > 3 ? 6 : 3, '0')}Z`;
          }
          return toDate(text).toISOString();
        };
      }
      case types.builtins.JSON:
      case types.builtins.JSONB:
        return (text: string) => text;
      case types.builtins.INT8:
        return (text: string) => Number(text);
      default:
        return types.getTypeParser(oid, format);
    }
  },
} as CustomTypesConfig;

/**
 * `lockName` keys the advisory lock that serializes {@link SqlDriver.exclusive}
 * across every process using the same database and schema; the locks of
 * {@link SqlDriver.withLock} are keyed by it and their own name.
 */
export function createPostgresDriver(pool: Pool, lockName: string): SqlDriver {
  const numbered = new Map<string, string>();
  function dialect(sql: string): string {
    let text = numbered.get(sql);
    if (text === undefined) {
      let n = 0;
      text = sql.replace(/\?/g, () => `$${++n}`);
      numbered.set(sql, text);
    }
    return text;
  }

  function executor(client: Pool | ClientBase): SqlExecutor {
    return {
      async rows(sql: string, params: readonly SqlValue[] = []) {
        return (await client.query(dialect(sql), [...params])).rows as SqlRow[];
      },
      async run(sql: string, params: readonly SqlValue[] = []) {
        return (await client.query(dialect(sql), [...params])).rowCount ?? 0;
      },
    };
  }

  /**
   * Runs `fn` in a transaction on one connection of the pool, holding the
   * advisory lock `key` from its start until COMMIT or ROLLBACK: the next
   * holder sees everything the transaction wrote.
   */
  async function lockedTransaction<T>(key: string, fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    const client = await pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [key]);
      const result = await fn(executor(client));
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch((rollbackError: Error) => {
        broken = rollbackError;
      });
      throw error;
    } finally {
      // A connection that could not roll back is destroyed, not returned to the pool.
      client.release(broken);
    }
  }

  let closed = false;
  return {
    ...executor(pool),
    async values(sql, params = []) {
      return (await pool.query<unknown[]>({ text: dialect(sql), values: [...params], rowMode: 'array' }))
        .rows;
    },
    jsonArrayHolds(column, keys) {
      sqlNames(column, keys);
      const tests = keys.map((k) => `item ->> '${k}' = ?`).join(' AND ');
      return `EXISTS (SELECT 1 FROM json_array_elements(${column}) AS item WHERE ${tests})`;
    },
    exclusive(fn) {
      // A second opener waits for the lock, then finds the work done.
      return lockedTransaction(lockName, fn);
    },
    runInTurn(name, sql, params = []) {
      return lockedTransaction(`${lockName}/${name}`, (tx) => tx.run(sql, params));
    },
    rowsInTurn(name, sql, params = []) {
      return lockedTransaction(`${lockName}/${name}`, (tx) => tx.rows(sql, params));
    },
    async withLock(name, fn) {
      // A session lock on a connection of its own, held while `fn` uses the others of the pool.
      const key = `${lockName}/${name}`;
      const client = await pool.connect();
      let broken: Error | undefined;
      try {
        await client.query('SELECT pg_advisory_lock(hashtext($1))', [key]);
        try {
          return await fn();
        } finally {
          await client.query('SELECT pg_advisory_unlock(hashtext($1))', [key]).catch((error: Error) => {
            broken = error;
          });
        }
      } finally {
        // A connection that may still hold the lock is destroyed, which releases it.
        client.release(broken);
      }
    },
    describeFailure,
    async close() {
      if (closed) return;
      closed = true;
      await pool.end();
    },
  };
}

function describeFailure(error: unknown): SqlFailure {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return { kind: 'other' };
  if (error instanceof pg.DatabaseError) {
    // SQLSTATE class 23: integrity constraint violation.
    if (code === '23505') return { kind: 'unique', columns: keyColumns(error.detail), code };
    if (code === '23503') return { kind: 'foreign_key', columns: keyColumns(error.detail), code };
    // A missing value is a bad record, not a conflict.
    if (code.startsWith('23') && code !== '23502') return { kind: 'constraint', code };
  }
  return { kind: 'other', code };
}

/** `Key (target, value)=(…) already exists.` → `target`, `value`. */
function keyColumns(detail: string | undefined): string[] | undefined {
  const match = detail === undefined ? null : /^Key \(([^)]+)\)=/.exec(detail);
  return match?.[1]?.split(', ');
}
