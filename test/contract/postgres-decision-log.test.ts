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
import { POSTGRES_TYPE_PARSERS } from '../../src/store/postgres/postgres-driver.js';
import { entryRecord } from './identity-store.contract.js';
import { DecisionLogWriter } from '../../src/core/log/decision-log-writer.js';
import type { DecisionRecord } from '../../src/core/log/decision-record.js';
import { verifyDecisionLog } from '../../src/core/log/verify-decision-log.js';
import type { DecisionLogStore } from '../../src/core/ports.js';
import { chained, decisionBody, decisionLogContract, rejectsWith, stored } from './decision-log.contract.js';
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

    test('writers of one log chain a batch again under the lock instead of failing it', async () => {
      const own = `${schema}_writers`;
      const stores: DecisionLogStore[] = [];
      try {
        for (let i = 0; i < 3; i++)
          stores.push(await openPostgresDecisionLog({ connectionString: url, schema: own }));
        // The default of 3 tries per batch: three busy writers would exhaust it if they had to retry.
        const writers = await Promise.all(stores.map((store) => DecisionLogWriter.open(store)));
        const answers: Promise<DecisionRecord>[] = [];
        for (let n = 1; n <= 600; n++) {
          answers.push(writers[n % 3]!.record(decisionBody(n)));
          if (n % 7 === 0) await new Promise((resolve) => setImmediate(resolve));
        }
        const records = await Promise.all(answers);
        assert.deepEqual(
          records.map((r) => r.seq).sort((a, b) => a - b),
          Array.from({ length: 600 }, (_, i) => i + 1),
        );
        const stats = writers.map((w) => w.stats());
        assert.equal(
          stats.reduce((sum, s) => sum + s.writeErrors, 0),
          0,
        );
        assert.ok(
          stats.reduce((sum, s) => sum + s.conflicts, 0) > 0,
          'the writers never met: the test shows nothing',
        );
        // Each answer is the record as stored.
        const byId = new Map(records.map((r) => [r.decisionId, r]));
        for (const row of await stored(stores[0]!)) {
          const record = JSON.parse(row.json) as DecisionRecord;
          assert.deepEqual(record, byId.get(record.decisionId));
        }
        assert.deepEqual(await verifyDecisionLog(stores[0]!), { checked: 600 });
      } finally {
        for (const store of stores) await store.close();
        await admin.query(`DROP SCHEMA IF EXISTS "${own}" CASCADE`);
      }
    });

    test('timestamps come back in the store form, read on their characters in a UTC session or as a Date', async () => {
      const instants = [
        '2026-01-02T03:04:05.000Z',
        '2026-01-02T03:04:05.100Z',
        '2026-01-02T03:04:05.120Z',
        '2026-01-02T03:04:05.123Z',
        '2024-02-29T23:59:59.999Z',
        '0050-06-15T12:00:00.001Z',
        '9999-12-31T23:59:59.999Z',
      ];
      const client = new pg.Client({ connectionString: url, types: POSTGRES_TYPE_PARSERS });
      await client.connect();
      try {
        for (const zone of ['UTC', 'Asia/Kolkata', 'America/New_York']) {
          await client.query(`SET TIME ZONE '${zone}'`);
          const { rows } = await client.query<{ t: string }>('SELECT unnest($1::timestamptz[]) AS t', [
            instants,
          ]);
          assert.deepEqual(
            rows.map((r) => r.t),
            instants,
            zone,
          );
        }
      } finally {
        await client.end();
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
