/**
 * Suggest: a least-privilege policy built from observed traffic. For each
 * service in scope, one flow rule and one permission rule per caller that was
 * seen: the exact SPIFFE ID, the ports it used, the methods and path
 * templates it used (`/orders/{id}`, never `/**`). Rules are owned by the
 * service's owner (the policy's, else the inventory's), carry a review date,
 * and say what they were built from.
 *
 * The suggestion starts from a base policy: zones, services, workloads,
 * segmentation and every deny rule are kept; allow rules that only target
 * services in scope are replaced; allow rules that also reach other services
 * are kept. Segmentation rules are added for zone pairs the traffic needs and
 * the base does not allow.
 *
 * The suggestion is checked (`checkPolicy`) and replayed against the traffic
 * it was built from before it is returned: every flow it includes is allowed.
 * Flows it will not allow are listed with the reason: a caller without an
 * identity, a caller in no zone, a flow a deny rule denies, an operation the
 * service does not declare, a flow without a port, a path that cannot be
 * normalized.
 */
import { Document, isScalar, visit } from 'yaml';
import type { InventorySnapshot } from '../../identity/inventory.js';
import { GatehouseError } from '../../errors.js';
import { checkPolicy } from '../../policy/check.js';
import { policyDocumentFromObject } from '../../policy/from-object.js';
import { UNKNOWN_ZONE, type Policy, type Service } from '../../policy/model.js';
import type { PolicyProblem } from '../../policy/problem.js';
import { validatePolicy } from '../../policy/validate.js';
import { policyToDocument } from '../exposure/index.js';
import type { FlowRecord } from '../flows/flow-record.js';
import { PathTemplates, templatePath } from './path-template.js';
import { FlowGroups, PolicyReplayer, hasAction, type FlowGroup, type ReplayVerdict } from './replay.js';
import { ruleIdFor, shortIdentity } from './rule-names.js';

export const POLICY_SUGGESTION_KIND = 'PolicySuggestion';

export interface SuggestOptions {
  /** The policy to start from: its zones, services and workloads are the suggestion's. */
  base: Policy;
  /** Review dates count from here (epoch ms); rule expiry is judged at it. */
  now: number;
  /** Services to suggest rules for (default: every declared service that received traffic). */
  services?: readonly string[];
  /** Owners of services the policy leaves unowned. */
  inventory?: InventorySnapshot;
  /** Days until the suggested rules' `reviewBy` (default 90). */
  reviewDays?: number;
  /** Context for conditions of kept rules, as in replay. */
  context?: Readonly<Record<string, unknown>>;
  /** Distinct literals at one path position before it becomes a variable (default 32). */
  maxPathLiterals?: number;
  /** The file name the suggestion is checked under (default `suggested-policy.yaml`). */
  file?: string;
}

export type ExclusionReason =
  | 'no-identity'
  | 'untrusted-identity'
  | 'unknown-zone'
  | 'denied-by-rule'
  | 'undeclared-operation'
  | 'no-port'
  | 'invalid-path'
  | 'not-allowed';

export interface Exclusion {
  reason: ExclusionReason;
  /** One line: why these flows are left out. */
  message: string;
  service: string;
  flows: number;
  callers: string[];
}

export interface SuggestedService {
  service: string;
  owner?: string;
  flows: number;
  callers: number;
  flowRules: string[];
  permissionRules: string[];
  /** `METHOD template` per action allowed. */
  actions: string[];
  excludedFlows: number;
}

export interface PolicySuggestion {
  apiVersion: 'gatehouse.dev/v1';
  kind: typeof POLICY_SUGGESTION_KIND;
  window: { first: string; last: string } | null;
  services: SuggestedService[];
  rules: {
    added: string[];
    /** Base allow rules replaced by the suggestion. */
    replaced: string[];
    /** Base allow rules kept although they reach services in scope (they reach others too). */
    kept: string[];
  };
  excluded: Exclusion[];
  /** Replay of the included flows against the suggestion. */
  coverage: { flows: number; allowed: number; coverage: number | null };
  check: { errors: PolicyProblem[]; warnings: PolicyProblem[]; revision: string | null };
  /** The suggested policy as a v1 document, and as YAML. */
  document: Record<string, unknown>;
  yaml: string;
}

type Doc = Record<string, unknown>;

const MS_PER_DAY = 86_400_000;

