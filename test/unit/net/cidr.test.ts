import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cidrContains, formatCidr, parseCidr, parseIpAddress } from '../../../src/core/net/index.js';
import { GatehouseError } from '../../../src/core/errors.js';

function message(text: string): string {
  try {
    parseCidr(text);
  } catch (e) {
    assert.ok(e instanceof GatehouseError);
    assert.equal(e.code, 'cidr_invalid');
    return e.message;
  }
  assert.fail(`expected \`${text}\` to be rejected`);
}

describe('parseCidr', () => {
  it('keeps the network address and the length', () => {
    assert.deepEqual(parseCidr('10.0.0.0/8'), {
      family: 4,
      address: { family: 4, value: 0x0a000000 },
      prefixLength: 8,
    });
    assert.deepEqual(parseCidr('2001:db8::/32'), {
      family: 6,
      address: { family: 6, words: [0x20010db8, 0, 0, 0] },
      prefixLength: 32,
    });
  });

  it('normalizes an IPv4-mapped prefix to IPv4, length − 96 (RFC 4291 §2.5.5.2)', () => {
    assert.deepEqual(parseCidr('::ffff:10.0.0.0/104'), parseCidr('10.0.0.0/8'));
    assert.deepEqual(parseCidr('::ffff:0.0.0.0/96'), parseCidr('0.0.0.0/0'));
  });

  it('rejects host bits, suggesting both readings', () => {
    assert.equal(
      message('10.0.0.1/24'),
      'invalid CIDR `10.0.0.1/24`: host bits set (did you mean `10.0.0.0/24` or `10.0.0.1/32`?)',
    );
    assert.equal(
      message('2001:db8::1/64'),
      'invalid CIDR `2001:db8::1/64`: host bits set (did you mean `2001:db8::/64` or `2001:db8::1/128`?)',
    );
  });

  it('rejects a bare address, saying how to write one address', () => {
    assert.equal(
      message('10.0.0.1'),
      'invalid CIDR `10.0.0.1`: missing prefix length (write `10.0.0.1/32` for one address)',
    );
    assert.equal(
      message('::1'),
      'invalid CIDR `::1`: missing prefix length (write `::1/128` for one address)',
    );
    assert.equal(message('nonsense'), 'invalid CIDR `nonsense`: missing prefix length');
  });

  it('reports address problems under the CIDR subject', () => {
    assert.equal(message('10.0.0.256/32'), 'invalid CIDR `10.0.0.256/32`: octet out of range');
  });

  it('rejects a non-string from untyped callers', () => {
    assert.match(message(undefined as unknown as string), /^invalid CIDR `undefined`: not a string$/);
  });
});

describe('formatCidr', () => {
  it('writes the canonical address (RFC 5952) and the length', () => {
    assert.equal(formatCidr(parseCidr('2001:0DB8:0000::/48')), '2001:db8::/48');
    assert.equal(formatCidr(parseCidr('::ffff:192.0.2.0/120')), '192.0.2.0/24');
  });
});

describe('cidrContains', () => {
  const ip = parseIpAddress;

  it('treats /0 as every address of its family only', () => {
    const all4 = parseCidr('0.0.0.0/0');
    const all6 = parseCidr('::/0');
    assert.equal(cidrContains(all4, ip('203.0.113.9')), true);
    assert.equal(cidrContains(all4, ip('::ffff:203.0.113.9')), true);
    assert.equal(cidrContains(all4, ip('2001:db8::1')), false);
    assert.equal(cidrContains(all6, ip('2001:db8::1')), true);
    assert.equal(cidrContains(all6, ip('203.0.113.9')), false);
    assert.equal(cidrContains(all6, ip('::ffff:203.0.113.9')), false);
  });

  it('treats /32 and /128 as exactly one address', () => {
    assert.equal(cidrContains(parseCidr('10.0.0.1/32'), ip('10.0.0.1')), true);
    assert.equal(cidrContains(parseCidr('10.0.0.1/32'), ip('10.0.0.0')), false);
    assert.equal(cidrContains(parseCidr('2001:db8::1/128'), ip('2001:db8::1')), true);
    assert.equal(cidrContains(parseCidr('2001:db8::1/128'), ip('2001:db8::')), false);
  });

  it('handles prefixes that end inside and at the edge of every IPv6 word', () => {
    for (const [cidr, inside, outside] of [
      ['8000::/1', '8000::', '7fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'],
      ['2001:db8::/32', '2001:db8:ffff:ffff::', '2001:db9::'],
      ['2001:db8:0:2::/63', '2001:db8:0:3:ffff::', '2001:db8:0:4::'],
      ['2001:db8::/64', '2001:db8::ffff:ffff:ffff:ffff', '2001:db8:0:1::'],
      ['2001:db8::2:0:0/95', '2001:db8::3:ffff:ffff', '2001:db8::4:0:0'],
      ['2001:db8::ff00/120', '2001:db8::ffff', '2001:db8::1:0'],
    ] as const) {
      assert.equal(cidrContains(parseCidr(cidr), ip(inside)), true, `${cidr} ∋ ${inside}`);
      assert.equal(cidrContains(parseCidr(cidr), ip(outside)), false, `${cidr} ∌ ${outside}`);
    }
  });
});
