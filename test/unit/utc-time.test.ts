/**
 * The UTC time helpers against `Date`, on random instants: the formatter
 * caches a second's text, so instants are drawn both far apart and within
 * the same second, in and out of order.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { isoTime } from '../../src/core/utc-time.js';

const anyInstant = fc.oneof(
  fc.integer({ min: -62_198_755_200_000, max: 253_433_923_200_000 }),
  fc.constantFrom(-62_167_219_200_000, 253_402_300_799_999, -1, 0, 999, 1000, 8.64e15, -8.64e15),
  fc.double({ noNaN: true, min: -1e15, max: 1e15 }),
);

test('isoTime is new Date(ms).toISOString(), second after second and within one', () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(anyInstant, fc.integer({ min: -1500, max: 1500 })), { maxLength: 20 }),
      (runs) => {
        for (const [ms, step] of runs) {
          for (const t of [ms, ms + step, ms, ms + 1]) {
            if (!Number.isFinite(t) || Math.abs(t) > 8.64e15) continue;
            assert.equal(isoTime(t), new Date(t).toISOString(), String(t));
          }
        }
      },
    ),
    { numRuns: 5_000 },
  );
});

test('isoTime throws as toISOString does for a time Date cannot hold', () => {
  for (const t of [Number.NaN, 8.64e15 + 1, Number.POSITIVE_INFINITY]) {
    assert.throws(() => isoTime(t), RangeError);
    assert.throws(() => new Date(t).toISOString(), RangeError);
  }
});
