import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { createPrefixTable, parseCidr, parseIpAddress } from '../../../src/core/net/index.js';
import { GatehouseError } from '../../../src/core/errors.js';

function tableOf(spec: Record<string, string>) {
  return createPrefixTable(Object.entries(spec).map(([cidr, value]) => ({ cidr: parseCidr(cidr), value })));
}

describe('createPrefixTable', () => {
  const table = tableOf({
    '0.0.0.0/0': 'internet',
    '10.0.0.0/8': 'corp',
    '10.1.0.0/16': 'prod',
    '10.1.2.0/24': 'db',
    '10.1.2.3/32': 'primary',
    '2001:db8::/32': 'v6',
    '2001:db8:1::/48': 'v6-prod',
  });

  it('answers the longest matching prefix', () => {
    assert.equal(table.lookupText('10.1.2.3'), 'primary');
    assert.equal(table.lookupText('10.1.2.4'), 'db');
    assert.equal(table.lookupText('10.1.3.0'), 'prod');
    assert.equal(table.lookupText('10.2.0.0'), 'corp');
    assert.equal(table.lookupText('11.0.0.0'), 'internet');
    assert.equal(table.lookupText('2001:db8:1::5'), 'v6-prod');
    assert.equal(table.lookupText('2001:db8:2::'), 'v6');
    assert.equal(table.lookupText('2001:db9::'), undefined);
  });

  it('agrees between lookup and lookupText, and maps IPv4-mapped text to IPv4', () => {
    assert.equal(table.lookup(parseIpAddress('10.1.2.9')), 'db');
    assert.equal(table.lookupText('::ffff:10.1.2.3'), 'primary');
    assert.equal(table.lookupText('::FFFF:a01:203'), 'primary');
    // The IPv4-compatible form stays IPv6 and is in no IPv6 prefix here.
    assert.equal(table.lookupText('::10.1.2.3'), undefined);
  });

  it('answers undefined for unparseable text and never throws', () => {
    for (const bad of ['', '10.1.2', '10.1.2.3 ', '010.1.2.3', 'fe80::1%eth0', '[::1]', '10.0.0.0/8', 'x']) {
      assert.equal(table.lookupText(bad), undefined, JSON.stringify(bad));
    }
    assert.equal(table.lookupText(null as unknown as string), undefined);
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (text) => {
        table.lookupText(text);
      }),
      { numRuns: 300 },
    );
  });

  it('works empty, and with one family only', () => {
    const empty = createPrefixTable<string>([]);
    assert.equal(empty.lookupText('10.0.0.1'), undefined);
    assert.equal(empty.lookupText('::1'), undefined);
    const v6only = tableOf({ '::/0': 'any6' });
    assert.equal(v6only.lookupText('10.0.0.1'), undefined);
    assert.equal(v6only.lookupText('::1'), 'any6');
  });

  it('covers the first and last address of each family', () => {
    const edges = tableOf({
      '0.0.0.0/32': 'first4',
      '255.255.255.255/32': 'last4',
      '::/128': 'first6',
      'ffff::/16': 'top6',
    });
    assert.equal(edges.lookupText('0.0.0.0'), 'first4');
    assert.equal(edges.lookupText('0.0.0.1'), undefined);
    assert.equal(edges.lookupText('255.255.255.255'), 'last4');
    assert.equal(edges.lookupText('255.255.255.254'), undefined);
    assert.equal(edges.lookupText('::'), 'first6');
    assert.equal(edges.lookupText('::1'), undefined);
    assert.equal(edges.lookupText('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'), 'top6');
  });

  it('keeps values that are equal on both sides of a nested prefix', () => {
    const t = tableOf({ '10.0.0.0/8': 'a', '10.128.0.0/9': 'b', '10.128.0.0/10': 'a' });
    assert.equal(t.lookupText('10.0.0.1'), 'a');
    assert.equal(t.lookupText('10.128.0.1'), 'a');
    assert.equal(t.lookupText('10.192.0.1'), 'b');
  });

  it('rejects a duplicate prefix, naming both entries', () => {
    assert.throws(
      () =>
        createPrefixTable([
          { cidr: parseCidr('10.0.0.0/8'), value: 'corp' },
          { cidr: parseCidr('192.0.2.0/24'), value: 'docs' },
          { cidr: parseCidr('::ffff:10.0.0.0/104'), value: 'mapped' },
        ]),
      (e: unknown) => {
        assert.ok(e instanceof GatehouseError);
        assert.equal(e.code, 'cidr_invalid');
        assert.equal(
          e.message,
          'duplicate CIDR `10.0.0.0/8` in prefix table: entry 2 (`mapped`) repeats entry 0 (`corp`)',
        );
        return true;
      },
    );
  });
});
