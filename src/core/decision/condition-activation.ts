/**
 * The values a condition sees for one request (docs/policy.md, conditions):
 * built once per decision, on the first condition it evaluates. `source`
 * holds the caller's identity only when some condition of the policy reads it.
 */
import type { ConditionActivation } from '../policy/cel/index.js';
import type { ActionFacts, SourceFacts } from './matchers.js';
import type { DecisionRequest } from './request.js';

/** The keys of `source` that come from the caller's identity; the others (`zone`, `ip`) from the request. */
export const IDENTITY_KEYS: readonly string[] = ['spiffeId', 'trustDomain', 'path', 'labels'];

export function buildActivation(
  request: DecisionRequest,
  /** Undefined when no condition of the policy reads the caller's identity: `source` holds only `zone` and `ip`. */
  facts: SourceFacts | undefined,
  sourceZone: string,
  destinationZone: string,
  service: string,
  action: ActionFacts,
  /** Undefined when no condition of the policy reads `time` or `credential`. */
  nowMs: number | undefined,
): ConditionActivation {
  const source: Record<string, unknown> =
    facts === undefined
      ? { zone: sourceZone }
      : {
          spiffeId: facts.spiffeId,
          trustDomain: facts.trustDomain,
          path: facts.path,
          labels: facts.labels,
          zone: sourceZone,
        };
  if (request.source.ip !== undefined) source.ip = request.source.ip;
  const credential: Record<string, unknown> = {};
  const c = request.credential;
  if (c && nowMs !== undefined) {
    credential.type = c.type;
    if (c.id !== undefined) credential.id = c.id;
    if (c.issuedAt !== undefined) {
      const issued = Date.parse(c.issuedAt);
      credential.issuedAt = new Date(issued);
      credential.ageSeconds = (nowMs - issued) / 1000;
    }
    if (c.expiresAt !== undefined) {
      const expires = Date.parse(c.expiresAt);
      credential.expiresAt = new Date(expires);
      credential.ttlSeconds = (expires - nowMs) / 1000;
    }
  }
  const destination: Record<string, unknown> = { service, zone: destinationZone };
  if (request.destination.port !== undefined) destination.port = request.destination.port;
  const act: Record<string, unknown> = {};
  if (action.method !== undefined) act.method = action.method;
  if (action.path !== undefined) act.path = action.path;
  if (action.operation !== undefined) act.operation = action.operation;
  const activation: Record<string, unknown> = {
    source,
    credential,
    destination,
    action: act,
    context: request.context ?? {},
  };
  if (nowMs !== undefined) activation.time = new Date(nowMs);
  return activation as unknown as ConditionActivation;
}
