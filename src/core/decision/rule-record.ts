/**
 * A flow or permission rule as the engine reads it: a record of numbers in
 * the rule table (see RuleBucket.write), so that a decision checks ports,
 * actions and label needs from one stretch of memory. What cannot be a
 * number (ids, matchers, conditions) lives in the engine's per-instance
 * arrays, at the record's instance number.
 */
import type { ActionMatch, Effect } from '../policy/model.js';
import type { ActionMatcher, PortMatcher } from './matchers.js';
import type { Filed } from './rule-index.js';

/**
 * A rule as placed in one bucket (ports and operations depend on the
 * service), while the engine is built. A decision reads it as a record of the
 * rule table instead; see {@link encodeRule}.
 */
export interface RuleSpec extends Filed {
  /** Its number in the engine's per-instance arrays (ids, matchers, conditions, …). */
  instance: number;
  id: string;
  effect: Effect;
  expires: boolean;
  /** Inclusive port range when the rule has one range; otherwise `ports` decides. */
  portFrom: number;
  portTo: number;
  ports: PortMatcher | undefined;
  /** Single method (undefined: any) and single prefix, the common shape; else `pairs` or `actions`. */
  method: string | undefined;
  prefix: string | undefined;
  /**
   * Several plain actions (methods and path prefixes, no globs, no
   * operations) as `method, prefix` pairs, `undefined` for any method; else
   * `actions` decides.
   */
  pairs: (string | undefined)[] | undefined;
  actions: ActionMatcher | undefined;
  /** Label pairs the caller must carry, when they are the whole selector (else `needA` is NO_LABEL). */
  needA: number;
  needB: number;
  /** The selector is `"*"`. */
  anySource: boolean;
  /** The condition's number among the policy's distinct conditions; -1 without one. */
  conditionNumber: number;
}

/*
 * A rule record in the rule table: RECORD words, then, for F_PAIRS, two words
 * per pair. Word 0 holds the flags; then the port range (from in the low 16
 * bits, to in the high; from 0 for any port), the condition's number (-1 for
 * none), the two label needs, the instance number, and the action: for
 * F_PREFIX the method's number (ANY_METHOD for any) and the prefix's string
 * number, for F_PAIRS the number of pairs and 0. The condition is found by a
 * number of its own, not by the instance's: a policy has few distinct
 * conditions, which stay in cache.
 */
export const RECORD = 8;
export const F_DENY = 1;
/**
 * Finding the rule under a key proves its selector (RuleBucket.add). Only
 * rules filed under keys have it, and a decision reaches those only through
 * a key.
 */
export const F_PROVEN = 2;
export const F_EXPIRES = 4;
/** Filed under several keys: a decision may reach it twice, and checks it once. */
export const F_SHARED = 8;
export const F_CONDITION = 16;
/** Ports other than one range: the instance's port matcher decides. */
export const F_PORTS = 32;
export const F_PREFIX = 64;
export const F_PAIRS = 128;
/** Actions other than plain pairs: the instance's action matcher decides. */
export const F_ACTIONS = 256;
export const F_ANY_SOURCE = 512;
export const ANY_METHOD = -1;
/** A request method no rule names (or none): only ANY_METHOD matches it. */
export const NO_METHOD = -2;

/** At most this many `method, prefix` pairs are read in place; larger lists keep their matcher. */
const MAX_PLAIN_PAIRS = 16;

/**
 * Actions that are all plain (methods or `"*"`, path prefixes; no path
 * globs, no operations) as `method, prefix` pairs; undefined otherwise.
 * An action without prefixes matches any path, so it is not plain here.
 */
export function plainActionPairs(actions: readonly ActionMatch[]): (string | undefined)[] | undefined {
  const pairs: (string | undefined)[] = [];
  for (const a of actions) {
    if (a.operations.length !== 0 || a.paths.length !== 0 || a.prefixes.length === 0) return undefined;
    const methods = a.methods === '*' ? [undefined] : a.methods;
    if (methods.length === 0) return undefined;
    for (const m of methods) for (const p of a.prefixes) pairs.push(m, p);
    if (pairs.length > 2 * MAX_PLAIN_PAIRS) return undefined;
  }
  return pairs;
}

/** Appends the rule's record to the rule table: see RECORD and the F_ flags. */
export function encodeRule(
  rule: RuleSpec,
  table: number[],
  stringId: (text: string) => number,
  methodId: (method: string | undefined) => number,
): void {
  let flags = 0;
  if (rule.effect === 'deny') flags |= F_DENY;
  if (rule.proven) flags |= F_PROVEN;
  if (rule.expires) flags |= F_EXPIRES;
  if (rule.shared) flags |= F_SHARED;
  if (rule.conditionNumber !== -1) flags |= F_CONDITION;
  if (rule.ports !== undefined) flags |= F_PORTS;
  if (rule.anySource) flags |= F_ANY_SOURCE;
  let a = 0;
  let b = 0;
  if (rule.prefix !== undefined) {
    flags |= F_PREFIX;
    a = methodId(rule.method);
    b = stringId(rule.prefix);
  } else if (rule.pairs !== undefined) {
    flags |= F_PAIRS;
    a = rule.pairs.length / 2;
  } else if (rule.actions !== undefined) flags |= F_ACTIONS;
  table.push(
    flags,
    rule.portFrom | (rule.portTo << 16),
    rule.conditionNumber,
    rule.needA,
    rule.needB,
    rule.instance,
    a,
    b,
  );
  if (rule.pairs !== undefined) {
    for (let j = 0; j < rule.pairs.length; j += 2)
      table.push(methodId(rule.pairs[j]), stringId(rule.pairs[j + 1]!));
  }
}
