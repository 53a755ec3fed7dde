/**
 * The {@link SqlDriver} over one better-sqlite3 connection. better-sqlite3
 * is synchronous, so each call runs to completion before the next starts;
 * other connections (other processes) are kept out by SQLite's own locks.
 */
import type Database from 'better-sqlite3';
import { InTurn } from '../../core/in-turn.js';
import {
  sqlNames,
  type SqlDriver,
  type SqlExecutor,
  type SqlFailure,
  type SqlRow,
  type SqlValue,
} from '../sql/sql-driver.js';

export function createSqliteDriver(db: Database.Database): SqlDriver {
  const statements = new Map<string, Database.Statement>();
  function prepared(sql: string): Database.Statement {
    let statement = statements.get(sql);
    if (!statement) {
      statement = db.prepare(sql);
      statements.set(sql, statement);
    }
    return statement;
  }

  // Apart: better-sqlite3 sets a statement to arrays or objects for all its later calls.
  const arrayStatements = new Map<string, Database.Statement>();

  const executor: SqlExecutor = {
    async rows(sql: string, params: readonly SqlValue[] = []) {
      return prepared(sql).all(...params) as SqlRow[];
    },
    async run(sql: string, params: readonly SqlValue[] = []) {
      return prepared(sql).run(...params).changes;
    },
  };

  // A SQLite file has one server: its locks need only keep this process's callers in turn.
  const locks = new Map<string, InTurn>();

  return {
    ...executor,
    async values(sql, params = []) {
      let statement = arrayStatements.get(sql);
      if (!statement) {
        statement = db.prepare(sql).raw(true);
        arrayStatements.set(sql, statement);
      }
      return statement.all(...params) as unknown[][];
    },
    withLock(name, fn) {
      let turn = locks.get(name);
      if (turn === undefined) locks.set(name, (turn = new InTurn()));
      return turn.run(fn);
    },
    // One statement is atomic, SQLite lets one writer at a time commit, and better-sqlite3
    // runs the statement to its end before anything else of this process: in turn already.
    runInTurn: (_name, sql, params) => executor.run(sql, params),
    rowsInTurn: (_name, sql, params) => executor.rows(sql, params),
    jsonArrayHolds(column, keys) {
      sqlNames(column, keys);
      const tests = keys.map((k) => `json_extract(item.value, '$.${k}') = ?`).join(' AND ');
      return `EXISTS (SELECT 1 FROM json_each(${column}) AS item WHERE ${tests})`;
    },
    async exclusive(fn) {
      // IMMEDIATE takes the write lock now, so a second process opening the
      // same file waits (busy timeout) instead of migrating alongside.
      // INVARIANT: used only while opening, before the store is shared, so
      // no other call on this connection can slip into the transaction.
      db.exec('BEGIN IMMEDIATE');
      try {
        const result = await fn(executor);
        db.exec('COMMIT');
        return result;
      } catch (error) {
        if (db.inTransaction) db.exec('ROLLBACK');
        throw error;
      }
    },
    describeFailure,
    async close() {
      statements.clear();
      arrayStatements.clear();
      if (db.open) db.close();
    },
  };
}

function describeFailure(error: unknown): SqlFailure {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return { kind: 'other' };
  if (code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
    return { kind: 'unique', columns: uniqueColumns((error as Error).message), code };
  }
  if (code === 'SQLITE_CONSTRAINT_FOREIGNKEY') return { kind: 'foreign_key', code };
  // A missing value, or one of the wrong type for a STRICT column, is a bad record, not a conflict.
  if (code === 'SQLITE_CONSTRAINT_NOTNULL' || code === 'SQLITE_CONSTRAINT_DATATYPE')
    return { kind: 'other', code };
  if (code.startsWith('SQLITE_CONSTRAINT')) return { kind: 'constraint', code };
  return { kind: 'other', code };
}

/** `UNIQUE constraint failed: revocations.target, revocations.value` → `target`, `value`. */
function uniqueColumns(message: string): string[] | undefined {
  const match = /constraint failed: (.+)$/.exec(message);
  return match?.[1]?.split(', ').map((qualified) => qualified.slice(qualified.lastIndexOf('.') + 1));
}
