/**
 * Readiness: for each service, where it stands on the way from observe to
 * enforce, and the next step — in the order that breaks nothing:
 *
 * 1. `zone-first`: coarse segmentation is missing — the service's zone mixes
 *    prod with non-prod, or OT with IT, or the zone rules let a zone of
 *    another environment in;
 * 2. `observe`: no traffic to the service was observed yet;
 * 3. `microsegment`: its dependencies are not mapped — callers without an
 *    identity, or observed flows that no zone or flow rule allows, or no flow
 *    rule written for the service at all;
 * 4. `tighten-identity`: flows are mapped but identity permissions are
 *    missing or wide (any caller, any path), or rules lack an owner or a
 *    review date;
 * 5. `enforce`: everything observed is allowed by tight, owned rules: set
 *    `mode: enforce`;
 * 6. `enforced`: done.
 *
 * Coverage is measured by replaying the observed flows against the policy
 * (replay.ts); deny rules deny as intended and do not count as gaps.
 */
import type { InventorySnapshot } from '../../identity/inventory.js';
import type { PermissionRule, Policy, RolloutMode, Rule } from '../../policy/model.js';
import type { FlowRecord } from '../flows/flow-record.js';
import { zoneEnvironments, zoneVerdict, type ZoneEnvironment } from './environments.js';
import { countText } from './map-text.js';
import { FlowGroups, PolicyReplayer, type FlowGroup, type ReplayVerdict } from './replay.js';
import { shortIdentity } from './rule-names.js';

export const READINESS_REPORT_KIND = 'ReadinessReport';

export type NextStep =
  'zone-first' | 'observe' | 'microsegment' | 'tighten-identity' | 'enforce' | 'enforced';
export const NEXT_STEPS: readonly NextStep[] = [
  'zone-first',
  'observe',
  'microsegment',
  'tighten-identity',
  'enforce',
  'enforced',
];

export interface AssessOptions {
  policy: Policy;
  inventory?: InventorySnapshot;
  /** Review dates and rule expiry are judged at this instant (epoch ms). */
  now: number;
  context?: Readonly<Record<string, unknown>>;
  /** Assess only these services (default: every declared service). */
  services?: readonly string[];
}

export interface ServiceReadiness {
  service: string;
  zone: string;
  mode: RolloutMode;
  owner?: string;
  dependencies: {
    flows: number;
    callers: number;
    allowed: number;
    /** Allowed share of the observed flows, 0 to 1; null without traffic. */
    coverage: number | null;
    callersWithoutIdentity: number;
    /** Flows no zone or flow rule allows (not counting deny rules). */
    unmapped: number;
    /** Flows whose action no permission allows. */
    unpermitted: number;
  };
  segmentation: { inPlace: boolean; problems: string[] };
  ownership: { owned: boolean; rules: number; problems: string[] };
  identity: { tight: boolean; problems: string[] };
  nextStep: NextStep;
  /** Why, in one line. */
  reason: string;
}

export interface ReadinessReport {
  apiVersion: 'gatehouse.dev/v1';
  kind: typeof READINESS_REPORT_KIND;
  window: { first: string; last: string } | null;
  zones: ZoneEnvironment[];
  services: ServiceReadiness[];
  summary: Record<NextStep, number>;
}

/** Streams flow records into an assessment; `finish()` judges every service. */
export class Assessment {
  private readonly groups: FlowGroups;
  private readonly observedZones = new Map<string, Set<string>>();

  constructor(private readonly options: AssessOptions) {
    this.groups = new FlowGroups([options.policy]);
  }

  add(record: FlowRecord): void {
    this.groups.add(record);
    const id = record.source.spiffeId;
    const zone = record.source.zone;
    if (id !== undefined && zone !== undefined) {
      const zones = this.observedZones.get(id);
      if (zones) zones.add(zone);
      else this.observedZones.set(id, new Set([zone]));
    }
  }

  finish(): ReadinessReport {
    return assessReadiness(this.groups, this.observedZones, this.options);
  }
}

/** Assesses over records already in hand: the pure form for an HTTP route or a test. */
export function assess(records: Iterable<FlowRecord>, options: AssessOptions): ReadinessReport {
  const a = new Assessment(options);
  for (const r of records) a.add(r);
  return a.finish();
}

function listText(ids: readonly string[], max = 3): string {
  return ids.slice(0, max).join(', ') + (ids.length > max ? ` +${ids.length - max}` : '');
}

