/**
 * The identity store in PostgreSQL, shared by every control-plane node.
 */
import type { PoolConfig } from 'pg';
import type { IdentityStore } from '../../core/ports.js';
import { createSqlIdentityStore } from '../sql/sql-identity-store.js';
import { POSTGRES_MIGRATIONS } from './migrations.js';
import { createPostgresDriver } from './postgres-driver.js';
import { checkSchemaName, migrateSchema, schemaPool } from './schema-pool.js';

/** node-postgres pool settings (`connectionString`, or host, user, …, `max`) and: */
export interface PostgresIdentityStoreOptions extends Omit<PoolConfig, 'types'> {
  /**
   * The schema holding Gatehouse's tables, created when missing; letters,
   * digits and `_`, matched case-sensitively. Default: the connection's own
   * `search_path` (usually `public`).
   */
  schema?: string;
}

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
  const { schema, ...poolConfig } = options;
  checkSchemaName(schema);
  const driver = createPostgresDriver(schemaPool(poolConfig, schema), `gatehouse:migrate:${schema ?? ''}`);
  await migrateSchema(driver, POSTGRES_MIGRATIONS, schema, 'PostgreSQL store', () => driver.close());
  return createSqlIdentityStore(driver);
}
