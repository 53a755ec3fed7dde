/**
 * The audit of a large decision log reads it, and checks its hash chain, on
 * a second thread (src/cli/audit-log.ts, decision-log-reader.ts): the report
 * must be the one a single pass gives, intact or broken at the same record,
 * the same errors for the same lines. The thread runs the built module, so
 * this runs the built code (dist/).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { built } from '../support/server-process.js';
import { readDecisionLog } from '../../src/cli/decision-log-file.js';
import { readInventoryFile } from '../../src/cli/inventory-file.js';
import { RecordLineScanner } from '../../src/core/analysis/exposure/record-line.js';
import { ChainVerifier, type ChainStatus } from '../../src/core/log/hash-chain.js';
import { readPolicySources } from '../../src/cli/policy-files.js';
import { parsePolicy } from '../../src/core/policy/index.js';

const root = new URL('../..', import.meta.url).pathname;
type AuditLogModule = typeof import('../../src/cli/audit-log.js');
const { auditWithLog, gatherDecisionLog } = built
  ? ((await import(`${root}dist/cli/audit-log.js`)) as AuditLogModule)
  : ({} as AuditLogModule);
/** The chain of a log file checked in one pass on this thread: what the shared check must give. */
async function checkChainOfFile(file: string): Promise<ChainStatus> {
  const verifier = new ChainVerifier();
  const scanner = new RecordLineScanner();
  await readDecisionLog(file, '/', {
    add: (record) => verifier.push(record),
    addLine: (line) => {
      const read = scanner.scan(line, true);
      if (read) verifier.pushCanonical(read.chain!.record, read.chain!.body);
      return read !== undefined;
    },
  });
  return verifier.status();
}
type ReaderModule = typeof import('../../src/cli/decision-log-reader.js');
type ExposureModule = typeof import('../../src/core/analysis/exposure/index.js');
const { readDecisionLogOnThread } = built
  ? ((await import(`${root}dist/cli/decision-log-reader.js`)) as ReaderModule)
  : ({} as ReaderModule);
const { Audit, ActivityCollector } = built
  ? ((await import(`${root}dist/core/analysis/exposure/index.js`)) as ExposureModule)
  : ({} as ExposureModule);
const policy = parsePolicy(readPolicySources(['examples/acme/policy'], root));
const inventory = readInventoryFile('examples/acme/inventory.yaml', root);
const options = { now: Date.parse('2030-01-01T00:00:00Z') };
const lines = readFileSync(join(root, 'examples/acme/decisions.jsonl'), 'utf8').split('\n');

async function both(text: string) {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-audit-log-'));
  const file = join(dir, 'log.jsonl');
  writeFileSync(file, text);
  const single = await auditWithLog(policy, inventory, options, {
    path: file,
    cwd: root,
    parallelFromBytes: Infinity,
  });
  const parallel = await auditWithLog(policy, inventory, options, {
    path: file,
    cwd: root,
    parallelFromBytes: 0,
  });
  return { single, parallel, file };
}

/** A collector's contents as plain values: its maps and sets as lists, in their order. */
function plain(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === 'object') {
    if (Symbol.iterator in v) return [...(v as Iterable<unknown>)].map(plain);
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  }
  return v;
}

function logFile(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-audit-log-'));
  const file = join(dir, 'log.jsonl');
  writeFileSync(file, text);
  return file;
}

/** A gatherer slower than the reader: the reader runs ahead, then checks the chain while it waits. */
function slowly(audit: InstanceType<typeof Audit>, ms: number) {
  return {
    addBatch: (batch: Parameters<InstanceType<typeof Audit>['addBatch']>[0]) => {
      const until = Date.now() + ms;
      while (Date.now() < until);
      audit.addBatch(batch);
    },
  };
}

