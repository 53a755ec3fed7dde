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

/** `credential` when no condition reads it, or the request has none: shared, as conditions only read. */
const NO_CREDENTIAL: Readonly<Record<string, unknown>> = Object.freeze({});
const NO_CONTEXT: Readonly<Record<string, unknown>> = Object.freeze({});

function credentialFacts(
  c: NonNullable<DecisionRequest['credential']>,
  nowMs: number,
): Record<string, unknown> {
  const credential: Record<string, unknown> = { type: c.type };
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
  return credential;
}

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
  // Every object is made whole by one literal, with no property added afterwards: each added
  // property moves the object to another hidden class and may grow a second array for it,
  // work and memory spent on every decision that evaluates a condition.
  const ip = request.source.ip;
  const source: Record<string, unknown> =
    facts === undefined
      ? ip === undefined
        ? { zone: sourceZone }
        : { zone: sourceZone, ip }
      : ip === undefined
        ? {
            spiffeId: facts.spiffeId,
            trustDomain: facts.trustDomain,
            path: facts.path,
            labels: facts.labels,
            zone: sourceZone,
          }
        : {
            spiffeId: facts.spiffeId,
            trustDomain: facts.trustDomain,
            path: facts.path,
            labels: facts.labels,
            zone: sourceZone,
            ip,
          };
  const c = request.credential;
  const credential = c && nowMs !== undefined ? credentialFacts(c, nowMs) : NO_CREDENTIAL;
  const port = request.destination.port;
  const destination =
    port === undefined ? { service, zone: destinationZone } : { service, zone: destinationZone, port };
  const { method, path, operation } = action;
  let act: Record<string, unknown>;
  if (operation === undefined && method !== undefined && path !== undefined) act = { method, path };
  else {
    act = {};
    if (method !== undefined) act.method = method;
    if (path !== undefined) act.path = path;
    if (operation !== undefined) act.operation = operation;
  }
  const context = request.context ?? NO_CONTEXT;
  const activation: Record<string, unknown> =
    nowMs === undefined
      ? { source, credential, destination, action: act, context }
      : { source, credential, destination, action: act, context, time: new Date(nowMs) };
  return activation as unknown as ConditionActivation;
}
