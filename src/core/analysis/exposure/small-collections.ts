/**
 * Maps and sets for the many small collections activity gathering keeps per
 * identity. Most hold one entry, many a handful: the first entry is held
 * inline, up to {@link LIST_MAX} entries sit in one array scanned in order,
 * and only a larger collection builds a real Map or Set. Over a large estate
 * that spares hundreds of thousands of hash tables, their growth and the
 * garbage collector's work, and a lookup reads one or two cache lines
 * instead of a table's buckets and entries. Read like a Map or Set: `get`,
 * `has`, `size`, `keys`, `values`, `entries`, iteration in insertion order.
 * Keys compare with `===`, as a Map compares them for every key but NaN:
 * keys here are names and addresses.
 */

/** Entries kept in a scanned array; one more and a Map or Set takes over. */
export const LIST_MAX = 8;

export class SmallMap<K, V> {
  private k: K | undefined = undefined;
  private v: V | undefined = undefined;
  private one = false;
  /** Keys and values alternating, for 2 to {@link LIST_MAX} entries. */
  private list: (K | V)[] | undefined = undefined;
  private many: Map<K, V> | undefined = undefined;

  get size(): number {
    if (this.many) return this.many.size;
    if (this.list) return this.list.length >> 1;
    return this.one ? 1 : 0;
  }

  get(key: K): V | undefined {
    if (this.one) return this.k === key ? this.v : undefined;
    const list = this.list;
    if (list) {
      for (let i = 0; i < list.length; i += 2) if (list[i] === key) return list[i + 1] as V;
      return undefined;
    }
    return this.many?.get(key);
  }

  has(key: K): boolean {
    if (this.one) return this.k === key;
    const list = this.list;
    if (list) {
      for (let i = 0; i < list.length; i += 2) if (list[i] === key) return true;
      return false;
    }
    return this.many ? this.many.has(key) : false;
  }

  set(key: K, value: V): this {
    if (this.one) {
      if (this.k === key) this.v = value;
      else {
        this.list = [this.k as K, this.v as V, key, value];
        this.k = this.v = undefined;
        this.one = false;
      }
      return this;
    }
    const list = this.list;
    if (list) {
      for (let i = 0; i < list.length; i += 2) {
        if (list[i] === key) {
          list[i + 1] = value;
          return this;
        }
      }
      if (list.length < 2 * LIST_MAX) list.push(key, value);
      else {
        const many = new Map<K, V>();
        for (let i = 0; i < list.length; i += 2) many.set(list[i] as K, list[i + 1] as V);
        many.set(key, value);
        this.many = many;
        this.list = undefined;
      }
      return this;
    }
    if (this.many) this.many.set(key, value);
    else {
      this.k = key;
      this.v = value;
      this.one = true;
    }
    return this;
  }

  entries(): IterableIterator<[K, V]> {
    if (this.one) return [[this.k as K, this.v as V] as [K, V]].values();
    if (this.list) return new PairIterator<[K, V]>(this.list, ENTRIES);
    return this.many ? this.many.entries() : NONE;
  }

  keys(): IterableIterator<K> {
    if (this.one) return [this.k as K].values();
    if (this.list) return new PairIterator<K>(this.list, KEYS);
    return this.many ? this.many.keys() : NONE;
  }

  values(): IterableIterator<V> {
    if (this.one) return [this.v as V].values();
    if (this.list) return new PairIterator<V>(this.list, VALUES);
    return this.many ? this.many.values() : NONE;
  }

  [Symbol.iterator](): IterableIterator<[K, V]> {
    return this.entries();
  }
}

const KEYS = 0;
const VALUES = 1;
const ENTRIES = 2;
/** An empty collection's iterator: shared, it never yields. */
const NONE: IterableIterator<never> = [][Symbol.iterator]();

/**
 * Keys, values or entries of a map's alternating list. A class, not a
 * generator: the audit iterates hundreds of thousands of these maps, and a
 * generator's suspend and resume cost more than the loop's body.
 */
