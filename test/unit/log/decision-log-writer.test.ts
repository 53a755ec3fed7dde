/**
 * The decision log writer over a real SQLite store, wrapped where a test
 * needs a slow disk, a failed append or a say in when an append finishes.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, describe, test } from 'node:test';
import { GatehouseError } from '../../../src/core/errors.js';
import { DecisionLogWriter } from '../../../src/core/log/decision-log-writer.js';
import { RecordsAlreadyLogged } from '../../../src/core/log/records-already-logged.js';
import type { DecisionRecord } from '../../../src/core/log/decision-record.js';
import type { UnchainedRecord } from '../../../src/core/log/hash-chain.js';
import { verifyDecisionLog } from '../../../src/core/log/verify-decision-log.js';
import type { DecisionLogStore } from '../../../src/core/ports.js';
import { openSqliteDecisionLog } from '../../../src/store/index.js';
import { decisionBody, rejectsWith } from '../../contract/decision-log.contract.js';

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-log-writer-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;
const opened: DecisionLogStore[] = [];
async function sqliteStore(file = join(dir, `log-${++files}.db`)): Promise<DecisionLogStore> {
  const store = await openSqliteDecisionLog(file);
  opened.push(store);
  return store;
}
afterEach(async () => {
  for (const store of opened.splice(0)) await store.close();
});

/** A store that records the size of each append and can run code around it. */
function watched(
  inner: DecisionLogStore,
  around: {
    before?: (call: number) => Promise<void> | void;
    after?: (call: number) => Promise<void> | void;
  } = {},
): DecisionLogStore & { appends: number[] } {
  const appends: number[] = [];
  return {
    ...inner,
    appends,
    async append(records, texts, options) {
      appends.push(records.length);
      const call = appends.length;
      await around.before?.(call);
      await inner.append(records, texts, options);
      await around.after?.(call);
    },
  };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

/** A store whose appends wait until the test opens the gate for each. */
function gated(inner: DecisionLogStore) {
  const waiting: (() => void)[] = [];
  const store = watched(inner, {
    before: () => new Promise<void>((open) => waiting.push(open)),
  });
  return {
    store,
    /** Resolves once append number `n` (from 1) has been asked for. */
    async called(n: number): Promise<void> {
      while (store.appends.length < n) await nextTurn();
    },
    /** Lets the oldest waiting append go on. */
    open(): void {
      const go = waiting.shift();
      assert.ok(go, 'no append is waiting');
      go();
    },
  };
}

function bodies(from: number, count: number): UnchainedRecord[] {
  return Array.from({ length: count }, (_, i) => decisionBody(from + i));
}

const seqs = (records: readonly DecisionRecord[]) => records.map((r) => r.seq);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

async function settle(promises: Promise<DecisionRecord>[]) {
  const results = await Promise.allSettled(promises);
  return {
    written: results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : [])),
    failed: results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : [])),
  };
}

