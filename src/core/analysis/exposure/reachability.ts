/**
 * Reachability: everything one identity can reach through the three rule
 * layers — the services, ports and actions the policy allows it, each with
 * the rules that allow it. Rules do not depend on the request beyond who
 * asks, from which zone, to which service and port and for which action, so
 * this is computed from the rules directly, as of one instant. Conditions
 * cannot be decided without a request: an allow with a `when` is reported as
 * conditional, never dropped, and a deny with a `when` as one that may apply.
 *
 * What one identity reaches depends only on its source zone and on which
 * rules its selectors match; identities that match the same rules from the
 * same zone share one computed answer.
 */
import {
  compileActions,
  compileSelector,
  type ActionFacts,
  type ActionMatcher,
  type SourceMatcher,
} from '../../decision/matchers.js';
import { tryParseSpiffeId, type SpiffeId } from '../../identity/spiffe-id.js';
import { hasWildcard } from '../../policy/glob.js';
import {
  UNKNOWN_ZONE,
  type ActionMatch,
  type Effect,
  type FlowRule,
  type PermissionRule,
  type Policy,
  type RolloutMode,
  type Selector,
  type Service,
} from '../../policy/model.js';
import { canonicalJson } from '../../policy/revision.js';
import { contains, intersect, portsOf, subtract, union, type PortSet } from './port-set.js';
import { parseUtcTime } from '../../utc-time.js';

export interface ReachSubject {
  spiffeId: string;
  /** The labels selectors see: the inventory's, with the policy's own workload labels winning. */
  labels: Readonly<Record<string, string>>;
  /** Zones the identity calls from; none means `unknown`. */
  zones: readonly string[];
  /** The SPIFFE ID parsed, when the caller keeps it (`null`: not a SPIFFE ID); parsed here otherwise. */
  parsed?: SpiffeId | null;
}

/** One permission rule as it applies to one service for one caller. */
export interface PermissionTerm {
  rule: string;
  /** Ports the rule covers on this service, within what the flow layer lets through. */
  ports: PortSet;
  /** Empty: every action. */
  actions: readonly ActionMatch[];
  when?: string;
}

export interface ZoneVerdict {
  allowed: boolean;
  /** The deciding segmentation rules: the denies on a deny, the allows on an allow; none on a default deny. */
  rules: readonly string[];
}

export interface ServiceReach {
  service: string;
  serviceZone: string;
  sourceZone: string;
  mode: RolloutMode;
  /** The policy lets some request through all three layers. */
  allowedByPolicy: boolean;
  /** Not in `enforce` mode: every request gets through, whatever the rules say. */
  unenforced: boolean;
  zone: ZoneVerdict;
  /** Ports the flow layer lets through. */
  ports: PortSet;
  flowRules: readonly string[];
  /** Flow deny rules that close some of the ports. */
  flowDenies: readonly string[];
  /** Allow rules of the permission layer, each within the flow ports. */
  grants: readonly PermissionTerm[];
  /** Deny rules of the permission layer that apply within the flow ports (always, or under their condition). */
  denies: readonly PermissionTerm[];
  /** Allow rules an unconditional deny always beats. */
  blocked: readonly { rule: string; by: string }[];
  /** Every grant has a condition: each request depends on it. */
  conditional: boolean;
}

export interface IdentityReach {
  spiffeId: string;
  /** A valid SPIFFE ID of the trust domain or a federated one; otherwise the credential layer denies it. */
  accepted: boolean;
  /** Ordered by service, then source zone. */
  services: readonly ServiceReach[];
}

export interface ReachOptions {
  /** Also list services not in `enforce` mode, which let every request through. Default true. */
  includeUnenforced?: boolean;
}

interface Target {
  service: Service;
  ports: PortSet;
}

interface IndexedRule {
  layer: 'flow' | 'permission';
  index: number;
  id: string;
  effect: Effect;
  source: SourceMatcher;
  targets: readonly Target[];
  actions: readonly ActionMatch[];
  when: string | undefined;
  seen: number;
}

