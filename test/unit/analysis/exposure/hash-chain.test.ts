import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  ChainVerifier,
  ChainWriter,
  GENESIS_HASH,
  joinChainSegments,
  recordHash,
  verifyChain,
} from '../../../../src/core/log/hash-chain.js';
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

/** The canonical JSON of a record as first defined (sort the keys of every object): hashes of stored logs depend on it. */
function sortedJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value))
    return `[${value.map((v: unknown) => (v === undefined || typeof v === 'function' ? 'null' : sortedJson(v))).join(',')}]`;
  const o = value as Record<string, unknown>;
  const members = Object.keys(o)
    .sort()
    .filter((k) => o[k] !== undefined && typeof o[k] !== 'function')
    .map((k) => `${JSON.stringify(k)}:${sortedJson(o[k])}`);
  return `{${members.join(',')}}`;
}

test('the record canonical JSON sorts every key, on random values whose layouts repeat', async () => {
  const { canonicalRecordJson } = await import('../../../../src/core/log/hash-chain.js');
  // Few key names, so that layouts (same keys, same or another order) recur and are reused.
  const key = fc.constantFrom('a', 'b', 'seq', 'hash', '__proto__', '10', '2', 'é', 'B', '');
  const value = fc.letrec((tie) => ({
    any: fc.oneof(
      { depthSize: 'small' },
      fc.constantFrom(
        null,
        true,
        false,
        undefined,
        0,
        -0,
        1.5,
        1e21,
        -Infinity,
        Number.NaN,
        'x',
        '\ud800',
        '😀',
        '\u0007',
        'a"\\\u2028',
      ),
      fc.array(tie('any'), { maxLength: 4 }),
      fc.dictionary(key, tie('any'), { maxKeys: 6 }),
    ),
  })).any;
  fc.assert(
    fc.property(fc.array(value, { minLength: 1, maxLength: 8 }), (values) => {
      for (const v of values) assert.equal(canonicalRecordJson(v), sortedJson(v));
    }),
    { numRuns: 1000 },
  );
  for (const r of acmeRecords()) assert.equal(canonicalRecordJson(r), sortedJson(r));
});

test('a chain checked in consecutive runs, joined, gives what one pass gives', () => {
  const records = acmeRecords().slice(0, 40) as DecisionRecord[];
  // What may happen to a record: kept, altered, dropped, repeated, relinked to the genesis, or
  // forged (relinked and resealed, so only its link is wrong).
  const change = fc.constantFrom('keep', 'keep', 'keep', 'alter', 'drop', 'repeat', 'genesis', 'forge');
  fc.assert(
    fc.property(
      fc.array(change, { minLength: 40, maxLength: 40 }),
      fc.integer({ min: 0, max: 39 }),
      fc.array(fc.integer({ min: 0, max: 45 }), { maxLength: 6 }),
      (changes, start, cuts) => {
        const log: DecisionRecord[] = [];
        records.slice(start).forEach((r, i) => {
          const c = changes[i]!;
          if (c === 'drop') return;
          if (c === 'alter') log.push({ ...r, allowed: !r.allowed });
          else if (c === 'genesis') log.push({ ...r, prevHash: GENESIS_HASH });
          else if (c === 'forge') {
            const f = { ...r, prevHash: GENESIS_HASH };
            log.push({ ...f, hash: recordHash(f) });
          } else log.push(r);
          if (c === 'repeat') log.push(r);
        });
        const bounds = [...new Set([0, ...cuts.filter((c) => c <= log.length), log.length])].sort(
          (a, b) => a - b,
        );
        const segments = [];
        for (let k = 0; k + 1 < bounds.length; k++) {
          const v = new ChainVerifier({ segment: true });
          for (const r of log.slice(bounds[k], bounds[k + 1])) v.push(r);
          segments.push(v.segment());
        }
        // Empty runs, anywhere, change nothing.
        segments.splice(segments.length >> 1, 0, new ChainVerifier({ segment: true }).segment());
        assert.deepEqual(joinChainSegments(segments), verifyChain(log));
      },
    ),
    { numRuns: 500 },
  );
});

test('a sealed record comes with its canonical JSON, and its hash covers that JSON without `hash`', async () => {
  const { canonicalRecordJson } = await import('../../../../src/core/log/hash-chain.js');
  const key = fc.constantFrom('a', 'hash', 'v', 'zz', '__proto__', '10', '2', 'é', 'H', '', 'decision');
  const leaf = fc.oneof(fc.string({ maxLength: 6 }), fc.integer(), fc.boolean(), fc.constant(undefined));
  const body = fc.dictionary(key, fc.oneof(leaf, fc.dictionary(key, leaf, { maxKeys: 3 })), { maxKeys: 8 });
  fc.assert(
    fc.property(fc.array(body, { minLength: 1, maxLength: 5 }), (bodies) => {
      const writer = new ChainWriter();
      const sealed = bodies.map((b) => writer.seal(b as unknown as Parameters<ChainWriter['seal']>[0]));
      for (const { record, text } of sealed) {
        assert.equal(text, canonicalRecordJson(record));
        assert.equal(record.hash, recordHash(record));
      }
      assert.deepEqual(verifyChain(sealed.map((s) => s.record)), { checked: sealed.length });
    }),
    { numRuns: 500 },
  );
});

test('a record read back: its body is what its hash covers, and only its canonical text passes as stored', async () => {
  const { canonicalBody, canonicalRecordJson } = await import('../../../../src/core/log/hash-chain.js');
  // `hash` anywhere among the keys, or absent, of any JSON type; the text stored as sealed or a near miss.
  const key = fc.constantFrom('a', 'hash', 'hasi', 'has', 'v', 'zz', '10', 'é', 'H', '', 'prevHash');
  const leaf = fc.oneof(fc.string({ maxLength: 6 }), fc.integer(), fc.boolean(), fc.constant(null));
  const value = fc.oneof(leaf, fc.dictionary(key, leaf, { maxKeys: 3 }), fc.array(leaf, { maxLength: 2 }));
  const record = fc.dictionary(key, value, { maxKeys: 8 });
  fc.assert(
    fc.property(record, fc.nat(), (r, cut) => {
      const text = canonicalRecordJson(r);
      const { hash: _hash, ...rest } = r;
      const variants = [
        text,
        JSON.stringify(r),
        `${text.slice(0, cut % (text.length + 1))} ${text.slice(cut % (text.length + 1))}`,
        text.slice(0, -1),
        `${text} `,
      ];
      for (const variant of variants) {
        const { body, canonical } = canonicalBody(r, variant);
        assert.equal(body, canonicalRecordJson(rest));
        assert.equal(canonical, variant === text, variant);
      }
    }),
    { numRuns: 2000 },
  );
  for (const r of acmeRecords()) {
    const { hash: _hash, ...rest } = r as DecisionRecord;
    assert.deepEqual(canonicalBody(r, canonicalRecordJson(r)), {
      body: canonicalRecordJson(rest),
      canonical: true,
    });
  }
});
