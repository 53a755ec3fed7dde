/**
 * Policy risk checks beyond lint, across layers: permissions and flows that
 * zone segmentation always blocks (one layer contradicting another, so the
 * rule is dead weight or hides a mistake), and rules that let one identity
 * reach most of the estate.
 */
import { compileSelector } from '../../decision/matchers.js';
import { UNKNOWN_ZONE, type FlowRule, type PermissionRule, type SelectorTerm } from '../../policy/model.js';
import type { AuditThresholds } from './audit-context.js';
import { hasWildcard } from '../../policy/glob.js';
import { parsedId, type Estate, type EstateIdentity } from './estate.js';
import { makeFinding, type Finding } from './finding.js';
import type { ServiceReach } from './reachability.js';
import { codeList, shortId } from './format.js';
import { parseUtcTime } from '../../utc-time.js';

/**
 * Zones a rule's callers can call from: a term's own `zones`, else the zones
 * of the identities of the estate it selects, else every zone.
 */
function callerZones(
  estate: Estate,
  rule: FlowRule | PermissionRule,
): { zones: Set<string>; fromIdentities: boolean } {
  const every = [...estate.policy.zones.map((z) => z.name), UNKNOWN_ZONE];
  if (rule.from === '*') return { zones: new Set(every), fromIdentities: false };
  const zones = new Set<string>();
  let fromIdentities = true;
  for (const term of rule.from) {
    if (term.zones) {
      term.zones.forEach((z) => zones.add(z));
      fromIdentities = false;
      continue;
    }
    const selected = selectedZones(estate, term);
    if (selected.size) selected.forEach((z) => zones.add(z));
    else {
      every.forEach((z) => zones.add(z));
      fromIdentities = false;
    }
  }
  return { zones, fromIdentities };
}

interface IdentityIndex {
  byLabel: Map<string, EstateIdentity[]>;
}
const indexes = new WeakMap<Estate, IdentityIndex>();

/** Identities by label pair, built once per estate: a label term then looks at its candidates only. */
function identityIndex(estate: Estate): IdentityIndex {
  let index = indexes.get(estate);
  if (index) return index;
  index = { byLabel: new Map() };
  for (const id of estate.identities.values()) {
    for (const [k, v] of Object.entries(id.labels)) {
      const key = `${k}\u0000${v}`;
      const list = index.byLabel.get(key);
      if (list) list.push(id);
      else index.byLabel.set(key, [id]);
    }
  }
  indexes.set(estate, index);
  return index;
}

function candidatesFor(estate: Estate, term: SelectorTerm): Iterable<EstateIdentity> {
  if (term.spiffeId !== undefined && !hasWildcard(term.spiffeId)) {
    const id = estate.identities.get(term.spiffeId);
    return id ? [id] : [];
  }
  const first = term.labels ? Object.entries(term.labels)[0] : undefined;
  if (first) return identityIndex(estate).byLabel.get(`${first[0]}\u0000${first[1]}`) ?? [];
  return estate.identities.values();
}

const termZones = new WeakMap<Estate, Map<string, Set<string>>>();

function selectedZones(estate: Estate, term: SelectorTerm): Set<string> {
  let cache = termZones.get(estate);
  if (!cache) termZones.set(estate, (cache = new Map()));
  const key = JSON.stringify(term);
  const known = cache.get(key);
  if (known) return known;
  const match = compileSelector([term]);
  const zones = new Set<string>();
  cache.set(key, zones);
  for (const id of candidatesFor(estate, term)) {
    if (!id.zones.length) continue;
    const parsed = parsedId(id);
    if (!parsed) continue;
    const facts = {
      spiffeId: id.spiffeId,
      trustDomain: parsed.trustDomain,
      path: parsed.path,
      labels: id.labels,
      zone: id.zones[0]!,
    };
    if (match(facts)) id.zones.forEach((z) => zones.add(z));
  }
  return zones;
}

