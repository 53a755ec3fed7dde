import { GatehouseError } from '../errors.js';
import { formatCidr, type Cidr } from './cidr.js';
import { parseIp, scanIpv4, showInput, type IpAddress } from './ip-address.js';

/** A longest-prefix-match table from CIDRs to values, built once and read many times. */
export interface PrefixTable<T> {
  /**
   * The value of the longest prefix that contains `ip`, or undefined when no
   * prefix does. Families never mix, as in `cidrContains`.
   */
  lookup(ip: IpAddress): T | undefined;
  /**
   * Like {@link PrefixTable.lookup} for address text as `parseIpAddress`
   * reads it (IPv4-mapped IPv6 text looks up IPv4).
   * Unparseable text answers undefined; this never throws. A dotted quad is
   * looked up without allocating.
   */
  lookupText(ipText: string): T | undefined;
}

/** One prefix of a table and the value it maps to. */
export interface PrefixTableEntry<T> {
  readonly cidr: Cidr;
  readonly value: T;
}

interface Prefix<T> {
  start: bigint;
  end: bigint;
  length: number;
  value: T;
}

/**
 * Cuts nested and disjoint prefixes into adjacent ranges that cover the
 * whole family, each holding the value of its longest containing prefix.
 * Range k runs from `bounds[k]` to just before `bounds[k + 1]`; `bounds[0]`
 * is 0. Adjacent ranges with the same value are merged.
 */
function flatten<T>(prefixes: Prefix<T>[], last: bigint): { bounds: bigint[]; values: (T | undefined)[] } {
  // Two prefixes are either disjoint or nested, so after sorting by start and
  // then by length (outer first) a stack holds the prefixes around a point.
  prefixes.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : a.length - b.length));
  const bounds: bigint[] = [0n];
  const values: (T | undefined)[] = [undefined];
  const mark = (at: bigint, value: T | undefined): void => {
    const n = bounds.length;
    if (bounds[n - 1] === at) {
      values[n - 1] = value;
      if (n > 1 && values[n - 2] === value) {
        bounds.pop();
        values.pop();
      }
    } else if (values[n - 1] !== value) {
      bounds.push(at);
      values.push(value);
    }
  };
  const stack: Prefix<T>[] = [];
  const close = (): void => {
    const done = stack.pop()!;
    if (done.end < last) mark(done.end + 1n, stack.at(-1)?.value);
  };
  for (const p of prefixes) {
    while (stack.length > 0 && stack.at(-1)!.end < p.start) close();
    mark(p.start, p.value);
    stack.push(p);
  }
  while (stack.length > 0) close();
  return { bounds, values };
}

/** A value as shown after an entry number in a message, when it has a short text form. */
function shownValue(value: unknown): string {
  const t = typeof value;
  return t === 'string' || t === 'number' || t === 'boolean' || t === 'bigint'
    ? ` (\`${showInput(String(value))}\`)`
    : '';
}

const BLOCK_SIZE = 0x10000;
const BLOCKS = 0x10000;

class FlatPrefixTable<T> implements PrefixTable<T> {
  // INVARIANT: v4Bounds[0] === 0 and bounds ascend, so a binary search for the
  // last bound ≤ an address always lands; v6Bounds holds 4 words per bound.
  private readonly v4Bounds: Uint32Array;
  private readonly v4Values: (T | undefined)[];
  // v4Index[h] is the range holding address h << 16, so the range holding an
  // address `a` lies between v4Index[a >>> 16] and v4Index[(a >>> 16) + 1]:
  // usually the same, and the search is over. These 256 KiB make a lookup in
  // 1000 prefixes cost about what one in 16 does.
  private readonly v4Index: Uint32Array;
  private readonly v6Bounds: Uint32Array;
  private readonly v6Values: (T | undefined)[];

