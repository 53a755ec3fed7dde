/** What every finding family reads: the estate, the log's activity and the thresholds. */
import type { ActivityCollector, ActivitySummary, IdentityActivity } from './activity.js';
import type { Estate, EstateIdentity } from './estate.js';

export interface AuditThresholds {
  /** An active identity unused for this many days is stale. */
  staleDays: number;
  /** A static secret older than this since its last rotation (or creation) is long-lived. */
  secretMaxAgeDays: number;
  /** An issued SVID that lives longer than this is long-lived. */
  credentialMaxTtlHours: number;
  /** An identity seen from more source addresses than this (without declared addresses) is reused. */
  maxAddresses: number;
  /** A third-party app reaching at least this many services has broad access. */
  thirdPartyMaxServices: number;
  /** An identity reaching at least this fraction of the declared services reaches most of the estate. */
  estateFraction: number;
  /** Office hours, UTC, `[from, to)`: traffic inside them only, in bursts, looks like a person at work. */
  workHours: readonly [number, number];
  /** Fewer records than this say nothing about a traffic pattern. */
  minRecords: number;
}

export const DEFAULT_THRESHOLDS: Readonly<AuditThresholds> = Object.freeze({
  staleDays: 90,
  secretMaxAgeDays: 90,
  credentialMaxTtlHours: 24,
  maxAddresses: 10,
  thirdPartyMaxServices: 2,
  estateFraction: 0.5,
  workHours: [7, 20] as const,
  minRecords: 20,
});

/** An identity the log shows, with the estate's identity of the same SPIFFE ID (none for a stranger). */
export interface SeenIdentity {
  activity: IdentityActivity;
  identity: EstateIdentity | undefined;
}

export interface AuditContext {
  estate: Estate;
  activity: ActivityCollector;
  /**
   * The log joined to the estate once: every identity the log shows, with its
   * estate identity; and each estate identity's `activity` set. Finding
   * families read these instead of looking one map up in the other.
   */
  seen: readonly SeenIdentity[];
  /** Whether a decision log was given at all; without one, log-based findings are not raised. */
  hasLog: boolean;
  log: ActivitySummary & { since?: number; until?: number };
  thresholds: AuditThresholds;
}