interface RuleIndex {
  byId: Map<string, IndexedRule[]>;
  /** Label name → label value → rules. */
  byLabel: Map<string, Map<string, IndexedRule[]>>;
  always: IndexedRule[];
}

const NO_RULES: IndexedRule[] = [];

/** The subject's SPIFFE ID parsed: as the caller kept it, else parsed now. */
function parsedSubject(subject: ReachSubject): SpiffeId | undefined {
  return subject.parsed === undefined ? tryParseSpiffeId(subject.spiffeId) : (subject.parsed ?? undefined);
}
const UNKNOWN_ZONES: readonly string[] = [UNKNOWN_ZONE];

/** The positions of rules in their layer, as a cache key. */
function ruleKey(rules: readonly IndexedRule[]): string {
  let key = '';
  for (let i = 0; i < rules.length; i++) key += (i ? ',' : '') + rules[i]!.index;
  return key;
}

const push = <K, V>(map: Map<K, V[]>, key: K, value: V) => {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
};

/** Reachability over one policy as of one instant. Build once, ask for many identities. */
export class Reachability {
  readonly policy: Policy;
  readonly now: number;
  private readonly trustDomains: Set<string>;
  private readonly zoneVerdicts = new Map<string, ZoneVerdict>();
  private readonly flows: RuleIndex;
  private readonly permissions: RuleIndex;
  private readonly unenforced: Service[];
  private readonly cache = new Map<string, readonly ServiceReach[]>();
  private readonly combined = new Map<string, readonly ServiceReach[]>();
  /** The zone-free part of each answer, by the rules matched (see {@link base}). */
  private readonly bases = new Map<string, readonly BaseReach[]>();
  private stamp = 0;

  constructor(policy: Policy, now: number) {
    this.policy = policy;
    this.now = now;
    this.trustDomains = new Set([policy.trustDomain, ...policy.federatedTrustDomains]);
    this.unenforced = policy.services.filter((s) => s.mode !== 'enforce');
    const services = new Map(policy.services.map((s) => [s.name, s]));
    const live = (r: { expires?: string }) => r.expires === undefined || parseUtcTime(r.expires) > now;
    const selectors = new Map<string, SourceMatcher>();
    const build = (
      rules: readonly (FlowRule | PermissionRule)[],
      layer: 'flow' | 'permission',
    ): RuleIndex => {
      const index: RuleIndex = { byId: new Map(), byLabel: new Map(), always: [] };
      rules.forEach((rule, i) => {
        if (!live(rule)) return;
        const key = rule.from === '*' ? '*' : canonicalJson(rule.from);
        let source = selectors.get(key);
        if (!source) selectors.set(key, (source = compileSelector(rule.from)));
        const targets: Target[] = [];
        if (rule.to.services === '*') {
          const ports = portsOf(rule.to.ports);
          for (const service of policy.services) targets.push({ service, ports });
        } else {
          for (const name of rule.to.services) {
            const service = services.get(name);
            if (service) targets.push({ service, ports: portsOf(rule.to.ports ?? service.ports) });
          }
        }
        const indexed: IndexedRule = {
          layer,
          index: i,
          id: rule.id,
          effect: rule.effect,
          source,
          targets,
          actions: rule.layer === 'permission' ? rule.actions : [],
          when: rule.layer === 'permission' ? rule.when : undefined,
          seen: 0,
        };
        placeRule(index, rule.from, indexed);
      });
      return index;
    };
    this.flows = build(policy.flows, 'flow');
    this.permissions = build(policy.permissions, 'permission');
    this.liveSegmentation = policy.segmentation.filter(live);
  }

  private readonly liveSegmentation: Policy['segmentation'];

