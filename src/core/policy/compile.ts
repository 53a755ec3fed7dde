import { DecisionEngine, type EngineOptions } from '../decision/engine.js';
import type { Decision } from '../decision/decision.js';
import type { DecisionRequest } from '../decision/request.js';
import { GatehouseError } from '../errors.js';
import type { Policy } from './model.js';
import { parsePolicyDocument, type PolicySourceText } from './parse.js';
import { formatProblem, sortProblems, type PolicyProblem } from './problem.js';
import { validatePolicy } from './validate.js';

/** A policy compiled for evaluation: compile once, decide many times. */
export interface CompiledPolicy {
  readonly policy: Policy;
  /** Content hash of the policy, `sha256:<hex>`. */
  readonly revision: string;
  /** Decides one request; never throws (a failure is a deny that says why). */
  decide(request: DecisionRequest): Decision;
}

/**
 * Parses and validates policy text (YAML or JSON; several sources are merged).
 * @throws GatehouseError `policy_parse_error` when a text is not YAML/JSON,
 *   `policy_invalid` (with every problem in `problems`) when it is not a valid policy
 */
export function parsePolicy(sources: string | PolicySourceText | readonly PolicySourceText[]): Policy {
  const list: readonly PolicySourceText[] =
    typeof sources === 'string'
      ? [{ file: '<policy>', text: sources }]
      : 'text' in sources
        ? [sources]
        : sources;
  const result = validatePolicy(parsePolicyDocument(list));
  if (!result.policy) throw invalid(result.errors);
  return result.policy;
}

export function invalid(unsorted: readonly PolicyProblem[]): GatehouseError {
  const errors = sortProblems(unsorted);
  const first = errors[0];
  const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : '';
  const err = new GatehouseError(
    'policy_invalid',
    `${first ? formatProblem(first) : 'invalid policy'}${more}`,
    {
      problems: errors.map((e) => ({ ...e, message: formatProblem(e) })),
    },
  );
  return err;
}

/**
 * Compiles a validated policy into a decision engine: indexes, zone tables and
 * CEL conditions are built here, once.
 */
export function compileValidatedPolicy(policy: Policy, options: EngineOptions): CompiledPolicy {
  const engine = new DecisionEngine(policy, options);
  return {
    policy,
    revision: policy.revision,
    decide: (request) => engine.decide(request),
  };
}
