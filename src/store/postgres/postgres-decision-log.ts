/**
 * The decision log in PostgreSQL. The schema may be the identity store's:
 * the log keeps its own table and its own migration ledger.
 */
import type { PoolConfig } from 'pg';
import type { DecisionLogStore } from '../../core/ports.js';
import { appendThrough, pruneThrough, createSqlDecisionLog } from '../sql/sql-decision-log.js';
import { POSTGRES_DECISION_LOG_MIGRATIONS } from './decision-log-migrations.js';
import { createPostgresDriver } from './postgres-driver.js';
import { checkSchemaName, migrateSchema, schemaPool } from './schema-pool.js';

/** node-postgres pool settings (`connectionString`, or host, user, …, `max` for reads) and: */
export interface PostgresDecisionLogOptions extends Omit<PoolConfig, 'types'> {
  /**
   * The schema holding the log's tables, created when missing; letters,
   * digits and `_`, matched case-sensitively. Default: the connection's own
   * `search_path` (usually `public`).
   */
  schema?: string;
}

/**
 * Connects and migrates the log's tables to the newest version; concurrent
 * openers of the same schema, the identity store's included, take turns.
 *
 * Reads use a pool; appends use a connection of their own, and each append
 * is one transaction that holds an advisory lock on the log, so that writers
 * on several nodes take turns and the one that lost the race gets
 * `store_conflict` instead of forking the chain. An append resolves once
 * PostgreSQL has committed it (durable under the server's default
 * `synchronous_commit = on`).
 *
 * Fails with `store_error` when the server cannot be reached, when the
 * schema name is not a plain identifier, or when the log's schema is newer
 * than this code knows; the pools are closed again then.
 */
export async function openPostgresDecisionLog(
  options: PostgresDecisionLogOptions = {},
): Promise<DecisionLogStore> {
  const { schema, ...poolConfig } = options;
  checkSchemaName(schema);
  const reader = createPostgresDriver(schemaPool(poolConfig, schema), `gatehouse:migrate:${schema ?? ''}`);
  const writer = createPostgresDriver(
    schemaPool({ ...poolConfig, max: 1 }, schema),
    `gatehouse:decision-log:${schema ?? ''}`,
  );
  await migrateSchema(reader, POSTGRES_DECISION_LOG_MIGRATIONS, schema, 'PostgreSQL decision log', () =>
    Promise.all([reader.close(), writer.close()]),
  );
  return createSqlDecisionLog({
    reader,
    runAppend: appendThrough(writer),
    runPruneStep: pruneThrough(writer),
    close: async () => {
      await Promise.all([reader.close(), writer.close()]);
    },
  });
}
