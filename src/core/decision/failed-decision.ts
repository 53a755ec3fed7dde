import type { Decision } from './decision.js';
import { DECISION_API_VERSION } from './decision.js';
import type { LayerVerdict } from './decision.js';

const notEvaluated = (reason: 'request_invalid' | 'internal_error'): LayerVerdict =>
  Object.freeze({ verdict: 'deny', reason, rules: Object.freeze([]) as readonly string[] });
const NOT_EVALUATED = {
  request_invalid: notEvaluated('request_invalid'),
  internal_error: notEvaluated('internal_error'),
};

/**
 * The decision for a request that could not be evaluated: a deny, enforced in
 * every mode (fail closed), with every layer reported as not evaluated.
 */
export function failedDecision(
  reason: 'request_invalid' | 'internal_error',
  message: string,
  policyRevision: string,
  service = '',
): Decision {
  const layer = NOT_EVALUATED[reason];
  return {
    apiVersion: DECISION_API_VERSION,
    decision: 'deny',
    allowed: false,
    enforced: true,
    mode: 'enforce',
    wouldDeny: false,
    layer: 'credential',
    reason,
    rules: [],
    layers: { credential: layer, zone: layer, flow: layer, permission: layer },
    errors: [],
    message,
    policyRevision,
    service,
    sourceZone: 'unknown',
    destinationZone: 'unknown',
  };
}
