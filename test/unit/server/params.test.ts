/**
 * The request parameter readers every route shares (src/server/routes/params.ts):
 * accepted and refused values, from the query and from a JSON body, and the
 * error each refusal carries.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { HttpError } from '../../../src/server/http-error.js';
import { countParam, enumParam, timeParam, type Params } from '../../../src/server/routes/params.js';

/** Asserts a typed 400 `request_invalid` with exactly `message`. */
function refused(read: () => unknown, message: string): void {
  assert.throws(read, (e: unknown) => {
    assert.ok(e instanceof HttpError, `an HttpError, not ${String(e)}`);
    assert.equal(e.status, 400);
    assert.equal(e.code, 'request_invalid');
    assert.equal(e.message, message);
    return true;
  });
}

const query = (name: string, value: string): Params => new URLSearchParams([[name, value]]);

const TIME_ERROR = '`since` must be an RFC 3339 date-time, such as 2026-11-20T10:00:00Z';

describe('timeParam', () => {
  const accepted: [text: string, iso: string][] = [
    ['2026-11-20T10:00:00Z', '2026-11-20T10:00:00.000Z'],
    ['2026-11-20T10:00:00.604Z', '2026-11-20T10:00:00.604Z'],
    ['2026-11-20T10:00:00.5Z', '2026-11-20T10:00:00.500Z'],
    ['2026-11-20T10:00:00.123456789Z', '2026-11-20T10:00:00.123Z'],
    ['2026-11-20T11:00:00.250+01:00', '2026-11-20T10:00:00.250Z'],
    ['2026-11-20T05:30:00-04:30', '2026-11-20T10:00:00.000Z'],
    ['2026-11-20T10:00:00-00:00', '2026-11-20T10:00:00.000Z'],
    // RFC 3339 §5.6 NOTE: T and Z may be lower case.
    ['2026-11-20t10:00:00z', '2026-11-20T10:00:00.000Z'],
    ['2028-02-29T00:00:00Z', '2028-02-29T00:00:00.000Z'],
    ['0000-01-01T00:00:00Z', '0000-01-01T00:00:00.000Z'],
    ['9999-12-31T23:59:59.999Z', '9999-12-31T23:59:59.999Z'],
  ];
  for (const [text, iso] of accepted) {
    test(`accepts ${text}`, () => {
      const ms = timeParam(query('since', text), 'since');
      assert.equal(new Date(ms!).toISOString(), iso);
      assert.equal(timeParam({ since: text }, 'since'), ms, 'the same from a JSON body');
    });
  }

  const rejected: [value: unknown, why: string][] = [
    ['', 'empty'],
    ['2026-11-20', 'a date alone'],
    ['2026-11-20T10:00Z', 'no seconds'],
    ['2026-11-20T10:00:00', 'no zone (would be local time)'],
    ['2026-11-20 10:00:00Z', 'a space for T'],
    ['2026-11-20T10:00:00.Z', 'an empty fraction'],
    ['2026-11-20T10:00:00+0100', 'an offset without colon'],
    ['2026-11-20T10:00:00+24:00', 'offset hour 24'],
    ['2026-11-20T24:00:00Z', 'hour 24'],
    ['2026-11-20T10:60:00Z', 'minute 60'],
    ['2026-12-31T23:59:60Z', 'a leap second'],
    ['2026-02-30T00:00:00Z', 'a date not in the calendar'],
    ['2027-02-29T00:00:00Z', 'February 29 of a common year'],
    ['2026-13-01T00:00:00Z', 'month 13'],
    ['+02026-11-20T10:00:00Z', 'an expanded year'],
    ['9999-12-31T23:59:59-01:00', 'after 9999 in UTC'],
    ['0000-01-01T00:00:00+01:00', 'before 0000 in UTC'],
    [' 2026-11-20T10:00:00Z', 'leading white space'],
    ['2026-11-20T10:00:00Z ', 'trailing white space'],
    ['1763632800000', 'epoch milliseconds'],
    ['yesterday', 'words'],
    ['Fri, 20 Nov 2026 10:00:00 GMT', 'an HTTP date'],
  ];
  for (const [value, why] of rejected) {
    test(`refuses ${why}: ${JSON.stringify(value)}`, () => {
      refused(() => timeParam(query('since', value as string), 'since'), TIME_ERROR);
      refused(() => timeParam({ since: value }, 'since'), TIME_ERROR);
    });
  }
  for (const value of [null, 1763632800000, true, {}, ['2026-11-20T10:00:00Z']]) {
    test(`refuses ${JSON.stringify(value)} in a JSON body`, () => {
      refused(() => timeParam({ since: value }, 'since'), TIME_ERROR);
    });
  }

  test('absent is undefined', () => {
    assert.equal(timeParam(new URLSearchParams('until=2026-11-20T10:00:00Z'), 'since'), undefined);
    assert.equal(timeParam({}, 'since'), undefined);
    assert.equal(timeParam({ since: undefined }, 'since'), undefined);
  });
});

