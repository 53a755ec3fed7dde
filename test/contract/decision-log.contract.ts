/**
 * The contract every DecisionLogStore adapter passes against its real
 * database (STYLE.md §2). Each adapter's test file calls
 * {@link decisionLogContract} with a harness that opens stores on that
 * database and can change its rows behind the store's back.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { GatehouseError, type GatehouseErrorCode } from '../../src/core/errors.js';
import { DecisionLogWriter } from '../../src/core/log/decision-log-writer.js';
import { RecordsAlreadyLogged } from '../../src/core/log/records-already-logged.js';
import type { DecisionRecord } from '../../src/core/log/decision-record.js';
import { decisionLogLines } from '../../src/core/log/export-decision-log.js';
import {
  canonicalRecordJson,
  ChainWriter,
  GENESIS_HASH,
  type UnchainedRecord,
} from '../../src/core/log/hash-chain.js';
import type { ColumnMismatch } from '../../src/core/log/stored-record-problem.js';
import { verifyDecisionLog } from '../../src/core/log/verify-decision-log.js';
import type { DecisionLogFilter, DecisionLogStore, StoredDecisionRecord } from '../../src/core/ports.js';

export interface DecisionLogHarness {
  /** Opens a store on an empty log: schema current, no records. */
  openEmpty(): Promise<DecisionLogStore>;
  /** Opens another store (its own connections) on the database of the last `openEmpty`. */
  openAgain(): Promise<DecisionLogStore>;
  /** Runs one statement, without placeholders, on that database, behind the store's back. */
  exec(sql: string): Promise<void>;
}

const T0 = Date.UTC(2026, 0, 1);

/** Second `n` after 2026-01-01T00:00:00Z, canonical form. */
export function second(n: number): string {
  return new Date(T0 + n * 1000).toISOString();
}

/**
 * The `n`th decision of a made-up workload: identities `svc-0` to `svc-2` in
 * turn, services `orders` (even n) and `payments` (odd), every fourth denied.
 */
export function decisionBody(n: number, fields: Partial<UnchainedRecord> = {}): UnchainedRecord {
  const verdict = n % 4 === 0 ? 'deny' : 'allow';
  return {
    v: 1,
    decisionId: `dec_${n}`,
    time: second(n),
    policyRevision: `sha256:${'c'.repeat(64)}`,
    via: 'api',
    source: { spiffeId: `spiffe://example.org/svc-${n % 3}`, ip: '10.0.0.7', zone: 'prod' },
    credential: { type: 'jwt-svid', id: `cred_${n}` },
    destination: { service: n % 2 === 0 ? 'orders' : 'payments', port: 443, zone: 'prod' },
    action: { method: 'GET', path: `/orders/${n}` },
    decision: verdict,
    allowed: verdict === 'allow',
    enforced: true,
    mode: 'enforce',
    wouldDeny: verdict === 'deny',
    layer: 'permission',
    reason: verdict === 'allow' ? 'allow_rule' : 'default_deny',
    rules: verdict === 'allow' ? ['orders-read'] : [],
    layers: { credential: 'allow', zone: 'allow', flow: 'allow', permission: verdict },
    latencyMicros: 40 + n,
    ...fields,
  };
}

/** `count` records of {@link decisionBody} chained after `after` (or from the start). */
export function chained(count: number, after?: Pick<DecisionRecord, 'seq' | 'hash'>): DecisionRecord[] {
  const chain = new ChainWriter(after);
  const start = after?.seq ?? 0;
  return Array.from({ length: count }, (_, i) => chain.append(decisionBody(start + i + 1)));
}

/** Every stored record, in sequence order. */
export async function stored(
  store: DecisionLogStore,
  batchSize = 1000,
  fromSeq = 1,
): Promise<StoredDecisionRecord[]> {
  const all: StoredDecisionRecord[] = [];
  for await (const batch of store.scan(fromSeq, batchSize)) all.push(...batch);
  return all;
}

