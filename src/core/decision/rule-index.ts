/**
 * Finds the rules that could match a caller without looking at the others.
 *
 * Every selector term is filed under one key that any identity it matches must
 * carry: its exact SPIFFE ID (`e:`), the literal prefix of its SPIFFE ID glob
 * (`p:`), or one of its labels, the rarest (`l:`). An identity carries the
 * exact key of its ID, a prefix key for its ID and every ancestor path, and a
 * key per label, so looking those keys up yields a superset of the matching
 * rules. Terms that carry no such key (`"*"`, zones only, `not` only) are
 * always candidates.
 *
 * Some terms are *proven* by their key: an exact ID, a subtree glob
 * (`.../**`) or a single label with nothing else. When every term of a rule
 * is proven, finding the rule under a key already means its selector matches,
 * and the hot path skips the check.
 */
import type { Selector, SelectorTerm } from '../policy/model.js';
import { hasWildcard, compilePathGlob } from '../policy/glob.js';

export class KeySpace {
  private readonly ids = new Map<string, number>();
  private readonly labelFrequency = new Map<string, number>();
  /** Label pairs that rules check without a call ({@link labelNeeds}), numbered from 0. */
  private readonly neededLabels = new Map<string, number>();

  intern(key: string): number {
    let id = this.ids.get(key);
    if (id === undefined) {
      id = this.ids.size;
      this.ids.set(key, id);
    }
    return id;
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

  /** The key a term is filed under and whether the key alone proves the term; undefined when it has none. */
  keyOf(term: SelectorTerm): { key: number; proven: boolean } | undefined {
    const onlyField = Object.keys(term).length === 1;
    if (term.spiffeId !== undefined) {
      if (!hasWildcard(term.spiffeId))
        return { key: this.intern(exactKey(term.spiffeId)), proven: onlyField };
      const m = /^spiffe:\/\/([^/]+)(\/.*)?$/.exec(term.spiffeId)!;
      const glob = compilePathGlob(m[2] ?? '');
      const subtree = (m[2] ?? '') === `${glob.literalPrefix}/**`;
      return {
        key: this.intern(prefixKey(`spiffe://${m[1]}${glob.literalPrefix}`)),
        proven: onlyField && subtree,
      };
    }
    if (term.labels) {
      let best: string | undefined;
      let bestCount = Infinity;
      const pairs = Object.entries(term.labels);
      for (const [k, v] of pairs) {
        const key = labelKey(k, v);
        const n = this.labelFrequency.get(key) ?? 0;
        if (n < bestCount) {
          best = key;
          bestCount = n;
        }
      }
      if (best !== undefined) return { key: this.intern(best), proven: onlyField && pairs.length === 1 };
    }
    return undefined;
  }

  /**
   * For a selector that is one term of one or two labels and nothing else:
   * the numbers of its label pairs, which a rule compares with the caller's
   * {@link labelIdsOf} instead of calling its selector. Undefined otherwise.
   */
  labelNeeds(selector: Selector): [number, number] | undefined {
    if (selector === '*' || selector.length !== 1) return undefined;
    const term = selector[0]!;
    if (!term.labels || Object.keys(term).length !== 1) return undefined;
    const pairs = Object.entries(term.labels);
    if (pairs.length === 0 || pairs.length > 2) return undefined;
    const ids = pairs.map(([k, v]) => {
      const key = labelKey(k, v);
      let id = this.neededLabels.get(key);
      if (id === undefined) this.neededLabels.set(key, (id = this.neededLabels.size));
      return id;
    });
    return [ids[0]!, ids[1] ?? NO_LABEL];
  }

  /** The numbers of an identity's label pairs among those some rule needs ({@link labelNeeds}). */
  labelIdsOf(labels: Readonly<Record<string, string>>): Int32Array {
    const out: number[] = [];
    for (const [k, v] of Object.entries(labels)) {
      const id = this.neededLabels.get(labelKey(k, v));
      if (id !== undefined) out.push(id);
    }
    return out.length === 0 ? NO_IDS : Int32Array.from(out);
  }

  /** The keys an identity carries, restricted to keys some rule is filed under, sorted ascending. */
  keysOf(
    spiffeId: string,
    trustDomain: string,
    path: string,
    labels: Readonly<Record<string, string>>,
  ): Int32Array {
    const out: number[] = [];
    const add = (key: string) => {
      const id = this.ids.get(key);
      if (id !== undefined && !out.includes(id)) out.push(id);
    };
    add(exactKey(spiffeId));
    const root = `spiffe://${trustDomain}`;
    add(prefixKey(root));
    let at = 0;
    while ((at = path.indexOf('/', at + 1)) !== -1) add(prefixKey(root + path.slice(0, at)));
    if (path) add(prefixKey(spiffeId));
    for (const [k, v] of Object.entries(labels)) add(labelKey(k, v));
    return Int32Array.from(out.sort((a, b) => a - b));
  }
}

const NO_IDS = new Int32Array(0);

/** No second label pair in {@link KeySpace.labelNeeds}. */
export const NO_LABEL = -1;

/** After a bucket's last key: above every key, so that a walk up to a key stops there by itself. */
export const KEYS_END = 0x7fffffff;

const exactKey = (id: string) => `e:${id}`;
const prefixKey = (id: string) => `p:${id}`;
// The key's length first: `a=b` = `c` and `a` = `b=c` are different pairs (request labels may have any key).
const labelKey = (k: string, v: string) => `l:${k.length}:${k}=${v}`;

/** A rule as filed in a bucket: whether its selector is proven by any key it is filed under, and whether it is filed under more than one. */
export interface Filed {
  proven: boolean;
  shared: boolean;
}

/**
 * Rules of one layer for one destination, filed by key, until they are
 * written into the engine's rule table ({@link RuleBucket.write}).
 */
export class RuleBucket<R extends Filed> {
  size = 0;
  /** Rules every caller is a candidate for: `"*"` and terms without a key. */
  readonly always: R[] = [];
  private readonly byKey = new Map<number, R[]>();

