/**
 * Simulate: observed traffic replayed against a candidate policy, and against
 * the current one, before the candidate is enforced. Answers:
 *
 * - coverage: the share of observed flows (to declared services) the
 *   candidate allows;
 * - what it would break: every denied flow, grouped by service and by the
 *   rule that is missing (or the deny rule that denies it), with the exact
 *   flows and a rule that would admit them;
 * - what it newly allows: flows the current policy denies and the candidate
 *   allows, and the rules added, removed or changed;
 * - a promotion verdict per service: ready for enforce, or not and why.
 *
 * A flow denied by an explicit deny rule is denied as intended: it counts
 * against coverage but does not hold a service back. Any other denial — no
 * rule, a condition that could not be evaluated, a caller without identity —
 * is a break.
 */
import type { ConditionFailure, DecisionReason } from '../../decision/decision.js';
import type { LayerName, Policy, RolloutMode, Rule } from '../../policy/model.js';
import type { FlowRecord } from '../flows/flow-record.js';
import { actionText, countText } from './map-text.js';
import { PathTemplates, templatePath } from './path-template.js';
import {
  FlowGroups,
  PolicyReplayer,
  hasAction,
  type FlowGroup,
  type ReplayOptions,
  type ReplayVerdict,
} from './replay.js';
import { ruleIdFor, shortIdentity } from './rule-names.js';

export const SIMULATION_REPORT_KIND = 'SimulationReport';

export interface SimulateOptions extends ReplayOptions {
  candidate: Policy;
  /** The policy in force, to compare with. */
  current?: Policy;
  /** Report only these services (every flow is still replayed). */
  services?: readonly string[];
  /** Flows a service needs to have been observed before it can be ready (default 1). */
  minFlows?: number;
  /** Flows listed per break or change group (default 20); the rest are counted. */
  maxFlowsPerGroup?: number;
}

export interface FlowEndpointView {
  spiffeId?: string;
  ip?: string;
  zone: string;
}

/** One distinct flow as reports list it. */
export interface ReplayedFlow {
  source: FlowEndpointView;
  service: string;
  port?: number;
  protocol: string;
  action?: { method?: string; path?: string; examplePath?: string; operation?: string };
  flows: number;
  firstSeen: string;
  lastSeen: string;
  /** How the current policy judges it, when one was given. */
  current?: 'allow' | 'deny';
}

export interface BreakGroup {
  service: string;
  layer: LayerName;
  reason: DecisionReason;
  /** Deny rules that deny it (`deny_rule`); empty when nothing allows it. */
  rules: string[];
  /** Denied on purpose by a deny rule: not a break that holds the service back. */
  intended: boolean;
  /** What is missing, in one line: `flow rule /ns/pay/sa/refund-worker → payments:8443`. */
  missing: string;
  /** Rules (YAML flow style) that would admit these flows, when they can be written. */
  fixes: string[];
  /** Conditions that failed to evaluate on these flows: `perm-x: no such key: mtls`. */
  conditionErrors: string[];
  flows: number;
  callers: string[];
  /** Flows of the group the current policy denies too. */
  alreadyDenied: number;
  examples: ReplayedFlow[];
  /** Distinct flows not listed in `examples`. */
  moreExamples: number;
}

export interface NewlyAllowedGroup {
  service: string;
  /** The candidate rules that allow these flows. */
  rules: string[];
  flows: number;
  callers: string[];
  examples: ReplayedFlow[];
  moreExamples: number;
}

export type PromotionVerdict = 'ready' | 'enforced' | 'not-ready' | 'no-traffic';

export interface ServicePromotion {
  service: string;
  mode: RolloutMode;
  currentMode?: RolloutMode;
  flows: number;
  allowed: number;
  /** Allowed share of the service's flows, 0 to 1; null without traffic. */
  coverage: number | null;
  /** Flows denied other than by a deny rule. */
  broken: number;
  /** Flows denied by deny rules, as intended. */
  deniedByRule: number;
  callers: number;
  callersWithoutIdentity: number;
  verdict: PromotionVerdict;
  /** Why, in one line. */
  reason: string;
}

