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

  *entries(): IterableIterator<[K, V]> {
    if (this.one) yield [this.k as K, this.v as V];
    else if (this.list) {
      const list = this.list;
      for (let i = 0; i < list.length; i += 2) yield [list[i] as K, list[i + 1] as V];
    } else if (this.many) yield* this.many.entries();
  }

  *keys(): IterableIterator<K> {
    for (const [k] of this.entries()) yield k;
  }

  *values(): IterableIterator<V> {
    for (const [, v] of this.entries()) yield v;
  }

  [Symbol.iterator](): IterableIterator<[K, V]> {
    return this.entries();
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

  *values(): IterableIterator<K> {
    if (this.one) yield this.k as K;
    else if (this.list) yield* this.list;
    else if (this.many) yield* this.many.values();
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

  *values(): IterableIterator<string> {
    for (const m of BIT_METHODS) if (this.bits & METHOD_BITS[m]!) yield m;
    if (this.others) yield* this.others;
  }

  keys(): IterableIterator<string> {
    return this.values();
  }

  [Symbol.iterator](): IterableIterator<string> {
    return this.values();
  }
}
