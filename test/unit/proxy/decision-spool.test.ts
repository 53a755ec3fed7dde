/**
 * The proxy's decision spool on real files: what one run appends and does
 * not acknowledge, the next run reads back in order; acknowledged records
 * and segments go; a line cut short by a crash is skipped; one process at a
 * time holds a spool.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';
import { DecisionSpool, LATE_WRITE_MS } from '../../../src/proxy/decision-spool.js';
import { checkSyncs, straceAvailable, tracedNode } from '../../support/sync-trace.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'gatehouse-spool-test-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const text = (i: number) => JSON.stringify({ decisionId: `dec_${i}`, note: 'ü — "quoted"' });
const segments = () => readdirSync(dir).filter((f) => f.endsWith('.jsonl'));

test('records appended and settled are read back by the next run, in order, with their numbers', () => {
  const spool = DecisionSpool.open(dir);
  assert.deepEqual(spool.recovery, { records: [], skipped: 0, staleLock: false });
  for (let i = 0; i < 5; i++) assert.equal(spool.append(text(i)), i);
  spool.settle();
  spool.close();

  const again = DecisionSpool.open(dir);
  assert.deepEqual(
    again.recovery.records,
    [0, 1, 2, 3, 4].map((i) => ({ n: i, text: text(i) })),
  );
  assert.equal(again.nextNumber(), 5);
  assert.equal(again.append(text(5)), 5, 'numbers go on after the records found');
  again.close();
});

test('records not yet settled are written within LATE_WRITE_MS, and by close', async () => {
  const spool = DecisionSpool.open(dir);
  spool.append(text(0));
  await new Promise((r) => setImmediate(r));
  assert.equal(segments().length, 0, 'not written before an answer, or the late write');
  await new Promise((r) => setTimeout(r, LATE_WRITE_MS + 30));
  assert.equal(readFileSync(join(dir, segments()[0]!), 'utf8'), `${text(0)}\n`);
  spool.append(text(1));
  spool.close();
  assert.deepEqual(
    DecisionSpool.open(dir).recovery.records.map((r) => r.n),
    [0, 1],
  );
});

test('acknowledged records are not read again; segments wholly acknowledged are deleted', () => {
  const spool = DecisionSpool.open(dir, { segmentRecords: 3 });
  for (let i = 0; i < 8; i++) spool.append(text(i));
  spool.settle();
  assert.equal(segments().length, 3, 'segments of 3, 3 and 2 records');
  spool.acknowledge(4);
  assert.deepEqual(segments(), ['0000000000000003.jsonl', '0000000000000006.jsonl']);
  spool.acknowledge(2); // going back changes nothing
  spool.close();

  const again = DecisionSpool.open(dir, { segmentRecords: 3 });
  assert.deepEqual(
    again.recovery.records.map((r) => r.text),
    [4, 5, 6, 7].map(text),
  );
  again.acknowledge(8);
  assert.deepEqual(segments(), [], 'all taken: even the last segment goes, as it is not being written');
  again.append(text(8));
  again.settle();
  assert.deepEqual(segments(), ['0000000000000008.jsonl']);
  again.acknowledge(9);
  assert.deepEqual(segments(), ['0000000000000008.jsonl'], 'the segment being written stays');
  again.close();
  assert.deepEqual(DecisionSpool.open(dir).recovery.records, []);
});

test('a line cut short by a crash, and a line that is not a JSON object, are skipped and counted', () => {
  const spool = DecisionSpool.open(dir);
  spool.append(text(0));
  spool.append(text(1));
  spool.settle();
  spool.close();
  const file = join(dir, segments()[0]!);
  writeFileSync(file, `${text(0)}\n[1,2]\n${text(2)}\n${text(3).slice(0, 20)}`);
  const again = DecisionSpool.open(dir);
  assert.deepEqual(again.recovery.records, [
    { n: 0, text: text(0) },
    { n: 2, text: text(2) },
  ]);
  assert.equal(again.recovery.skipped, 2);
  assert.equal(again.nextNumber(), 4, 'the cut line keeps its number');
  again.append(text(4));
  again.close();
  // The next record went to a segment of its own, not after the cut line.
  assert.deepEqual(
    DecisionSpool.open(dir).recovery.records.map((r) => r.n),
    [0, 2, 4],
  );
  assert.equal(readFileSync(join(dir, '0000000000000004.jsonl'), 'utf8'), `${text(4)}\n`);
});

test('a write that fails is reported with the records it lost, and the next ones go to a new segment', () => {
  const failures: { message: string; records: number }[] = [];
  const spool = DecisionSpool.open(dir, {
    segmentRecords: 2,
    failed: (e, records) => failures.push({ message: e.message, records }),
  });
  spool.append(text(0));
  spool.settle();
  // The directory is gone: the open segment still takes its last record, a new one cannot be made.
  rmSync(dir, { recursive: true, force: true });
  spool.append(text(1));
  spool.append(text(2));
  spool.append(text(3));
  spool.settle();
  assert.equal(failures.length, 1);
  assert.equal(failures[0]!.records, 2);
  assert.match(failures[0]!.message, /cannot write 2 decision record\(s\) to the spool .*ENOENT/);
  assert.equal(spool.append(text(4)), 4, 'numbering goes on');
  spool.settle();
  assert.equal(failures.length, 2);
  spool.close();
});

test('one process at a time: a spool in use is refused, a lock left by a dead process is taken over', async () => {
  const spool = DecisionSpool.open(dir);
  // This process's own id in the lock is an earlier life's (a container's pid 1): taken over.
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
  try {
    writeFileSync(join(dir, 'lock'), `${child.pid}\n`);
    assert.throws(
      () => DecisionSpool.open(dir),
      (e: Error & { code?: string }) =>
        e.code === 'store_error' &&
        e.message.includes(`in use by process ${child.pid}`) &&
        e.message.includes('--decision-spool'),
    );
  } finally {
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
  }
  const taken = DecisionSpool.open(dir);
  assert.equal(taken.recovery.staleLock, true);
  assert.equal(readFileSync(join(dir, 'lock'), 'utf8'), `${process.pid}\n`);
  taken.close();
  spool.close();
  writeFileSync(join(dir, 'lock'), `${process.pid}\n`);
  const own = DecisionSpool.open(dir);
  assert.equal(own.recovery.staleLock, true);
  own.close();
  assert.deepEqual(readdirSync(dir), [], 'close releases the lock');
});

test('a damaged acknowledgement file is told and read as zero: every record on file again, not a proxy that cannot start', () => {
  const first = DecisionSpool.open(dir);
  for (let i = 0; i < 2; i++) first.append(text(i));
  first.settle();
  first.acknowledge(1);
  first.close();
  writeFileSync(join(dir, 'acked'), 'twelve\n');
  const spool = DecisionSpool.open(dir);
  assert.equal(spool.recovery.unreadableCursor, 'twelve');
  assert.deepEqual(
    spool.recovery.records.map((r) => r.text),
    [text(0), text(1)],
    'shipped again, marked as sent before, for the server to skip what it holds',
  );
  spool.close();
});

test('a record appended after close is not written, and the failure is told', () => {
  const told: number[] = [];
  const spool = DecisionSpool.open(dir, { failed: (_e, records) => told.push(records) });
  spool.close();
  assert.equal(spool.append(text(0)), -1);
  assert.deepEqual(told, [1]);
  assert.deepEqual(DecisionSpool.open(dir).recovery.records, []);
});

test('a spool that cannot be made is an error naming it, at once', () => {
  const file = join(dir, 'a-file');
  writeFileSync(file, '');
  assert.throws(() => DecisionSpool.open(file), /cannot create the decision spool .*a-file: EEXIST/);
  const nested = DecisionSpool.open(join(dir, 'a', 'b', 'c'));
  nested.close();
  // Where a parent exists but the child cannot be made in it, Node's recursive mkdir spins for ever.
  if (existsSync('/proc/self'))
    assert.throws(() => DecisionSpool.open('/proc/gatehouse-spool'), /cannot create the decision spool/);
});

test('with sync, every write reaches the disk before settle returns, and a new segment file its directory', (t) => {
  if (!straceAvailable) {
    t.skip('strace is not installed (Debian package strace): the disk syncs cannot be seen');
    return;
  }
  const source = new URL('../../../src/proxy/decision-spool.ts', import.meta.url).href;
  // The child settles 5 records across two segments of 3, then 1 more; `@` marks each settle's return.
  const script = `
    import { writeSync } from 'node:fs';
    const { DecisionSpool } = await import(${JSON.stringify(source)});
    const spool = DecisionSpool.open(process.argv[1], { sync: process.argv[2] === 'sync', segmentRecords: 3 });
    for (let i = 0; i < 5; i++) spool.append('{"n":' + i + '}');
    spool.settle();
    writeSync(1, '@');
    spool.append('{"n":5}');
    spool.settle();
    writeSync(1, '@');
    spool.close();`;
  const run = (mode: string) => {
    const trace = join(dir, `trace-${mode}`);
    const spoolDir = join(dir, mode);
    const r = spawnSync(
      'strace',
      tracedNode(trace, ['--import', 'tsx', '--input-type=module', '-e', script, spoolDir, mode]),
      { encoding: 'utf8' },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, '@@');
    const check = checkSyncs(readFileSync(trace, 'utf8'), spoolDir, (fd) => fd === '1');
    // The trace was read: two settles, three writes (one to the first segment, two to the second).
    assert.deepEqual({ checkpoints: check.checkpoints, writes: check.writes }, { checkpoints: 2, writes: 3 });
    return check.problems;
  };

  assert.deepEqual(run('sync'), []);
  // The check sees what is missing: without sync, nothing is synced.
  const plain = run('plain');
  assert.ok(
    plain.some((p) => p.startsWith('write to')),
    plain.join('; '),
  );
  assert.ok(
    plain.some((p) => p.startsWith('file ')),
    plain.join('; '),
  );
  const again = DecisionSpool.open(join(dir, 'sync'));
  assert.deepEqual(
    again.recovery.records.map((r) => r.n),
    [0, 1, 2, 3, 4, 5],
  );
  again.close();
});