export interface PolicyTotals {
  revision: string;
  allowed: number;
  denied: number;
  deniedByRule: number;
  /** Allowed share of the replayed flows, 0 to 1; null when none was replayed. */
  coverage: number | null;
}

export interface RuleChanges {
  added: string[];
  removed: string[];
  changed: string[];
  modes: { service: string; from: RolloutMode | null; to: RolloutMode | null }[];
}

export interface SimulationReport {
  apiVersion: 'gatehouse.dev/v1';
  kind: typeof SIMULATION_REPORT_KIND;
  window: { first: string; last: string } | null;
  totals: {
    records: number;
    flows: number;
    /** Distinct flows, each decided once per policy. */
    distinct: number;
    /** Flows to declared services: what coverage is measured on. */
    replayed: number;
    /** Flows to endpoints that are no declared service: no policy governs them. */
    notReplayed: number;
  };
  candidate: PolicyTotals;
  current: PolicyTotals | null;
  services: ServicePromotion[];
  breaks: BreakGroup[];
  newlyAllowed: NewlyAllowedGroup[];
  ruleChanges: RuleChanges | null;
}

interface Judged {
  group: FlowGroup;
  candidate: ReplayVerdict;
  current: ReplayVerdict | undefined;
}

/** Streams flow records into a simulation; `finish()` replays and reports. */
export class Simulation {
  private readonly groups: FlowGroups;

  constructor(private readonly options: SimulateOptions) {
    this.groups = new FlowGroups(
      options.current ? [options.candidate, options.current] : [options.candidate],
    );
  }

  add(record: FlowRecord): void {
    this.groups.add(record);
  }

  finish(): SimulationReport {
    const o = this.options;
    const replayOptions: ReplayOptions = { now: o.now, ...(o.context ? { context: o.context } : {}) };
    const candidate = new PolicyReplayer(o.candidate, replayOptions);
    const current = o.current ? new PolicyReplayer(o.current, replayOptions) : undefined;
    const judged: Judged[] = this.groups.groups().map((group) => ({
      group,
      candidate: candidate.judge(group),
      current: current?.judge(group),
    }));
    const g = this.groups;
    const replayed = g.flows - g.unattributed.flows;
    const only = o.services ? new Set(o.services) : undefined;
    const shown = only ? judged.filter((j) => only.has(j.group.service)) : judged;
    const max = o.maxFlowsPerGroup ?? 20;
    const trustDomain = o.candidate.trustDomain;
    return {
      apiVersion: 'gatehouse.dev/v1',
      kind: SIMULATION_REPORT_KIND,
      window:
        g.records > 0
          ? { first: new Date(g.first).toISOString(), last: new Date(g.last).toISOString() }
          : null,
      totals: {
        records: g.records,
        flows: g.flows,
        distinct: g.size,
        replayed,
        notReplayed: g.unattributed.flows,
      },
      candidate: policyTotals(o.candidate, judged, (j) => j.candidate),
      current: o.current ? policyTotals(o.current, judged, (j) => j.current!) : null,
      services: promotions(o, shown, trustDomain),
      breaks: breakGroups(shown, max, trustDomain),
      newlyAllowed: current ? newlyAllowed(shown, max) : [],
      ruleChanges: o.current ? ruleChanges(o.current, o.candidate) : null,
    };
  }
}

/** Simulates over records already in hand: the pure form for an HTTP route or a test. */
export function simulate(records: Iterable<FlowRecord>, options: SimulateOptions): SimulationReport {
  const s = new Simulation(options);
  for (const r of records) s.add(r);
  return s.finish();
}

