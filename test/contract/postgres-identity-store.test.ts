/**
 * The contract against a real PostgreSQL server. Each run works in a schema of
 * its own and drops it at the end. An unreachable server fails the run: CI
 * starts one, and a silent skip would hide that the adapter went untested.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { GatehouseError } from '../../src/core/errors.js';
import type { IdentityStore } from '../../src/core/ports.js';
import { openPostgresIdentityStore } from '../../src/store/index.js';
import { POSTGRES_MIGRATIONS } from '../../src/store/postgres/migrations.js';
import { createPostgresDriver } from '../../src/store/postgres/postgres-driver.js';
import { migrateSchema, schemaPool } from '../../src/store/postgres/schema-pool.js';
import { latestVersion } from '../../src/store/sql/migrate.js';
import type { SqlExecutor } from '../../src/store/sql/sql-driver.js';
import {
  checkActivationSeeded,
  checkRevocationsNumbered,
  holdActivePolicyUnnumbered,
  entryRecord,
  holdRevocationsUnnumbered,
  identityStoreContract,
} from './identity-store.contract.js';
import { postgresUnreachable, TEST_PG_URL, testSchemaName } from '../support/postgres-server.js';

const url = TEST_PG_URL;
const schema = testSchemaName('gatehouse_test');

function refused(code: GatehouseError['code'], message?: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof GatehouseError, `want a GatehouseError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    if (message) assert.match(error.message, message);
    return true;
  };
}

const problem = await postgresUnreachable();
if (problem !== undefined) {
  test('PostgreSQL identity store contract', () => {
    assert.fail(problem);
  });
} else {
  describe('PostgreSQL identity store', () => {
    const admin = new pg.Client({ connectionString: url });
    before(async () => {
      await admin.connect();
    });
    after(async () => {
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await admin.end();
    });

    async function truncateAll(): Promise<void> {
      const { rows } = await admin.query<{ table_name: string }>(
        `SELECT table_name FROM information_schema.tables
         WHERE table_schema = $1 AND table_name <> 'schema_migrations'`,
        [schema],
      );
      if (rows.length === 0) return;
      await admin.query(`TRUNCATE ${rows.map((r) => `"${schema}"."${r.table_name}"`).join(', ')} CASCADE`);
    }

    identityStoreContract('contract', {
      async openEmpty() {
        const store = await openPostgresIdentityStore({ connectionString: url, schema });
        await truncateAll();
        return store;
      },
      openAgain: () => openPostgresIdentityStore({ connectionString: url, schema }),
    });

    test('migrations are applied once, inside the chosen schema', async () => {
      await (await openPostgresIdentityStore({ connectionString: url, schema })).close();
      await (await openPostgresIdentityStore({ connectionString: url, schema })).close();
      const { rows } = await admin.query(
        `SELECT version, name FROM "${schema}".schema_migrations ORDER BY version`,
      );
      assert.deepEqual(
        rows,
        POSTGRES_MIGRATIONS.migrations.map((m) => ({ version: m.version, name: m.name })),
      );
      const tables = await admin.query(
        `SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'entries'`,
        [schema],
      );
      assert.equal(tables.rowCount, 1);
    });

    test('migration versions count up from 1', () => {
      POSTGRES_MIGRATIONS.migrations.forEach((m, i) => assert.equal(m.version, i + 1));
    });

    test('concurrent openers of a new schema migrate it once', async () => {
      const fresh = `${schema}_race`;
      try {
        const stores: IdentityStore[] = await Promise.all(
          Array.from({ length: 4 }, () =>
            openPostgresIdentityStore({ connectionString: url, schema: fresh }),
          ),
        );
        await stores[0]!.createEntry(entryRecord('ent_race'));
        assert.equal((await stores[3]!.getEntry('ent_race'))?.id, 'ent_race');
        for (const store of stores) await store.close();
        const { rows } = await admin.query(`SELECT version FROM "${fresh}".schema_migrations`);
        assert.equal(rows.length, POSTGRES_MIGRATIONS.migrations.length);
      } finally {
        await admin.query(`DROP SCHEMA IF EXISTS "${fresh}" CASCADE`);
      }
    });

    /**
     * Runs `check` on a store opened on a schema of its own left at schema
     * `version`, holding what `hold` put there; the schema is dropped after.
     */
    async function fromVersion(
      version: number,
      hold: (driver: SqlExecutor) => Promise<void>,
      check: (store: IdentityStore, schema: string) => Promise<void>,
    ): Promise<void> {
      const older = `${schema}_v${version}`;
      const driver = createPostgresDriver(schemaPool({ connectionString: url }, older), `test:${older}`);
      try {
        await migrateSchema(
          driver,
          { ...POSTGRES_MIGRATIONS, migrations: POSTGRES_MIGRATIONS.migrations.slice(0, version) },
          older,
          'test store',
          () => driver.close(),
        );
        await hold(driver);
        await driver.close();
        const store = await openPostgresIdentityStore({ connectionString: url, schema: older });
        try {
          await check(store, older);
        } finally {
          await store.close();
        }
      } finally {
        await admin.query(`DROP SCHEMA IF EXISTS "${older}" CASCADE`);
      }
    }

    test('version 3 numbers the revocations of an older schema in the order of their times', () =>
      fromVersion(2, holdRevocationsUnnumbered, async (store, older) => {
        await checkRevocationsNumbered(store);
        // An insert of an earlier version, without a number, fails rather than hide the revocation.
        await assert.rejects(
          admin.query(
            `INSERT INTO "${older}".revocations (target, value, revoked_at) VALUES ('credential', 'jti-old', now())`,
          ),
          /null value in column "change_seq"/,
        );
      }));

    test('version 4 numbers the active policy of an older schema as the first activation', () =>
      fromVersion(3, holdActivePolicyUnnumbered, checkActivationSeeded));

    test('a schema from a newer version is refused', async () => {
      await (await openPostgresIdentityStore({ connectionString: url, schema })).close();
      const future = latestVersion(POSTGRES_MIGRATIONS) + 1;
      await admin.query(
        `INSERT INTO "${schema}".schema_migrations (version, name, applied_at) VALUES ($1, 'from_the_future', now())`,
        [future],
      );
      try {
        await assert.rejects(
          openPostgresIdentityStore({ connectionString: url, schema }),
          refused('store_error', new RegExp(`schema version ${future} is newer than this Gatehouse knows`)),
        );
      } finally {
        await admin.query(`DELETE FROM "${schema}".schema_migrations WHERE version = $1`, [future]);
      }
    });

    test('a schema name that is not a plain identifier is refused', async () => {
      await assert.rejects(
        openPostgresIdentityStore({ connectionString: url, schema: 'x"; DROP SCHEMA public; --' }),
        refused('store_error', /invalid schema name/),
      );
    });

    test('an unreachable server is a store_error', async () => {
      const dead = new URL(url);
      dead.port = '1';
      await assert.rejects(
        openPostgresIdentityStore({
          connectionString: dead.toString(),
          schema,
          connectionTimeoutMillis: 5000,
        }),
        refused('store_error', /cannot open PostgreSQL store/),
      );
    });
  });
}