/** Streams flow records into a suggestion; `finish()` builds, checks and replays it. */
export class SuggestionBuilder {
  private readonly groups: FlowGroups;

  /** @throws GatehouseError `request_invalid` when `reviewDays` is not a whole number from 1 or its date is past 9999-12-31 */
  constructor(private readonly options: SuggestOptions) {
    reviewDate(options);
    this.groups = new FlowGroups([options.base]);
  }

  add(record: FlowRecord): void {
    this.groups.add(record);
  }

  finish(): PolicySuggestion {
    return buildSuggestion(this.groups, this.options);
  }
}

/** A suggestion from records already in hand: the pure form for an HTTP route or a test. */
export function suggestPolicy(records: Iterable<FlowRecord>, options: SuggestOptions): PolicySuggestion {
  const b = new SuggestionBuilder(options);
  for (const r of records) b.add(r);
  return b.finish();
}

interface Caller {
  spiffeId: string;
  ports: Set<number>;
  groups: FlowGroup[];
  flows: number;
}

function buildSuggestion(flowGroups: FlowGroups, o: SuggestOptions): PolicySuggestion {
  const base = o.base;
  const services = new Map(base.services.map((s) => [s.name, s]));
  const groups = flowGroups.groups();
  const inScope = new Set(o.services ?? groups.map((g) => g.service).filter((s) => services.has(s)));
  const replayOptions = { now: o.now, ...(o.context ? { context: o.context } : {}) };
  const baseReplayer = new PolicyReplayer(base, replayOptions);

  // 1. What the suggestion cannot or must not allow.
  const exclusions = new Map<string, Exclusion>();
  const exclude = (g: FlowGroup, why: { reason: ExclusionReason; message: string }) => {
    const key = `${g.service}\u0001${why.reason}\u0001${why.message}`;
    let e = exclusions.get(key);
    if (!e) exclusions.set(key, (e = { ...why, service: g.service, flows: 0, callers: [] }));
    e.flows += g.flows;
    const caller = g.spiffeId ?? g.ip ?? `unknown in ${g.sourceZone}`;
    if (!e.callers.includes(caller)) e.callers.push(caller);
  };
  let included: FlowGroup[] = [];
  for (const g of groups) {
    if (!inScope.has(g.service)) continue;
    const why = exclusionOf(g, baseReplayer.judge(g), services.get(g.service)!);
    if (why) exclude(g, why);
    else included.push(g);
  }

  // 2. Build, replay, and leave out what a kept deny rule still denies (a deny at a
  // later layer hides behind an earlier layer's default deny in the base). Twice
  // at most: the second build allows nothing the first did not.
  const window =
    flowGroups.records > 0
      ? { first: new Date(flowGroups.first).toISOString(), last: new Date(flowGroups.last).toISOString() }
      : null;
  let built = assemble(base, included, inScope, o, window);
  for (let pass = 0; pass < 2 && built.policy; pass++) {
    const replayer = new PolicyReplayer(built.policy, replayOptions);
    const still = included.filter((g) => !replayer.judge(g).allowed);
    if (!still.length) break;
    for (const g of still) exclude(g, deniedWhy(replayer.judge(g)));
    const out = new Set(still);
    included = included.filter((g) => !out.has(g));
    built = assemble(base, included, inScope, o, window);
  }

  // 3. Check it as `gatehouse check` would, and replay what it was built from.
  const span = spanText(window);
  const yaml =
    `# Suggested by \`gatehouse suggest\` from traffic observed ${span}.\n` +
    `# Review before use: every rule allows exactly what was observed.\n` +
    policyYaml(built.document);
  const checked = checkPolicy([{ file: o.file ?? 'suggested-policy.yaml', text: yaml }], { now: o.now });
  let allowed = 0;
  let flows = 0;
  if (built.policy) {
    const replayer = new PolicyReplayer(built.policy, replayOptions);
    for (const g of included) {
      flows += g.flows;
      if (replayer.judge(g).allowed) allowed += g.flows;
    }
  }
  const excluded = [...exclusions.values()].sort(
    (a, b) => a.service.localeCompare(b.service) || b.flows - a.flows || a.message.localeCompare(b.message),
  );
  for (const e of excluded) {
    e.callers.sort();
    const s = built.summaries.find((x) => x.service === e.service);
    if (s) s.excludedFlows += e.flows;
  }
  return {
    apiVersion: 'gatehouse.dev/v1',
    kind: POLICY_SUGGESTION_KIND,
    window,
    services: built.summaries,
    rules: {
      added: [
        ...built.segmentation,
        ...built.summaries.flatMap((s) => [...s.flowRules, ...s.permissionRules]),
      ],
      replaced: built.replaced,
      kept: built.kept,
    },
    excluded,
    coverage: { flows, allowed, coverage: flows ? allowed / flows : null },
    check: {
      errors: checked.errors,
      warnings: checked.warnings,
      revision: checked.policy?.revision ?? null,
    },
    document: built.document,
    yaml,
  };
}

