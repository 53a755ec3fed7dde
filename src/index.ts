/**
 * Gatehouse public API: parse, check and compile policies; decide and explain.
 */
import { GatehouseError } from './core/errors.js';
import type { Clock, Random } from './core/ports.js';
import {
  compileValidatedPolicy,
  invalid,
  isValidatedPolicy,
  parsePolicy,
  policyDocumentFromObject,
  validatePolicy,
  type CompiledPolicy,
  type Policy,
} from './core/policy/index.js';
import { decisionIds, systemClock } from './system.js';

export interface CompileOptions {
  /** Defaults to the system clock. */
  clock?: Clock;
  /** Decision id source; defaults to a fast unique id generator; `false` for no ids. */
  ids?: Random | false;
}

/**
 * Compiles a policy for evaluation. Accepts a policy returned by
 * {@link parsePolicy}, policy text (YAML or JSON), or a plain policy object.
 * @throws GatehouseError `policy_parse_error` or `policy_invalid`
 */
export function compilePolicy(
  policy: Policy | string | Record<string, unknown>,
  options: CompileOptions = {},
): CompiledPolicy {
  let validated: Policy;
  if (typeof policy === 'string') validated = parsePolicy(policy);
  else if (isValidatedPolicy(policy)) validated = policy;
  else {
    const result = validatePolicy(policyDocumentFromObject(policy));
    if (!result.policy) throw invalid(result.errors);
    validated = result.policy;
  }
  const ids = options.ids === false ? undefined : (options.ids ?? decisionIds());
  return compileValidatedPolicy(
    validated,
    ids ? { clock: options.clock ?? systemClock, ids } : { clock: options.clock ?? systemClock },
  );
}

export { parsePolicy, GatehouseError };
export {
  checkPolicy,
  lintPolicy,
  validatePolicy,
  parsePolicyDocument,
  formatProblem,
  POLICY_API_VERSION,
} from './core/policy/index.js';
export type {
  CheckResult,
  CompiledPolicy,
  Policy,
  PolicyDocument,
  PolicyProblem,
  PolicySourceText,
  Rule,
  Selector,
  Service,
  Zone,
  LayerName,
  RolloutMode,
  Effect,
} from './core/policy/index.js';
export {
  explainDecision,
  checkDecisionRequest,
  normalizeRequestPath,
  DECISION_API_VERSION,
} from './core/decision/index.js';
export type {
  Decision,
  DecisionReason,
  DecisionRequest,
  LayerVerdict,
  ConditionFailure,
  RequestProblem,
} from './core/decision/index.js';
export { parseSpiffeId } from './core/identity/index.js';
export type { SpiffeId } from './core/identity/index.js';
export type { GatehouseErrorCode, SourceLocation } from './core/errors.js';
export type { Clock, Random } from './core/ports.js';
