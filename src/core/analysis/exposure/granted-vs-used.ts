/**
 * Granted versus used: per identity, what the policy grants it (services it
 * can reach, permission rules that apply to it) against what the decision log
 * shows it used in a window; and a tightened policy that removes what nobody
 * used — rules never matched by an allowed decision, services a rule names
 * that no allowed decision reached through it, selector terms no caller
 * matched, and "every action" narrowed to the methods seen.
 *
 * INVARIANT: every request allowed in the window is still allowed by the
 * proposal under the same conditions: only allow rules shrink, and each keeps
 * every service, selector term and method some allowed request used. Labels
 * are the inventory's; labels an enforcement point added to a request are
 * not in the log, so check the proposal before applying it.
 */
import { stringify } from 'yaml';
import { compileSelector, type SourceMatcher } from '../../decision/matchers.js';
import { tryParseSpiffeId } from '../../identity/spiffe-id.js';
import { checkPolicy } from '../../policy/check.js';
import type { FlowRule, PermissionRule } from '../../policy/model.js';
import type { PolicyProblem } from '../../policy/problem.js';
import type { ActivityCollector, IdentityActivity } from './activity.js';
import type { Estate, EstateIdentity } from './estate.js';
import type { ServiceReach } from './reachability.js';
import { isoTime } from './format.js';
import { policyToDocument } from './policy-document.js';
import { ALL_PORTS, contains, portsOf, union, formatPorts, type PortSet } from './port-set.js';
import { parseUtcTime } from '../../utc-time.js';

export interface GrantedService {
  service: string;
  ports: string;
  zoneRules: readonly string[];
  flowRules: readonly string[];
  permissionRules: readonly string[];
  /** Every grant on the service has a condition. */
  conditional: boolean;
}

export interface GrantedRule {
  rule: string;
  services: readonly string[];
  /** The rule allows every action. */
  everyAction: boolean;
  when?: string;
}

export interface IdentityPrivileges {
  spiffeId: string;
  /** Decisions about it in the window. */
  records: number;
  granted: { services: readonly GrantedService[]; permissionRules: readonly GrantedRule[] };
  used: { services: readonly string[]; permissionRules: readonly string[] };
  /** Services it can reach but never contacted (no request at all). */
  unusedServices: readonly GrantedService[];
  /** Permission rules that apply to it but never allowed one of its requests. */
  unusedPermissionRules: readonly GrantedRule[];
  /** Rules it used that allow every action, with the methods it actually used. */
  broadRules: readonly { rule: string; service: string; methods: readonly string[] }[];
}

const granted = new WeakMap<
  readonly ServiceReach[],
  { services: readonly GrantedService[]; permissionRules: readonly GrantedRule[] }
>();

/**
 * What a reach grants, by service and by permission rule. Identities that
 * reach the same (they share the array) share the answer.
 */
function grantedBy(reach: readonly ServiceReach[]): {
  services: readonly GrantedService[];
  permissionRules: readonly GrantedRule[];
} {
  const known = granted.get(reach);
  if (known) return known;
  const services = new Map<
    string,
    { ports: PortSet; zone: Set<string>; flow: Set<string>; perm: Set<string>; conditional: boolean }
  >();
  const rules = new Map<string, { services: Set<string>; everyAction: boolean; when?: string }>();
  for (const s of reach) {
    let g = services.get(s.service);
    if (!g)
      services.set(
        s.service,
        (g = { ports: [], zone: new Set(), flow: new Set(), perm: new Set(), conditional: true }),
      );
    g.ports = union(g.ports, s.ports);
    s.zone.rules.forEach((r) => g.zone.add(r));
    s.flowRules.forEach((r) => g.flow.add(r));
    g.conditional &&= s.conditional;
    for (const t of s.grants) {
      g.perm.add(t.rule);
      let r = rules.get(t.rule);
      if (!r) {
        r = { services: new Set(), everyAction: t.actions.length === 0 };
        if (t.when !== undefined) r.when = t.when;
        rules.set(t.rule, r);
      }
      r.services.add(s.service);
    }
  }
  const answer = {
    services: [...services].map(([service, g]) => ({
      service,
      ports: formatPorts(g.ports),
      zoneRules: [...g.zone],
      flowRules: [...g.flow],
      permissionRules: [...g.perm],
      conditional: g.conditional,
    })),
    permissionRules: [...rules].map(([rule, r]) => {
      const out: GrantedRule = { rule, services: [...r.services].sort(), everyAction: r.everyAction };
      if (r.when !== undefined) out.when = r.when;
      return out;
    }),
  };
  granted.set(reach, answer);
  return answer;
}

