// Differential tests: the fast matchers against a naive reference written
// with BigInt (an address is one integer, a prefix is a shift and compare).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  cidrContains,
  createPrefixTable,
  formatCidr,
  formatIpAddress,
  parseCidr,
  parseIpAddress,
  type IpAddress,
} from '../../../src/core/net/index.js';

type Family = 4 | 6;
interface Naive {
  family: Family;
  bits: bigint;
}
interface NaivePrefix {
  net: Naive;
  length: number;
}

const WIDTH = { 4: 32, 6: 128 } as const;
const MAPPED = 0xffffn << 32n; // ::ffff:0:0/96, RFC 4291 §2.5.5.2
const size = (family: Family): bigint => 1n << BigInt(WIDTH[family]);

/** The family an address really has: IPv4-mapped IPv6 is IPv4. */
function normalize(a: Naive): Naive {
  return a.family === 6 && a.bits >> 32n === 0xffffn ? { family: 4, bits: a.bits & 0xffffffffn } : a;
}

function prefixOf(a: Naive, length: number): NaivePrefix {
  const shift = BigInt(WIDTH[a.family] - length);
  const net: Naive = { family: a.family, bits: (a.bits >> shift) << shift };
  if (net.family === 6 && length >= 96 && net.bits >> 32n === 0xffffn) {
    return { net: normalize(net), length: length - 96 };
  }
  return { net, length };
}

function naiveContains(p: NaivePrefix, ip: Naive): boolean {
  if (p.net.family !== ip.family) return false;
  const shift = BigInt(WIDTH[ip.family] - p.length);
  return ip.bits >> shift === p.net.bits >> shift;
}

/** Full uncompressed text, written without the formatter under test. */
function naiveText(a: Naive, upper = false): string {
  if (a.family === 4) return [24n, 16n, 8n, 0n].map((s) => String((a.bits >> s) & 0xffn)).join('.');
  const groups = [];
  for (let s = 112n; s >= 0n; s -= 16n) groups.push(((a.bits >> s) & 0xffffn).toString(16));
  const text = groups.join(':');
  return upper ? text.toUpperCase() : text;
}

function toNaive(ip: IpAddress): Naive {
  if (ip.family === 4) return { family: 4, bits: BigInt(ip.value) };
  return { family: 6, bits: ip.words.reduce((acc, w) => (acc << 32n) | BigInt(w), 0n) };
}

// Addresses biased towards the places where bugs live: edges, the mapped
// and compatible ranges, a documentation prefix and runs of zero groups.
const v4Bits = fc.oneof(
  fc.bigInt({ min: 0n, max: size(4) - 1n }),
  fc.constantFrom(0n, 1n, 0x7fffffffn, 0x80000000n, 0xfffffffen, 0xffffffffn, 0x0a000000n, 0x0affffffn),
);
const zeroish = fc.oneof(fc.constant(0n), fc.constant(0xffffn), fc.bigInt({ min: 0n, max: 0xffffn }));
const v6Bits = fc.oneof(
  fc.bigInt({ min: 0n, max: size(6) - 1n }),
  v4Bits.map((b) => MAPPED | b),
  v4Bits,
  fc.bigInt({ min: 0n, max: (1n << 96n) - 1n }).map((b) => (0x20010db8n << 96n) | b),
  fc.array(zeroish, { minLength: 8, maxLength: 8 }).map((gs) => gs.reduce((acc, g) => (acc << 16n) | g, 0n)),
  fc.constantFrom(0n, 1n, size(6) - 1n, 1n << 127n, (1n << 127n) - 1n),
);
const address: fc.Arbitrary<Naive> = fc.oneof(
  v4Bits.map((bits) => ({ family: 4 as const, bits })),
  v6Bits.map((bits) => ({ family: 6 as const, bits })),
);
const prefix: fc.Arbitrary<NaivePrefix & { text: string }> = fc
  .tuple(address, fc.double({ min: 0, max: 1, noNaN: true }))
  .map(([a, f]) => {
    const length = Math.round(f * WIDTH[a.family]);
    const shift = BigInt(WIDTH[a.family] - length);
    const raw: Naive = { family: a.family, bits: (a.bits >> shift) << shift };
    return { ...prefixOf(a, length), text: `${naiveText(raw)}/${length}` };
  });

