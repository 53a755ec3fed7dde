/**
 * Finds the rules that could match a caller without looking at the others.
 *
 * Every selector term is filed under one key that any identity it matches must
 * carry: its exact SPIFFE ID, the literal prefix of its SPIFFE ID glob, or one
 * of its labels (the rarest). An identity carries the keys of its ID, of every
 * ancestor path of its ID and of each of its labels, so looking those keys up
 * yields a superset of the matching rules; the full rule is still checked.
 * Terms that carry no such key (`"*"`, zones only, `not` only) are always
 * candidates.
 */
import type { Selector, SelectorTerm } from '../policy/model.js';
import { hasWildcard, compilePathGlob } from '../policy/glob.js';

export class KeySpace {
  private readonly ids = new Map<string, number>();
  private readonly labelFrequency = new Map<string, number>();

  intern(key: string): number {
    let id = this.ids.get(key);
    if (id === undefined) {
      id = this.ids.size;
      this.ids.set(key, id);
    }
    return id;
  }

  lookup(key: string): number | undefined {
    return this.ids.get(key);
  }

  /** Counts label pairs across all selectors first so that `keyOf` can pick the rarest. */
  countLabels(selector: Selector): void {
    if (selector === '*') return;
    for (const term of selector) {
      if (term.spiffeId !== undefined || !term.labels) continue;
      for (const [k, v] of Object.entries(term.labels)) {
        const key = labelKey(k, v);
        this.labelFrequency.set(key, (this.labelFrequency.get(key) ?? 0) + 1);
      }
    }
  }

  /** The key a term is filed under, or undefined when it has none. */
  keyOf(term: SelectorTerm): number | undefined {
    if (term.spiffeId !== undefined) {
      if (!hasWildcard(term.spiffeId)) return this.intern(idKey(term.spiffeId));
      const m = /^spiffe:\/\/([^/]+)(\/.*)?$/.exec(term.spiffeId)!;
      const prefix = compilePathGlob(m[2] ?? '').literalPrefix;
      return this.intern(idKey(`spiffe://${m[1]}${prefix}`));
    }
    if (term.labels) {
      let best: string | undefined;
      let bestCount = Infinity;
      for (const [k, v] of Object.entries(term.labels)) {
        const key = labelKey(k, v);
        const n = this.labelFrequency.get(key) ?? 0;
        if (n < bestCount) {
          best = key;
          bestCount = n;
        }
      }
      if (best !== undefined) return this.intern(best);
    }
    return undefined;
  }

  /** The keys an identity carries, restricted to keys some rule is filed under. */
  keysOf(
    spiffeId: string,
    trustDomain: string,
    path: string,
    labels: Readonly<Record<string, string>>,
  ): number[] {
    const out: number[] = [];
    const add = (key: string) => {
      const id = this.ids.get(key);
      if (id !== undefined && !out.includes(id)) out.push(id);
    };
    const root = `spiffe://${trustDomain}`;
    add(idKey(root));
    let at = 0;
    while ((at = path.indexOf('/', at + 1)) !== -1) add(idKey(root + path.slice(0, at)));
    if (path) add(idKey(spiffeId));
    for (const [k, v] of Object.entries(labels)) add(labelKey(k, v));
    return out;
  }
}

const idKey = (id: string) => `i:${id}`;
const labelKey = (k: string, v: string) => `l:${k}=${v}`;

/** Rules of one layer for one destination, filed by key. */
export class RuleBucket<R> {
  readonly byKey = new Map<number, R[]>();
  readonly always: R[] = [];
  size = 0;

  add(rule: R, selector: Selector, keys: KeySpace): void {
    this.size++;
    if (selector === '*') {
      this.always.push(rule);
      return;
    }
    const termKeys = selector.map((t) => keys.keyOf(t));
    if (termKeys.some((k) => k === undefined)) {
      this.always.push(rule);
      return;
    }
    for (const key of new Set(termKeys as number[])) {
      const list = this.byKey.get(key);
      if (list) list.push(rule);
      else this.byKey.set(key, [rule]);
    }
  }
}