  /** The zone layer's verdict from one zone to another, as of `now`. */
  zoneVerdict(from: string, to: string): ZoneVerdict {
    const key = `${from}\u0000${to}`;
    let v = this.zoneVerdicts.get(key);
    if (v) return v;
    const allows: string[] = [];
    const denies: string[] = [];
    const holds = (side: '*' | string[], zone: string) =>
      side === '*'
        ? zone !== UNKNOWN_ZONE && this.policy.zones.some((z) => z.name === zone)
        : side.includes(zone);
    for (const r of this.liveSegmentation) {
      if (holds(r.from, from) && holds(r.to, to)) (r.effect === 'deny' ? denies : allows).push(r.id);
    }
    v = denies.length
      ? { allowed: false, rules: denies }
      : allows.length
        ? { allowed: true, rules: allows }
        : { allowed: false, rules: [] };
    this.zoneVerdicts.set(key, v);
    return v;
  }

  /** The flow and permission rules whose selectors match `subject` calling from `zone`. */
  matchingRules(
    subject: ReachSubject,
    zone: string,
  ): { flows: readonly string[]; permissions: readonly string[] } {
    const facts = this.facts(subject, zone);
    if (!facts) return { flows: [], permissions: [] };
    return {
      flows: this.candidates(this.flows, facts).map((r) => r.id),
      permissions: this.candidates(this.permissions, facts).map((r) => r.id),
    };
  }

  /** Everything `subject` reaches, from each of its zones. */
  of(subject: ReachSubject, options: ReachOptions = {}): IdentityReach {
    const { accepted, services } = this.servicesOf(subject, options);
    return { spiffeId: subject.spiffeId, accepted, services };
  }

  /**
   * What {@link of} lists, without the identity around it. Subjects that match
   * the same rules from the same zones get the same array: it must not be
   * changed.
   */
  servicesOf(
    subject: ReachSubject,
    options: ReachOptions = {},
  ): { accepted: boolean; services: readonly ServiceReach[] } {
    const includeUnenforced = options.includeUnenforced ?? true;
    const parsed = parsedSubject(subject);
    const accepted = parsed !== undefined && this.trustDomains.has(parsed.trustDomain);
    const zones = subject.zones.length ? subject.zones : UNKNOWN_ZONES;
    let combinedKey = includeUnenforced ? '' : '-';
    const parts: (readonly ServiceReach[])[] = [];
    for (const zone of zones) {
      let key = `${zone}\u0000${accepted}\u0000`;
      let flows: IndexedRule[] = NO_RULES;
      let permissions: IndexedRule[] = NO_RULES;
      let rulesKey = '|';
      if (accepted) {
        const facts = {
          spiffeId: subject.spiffeId,
          trustDomain: parsed.trustDomain,
          path: parsed.path,
          labels: subject.labels,
          zone,
        };
        flows = this.candidates(this.flows, facts);
        permissions = this.candidates(this.permissions, facts);
        rulesKey = ruleKey(flows) + '|' + ruleKey(permissions);
      }
      key += rulesKey;
      let reach = this.cache.get(key);
      if (!reach) {
        reach = this.compute(zone, accepted, flows, permissions, rulesKey);
        this.cache.set(key, reach);
      }
      parts.push(reach);
      combinedKey += `${key}\u0001`;
    }
    if (parts.length === 1 && includeUnenforced) return { accepted, services: parts[0]! };
    let services = this.combined.get(combinedKey);
    if (!services) {
      const out: ServiceReach[] = [];
      for (const reach of parts)
        for (const r of reach) if (includeUnenforced || r.allowedByPolicy) out.push(r);
      if (parts.length > 1)
        out.sort((a, b) =>
          a.service === b.service ? (a.sourceZone < b.sourceZone ? -1 : 1) : a.service < b.service ? -1 : 1,
        );
      services = out;
      this.combined.set(combinedKey, services);
    }
    return { accepted, services };
  }

  private facts(subject: ReachSubject, zone: string) {
    const parsed = parsedSubject(subject);
    if (!parsed) return undefined;
    return {
      spiffeId: subject.spiffeId,
      trustDomain: parsed.trustDomain,
      path: parsed.path,
      labels: subject.labels,
      zone,
    };
  }

