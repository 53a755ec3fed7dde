/**
 * The record-line scanner reads plain decision-log lines without JSON.parse,
 * learning each line layout as a regular expression. Whatever it takes must
 * read exactly as the general path reads it: the fields analysis uses, as
 * `recordFields(JSON.parse(line))` gives them, and the canonical JSON the hash
 * chain covers, as `canonicalRecordJson` writes it. Lines are fed through one
 * scanner, so layouts are learned and then matched by their templates, with
 * and without the chain check.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { recordFields, type ObservedRecord } from '../../../../src/core/analysis/exposure/activity.js';
import { RecordLineScanner } from '../../../../src/core/analysis/exposure/record-line.js';
import { canonicalRecordJson } from '../../../../src/core/log/hash-chain.js';

const text = fc.oneof(
  fc.constantFrom('orders', 'prod', 'spiffe://acme.corp/ns/shop/sa/web', '', 'GET', '/orders/42'),
  fc.string({ maxLength: 12 }),
);
const maybe = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });

const recordArb = fc
  .record({
    v: maybe(fc.constantFrom(1, 2)),
    seq: maybe(fc.integer({ min: 0, max: 1e6 })),
    decisionId: maybe(text),
    time: fc.constantFrom('2026-11-20T10:00:00.123Z', '2026-11-20T10:00:00Z', 'not a time'),
    source: fc.record(
      { spiffeId: text, ip: maybe(fc.constantFrom('10.0.0.1', '::1')), zone: text },
      { requiredKeys: ['spiffeId', 'zone'] },
    ),
    credential: maybe(fc.record({ type: fc.constantFrom('jwt-svid', 'x509-svid'), id: maybe(text) })),
    destination: fc.record({
      service: text,
      port: maybe(fc.oneof(fc.integer({ min: 0, max: 65535 }), fc.constant(8443.5))),
      zone: text,
    }),
    action: maybe(fc.record({ method: maybe(text), path: maybe(text) })),
    decision: fc.constantFrom('allow', 'deny', 'maybe'),
    wouldDeny: maybe(fc.oneof(fc.boolean(), fc.constant(null))),
    layer: fc.constantFrom('credential', 'zone', 'flow', 'permission'),
    rules: fc.array(text, { maxLength: 3 }),
    userAgent: maybe(fc.oneof(text, fc.integer())),
    latencyMicros: maybe(fc.oneof(fc.integer({ min: 0, max: 1e6 }), fc.double({ noNaN: true }))),
    prevHash: maybe(fc.constantFrom(`sha256:${'0'.repeat(64)}`, 'sha256:ab')),
    hash: maybe(fc.constantFrom(`sha256:${'1'.repeat(64)}`)),
    extra: maybe(fc.dictionary(fc.constantFrom('a', 'b', 'z'), fc.oneof(text, fc.integer(), fc.boolean()))),
  })
  .map((r) => JSON.parse(JSON.stringify(r)) as Record<string, unknown>);

/** Lines in a few layouts: as written, with the keys in another order, with white space. */
const lineArb = fc.tuple(recordArb, fc.constantFrom('as-is', 'reversed', 'spaced')).map(([r, form]) => {
  if (form === 'reversed') return JSON.stringify(Object.fromEntries(Object.entries(r).reverse()));
  if (form === 'spaced') return JSON.stringify(r, null, 1).replace(/\n/g, ' ');
  return JSON.stringify(r);
});

function readable(record: Record<string, unknown>): boolean {
  return (
    typeof record.time === 'string' &&
    typeof (record.source as { spiffeId?: unknown }).spiffeId === 'string' &&
    (record.decision === 'allow' || record.decision === 'deny')
  );
}

test('what the scanner takes reads as JSON.parse reads it, fields and canonical JSON both', () => {
  fc.assert(
    fc.property(fc.array(lineArb, { minLength: 1, maxLength: 40 }), fc.boolean(), (lines, chain) => {
      const scanner = new RecordLineScanner();
      // Each line twice: the second time its layout is a learned template.
      for (const line of lines.flatMap((l) => [l, l])) {
        const read = scanner.scan(line, chain);
        if (!read) continue;
        const record = JSON.parse(line) as Record<string, unknown>;
        assert.ok(readable(record), `took a line the general path refuses: ${line}`);
        assert.deepEqual(read.fields, recordFields(record as unknown as ObservedRecord), line);
        if (!chain) {
          assert.equal(read.chain, undefined);
          continue;
        }
        const { hash, ...rest } = record;
        assert.equal(read.chain!.body, canonicalRecordJson(rest), line);
        assert.deepEqual(read.chain!.record, { seq: record.seq, prevHash: record.prevHash, hash }, line);
      }
    }),
    { numRuns: 300 },
  );
});

test('scanChain takes the lines scan takes with the chain check, and gives the same', () => {
  fc.assert(
    fc.property(fc.array(lineArb, { minLength: 1, maxLength: 40 }), (lines) => {
      const full = new RecordLineScanner();
      const chainOnly = new RecordLineScanner();
      // Each line twice: the second time its layout is a learned template.
      for (const line of lines.flatMap((l) => [l, l]))
        assert.deepEqual(chainOnly.scanChain(line), full.scan(line, true)?.chain, line);
    }),
    { numRuns: 300 },
  );
  // Values of a learned layout that neither takes: a decision that is neither, a null wouldDeny.
  const record = {
    v: 1,
    seq: 1,
    time: '2026-11-20T10:00:00Z',
    source: { spiffeId: 'spiffe://acme.corp/a', zone: 'prod' },
    destination: { service: 'orders', zone: 'prod' },
    decision: 'allow',
    layer: 'flow',
    rules: [],
    wouldDeny: false,
    prevHash: `sha256:${'0'.repeat(64)}`,
    hash: `sha256:${'1'.repeat(64)}`,
  };
  const scanner = new RecordLineScanner();
  assert.ok(scanner.scanChain(JSON.stringify(record)), 'a plain record is taken, and its layout learned');
  for (const odd of [{ decision: 'maybe' }, { wouldDeny: null }])
    assert.equal(scanner.scanChain(JSON.stringify({ ...record, ...odd })), undefined, JSON.stringify(odd));
});

test('a plain line of a learned layout is taken by its template, with and without the chain check', () => {
  const line = (n: number) =>
    JSON.stringify({
      v: 1,
      seq: n,
      decisionId: `d${n}`,
      time: '2026-11-20T10:00:00.123Z',
      source: { spiffeId: 'spiffe://acme.corp/ns/shop/sa/web', ip: '10.0.0.1', zone: 'prod' },
      credential: { type: 'x509-svid', id: `c${n}` },
      destination: { service: 'orders', port: 8443, zone: 'prod' },
      action: { method: 'GET', path: `/orders/${n}` },
      decision: 'allow',
      layer: 'permission',
      rules: ['perm-a', 'perm-b'],
      wouldDeny: false,
      prevHash: `sha256:${'0'.repeat(64)}`,
      hash: `sha256:${'1'.repeat(64)}`,
    });
  for (const chain of [false, true]) {
    const scanner = new RecordLineScanner();
    for (let n = 1; n <= 3; n++) {
      const read = scanner.scan(line(n), chain);
      assert.ok(read);
      assert.equal(read.fields.path, `/orders/${n}`);
      assert.equal(read.fields.credentialId, `c${n}`);
      assert.deepEqual(read.fields.rules, ['perm-a', 'perm-b']);
      assert.equal(read.fields.port, 8443);
      if (chain) assert.equal(read.chain!.record.seq, n);
    }
  }
});
