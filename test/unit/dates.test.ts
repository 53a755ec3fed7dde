/**
 * Dates read on their characters must answer what `Date` answers: a real
 * date is one that survives the round trip through `Date`, and a time
 * already written as `toISOString` writes it is kept as it is.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { canonicalTime, isIsoString, isRealDate, parseRfc3339, toIsoString } from '../../src/core/dates.js';

/** The obvious reading: through `Date`. */
function referenceIsRealDate(text: string): boolean {
  if (Number.isNaN(Date.parse(text))) return false;
  const [y, m, d] = text.slice(0, 10).split('-').map(Number) as [number, number, number];
  const day = new Date(0);
  day.setUTCFullYear(y, m - 1, d);
  return day.getUTCFullYear() === y && day.getUTCMonth() === m - 1 && day.getUTCDate() === d;
}

const pad = (n: number, w: number) => String(n).padStart(w, '0');
/** Times near the forms Gatehouse writes, with fields out of range often. */
const time = fc
  .record({
    y: fc.oneof(fc.integer({ min: 0, max: 9999 }), fc.constantFrom(1900, 2000, 2024, 2100, 0, 4, 100)),
    mo: fc.integer({ min: 0, max: 13 }),
    d: fc.integer({ min: 0, max: 32 }),
    h: fc.integer({ min: 0, max: 25 }),
    mi: fc.integer({ min: 0, max: 60 }),
    s: fc.integer({ min: 0, max: 60 }),
    ms: fc.option(fc.integer({ min: 0, max: 999 }), { nil: undefined }),
    zone: fc.constantFrom('Z', 'z', '+01:00', '-05:30', ''),
  })
  .map(
    ({ y, mo, d, h, mi, s, ms, zone }) =>
      `${pad(y, 4)}-${pad(mo, 2)}-${pad(d, 2)}T${pad(h, 2)}:${pad(mi, 2)}:${pad(s, 2)}${ms === undefined ? '' : `.${pad(ms, 3)}`}${zone}`,
  );
const text = fc.oneof(
  time,
  fc.string({ maxLength: 30 }),
  time.map((t) => t.slice(0, 10)),
);

test('isRealDate answers what a round trip through Date answers', () => {
  fc.assert(
    fc.property(text, (t) => assert.equal(isRealDate(t), referenceIsRealDate(t), t)),
    { numRuns: 20_000 },
  );
  for (const t of [
    '2024-02-29T00:00:00Z',
    '2023-02-29T00:00:00Z',
    '2100-02-29T00:00:00Z',
    '2000-02-29T00:00:00Z',
  ])
    assert.equal(isRealDate(t), referenceIsRealDate(t), t);
});

test('isIsoString holds exactly for what toISOString writes for the years 0000 to 9999', () => {
  const reference = (t: string) => {
    const ms = Date.parse(t);
    return !Number.isNaN(ms) && new Date(ms).toISOString() === t && /^\d{4}-/.test(t);
  };
  const written = fc
    .integer({ min: -62_198_755_200_000, max: 253_433_923_200_000 })
    .map((ms) => new Date(ms).toISOString());
  fc.assert(
    fc.property(fc.oneof(text, written), (t) => assert.equal(isIsoString(t), reference(t), t)),
    { numRuns: 20_000 },
  );
  for (const t of ['+010000-01-01T00:00:00.000Z', '-000001-12-31T23:59:59.999Z', '2024-02-30T00:00:00.000Z'])
    assert.equal(isIsoString(t), false, t);
});

test('toIsoString is new Date(text).toISOString(), errors included', () => {
  fc.assert(
    fc.property(text, (t) => {
      let expected: string | Error;
      try {
        expected = new Date(t).toISOString();
      } catch (e) {
        expected = e as Error;
      }
      if (expected instanceof Error) assert.throws(() => toIsoString(t), RangeError);
      else assert.equal(toIsoString(t), expected, t);
    }),
    { numRuns: 20_000 },
  );
});

test('canonicalTime is the instant parseRfc3339 reads, as toISOString writes it; the text itself when it is that already', () => {
  fc.assert(
    fc.property(text, (t) => {
      const ms = parseRfc3339(t);
      assert.equal(canonicalTime(t), ms === undefined ? undefined : new Date(ms).toISOString(), t);
      if (isIsoString(t)) assert.equal(canonicalTime(t), t);
    }),
    { numRuns: 20_000 },
  );
  assert.equal(canonicalTime('2026-01-01T01:00:01.5+01:00'), '2026-01-01T00:00:01.500Z');
  assert.equal(canonicalTime('2026-01-01'), undefined);
});