function policyTotals(
  policy: Policy,
  judged: readonly Judged[],
  pick: (j: Judged) => ReplayVerdict,
): PolicyTotals {
  let allowed = 0;
  let denied = 0;
  let deniedByRule = 0;
  for (const j of judged) {
    const v = pick(j);
    if (v.allowed) allowed += j.group.flows;
    else {
      denied += j.group.flows;
      if (v.reason === 'deny_rule') deniedByRule += j.group.flows;
    }
  }
  const total = allowed + denied;
  return {
    revision: policy.revision,
    allowed,
    denied,
    deniedByRule,
    coverage: total ? allowed / total : null,
  };
}

function view(g: FlowGroup, v: ReplayVerdict, current: ReplayVerdict | undefined): ReplayedFlow {
  const source: FlowEndpointView = { zone: v.sourceZone };
  if (g.spiffeId !== undefined) source.spiffeId = g.spiffeId;
  if (g.ip !== undefined) source.ip = g.ip;
  const out: ReplayedFlow = {
    source,
    service: g.service,
    protocol: g.protocol,
    flows: g.flows,
    firstSeen: new Date(g.first).toISOString(),
    lastSeen: new Date(g.last).toISOString(),
  };
  if (g.port !== undefined) out.port = g.port;
  if (hasAction(g)) {
    const action: NonNullable<ReplayedFlow['action']> = {};
    if (g.method !== undefined) action.method = g.method;
    if (g.path !== undefined) action.path = g.path;
    if (g.examplePath !== undefined && g.examplePath !== g.path) action.examplePath = g.examplePath;
    if (g.operation !== undefined) action.operation = g.operation;
    out.action = action;
  }
  if (current) out.current = current.allowed ? 'allow' : 'deny';
  return out;
}

/**
 * The distinct flows of a group as reports list them: the same caller, port and
 * action from several addresses of one identity is one line. Most flows first.
 */
function examples(members: readonly Judged[]): ReplayedFlow[] {
  const merged = new Map<string, ReplayedFlow>();
  for (const m of members) {
    const g = m.group;
    const key = [g.spiffeId ?? g.ip, m.candidate.sourceZone, g.port, g.method, g.path, g.operation].join(
      '\u0001',
    );
    const seen = merged.get(key);
    if (!seen) {
      const v = view(g, m.candidate, m.current);
      if (g.spiffeId !== undefined) delete v.source.ip;
      merged.set(key, v);
      continue;
    }
    seen.flows += g.flows;
    const first = new Date(g.first).toISOString();
    const last = new Date(g.last).toISOString();
    if (first < seen.firstSeen) seen.firstSeen = first;
    if (last > seen.lastSeen) seen.lastSeen = last;
  }
  return [...merged.values()].sort((a, b) => b.flows - a.flows || a.firstSeen.localeCompare(b.firstSeen));
}

function callerOf(g: FlowGroup): string {
  return g.spiffeId ?? g.ip ?? `unknown in ${g.sourceZone}`;
}

function failureText(f: ConditionFailure): string {
  return `${f.ruleId}: ${f.error}`;
}

/** A one-line YAML flow-style list. */
function yamlList(items: readonly (string | number)[]): string {
  return `[${items.map((i) => (typeof i === 'number' ? String(i) : yamlScalar(i))).join(', ')}]`;
}

function yamlScalar(s: string): string {
  return /^[A-Za-z0-9_./:-]+$/.test(s) && !/^[0-9]/.test(s) ? s : `'${s.replace(/'/g, "''")}'`;
}