describe('DecisionLogWriter', () => {
  describe('group commit', () => {
    test('many concurrent records go into few transactions, numbered in call order without gaps', async () => {
      const store = watched(await sqliteStore());
      const writer = await DecisionLogWriter.open(store);
      const records = await Promise.all(bodies(1, 500).map((body) => writer.record(body)));
      assert.deepEqual(seqs(records), range(1, 500));
      assert.deepEqual(
        records.map((r) => r.decisionId),
        range(1, 500).map((n) => `dec_${n}`),
      );
      assert.ok(store.appends.length <= 2, `appends ${store.appends.join(', ')}`);
      assert.deepEqual(await store.query({ limit: 1000 }), records);
      assert.deepEqual(writer.stats(), {
        queueDepth: 0,
        waiting: 0,
        written: 500,
        batches: store.appends.length,
        writeErrors: 0,
        rejected: 0,
        conflicts: 0,
        alreadyLogged: 0,
      });
    });

    test('a transaction holds at most maxBatch records', async () => {
      const store = watched(await sqliteStore());
      const writer = await DecisionLogWriter.open(store, { maxBatch: 64 });
      await Promise.all(bodies(1, 300).map((body) => writer.record(body)));
      assert.deepEqual(store.appends, [64, 64, 64, 64, 44]);
      assert.deepEqual(await verifyDecisionLog(store), { checked: 300 });
    });

    test('the records that arrive while a write is under way go into the next one, together', async () => {
      const gate = gated(await sqliteStore());
      const writer = await DecisionLogWriter.open(gate.store);
      const first = writer.record(decisionBody(1));
      await gate.called(1);
      // Arriving one by one, each in its own turn of the event loop.
      const later: Promise<DecisionRecord>[] = [];
      for (let n = 2; n <= 101; n++) {
        later.push(writer.record(decisionBody(n)));
        await nextTurn();
      }
      assert.equal(writer.queueDepth(), 101);
      gate.open();
      await gate.called(2);
      gate.open();
      assert.equal((await first).seq, 1);
      assert.deepEqual(seqs(await Promise.all(later)), range(2, 101));
      assert.deepEqual(gate.store.appends, [1, 100]);
    });

    test('with setImmediate as defer, records from separate turns of the event loop share a transaction', async () => {
      const store = watched(await sqliteStore());
      const writer = await DecisionLogWriter.open(store, { defer: (run) => setImmediate(run) });
      const records = await Promise.all(
        range(1, 50).map(
          (n) =>
            new Promise<DecisionRecord>((resolve, reject) =>
              setImmediate(() => writer.record(decisionBody(n)).then(resolve, reject)),
            ),
        ),
      );
      assert.deepEqual(seqs(records), range(1, 50));
      assert.deepEqual(store.appends, [50]);
    });
  });

  describe('back-pressure', () => {
    test('a slow disk slows the callers down and nothing is dropped', async () => {
      let deepest = 0;
      const store = watched(await sqliteStore(), {
        async before() {
          deepest = Math.max(deepest, writer.queueDepth());
          await sleep(5);
        },
      });
      const writer = await DecisionLogWriter.open(store, { maxBatch: 20, maxQueue: 50 });
      const pending = bodies(1, 400).map((body) => writer.record(body));
      assert.equal(writer.queueDepth(), 50);
      assert.equal(writer.stats().waiting, 350);
      const records = await Promise.all(pending);
      assert.deepEqual(seqs(records), range(1, 400));
      assert.ok(deepest <= 50, `queue depth reached ${deepest}`);
      assert.ok(store.appends.every((size) => size <= 20));
      assert.equal(await store.count(), 400);
      assert.deepEqual(await verifyDecisionLog(store), { checked: 400 });
      assert.deepEqual(writer.stats().waiting, 0);
    });

    test('a record made while others wait for room queues behind them', async () => {
      const gate = gated(await sqliteStore());
      const writer = await DecisionLogWriter.open(gate.store, { maxBatch: 2, maxQueue: 2 });
      const all = bodies(1, 5).map((body) => writer.record(body));
      await gate.called(1);
      assert.equal(writer.stats().waiting, 3);
      all.push(writer.record(decisionBody(6)));
      assert.equal(writer.stats().waiting, 4);
      for (let n = 1; n <= 3; n++) {
        gate.open();
        if (n < 3) await gate.called(n + 1);
      }
      const records = await Promise.all(all);
      assert.deepEqual(seqs(records), range(1, 6));
      assert.deepEqual(
        records.map((r) => r.decisionId),
        range(1, 6).map((n) => `dec_${n}`),
      );
      assert.deepEqual(gate.store.appends, [2, 2, 2]);
    });
  });

  describe('failures', () => {
    test('a failed append rejects exactly its own records, and the chain goes on without a gap', async () => {
      const broken = new GatehouseError(
        'store_error',
        'cannot append decision records: database error SQLITE_IOERR',
      );
      const inner = await sqliteStore();
      const waiting: (() => void)[] = [];
      const store = watched(inner, {
        async before(call) {
          await new Promise<void>((open) => waiting.push(open));
          if (call === 2) throw broken;
        },
      });
      const writer = await DecisionLogWriter.open(store);
      const first = [writer.record(decisionBody(1))];
      while (store.appends.length < 1) await nextTurn();
      const second = settle(bodies(2, 10).map((body) => writer.record(body)));
      waiting.shift()!();
      while (store.appends.length < 2) await nextTurn();
      const third = bodies(12, 5).map((body) => writer.record(body));
      waiting.shift()!();
      while (store.appends.length < 3) await nextTurn();
      waiting.shift()!();

      assert.deepEqual(seqs(await Promise.all(first)), [1]);
      const failed = await second;
      assert.equal(failed.written.length, 0);
      assert.equal(failed.failed.length, 10);
      assert.ok(failed.failed.every((error) => error === broken));
      assert.deepEqual(seqs(await Promise.all(third)), range(2, 6));
      assert.deepEqual(store.appends, [1, 10, 5]);
      assert.deepEqual(await verifyDecisionLog(store), { checked: 6 });
      const stats = writer.stats();
      assert.equal(stats.writeErrors, 1);
      assert.equal(stats.rejected, 10);
      assert.equal(stats.written, 6);
    });

    test('an append that committed but reported failure leaves no fork: the next batch chains after it', async () => {
      const store = watched(await sqliteStore(), {
        after(call) {
          if (call === 1) throw new GatehouseError('store_error', 'connection lost after COMMIT');
        },
      });
      const writer = await DecisionLogWriter.open(store);
      const lost = await settle(bodies(1, 3).map((body) => writer.record(body)));
      assert.equal(lost.failed.length, 3);
      const next = await Promise.all(bodies(4, 3).map((body) => writer.record(body)));
      // Records 1–3 are on disk though their callers were told they failed; the chain continues after them.
      assert.deepEqual(seqs(next), [4, 5, 6]);
      assert.deepEqual(await verifyDecisionLog(store), { checked: 6 });
    });

    test('a log that cannot be read rejects the batch, and writing resumes once it can', async () => {
      const inner = await sqliteStore();
      let lastFails = false;
      const store: DecisionLogStore = {
        ...watched(inner, {
          before(call) {
            if (call === 1) throw new GatehouseError('store_error', 'disk gone');
          },
        }),
        last: async () => {
          if (lastFails) throw new GatehouseError('store_error', 'cannot read the last decision record');
          return inner.last();
        },
      };
      const writer = await DecisionLogWriter.open(store);
      await rejectsWith(writer.record(decisionBody(1)), 'store_error');
      lastFails = true;
      const error = await rejectsWith(writer.record(decisionBody(2)), 'store_error');
      assert.match(error.message, /cannot read the last decision record/);
      lastFails = false;
      assert.equal((await writer.record(decisionBody(3))).seq, 1);
      assert.deepEqual(await verifyDecisionLog(inner), { checked: 1 });
    });

    test('a conflict with another writer is retried after the new last record, up to `attempts` times', async () => {
      const inner = await sqliteStore();
      const other = await DecisionLogWriter.open(inner);
      let steal = 2;
      const store = watched(inner, {
        async before() {
          // Another writer appends first, twice.
          if (steal-- > 0) await other.record(decisionBody(100 + steal));
        },
      });
      const writer = await DecisionLogWriter.open(store);
      const record = await writer.record(decisionBody(1));
      assert.equal(record.seq, 3);
      assert.equal(writer.stats().conflicts, 2);
      assert.deepEqual(await verifyDecisionLog(inner), { checked: 3 });

      const stubborn = await DecisionLogWriter.open(
        watched(inner, {
          async before() {
            await other.record(decisionBody(200));
          },
        }),
        { attempts: 2 },
      );
      await rejectsWith(stubborn.record(decisionBody(2)), 'store_conflict');
      assert.deepEqual(stubborn.stats().conflicts, 1);
      assert.deepEqual(await verifyDecisionLog(inner), { checked: 5 });
    });

    test('a body the log cannot hold is rejected alone', async () => {
      const store = watched(await sqliteStore());
      const writer = await DecisionLogWriter.open(store);
      const unserializable = { ...decisionBody(2), extra: 10n } as unknown as UnchainedRecord;
      const results = await settle([
        writer.record(decisionBody(1)),
        writer.record(unserializable),
        writer.record(decisionBody(3, { time: '2026-01-01T00:00:03Z' })),
        writer.record(decisionBody(4, { decision: 'maybe' as 'allow' })),
        // What toISOString writes beyond the year 9999: the store keeps four-digit years only.
        writer.record(decisionBody(6, { time: '+012026-01-01T00:00:06.000Z' })),
        writer.record(decisionBody(5)),
      ]);
      assert.deepEqual(seqs(results.written), [1, 2]);
      assert.deepEqual(
        results.written.map((r) => r.decisionId),
        ['dec_1', 'dec_5'],
      );
      assert.equal(results.failed.length, 4);
      for (const error of results.failed) {
        assert.ok(error instanceof GatehouseError);
        assert.equal(error.code, 'store_error');
      }
      assert.match(String((results.failed[1] as Error).message), /invalid time `2026-01-01T00:00:03Z`/);
      assert.match(String((results.failed[3] as Error).message), /invalid time `\+012026-/);
      assert.deepEqual(await verifyDecisionLog(store), { checked: 2 });
      assert.equal(writer.stats().rejected, 4);
    });

    test('seq, prevHash and hash in a body are ignored', async () => {
      const writer = await DecisionLogWriter.open(await sqliteStore());
      const body = { ...decisionBody(1), seq: 99, prevHash: 'sha256:x', hash: 'sha256:y' } as UnchainedRecord;
      const record = await writer.record(body);
      assert.equal(record.seq, 1);
      assert.notEqual(record.hash, 'sha256:y');
    });

    test('open fails when the log cannot be read; bad options are refused', async () => {
      const inner = await sqliteStore();
      const unreadable: DecisionLogStore = {
        ...inner,
        last: () => Promise.reject(new GatehouseError('store_error', 'cannot read the last decision record')),
      };
      await rejectsWith(DecisionLogWriter.open(unreadable), 'store_error');
      await rejectsWith(DecisionLogWriter.open(inner, { maxBatch: 0 }), 'store_error');
      await rejectsWith(DecisionLogWriter.open(inner, { maxQueue: 1.5 }), 'store_error');
    });
  });

  describe('recordOnce', () => {
    test('a held record is answered undefined, and the rest of its batch chained again without it', async () => {
      const inner = await sqliteStore();
      const store = watched(inner);
      const writer = await DecisionLogWriter.open(store);
      await writer.record(decisionBody(2));
      // One batch: a plain record, two held ones among new ones, the same id at another time.
      const answers = await Promise.all([
        writer.record(decisionBody(1)),
        writer.recordOnce(decisionBody(2)),
        writer.recordOnce(decisionBody(3)),
        writer.recordOnce(decisionBody(2, { time: '2026-01-01T00:00:09.000Z' })),
        writer.recordOnce(decisionBody(4)),
      ]);
      assert.deepEqual(
        answers.map((r) => r?.seq),
        [2, undefined, 3, 4, 5],
      );
      // The refused append, then the one without the held record.
      assert.deepEqual(store.appends, [1, 5, 4]);
      assert.deepEqual(await verifyDecisionLog(store), { checked: 5 });
      const stats = writer.stats();
      assert.equal(stats.alreadyLogged, 1);
      assert.equal(stats.conflicts, 0);
      assert.equal(stats.written, 5);
      assert.equal(stats.queueDepth, 0);
    });

    test('a batch held whole writes nothing and answers every record', async () => {
      const inner = await sqliteStore();
      const store = watched(inner);
      const writer = await DecisionLogWriter.open(store);
      await Promise.all(bodies(1, 3).map((body) => writer.record(body)));
      const answers = await Promise.all(bodies(1, 3).map((body) => writer.recordOnce(body)));
      assert.deepEqual(answers, [undefined, undefined, undefined]);
      assert.deepEqual(store.appends, [3, 3]);
      assert.equal(await store.count(), 3);
      assert.equal(writer.stats().queueDepth, 0);
      await writer.flush();
    });

    test('a store that names an id not asked about fails the batch instead of looping', async () => {
      const inner = await sqliteStore();
      const store: DecisionLogStore = {
        ...inner,
        append: async () => {
          throw new RecordsAlreadyLogged('append decision records 1 to 1', [
            { index: 1, decisionId: 'dec_other' },
          ]);
        },
      };
      const writer = await DecisionLogWriter.open(store);
      const error = await rejectsWith(writer.recordOnce(decisionBody(1)), 'store_conflict');
      assert.match(error.message, /already holds decision `dec_other`/);
      assert.equal(writer.stats().writeErrors, 1);
      assert.equal(writer.stats().queueDepth, 0);
    });
  });

  describe('shutdown and restart', () => {
    test('flush waits for what was recorded before it; close refuses what comes after', async () => {
      const store = watched(await sqliteStore(), { before: () => sleep(2) });
      const writer = await DecisionLogWriter.open(store, { maxBatch: 10, maxQueue: 10 });
      const pending = bodies(1, 35).map((body) => writer.record(body));
      let settled = 0;
      for (const p of pending) void p.then(() => settled++);
      await writer.flush();
      assert.equal(await store.count(), 35);
      await Promise.resolve();
      assert.equal(settled, 35);
      await writer.flush();

      const late = bodies(36, 25).map((body) => writer.record(body));
      await writer.close();
      assert.equal(await store.count(), 60);
      assert.deepEqual(seqs(await Promise.all(late)), range(36, 60));
      await rejectsWith(writer.record(decisionBody(61)), 'store_error');
      await writer.close();
    });

    test('after a restart the chain continues where it ended, and verifies across it', async () => {
      const file = join(dir, 'restart.db');
      const before = await openSqliteDecisionLog(file);
      const first = await DecisionLogWriter.open(before);
      const acknowledged = await Promise.all(bodies(1, 30).map((body) => first.record(body)));
      await first.close();
      await before.close();

      const reopened = await sqliteStore(file);
      assert.deepEqual(await reopened.query({ limit: 100 }), acknowledged);
      const second = await DecisionLogWriter.open(reopened);
      const more = await Promise.all(bodies(31, 20).map((body) => second.record(body)));
      assert.deepEqual(seqs(more), range(31, 50));
      assert.equal(more[0]!.prevHash, acknowledged.at(-1)!.hash);
      assert.deepEqual(await verifyDecisionLog(reopened), { checked: 50 });
    });
  });
});