describe(
  'audit of a log read on a second thread',
  { skip: built ? false : 'run `npm run build` first' },
  () => {
    test('an intact log: the same report as one pass', async () => {
      const { single, parallel } = await both(lines.join('\n'));
      assert.equal(single.log.chain, 'intact');
      assert.deepEqual(parallel, single);
    });

    test('an altered record: broken at the same record, same findings', async () => {
      const tampered = [...lines];
      tampered[9] = tampered[9]!
        .replace('"decision":"deny"', '"decision":"allow"')
        .replace('"decision":"allow"', '"decision":"deny"');
      const { single, parallel } = await both(tampered.join('\n'));
      assert.equal(single.log.chain, 'broken');
      assert.equal(single.log.chainBreak?.seq, 10);
      assert.deepEqual(parallel, single);
    });

    test('a removed record and a line written with escapes (the general path) both count', async () => {
      const gap = lines.filter((_, i) => i !== 4);
      // Re-encoding a line with escaped slashes keeps its record and hash: still a link of the chain.
      gap[0] = gap[0]!.replaceAll('/', '\\/');
      const { single, parallel, file } = await both(gap.join('\n'));
      assert.equal(single.log.chain, 'broken');
      assert.equal(single.log.chainBreak?.reason, 'seq_gap');
      assert.equal(single.log.chainBreak?.seq, 6);
      assert.deepEqual(parallel, single);
      assert.deepEqual(await checkChainOfFile(file), {
        checked: single.log.records,
        firstBreak: single.log.chainBreak,
      });
    });

    test('a line that is not a record is reported with its number, by either way of reading', async () => {
      const bad = [...lines];
      bad[2] = '{"time":"x"}';
      const dir = mkdtempSync(join(tmpdir(), 'gatehouse-audit-log-'));
      const file = join(dir, 'log.jsonl');
      writeFileSync(file, bad.join('\n'));
      for (const parallelFromBytes of [0, Infinity])
        await assert.rejects(
          auditWithLog(policy, inventory, options, { path: file, cwd: root, parallelFromBytes }),
          /log\.jsonl:3: not a decision record/,
        );
      await assert.rejects(checkChainOfFile(file), /log\.jsonl:3: not a decision record/);
    });

    test('batches of one record, gathered slowly: everything gathered, the chain checked in between', async () => {
      const tampered = [...lines];
      tampered[40] = tampered[40]!.replace('"decision":"allow"', '"decision":"deny"');
      for (const text of [lines.join('\n'), tampered.join('\n')]) {
        const file = logFile(text);
        const audit = new Audit(policy, inventory, { ...options, verifyChain: false }).withLog();
        const reading = readDecisionLogOnThread(file, root, slowly(audit, 2), {
          verifyChain: true,
          batchSize: 1,
        });
        await reading.read;
        const chain = await reading.chain();
        assert.deepEqual(chain, await checkChainOfFile(file));
        const single = await auditWithLog(policy, inventory, options, {
          path: file,
          cwd: root,
          parallelFromBytes: Infinity,
        });
        assert.deepEqual(audit.finish(chain), single);
      }
    });

    test('the chain check shared with the gatherer in slices of any size: the status one pass gives', async () => {
      const gap = lines.filter((_, i) => i !== 70);
      const altered = [...lines];
      altered[1500] = altered[1500]!.replace('"decision":"allow"', '"decision":"deny"');
      altered[1501] = altered[1501]!.replace('"decision":"deny"', '"decision":"allow"');
      // An empty line, and a line the general path reads, inside what is shared.
      const mixed = [...lines];
      mixed[20] = mixed[20]!.replaceAll('/', '\\/');
      mixed.splice(30, 0, '');
      for (const text of [lines, gap, altered, mixed].map((l) => l.join('\n')))
        for (const sliceLines of [1, 7, 1000]) {
          const file = logFile(text);
          const audit = new Audit(policy, inventory, { ...options, verifyChain: false }).withLog();
          const reading = readDecisionLogOnThread(file, root, audit, { verifyChain: true, sliceLines });
          await reading.read;
          assert.deepEqual(await reading.chain(), await checkChainOfFile(file), `slices of ${sliceLines}`);
        }
    });

    test('an error of the gatherer stops the reading and is the one reported', async () => {
      const file = logFile(lines.join('\n'));
      let batches = 0;
      const reading = readDecisionLogOnThread(
        file,
        root,
        {
          addBatch: () => {
            if (++batches === 3) throw new Error('gatherer failed');
          },
        },
        { verifyChain: true, batchSize: 2 },
      );
      await assert.rejects(reading.read, /gatherer failed/);
      await assert.rejects(reading.chain(), /gatherer failed/);
      assert.equal(batches, 3, 'no batch is gathered after the error');
    });

    test('gathering a log for granted-vs-used: the same activity read either way', async () => {
      const file = logFile(lines.join('\n'));
      const gathered = await Promise.all(
        [0, Infinity].map(async (parallelFromBytes) => {
          const c = new ActivityCollector({ until: options.now });
          await gatherDecisionLog({ path: file, cwd: root, parallelFromBytes }, c);
          return { summary: c.summary(), identities: plain([...c.identities]) };
        }),
      );
      assert.ok(gathered[0]!.summary.records > 0);
      assert.deepEqual(gathered[0], gathered[1]);
    });

    test('a missing file is reported as the single pass reports it', async () => {
      const missing = join(tmpdir(), 'gatehouse-no-such-log.jsonl');
      for (const parallelFromBytes of [0, Infinity])
        await assert.rejects(
          auditWithLog(policy, inventory, options, { path: missing, cwd: root, parallelFromBytes }),
          /cannot read decision log/,
        );
    });

    test('the chain check skipped: read on the thread all the same, the chain not checked', async () => {
      const file = logFile(lines.join('\n'));
      const [parallel, single] = await Promise.all(
        [0, Infinity].map((parallelFromBytes) =>
          auditWithLog(
            policy,
            inventory,
            { ...options, verifyChain: false },
            { path: file, cwd: root, parallelFromBytes },
          ),
        ),
      );
      assert.equal(parallel!.log.chain, 'not checked');
      assert.deepEqual(parallel, single);
    });
  },
);