function spanText(window: { first: string; last: string } | null): string {
  return window ? `${window.first.slice(0, 10)} to ${window.last.slice(0, 10)}` : 'in no window';
}

interface Assembled {
  document: Doc;
  policy: Policy | undefined;
  summaries: SuggestedService[];
  segmentation: string[];
  replaced: string[];
  kept: string[];
}

/** The suggested document for the included flows, and the policy it validates to. */
function assemble(
  base: Policy,
  included: readonly FlowGroup[],
  inScope: ReadonlySet<string>,
  o: SuggestOptions,
  window: { first: string; last: string } | null,
): Assembled {
  const trustDomain = base.trustDomain;
  const services = new Map(base.services.map((s) => [s.name, s]));
  const reviewBy = reviewDate(o);
  const span = spanText(window);
  // The base's allow rules for services in scope give way to the suggestion.
  const replaced: string[] = [];
  const kept = new Set<string>();
  const keep = (r: { id: string; effect: string; to: { services: '*' | string[] } }): boolean => {
    if (r.effect === 'deny') return true;
    const targets = r.to.services;
    if (targets !== '*' && targets.every((s) => inScope.has(s))) {
      replaced.push(r.id);
      return false;
    }
    if (targets === '*' || targets.some((s) => inScope.has(s))) kept.add(r.id);
    return true;
  };
  const keptFlowIds = new Set(base.flows.filter(keep).map((r) => r.id));
  const keptPermissionIds = new Set(base.permissions.filter(keep).map((r) => r.id));
  const replacedIds = new Set(replaced);
  // Ids of replaced rules are free again: a suggested rule may take its predecessor's id.
  const usedIds = new Set(
    [...base.segmentation, ...base.flows, ...base.permissions]
      .map((r) => r.id)
      .filter((id) => !replacedIds.has(id)),
  );
  const uniqueId = (id: string): string => {
    let candidate = id;
    for (let n = 2; usedIds.has(candidate); n++) candidate = `${id}-${n}`;
    usedIds.add(candidate);
    return candidate;
  };
  const inventoryOwners = new Map((o.inventory?.entries ?? []).map((e) => [e.spiffeId, e.owner]));
  const ownerOf = (s: Service): string | undefined =>
    s.owner ?? (s.spiffeId !== undefined ? inventoryOwners.get(s.spiffeId) : undefined);

  const newFlows: Doc[] = [];
  const newPermissions: Doc[] = [];
  const summaries: SuggestedService[] = [];
  const byService = new Map<string, FlowGroup[]>();
  for (const g of included) {
    const list = byService.get(g.service);
    if (list) list.push(g);
    else byService.set(g.service, [g]);
  }
  for (const name of [...inScope].sort()) {
    const service = services.get(name);
    if (!service) continue;
    const members = byService.get(name) ?? [];
    const templates = new PathTemplates(
      o.maxPathLiterals !== undefined ? { maxLiterals: o.maxPathLiterals } : {},
    );
    for (const g of members) if (g.path !== undefined) templates.add(templatePath(g.path));
    const callers = new Map<string, Caller>();
    for (const g of members) {
      const id = g.spiffeId!;
      let c = callers.get(id);
      if (!c) callers.set(id, (c = { spiffeId: id, ports: new Set(), groups: [], flows: 0 }));
      c.ports.add(g.port!);
      c.groups.push(g);
      c.flows += g.flows;
    }
    const owner = ownerOf(service);
    const summary: SuggestedService = {
      service: name,
      flows: members.reduce((n, g) => n + g.flows, 0),
      callers: callers.size,
      flowRules: [],
      permissionRules: [],
      actions: [],
      excludedFlows: 0,
    };
    if (owner !== undefined) summary.owner = owner;
    const allActions = new Set<string>();
    for (const c of [...callers.values()].sort((a, b) => a.spiffeId.localeCompare(b.spiffeId))) {
      const who = shortIdentity(c.spiffeId, trustDomain);
      const common = (kind: 'flow' | 'perm'): Doc => {
        const rule: Doc = { id: uniqueId(ruleIdFor(kind, who, name)), effect: 'allow' };
        if (owner !== undefined) rule.owner = owner;
        rule.reviewBy = reviewBy;
        rule.description = `suggested from ${c.flows} flow(s) of ${who} observed ${span}`;
        return rule;
      };
      const flow = common('flow');
      flow.from = [c.spiffeId];
      flow.to = { service: name, ports: [...c.ports].sort((a, b) => a - b) };
      newFlows.push(flow);
      summary.flowRules.push(flow.id as string);
      const actions = actionsOf(c.groups, templates);
      if (actions.docs.length) {
        const perm = common('perm');
        perm.from = [c.spiffeId];
        perm.to = { service: name };
        perm.actions = actions.docs;
        newPermissions.push(perm);
        summary.permissionRules.push(perm.id as string);
        for (const a of actions.texts) allActions.add(a);
      }
    }
    summary.actions = [...allActions].sort();
    summaries.push(summary);
  }

  const baseDoc = policyToDocument(base);
  const document: Doc = {
    ...baseDoc,
    flows: [...(baseDoc.flows as Doc[]).filter((r) => keptFlowIds.has(r.id as string)), ...newFlows],
    permissions: [
      ...(baseDoc.permissions as Doc[]).filter((r) => keptPermissionIds.has(r.id as string)),
      ...newPermissions,
    ],
  };

  // Zone pairs the traffic needs and the base does not allow.
  let policy = validated(document);
  const segmentation: string[] = [];
  if (policy) {
    const replayer = new PolicyReplayer(policy, { now: o.now, ...(o.context ? { context: o.context } : {}) });
    const pairs = new Map<string, [string, string]>();
    for (const g of included) {
      const v = replayer.judge(g);
      if (!v.allowed && v.layer === 'zone' && v.reason === 'default_deny')
        pairs.set(`${v.sourceZone}>${v.destinationZone}`, [v.sourceZone, v.destinationZone]);
    }
    if (pairs.size) {
      const owner = mostCommon(base.segmentation.map((r) => r.owner));
      const rules = [...(document.segmentation as Doc[])];
      for (const [from, to] of [...pairs.values()].sort()) {
        const rule: Doc = {
          id: uniqueId(ruleIdFor('seg', from, to)),
          effect: 'allow',
          from: [from],
          to: [to],
        };
        if (owner !== undefined) rule.owner = owner;
        rule.reviewBy = reviewBy;
        rule.description = `suggested: traffic from ${from} to ${to} observed ${span}`;
        rules.push(rule);
        segmentation.push(rule.id as string);
      }
      document.segmentation = rules;
      policy = validated(document);
    }
  }
  return { document, policy, summaries, segmentation, replaced: replaced.sort(), kept: [...kept].sort() };
}

