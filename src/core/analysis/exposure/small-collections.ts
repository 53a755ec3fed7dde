/**
 * Maps and sets that hold their first entry inline and build a real Map or
 * Set only for a second one. Activity gathering keeps a dozen of them per
 * identity, and most identities use one address, one zone, one user agent,
 * one credential: over a large estate the inline entry spares hundreds of
 * thousands of hash tables, their allocation and the garbage collector's
 * work. Read like a Map or Set: `get`, `has`, `size`, `keys`, `values`,
 * `entries`, iteration in insertion order. Keys compare with `===`, as a
 * Map compares them for every key but NaN: keys here are names and
 * addresses.
 */

export class SmallMap<K, V> {
  private k: K | undefined = undefined;
  private v: V | undefined = undefined;
  private one = false;
  private many: Map<K, V> | undefined = undefined;

  get size(): number {
    return this.many ? this.many.size : this.one ? 1 : 0;
  }

  get(key: K): V | undefined {
    if (this.many) return this.many.get(key);
    return this.one && this.k === key ? this.v : undefined;
  }

  has(key: K): boolean {
    if (this.many) return this.many.has(key);
    return this.one && this.k === key;
  }

  set(key: K, value: V): this {
    if (this.many) this.many.set(key, value);
    else if (!this.one) {
      this.k = key;
      this.v = value;
      this.one = true;
    } else if (this.k === key) this.v = value;
    else {
      this.many = new Map<K, V>([
        [this.k as K, this.v as V],
        [key, value],
      ]);
      this.k = this.v = undefined;
      this.one = false;
    }
    return this;
  }

  *entries(): IterableIterator<[K, V]> {
    if (this.many) yield* this.many.entries();
    else if (this.one) yield [this.k as K, this.v as V];
  }

  *keys(): IterableIterator<K> {
    if (this.many) yield* this.many.keys();
    else if (this.one) yield this.k as K;
  }

  *values(): IterableIterator<V> {
    if (this.many) yield* this.many.values();
    else if (this.one) yield this.v as V;
  }

  [Symbol.iterator](): IterableIterator<[K, V]> {
    return this.entries();
  }
}

export class SmallSet<K> {
  private k: K | undefined = undefined;
  private one = false;
  private many: Set<K> | undefined = undefined;

  get size(): number {
    return this.many ? this.many.size : this.one ? 1 : 0;
  }

  has(key: K): boolean {
    if (this.many) return this.many.has(key);
    return this.one && this.k === key;
  }

  add(key: K): this {
    if (this.many) this.many.add(key);
    else if (!this.one) {
      this.k = key;
      this.one = true;
    } else if (this.k !== key) {
      this.many = new Set<K>([this.k as K, key]);
      this.k = undefined;
      this.one = false;
    }
    return this;
  }

  *values(): IterableIterator<K> {
    if (this.many) yield* this.many.values();
    else if (this.one) yield this.k as K;
  }

  keys(): IterableIterator<K> {
    return this.values();
  }

  [Symbol.iterator](): IterableIterator<K> {
    return this.values();
  }
}