  constructor(entries: ReadonlyArray<PrefixTableEntry<T>>) {
    const v4: Prefix<T>[] = [];
    const v6: Prefix<T>[] = [];
    const seen = new Map<string, number>();
    entries.forEach((entry, index) => {
      const { cidr, value } = entry;
      const key = formatCidr(cidr);
      const first = seen.get(key);
      if (first !== undefined) {
        throw new GatehouseError(
          'cidr_invalid',
          `duplicate CIDR \`${key}\` in prefix table: entry ${index}${shownValue(value)}` +
            ` repeats entry ${first}${shownValue(entries[first]!.value)}`,
        );
      }
      seen.set(key, index);
      if (cidr.family === 4) {
        const start = BigInt(cidr.address.value);
        v4.push({
          start,
          end: start + (1n << BigInt(32 - cidr.prefixLength)) - 1n,
          length: cidr.prefixLength,
          value,
        });
      } else {
        const [a, b, c, d] = cidr.address.words;
        const start = (BigInt(a) << 96n) | (BigInt(b) << 64n) | (BigInt(c) << 32n) | BigInt(d);
        const end = start + (1n << BigInt(128 - cidr.prefixLength)) - 1n;
        v6.push({ start, end, length: cidr.prefixLength, value });
      }
    });
    const flat4 = flatten(v4, 0xffffffffn);
    this.v4Bounds = Uint32Array.from(flat4.bounds, Number);
    this.v4Values = flat4.values;
    // Range k holds the starts of blocks ceil(bound k / 2^16) up to, not
    // including, ceil(bound k+1 / 2^16).
    const n = this.v4Bounds.length;
    this.v4Index = new Uint32Array(BLOCKS + 1);
    for (let k = 0; k < n; k++) {
      const from = Math.ceil(this.v4Bounds[k]! / BLOCK_SIZE);
      const to = k + 1 < n ? Math.ceil(this.v4Bounds[k + 1]! / BLOCK_SIZE) : BLOCKS;
      if (from < to) this.v4Index.fill(k, from, to);
    }
    this.v4Index[BLOCKS] = n - 1;
    const flat6 = flatten(v6, (1n << 128n) - 1n);
    this.v6Bounds = new Uint32Array(flat6.bounds.length * 4);
    flat6.bounds.forEach((bound, k) => {
      for (let j = 0; j < 4; j++)
        this.v6Bounds[4 * k + j] = Number((bound >> BigInt(96 - 32 * j)) & 0xffffffffn);
    });
    this.v6Values = flat6.values;
  }

  lookup(ip: IpAddress): T | undefined {
    return ip.family === 4 ? this.find4(ip.value) : this.find6(ip.words);
  }

  lookupText(ipText: string): T | undefined {
    if (typeof ipText !== 'string') return undefined;
    const v4 = scanIpv4(ipText, 0, ipText.length);
    if (v4 >= 0) return this.find4(v4);
    if (ipText.indexOf(':') === -1) return undefined;
    const ip = parseIp(ipText, true);
    return typeof ip === 'number' ? undefined : this.lookup(ip);
  }

  private find4(address: number): T | undefined {
    const bounds = this.v4Bounds;
    const block = address >>> 16;
    let lo = this.v4Index[block]!;
    let hi = this.v4Index[block + 1]!;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (bounds[mid]! <= address) lo = mid;
      else hi = mid - 1;
    }
    return this.v4Values[lo];
  }

  private find6(words: readonly [number, number, number, number]): T | undefined {
    const bounds = this.v6Bounds;
    let lo = 0;
    let hi = bounds.length / 4 - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (boundAtMost(bounds, mid, words)) lo = mid;
      else hi = mid - 1;
    }
    return this.v6Values[lo];
  }
}

/** True when bound `k` of `bounds` is ≤ the address `words` (unsigned, word by word). */
function boundAtMost(
  bounds: Uint32Array,
  k: number,
  words: readonly [number, number, number, number],
): boolean {
  const at = 4 * k;
  for (let j = 0; j < 4; j++) {
    const b = bounds[at + j]!;
    const w = words[j]!;
    if (b !== w) return b < w;
  }
  return true;
}

/**
 * Builds a longest-prefix-match table. IPv4 and IPv6 prefixes may be mixed;
 * nested prefixes are fine and the longest one containing an address wins.
 * Lookups are a binary search over ranges flattened at build time,
 * O(log n); IPv4 lookups first narrow the search to the /16 holding the
 * address and allocate nothing.
 *
 * @throws GatehouseError `cidr_invalid` when two entries have the same prefix
 * (after IPv4-mapped normalization), naming both entries; the table would
 * otherwise have to pick a value silently.
 */
export function createPrefixTable<T>(entries: ReadonlyArray<PrefixTableEntry<T>>): PrefixTable<T> {
  return new FlatPrefixTable(entries);
}
