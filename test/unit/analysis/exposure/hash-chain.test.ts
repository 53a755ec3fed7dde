import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ChainWriter, GENESIS_HASH, recordHash, verifyChain } from '../../../../src/core/log/hash-chain.js';
import type { DecisionRecord } from '../../../../src/core/log/decision-record.js';
import { acmeRecords } from './acme.js';

describe('decision log hash chain', () => {
  const records = acmeRecords() as DecisionRecord[];

  test('the example log is an intact chain from the genesis hash', () => {
    assert.equal(records[0]!.prevHash, GENESIS_HASH);
    assert.deepEqual(verifyChain(records), { checked: records.length });
  });

  test('the hash is over the canonical JSON: key order does not matter, content does', () => {
    const r = records[5]!;
    const reordered = Object.fromEntries(Object.entries(r).reverse()) as unknown as DecisionRecord;
    assert.equal(recordHash(reordered), r.hash);
    assert.notEqual(recordHash({ ...r, decision: r.decision === 'allow' ? 'deny' : 'allow' }), r.hash);
  });

  test('an altered, removed or reordered record breaks the chain where it happened', () => {
    const altered = records.slice(0, 50).map((r) => ({ ...r }));
    altered[20] = { ...altered[20]!, allowed: !altered[20]!.allowed };
    assert.deepEqual(verifyChain(altered).firstBreak?.reason, 'hash_mismatch');
    assert.equal(verifyChain(altered).firstBreak?.seq, 21);
    const removed = [...records.slice(0, 10), ...records.slice(11, 20)];
    assert.equal(verifyChain(removed).firstBreak?.reason, 'seq_gap');
    const forged = records.slice(0, 20).map((r) => ({ ...r }));
    forged[10] = { ...forged[10]!, prevHash: GENESIS_HASH };
    forged[10] = { ...forged[10]!, hash: recordHash(forged[10]!) };
    assert.equal(verifyChain(forged).firstBreak?.reason, 'prev_hash_mismatch');
  });

  test('a log that starts after record 1 (a rotated file) anchors on its first record', () => {
    assert.deepEqual(verifyChain(records.slice(100, 200)), { checked: 100 });
  });

  test('the writer continues a log after its last record', () => {
    const last = records[records.length - 1]!;
    const { seq: _s, prevHash: _p, hash: _h, ...body } = last;
    const next = new ChainWriter(last).append(body);
    assert.equal(next.seq, last.seq + 1);
    assert.equal(next.prevHash, last.hash);
    assert.deepEqual(verifyChain([last, next]), { checked: 2 });
  });
});

test('the record canonical JSON is the policy canonical JSON', async () => {
  const { canonicalRecordJson } = await import('../../../../src/core/log/hash-chain.js');
  const { canonicalJson } = await import('../../../../src/core/policy/revision.js');
  for (const r of acmeRecords().slice(0, 200)) assert.equal(canonicalRecordJson(r), canonicalJson(r));
  const odd = { b: [1, undefined, { d: undefined, c: 'x"\u2028' }], a: null, e: undefined };
  assert.equal(canonicalRecordJson(odd), canonicalJson(odd));
});
