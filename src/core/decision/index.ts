export { DECISION_API_VERSION } from './decision.js';
export type {
  ConditionFailure,
  CredentialReason,
  Decision,
  DecisionReason,
  LayerVerdict,
  Verdict,
} from './decision.js';
export { REQUEST_API_VERSION, CREDENTIAL_TYPES, checkDecisionRequest } from './request.js';
export type {
  CredentialType,
  DecisionRequest,
  RequestAction,
  RequestCredential,
  RequestDestination,
  RequestProblem,
  RequestSource,
} from './request.js';
export { normalizeRequestPath } from './request-path.js';
export { explainDecision } from './explain.js';
export { failedDecision } from './failed-decision.js';
export { DecisionEngine } from './engine.js';
export type { EngineOptions } from './engine.js';
