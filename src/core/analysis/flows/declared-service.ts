/**
 * What "declared" means for a flow's destination, in one place, so that
 * ingest, the dependency map and replay (simulate, suggest, assess) count the
 * same flows as reaching a declared service.
 *
 * A record may name its service itself (a decision log record, a Gatehouse
 * flow record written by hand or by another policy's resolution). The name is
 * kept as written, but only a name the policy declares makes the destination
 * a declared service; any other name is an undeclared endpoint, like an
 * address no service listens on.
 */
import type { Policy } from '../../policy/model.js';
import type { FlowRecord } from './flow-record.js';

/** The names of the services the policies declare (several: a candidate and the policy in force). */
export function declaredServiceNames(policies: readonly Policy[]): ReadonlySet<string> {
  return new Set(policies.flatMap((p) => p.services.map((s) => s.name)));
}

/**
 * The declared service a record reached: its `destination.service` when
 * `declared` holds that name, else undefined (the destination is an
 * undeclared endpoint, whatever name the record gives it).
 */
export function declaredServiceOf(record: FlowRecord, declared: ReadonlySet<string>): string | undefined {
  const name = record.destination.service;
  return name !== undefined && declared.has(name) ? name : undefined;
}
