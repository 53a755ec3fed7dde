import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseTimeFlag } from '../../src/cli/time-flag.js';
import { UsageError } from '../../src/cli/usage-error.js';

test('time flags: a date-time with a zone, or a date alone as the start of its day in UTC', () => {
  const ok: [string, string][] = [
    ['2026-11-22T10:00:00Z', '2026-11-22T10:00:00.000Z'],
    ['2026-11-22T10:00:00.250Z', '2026-11-22T10:00:00.250Z'],
    ['2026-11-22T11:00:00+01:00', '2026-11-22T10:00:00.000Z'],
    ['2026-11-22', '2026-11-22T00:00:00.000Z'],
    ['2024-02-29', '2024-02-29T00:00:00.000Z'],
  ];
  for (const [value, iso] of ok)
    assert.equal(new Date(parseTimeFlag(value, '--since')).toISOString(), iso, value);
});

test('time flags: anything the API would not take, or that a time zone would change, is a usage error', () => {
  for (const value of [
    '2026-11-22T10:00:00', // no zone: the machine's time zone would decide
    '2026-11-22T10:00Z',
    '2026-11-22 10:00:00Z',
    '2026-02-30',
    '2026-13-01',
    '2026-11-22T24:00:00Z',
    'yesterday',
    '',
    '1700000000000',
  ]) {
    assert.throws(
      () => parseTimeFlag(value, '--until'),
      (e: unknown) =>
        e instanceof UsageError && /^--until must be an RFC 3339 date-time with a zone/.test(e.message),
      value,
    );
  }
});