function zoneContradictions(estate: Estate): Finding[] {
  const out: Finding[] = [];
  const live = (r: { expires?: string }) => r.expires === undefined || parseUtcTime(r.expires) > estate.now;
  for (const rule of [...estate.policy.flows, ...estate.policy.permissions]) {
    if (rule.effect !== 'allow' || !live(rule) || rule.to.services === '*') continue;
    const { zones, fromIdentities } = callerZones(estate, rule);
    const blocked: { service: string; zone: string; by: Set<string> }[] = [];
    const declared = rule.to.services.map((s) => estate.service(s)).filter((s) => s !== undefined);
    for (const svc of declared) {
      const by = new Set<string>();
      let open = false;
      for (const z of zones) {
        const v = estate.reachability.zoneVerdict(z, svc.zone);
        if (v.allowed) {
          open = true;
          break;
        }
        v.rules.forEach((r) => by.add(r));
      }
      if (!open) blocked.push({ service: svc.name, zone: svc.zone, by });
    }
    if (!blocked.length) continue;
    const all = blocked.length === declared.length;
    const from = [...zones].sort();
    const who = fromIdentities ? 'the identities it selects call from' : 'its callers can call from';
    const evidence = [
      `${who} ${codeList(from, 8)}`,
      ...blocked.map(
        (b) =>
          `\`${b.service}\` is in zone \`${b.zone}\`: ${b.by.size ? `denied by ${codeList(b.by)}` : 'no segmentation rule allows any of those zones in (default deny)'}`,
      ),
    ];
    const by = new Set(blocked.flatMap((b) => [...b.by]));
    if (rule.layer === 'flow') {
      out.push(
        makeFinding('microsegment_blocked_by_zone', {
          severity: all ? 'medium' : 'low',
          subject: { kind: 'rule', id: rule.id },
          title: by.size
            ? `zone rule${by.size > 1 ? 's' : ''} ${codeList(by)} make${by.size > 1 ? '' : 's'} microsegment \`${rule.id}\` pointless${all ? '' : ` for ${codeList(blocked.map((b) => b.service))}`}`
            : `zone segmentation blocks all that microsegment \`${rule.id}\` allows${all ? '' : ` to ${codeList(blocked.map((b) => b.service))}`}`,
          evidence,
          fix: `decide which layer is right: open the zone path (a segmentation allow from ${codeList(from, 4)} to ${codeList(new Set(blocked.map((b) => b.zone)))}) or remove \`${rule.id}\``,
          data: {
            blocked: blocked.map((b) => ({ service: b.service, zone: b.zone, by: [...b.by] })),
            callerZones: from,
          },
        }),
      );
    } else {
      out.push(
        makeFinding('permission_blocked_by_zone', {
          severity: all ? 'medium' : 'low',
          subject: { kind: 'rule', id: rule.id },
          title: `the zone layer always blocks permission \`${rule.id}\`${all ? '' : ` on ${codeList(blocked.map((b) => b.service))}`}`,
          evidence,
          fix: `decide which layer is right: allow the zone path in \`segmentation\`, or remove \`${rule.id}\` so the policy says what it does`,
          data: {
            blocked: blocked.map((b) => ({ service: b.service, zone: b.zone, by: [...b.by] })),
            callerZones: from,
          },
        }),
      );
    }
  }
  return out;
}

/** What a reach amounts to estate-wide: its services, and the rules opening them, widest first. */
interface WideReach {
  services: readonly string[];
  widest: readonly [string, readonly string[]][];
}

function wideReach(reach: readonly ServiceReach[]): WideReach {
  const byRule = new Map<string, Set<string>>();
  for (const s of reach) {
    for (const r of [...s.flowRules, ...s.grants.map((g) => g.rule)]) {
      const set = byRule.get(r) ?? new Set<string>();
      set.add(s.service);
      byRule.set(r, set);
    }
  }
  return {
    services: [...new Set(reach.map((s) => s.service))].sort(),
    widest: [...byRule]
      .sort((a, b) => b[1].size - a[1].size || (a[0] < b[0] ? -1 : 1))
      .map(([r, set]) => [r, [...set].sort()]),
  };
}

function estateWide(estate: Estate, thresholds: AuditThresholds): Finding[] {
  const total = estate.policy.services.length;
  if (total < 3) return [];
  const out: Finding[] = [];
  // Identities matching the same rules from the same zones share one reach array: worked out once per array.
  const known = new Map<readonly ServiceReach[], WideReach>();
  for (const id of estate.identities.values()) {
    if (id.entry && id.entry.status !== 'active') continue;
    const reach = estate.reach(id.spiffeId, undefined, { includeUnenforced: false }).services;
    let wide = known.get(reach);
    if (!wide) known.set(reach, (wide = wideReach(reach)));
    const { services, widest } = wide;
    const share = services.length / total;
    if (services.length < 3 || share < thresholds.estateFraction) continue;
    out.push(
      makeFinding('estate_wide_reach', {
        severity: share >= 0.75 ? 'high' : 'medium',
        subject: { kind: 'identity', id: id.spiffeId },
        title: `identity \`${shortId(id.spiffeId, estate.policy.trustDomain)}\` reaches ${services.length} of ${total} services`,
        evidence: [
          `reaches ${codeList(services, 10)}`,
          ...widest.slice(0, 5).map(([r, s]) => `\`${r}\` opens ${s.length} of them`),
        ],
        fix: `split the widest rules by service and name the callers each service needs; an identity should reach the few services its job needs`,
        data: {
          services: [...services],
          share,
          rules: Object.fromEntries(widest.map(([r, s]) => [r, [...s]])),
        },
      }),
    );
  }
  return out;
}

/** Cross-layer contradictions and estate-wide reach, from the policy and the inventory alone. */
export function policyRiskChecks(estate: Estate, thresholds: AuditThresholds): Finding[] {
  return [...zoneContradictions(estate), ...estateWide(estate, thresholds)];
}