function assessReadiness(
  flowGroups: FlowGroups,
  observedZones: ReadonlyMap<string, ReadonlySet<string>>,
  o: AssessOptions,
): ReadinessReport {
  const policy = o.policy;
  const td = policy.trustDomain;
  const replayer = new PolicyReplayer(policy, { now: o.now, ...(o.context ? { context: o.context } : {}) });
  const byService = new Map<string, { g: FlowGroup; v: ReplayVerdict }[]>();
  for (const g of flowGroups.groups()) {
    const list = byService.get(g.service) ?? byService.set(g.service, []).get(g.service)!;
    list.push({ g, v: replayer.judge(g) });
  }
  const zones = zoneEnvironments(policy, o.inventory, observedZones);
  const zoneByName = new Map(zones.map((z) => [z.zone, z]));
  const inventoryOwners = new Map((o.inventory?.entries ?? []).map((e) => [e.spiffeId, e.owner]));
  const names = o.services ? [...new Set(o.services)] : policy.services.map((s) => s.name);
  const services = new Map(policy.services.map((s) => [s.name, s]));

  const out: ServiceReadiness[] = [];
  for (const name of names.sort()) {
    const s = services.get(name);
    if (!s) continue;
    const owner = s.owner ?? (s.spiffeId !== undefined ? inventoryOwners.get(s.spiffeId) : undefined);

    // Dependencies: the observed flows, replayed.
    const members = byService.get(name) ?? [];
    let flows = 0;
    let allowed = 0;
    let unmapped = 0;
    let unpermitted = 0;
    const callers = new Set<string>();
    const anonymous = new Set<string>();
    const unmappedCallers = new Set<string>();
    const unpermittedCallers = new Set<string>();
    for (const { g, v } of members) {
      const caller = g.spiffeId ?? g.ip ?? `unknown in ${g.sourceZone}`;
      flows += g.flows;
      callers.add(caller);
      if (g.spiffeId === undefined) anonymous.add(caller);
      if (v.allowed) allowed += g.flows;
      else if (v.reason === 'deny_rule') continue;
      else if (v.layer === 'permission') {
        unpermitted += g.flows;
        unpermittedCallers.add(shortIdentity(caller, td));
      } else {
        unmapped += g.flows;
        unmappedCallers.add(shortIdentity(caller, td));
      }
    }

    // Coarse segmentation.
    const segProblems: string[] = [];
    const home = zoneByName.get(s.zone);
    if (home?.problem) segProblems.push(home.problem);
    if (home && !home.mixed) {
      for (const other of zones) {
        if (other.zone === s.zone) continue;
        const tierClash = home.tier !== undefined && other.tier !== undefined && home.tier !== other.tier;
        const domainClash =
          home.domain !== undefined && other.domain !== undefined && home.domain !== other.domain;
        // Prod reaching into non-prod is a lesser risk than the reverse; flag entry into prod and any OT/IT crossing.
        // A mixed zone reaching into prod lets its non-prod half in too.
        const mixedIntoProd = other.mixed && home.tier === 'prod';
        const risky = (tierClash && home.tier === 'prod') || domainClash || mixedIntoProd;
        if (!risky) continue;
        const verdict = zoneVerdict(policy, other.zone, s.zone, o.now);
        if (verdict.allowed) {
          const what = domainClash
            ? `${other.domain!.toUpperCase()} zone`
            : tierClash
              ? `${other.tier} zone`
              : 'mixed zone';
          segProblems.push(
            `zone rules let ${what} \`${other.zone}\` reach \`${s.zone}\` (${listText(verdict.rules.map((r) => `\`${r}\``))})`,
          );
        }
      }
    }

    // Ownership of the rules that govern the service.
    const rules: Rule[] = [
      ...policy.segmentation.filter((r) => r.to === '*' || r.to.includes(s.zone)),
      ...policy.flows.filter((r) => r.to.services === '*' || r.to.services.includes(name)),
      ...policy.permissions.filter((r) => r.to.services === '*' || r.to.services.includes(name)),
    ];
    const ownProblems: string[] = [];
    if (owner === undefined) ownProblems.push(`service \`${name}\` has no owner`);
    const noOwner = rules.filter((r) => r.owner === undefined).map((r) => r.id);
    const noReview = rules.filter((r) => r.reviewBy === undefined).map((r) => r.id);
    const overdue = rules
      .filter((r) => r.reviewBy !== undefined && Date.parse(r.reviewBy) <= o.now)
      .map((r) => r.id);
    if (noOwner.length) ownProblems.push(`${noOwner.length} rule(s) without owner (${listText(noOwner)})`);
    if (noReview.length)
      ownProblems.push(`${noReview.length} rule(s) without review date (${listText(noReview)})`);
    if (overdue.length)
      ownProblems.push(`${overdue.length} rule(s) overdue for review (${listText(overdue)})`);

    // Identity permissions: present and narrow.
    const idProblems: string[] = [];
    const flowAllows = policy.flows.filter(
      (r) => r.effect === 'allow' && r.to.services !== '*' && r.to.services.includes(name),
    );
    const permissionAllows = policy.permissions.filter(
      (r) => r.effect === 'allow' && (r.to.services === '*' || r.to.services.includes(name)),
    );
    for (const r of permissionAllows) {
      const why = wideness(r);
      if (why) idProblems.push(`\`${r.id}\` ${why}`);
    }
    if (unpermitted > 0)
      idProblems.push(
        `${countText(unpermitted)} flow(s) have no permission (${listText([...unpermittedCallers].sort())})`,
      );

    const segmentation = { inPlace: segProblems.length === 0, problems: segProblems };
    const ownership = { owned: ownProblems.length === 0, rules: rules.length, problems: ownProblems };
    const identity = { tight: idProblems.length === 0, problems: idProblems };
    let nextStep: NextStep;
    let reason: string;
    if (!segmentation.inPlace) {
      nextStep = 'zone-first';
      reason = `${segProblems[0]!}: separate the zones before microsegmenting`;
    } else if (flows === 0) {
      nextStep = 'observe';
      reason = 'no traffic observed: observe the service before writing its rules';
    } else if (anonymous.size > 0 || unmapped > 0) {
      nextStep = 'microsegment';
      const parts: string[] = [];
      if (unmapped > 0)
        parts.push(
          `${countText(unmapped)} of ${countText(flows)} flow(s) have no zone or flow rule (${listText([...unmappedCallers].sort())})`,
        );
      if (anonymous.size > 0 && unmapped === 0)
        parts.push(`${anonymous.size} caller(s) have no identity (${listText([...anonymous].sort())})`);
      reason = parts.join('; ');
    } else if (flowAllows.length === 0) {
      nextStep = 'microsegment';
      reason = `no flow rule names \`${name}\`: its callers pass on wider rules`;
    } else if (!identity.tight || !ownership.owned) {
      nextStep = 'tighten-identity';
      reason = [...idProblems, ...ownProblems][0]!;
    } else if (s.mode !== 'enforce') {
      nextStep = 'enforce';
      reason = `all ${countText(allowed)} observed flow(s) from ${countText(callers.size)} caller(s) allowed by owned rules: set \`mode: enforce\``;
    } else {
      nextStep = 'enforced';
      reason = `enforced: all ${countText(allowed)} observed flow(s) allowed by owned rules`;
    }
    const readiness: ServiceReadiness = {
      service: name,
      zone: s.zone,
      mode: s.mode,
      dependencies: {
        flows,
        callers: callers.size,
        allowed,
        coverage: flows ? allowed / flows : null,
        callersWithoutIdentity: anonymous.size,
        unmapped,
        unpermitted,
      },
      segmentation,
      ownership,
      identity,
      nextStep,
      reason,
    };
    if (owner !== undefined) readiness.owner = owner;
    out.push(readiness);
  }
  const summary = Object.fromEntries(NEXT_STEPS.map((step) => [step, 0])) as Record<NextStep, number>;
  for (const r of out) summary[r.nextStep]++;
  return {
    apiVersion: 'gatehouse.dev/v1',
    kind: READINESS_REPORT_KIND,
    window:
      flowGroups.records > 0
        ? { first: new Date(flowGroups.first).toISOString(), last: new Date(flowGroups.last).toISOString() }
        : null,
    zones,
    services: out,
    summary,
  };
}

/** Why a permission allow rule is wide, or undefined when it is narrow. */
function wideness(r: PermissionRule): string | undefined {
  if (r.from === '*') return 'allows any caller';
  if (r.to.services === '*') return 'applies to every service';
  if (r.actions.length === 0) return 'allows every action';
  for (const a of r.actions) {
    if (a.operations.length) continue;
    if (a.paths.some((p) => p === '/**' || p === '/*'))
      return `allows every path (\`${a.paths.join(', ')}\`)`;
    if (a.prefixes.some((p) => p === '/' || p === '')) return 'allows every path (prefix `/`)';
    if (a.paths.length === 0 && a.prefixes.length === 0) return 'allows every path';
  }
  return undefined;
}