  private candidates(index: RuleIndex, facts: Parameters<SourceMatcher>[0]): IndexedRule[] {
    const stamp = ++this.stamp;
    const out: IndexedRule[] = [];
    const visit = (list: IndexedRule[] | undefined) => {
      if (!list) return;
      for (const r of list) {
        if (r.seen === stamp) continue;
        r.seen = stamp;
        if (r.source(facts)) out.push(r);
      }
    };
    visit(index.byId.get(facts.spiffeId));
    for (const k in facts.labels) visit(index.byLabel.get(k)?.get(facts.labels[k]!));
    visit(index.always);
    return out.length > 1 ? out.sort((a, b) => a.index - b.index) : out;
  }

  private compute(
    zone: string,
    accepted: boolean,
    flows: readonly IndexedRule[],
    permissions: readonly IndexedRule[],
    rulesKey: string,
  ): readonly ServiceReach[] {
    let base = this.bases.get(rulesKey);
    if (!base) {
      base = this.base(flows, permissions);
      this.bases.set(rulesKey, base);
    }
    const out: ServiceReach[] = [];
    for (const b of base) {
      const zoneV = this.zoneVerdict(zone, b.service.zone);
      const allowedByPolicy = accepted && zoneV.allowed && b.ports.length > 0 && b.grants.length > 0;
      if (!allowedByPolicy && !b.unenforced) continue;
      out.push({
        service: b.service.name,
        serviceZone: b.service.zone,
        sourceZone: zone,
        mode: b.service.mode,
        allowedByPolicy,
        unenforced: b.unenforced,
        zone: zoneV,
        ports: b.unenforced && !allowedByPolicy ? b.servicePorts : b.ports,
        flowRules: b.flowRules,
        flowDenies: b.flowDenies,
        grants: b.grants,
        denies: b.denies,
        blocked: b.blocked,
        conditional: allowedByPolicy && b.allConditional,
      });
    }
    return out;
  }

  /**
   * What a set of matching rules gives on each service, whatever the zone
   * called from: only the zone layer's verdict depends on it, so identities
   * matching the same rules from different zones share this part. In
   * service order.
   */
  private base(flows: readonly IndexedRule[], permissions: readonly IndexedRule[]): readonly BaseReach[] {
    interface Bucket {
      fa: { id: string; ports: PortSet }[];
      fd: { id: string; ports: PortSet }[];
      pa: { rule: IndexedRule; ports: PortSet }[];
      pd: { rule: IndexedRule; ports: PortSet }[];
    }
    const buckets = new Map<Service, Bucket>();
    const bucket = (s: Service) => {
      let b = buckets.get(s);
      if (!b) buckets.set(s, (b = { fa: [], fd: [], pa: [], pd: [] }));
      return b;
    };
    for (const r of flows)
      for (const t of r.targets)
        bucket(t.service)[r.effect === 'allow' ? 'fa' : 'fd'].push({ id: r.id, ports: t.ports });
    for (const r of permissions)
      for (const t of r.targets)
        bucket(t.service)[r.effect === 'allow' ? 'pa' : 'pd'].push({ rule: r, ports: t.ports });
    for (const s of this.unenforced) bucket(s);

    const out: BaseReach[] = [];
    for (const [svc, b] of buckets) {
      const unenforced = svc.mode !== 'enforce';
      if (b.fa.length === 0 && !unenforced) continue;
      let allowedPorts: PortSet = [];
      for (const f of b.fa) allowedPorts = union(allowedPorts, f.ports);
      let deniedPorts: PortSet = [];
      const flowDenies: string[] = [];
      for (const f of b.fd) {
        if (intersect(allowedPorts, f.ports).length) flowDenies.push(f.id);
        deniedPorts = union(deniedPorts, f.ports);
      }
      const ports = subtract(allowedPorts, deniedPorts);
      const grants: PermissionTerm[] = [];
      const blocked: { rule: string; by: string }[] = [];
      const denies: PermissionTerm[] = [];
      for (const d of b.pd) {
        const p = intersect(d.ports, ports);
        if (p.length) denies.push(term(d.rule, p));
      }
      const always = b.pd.length ? b.pd.filter((d) => d.rule.when === undefined) : b.pd;
      for (const a of b.pa) {
        const p = intersect(a.ports, ports);
        if (!p.length) continue;
        // Most services have no unconditional deny: nothing to close (the search's hot path).
        if (!always.length) {
          grants.push(term(a.rule, p));
          continue;
        }
        const shut = closedBy(always, a.rule.actions, p);
        const open = subtract(p, shut.ports);
        if (!open.length) blocked.push({ rule: a.rule.id, by: shut.rules.join(', ') });
        else grants.push(term(a.rule, open));
      }
      out.push({
        service: svc,
        unenforced,
        ports,
        servicePorts: unenforced ? portsOf(svc.ports) : ports,
        flowRules: b.fa.map((f) => f.id),
        flowDenies,
        grants,
        denies,
        blocked,
        allConditional: grants.every((g) => g.when !== undefined),
      });
    }
    return out.sort((a, b) =>
      a.service.name < b.service.name ? -1 : a.service.name > b.service.name ? 1 : 0,
    );
  }
}

