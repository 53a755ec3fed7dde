/**
 * Connecting the stores to PostgreSQL: pools whose connections use one
 * schema, and migrations that create it. The identity store and the decision
 * log connect the same way and may share a schema; each keeps its own tables
 * and migration ledger.
 */
import pg from 'pg';
import type { PoolConfig } from 'pg';
import { GatehouseError } from '../../core/errors.js';
import { runMigrations, type MigrationSet } from '../sql/migrate.js';
import type { SqlDriver } from '../sql/sql-driver.js';
import { storeFailure } from '../sql/store-failure.js';
import { POSTGRES_TYPE_PARSERS } from './postgres-driver.js';

const SCHEMA_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/** Refuses, with `store_error`, a schema name that is not a plain identifier (it is quoted into SQL). */
export function checkSchemaName(schema: string | undefined): void {
  if (schema !== undefined && !SCHEMA_NAME.test(schema)) {
    throw new GatehouseError(
      'store_error',
      `invalid schema name \`${schema}\`: want letters, digits and _, not starting with a digit`,
    );
  }
}

/** A pool whose connections put `schema` first on their search path (the server's default without one). */
export function schemaPool(config: Omit<PoolConfig, 'types'>, schema: string | undefined): pg.Pool {
  const { onConnect } = config;
  const pool = new pg.Pool({
    ...config,
    types: POSTGRES_TYPE_PARSERS,
    onConnect:
      schema === undefined
        ? onConnect
        : async (client) => {
            // Set per connection rather than through `options`, which a connection string would override.
            await client.query(`SET search_path TO "${schema}"`);
            await onConnect?.(client);
          },
  });
  // A broken idle connection is dropped and replaced by the pool; unheard, the error would end the process.
  pool.on('error', () => undefined);
  return pool;
}

/**
 * Migrates `set` through `driver`, creating the schema first when one is
 * named. On failure, `close()` runs and the error becomes `store_error`
 * saying what could not be opened (`PostgreSQL store`, …).
 */
export async function migrateSchema(
  driver: SqlDriver,
  set: MigrationSet,
  schema: string | undefined,
  what: string,
  close: () => Promise<unknown>,
): Promise<void> {
  try {
    await runMigrations(driver, set, schema === undefined ? [] : [`CREATE SCHEMA IF NOT EXISTS "${schema}"`]);
  } catch (error) {
    await close();
    const where = schema === undefined ? '' : ` schema \`${schema}\``;
    throw storeFailure(`open ${what}${where}`, error, driver.describeFailure(error));
  }
}
