/**
 * Just-in-time grants: a credential bound to one task, scoped to one service
 * and a few actions, that narrows what standing permissions allow and never
 * widens it. Ending the task revokes it.
 */

export interface GrantScope {
  service: string;
  /** HTTP methods (upper case); empty means any method. */
  methods: readonly string[];
  /** Segment globs as in the policy language (`/orders/*`, `/reports/**`); empty means any path. */
  paths: readonly string[];
  /** Named operations of the service; empty means none beyond methods/paths. */
  operations: readonly string[];
}

export type GrantStatus = 'active' | 'ended' | 'expired';

export interface Grant {
  /** `grt_...` */
  id: string;
  entryId: string;
  spiffeId: string;
  /** Free text naming the task (ticket, pipeline run). */
  task: string;
  scope: GrantScope;
  startedAt: string;
  expiresAt: string;
  endedAt?: string;
  requestedBy?: string;
}