class PairIterator<T> implements IterableIterator<T> {
  private i = 0;

  constructor(
    private readonly list: readonly unknown[],
    private readonly what: typeof KEYS | typeof VALUES | typeof ENTRIES,
  ) {}

  next(): IteratorResult<T> {
    const i = this.i;
    const list = this.list;
    if (i >= list.length) return { done: true, value: undefined };
    this.i = i + 2;
    const value = this.what === ENTRIES ? [list[i], list[i + 1]] : list[i + this.what];
    return { done: false, value: value as T };
  }

  [Symbol.iterator](): IterableIterator<T> {
    return this;
  }
}

export class SmallSet<K> {
  private k: K | undefined = undefined;
  private one = false;
  /** 2 to {@link LIST_MAX} members. */
  private list: K[] | undefined = undefined;
  private many: Set<K> | undefined = undefined;

  get size(): number {
    if (this.many) return this.many.size;
    if (this.list) return this.list.length;
    return this.one ? 1 : 0;
  }

  has(key: K): boolean {
    if (this.one) return this.k === key;
    const list = this.list;
    if (list) {
      for (let i = 0; i < list.length; i++) if (list[i] === key) return true;
      return false;
    }
    return this.many ? this.many.has(key) : false;
  }

  add(key: K): this {
    if (this.one) {
      if (this.k !== key) {
        this.list = [this.k as K, key];
        this.k = undefined;
        this.one = false;
      }
      return this;
    }
    const list = this.list;
    if (list) {
      for (let i = 0; i < list.length; i++) if (list[i] === key) return this;
      if (list.length < LIST_MAX) list.push(key);
      else {
        this.many = new Set<K>(list).add(key);
        this.list = undefined;
      }
      return this;
    }
    if (this.many) this.many.add(key);
    else {
      this.k = key;
      this.one = true;
    }
    return this;
  }

  values(): IterableIterator<K> {
    if (this.one) return [this.k as K].values();
    if (this.list) return this.list.values();
    return this.many ? this.many.values() : NONE;
  }

  keys(): IterableIterator<K> {
    return this.values();
  }

  [Symbol.iterator](): IterableIterator<K> {
    return this.values();
  }
}

// A bit each for the request methods a decision log mostly holds, `''` being a request without one.
const METHOD_BITS: Readonly<Record<string, number>> = Object.freeze({
  '': 1,
  GET: 2,
  HEAD: 4,
  POST: 8,
  PUT: 16,
  PATCH: 32,
  DELETE: 64,
  OPTIONS: 128,
});
const BIT_METHODS = Object.keys(METHOD_BITS);

/**
 * A set of request methods: the common ones as bits of one number, any other
 * in a {@link SmallSet} beside. One object where a set of two methods would
 * take three. Iterates the common methods in a fixed order, then the others
 * in the order added.
 */
export class MethodSet {
  private bits = 0;
  private others: SmallSet<string> | undefined = undefined;

  get size(): number {
    let n = this.others?.size ?? 0;
    for (let b = this.bits; b; b &= b - 1) n++;
    return n;
  }

  has(method: string): boolean {
    const bit = Object.hasOwn(METHOD_BITS, method) ? METHOD_BITS[method]! : 0;
    return bit ? (this.bits & bit) !== 0 : (this.others?.has(method) ?? false);
  }

  add(method: string): this {
    const bit = Object.hasOwn(METHOD_BITS, method) ? METHOD_BITS[method]! : 0;
    if (bit) this.bits |= bit;
    else (this.others ??= new SmallSet()).add(method);
    return this;
  }

  values(): IterableIterator<string> {
    const out: string[] = [];
    for (const m of BIT_METHODS) if (this.bits & METHOD_BITS[m]!) out.push(m);
    if (this.others) for (const m of this.others) out.push(m);
    return out.values();
  }

  keys(): IterableIterator<string> {
    return this.values();
  }

  [Symbol.iterator](): IterableIterator<string> {
    return this.values();
  }
}
