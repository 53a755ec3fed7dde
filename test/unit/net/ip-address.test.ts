import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isIP } from 'node:net';
import fc from 'fast-check';
import { formatIpAddress, parseIpAddress, tryParseIpAddress } from '../../../src/core/net/index.js';
import { GatehouseError } from '../../../src/core/errors.js';

function message(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof GatehouseError);
    assert.equal(e.code, 'ip_invalid');
    return e.message;
  }
  assert.fail('expected a throw');
}

describe('parseIpAddress representation', () => {
  it('holds IPv4 as one uint32, first octet high', () => {
    assert.deepEqual(parseIpAddress('10.0.0.1'), { family: 4, value: 0x0a000001 });
    assert.deepEqual(parseIpAddress('255.255.255.255'), { family: 4, value: 0xffffffff });
    assert.deepEqual(parseIpAddress('0.0.0.0'), { family: 4, value: 0 });
  });

  it('holds IPv6 as four uint32 words, most significant first', () => {
    assert.deepEqual(parseIpAddress('2001:db8::1'), { family: 6, words: [0x20010db8, 0, 0, 1] });
    assert.deepEqual(parseIpAddress('ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe'), {
      family: 6,
      words: [0xffffffff, 0xffffffff, 0xffffffff, 0xfffffffe],
    });
  });

  it('maps ::ffff:a.b.c.d to IPv4 (RFC 4291 §2.5.5.2) but not ::a.b.c.d or NAT64', () => {
    assert.deepEqual(parseIpAddress('::ffff:10.1.2.3'), parseIpAddress('10.1.2.3'));
    assert.deepEqual(parseIpAddress('::ffff:a01:203'), parseIpAddress('10.1.2.3'));
    assert.equal(parseIpAddress('::10.1.2.3').family, 6);
    assert.equal(parseIpAddress('64:ff9b::10.1.2.3').family, 6);
  });
});

describe('parseIpAddress messages', () => {
  it('follow the house style: subject, input in backticks, reason', () => {
    assert.equal(
      message(() => parseIpAddress('10.0.0.256')),
      'invalid IP address `10.0.0.256`: octet out of range',
    );
    assert.equal(
      message(() => parseIpAddress('010.0.0.1')),
      'invalid IP address `010.0.0.1`: leading zeros are not allowed (octal or decimal is ambiguous)',
    );
    assert.equal(
      message(() => parseIpAddress('fe80::1%eth0')),
      'invalid IP address `fe80::1%eth0`: zone IDs are not supported (scoped addresses, RFC 4007 §11)',
    );
  });

  it('keep control characters and long input on one short line', () => {
    assert.equal(
      message(() => parseIpAddress('1.2.3.4\n')),
      'invalid IP address `1.2.3.4\\x0a`: whitespace is not allowed',
    );
    const long = message(() => parseIpAddress('1'.repeat(5000)));
    assert.ok(long.length < 200, long);
  });

  it('rejects a non-string from untyped callers without crashing', () => {
    const bad = 42 as unknown as string;
    assert.equal(tryParseIpAddress(bad), undefined);
    assert.match(
      message(() => parseIpAddress(bad)),
      /: not a string$/,
    );
  });
});

describe('formatIpAddress', () => {
  it('writes an Ipv6Address in the mapped range as ::ffff:a.b.c.d (RFC 5952 §5)', () => {
    assert.equal(formatIpAddress({ family: 6, words: [0, 0, 0xffff, 0xc0000201] }), '::ffff:192.0.2.1');
  });

  it('writes other embedded IPv4 forms in hex', () => {
    assert.equal(formatIpAddress(parseIpAddress('64:ff9b::192.0.2.1')), '64:ff9b::c000:201');
  });
});

// Near-valid text is where parsers disagree, so most candidates are built
// from octets and groups with a few bad pieces mixed in.
const decOctet = fc.oneof(
  { weight: 12, arbitrary: fc.integer({ min: 0, max: 255 }).map(String) },
  { weight: 1, arbitrary: fc.constantFrom('00', '01', '010', '256', '1000', '', ' 1', '+1', '0x1') },
);
const ipv4Like = fc
  .oneof(
    { weight: 4, arbitrary: fc.array(decOctet, { minLength: 4, maxLength: 4 }) },
    { weight: 1, arbitrary: fc.array(decOctet, { minLength: 1, maxLength: 6 }) },
  )
  .map((octets) => octets.join('.'));
const hexGroup = fc.oneof(
  {
    weight: 12,
    arbitrary: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffff })).map((n) => n.toString(16)),
  },
  { weight: 1, arbitrary: fc.constantFrom('0000', 'FFFF', 'ffff', '00000', '', 'g', '%1', '[', ' ') },
);
const ipv6Like = fc
  .tuple(
    fc.array(hexGroup, { maxLength: 8 }),
    fc.integer({ min: -2, max: 8 }),
    fc.option(ipv4Like, { freq: 4 }),
  )
  .map(([groups, gap, tail]) => {
    const g = tail === null ? groups : [...groups, tail];
    return gap >= 0 && gap <= g.length
      ? `${g.slice(0, gap).join(':')}::${g.slice(gap).join(':')}`
      : g.join(':');
  });
const token = fc.constantFrom(
  '0',
  '01',
  '255',
  '256',
  'ffff',
  '12345',
  '.',
  ':',
  '::',
  '1.2.3.4',
  '::ffff:',
  ' ',
  '/',
  '%',
);
const addressLike = fc.oneof(ipv4Like, ipv6Like, fc.string({ unit: token, maxLength: 12 }));

describe('parseIpAddress against node:net isIP (test-only oracle)', () => {
  it('accepts exactly what isIP accepts, zone IDs aside', () => {
    let accepted = 0;
    fc.assert(
      fc.property(addressLike, (text) => {
        const ours = tryParseIpAddress(text);
        const theirs = isIP(text);
        if (text.includes('%')) {
          assert.equal(ours, undefined);
          return;
        }
        assert.equal(
          ours !== undefined,
          theirs !== 0,
          `\`${text}\`: ours ${String(ours?.family)}, isIP ${theirs}`,
        );
        if (ours) accepted++;
        // Mapped addresses are IPv6 to isIP and IPv4 to us; others agree.
        if (ours && !/ffff/i.test(text)) assert.equal(ours.family, theirs);
      }),
      { numRuns: 3000 },
    );
    // Guard against a generator that drifted into testing only rejections.
    assert.ok(accepted > 300, `only ${accepted} valid candidates`);
  });

  it('throws exactly when tryParseIpAddress answers undefined', () => {
    fc.assert(
      fc.property(fc.oneof(addressLike, fc.string({ maxLength: 20 })), (text) => {
        const tried = tryParseIpAddress(text);
        if (tried === undefined) assert.throws(() => parseIpAddress(text), GatehouseError);
        else assert.deepEqual(parseIpAddress(text), tried);
      }),
      { numRuns: 1000 },
    );
  });
});
