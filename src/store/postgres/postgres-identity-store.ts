/**
 * The identity store in PostgreSQL, shared by every control-plane node.
 */
import pg from 'pg';
import type { PoolConfig } from 'pg';
import { GatehouseError } from '../../core/errors.js';
import type { IdentityStore } from '../../core/ports.js';
import { runMigrations } from '../sql/migrate.js';
import { createSqlIdentityStore } from '../sql/sql-identity-store.js';
import { storeFailure } from '../sql/store-failure.js';
import { POSTGRES_MIGRATIONS } from './migrations.js';
import { createPostgresDriver, POSTGRES_TYPE_PARSERS } from './postgres-driver.js';

/** node-postgres pool settings (`connectionString`, or host, user, …, `max`) and: */
export interface PostgresIdentityStoreOptions extends Omit<PoolConfig, 'types'> {
  /**
   * The schema holding Gatehouse's tables, created when missing; letters,
   * digits and `_`, matched case-sensitively. Default: the connection's own
   * `search_path` (usually `public`).
   */
  schema?: string;
}

const SCHEMA_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/**
 * Connects a pool and migrates the schema to the newest version; concurrent
 * openers of the same schema take turns.
 *
 * Fails with `store_error` when the server cannot be reached, when the
 * schema name is not a plain identifier, or when the schema is newer than
 * this code knows; the pool is closed again then.
 */
export async function openPostgresIdentityStore(
  options: PostgresIdentityStoreOptions = {},
): Promise<IdentityStore> {
  const { schema, onConnect, ...poolConfig } = options;
  if (schema !== undefined && !SCHEMA_NAME.test(schema)) {
    throw new GatehouseError(
      'store_error',
      `invalid schema name \`${schema}\`: want letters, digits and _, not starting with a digit`,
    );
  }
  const pool = new pg.Pool({
    ...poolConfig,
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
  // An idle connection that breaks (server restart) is dropped by the pool and
  // the next query opens a new one; without a listener the error would end the process.
  pool.on('error', () => undefined);

  const driver = createPostgresDriver(pool, `gatehouse:migrate:${schema ?? ''}`);
  try {
    await runMigrations(
      driver,
      POSTGRES_MIGRATIONS,
      schema === undefined ? [] : [`CREATE SCHEMA IF NOT EXISTS "${schema}"`],
    );
  } catch (error) {
    await driver.close();
    const where = schema === undefined ? '' : ` schema \`${schema}\``;
    throw storeFailure(`open PostgreSQL store${where}`, error, driver.describeFailure(error));
  }
  return createSqlIdentityStore(driver);
}
