/**
 * A semantic diff between two policies: what was added, removed or changed,
 * keyed the way a reviewer thinks — zones and services by name, workloads by
 * SPIFFE ID, rules by id — ignoring order, formatting and file layout.
 */
import { canonicalJson } from './revision.js';
import type { Policy } from './model.js';

export type PolicyPart = 'setting' | 'zone' | 'service' | 'workload' | 'segmentation' | 'flow' | 'permission';

export interface PolicyChange {
  part: PolicyPart;
  /** Name, SPIFFE ID or rule id. */
  key: string;
  change: 'added' | 'removed' | 'changed';
  /** For `changed`: the top-level fields that differ. */
  fields?: string[];
}

export interface PolicyDiff {
  from: string;
  to: string;
  changes: PolicyChange[];
}

type Keyed = Record<string, unknown>;

function strip(value: unknown): unknown {
  if (value instanceof Map) return Object.fromEntries([...value].map(([k, v]) => [k, strip(v)]));
  if (Array.isArray(value)) return value.map(strip);
  if (value && typeof value === 'object') {
    const out: Keyed = {};
    for (const [k, v] of Object.entries(value)) if (k !== 'location') out[k] = strip(v);
    return out;
  }
  return value;
}

function byKey<T>(items: readonly T[], key: (t: T) => string): Map<string, Keyed> {
  return new Map(items.map((t) => [key(t), strip(t) as Keyed]));
}

function compare(part: PolicyPart, a: Map<string, Keyed>, b: Map<string, Keyed>, out: PolicyChange[]): void {
  for (const [key, before] of a) {
    const after = b.get(key);
    if (!after) {
      out.push({ part, key, change: 'removed' });
      continue;
    }
    const fields = [...new Set([...Object.keys(before), ...Object.keys(after)])]
      .filter((f) => canonicalJson(before[f] ?? null) !== canonicalJson(after[f] ?? null))
      .sort();
    if (fields.length) out.push({ part, key, change: 'changed', fields });
  }
  for (const key of b.keys()) if (!a.has(key)) out.push({ part, key, change: 'added' });
}

export function diffPolicies(from: Policy, to: Policy): PolicyDiff {
  const changes: PolicyChange[] = [];
  const settings = (p: Policy) =>
    new Map<string, Keyed>([
      ['trustDomain', { value: p.trustDomain }],
      ['federatedTrustDomains', { value: [...p.federatedTrustDomains].sort() }],
      ['name', { value: p.name ?? null }],
    ]);
  compare('setting', settings(from), settings(to), changes);
  compare(
    'zone',
    byKey(from.zones, (z) => z.name),
    byKey(to.zones, (z) => z.name),
    changes,
  );
  compare(
    'service',
    byKey(from.services, (s) => s.name),
    byKey(to.services, (s) => s.name),
    changes,
  );
  compare(
    'workload',
    byKey(from.workloads, (w) => w.spiffeId),
    byKey(to.workloads, (w) => w.spiffeId),
    changes,
  );
  compare(
    'segmentation',
    byKey(from.segmentation, (r) => r.id),
    byKey(to.segmentation, (r) => r.id),
    changes,
  );
  compare(
    'flow',
    byKey(from.flows, (r) => r.id),
    byKey(to.flows, (r) => r.id),
    changes,
  );
  compare(
    'permission',
    byKey(from.permissions, (r) => r.id),
    byKey(to.permissions, (r) => r.id),
    changes,
  );
  return { from: from.revision, to: to.revision, changes };
}
