/**
 * A flow record: one observed connection or request, whoever observed it (a
 * Gatehouse enforcement point, AWS VPC Flow Logs, Cilium Hubble), in one
 * normalized shape. This is also the Gatehouse flow format v1 (docs/flows.md),
 * one record per JSON line; `flow-format.ts` checks it.
 */

export const FLOW_FORMAT_VERSION = 1;

/** Who produced the record. */
export type FlowOrigin = 'gatehouse' | 'vpc-flow-logs' | 'hubble' | 'decision-log';
export const FLOW_ORIGINS: readonly FlowOrigin[] = ['gatehouse', 'vpc-flow-logs', 'hubble', 'decision-log'];

/** What the observer saw happen: the traffic went through, or was dropped. */
export type FlowVerdict = 'allow' | 'deny';

export interface FlowSource {
  ip?: string;
  /** The caller's identity, as observed or as resolved from the inventory by address. */
  spiffeId?: string;
  /** The observer's name for the endpoint (Hubble `namespace/pod`); informational. */
  workload?: string;
  /** The zone of `ip` by the policy's zone CIDRs (`unknown` when none holds it). Filled by resolution. */
  zone?: string;
}

export interface FlowDestination {
  ip?: string;
  /** The destination workload's identity, when known. */
  spiffeId?: string;
  workload?: string;
  /**
   * The service the flow reached. Absent, or a name the policy does not
   * declare (declared-service.ts): the destination is no declared service.
   */
  service?: string;
  /** Absent for protocols without ports (ICMP). */
  port?: number;
  /** The service's zone, else the zone of `ip`. Filled by resolution. */
  zone?: string;
}

/** The L7 action, when the observer saw one. */
export interface FlowAction {
  method?: string;
  /** The request path without query or fragment. */
  path?: string;
  operation?: string;
}

export interface FlowRecord {
  v: typeof FLOW_FORMAT_VERSION;
  /** RFC 3339: when the flow (or the first of `count` identical flows) was observed. */
  time: string;
  source: FlowSource;
  destination: FlowDestination;
  /** Lower case: `tcp`, `udp`, `icmp`, `icmpv6`, `sctp`, or the IANA protocol number as text. */
  protocol: string;
  action?: FlowAction;
  verdict?: FlowVerdict;
  /** How many identical flows this record stands for; 1 when absent. */
  count?: number;
  bytes?: number;
  packets?: number;
  origin: FlowOrigin;
}

/** How many observations a record stands for. */
export function observationsOf(record: FlowRecord): number {
  return record.count ?? 1;
}
