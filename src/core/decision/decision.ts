/**
 * The decision (wire format v1, docs/decision-api.md): a value that explains
 * itself — verdict, enforcement, the deciding layer and rules, every layer's
 * verdict and every condition that failed to evaluate.
 */
import type { Effect, LayerName, RolloutMode } from '../policy/model.js';

export const DECISION_API_VERSION = 'gatehouse.dev/v1';

export type Verdict = 'allow' | 'deny';

export type CredentialReason =
  | 'credential_valid'
  | 'identity_missing'
  | 'identity_invalid'
  | 'foreign_trust_domain'
  | 'credential_missing'
  | 'credential_unverified'
  | 'credential_revoked'
  | 'credential_expired'
  | 'credential_not_yet_valid'
  | 'grant_out_of_scope';

export type DecisionReason =
  CredentialReason | 'allow_rule' | 'deny_rule' | 'default_deny' | 'request_invalid' | 'internal_error';

export interface LayerVerdict {
  verdict: Verdict;
  reason: DecisionReason;
  /** The matching rules of the kind that decided: deny rules on a deny, allow rules on an allow. */
  rules: readonly string[];
}

/** A rule whose condition could not be evaluated, and what that did. */
export interface ConditionFailure {
  layer: LayerName;
  ruleId: string;
  effect: Effect;
  /** Fail closed: an erroring deny rule matches, an erroring allow rule does not. */
  outcome: 'matched' | 'not_matched';
  error: string;
}

export interface Decision {
  apiVersion: typeof DECISION_API_VERSION;
  /** Present when the decision point was given an id source. */
  decisionId?: string;
  /** The policy's verdict. */
  decision: Verdict;
  /** Whether the request may proceed: an allow, or a deny that is not enforced. */
  allowed: boolean;
  /** True only in `enforce` mode. */
  enforced: boolean;
  mode: RolloutMode;
  /** A deny that was let through because the service is in `observe` or `simulate` mode. */
  wouldDeny: boolean;
  /** The first layer that denied, or `permission` on an allow. */
  layer: LayerName;
  reason: DecisionReason;
  /** Deciding rule ids: all matching rules of the deciding kind at the deciding layer. */
  rules: readonly string[];
  layers: Readonly<Record<LayerName, LayerVerdict>>;
  errors: readonly ConditionFailure[];
  /** Present on `request_invalid` and `internal_error`. */
  message?: string;
  policyRevision: string;
  service: string;
  sourceZone: string;
  destinationZone: string;
}
