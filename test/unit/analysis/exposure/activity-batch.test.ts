/**
 * Records reduced to numbers on one thread and gathered on another (the
 * audit of a large log) must gather exactly as the records themselves do:
 * every field, every name, in batches of any size, with names past the
 * numbering limit travelling as text, and with records outside the window
 * skipped the same way.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  ActivityCollector,
  recordFields,
  type ActivityOptions,
  type RecordFields,
} from '../../../../src/core/analysis/exposure/activity.js';
import { ActivityBatchWriter, pathShape } from '../../../../src/core/analysis/exposure/activity-batch.js';
import { NameTable } from '../../../../src/core/analysis/exposure/name-table.js';
import { MethodSet, SmallMap, SmallSet } from '../../../../src/core/analysis/exposure/small-collections.js';
import { acmeNow, acmeRecords } from './acme.js';

/** Everything a collector holds, as plain values (collections as lists in their order). */
function plain(v: unknown): unknown {
  if (v instanceof SmallMap || v instanceof Map) return [...v].map(([k, x]) => [k, plain(x)]);
  if (v instanceof SmallSet || v instanceof Set || v instanceof MethodSet) return [...v];
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
}

function snapshot(c: ActivityCollector) {
  return { summary: c.summary(), identities: plain([...c.identities]) };
}

/** The same records gathered one by one and through batches of `capacity`. */
function both(
  records: readonly RecordFields[],
  options: ActivityOptions,
  capacity: number,
  maxNames?: number,
) {
  const direct = new ActivityCollector(options);
  for (const r of records) direct.addFields(r);
  const batched = new ActivityCollector(options);
  const writer = new ActivityBatchWriter(capacity, maxNames);
  for (const r of records) if (writer.add(r)) batched.addBatch(writer.take());
  if (writer.count) batched.addBatch(writer.take());
  return { direct: snapshot(direct), batched: snapshot(batched) };
}

test('the example log gathers the same through batches, names numbered or sent as text', () => {
  const records = acmeRecords().map(recordFields);
  const times = records.map((r) => Date.parse(r.time)).sort((a, b) => a - b);
  const windows: ActivityOptions[] = [
    { until: acmeNow },
    // A window that skips records at both ends.
    { since: times[10]!, until: times[times.length - 10]! },
  ];
  for (const options of windows)
    for (const capacity of [1, 7, 4096])
      for (const maxNames of [undefined, 0, 3]) {
        const { direct, batched } = both(records, options, capacity, maxNames);
        assert.ok(direct.summary.records > 0);
        assert.deepEqual(batched, direct, `capacity ${capacity}, names ${maxNames ?? 'all'}`);
      }
});

const record: fc.Arbitrary<RecordFields> = fc.record({
  time: fc.oneof(
    fc
      .integer({ min: 0, max: 3 * 86_400_000 })
      .map((ms) => new Date(Date.UTC(2030, 0, 1) + ms).toISOString()),
    fc.constantFrom('not a time', '2030-01-01T00:00:00Z'),
  ),
  spiffeId: fc.constantFrom(
    'spiffe://acme.corp/ns/shop/sa/checkout',
    'spiffe://acme.corp/ns/shop/sa/cart',
    'spiffe://acme.corp/ns/batch/sa/nightly-report-generator',
    'spiffe://other.org/x',
  ),
  ip: fc.option(fc.constantFrom('10.0.0.1', '10.0.0.2', '2001:db8::1', '10.20.30.40'), { nil: undefined }),
  sourceZone: fc.constantFrom('prod', 'dev', 'dmz', '<unknown>'),
  credential: fc.boolean(),
  credentialType: fc.option(fc.constantFrom('jwt-svid' as const, 'x509-svid' as const), { nil: undefined }),
  credentialId: fc.option(fc.constantFrom('c1', 'c2', 'a-rather-long-credential-id'), { nil: undefined }),
  service: fc.constantFrom('orders', 'payments', 'a-service-with-a-long-name'),
  port: fc.option(fc.constantFrom(443, 8443, 0, 65535, 8080.5), { nil: undefined }),
  destinationZone: fc.constantFrom('prod', 'dev', 'dmz'),
  method: fc.option(fc.constantFrom('GET', 'POST', 'get', 'PROPFIND', ''), { nil: undefined }),
  path: fc.option(fc.constantFrom('/orders/12/items', '/orders', '/a1b?x=2', '/', '/v2/{}/x?q'), {
    nil: undefined,
  }),
  decision: fc.constantFrom('allow' as const, 'deny' as const),
  layer: fc.constantFrom('credential' as const, 'zone' as const, 'flow' as const, 'permission' as const),
  rules: fc.array(fc.constantFrom('r1', 'r2', 'deny-dev-to-prod', 'allow-shop-orders'), { maxLength: 3 }),
  wouldDeny: fc.boolean(),
  userAgent: fc.oneof(fc.constant(undefined), fc.constant(42), fc.constantFrom('curl/8.0', 'grpc-go/1.64.0')),
});

test('random records gather the same through batches of any size', () => {
  fc.assert(
    fc.property(
      fc.array(record, { maxLength: 60 }),
      fc.integer({ min: 1, max: 9 }),
      fc.constantFrom(undefined, 0, 2),
      (records, capacity, maxNames) => {
        const { direct, batched } = both(records, { since: Date.UTC(2030, 0, 1, 6) }, capacity, maxNames);
        assert.deepEqual(batched, direct);
      },
    ),
    { numRuns: 300 },
  );
});

test('a path shape is its own shape: the reader shapes paths, and gathering may shape them again', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 30 }), (p) => assert.equal(pathShape(pathShape(p)), pathShape(p))),
    { numRuns: 2000 },
  );
});

test('a name table numbers names as a Map would, through its growth', () => {
  fc.assert(
    fc.property(
      fc.array(fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom('a', 'b', 'spiffe://x/y')), {
        maxLength: 300,
      }),
      (names) => {
        const table = new NameTable(2);
        const map = new Map<string, number>();
        for (const name of names) {
          // A fresh copy each time: names compare by content.
          const copy = (' ' + name).slice(1);
          const n = table.get(copy);
          assert.equal(n, map.get(name) ?? -1);
          if (n === -1) {
            map.set(name, map.size);
            assert.equal(table.add(copy), map.size - 1);
          }
        }
        assert.equal(table.size, map.size);
      },
    ),
    { numRuns: 300 },
  );
});
