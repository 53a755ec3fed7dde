/**
 * Which environment a workload belongs to, and which zones mix
 * environments: the coarse segmentation a rollout starts with. Production is
 * kept apart from development and test, and operational technology (plant
 * controllers) from IT.
 *
 * A workload's environment comes from its labels (the inventory's, the
 * policy's winning): `env` (`prod`, `production`, `prd` → prod; `dev`, `test`,
 * `qa`, `staging`, `uat`, `sandbox` and the like → non-prod; `ot` → OT) and
 * `domain` (`ot` or `it`). A workload is placed in the zones of its inventory
 * `zone` and `addresses`, and in the zones it was observed calling from.
 */
import type { InventorySnapshot } from '../../identity/inventory.js';
import { createPrefixTable, parseCidr } from '../../net/index.js';
import { UNKNOWN_ZONE, type Policy } from '../../policy/model.js';

export type Tier = 'prod' | 'non-prod';
export type Domain = 'it' | 'ot';

export interface Environment {
  tier?: Tier;
  domain?: Domain;
}

const PROD = new Set(['prod', 'production', 'prd', 'live']);
const NON_PROD = new Set([
  'dev',
  'development',
  'test',
  'testing',
  'qa',
  'staging',
  'stage',
  'uat',
  'sandbox',
  'nonprod',
  'non-prod',
  'preprod',
  'pre-prod',
]);
const OT = new Set(['ot', 'ics', 'scada', 'plant']);

/** The environment labels say a workload is in; empty when they say nothing. */
export function environmentOf(labels: Readonly<Record<string, string>>): Environment {
  const out: Environment = {};
  const env = labels.env?.toLowerCase();
  const domain = labels.domain?.toLowerCase();
  if (env !== undefined) {
    if (PROD.has(env)) out.tier = 'prod';
    else if (NON_PROD.has(env)) out.tier = 'non-prod';
    else if (OT.has(env)) out.domain = 'ot';
  }
  if (domain !== undefined) {
    if (OT.has(domain)) out.domain = 'ot';
    else if (domain === 'it') out.domain = 'it';
  }
  if (out.tier !== undefined && out.domain === undefined) out.domain = 'it';
  return out;
}

export interface ZoneEnvironment {
  zone: string;
  /** Identities placed in the zone. */
  workloads: number;
  prod: string[];
  nonProd: string[];
  ot: string[];
  it: string[];
  /** Prod with non-prod, or OT with IT. */
  mixed: boolean;
  /** One line, when mixed: `mixes prod and non-prod workloads (12 prod, 3 non-prod)`. */
  problem?: string;
  /** The zone's own environment when it is not mixed. */
  tier?: Tier;
  domain?: Domain;
}

/**
 * The environments of every declared zone.
 * @param observed identities with the zones they were seen calling from
 */
export function zoneEnvironments(
  policy: Policy,
  inventory: InventorySnapshot | undefined,
  observed: ReadonlyMap<string, ReadonlySet<string>> = new Map(),
): ZoneEnvironment[] {
  const labels = new Map<string, Record<string, string>>();
  for (const e of inventory?.entries ?? [])
    if (e.status !== 'offboarded') labels.set(e.spiffeId, { ...e.labels });
  for (const w of policy.workloads)
    labels.set(w.spiffeId, { ...(labels.get(w.spiffeId) ?? {}), ...w.labels });
  const declared = new Set(policy.zones.map((z) => z.name));
  const table = createPrefixTable(
    policy.zones.flatMap((z) => z.cidrs.map((c) => ({ cidr: parseCidr(c), value: z.name }))),
  );
  const placed = new Map<string, Set<string>>(policy.zones.map((z) => [z.name, new Set<string>()]));
  const place = (zone: string | undefined, id: string) => {
    if (zone !== undefined && declared.has(zone)) placed.get(zone)!.add(id);
  };
  for (const e of inventory?.entries ?? []) {
    if (e.status === 'offboarded') continue;
    place(e.zone, e.spiffeId);
    for (const a of e.addresses ?? []) {
      try {
        const cidr = parseCidr(a.includes('/') ? a : `${a}/${a.includes(':') ? 128 : 32}`);
        place(table.lookup(cidr.address), e.spiffeId);
      } catch {
        // An unreadable address places the workload nowhere; ingest reports it.
      }
    }
  }
  for (const [id, zones] of observed) for (const z of zones) if (z !== UNKNOWN_ZONE) place(z, id);

  return policy.zones.map((z) => {
    const ids = [...placed.get(z.name)!].sort();
    const out: ZoneEnvironment = {
      zone: z.name,
      workloads: ids.length,
      prod: [],
      nonProd: [],
      ot: [],
      it: [],
      mixed: false,
    };
    for (const id of ids) {
      const env = environmentOf(labels.get(id) ?? {});
      if (env.tier === 'prod') out.prod.push(id);
      if (env.tier === 'non-prod') out.nonProd.push(id);
      if (env.domain === 'ot') out.ot.push(id);
      if (env.domain === 'it') out.it.push(id);
    }
    const tierMix = out.prod.length > 0 && out.nonProd.length > 0;
    const domainMix = out.ot.length > 0 && out.it.length > 0;
    out.mixed = tierMix || domainMix;
    const parts: string[] = [];
    if (tierMix)
      parts.push(`prod and non-prod workloads (${out.prod.length} prod, ${out.nonProd.length} non-prod)`);
    if (domainMix) parts.push(`OT and IT workloads (${out.ot.length} OT, ${out.it.length} IT)`);
    if (parts.length) out.problem = `zone \`${z.name}\` mixes ${parts.join(' and ')}`;
    if (!tierMix) {
      if (out.prod.length) out.tier = 'prod';
      else if (out.nonProd.length) out.tier = 'non-prod';
    }
    if (!domainMix) {
      if (out.ot.length) out.domain = 'ot';
      else if (out.it.length) out.domain = 'it';
    }
    return out;
  });
}

/**
 * The zone layer's verdict for traffic from one zone to another at an
 * instant, as the decision engine reaches it: any matching deny denies, else
 * any matching allow allows, else default deny. `"*"` is every declared zone.
 */
export function zoneVerdict(
  policy: Policy,
  from: string,
  to: string,
  now: number,
): { allowed: boolean; rules: string[] } {
  const allows: string[] = [];
  const denies: string[] = [];
  const declared = new Set(policy.zones.map((z) => z.name));
  const has = (list: '*' | string[], zone: string) =>
    list === '*' ? declared.has(zone) : list.includes(zone);
  for (const r of policy.segmentation) {
    if (r.expires !== undefined && now >= Date.parse(r.expires)) continue;
    if (!has(r.from, from) || !has(r.to, to)) continue;
    (r.effect === 'deny' ? denies : allows).push(r.id);
  }
  if (denies.length) return { allowed: false, rules: denies };
  return { allowed: allows.length > 0, rules: allows };
}