/** Declared zones (sorted) and those the log saw the identity call from, sorted; the declared list itself when the log adds none. */
function callerZones(declared: readonly string[], a: IdentityActivity | undefined): readonly string[] {
  let extra: string[] | undefined;
  if (a) for (const z of a.zones.keys()) if (!declared.includes(z)) (extra ??= []).push(z);
  if (!extra) return declared.length < 2 || isSorted(declared) ? declared : [...declared].sort();
  return [...new Set([...declared, ...extra])].sort();
}

function isSorted(list: readonly string[]): boolean {
  for (let i = 1; i < list.length; i++) if (list[i - 1]! > list[i]!) return false;
  return true;
}

/** What one identity is granted and what it used, from its own zones and those it called from. */
export function identityPrivileges(
  estate: Estate,
  activity: ActivityCollector,
  spiffeId: string,
): IdentityPrivileges {
  return privilegesOf(estate, estate.identities.get(spiffeId), activity.identities.get(spiffeId), spiffeId);
}

/** {@link identityPrivileges} for an identity whose estate entry and activity are already looked up. */
export function privilegesOf(
  estate: Estate,
  id: EstateIdentity | undefined,
  a: IdentityActivity | undefined,
  spiffeId: string,
): IdentityPrivileges {
  const declared = id?.zones ?? [];
  const zones = callerZones(declared, a);
  const reach = estate.reachOf(id, spiffeId, zones, { includeUnenforced: false });
  const { services: granted, permissionRules: grantedRules } = grantedBy(reach.services);
  const usedServices: string[] = [];
  const usedRules: string[] = [];
  if (a) {
    for (const [s, u] of a.services) if (u.requests > 0) usedServices.push(s);
    usedServices.sort();
    for (const r of a.permissionRules.keys()) usedRules.push(r);
    usedRules.sort();
  }
  const broadRules: IdentityPrivileges['broadRules'][number][] = [];
  for (const r of grantedRules) {
    if (!r.everyAction || !a) continue;
    for (const [service, u] of a.permissionRules.get(r.rule)?.services ?? [])
      broadRules.push({ rule: r.rule, service, methods: [...u.methods].filter(Boolean).sort() });
  }
  return {
    spiffeId,
    records: a?.records ?? 0,
    granted: { services: granted, permissionRules: grantedRules },
    used: { services: usedServices, permissionRules: usedRules },
    unusedServices: granted.filter((g) => !usedServices.includes(g.service)),
    unusedPermissionRules: grantedRules.filter((r) => !usedRules.includes(r.rule)),
    broadRules,
  };
}

export interface PolicyChange {
  rule: string;
  layer: 'flow' | 'permission';
  change: 'removed' | 'services' | 'selector' | 'actions';
  /** One line: what changed and why. */
  detail: string;
}

export interface TightenedPolicy {
  /** The whole tightened policy as one v1 document. */
  document: Record<string, unknown>;
  /** The same as YAML, with a header saying where it comes from. */
  yaml: string;
  changes: readonly PolicyChange[];
  /** `gatehouse check` of the proposal: errors must be empty. */
  check: { errors: readonly PolicyProblem[]; warnings: readonly PolicyProblem[]; revision?: string };
}

interface RuleUse {
  services: Set<string>;
  terms: Set<number>;
  methods: Set<string>;
  methodless: boolean;
  /** Some use could not be traced to a selector term (labels the log does not carry): keep the selector. */
  unattributed: boolean;
}

