import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { ChainWriter } from '../../src/core/log/hash-chain.js';
import { verifyDecisionLog } from '../../src/core/log/verify-decision-log.js';
import { openSqliteDecisionLog, openSqliteIdentityStore } from '../../src/store/index.js';
import { latestVersion } from '../../src/store/sql/migrate.js';
import { LOGGED_SQL } from '../../src/store/sql/sql-decision-log.js';
import { startAppendThread } from '../../src/store/sqlite/decision-log-append-thread.js';
import { SQLITE_DECISION_LOG_MIGRATIONS } from '../../src/store/sqlite/decision-log-migrations.js';
import { SQLITE_MIGRATIONS } from '../../src/store/sqlite/migrations.js';
import { entryRecord } from './identity-store.contract.js';
import { chained, decisionBody, decisionLogContract, rejectsWith } from './decision-log.contract.js';

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-decision-log-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;
function newFile(): string {
  return join(dir, `log-${++files}.db`);
}

let current = '';
decisionLogContract('SQLite decision log contract', {
  openEmpty: () => openSqliteDecisionLog((current = newFile())),
  openAgain: () => openSqliteDecisionLog(current),
  async exec(sql) {
    const db = new Database(current);
    try {
      db.exec(sql);
    } finally {
      db.close();
    }
  },
});

function versions(file: string, table: string): number[] {
  const db = new Database(file, { readonly: true });
  try {
    return (db.prepare(`SELECT version FROM ${table} ORDER BY version`).all() as { version: number }[]).map(
      (row) => row.version,
    );
  } finally {
    db.close();
  }
}

