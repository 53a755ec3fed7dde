/**
 * `POST /v1/decisions/records` with `resend`, on a real control plane over
 * PostgreSQL (a database and a role of its own, dropped at the end): when
 * the log cannot be searched for the records the server does not remember
 * (its role may no longer read their times) while it can still be written,
 * they are answered `failed` (to be sent again later) and not written, since
 * they might be there already; once it can, they are written once.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { createApp, type App } from '../../../src/app.js';
import type { UnchainedRecord } from '../../../src/core/log/hash-chain.js';
import { decisionBody } from '../../contract/decision-log.contract.js';
import { postgresUnreachable, TEST_PG_URL, testSchemaName } from '../../support/postgres-server.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const problem = await postgresUnreachable();
const database = testSchemaName('gatehouse_resend_test');
const role = database;
const admin = new pg.Client({ connectionString: TEST_PG_URL });
let db: pg.Client | undefined;
let app: App | undefined;

before(async () => {
  if (problem !== undefined) return;
  await admin.connect();
  await admin.query(`CREATE ROLE "${role}" LOGIN`);
  await admin.query(`CREATE DATABASE "${database}" OWNER "${role}"`);
});
after(async () => {
  await app?.close();
  await db?.end();
  if (problem !== undefined) return;
  await admin.query(`DROP DATABASE IF EXISTS "${database}"`);
  await admin.query(`DROP ROLE IF EXISTS "${role}"`);
  await admin.end();
});

const record = (n: number): UnchainedRecord =>
  decisionBody(n, { via: 'proxy:orders' } as Partial<UnchainedRecord>);

test('records of a resent batch that the log cannot be searched for are failed, not written twice', async () => {
  assert.equal(problem, undefined, problem);
  const url = new URL(TEST_PG_URL);
  url.pathname = `/${database}`;
  url.username = role;
  url.password = '';
  app = await createApp(
    { host: '127.0.0.1', port: 0, db: url.toString(), policy: ['examples/acme/policy'], cwd: root },
    { logger: { log() {} } },
  );
  const secret = app.createdAdminSecret!;
  const ship = async (body: unknown) => {
    const res = await fetch(`${app!.url}/v1/decisions/records`, {
      method: 'POST',
      headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    assert.equal(res.status, 200);
    return res.json();
  };
  const logged = async () => {
    const { rows } = await db!.query<{ decision_id: string }>(
      'SELECT decision_id FROM decision_log ORDER BY seq',
    );
    return rows.map((r) => r.decision_id);
  };
  const superuser = new URL(TEST_PG_URL);
  superuser.pathname = `/${database}`;
  db = new pg.Client({ connectionString: superuser.toString() });
  await db.connect();

  assert.deepEqual(await ship({ records: [record(2), record(4)] }), { written: 2, failed: [], refused: [] });
  // The server's role may still append (it reads the log's tail: seq and hash), but no longer read times:
  // a record this server does not remember cannot be looked for.
  await db.query(`REVOKE SELECT ON decision_log FROM "${role}"`);
  await db.query(`GRANT SELECT (seq, hash) ON decision_log TO "${role}"`);
  assert.deepEqual(await ship({ records: [record(8)] }), { written: 1, failed: [], refused: [] });
  assert.deepEqual(await ship({ records: [record(2), record(6)], resend: true }), {
    written: 1,
    failed: [1],
    refused: [],
  });
  await db.query(`GRANT SELECT ON decision_log TO "${role}"`);
  assert.deepEqual(await ship({ records: [record(2), record(6)], resend: true }), {
    written: 2,
    failed: [],
    refused: [],
  });
  assert.deepEqual(await logged(), ['dec_2', 'dec_4', 'dec_8', 'dec_6']);
});