  /** Number of distinct keys rules are filed under. */
  get keyCount(): number {
    return this.byKey.size;
  }

  add(rule: R, selector: Selector, keys: KeySpace): void {
    this.size++;
    rule.shared = false;
    if (selector === '*') {
      this.always.push(rule);
      return;
    }
    const filed = selector.map((t) => keys.keyOf(t));
    if (filed.some((k) => k === undefined)) {
      rule.proven = false;
      this.always.push(rule);
      return;
    }
    rule.proven = filed.every((k) => k!.proven);
    const distinct = new Set(filed.map((k) => k!.key));
    rule.shared = distinct.size > 1;
    for (const key of distinct) {
      const list = this.byKey.get(key);
      if (list) list.push(rule);
      else this.byKey.set(key, [rule]);
    }
  }

  /**
   * Appends the bucket to `table` and returns where it starts, or -1 when it
   * holds no rule. `encode` appends one rule's record, as many times as the
   * rule is filed. The layout, read by the engine:
   *
   *     keyCount, alwaysFrom, alwaysTo,
   *     key0, from0, key1, from1, …, KEYS_END, keyedEnd,
   *     records filed under key0, under key1, …, then the always records
   *
   * Keys ascend, and the records under `key_i` run from `from_i` up to the
   * next pair's `from`; positions are absolute. A decision reads the header,
   * a few pairs and the records it needs from one stretch of memory, with no
   * object in between.
   */
  write(table: number[], encode: (rule: R, table: number[]) => void): number {
    if (this.size === 0) return -1;
    const entries = [...this.byKey].sort((a, b) => a[0] - b[0]);
    const at = table.length;
    const pairs = at + 3;
    table.push(entries.length, 0, 0);
    for (const [key] of entries) table.push(key, 0);
    table.push(KEYS_END, 0);
    entries.forEach(([, list], i) => {
      table[pairs + 2 * i + 1] = table.length;
      for (const rule of list) encode(rule, table);
    });
    table[pairs + 2 * entries.length + 1] = table.length;
    table[at + 1] = table.length;
    for (const rule of this.always) encode(rule, table);
    table[at + 2] = table.length;
    return at;
  }
}
