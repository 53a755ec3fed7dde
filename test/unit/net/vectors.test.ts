// Runs the spec vectors in test/vectors/cidr: address text forms, CIDR
// parsing and containment. Every vector is titled with its spec section.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  cidrContains,
  createPrefixTable,
  formatCidr,
  formatIpAddress,
  parseCidr,
  parseIpAddress,
  tryParseIpAddress,
} from '../../../src/core/net/index.js';
import { GatehouseError } from '../../../src/core/errors.js';

interface AddressVector {
  title: string;
  input: string;
  valid: boolean;
  canonical?: string;
  error?: string;
}
interface CidrVector {
  title: string;
  cidr: string;
  valid: boolean;
  canonical?: string;
  error?: string;
}
interface ContainmentVector {
  title: string;
  cidr: string;
  ip: string;
  contains: boolean;
}

function load<T>(name: string): T[] {
  const url = new URL(`../../vectors/cidr/${name}`, import.meta.url);
  return JSON.parse(readFileSync(url, 'utf8')) as T[];
}

const addresses = load<AddressVector>('addresses.json');
const cidrs = load<CidrVector>('cidrs.json');
const containment = load<ContainmentVector>('containment.json');

function assertThrowsCode(fn: () => unknown, code: string, fragment: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof GatehouseError, `expected a GatehouseError, got ${String(e)}`);
    assert.equal(e.code, code);
    assert.ok(e.message.includes(fragment), `message \`${e.message}\` lacks \`${fragment}\``);
    // STYLE.md §6: one line, lower case, no final period.
    assert.ok(!e.message.includes('\n') && !e.message.endsWith('.'), e.message);
    assert.equal(e.message[0], e.message[0]!.toLowerCase());
    return true;
  });
}

describe('vector files', () => {
  it('are titled with their spec section and are big enough', () => {
    for (const v of [...addresses, ...cidrs, ...containment]) assert.match(v.title, /^RFC \d+ §\d/);
    assert.ok(addresses.length >= 60, `${addresses.length} address vectors`);
    assert.ok(containment.length >= 40, `${containment.length} containment vectors`);
  });
});

describe('address vectors', () => {
  for (const v of addresses) {
    it(`${v.title}: ${JSON.stringify(v.input)}`, () => {
      if (v.valid) {
        const ip = parseIpAddress(v.input);
        assert.equal(formatIpAddress(ip), v.canonical);
        assert.deepEqual(parseIpAddress(formatIpAddress(ip)), ip);
        assert.deepEqual(tryParseIpAddress(v.input), ip);
      } else {
        assert.equal(tryParseIpAddress(v.input), undefined);
        assertThrowsCode(() => parseIpAddress(v.input), 'ip_invalid', v.error!);
        assertThrowsCode(() => parseIpAddress(v.input), 'ip_invalid', 'invalid IP address `');
      }
    });
  }
});

describe('CIDR vectors', () => {
  for (const v of cidrs) {
    it(`${v.title}: ${JSON.stringify(v.cidr)}`, () => {
      if (v.valid) {
        const cidr = parseCidr(v.cidr);
        assert.equal(formatCidr(cidr), v.canonical);
        assert.deepEqual(parseCidr(formatCidr(cidr)), cidr);
      } else {
        assertThrowsCode(() => parseCidr(v.cidr), 'cidr_invalid', v.error!);
        assertThrowsCode(() => parseCidr(v.cidr), 'cidr_invalid', 'invalid CIDR `');
      }
    });
  }
});

describe('containment vectors', () => {
  for (const v of containment) {
    it(`${v.title}: ${v.cidr} ∋ ${v.ip}`, () => {
      const cidr = parseCidr(v.cidr);
      assert.equal(cidrContains(cidr, parseIpAddress(v.ip)), v.contains);
      // A one-prefix table must agree with cidrContains, through both doors.
      const table = createPrefixTable([{ cidr, value: 'in' }]);
      assert.equal(table.lookup(parseIpAddress(v.ip)), v.contains ? 'in' : undefined);
      assert.equal(table.lookupText(v.ip), v.contains ? 'in' : undefined);
    });
  }
});
