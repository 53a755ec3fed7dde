/**
 * The decision log contract against a real PostgreSQL server, in a schema of
 * its own dropped at the end. An unreachable server fails the run: CI starts
 * one, and a silent skip would hide that the adapter went untested.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { openPostgresDecisionLog, openPostgresIdentityStore } from '../../src/store/index.js';
import { POSTGRES_DECISION_LOG_MIGRATIONS } from '../../src/store/postgres/decision-log-migrations.js';
import { entryRecord } from './identity-store.contract.js';
import { chained, decisionLogContract, rejectsWith } from './decision-log.contract.js';
import { postgresUnreachable, TEST_PG_URL, testSchemaName } from '../support/postgres-server.js';

const url = TEST_PG_URL;
const schema = testSchemaName('gatehouse_log_test');

const problem = await postgresUnreachable();
if (problem !== undefined) {
  test('PostgreSQL decision log contract', () => {
    assert.fail(problem);
  });
} else {
  describe('PostgreSQL decision log', () => {
    const admin = new pg.Client({ connectionString: url });
    before(async () => {
      await admin.connect();
      await admin.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
      await admin.query(`SET search_path TO "${schema}"`);
    });
    after(async () => {
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await admin.end();
    });

    decisionLogContract('contract', {
      async openEmpty() {
        const store = await openPostgresDecisionLog({ connectionString: url, schema });
        await admin.query('TRUNCATE decision_log, decision_log_anchor');
        return store;
      },
      openAgain: () => openPostgresDecisionLog({ connectionString: url, schema }),
      async exec(sql) {
        await admin.query(sql);
      },
    });

    test('shares a schema with the identity store, each with its own migration ledger', async () => {
      const shared = `${schema}_shared`;
      try {
        const [log, identity] = await Promise.all([
          openPostgresDecisionLog({ connectionString: url, schema: shared }),
          openPostgresIdentityStore({ connectionString: url, schema: shared }),
        ]);
        await identity.createEntry(entryRecord('ent_1'));
        await log.append(chained(2));
        await Promise.all([log.close(), identity.close()]);
        const { rows } = await admin.query(`SELECT version FROM "${shared}".decision_log_migrations`);
        assert.deepEqual(
          rows.map((r: { version: number }) => r.version),
          POSTGRES_DECISION_LOG_MIGRATIONS.migrations.map((m) => m.version),
        );
        const again = await openPostgresDecisionLog({ connectionString: url, schema: shared });
        assert.equal(await again.count(), 2);
        await again.close();
      } finally {
        await admin.query(`DROP SCHEMA IF EXISTS "${shared}" CASCADE`);
      }
    });

    test('a schema name that is not a plain identifier is refused', async () => {
      const error = await rejectsWith(
        openPostgresDecisionLog({ connectionString: url, schema: 'x"; DROP SCHEMA public; --' }),
        'store_error',
      );
      assert.match(error.message, /invalid schema name/);
    });

    test('an unreachable server is a store_error', async () => {
      const dead = new URL(url);
      dead.port = '1';
      const error = await rejectsWith(
        openPostgresDecisionLog({ connectionString: dead.toString(), schema, connectionTimeoutMillis: 5000 }),
        'store_error',
      );
      assert.match(error.message, /cannot open PostgreSQL decision log/);
    });
  });
}
