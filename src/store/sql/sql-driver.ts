/**
 * The little the shared SQL store needs from a database driver. Everything
 * that differs between SQLite and PostgreSQL at run time lives behind this
 * interface (placeholder syntax, how values come back, transactions, error
 * codes); the schema differences live in each adapter's migrations.
 */

/** A value bound to a placeholder. Structured values are bound as JSON text. */
export type SqlValue = string | number | null;

/**
 * A row as the shared store reads it. INVARIANT: drivers hand back
 * timestamps as canonical RFC 3339 text (`YYYY-MM-DDTHH:MM:SS.sssZ`), JSON
 * columns as JSON text and integers as numbers, whatever the column types.
 */
export type SqlRow = Readonly<Record<string, unknown>>;

export interface SqlExecutor {
  /**
   * Rows of a query or of a statement with `RETURNING`. Placeholders are
   * written `?` (INVARIANT: the shared SQL has no other `?` character).
   */
  rows(sql: string, params?: readonly SqlValue[]): Promise<SqlRow[]>;
  /** Runs a statement without result rows; resolves to the number of rows it changed. */
  run(sql: string, params?: readonly SqlValue[]): Promise<number>;
}

/** What a driver error means to the store, read from the driver's own codes. */
export interface SqlFailure {
  kind: 'unique' | 'foreign_key' | 'constraint' | 'other';
  /** Columns named by the error, when the driver says (`spiffe_id`). */
  columns?: readonly string[];
  /** The driver's error code (`SQLITE_BUSY`, `ECONNREFUSED`, `40001`), never SQL text. */
  code?: string;
}

export interface SqlDriver extends SqlExecutor {
  /**
   * {@link SqlExecutor.rows} with each row as an array of its values, in the
   * order the query selects them (values as {@link SqlRow} promises): for
   * bulk reads, where objects keyed by column cost more to build than the
   * read itself.
   */
  values(sql: string, params?: readonly SqlValue[]): Promise<unknown[][]>;
  /**
   * Runs `fn` in one transaction that no other writer of the same database
   * can interleave with, even from another process; used to migrate. Commits
   * when `fn` resolves, rolls back when it rejects.
   */
  exclusive<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  /**
   * Runs `fn` while holding the lock `name`, which every process using the
   * same database takes too, so that work of several statements (a key
   * rotation) never interleaves with the same work elsewhere. `fn` uses the
   * driver as usual, outside any transaction. The lock is released when
   * `fn` settles, or when the connection holding it dies.
   */
  withLock<T>(name: string, fn: () => Promise<T>): Promise<T>;
  /**
   * Runs one statement while holding the lock `name`, which every process
   * using the same database takes too, and commits it before letting go:
   * statements run this way under one name commit in the order they ran,
   * each seeing all that the earlier ones wrote. Resolves to the number of
   * rows changed. Unlike {@link withLock} it needs no connection besides
   * the statement's, so any number of callers may wait at once.
   */
  runInTurn(name: string, sql: string, params?: readonly SqlValue[]): Promise<number>;
  /** {@link runInTurn} for a statement with `RETURNING`: resolves to its rows. */
  rowsInTurn(name: string, sql: string, params?: readonly SqlValue[]): Promise<SqlRow[]>;
  /**
   * A condition, in this database's JSON functions, that holds when the JSON
   * array in `column` has an object whose members `keys` are text equal to
   * the values bound, in `keys` order, to its placeholders. `column` and
   * `keys` are names from the store's own code, never input.
   */
  jsonArrayHolds(column: string, keys: readonly string[]): string;
  /** Classifies an error thrown by this driver. */
  describeFailure(error: unknown): SqlFailure;
  /** Releases the connection(s); later calls fail. Safe to call twice. */
  close(): Promise<void>;
}

const NAME = /^[a-z_][a-zA-Z_]*$/;

/** Checks that the names put into SQL text are plain identifiers. */
export function sqlNames(column: string, keys: readonly string[]): void {
  for (const name of [column, ...keys])
    if (!NAME.test(name)) throw new Error(`\`${name}\` is not a plain SQL name`);
}
