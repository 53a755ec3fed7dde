/**
 * `POST /v1/decisions/records` on two real control planes sharing one
 * PostgreSQL log (a database and a role of their own, dropped at the end):
 * a record shipped to both, at once or one after the other, or again after
 * a restart, is logged once; and when the log cannot be searched for a
 * shipped record (the role may no longer read times) while it could still
 * be written, the record is answered `failed` (to be sent again later) and
 * not written, since it might be there already.
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
const database = testSchemaName('gatehouse_records_once_test');
const role = database;
const admin = new pg.Client({ connectionString: TEST_PG_URL });
let db: pg.Client | undefined;
const apps: App[] = [];

before(async () => {
  if (problem !== undefined) return;
  await admin.connect();
  await admin.query(`CREATE ROLE "${role}" LOGIN`);
  await admin.query(`CREATE DATABASE "${database}" OWNER "${role}"`);
  const superuser = new URL(TEST_PG_URL);
  superuser.pathname = `/${database}`;
  db = new pg.Client({ connectionString: superuser.toString() });
  await db.connect();
});
after(async () => {
  for (const app of apps) await app.close();
  await db?.end();
  if (problem !== undefined) return;
  await admin.query(`DROP DATABASE IF EXISTS "${database}"`);
  await admin.query(`DROP ROLE IF EXISTS "${role}"`);
  await admin.end();
});

/** As the proxy of its service ships it. */
const record = (n: number): UnchainedRecord => {
  const body = decisionBody(n);
  return { ...body, via: `proxy:${body.destination.service}` };
};

/** A control plane on the test database, as its own role. */
async function server(): Promise<App> {
  const url = new URL(TEST_PG_URL);
  url.pathname = `/${database}`;
  url.username = role;
  url.password = '';
  const app = await createApp(
    { host: '127.0.0.1', port: 0, db: url.toString(), policy: ['examples/acme/policy'], cwd: root },
    { logger: { log() {} } },
  );
  apps.push(app);
  return app;
}

let secret = '';
async function ship(app: App, body: unknown): Promise<unknown> {
  const res = await fetch(`${app.url}/v1/decisions/records`, {
    method: 'POST',
    headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  assert.equal(res.status, 200);
  return res.json();
}

async function logged(): Promise<string[]> {
  const { rows } = await db!.query<{ decision_id: string }>(
    'SELECT decision_id FROM decision_log ORDER BY seq',
  );
  return rows.map((r) => r.decision_id);
}

test('a record shipped to two servers of one log, at once or in turn, or again after a restart, is logged once', async () => {
  assert.equal(problem, undefined, problem);
  const a = await server();
  secret = a.createdAdminSecret!;
  const b = await server();
  const ok = (n: number) => ({ written: n, failed: [], refused: [] });

  // In turn: the second server has never seen the records.
  assert.deepEqual(await ship(a, { records: [record(1), record(2)] }), ok(2));
  assert.deepEqual(await ship(b, { records: [record(2), record(3)], resend: true }), ok(2));
  // At once: every batch to both servers in the same moment, overlapping the one before by half.
  const rounds = 20;
  for (let round = 0; round < rounds; round++) {
    const batch = Array.from({ length: 10 }, (_, i) => record(10 + round * 5 + i));
    const answers = await Promise.all([ship(a, { records: batch }), ship(b, { records: batch })]);
    assert.deepEqual(answers, [ok(10), ok(10)]);
  }
  // Each server counts the records it found logged already (not those it remembered writing itself):
  // between them, once for every record that both servers were sent.
  const count = async (app: App) => {
    const metrics = await (await fetch(`${app.url}/metrics`)).text();
    return Number(/^gatehouse_decision_log_already_logged_total (\d+)$/m.exec(metrics)?.[1]);
  };
  assert.equal((await count(a)) + (await count(b)), 1 + 5 * rounds + 5);
  // After a restart, which forgets what the server wrote.
  await a.close();
  const again = await server();
  assert.deepEqual(await ship(again, { records: [record(1), record(3), record(4)] }), ok(3));

  const ids = await logged();
  const want = [1, 2, 3, 4, ...Array.from({ length: 5 * rounds + 5 }, (_, i) => 10 + i)].map(
    (n) => `dec_${n}`,
  );
  assert.deepEqual([...ids].sort(), want.sort());
  assert.equal(ids.at(-1), 'dec_4');
});

test('a shipped record that the log cannot be searched for is failed, not written blind', async () => {
  assert.equal(problem, undefined, problem);
  const app = apps.at(-1)!;
  const before = (await logged()).length;
  // Record 2 went to other servers only. The role may still append (it reads the log's tail: seq and
  // hash), but no longer read times.
  await db!.query(`REVOKE SELECT ON decision_log FROM "${role}"`);
  await db!.query(`GRANT SELECT (seq, hash) ON decision_log TO "${role}"`);
  assert.deepEqual(await ship(app, { records: [record(2), record(500)] }), {
    written: 0,
    failed: [0, 1],
    refused: [],
  });
  assert.equal((await logged()).length, before);
  await db!.query(`GRANT SELECT ON decision_log TO "${role}"`);
  assert.deepEqual(await ship(app, { records: [record(2), record(500)], resend: true }), {
    written: 2,
    failed: [],
    refused: [],
  });
  const ids = await logged();
  assert.equal(ids.length, before + 1);
  assert.equal(ids.at(-1), 'dec_500');
});