/** The last instant a policy's `reviewBy` can name: its dates have four-digit years. */
const LAST_REVIEW_DATE = Date.UTC(9999, 11, 31);

/** The suggested rules' `reviewBy`, `reviewDays` after `now`, as a date. */
function reviewDate(o: SuggestOptions): string {
  const days = o.reviewDays ?? 90;
  const at = o.now + days * MS_PER_DAY;
  // Past year 9999 the date is written `+010240-08-…` (or is no date at all) and no policy reads it.
  if (!Number.isInteger(days) || days < 1 || !(at <= LAST_REVIEW_DATE))
    throw new GatehouseError(
      'request_invalid',
      `review days must be a whole number of at least 1 that falls by 9999-12-31, got \`${days}\``,
    );
  return new Date(at).toISOString().slice(0, 10);
}

/** YAML as people write policies: short lists and mappings on one line. */
function policyYaml(document: Doc): string {
  const doc = new Document(document);
  visit(doc, {
    Map(_, node) {
      if (JSON.stringify(node.toJSON()).length <= 72) node.flow = true;
    },
    Seq(_, node) {
      if (node.items.every((i) => isScalar(i)) && JSON.stringify(node.toJSON()).length <= 100)
        node.flow = true;
    },
  });
  return doc.toString({ lineWidth: 0 });
}