/** An address near `p`: inside it, just past either end, or anywhere. */
function probeNear(p: NaivePrefix, pick: number, offset: bigint, anywhere: Naive): Naive {
  const span = 1n << BigInt(WIDTH[p.net.family] - p.length);
  const wrap = (bits: bigint): Naive => ({
    family: p.net.family,
    bits: ((bits % size(p.net.family)) + size(p.net.family)) % size(p.net.family),
  });
  switch (pick) {
    case 0:
      return wrap(p.net.bits + (offset % span));
    case 1:
      return wrap(p.net.bits + span);
    case 2:
      return wrap(p.net.bits - 1n);
    case 3:
      return wrap(p.net.bits + span - 1n);
    default:
      return anywhere;
  }
}

const probeArgs = fc.tuple(fc.integer({ min: 0, max: 5 }), fc.bigInt({ min: 0n, max: size(6) }), address);

describe('format → parse round trip', () => {
  it('parses uncompressed text to the exact bits and formats to a fixed point', () => {
    fc.assert(
      fc.property(address, fc.boolean(), (a, upper) => {
        const ip = parseIpAddress(naiveText(a, upper));
        assert.deepEqual(toNaive(ip), normalize(a));
        const text = formatIpAddress(ip);
        assert.deepEqual(parseIpAddress(text), ip);
        assert.equal(formatIpAddress(parseIpAddress(text)), text);
        if (ip.family === 6) {
          // RFC 5952 §4: the WHATWG URL serializer implements the same rules.
          assert.equal(`[${text}]`, new URL(`http://[${naiveText(a)}]/`).hostname);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('round-trips CIDRs through formatCidr', () => {
    fc.assert(
      fc.property(prefix, (p) => {
        const cidr = parseCidr(p.text);
        assert.equal(cidr.family, p.net.family);
        assert.equal(cidr.prefixLength, p.length);
        assert.deepEqual(toNaive(cidr.address), p.net);
        assert.deepEqual(parseCidr(formatCidr(cidr)), cidr);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('cidrContains against the BigInt oracle', () => {
  it('agrees on random prefixes and addresses near and far', () => {
    fc.assert(
      fc.property(prefix, probeArgs, (p, [pick, offset, anywhere]) => {
        const probe = probeNear(p, pick, offset, anywhere);
        const ip = parseIpAddress(naiveText(probe));
        const want = naiveContains(p, normalize(probe));
        assert.equal(cidrContains(parseCidr(p.text), ip), want, `${p.text} ∋ ${naiveText(probe)}`);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('prefix table against a naive longest-prefix scan', () => {
  // Prefixes cut from a few shared bases nest and collide like real zones do.
  const tableSpec = fc
    .tuple(
      fc.array(address, { minLength: 1, maxLength: 4 }),
      fc.array(fc.tuple(fc.nat(), fc.double({ min: 0, max: 1, noNaN: true })), { maxLength: 40 }),
    )
    .map(([bases, picks]) => {
      const seen = new Set<string>();
      const prefixes: (NaivePrefix & { text: string })[] = [];
      for (const [i, f] of picks) {
        const base = bases[i % bases.length]!;
        const length = Math.round(f * WIDTH[base.family]);
        const p = prefixOf(base, length);
        const key = `${p.net.family}/${p.net.bits}/${p.length}`;
        if (seen.has(key)) continue;
        seen.add(key);
        const shift = BigInt(WIDTH[base.family] - length);
        prefixes.push({
          ...p,
          text: `${naiveText({ family: base.family, bits: (base.bits >> shift) << shift })}/${length}`,
        });
      }
      return prefixes;
    });

  it('answers the value of the longest containing prefix', () => {
    fc.assert(
      fc.property(tableSpec, fc.array(probeArgs, { minLength: 1, maxLength: 12 }), (prefixes, probes) => {
        const table = createPrefixTable(prefixes.map((p, i) => ({ cidr: parseCidr(p.text), value: i })));
        const candidates: Naive[] = [];
        for (const [k, [pick, offset, anywhere]] of probes.entries()) {
          const p = prefixes[k % Math.max(prefixes.length, 1)];
          candidates.push(p ? probeNear(p, pick, offset, anywhere) : anywhere);
        }
        for (const probe of candidates) {
          const n = normalize(probe);
          let want: number | undefined;
          let best = -1;
          prefixes.forEach((p, i) => {
            if (naiveContains(p, n) && p.length > best) [want, best] = [i, p.length];
          });
          const text = naiveText(probe);
          assert.equal(table.lookupText(text), want, `lookupText ${text}`);
          assert.equal(table.lookup(parseIpAddress(text)), want, `lookup ${text}`);
        }
      }),
      { numRuns: 300 },
    );
  });
});