export async function rejectsWith(work: Promise<unknown>, code: GatehouseErrorCode): Promise<GatehouseError> {
  let caught: unknown;
  await assert.rejects(work, (error: unknown) => {
    caught = error;
    return true;
  });
  assert.ok(caught instanceof GatehouseError, `want a GatehouseError, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  return caught;
}

/** Registers the whole contract suite, titled `name`, against the stores `harness` opens. */
export function decisionLogContract(name: string, harness: DecisionLogHarness): void {
  describe(name, () => {
    const opened: DecisionLogStore[] = [];
    async function fresh(): Promise<DecisionLogStore> {
      const store = await harness.openEmpty();
      opened.push(store);
      return store;
    }
    async function again(): Promise<DecisionLogStore> {
      const store = await harness.openAgain();
      opened.push(store);
      return store;
    }
    afterEach(async () => {
      for (const store of opened.splice(0)) await store.close();
    });

    describe('append and read back', () => {
      test('an empty log has no last record and no records', async () => {
        const store = await fresh();
        assert.equal(await store.last(), undefined);
        assert.equal(await store.count(), 0);
        assert.deepEqual(await store.query({ limit: 10 }), []);
        assert.deepEqual(await stored(store), []);
      });

      test('records come back as appended, their stored text canonical', async () => {
        const store = await fresh();
        const records = chained(5);
        await store.append(records.slice(0, 2));
        await store.append(records.slice(2));
        assert.deepEqual(await store.last(), { seq: 5, hash: records[4]!.hash });
        assert.equal(await store.count(), 5);
        assert.deepEqual(await store.query({ limit: 10 }), records);
        const rows = await stored(store);
        assert.deepEqual(
          rows.map((row) => row.seq),
          [1, 2, 3, 4, 5],
        );
        rows.forEach((row, i) => assert.equal(row.json, canonicalRecordJson(records[i])));
      });

      test('text outside ASCII and JSON escapes are kept byte for byte', async () => {
        const store = await fresh();
        const record = new ChainWriter().append(
          decisionBody(1, {
            action: { method: 'GET', path: '/ünïcödé/"quoted"/\\back\u2028line/😀', operation: 'a\tb' },
            rules: ['règle-1', 'rule "two"'],
          }),
        );
        await store.append([record]);
        assert.deepEqual(await store.query({ limit: 1 }), [record]);
        assert.equal((await stored(store))[0]!.json, canonicalRecordJson(record));
        assert.equal((await verifyDecisionLog(store)).firstBreak, undefined);
      });

      test('records are durable: another store on the same database reads them', async () => {
        const store = await fresh();
        const records = chained(3);
        await store.append(records);
        await store.close();
        const reopened = await again();
        assert.deepEqual(await reopened.query({ limit: 10 }), records);
        assert.deepEqual(await reopened.last(), { seq: 3, hash: records[2]!.hash });
      });

      test('a batch of over a thousand records, many INSERT statements in PostgreSQL, is stored whole', async () => {
        const store = await fresh();
        const records = chained(1234);
        await store.append(records);
        assert.equal(await store.count(), 1234);
        assert.deepEqual(await store.last(), { seq: 1234, hash: records[1233]!.hash });
        assert.deepEqual(await verifyDecisionLog(store, { batchSize: 100 }), { checked: 1234 });
      });

      test('the texts a chain writer sealed are stored as given, and a count that does not fit is refused', async () => {
        const store = await fresh();
        const writer = new ChainWriter();
        const sealed = [1, 2, 3].map((seq) => writer.seal(decisionBody(seq)));
        const records = sealed.map((s) => s.record);
        await rejectsWith(
          store.append(
            records,
            sealed.slice(1).map((s) => s.text),
          ),
          'store_error',
        );
        assert.equal(await store.count(), 0);
        await store.append(
          records,
          sealed.map((s) => s.text),
        );
        const stored: string[] = [];
        for await (const batch of store.scan(1, 10)) stored.push(...batch.map((r) => r.json));
        assert.deepEqual(
          stored,
          sealed.map((s) => s.text),
        );
        assert.deepEqual(await verifyDecisionLog(store), { checked: 3 });
      });

      test('appending no records changes nothing', async () => {
        const store = await fresh();
        await store.append([]);
        assert.equal(await store.count(), 0);
      });
    });

    describe('append is all or nothing and never forks the chain', () => {
      test('a batch with a record the store cannot hold stores none of it', async () => {
        const store = await fresh();
        const records = chained(3);
        // A hand-made record with a time that is not RFC 3339, sealed with a valid hash.
        const bad = new ChainWriter({ seq: 1, hash: records[0]!.hash }).append(
          decisionBody(2, { time: 'yesterday' }),
        );
        await rejectsWith(store.append([records[0]!, bad]), 'store_error');
        assert.equal(await store.count(), 0);
        await store.append(records);
        assert.equal(await store.count(), 3);
      });

      test('a batch that skips a sequence number is refused', async () => {
        const store = await fresh();
        const records = chained(4);
        await store.append(records.slice(0, 2));
        const error = await rejectsWith(store.append(records.slice(3)), 'store_conflict');
        assert.match(error.message, /stored log ends at record 2/);
        await rejectsWith(store.append([records[2]!, records[3]!, chained(6)[5]!]), 'store_conflict');
        assert.equal(await store.count(), 2);
      });

      test('a batch that takes a stored sequence number is refused', async () => {
        const store = await fresh();
        const records = chained(3);
        await store.append(records);
        await rejectsWith(store.append(records.slice(2)), 'store_conflict');
        assert.equal(await store.count(), 3);
      });

      test('a first record that does not link to the stored last one is refused', async () => {
        const store = await fresh();
        await store.append(chained(2));
        const fork = chained(1, { seq: 2, hash: `sha256:${'f'.repeat(64)}` });
        const error = await rejectsWith(store.append(fork), 'store_conflict');
        assert.match(error.message, /does not link to the stored record 2/);
        assert.equal(await store.count(), 2);
      });

      test('on an empty log, a first record that does not link to the genesis hash is refused', async () => {
        const store = await fresh();
        const fork = chained(1, { seq: 0, hash: `sha256:${'f'.repeat(64)}` });
        const error = await rejectsWith(store.append(fork), 'store_conflict');
        assert.match(error.message, /does not link to the stored record 0/);
        assert.equal(await store.count(), 0);
      });

      test('of two stores appending the same next record, one wins and the other gets store_conflict', async () => {
        const one = await fresh();
        const two = await again();
        await one.append(chained(1));
        const head = (await one.last())!;
        const a = new ChainWriter(head).append(decisionBody(2, { decisionId: 'from_a' }));
        const b = new ChainWriter(head).append(decisionBody(2, { decisionId: 'from_b' }));
        const results = await Promise.allSettled([one.append([a]), two.append([b])]);
        assert.deepEqual(results.map((r) => r.status).sort(), ['fulfilled', 'rejected']);
        const failed = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
        assert.ok(failed.reason instanceof GatehouseError);
        assert.equal(failed.reason.code, 'store_conflict');
        assert.equal(await one.count(), 2);
        assert.deepEqual(await verifyDecisionLog(two), { checked: 2 });
      });
    });

    describe('query', () => {
      const all = chained(40);
      async function filled(): Promise<DecisionLogStore> {
        const store = await fresh();
        await store.append(all);
        return store;
      }
      const seqs = (records: readonly DecisionRecord[]) => records.map((r) => r.seq);
      const expected = (keep: (r: DecisionRecord) => boolean) => seqs(all.filter(keep));

      test('each filter, alone and combined, in sequence order', async () => {
        const store = await filled();
        const cases: [DecisionLogFilter, (r: DecisionRecord) => boolean][] = [
          [{ limit: 100, identity: 'spiffe://example.org/svc-1' }, (r) => r.seq % 3 === 1],
          [{ limit: 100, service: 'orders' }, (r) => r.seq % 2 === 0],
          [{ limit: 100, verdict: 'deny' }, (r) => r.seq % 4 === 0],
          [{ limit: 100, since: second(30) }, (r) => r.seq >= 30],
          [{ limit: 100, until: second(5) }, (r) => r.seq < 5],
          [{ limit: 100, since: second(10), until: second(20) }, (r) => r.seq >= 10 && r.seq < 20],
          [{ limit: 100, afterSeq: 37 }, (r) => r.seq > 37],
          [
            { limit: 100, identity: 'spiffe://example.org/svc-0', service: 'orders', verdict: 'deny' },
            (r) => r.seq % 12 === 0,
          ],
          [{ limit: 100, identity: 'spiffe://example.org/nobody' }, () => false],
        ];
        for (const [filter, keep] of cases) {
          assert.deepEqual(seqs(await store.query(filter)), expected(keep), JSON.stringify(filter));
        }
      });

      test('times given with an offset are compared as instants', async () => {
        const store = await filled();
        // 01:00:10+01:00 is 00:00:10Z.
        const got = await store.query({ limit: 100, since: '2026-01-01T01:00:10+01:00', until: second(12) });
        assert.deepEqual(seqs(got), [10, 11]);
      });

      test('limit and cursors page through the log both ways', async () => {
        const store = await filled();
        const page1 = await store.query({ limit: 15, verdict: 'allow' });
        const page2 = await store.query({ limit: 15, verdict: 'allow', afterSeq: page1.at(-1)!.seq });
        const page3 = await store.query({ limit: 15, verdict: 'allow', afterSeq: page2.at(-1)!.seq });
        assert.deepEqual(
          seqs([...page1, ...page2, ...page3]),
          expected((r) => r.decision === 'allow'),
        );
        assert.equal(page3.length, 0);

        const newest = await store.query({ limit: 3, descending: true });
        assert.deepEqual(seqs(newest), [40, 39, 38]);
        const older = await store.query({ limit: 3, descending: true, beforeSeq: 38, service: 'orders' });
        assert.deepEqual(seqs(older), [36, 34, 32]);
      });

      test('a filter out of range is request_invalid', async () => {
        const store = await filled();
        const bad: DecisionLogFilter[] = [
          { limit: 0 },
          { limit: 1.5 },
          { limit: 10, verdict: 'maybe' as 'allow' },
          { limit: 10, since: 'yesterday' },
          { limit: 10, until: '2026-02-30T00:00:00Z' },
          { limit: 10, afterSeq: -1 },
          { limit: 10, beforeSeq: Number.NaN },
        ];
        for (const filter of bad) await rejectsWith(store.query(filter), 'request_invalid');
      });
    });

    describe('prune', () => {
      const AT = '2026-06-01T00:00:00.000Z';

      test('an export that a prune overtakes fails, naming the records it lost', async () => {
        const store = await fresh();
        await store.append(chained(25));
        const lines = decisionLogLines(store, { batchSize: 4 });
        assert.equal((await lines.next()).done, false, 'records 1 to 4 out');
        await store.prune(second(10), { at: AT });
        await assert.rejects(lines.next(), (error: unknown) => {
          assert.ok(error instanceof GatehouseError);
          assert.equal(error.code, 'store_conflict');
          assert.match(error.message, /records 5 to 9 were pruned while the export read them/);
          return true;
        });
        // An export of the pruned log starts where it starts.
        let all = '';
        for await (const chunk of decisionLogLines(store, { batchSize: 4 })) all += chunk;
        assert.equal(all.split('\n').length - 1, 16);
        assert.match(all, /^\{[^\n]*"decisionId":"dec_10"/);
      });

      test('deletes the oldest records decided before a time, in steps; the rest verifies from the anchor', async () => {
        const store = await fresh();
        const records = chained(40);
        await store.append(records);
        const result = await store.prune(second(15), { at: AT, batchSize: 4 });
        const anchor = { seq: 14, hash: records[13]!.hash, prunedAt: AT, pruned: 14 };
        assert.deepEqual(result, { pruned: 14, anchor });
        assert.deepEqual(await store.anchor(), anchor);
        assert.equal(await store.count(), 26);
        assert.equal((await stored(store))[0]!.seq, 15);
        assert.deepEqual(await verifyDecisionLog(store, { batchSize: 7 }), { checked: 26, anchor });
        // The log goes on after a prune as before it.
        const writer = await DecisionLogWriter.open(store);
        await writer.record(decisionBody(41));
        await writer.close();
        assert.deepEqual(await verifyDecisionLog(store), { checked: 27, anchor });
      });

      test('stops at the first record decided at or after the time: a late record stays, with all after it', async () => {
        const store = await fresh();
        // Record 6 was decided at second 20, record 8 at second 1 (shipped late by a proxy).
        const chain = new ChainWriter();
        const records = Array.from({ length: 10 }, (_, i) =>
          chain.append(
            decisionBody(i + 1, i === 5 ? { time: second(20) } : i === 7 ? { time: second(1) } : {}),
          ),
        );
        await store.append(records);
        assert.equal((await store.prune(second(9), { at: AT })).pruned, 5);
        assert.deepEqual(
          (await stored(store)).map((r) => r.seq),
          [6, 7, 8, 9, 10],
        );
        // Again: nothing before the first stored record's time, nothing deleted; the anchor stays.
        assert.deepEqual(await store.prune(second(9), { at: second(99) }), {
          pruned: 0,
          anchor: { seq: 5, hash: records[4]!.hash, prunedAt: AT, pruned: 5 },
        });
      });

      test('never deletes the newest record; a second prune adds to the anchor', async () => {
        const store = await fresh();
        const records = chained(10);
        await store.append(records.slice(0, 6));
        assert.equal((await store.prune(second(3), { at: AT })).pruned, 2);
        await store.append(records.slice(6));
        const result = await store.prune('9999-01-01T00:00:00Z', { at: second(50), batchSize: 3 });
        assert.deepEqual(result, {
          pruned: 7,
          anchor: { seq: 9, hash: records[8]!.hash, prunedAt: second(50), pruned: 9 },
        });
        assert.deepEqual(await store.last(), { seq: 10, hash: records[9]!.hash });
        assert.deepEqual(await verifyDecisionLog(store), { checked: 1, anchor: result.anchor });
      });

      test('a verify while a prune runs finds no break that the prune made', async () => {
        const store = await fresh();
        await store.append(chained(3000));
        // The prune outruns the reading where the two interleave (PostgreSQL: both over the network).
        const [pruned, status] = await Promise.all([
          store.prune(second(2500), { at: AT, batchSize: 500 }),
          verifyDecisionLog(store, { batchSize: 5 }),
        ]);
        assert.equal(pruned.pruned, 2499);
        assert.equal(status.firstBreak, undefined, status.firstBreak?.message);
      });

      test('an aborted signal stops the prune before its next step', async () => {
        const store = await fresh();
        await store.append(chained(10));
        const stop = new AbortController();
        stop.abort();
        assert.deepEqual(await store.prune(second(8), { at: AT, batchSize: 2, signal: stop.signal }), {
          pruned: 0,
          anchor: undefined,
        });
        assert.equal(await store.count(), 10);
      });

      test('an empty log, or one of one record, prunes nothing and has no anchor', async () => {
        const store = await fresh();
        assert.deepEqual(await store.prune(second(100), { at: AT }), { pruned: 0, anchor: undefined });
        await store.append(chained(1));
        assert.deepEqual(await store.prune(second(100), { at: AT }), { pruned: 0, anchor: undefined });
        assert.equal(await store.anchor(), undefined);
        await rejectsWith(store.prune('last week', { at: AT }), 'request_invalid');
      });

      test('records removed from the start other than by a prune break the chain, with or without an anchor', async () => {
        const store = await fresh();
        await store.append(chained(12));
        await harness.exec('DELETE FROM decision_log WHERE seq <= 3');
        let status = await verifyDecisionLog(store);
        assert.equal(status.firstBreak?.seq, 4);
        assert.equal(status.firstBreak?.reason, 'seq_gap');
        assert.match(status.firstBreak!.message, /the log starts at record 1/);

        await store.prune(second(6), { at: AT });
        assert.deepEqual(await verifyDecisionLog(store), {
          checked: 7,
          anchor: await store.anchor(),
        });
        await harness.exec('DELETE FROM decision_log WHERE seq = 6');
        status = await verifyDecisionLog(store);
        assert.equal(status.firstBreak?.seq, 7);
        assert.match(status.firstBreak!.message, /pruned through record 5/);
      });

      test('an anchor altered in the database breaks the chain at the first record', async () => {
        const store = await fresh();
        await store.append(chained(8));
        await store.prune(second(4), { at: AT });
        await harness.exec(`UPDATE decision_log_anchor SET hash = '${GENESIS_HASH}'`);
        const status = await verifyDecisionLog(store);
        assert.equal(status.firstBreak?.seq, 4);
        assert.equal(status.firstBreak?.reason, 'prev_hash_mismatch');
      });
    });

    describe('append onlyNew', () => {
      test('stores nothing and names the held ids when the log holds records of those keys, in batches past one query', async () => {
        const store = await fresh();
        const held = chained(1200);
        await store.append(held);
        // Every third record is held (its id at its time); the others have an unknown id, or a held id at another time.
        const bodies = Array.from({ length: 1100 }, (_, i) => {
          const n = i + 1;
          if (n % 3 === 0) return decisionBody(n);
          if (n % 3 === 1) return decisionBody(n, { decisionId: `dec_x${n}` });
          return decisionBody(n, { time: second(n + 1) });
        });
        const chain = new ChainWriter(held.at(-1));
        const batch = bodies.map((body) => chain.append(body));
        const everyIndex = batch.map((_, i) => i);
        const error = await rejectsWith(
          store.append(batch, undefined, { onlyNew: everyIndex }),
          'store_conflict',
        );
        assert.ok(error instanceof RecordsAlreadyLogged);
        assert.deepEqual(
          error.indexes,
          everyIndex.filter((i) => (i + 1) % 3 === 0),
        );
        assert.match(error.message, /already holds decision `dec_3`, `dec_6`, `dec_9` and 363 more/);
        assert.equal(await store.count(), 1200);
        // Without the held ones, chained again, the rest is stored.
        const again = new ChainWriter(held.at(-1));
        const rest = bodies.filter((_, i) => (i + 1) % 3 !== 0).map((body) => again.append(body));
        await store.append(rest, undefined, { onlyNew: rest.map((_, i) => i) });
        assert.equal(await store.count(), 1200 + rest.length);
        assert.deepEqual(await verifyDecisionLog(store), { checked: 1200 + rest.length });
      });

      test('looks only at the records named, by the instant whatever its offset', async () => {
        const store = await fresh();
        const held = chained(10);
        await store.append(held);
        const chain = new ChainWriter(held.at(-1));
        // Record 10 again, its time written with an offset, named: refused.
        const same = [chain.append(decisionBody(10, { time: '2026-01-01T01:00:10+01:00' }))];
        const error = await rejectsWith(store.append(same, undefined, { onlyNew: [0] }), 'store_conflict');
        assert.deepEqual((error as RecordsAlreadyLogged).indexes, [0]);
        // Not named: stored as any record is.
        await store.append(same);
        assert.equal(await store.count(), 11);
        // An index with no record is a store_error, not a silent write.
        const next = chained(1, { seq: 11, hash: same[0]!.hash });
        await rejectsWith(store.append(next, undefined, { onlyNew: [1] }), 'store_error');
        assert.equal(await store.count(), 11);
        // The same id and time for another service is another record: one caller's records
        // cannot stand for another's.
        const other = [
          chain.append(decisionBody(10, { destination: { service: 'payments', port: 443, zone: 'prod' } })),
        ];
        await store.append(other, undefined, { onlyNew: [0] });
        assert.equal(await store.count(), 12);
      });
    });

    describe('scan', () => {
      test('reads from a sequence number on, in batches of at most the size asked', async () => {
        const store = await fresh();
        const records = chained(7);
        await store.append(records);
        const sizes: number[] = [];
        const got: number[] = [];
        for await (const batch of store.scan(2, 3)) {
          sizes.push(batch.length);
          got.push(...batch.map((row) => row.seq));
        }
        assert.deepEqual(sizes, [3, 3]);
        assert.deepEqual(got, [2, 3, 4, 5, 6, 7]);
        assert.deepEqual(await stored(store, 7), await stored(store, 2));
        assert.deepEqual(await stored(store, 3, 8), []);
      });

      test('a batch size or start out of range is request_invalid', async () => {
        const store = await fresh();
        await rejectsWith(stored(store, 0), 'request_invalid');
        await rejectsWith(stored(store, 10, -1), 'request_invalid');
      });
    });

    describe('tamper evidence', () => {
      test('an intact log verifies, and exports as its stored text line by line', async () => {
        const store = await fresh();
        const records = chained(25);
        await store.append(records);
        assert.deepEqual(await verifyDecisionLog(store, { batchSize: 7 }), { checked: 25 });
        const chunks: string[] = [];
        for await (const lines of decisionLogLines(store, { batchSize: 4 })) chunks.push(lines);
        assert.equal(chunks.length, 7, 'one chunk per batch read');
        assert.equal(chunks.join(''), records.map((r) => `${canonicalRecordJson(r)}\n`).join(''));
        let tail = '';
        for await (const lines of decisionLogLines(store, { fromSeq: 20 })) tail += lines;
        assert.equal(
          tail,
          records
            .slice(19)
            .map((r) => `${canonicalRecordJson(r)}\n`)
            .join(''),
        );
      });

      test('a record altered in the database breaks the chain at that record', async () => {
        const store = await fresh();
        await store.append(chained(10));
        await harness.exec(
          `UPDATE decision_log SET record_json = replace(record_json, '"latencyMicros":47', '"latencyMicros":1') WHERE seq = 7`,
        );
        const status = await verifyDecisionLog(store, { batchSize: 3 });
        assert.equal(status.checked, 7);
        assert.equal(status.firstBreak?.seq, 7);
        assert.equal(status.firstBreak?.reason, 'hash_mismatch');
      });

      test('a record removed from the database breaks the chain at the next one', async () => {
        const store = await fresh();
        await store.append(chained(10));
        await harness.exec('DELETE FROM decision_log WHERE seq = 4');
        const status = await verifyDecisionLog(store);
        assert.equal(status.firstBreak?.seq, 5);
        assert.equal(status.firstBreak?.reason, 'seq_gap');
        assert.equal(status.firstBreak?.position, 4);
      });

      test('a record replaced by a validly hashed forgery breaks the chain at the next one', async () => {
        const store = await fresh();
        const records = chained(6);
        await store.append(records);
        // A forger who recomputes the hash of record 3, and its copies, still cannot make record 4 link to it.
        const forged = new ChainWriter(records[1]).append(decisionBody(3, { decisionId: 'forged' }));
        await harness.exec(
          `UPDATE decision_log SET record_json = '${canonicalRecordJson(forged)}', hash = '${forged.hash}', decision_id = 'forged' WHERE seq = 3`,
        );
        const status = await verifyDecisionLog(store);
        assert.equal(status.firstBreak?.seq, 4);
        assert.equal(status.firstBreak?.reason, 'prev_hash_mismatch');
      });

      test('the copies a query filters by, altered in the database, are named with what the record says', async () => {
        const store = await fresh();
        await store.append(chained(10));
        // Record 4 is a deny of svc-1 calling orders: make it vanish from the queries for it.
        const denied = await store.query({
          verdict: 'deny',
          identity: 'spiffe://example.org/svc-1',
          limit: 10,
        });
        assert.deepEqual(
          denied.map((r) => r.seq),
          [4],
        );
        await harness.exec(
          `UPDATE decision_log SET verdict = 'allow', source_spiffe_id = 'spiffe://x/nobody', service = 'nothing' WHERE seq = 4`,
        );
        assert.deepEqual(
          await store.query({ verdict: 'deny', identity: 'spiffe://example.org/svc-1', limit: 10 }),
          [],
        );
        const status = await verifyDecisionLog(store, { batchSize: 3 });
        assert.deepEqual(status, {
          checked: 4,
          firstBreak: {
            seq: 4,
            position: 4,
            reason: 'column_mismatch',
            columns: [
              {
                column: 'source_spiffe_id',
                field: 'source.spiffeId',
                stored: 'spiffe://x/nobody',
                recorded: 'spiffe://example.org/svc-1',
              },
              { column: 'service', field: 'destination.service', stored: 'nothing', recorded: 'orders' },
              { column: 'verdict', field: 'decision', stored: 'allow', recorded: 'deny' },
            ],
            message:
              "record 4 was altered in the store: column `source_spiffe_id` says `spiffe://x/nobody`, the record's `source.spiffeId` is `spiffe://example.org/svc-1`; " +
              "column `service` says `nothing`, the record's `destination.service` is `orders`; " +
              "column `verdict` says `allow`, the record's `decision` is `deny`",
          },
        });
      });

      test('every copy of a field is checked: seq, time, decision id, hash', async () => {
        const records = chained(3);
        const tampered: [string, ColumnMismatch][] = [
          ['seq = 7', { column: 'seq', field: 'seq', stored: 7, recorded: 3 }],
          [
            `decided_at = '${second(9)}'`,
            { column: 'decided_at', field: 'time', stored: second(9), recorded: second(3) },
          ],
          [
            // Half a millisecond later: PostgreSQL keeps microseconds, read back as such.
            `decided_at = '${second(3).replace('.000Z', '.000500Z')}'`,
            {
              column: 'decided_at',
              field: 'time',
              stored: second(3).replace('.000Z', '.000500Z'),
              recorded: second(3),
            },
          ],
          [
            `decision_id = 'dec_9'`,
            { column: 'decision_id', field: 'decisionId', stored: 'dec_9', recorded: 'dec_3' },
          ],
          [
            `hash = '${GENESIS_HASH}'`,
            { column: 'hash', field: 'hash', stored: GENESIS_HASH, recorded: records[2]!.hash },
          ],
        ];
        for (const [set, want] of tampered) {
          const store = await fresh();
          await store.append(records);
          await harness.exec(`UPDATE decision_log SET ${set} WHERE seq = 3`);
          const status = await verifyDecisionLog(store);
          assert.equal(status.firstBreak?.reason, 'column_mismatch', set);
          assert.equal(status.firstBreak.seq, 3);
          assert.deepEqual(status.firstBreak.columns, [want]);
        }
      });

      test('a stored text that is not the canonical text hashed is refused, though it parses to the same record', async () => {
        const records = chained(3);
        const text = canonicalRecordJson(records[1]);
        // Each parses to record 2 as sealed, so its hash still matches, but none is the text the
        // chain sealed (which an export hands on as it is).
        const variants = {
          'white space': text.replace('{"action"', '{ "action"'),
          'a key twice (JSON.parse keeps the last)': text.replace('"v":1,', '"v":2,"v":1,'),
          'keys out of order': JSON.stringify(records[1]),
          'an escape not needed': text.replace('"mode":"enforce"', '"mode":"\\u0065nforce"'),
        };
        for (const [what, variant] of Object.entries(variants)) {
          assert.notEqual(variant, text, what);
          assert.deepEqual(JSON.parse(variant), records[1], what);
          const store = await fresh();
          await store.append(records);
          await harness.exec(`UPDATE decision_log SET record_json = '${variant}' WHERE seq = 2`);
          assert.equal((await stored(store))[1]!.json, variant, what);
          const status = await verifyDecisionLog(store);
          assert.equal(status.checked, 2, what);
          assert.equal(status.firstBreak?.seq, 2, what);
          assert.equal(status.firstBreak.reason, 'text_not_canonical', what);
          assert.match(
            status.firstBreak.message,
            /^record 2 was altered in the store: its stored text is not the canonical JSON its hash covers \(they differ from character \d+\)$/,
          );
        }
      });

      test('a log written as sealed verifies: times with an offset, text outside ASCII', async () => {
        const store = await fresh();
        const chain = new ChainWriter();
        // The store keeps `decided_at` in its one form; the record keeps the time as given.
        await store.append([
          chain.append(decisionBody(1, { time: '2026-01-01T01:00:01.5+01:00' })),
          chain.append(decisionBody(2, { source: { spiffeId: 'spiffe://example.org/ünï', zone: 'prod' } })),
          chain.append(decisionBody(3)),
        ]);
        assert.equal((await stored(store))[0]!.columns.decidedAt, '2026-01-01T00:00:01.500Z');
        assert.deepEqual(await verifyDecisionLog(store), { checked: 3 });
      });

      test('a stored text that is not JSON is reported, and query says the log is damaged', async () => {
        const store = await fresh();
        await store.append(chained(4));
        await harness.exec(`UPDATE decision_log SET record_json = 'not json' WHERE seq = 2`);
        const status = await verifyDecisionLog(store);
        assert.equal(status.firstBreak?.seq, 2);
        assert.equal(status.firstBreak?.reason, 'hash_mismatch');
        const error = await rejectsWith(store.query({ limit: 10 }), 'store_error');
        assert.match(error.message, /decision record 2 is unreadable/);
      });
    });

    describe('with the writer', () => {
      test('concurrent decisions are written in a few transactions as one unbroken chain', async () => {
        const store = await fresh();
        const writer = await DecisionLogWriter.open(store);
        const records = await Promise.all(
          Array.from({ length: 300 }, (_, i) => writer.record(decisionBody(i + 1))),
        );
        assert.deepEqual(
          records.map((r) => r.seq),
          Array.from({ length: 300 }, (_, i) => i + 1),
        );
        assert.ok(writer.stats().batches <= 3, `${writer.stats().batches} batches`);
        await writer.close();
        assert.deepEqual(await verifyDecisionLog(store), { checked: 300 });
      });

      test('two writers on one log take turns without forking the chain', async () => {
        const one = await DecisionLogWriter.open(await fresh());
        const two = await DecisionLogWriter.open(await again(), { attempts: 50 });
        const written: Promise<DecisionRecord>[] = [];
        for (let i = 1; i <= 40; i++) written.push((i % 2 === 0 ? one : two).record(decisionBody(i)));
        const records = await Promise.all(written);
        assert.deepEqual(
          records.map((r) => r.seq).sort((a, b) => a - b),
          Array.from({ length: 40 }, (_, i) => i + 1),
        );
        assert.deepEqual(await verifyDecisionLog(opened[0]!), { checked: 40 });
      });

      test('a record given to recordOnce by two writers of one log at once is stored once', async () => {
        const one = await DecisionLogWriter.open(await fresh(), { attempts: 50 });
        const two = await DecisionLogWriter.open(await again(), { attempts: 50 });
        // Each writer gets every record, in turns of different sizes, so that batches overlap in many ways.
        const answers: Promise<DecisionRecord | undefined>[] = [];
        for (let round = 0; round < 6; round++) {
          for (let i = 1; i <= 30; i++) {
            const n = round * 30 + i;
            answers.push(one.recordOnce(decisionBody(n)));
            if (i % (round + 2) === 0) await new Promise((resolve) => setImmediate(resolve));
            answers.push(two.recordOnce(decisionBody(n)));
          }
        }
        const results = await Promise.all(answers);
        const written = results.filter((r) => r !== undefined);
        assert.equal(written.length, 180);
        assert.equal(new Set(written.map((r) => r.decisionId)).size, 180);
        assert.equal(one.stats().alreadyLogged + two.stats().alreadyLogged, 180);
        const status = await verifyDecisionLog(opened[0]!);
        assert.deepEqual(status, { checked: 180 });
        const ids = (await stored(opened[0]!)).map(
          (row) => (JSON.parse(row.json) as DecisionRecord).decisionId,
        );
        assert.equal(new Set(ids).size, 180);
      });

      test('recordOnce writes a record the log does not hold, and record writes one it does', async () => {
        const store = await fresh();
        const writer = await DecisionLogWriter.open(store);
        const first = await writer.recordOnce(decisionBody(1));
        assert.equal(first?.seq, 1);
        // The same id at another time is another record.
        const later = await writer.recordOnce(decisionBody(1, { time: second(2) }));
        assert.equal(later?.seq, 2);
        const [again1, fresh3] = await Promise.all([
          writer.recordOnce(decisionBody(1)),
          writer.recordOnce(decisionBody(3)),
        ]);
        assert.equal(again1, undefined);
        assert.equal(fresh3?.seq, 3);
        // `record` does not look: the server's own decisions have ids it made.
        assert.equal((await writer.record(decisionBody(3))).seq, 4);
        assert.deepEqual(await verifyDecisionLog(store), { checked: 4 });
        assert.equal(writer.stats().alreadyLogged, 1);
      });
    });

    describe('close', () => {
      test('every method fails with store_error after close, and close may be called again', async () => {
        const store = await fresh();
        await store.append(chained(1));
        await store.close();
        await store.close();
        await rejectsWith(store.append(chained(2).slice(1)), 'store_error');
        await rejectsWith(store.last(), 'store_error');
        await rejectsWith(store.count(), 'store_error');
        await rejectsWith(store.query({ limit: 1 }), 'store_error');
        await rejectsWith(stored(store), 'store_error');
      });

      test('appends asked for before close are written', async () => {
        const store = await fresh();
        const records = chained(6);
        const first = store.append(records.slice(0, 3));
        const second = store.append(records.slice(3));
        await store.close();
        await Promise.all([first, second]);
        const reopened = await again();
        assert.equal(await reopened.count(), 6);
      });
    });
  });
}