/** What {@link Reachability} works out once per set of matching rules, for every zone. */
interface BaseReach {
  service: Service;
  unenforced: boolean;
  /** Ports the flow layer lets through. */
  ports: PortSet;
  /** The service's own ports: what an unenforced service lets through when the rules do not. */
  servicePorts: PortSet;
  flowRules: readonly string[];
  flowDenies: readonly string[];
  grants: readonly PermissionTerm[];
  denies: readonly PermissionTerm[];
  blocked: readonly { rule: string; by: string }[];
  allConditional: boolean;
}

function term(rule: IndexedRule, ports: PortSet): PermissionTerm {
  const t: PermissionTerm = { rule: rule.id, ports, actions: rule.actions };
  if (rule.when !== undefined) t.when = rule.when;
  return t;
}

function placeRule(index: RuleIndex, from: Selector, rule: IndexedRule): void {
  if (from === '*') return void index.always.push(rule);
  // A rule is found under each of its terms' keys; a term without one is checked for everyone.
  const keys = new Set<string>();
  let always = false;
  for (const t of from) {
    if (t.spiffeId !== undefined && !hasWildcard(t.spiffeId)) keys.add(`id\u0000${t.spiffeId}`);
    else if (t.labels && Object.keys(t.labels).length) {
      const [k, v] = Object.entries(t.labels)[0]!;
      keys.add(`label\u0000${k}\u0000${v}`);
    } else always = true;
  }
  if (always) return void index.always.push(rule);
  for (const key of keys) {
    const [kind, a, b] = key.split('\u0000') as [string, string, string | undefined];
    if (kind === 'id') push(index.byId, a, rule);
    else {
      let values = index.byLabel.get(a);
      if (!values) index.byLabel.set(a, (values = new Map()));
      push(values, b!, rule);
    }
  }
}

const isEveryAction = (a: ActionMatch) =>
  a.methods === '*' && a.paths.length === 0 && a.prefixes.length === 0 && a.operations.length === 0;

/**
 * One alternative of an allow's actions: every action, one named operation,
 * or one method (or any, `*`) with the allow's path globs and prefixes. An
 * allow matches a request when one of its alternatives does, so a deny must
 * cover each alternative, possibly with different deny actions or rules.
 */
type Alternative =
  | { kind: 'every' }
  | { kind: 'operation'; operation: string }
  | { kind: 'http'; method: string; paths: readonly string[]; prefixes: readonly string[] };

function alternatives(actions: readonly ActionMatch[]): Alternative[] {
  if (actions.length === 0 || actions.some(isEveryAction)) return [{ kind: 'every' }];
  const out: Alternative[] = [];
  for (const a of actions) {
    if (a.operations.length) for (const operation of a.operations) out.push({ kind: 'operation', operation });
    else
      for (const method of a.methods === '*' ? ['*'] : a.methods)
        out.push({ kind: 'http', method, paths: a.paths, prefixes: a.prefixes });
  }
  return out;
}