function validated(document: Doc): Policy | undefined {
  return validatePolicy(policyDocumentFromObject(document)).policy;
}

function exclusionOf(
  g: FlowGroup,
  v: ReplayVerdict,
  service: Service,
): { reason: ExclusionReason; message: string } | undefined {
  if (g.spiffeId === undefined)
    return {
      reason: 'no-identity',
      message: 'the caller has no identity: register its address in the inventory',
    };
  if (v.layer === 'credential' && !v.allowed)
    return {
      reason: 'untrusted-identity',
      message: `the caller's identity is not accepted (${v.reason.replace(/_/g, ' ')})`,
    };
  if (v.sourceZone === UNKNOWN_ZONE)
    return { reason: 'unknown-zone', message: 'the caller is in no zone: add its network to a zone' };
  if (!v.allowed && v.reason === 'deny_rule')
    return {
      reason: 'denied-by-rule',
      message: `denied by ${v.rules.map((r) => `\`${r}\``).join(', ')}, which is kept`,
    };
  if (v.reason === 'request_invalid')
    return { reason: 'invalid-path', message: 'the request path cannot be normalized safely' };
  if (g.port === undefined) return { reason: 'no-port', message: 'the flow has no port (ICMP)' };
  if (g.operation !== undefined && g.path === undefined && !service.operations.has(g.operation))
    return {
      reason: 'undeclared-operation',
      message: `operation \`${g.operation}\` is not declared by service \`${service.name}\``,
    };
  return undefined;
}

/** Why a flow the suggestion was built for is still denied by it. */
function deniedWhy(v: ReplayVerdict): { reason: ExclusionReason; message: string } {
  if (v.reason === 'deny_rule')
    return {
      reason: 'denied-by-rule',
      message: `denied by ${v.rules.map((r) => `\`${r}\``).join(', ')}, which is kept`,
    };
  return {
    reason: 'not-allowed',
    message: `still denied at the ${v.layer} layer (${v.reason.replace(/_/g, ' ')})`,
  };
}

/** One caller's actions on a service: methods per template, templates sharing methods merged. */
function actionsOf(groups: readonly FlowGroup[], templates: PathTemplates): { docs: Doc[]; texts: string[] } {
  const byPath = new Map<string, Set<string>>();
  const methodOnly = new Set<string>();
  const operations = new Set<string>();
  for (const g of groups) {
    if (!hasAction(g)) continue;
    if (g.path !== undefined) {
      const t = templates.templateOf(templatePath(g.path));
      const methods = byPath.get(t) ?? new Set<string>();
      methods.add(g.method ?? '*');
      byPath.set(t, methods);
    } else if (g.operation !== undefined) operations.add(g.operation);
    else if (g.method !== undefined) methodOnly.add(g.method);
  }
  const docs: Doc[] = [];
  const texts: string[] = [];
  const byMethods = new Map<string, string[]>();
  for (const [path, methods] of byPath) {
    // A path seen without a method admits every method on it.
    const key = methods.has('*') ? '*' : [...methods].sort().join(',');
    const list = byMethods.get(key);
    if (list) list.push(path);
    else byMethods.set(key, [path]);
  }
  for (const [key, paths] of [...byMethods].sort(([a], [b]) => a.localeCompare(b))) {
    paths.sort();
    const doc: Doc = key === '*' ? {} : { methods: key.split(',') };
    doc.paths = paths;
    docs.push(doc);
    for (const p of paths) texts.push(`${key === '*' ? '*' : key.replace(/,/g, '|')} ${p}`);
  }
  if (methodOnly.size) {
    const methods = [...methodOnly].sort();
    docs.push({ methods });
    texts.push(`${methods.join('|')} (any path)`);
  }
  if (operations.size) {
    const ops = [...operations].sort();
    docs.push({ operations: ops });
    for (const op of ops) texts.push(`op ${op}`);
  }
  return { docs, texts };
}

function mostCommon(values: readonly (string | undefined)[]): string | undefined {
  const counts = new Map<string, number>();
  for (const v of values) if (v !== undefined) counts.set(v, (counts.get(v) ?? 0) + 1);
  let best: string | undefined;
  let most = 0;
  for (const [v, n] of [...counts].sort(([a], [b]) => a.localeCompare(b)))
    if (n > most) {
      best = v;
      most = n;
    }
  return best;
}