describe('SQLite decision log', () => {
  test('an in-memory database works', async () => {
    const store = await openSqliteDecisionLog(':memory:');
    await store.append(chained(3));
    assert.deepEqual(await verifyDecisionLog(store), { checked: 3 });
    await store.close();
  });

  test('shares a file with the identity store, each with its own migration ledger', async () => {
    for (const logFirst of [true, false]) {
      const file = newFile();
      const open = logFirst
        ? [() => openSqliteDecisionLog(file), () => openSqliteIdentityStore(file)]
        : [() => openSqliteIdentityStore(file), () => openSqliteDecisionLog(file)];
      const [a, b] = [await open[0]!(), await open[1]!()];
      const log = (logFirst ? a : b) as Awaited<ReturnType<typeof openSqliteDecisionLog>>;
      const identity = (logFirst ? b : a) as Awaited<ReturnType<typeof openSqliteIdentityStore>>;
      await identity.createEntry(entryRecord('ent_1'));
      await log.append(chained(2));
      await Promise.all([log.close(), identity.close()]);

      const [log2, identity2] = [await openSqliteDecisionLog(file), await openSqliteIdentityStore(file)];
      assert.equal(await log2.count(), 2);
      assert.equal((await identity2.listEntries()).length, 1);
      await Promise.all([log2.close(), identity2.close()]);
      assert.deepEqual(
        versions(file, 'schema_migrations'),
        SQLITE_MIGRATIONS.migrations.map((m) => m.version),
      );
      assert.deepEqual(
        versions(file, 'decision_log_migrations'),
        SQLITE_DECISION_LOG_MIGRATIONS.migrations.map((m) => m.version),
      );
    }
  });

  test('the database is in WAL mode', async () => {
    const file = newFile();
    await (await openSqliteDecisionLog(file)).close();
    const db = new Database(file, { readonly: true });
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    db.close();
  });

  test('a log of schema 2 moves to the time-and-id index, and its records are found by it', async () => {
    const file = newFile();
    const records = chained(20);
    const written = await openSqliteDecisionLog(file);
    await written.append(records);
    await written.close();
    // Back to schema 2, as a log written before it.
    const db = new Database(file);
    db.exec(`DROP INDEX decision_log_decided_at_id; CREATE INDEX decision_log_decided_at ON decision_log (decided_at);
      DELETE FROM decision_log_migrations WHERE version = 3`);
    db.close();

    const store = await openSqliteDecisionLog(file);
    assert.deepEqual(versions(file, 'decision_log_migrations'), [1, 2, 3]);
    const check = new Database(file, { readonly: true });
    try {
      const indexes = (
        check
          .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'decision_log'")
          .all() as {
          name: string;
        }[]
      ).map((row) => row.name);
      assert.ok(indexes.includes('decision_log_decided_at_id'));
      assert.ok(!indexes.includes('decision_log_decided_at'));
      const plan = check
        .prepare(`EXPLAIN QUERY PLAN ${LOGGED_SQL}`)
        .all('2026-01-01T00:00:01.000Z', 'dec_1', 'payments') as { detail: string }[];
      assert.match(
        plan.map((row) => row.detail).join('\n'),
        /USING INDEX decision_log_decided_at_id \(decided_at=\? AND decision_id=\?\)/,
      );
    } finally {
      check.close();
    }
    const repeat = new ChainWriter(records.at(-1)).append(decisionBody(5));
    await rejectsWith(store.append([repeat], undefined, { onlyNew: [0] }), 'store_conflict');
    assert.deepEqual(await verifyDecisionLog(store), { checked: 20 });
    await store.close();
  });

  test('a log schema from a newer version is refused', async () => {
    const file = newFile();
    await (await openSqliteDecisionLog(file)).close();
    const db = new Database(file);
    db.prepare('INSERT INTO decision_log_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(
      latestVersion(SQLITE_DECISION_LOG_MIGRATIONS) + 1,
      'from_the_future',
      '2030-01-01T00:00:00.000Z',
    );
    db.close();
    await rejectsWith(openSqliteDecisionLog(file), 'store_error');
    // The identity store's ledger is another matter: it still opens.
    await (await openSqliteIdentityStore(file)).close();
  });

  test('an append waiting for the write lock, and its commit, leave the event loop free', async () => {
    const file = newFile();
    const store = await openSqliteDecisionLog(file, { busyTimeoutMs: 5000 });
    // Another connection of this thread holds the write lock; only this thread's timers release it.
    const other = new Database(file);
    other.exec('BEGIN IMMEDIATE');
    const appended = store.append(chained(3));
    let ticks = 0;
    const started = Date.now();
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        if (++ticks < 5) return;
        clearInterval(timer);
        resolve();
      }, 10);
    });
    const waited = Date.now() - started;
    other.exec('ROLLBACK');
    other.close();
    await appended;
    // A loop that stood still for the lock would have seen its timers only after the busy timeout.
    assert.ok(waited < 2000, `the timers ran after ${waited} ms`);
    assert.equal(await store.count(), 3);
    assert.deepEqual(await verifyDecisionLog(store), { checked: 3 });
    await store.close();
  });

  test('an append that times out on the write lock fails with store_error and writes nothing', async () => {
    const file = newFile();
    const store = await openSqliteDecisionLog(file, { busyTimeoutMs: 50 });
    const other = new Database(file);
    other.exec('BEGIN IMMEDIATE');
    try {
      await rejectsWith(store.append(chained(2)), 'store_error');
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    assert.equal(await store.count(), 0);
    // The thread is still there: the next append goes through.
    await store.append(chained(2));
    assert.equal(await store.count(), 2);
    await store.close();
  });

  test('a closed log refuses appends', async () => {
    const store = await openSqliteDecisionLog(newFile());
    await store.close();
    await rejectsWith(store.append(chained(1)), 'store_error');
  });

  test('the log says when it cannot take records (readiness): open, none; closed, why', async () => {
    const store = await openSqliteDecisionLog(newFile());
    assert.equal(store.problem?.(), undefined);
    await store.close();
    assert.match(store.problem?.() ?? '', /closed/);
  });

  test('a writing thread that has stopped says so, and every append fails closed', async () => {
    const file = newFile();
    // The schema first: the thread writes into an existing log.
    await (await openSqliteDecisionLog(file)).close();
    const thread = await startAppendThread(file, 1000);
    assert.equal(thread.problem(), undefined);
    await thread.close();
    assert.match(thread.problem() ?? '', /writing thread has stopped/);
    const plan = {
      check() {},
      expect: { seq: 0, hash: chained(1)[0]!.prevHash },
      rows: [],
      onlyNew: [],
      alreadyLogged: () => assert.fail('no records'),
    };
    await rejectsWith(thread.append(plan), 'store_error');
  });

  test('a file that cannot be opened is a store_error', async () => {
    const error = await rejectsWith(openSqliteDecisionLog(join(dir, 'no-such-dir', 'x.db')), 'store_error');
    assert.match(error.message, /cannot open SQLite database/);
  });
});