/**
 * True when the deny action matches every request the alternative matches,
 * judged as written (see compileActions in decision/matchers.ts): a deny
 * naming an operation matches only that operation; one with paths or
 * prefixes never matches a request without a path, so it covers no
 * alternative that matches any path. `/**` and the prefix `/` match every path.
 */
function denyCovers(d: ActionMatch, alt: Alternative): boolean {
  if (isEveryAction(d)) return true;
  if (d.operations.length) return alt.kind === 'operation' && d.operations.includes(alt.operation);
  if (alt.kind !== 'http') return false;
  if (d.methods !== '*' && (alt.method === '*' || !d.methods.includes(alt.method))) return false;
  if (d.paths.length === 0 && d.prefixes.length === 0) return true;
  if (alt.paths.length === 0 && alt.prefixes.length === 0) return false;
  const everyPath = d.paths.includes('/**') || d.prefixes.includes('/');
  return (
    alt.paths.every((g) => (everyPath && g.startsWith('/')) || d.paths.includes(g)) &&
    alt.prefixes.every((x) => (everyPath && x.startsWith('/')) || d.prefixes.some((dp) => x.startsWith(dp)))
  );
}

/**
 * The ports of `ports` on which unconditional denies match every request an
 * allow with `actions` matches, and the denies that do it. Denies add up: a
 * deny of GET and another of POST together shut an allow of GET and POST.
 */
function closedBy(
  denies: readonly { rule: IndexedRule; ports: PortSet }[],
  actions: readonly ActionMatch[],
  ports: PortSet,
): { ports: PortSet; rules: string[] } {
  let shut = ports;
  const rules = new Set<string>();
  for (const alt of alternatives(actions)) {
    let covered: PortSet = [];
    for (const d of denies) {
      const on = intersect(d.ports, shut);
      if (on.length && (d.rule.actions.length === 0 || d.rule.actions.some((x) => denyCovers(x, alt)))) {
        covered = union(covered, on);
        rules.add(d.rule.id);
      }
    }
    shut = intersect(shut, covered);
    if (!shut.length) return { ports: shut, rules: [] };
  }
  return { ports: shut, rules: [...rules] };
}

/** True when the deny actions match at least every request the allow actions match (judged as written). */
export function actionsCover(deny: readonly ActionMatch[], allow: readonly ActionMatch[]): boolean {
  if (deny.length === 0) return true;
  return alternatives(allow).every((alt) => deny.some((d) => denyCovers(d, alt)));
}

export type PointVerdict = 'allow' | 'conditional' | 'deny';

const matchers = new WeakMap<readonly ActionMatch[], Map<Service | undefined, ActionMatcher>>();
function matcherFor(actions: readonly ActionMatch[], service: Service | undefined): ActionMatcher {
  let bySvc = matchers.get(actions);
  if (!bySvc) matchers.set(actions, (bySvc = new Map()));
  let m = bySvc.get(service);
  if (!m) bySvc.set(service, (m = compileActions(actions, service)));
  return m;
}

/**
 * The policy's verdict for one request on a reached service: `allow` when an
 * unconditional grant covers it and no deny may apply, `conditional` when it
 * depends on a condition, `deny` otherwise. The service's mode is not
 * applied. `action.path` must already be normalized.
 */
export function reachVerdict(
  reach: ServiceReach,
  service: Service | undefined,
  port: number,
  action: ActionFacts,
): PointVerdict {
  if (!reach.allowedByPolicy || !reach.zone.allowed || !contains(reach.ports, port)) return 'deny';
  let verdict: PointVerdict = 'deny';
  for (const g of reach.grants) {
    if (!contains(g.ports, port) || !matcherFor(g.actions, service)(action)) continue;
    if (g.when === undefined) {
      verdict = 'allow';
      break;
    }
    verdict = 'conditional';
  }
  if (verdict === 'deny') return verdict;
  for (const d of reach.denies) {
    if (!contains(d.ports, port) || !matcherFor(d.actions, service)(action)) continue;
    if (d.when === undefined) return 'deny';
    verdict = 'conditional';
  }
  return verdict;
}