describe('countParam', () => {
  const accepted: [value: string | number, min: number, max: number | undefined, n: number][] = [
    ['0', 0, undefined, 0],
    ['1', 1, undefined, 1],
    ['42', 1, undefined, 42],
    ['1000', 1, 1000, 1000],
    ['9007199254740991', 0, undefined, Number.MAX_SAFE_INTEGER],
    [7, 1, undefined, 7],
    [0, 0, undefined, 0],
    [Number.MAX_SAFE_INTEGER, 1, undefined, Number.MAX_SAFE_INTEGER],
  ];
  for (const [value, min, max, n] of accepted) {
    test(`accepts ${JSON.stringify(value)} (min ${min}${max === undefined ? '' : `, max ${max}`})`, () => {
      assert.equal(countParam({ n: value }, 'n', min, max), n);
      if (typeof value === 'string') assert.equal(countParam(query('n', value), 'n', min, max), n);
    });
  }

  const atLeast = (min: number) => `\`n\` must be a whole number of ${min} or more`;
  const between = (min: number, max: number) => `\`n\` must be a whole number from ${min} to ${max}`;
  const rejected: [value: string, min: number, max: number | undefined, message: string][] = [
    ['', 1, undefined, atLeast(1)],
    ['0', 1, undefined, atLeast(1)],
    ['-1', 0, undefined, atLeast(0)],
    ['-0', 0, undefined, atLeast(0)],
    ['+5', 1, undefined, atLeast(1)],
    ['1e3', 1, undefined, atLeast(1)],
    ['0x10', 1, undefined, atLeast(1)],
    ['0b1', 1, undefined, atLeast(1)],
    ['010', 1, undefined, atLeast(1)],
    ['1.5', 1, undefined, atLeast(1)],
    ['1.0', 1, undefined, atLeast(1)],
    [' 5', 1, undefined, atLeast(1)],
    ['5 ', 1, undefined, atLeast(1)],
    ['1_000', 1, undefined, atLeast(1)],
    ['٣', 1, undefined, atLeast(1)],
    ['Infinity', 1, undefined, atLeast(1)],
    ['NaN', 1, undefined, atLeast(1)],
    ['five', 1, undefined, atLeast(1)],
    ['9007199254740992', 1, undefined, between(1, Number.MAX_SAFE_INTEGER)],
    ['99999999999999999999', 1, undefined, between(1, Number.MAX_SAFE_INTEGER)],
    ['0', 1, 1000, between(1, 1000)],
    ['1001', 1, 1000, between(1, 1000)],
    ['abc', 1, 1000, between(1, 1000)],
  ];
  for (const [value, min, max, message] of rejected) {
    test(`refuses ${JSON.stringify(value)} (min ${min}${max === undefined ? '' : `, max ${max}`})`, () => {
      refused(() => countParam(query('n', value), 'n', min, max), message);
      refused(() => countParam({ n: value }, 'n', min, max), message);
    });
  }
  const rejectedJson: [value: unknown, message: string][] = [
    [1.5, atLeast(1)],
    [0, atLeast(1)],
    [-3, atLeast(1)],
    [Number.NaN, atLeast(1)],
    [Number.POSITIVE_INFINITY, between(1, Number.MAX_SAFE_INTEGER)],
    [2 ** 53, between(1, Number.MAX_SAFE_INTEGER)],
    [null, atLeast(1)],
    [true, atLeast(1)],
    [[5], atLeast(1)],
    [{}, atLeast(1)],
  ];
  for (const [value, message] of rejectedJson) {
    test(`refuses ${String(value)} in a JSON body`, () => {
      refused(() => countParam({ n: value }, 'n', 1), message);
    });
  }

  test('absent is undefined', () => {
    assert.equal(countParam(new URLSearchParams(), 'n', 1), undefined);
    assert.equal(countParam({}, 'n', 1), undefined);
  });
});

describe('enumParam', () => {
  const FORMATS = ['json', 'dot', 'mermaid'] as const;
  const message = '`format` must be json, dot or mermaid';

  for (const value of FORMATS) {
    test(`accepts ${value}`, () => {
      assert.equal(enumParam(query('format', value), 'format', FORMATS), value);
      assert.equal(enumParam({ format: value }, 'format', FORMATS), value);
    });
  }
  for (const value of ['', 'JSON', 'Dot', ' json', 'json ', 'svg', 'json,dot', 'toString', '__proto__']) {
    test(`refuses ${JSON.stringify(value)}`, () => {
      refused(() => enumParam(query('format', value), 'format', FORMATS), message);
      refused(() => enumParam({ format: value }, 'format', FORMATS), message);
    });
  }
  for (const value of [null, 1, true, ['json'], {}]) {
    test(`refuses ${JSON.stringify(value)} in a JSON body`, () => {
      refused(() => enumParam({ format: value }, 'format', FORMATS), message);
    });
  }

  test('two values are joined with `or`; a nested parameter is named by its label', () => {
    refused(
      () => enumParam(query('verdict', 'maybe'), 'verdict', ['allow', 'deny']),
      '`verdict` must be allow or deny',
    );
    refused(
      () => enumParam({ format: 'netflow' }, 'format', ['gatehouse', 'vpc'], 'flows.format'),
      '`flows.format` must be gatehouse or vpc',
    );
  });

  test('absent is undefined; inherited names are not parameters', () => {
    assert.equal(enumParam(new URLSearchParams(), 'format', FORMATS), undefined);
    assert.equal(enumParam({}, 'format', FORMATS), undefined);
    assert.equal(enumParam({}, 'toString', ['x', 'y']), undefined);
  });
});
