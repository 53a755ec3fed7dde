/** What a compiled condition reads and answers. */

/**
 * The values a condition sees. Maps are plain objects (not `Map`s); numbers
 * are JavaScript numbers, which CEL sees as doubles; `time` and the
 * credential's dates are CEL timestamps. A key that is absent makes
 * `source.ip` a CEL "no such key" error, exactly as in cel-js.
 */
export interface ConditionActivation {
  source: {
    spiffeId: string;
    trustDomain: string;
    path: string;
    labels: Record<string, string>;
    zone: string;
    ip: string;
  };
  credential: {
    type: string;
    id: string;
    ageSeconds: number;
    ttlSeconds: number;
    issuedAt: Date;
    expiresAt: Date;
  };
  destination: { service: string; port: number; zone: string };
  action: { method: string; path: string; operation: string };
  /** Free-form JSON from the request (its numbers are JSON doubles). */
  context: Record<string, unknown>;
  /** The request time, a CEL timestamp. */
  time: Date;
}

/** Why a condition could not be evaluated. */
export interface ConditionError {
  /** One line, e.g. `no such key: mtls` or `condition returned int, not bool`. */
  readonly error: string;
}

/** A condition holds, does not hold, or could not be evaluated. */
export type ConditionResult = true | false | ConditionError;

/** A CEL condition compiled once, evaluated many times. */
export interface CompiledCondition {
  /** The expression text, as given. */
  readonly source: string;
  /**
   * True when the whole expression runs as compiled closures; false when it
   * is evaluated by cel-js (same results, several times slower).
   */
  readonly fastPath: boolean;
  /** True when it runs as one function of its own, generated for its shape (generated-condition.ts). */
  readonly generated: boolean;
  /**
   * The compiled function behind `evaluate`, when there is one. Where it
   * returns `true` or `false`, that is `evaluate`'s answer; for anything else
   * it returns or throws, call `evaluate`, which says what. For a caller that
   * evaluates many conditions and would rather not pay `evaluate`'s
   * indirections on the common answers.
   */
  readonly direct: ((activation: ConditionActivation) => unknown) | undefined;
  /** The top-level variables the expression reads, e.g. `{'context', 'time'}`. */
  readonly variables: ReadonlySet<string>;
  /**
   * The keys of `source` the expression reads, when it reads `source` only as
   * `source.key` or `source["key"]` with a literal key (inside `has()` too),
   * e.g. `{'ip'}`; undefined when it reads it some other way (as a whole, in
   * a comprehension, with a computed key, …). Empty when it does not read `source`.
   */
  readonly sourceKeys: ReadonlySet<string> | undefined;
  /**
   * Why some `matches` pattern of the expression may be slow or read unlike
   * RE2: one line per pattern that is not a literal or is outside the
   * portable subset (lint's `regex_not_portable`). Empty for most conditions.
   */
  readonly patternWarnings: readonly string[];
  /**
   * Evaluates the condition. Never throws: a CEL error, a result that is not
   * a bool, or any exception becomes a {@link ConditionError}. The answer is
   * the one cel-js gives for the same expression and values, error or not
   * (the wording of an error may differ).
   */
  evaluate(activation: ConditionActivation): ConditionResult;
}

/** True when a condition result is an error rather than a bool. */
export function isConditionError(result: ConditionResult): result is ConditionError {
  return typeof result === 'object';
}