/** The tightened policy that removes what the log window shows nobody used. */
export function proposeTightenedPolicy(
  estate: Estate,
  activity: ActivityCollector,
  options: { file?: string } = {},
): TightenedPolicy {
  const policy = estate.policy;
  const live = (r: { expires?: string }) => r.expires === undefined || parseUtcTime(r.expires) > estate.now;
  const use = new Map<string, RuleUse>();
  const useOf = (id: string) => {
    let u = use.get(id);
    if (!u)
      use.set(
        id,
        (u = {
          services: new Set(),
          terms: new Set(),
          methods: new Set(),
          methodless: false,
          unattributed: false,
        }),
      );
    return u;
  };
  const termMatchers = new Map<string, SourceMatcher[]>();
  const markTerms = (rule: FlowRule | PermissionRule, u: RuleUse, facts: Parameters<SourceMatcher>[0]) => {
    if (rule.from === '*') return;
    let any = false;
    compileSelectorCached(rule, termMatchers).forEach((m, i) => {
      if (m(facts)) {
        any = true;
        u.terms.add(i);
      }
    });
    if (!any) u.unattributed = true;
  };
  const permissions = new Map(policy.permissions.map((r) => [r.id, r]));
  const flowsFor = new Map<string, FlowRule[]>();
  const anyService: FlowRule[] = [];
  for (const r of policy.flows) {
    if (r.effect !== 'allow' || !live(r)) continue;
    if (r.to.services === '*') anyService.push(r);
    else for (const s of r.to.services) flowsFor.set(s, [...(flowsFor.get(s) ?? []), r]);
  }

  for (const a of activity.identities.values()) {
    const parsed = tryParseSpiffeId(a.spiffeId);
    if (!parsed) continue;
    const labels = estate.identities.get(a.spiffeId)?.labels ?? {};
    const facts = (zone: string) => ({
      spiffeId: a.spiffeId,
      trustDomain: parsed.trustDomain,
      path: parsed.path,
      labels,
      zone,
    });
    for (const [ruleId, ru] of a.permissionRules) {
      const rule = permissions.get(ruleId);
      if (!rule) continue;
      const u = useOf(ruleId);
      for (const [service, s] of ru.services) {
        u.services.add(service);
        for (const m of s.methods) if (m) u.methods.add(m);
        if (s.methods.has('')) u.methodless = true;
        for (const zone of s.zones) markTerms(rule, u, facts(zone));
      }
    }
    for (const [service, su] of a.services) {
      const svc = estate.service(service);
      const candidates = [...(flowsFor.get(service) ?? []), ...anyService];
      for (const at of su.allowedAt) {
        const [zone, portText] = at.split('\u0000') as [string, string];
        const port = Number(portText);
        const f = facts(zone);
        const onPort = candidates.filter((rule) => {
          const ports: PortSet =
            rule.to.services === '*' ? portsOf(rule.to.ports) : portsOf(rule.to.ports ?? svc?.ports);
          return port === 0 ? ports === ALL_PORTS : contains(ports, port);
        });
        const matched = onPort.filter(
          (rule) => rule.from === '*' || compileSelectorCached(rule, termMatchers).some((m) => m(f)),
        );
        // The request was allowed, so some flow rule matched it; when the inventory's labels
        // cannot tell which, every rule that could have is kept as it is.
        for (const rule of matched.length ? matched : onPort) {
          const u = useOf(rule.id);
          u.services.add(service);
          markTerms(rule, u, f);
        }
      }
    }
  }

  const doc = policyToDocument(policy);
  const changes: PolicyChange[] = [];
  const window = activity.summary();
  const span = window.records
    ? `between ${isoTime(window.first!)} and ${isoTime(window.last!)}`
    : 'in an empty log window';
  const tighten = (
    layer: 'flow' | 'permission',
    rules: readonly (FlowRule | PermissionRule)[],
    docs: Record<string, unknown>[],
  ) => {
    const keep: Record<string, unknown>[] = [];
    rules.forEach((rule, i) => {
      const d = docs[i]!;
      if (rule.effect !== 'allow') return void keep.push(d);
      const u = use.get(rule.id);
      if (!u) {
        changes.push({
          rule: rule.id,
          layer,
          change: 'removed',
          detail: live(rule)
            ? `no allowed decision ${span} used it`
            : `it expired on ${rule.expires} and matches nothing`,
        });
        return;
      }
      if (rule.to.services !== '*') {
        const kept = rule.to.services.filter((s) => u.services.has(s));
        if (kept.length < rule.to.services.length) {
          (d.to as Record<string, unknown>).services = kept;
          const dropped = rule.to.services.filter((s) => !u.services.has(s));
          changes.push({
            rule: rule.id,
            layer,
            change: 'services',
            detail: `drops ${dropped.map((s) => `\`${s}\``).join(', ')}: nobody reached ${dropped.length > 1 ? 'them' : 'it'} through this rule`,
          });
        }
      }
      if (rule.from !== '*' && !u.unattributed && u.terms.size < rule.from.length) {
        const from = d.from as unknown[];
        d.from = from.filter((_, t) => u.terms.has(t));
        const dropped = from.filter((_, t) => !u.terms.has(t)).map((t) => JSON.stringify(t));
        changes.push({
          rule: rule.id,
          layer,
          change: 'selector',
          detail: `drops selector term${dropped.length > 1 ? 's' : ''} ${dropped.join(', ')}: no caller matched ${dropped.length > 1 ? 'them' : 'it'}`,
        });
      }
      if (rule.layer === 'permission' && rule.actions.length === 0 && !u.methodless && u.methods.size) {
        const methods = [...u.methods].sort();
        d.actions = [{ methods }];
        changes.push({
          rule: rule.id,
          layer,
          change: 'actions',
          detail: `every action narrowed to the methods used: ${methods.join(', ')}`,
        });
      }
      keep.push(d);
    });
    return keep;
  };
  doc.flows = tighten('flow', policy.flows, doc.flows as Record<string, unknown>[]);
  doc.permissions = tighten('permission', policy.permissions, doc.permissions as Record<string, unknown>[]);

  const file = options.file ?? 'tightened-policy.yaml';
  const header =
    `# Proposed by \`gatehouse privileges\` from ${window.records} decision(s) ${span},\n` +
    `# against policy ${policy.revision}: ${changes.length} change(s). Review before applying.\n`;
  const yaml = header + stringify(doc, { lineWidth: 0 });
  const checked = checkPolicy([{ file, text: yaml }], { now: estate.now });
  const check: TightenedPolicy['check'] = { errors: checked.errors, warnings: checked.warnings };
  if (checked.policy) check.revision = checked.policy.revision;
  return { document: doc, yaml, changes, check };
}

function compileSelectorCached(
  rule: FlowRule | PermissionRule,
  cache: Map<string, SourceMatcher[]>,
): SourceMatcher[] {
  let ms = cache.get(rule.id);
  if (!ms && rule.from !== '*') cache.set(rule.id, (ms = rule.from.map((t) => compileSelector([t]))));
  return ms ?? [];
}

export interface PrivilegeReport {
  window: { records: number; first?: string; last?: string };
  identities: readonly IdentityPrivileges[];
  proposal: TightenedPolicy;
}

/** Granted versus used for every identity that is granted something or was seen, and the tightened policy. */
export function grantedVsUsed(
  estate: Estate,
  activity: ActivityCollector,
  options: { file?: string } = {},
): PrivilegeReport {
  const ids = new Set([...estate.identities.keys(), ...activity.identities.keys()]);
  const identities = [...ids]
    .sort()
    .map((id) => identityPrivileges(estate, activity, id))
    .filter((p) => p.granted.services.length || p.records);
  const w = activity.summary();
  const window: PrivilegeReport['window'] = { records: w.records };
  if (w.first !== undefined) window.first = isoTime(w.first);
  if (w.last !== undefined) window.last = isoTime(w.last);
  return { window, identities, proposal: proposeTightenedPolicy(estate, activity, options) };
}
