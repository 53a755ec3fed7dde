/**
 * Versioned schema migrations, recorded in a `schema_migrations` table
 * (version, name, applied_at). Each adapter lists its own steps in its
 * dialect; this runner is shared.
 */
import { GatehouseError } from '../../core/errors.js';
import type { SqlDriver } from './sql-driver.js';

export interface Migration {
  /** 1, 2, 3, … INVARIANT: never reused or renumbered once released. */
  version: number;
  /** Short snake_case description, recorded with the version. */
  name: string;
  /** DDL run in order, one statement each. */
  statements: readonly string[];
}

export interface MigrationSet {
  /**
   * The ledger table's name. Default `schema_migrations`. A set of tables
   * that shares a database with others but is versioned on its own (the
   * decision log) keeps its own ledger.
   */
  table?: string;
  /**
   * Creates the ledger table when missing (`IF NOT EXISTS`). INVARIANT:
   * its shape never changes, so every version of Gatehouse can read it.
   */
  ledger: string;
  /** In ascending version order. */
  migrations: readonly Migration[];
}

/** The newest schema version a migration set knows. */
export function latestVersion(set: MigrationSet): number {
  return set.migrations.at(-1)?.version ?? 0;
}

/**
 * Brings the database to the newest version `set` knows, in one exclusive
 * transaction: a concurrent opener waits and then finds nothing to do, and a
 * failed step leaves the schema as it was. `setup` statements run first
 * inside the same transaction (creating the PostgreSQL schema, say).
 *
 * Refuses, with `store_error`, a database already migrated past the newest
 * known version: this code would misread or damage it. Driver errors are
 * passed on as thrown, for the opener to translate. Resolves to the versions
 * applied now (empty when the schema was current).
 */
export async function runMigrations(
  driver: SqlDriver,
  set: MigrationSet,
  setup: readonly string[] = [],
): Promise<number[]> {
  return driver.exclusive(async (tx) => {
    for (const statement of setup) await tx.run(statement);
    await tx.run(set.ledger);
    const table = set.table ?? 'schema_migrations';
    const [row] = await tx.rows(`SELECT MAX(version) AS version FROM ${table}`);
    const current = Number(row?.['version'] ?? 0);
    const latest = latestVersion(set);
    if (current > latest) {
      throw new GatehouseError(
        'store_error',
        `database schema version ${current} is newer than this Gatehouse knows (${latest}): upgrade Gatehouse or open another database`,
      );
    }
    const applied: number[] = [];
    for (const migration of set.migrations) {
      if (migration.version <= current) continue;
      for (const statement of migration.statements) await tx.run(statement);
      await tx.run(`INSERT INTO ${table} (version, name, applied_at) VALUES (?, ?, ?)`, [
        migration.version,
        migration.name,
        new Date().toISOString(),
      ]);
      applied.push(migration.version);
    }
    return applied;
  });
}