/** Where a break lies and what would admit it: its group key, the missing piece and a fix. */
function gap(
  g: FlowGroup,
  v: ReplayVerdict,
  trustDomain: string,
): { key: string; missing: string; fix?: string } {
  const caller = callerOf(g);
  const who = shortIdentity(caller, trustDomain);
  const port = g.port === undefined ? '' : `:${g.port}`;
  if (v.reason === 'deny_rule')
    return {
      key: `deny ${v.rules.join(',')}`,
      missing: `denied by ${v.rules.map((r) => `\`${r}\``).join(', ')}`,
    };
  switch (v.layer) {
    case 'credential':
      if (v.reason === 'identity_missing' || v.reason === 'identity_invalid')
        return {
          key: 'identity',
          missing: 'an identity for the caller: register its address in the inventory',
        };
      return { key: v.reason, missing: `a trusted credential (${v.reason.replace(/_/g, ' ')})` };
    case 'zone':
      return {
        key: `zone ${v.sourceZone}>${v.destinationZone}`,
        missing: `segmentation rule ${v.sourceZone} → ${v.destinationZone}`,
        fix: `{ id: ${ruleIdFor('seg', v.sourceZone, v.destinationZone)}, effect: allow, from: [${v.sourceZone}], to: [${v.destinationZone}] }`,
      };
    case 'flow': {
      const ports = g.port === undefined ? '' : `, ports: [${g.port}]`;
      return {
        key: `flow ${caller}${port}`,
        missing: `flow rule ${who} → ${g.service}${port}`,
        ...(g.spiffeId !== undefined
          ? {
              fix: `{ id: ${ruleIdFor('flow', who, g.service)}, effect: allow, from: [${g.spiffeId}], to: { service: ${g.service}${ports} } }`,
            }
          : {}),
      };
    }
    case 'permission':
      if (v.reason === 'request_invalid')
        return { key: 'request_invalid', missing: 'a request path that can be normalized' };
      return { key: `permission ${caller}`, missing: `permission rule ${who} → ${g.service}` };
  }
}

function breakGroups(judged: readonly Judged[], max: number, trustDomain: string): BreakGroup[] {
  const groups = new Map<string, { group: BreakGroup; members: Judged[]; errors: Set<string> }>();
  for (const j of judged) {
    const v = j.candidate;
    if (v.allowed) continue;
    const where = gap(j.group, v, trustDomain);
    const key = `${j.group.service}\u0001${v.layer}\u0001${where.key}`;
    let entry = groups.get(key);
    if (!entry) {
      const group: BreakGroup = {
        service: j.group.service,
        layer: v.layer,
        reason: v.reason,
        rules: v.reason === 'deny_rule' ? [...v.rules] : [],
        intended: v.reason === 'deny_rule',
        missing: where.missing,
        fixes: where.fix !== undefined ? [where.fix] : [],
        conditionErrors: [],
        flows: 0,
        callers: [],
        alreadyDenied: 0,
        examples: [],
        moreExamples: 0,
      };
      entry = { group, members: [], errors: new Set() };
      groups.set(key, entry);
    }
    entry.members.push(j);
    entry.group.flows += j.group.flows;
    if (j.current && !j.current.allowed) entry.group.alreadyDenied += j.group.flows;
    for (const e of v.errors) entry.errors.add(failureText(e));
  }
  const out: BreakGroup[] = [];
  for (const { group, members, errors } of groups.values()) {
    group.callers = [...new Set(members.map((m) => callerOf(m.group)))].sort();
    group.conditionErrors = [...errors].sort();
    const shown = examples(members);
    group.examples = shown.slice(0, max);
    group.moreExamples = Math.max(0, shown.length - max);
    const first = members[0]!.group;
    // Permissions are judged too when the flow layer denies: say at once what both need.
    const unpermitted =
      group.reason === 'default_deny' && (group.layer === 'permission' || group.layer === 'flow')
        ? members.filter((m) => hasAction(m.group) && !m.candidate.permissionAllows)
        : [];
    if (unpermitted.length && first.spiffeId !== undefined) {
      const actions = [...new Set(unpermitted.map((m) => actionText(m.group)))];
      const list = `${actions.slice(0, 3).join(', ')}${actions.length > 3 ? ` +${actions.length - 3}` : ''}`;
      group.missing += group.layer === 'flow' ? ` and a permission rule for ${list}` : `: ${list}`;
      group.fixes.push(permissionFix(first.spiffeId, first.service, unpermitted, trustDomain));
    }
    if (group.conditionErrors.length && group.reason === 'default_deny')
      group.missing += ` (a condition failed to evaluate: ${group.conditionErrors[0]})`;
    out.push(group);
  }
  return out.sort(
    (a, b) =>
      Number(a.intended) - Number(b.intended) ||
      a.service.localeCompare(b.service) ||
      b.flows - a.flows ||
      a.missing.localeCompare(b.missing),
  );
}

/** A permission rule admitting a caller's denied actions, paths generalised to templates. */
function permissionFix(
  spiffeId: string,
  service: string,
  members: readonly Judged[],
  trustDomain: string,
): string {
  const templates = new PathTemplates();
  for (const m of members) if (m.group.path !== undefined) templates.add(templatePath(m.group.path));
  const byPath = new Map<string, Set<string>>();
  const operations = new Set<string>();
  for (const m of members) {
    const g = m.group;
    if (g.path === undefined) {
      if (g.operation !== undefined) operations.add(g.operation);
      continue;
    }
    const t = templates.templateOf(templatePath(g.path));
    const methods = byPath.get(t) ?? new Set();
    methods.add(g.method ?? '*');
    byPath.set(t, methods);
  }
  const actions: string[] = [];
  const byMethods = new Map<string, string[]>();
  for (const [path, methods] of byPath) {
    const key = [...methods].sort().join(',');
    (byMethods.get(key) ?? byMethods.set(key, []).get(key)!).push(path);
  }
  for (const [methods, paths] of [...byMethods].sort(([a], [b]) => a.localeCompare(b))) {
    const m = methods.split(',');
    const methodsPart = m.includes('*') ? '' : `methods: ${yamlList(m)}, `;
    actions.push(`{ ${methodsPart}paths: ${yamlList(paths.sort())} }`);
  }
  if (operations.size) actions.push(`{ operations: ${yamlList([...operations].sort())} }`);
  const who = shortIdentity(spiffeId, trustDomain);
  return `{ id: ${ruleIdFor('perm', who, service)}, effect: allow, from: [${spiffeId}], to: { service: ${service} }, actions: [${actions.join(', ')}] }`;
}

function newlyAllowed(judged: readonly Judged[], max: number): NewlyAllowedGroup[] {
  const groups = new Map<string, { group: NewlyAllowedGroup; members: Judged[] }>();
  for (const j of judged) {
    if (!j.candidate.allowed || !j.current || j.current.allowed) continue;
    const rules = [...j.candidate.rules].sort();
    const key = `${j.group.service}\u0001${rules.join(',')}`;
    let entry = groups.get(key);
    if (!entry) {
      entry = {
        group: { service: j.group.service, rules, flows: 0, callers: [], examples: [], moreExamples: 0 },
        members: [],
      };
      groups.set(key, entry);
    }
    entry.members.push(j);
    entry.group.flows += j.group.flows;
  }
  const out = [...groups.values()].map(({ group, members }) => {
    group.callers = [...new Set(members.map((m) => callerOf(m.group)))].sort();
    const shown = examples(members);
    group.examples = shown.slice(0, max);
    group.moreExamples = Math.max(0, shown.length - max);
    return group;
  });
  return out.sort((a, b) => a.service.localeCompare(b.service) || b.flows - a.flows);
}

function promotions(o: SimulateOptions, judged: readonly Judged[], trustDomain: string): ServicePromotion[] {
  const minFlows = o.minFlows ?? 1;
  const currentModes = new Map(o.current?.services.map((s) => [s.name, s.mode]) ?? []);
  const names = o.services ? [...o.services] : o.candidate.services.map((s) => s.name);
  const byService = new Map<string, Judged[]>();
  for (const j of judged) {
    const list = byService.get(j.group.service);
    if (list) list.push(j);
    else byService.set(j.group.service, [j]);
  }
  const modes = new Map(o.candidate.services.map((s) => [s.name, s.mode]));
  return [...new Set(names)].sort().map((service) => {
    const members = byService.get(service) ?? [];
    let flows = 0;
    let allowed = 0;
    let broken = 0;
    let deniedByRule = 0;
    const callers = new Set<string>();
    const anonymous = new Set<string>();
    const gaps = new Map<string, { missing: string; flows: number; callers: Set<string> }>();
    for (const j of members) {
      const g = j.group;
      flows += g.flows;
      callers.add(callerOf(g));
      if (g.spiffeId === undefined) anonymous.add(callerOf(g));
      const v = j.candidate;
      if (v.allowed) allowed += g.flows;
      else if (v.reason === 'deny_rule') deniedByRule += g.flows;
      else {
        broken += g.flows;
        const where = gap(g, v, trustDomain);
        const known = gaps.get(where.key);
        if (known) {
          known.flows += g.flows;
          known.callers.add(callerOf(g));
        } else
          gaps.set(where.key, { missing: where.missing, flows: g.flows, callers: new Set([callerOf(g)]) });
      }
    }
    const mode = modes.get(service) ?? 'enforce';
    const p: ServicePromotion = {
      service,
      mode,
      flows,
      allowed,
      coverage: flows ? allowed / flows : null,
      broken,
      deniedByRule,
      callers: callers.size,
      callersWithoutIdentity: anonymous.size,
      verdict: 'ready',
      reason: '',
    };
    const currentMode = currentModes.get(service);
    if (currentMode !== undefined) p.currentMode = currentMode;
    const intended = deniedByRule ? `; ${countText(deniedByRule)} denied by deny rules as intended` : '';
    if (flows === 0) {
      p.verdict = 'no-traffic';
      p.reason = 'no traffic observed: keep observing before enforcing';
    } else if (broken > 0) {
      p.verdict = 'not-ready';
      const worst = [...gaps.values()].sort((a, b) => b.flows - a.flows);
      const first = worst[0]!;
      const more = worst.length > 1 ? ` (+${worst.length - 1} more gap(s))` : '';
      const blocked = mode === 'enforce' ? ' — enforced now, so these are blocked' : '';
      p.reason = `would break ${countText(broken)} flow(s) from ${countText(new Set(worst.flatMap((w) => [...w.callers])).size)} caller(s): missing ${first.missing}${more}${blocked}`;
    } else if (flows < minFlows) {
      p.verdict = 'not-ready';
      p.reason = `only ${countText(flows)} flow(s) observed: need at least ${countText(minFlows)}`;
    } else if (mode === 'enforce') {
      p.verdict = 'enforced';
      p.reason = `enforced: all ${countText(allowed)} observed flow(s) from ${countText(callers.size)} caller(s) allowed${intended}`;
    } else {
      p.verdict = 'ready';
      p.reason = `ready for enforce: all ${countText(allowed)} observed flow(s) from ${countText(callers.size)} caller(s) allowed${intended}; set \`mode: enforce\``;
    }
    return p;
  });
}

function ruleKey(rule: Rule): string {
  const { location: _location, ...rest } = rule;
  return JSON.stringify(rest);
}

function ruleChanges(current: Policy, candidate: Policy): RuleChanges {
  const index = (p: Policy) =>
    new Map([...p.segmentation, ...p.flows, ...p.permissions].map((r) => [r.id, ruleKey(r)]));
  const before = index(current);
  const after = index(candidate);
  const added = [...after.keys()].filter((id) => !before.has(id)).sort();
  const removed = [...before.keys()].filter((id) => !after.has(id)).sort();
  const changed = [...after.keys()].filter((id) => before.has(id) && before.get(id) !== after.get(id)).sort();
  const beforeModes = new Map(current.services.map((s) => [s.name, s.mode]));
  const afterModes = new Map(candidate.services.map((s) => [s.name, s.mode]));
  const modes = [...new Set([...beforeModes.keys(), ...afterModes.keys()])]
    .sort()
    .filter((s) => beforeModes.get(s) !== afterModes.get(s))
    .map((service) => ({
      service,
      from: beforeModes.get(service) ?? null,
      to: afterModes.get(service) ?? null,
    }));
  return { added, removed, changed, modes };
}
