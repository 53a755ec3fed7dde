/**
 * The decision log in PostgreSQL. The schema may be the identity store's:
 * the log keeps its own table and its own migration ledger.
 */
import pg from 'pg';
import type { PoolConfig } from 'pg';
import { GatehouseError } from '../../core/errors.js';
import type { DecisionLogStore } from '../../core/ports.js';
import { runMigrations } from '../sql/migrate.js';
import { appendThrough, createSqlDecisionLog } from '../sql/sql-decision-log.js';
import { storeFailure } from '../sql/store-failure.js';
import { POSTGRES_DECISION_LOG_MIGRATIONS } from './decision-log-migrations.js';
import { createPostgresDriver, POSTGRES_TYPE_PARSERS } from './postgres-driver.js';

/** node-postgres pool settings (`connectionString`, or host, user, …, `max` for reads) and: */
export interface PostgresDecisionLogOptions extends Omit<PoolConfig, 'types'> {
  /**
   * The schema holding the log's tables, created when missing; letters,
   * digits and `_`, matched case-sensitively. Default: the connection's own
   * `search_path` (usually `public`).
   */
  schema?: string;
}

const SCHEMA_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

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
  const { schema, onConnect, ...poolConfig } = options;
  if (schema !== undefined && !SCHEMA_NAME.test(schema)) {
    throw new GatehouseError(
      'store_error',
      `invalid schema name \`${schema}\`: want letters, digits and _, not starting with a digit`,
    );
  }
  function pool(config: PoolConfig): pg.Pool {
    const created = new pg.Pool({
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
    created.on('error', () => undefined);
    return created;
  }

  const reader = createPostgresDriver(pool(poolConfig), `gatehouse:migrate:${schema ?? ''}`);
  const writer = createPostgresDriver(
    pool({ ...poolConfig, max: 1 }),
    `gatehouse:decision-log:${schema ?? ''}`,
  );
  try {
    await runMigrations(
      reader,
      POSTGRES_DECISION_LOG_MIGRATIONS,
      schema === undefined ? [] : [`CREATE SCHEMA IF NOT EXISTS "${schema}"`],
    );
  } catch (error) {
    await Promise.all([reader.close(), writer.close()]);
    const where = schema === undefined ? '' : ` schema \`${schema}\``;
    throw storeFailure(`open PostgreSQL decision log${where}`, error, reader.describeFailure(error));
  }
  return createSqlDecisionLog({
    reader,
    runAppend: appendThrough(writer),
    close: async () => {
      await Promise.all([reader.close(), writer.close()]);
    },
  });
}
