/**
 * The decision log entry for one decided request, before it is chained
 * (hash-chain.ts). What an enforcement point writes: who asked, from where,
 * for what, what was decided and by which rules; never the request's
 * `context`, which may hold secrets.
 */
import type { Decision } from '../decision/decision.js';
import type { DecisionRequest } from '../decision/request.js';
import type { UnchainedRecord } from './hash-chain.js';

export interface RecordMeta {
  decisionId: string;
  /** RFC 3339 with milliseconds. */
  time: string;
  via: string;
  latencyMicros: number;
}

export function recordFromDecision(
  request: DecisionRequest,
  decision: Decision,
  meta: RecordMeta,
): UnchainedRecord {
  const { spiffeId, ip } = request.source;
  const { service, port } = request.destination;
  const c = request.credential;
  const a = request.action;
  // Absent fields are left undefined rather than spread in and out: the canonical JSON
  // drops undefined members, and every record then has one layout (the log seals each).
  let action: UnchainedRecord['action'];
  if (a) {
    action = {};
    if (a.method !== undefined) action.method = a.method;
    if (a.path !== undefined) action.path = a.path;
    if (a.operation !== undefined) action.operation = a.operation;
  }
  return {
    v: 1,
    decisionId: meta.decisionId,
    time: meta.time,
    policyRevision: decision.policyRevision,
    via: meta.via,
    source: { spiffeId, ip, zone: decision.sourceZone },
    credential: c ? { type: c.type, id: c.id } : undefined,
    destination: { service, port, zone: decision.destinationZone },
    action,
    decision: decision.decision,
    allowed: decision.allowed,
    enforced: decision.enforced,
    mode: decision.mode,
    wouldDeny: decision.wouldDeny,
    layer: decision.layer,
    reason: decision.reason,
    rules: [...decision.rules],
    layers: {
      credential: decision.layers.credential.verdict,
      zone: decision.layers.zone.verdict,
      flow: decision.layers.flow.verdict,
      permission: decision.layers.permission.verdict,
    },
    latencyMicros: meta.latencyMicros,
  };
}
