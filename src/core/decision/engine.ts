/**
 * The compiled decision engine: a policy turned into indexes and closures once,
 * then asked many times. Semantics are those of docs/policy.md, and the
 * reference evaluator in test/reference/ states them as a plain loop; the two
 * are checked against each other on random policies.
 */
import { tryParseSpiffeId } from '../identity/spiffe-id.js';
import { createPrefixTable, parseCidr, type PrefixTable } from '../net/index.js';
import { isConditionError, type CompiledCondition, type ConditionActivation } from '../policy/cel/index.js';
import { compileConditionOnce } from '../policy/condition-cache.js';
import {
  UNKNOWN_ZONE,
  type Effect,
  type LayerName,
  type Policy,
  type RolloutMode,
  type Selector,
  type Service,
} from '../policy/model.js';
import type { Clock, Random } from '../ports.js';
import type { ConditionFailure, Decision, LayerVerdict } from './decision.js';
import { DECISION_API_VERSION } from './decision.js';
import { failedDecision } from './failed-decision.js';
import { checkCredential } from './layers/credential.js';
import {
  compileActions,
  compilePorts,
  compileSelector,
  type ActionFacts,
  type ActionMatcher,
  type PortMatcher,
  type SourceFacts,
  type SourceMatcher,
} from './matchers.js';
import type { DecisionRequest } from './request.js';
import { normalizeRequestPath } from './request-path.js';
import { KeySpace, NO_LABEL, RuleBucket } from './rule-index.js';

export interface EngineOptions {
  clock: Clock;
  /** When given, every decision carries a fresh `decisionId`. */
  ids?: Random;
}

/** A rule as placed in one bucket (ports and operations depend on the service). */
interface RuleInstance {
  id: string;
  effect: Effect;
  /** Whether the rule has an expiry: read before `expiresAt`, a boxed number (one more memory read). */
  expires: boolean;
  expiresAt: number;
  /** Inclusive port range when the rule has one range; otherwise `ports` decides. */
  portFrom: number;
  portTo: number;
  ports: PortMatcher | undefined;
  /** Single method and single prefix, the common shape, checked without a call; else `actions` decides. */
  method: string | undefined;
  prefix: string | undefined;
  actions: ActionMatcher | undefined;
  source: SourceMatcher;
  /** Label pairs the caller must carry, when they are the whole selector (else `needA` is NO_LABEL and `source` decides). */
  needA: number;
  needB: number;
  /**
   * Several plain actions (methods and path prefixes, no globs, no
   * operations) as `method, prefix` pairs, `undefined` for any method; else
   * `actions` decides. Read in place: a call per rule costs more than the test.
   */
  pairs: (string | undefined)[] | undefined;
  /** Set by the index: finding the rule under a key proves its selector. */
  proven: boolean;
  /** The selector is `"*"`. */
  anySource: boolean;
  condition: CompiledCondition | undefined;
  /** Dedupe marker: the number of the decision that last looked at this instance. */
  seen: number;
  /** The verdict when this rule is the only one of its layer to match, an allow; made on first use. */
  onlyAllow: LayerVerdict | undefined;
}

interface CompiledService {
  name: string;
  zone: string;
  zoneIndex: number;
  mode: RolloutMode;
  flows: RuleBucket<RuleInstance>;
  permissions: RuleBucket<RuleInstance>;
  /**
   * The layer's verdict when its candidates (here and under `"*"`) are the
   * same for every request and match every request: no keys, no ports, no
   * actions, no conditions, no expiry. Then the layer is not evaluated.
   */
  constantFlow: LayerVerdict | undefined;
  constantPermission: LayerVerdict | undefined;
}

/** A caller as resolved once and cached; the per-request zone lives in the scratch `facts`. */
interface Identity extends Omit<SourceFacts, 'zone'> {
  keys: Int32Array;
  /** Its label pairs among those rules need, by number (KeySpace.labelNeeds). */
  labelIds: Int32Array;
  valid: boolean;
  /** Valid and of an accepted trust domain. */
  accepted: boolean;
}

const NEVER = Number.POSITIVE_INFINITY;
const EMPTY: readonly string[] = Object.freeze([]);
const freezeVerdict = (v: LayerVerdict): LayerVerdict => Object.freeze(v);
const DEFAULT_DENY = freezeVerdict({ verdict: 'deny', reason: 'default_deny', rules: EMPTY });
const NO_LABELS: Readonly<Record<string, string>> = Object.freeze({});
const NO_ERRORS: readonly ConditionFailure[] = Object.freeze([]);
const NO_KEYS = new Int32Array(0);
const MAX_CACHED_IDENTITIES = 50_000;

function expiry(expires: string | undefined): number {
  return expires === undefined ? NEVER : Date.parse(expires);
}

export class DecisionEngine {
  readonly revision: string;
  private readonly clock: Clock;
  private readonly ids: Random | undefined;
  private readonly keys = new KeySpace();
  private readonly zoneTable: PrefixTable<number>;
  private readonly zoneNames: string[];
  private readonly zoneIndex = new Map<string, number>();
  private readonly unknownZone: number;
  /** `now()` for the credential layer, bound once. */
  private readonly decisionTime = { now: (): number => this.now() };
  /** zoneRules[src][dst]: candidate segmentation rules. */
  private readonly zoneRules: { id: string; effect: Effect; expiresAt: number }[][][];
  /** Precomputed zone verdicts where no candidate rule can expire. */
  private readonly zoneVerdicts: (LayerVerdict | undefined)[][];
  private readonly services = new Map<string, CompiledService>();
  private readonly anyService: CompiledService;
  /** Labels of the policy's inventory by SPIFFE ID; identities are built on first sight. */
  private readonly inventory = new Map<string, Readonly<Record<string, string>>>();
  private readonly known = new Map<string, Identity>();
  private readonly strangers = new Map<string, Identity>();
  private readonly trustDomains: Set<string>;
  private counter = 0;
  /** Whether any condition reads `time` or `credential`; if none does, activations skip both (and the clock). */
  private conditionsReadTime = false;

  constructor(policy: Policy, options: EngineOptions) {
    this.revision = policy.revision;
    this.clock = options.clock;
    this.ids = options.ids;
    this.trustDomains = new Set([policy.trustDomain, ...policy.federatedTrustDomains]);

    // Zones: index 0..n-1 for declared zones, n for `unknown`.
    this.zoneNames = [...policy.zones.map((z) => z.name), UNKNOWN_ZONE];
    this.zoneNames.forEach((n, i) => this.zoneIndex.set(n, i));
    this.unknownZone = this.zoneNames.length - 1;
    this.zoneTable = createPrefixTable(
      policy.zones.flatMap((z, i) => z.cidrs.map((c) => ({ cidr: parseCidr(c), value: i }))),
    );
    const nz = this.zoneNames.length;
    const unknown = nz - 1;
    this.zoneRules = Array.from({ length: nz }, () => Array.from({ length: nz }, () => []));
    for (const rule of policy.segmentation) {
      const from =
        rule.from === '*' ? [...Array(unknown).keys()] : rule.from.map((z) => this.zoneIndex.get(z)!);
      const to = rule.to === '*' ? [...Array(unknown).keys()] : rule.to.map((z) => this.zoneIndex.get(z)!);
      const compiled = { id: rule.id, effect: rule.effect, expiresAt: expiry(rule.expires) };
      for (const s of from) for (const d of to) this.zoneRules[s]![d]!.push(compiled);
    }
    this.zoneVerdicts = this.zoneRules.map((row) =>
      row.map((rules) => (rules.some((r) => r.expiresAt !== NEVER) ? undefined : combine(rules, 0))),
    );

    // Rule buckets per service, plus one for rules that target every service.
    for (const sel of [...policy.flows, ...policy.permissions].map((r) => r.from)) this.keys.countLabels(sel);
    // Fields in the order a decision reads them.
    const bucketFor = (svc: Service | undefined): CompiledService => ({
      zone: svc?.zone ?? UNKNOWN_ZONE,
      zoneIndex: this.zoneIndex.get(svc?.zone ?? UNKNOWN_ZONE) ?? this.unknownZone,
      constantFlow: undefined,
      flows: new RuleBucket(),
      constantPermission: undefined,
      permissions: new RuleBucket(),
      mode: svc?.mode ?? 'enforce',
      name: svc?.name ?? '*',
    });
    this.anyService = bucketFor(undefined);
    const serviceByName = new Map(policy.services.map((s) => [s.name, s]));
    for (const svc of policy.services) this.services.set(svc.name, bucketFor(svc));

    const selectors = new Map<string, SourceMatcher>();
    const strings = new Map<string, string>();
    const intern = (text: string): string => {
      const known = strings.get(text);
      if (known !== undefined) return known;
      strings.set(text, text);
      return text;
    };
    const place = (
      layer: 'flows' | 'permissions',
      rule: {
        id: string;
        effect: Effect;
        expires?: string;
        from: Selector;
        to: { services: '*' | string[]; ports?: import('../policy/model.js').PortSpec };
      },
      actions: import('../policy/model.js').ActionMatch[] | undefined,
      when: string | undefined,
    ) => {
      // Selectors repeat across rules (the same caller in many rules): compile each once.
      const selectorKey = rule.from === '*' ? '*' : JSON.stringify(rule.from);
      let source = selectors.get(selectorKey);
      if (!source) selectors.set(selectorKey, (source = compileSelector(rule.from)));
      const needs = this.keys.labelNeeds(rule.from);
      let condition: CompiledCondition | undefined;
      if (when !== undefined) {
        condition = compileConditionOnce(when);
        if (condition.variables.has('time') || condition.variables.has('credential'))
          this.conditionsReadTime = true;
      }
      const targets =
        rule.to.services === '*' ? [undefined] : rule.to.services.map((n) => serviceByName.get(n)!);
      for (const svc of targets) {
        // Fields in the order `visit` reads them: most visits end within the first of the
        // object's cache lines.
        const instance: RuleInstance = {
          seen: 0,
          portFrom: 0,
          portTo: 65535,
          method: undefined,
          prefix: undefined,
          ports: undefined,
          pairs: undefined,
          actions: undefined,
          proven: false,
          needA: needs?.[0] ?? NO_LABEL,
          needB: needs?.[1] ?? NO_LABEL,
          source,
          expires: rule.expires !== undefined,
          condition,
          effect: rule.effect,
          id: rule.id,
          expiresAt: expiry(rule.expires),
          anySource: rule.from === '*',
          onlyAllow: undefined,
        };
        const ports = rule.to.ports ?? svc?.ports ?? '*';
        if (ports !== '*' && ports.length === 1) {
          instance.portFrom = ports[0]!.from;
          instance.portTo = ports[0]!.to;
        } else if (ports !== '*') instance.ports = compilePorts(ports, svc);
        const simple = actions?.length === 1 ? actions[0]! : undefined;
        if (
          simple &&
          simple.operations.length === 0 &&
          simple.paths.length === 0 &&
          simple.prefixes.length === 1 &&
          (simple.methods === '*' || simple.methods.length === 1)
        ) {
          // Interned: rules share a few method and prefix strings, which then stay in cache.
          instance.method = simple.methods === '*' ? undefined : intern(simple.methods[0]!);
          instance.prefix = intern(simple.prefixes[0]!);
        } else if (actions && actions.length) {
          instance.pairs = plainActionPairs(actions, intern);
          if (instance.pairs === undefined) instance.actions = compileActions(actions, svc);
        }
        const compiled = svc ? this.services.get(svc.name)! : this.anyService;
        compiled[layer].add(instance, rule.from, this.keys);
      }
    };
    for (const r of policy.flows) place('flows', r, undefined, undefined);
    for (const r of policy.permissions) place('permissions', r, r.actions, r.when);
    for (const svc of [...this.services.values(), this.anyService]) {
      svc.flows.seal();
      svc.permissions.seal();
    }
    for (const svc of this.services.values()) {
      svc.constantFlow = constantVerdict(svc.flows, this.anyService.flows);
      svc.constantPermission = constantVerdict(svc.permissions, this.anyService.permissions);
    }
    this.anyService.constantFlow = constantVerdict(this.anyService.flows, undefined);
    this.anyService.constantPermission = constantVerdict(this.anyService.permissions, undefined);

    // Identities are indexed lazily, on their first request: an estate of tens
    // of thousands of workloads should not slow every policy load.
    for (const w of policy.workloads) this.inventory.set(w.spiffeId, w.labels);
  }

  private identity(
    spiffeId: string,
    trustDomain: string,
    path: string,
    labels: Readonly<Record<string, string>>,
    valid: boolean,
  ): Identity {
    return {
      spiffeId,
      trustDomain,
      path,
      labels,
      keys: valid ? this.keys.keysOf(spiffeId, trustDomain, path, labels) : NO_KEYS,
      labelIds: valid ? this.keys.labelIdsOf(labels) : NO_KEYS,
      valid,
      accepted: valid && this.trustDomains.has(trustDomain),
    };
  }

  private resolve(spiffeId: string): Identity {
    const known = this.known.get(spiffeId) ?? this.strangers.get(spiffeId);
    if (known) return known;
    const parsed = tryParseSpiffeId(spiffeId);
    const labels = this.inventory.get(spiffeId);
    if (labels && parsed) {
      const identity = this.identity(spiffeId, parsed.trustDomain, parsed.path, labels, true);
      this.known.set(spiffeId, identity);
      return identity;
    }
    const identity = parsed
      ? this.identity(spiffeId, parsed.trustDomain, parsed.path, NO_LABELS, true)
      : this.identity(spiffeId, '', '', NO_LABELS, false);
    // Bounded: unknown callers must not grow memory without limit.
    if (this.strangers.size >= MAX_CACHED_IDENTITIES) this.strangers.clear();
    this.strangers.set(spiffeId, identity);
    return identity;
  }

  /** Decides one request. Never throws: any failure is a deny that says why. */
  decide(request: DecisionRequest): Decision {
    this.counter++;
    try {
      return this.evaluate(request);
    } catch (e) {
      // Fail closed: an unexpected error denies, even in observe/simulate mode.
      const service = typeof request?.destination?.service === 'string' ? request.destination.service : '';
      if (e instanceof RequestError) return this.failure('request_invalid', e.message, service);
      const message = e instanceof Error ? e.message : String(e);
      return this.failure('internal_error', `internal error while deciding: ${message}`, service);
    } finally {
      this.request = undefined;
      this.activation = undefined;
    }
  }

  /** A deny for a request that could not be evaluated. */
  failure(reason: 'request_invalid' | 'internal_error', message: string, service = ''): Decision {
    const decision = failedDecision(reason, message, this.revision, service);
    if (this.ids) decision.decisionId = this.ids.id();
    return decision;
  }

  // Per-decision scratch state. decide() is synchronous and nothing it calls
  // can call back into it, so one set of fields serves every decision and the
  // hot path allocates no closures.
  private request: DecisionRequest | undefined;
  private nowMs = Number.NaN;
  private activation: ConditionActivation | undefined;
  private errors: ConditionFailure[] = [];
  /** The first matching allow of the layer under way; `allows` holds every id once there is a second. */
  private firstAllow: RuleInstance | undefined;
  private allows: string[] | undefined;
  private denies: string[] | undefined;
  private readonly facts: SourceFacts = {
    spiffeId: '',
    trustDomain: '',
    path: '',
    labels: NO_LABELS,
    zone: UNKNOWN_ZONE,
  };
  private readonly action: ActionFacts = { method: undefined, path: undefined, operation: undefined };
  private labelIds: Int32Array = NO_KEYS;
  private sourceZone = UNKNOWN_ZONE;
  private destinationZone = UNKNOWN_ZONE;

  /** The decision time: the request's own `time`, else the clock; read only when needed. */
  private now(): number {
    if (Number.isNaN(this.nowMs)) {
      const time = this.request!.time;
      this.nowMs = time === undefined ? this.clock.now() : Date.parse(time);
      if (Number.isNaN(this.nowMs)) throw new RequestError(`invalid request time \`${String(time)}\``);
    }
    return this.nowMs;
  }

  private evaluate(request: DecisionRequest): Decision {
    const source = request.source;
    const destination = request.destination;
    if (
      !source ||
      typeof source.spiffeId !== 'string' ||
      !destination ||
      typeof destination.service !== 'string'
    ) {
      throw new RequestError('request needs `source.spiffeId` and `destination.service`');
    }
    const port = destination.port;
    if (port !== undefined && typeof port !== 'number')
      throw new RequestError('`destination.port` must be a number');
    this.request = request;
    this.nowMs = Number.NaN;
    // An unreadable time always denies, even when no rule needs the time.
    if (request.time !== undefined) this.now();
    this.activation = undefined;
    const serviceName = destination.service;
    const svc = this.services.get(serviceName);
    const compiledService = svc ?? this.anyService;

    // Who is calling, and from where.
    let identity = this.resolve(source.spiffeId);
    const ip = source.ip;
    const zoneIndex =
      ip === undefined ? this.unknownZone : (this.zoneTable.lookupText(ip) ?? this.unknownZone);
    const sourceZone = this.zoneNames[zoneIndex]!;
    if (source.labels && identity.valid) {
      // Registry labels from the enforcement point; the policy's inventory wins on conflict.
      const labels = { ...source.labels, ...identity.labels };
      identity = this.identity(identity.spiffeId, identity.trustDomain, identity.path, labels, true);
    }
    const facts = this.facts;
    facts.spiffeId = identity.spiffeId;
    facts.trustDomain = identity.trustDomain;
    facts.path = identity.path;
    facts.labels = identity.labels;
    facts.zone = sourceZone;
    this.sourceZone = sourceZone;
    this.destinationZone = compiledService.zone;

    // The action, normalized once.
    const action = this.action;
    const a = request.action;
    if (a) {
      let path = a.path;
      if (
        (path !== undefined && typeof path !== 'string') ||
        (a.method !== undefined && typeof a.method !== 'string') ||
        (a.operation !== undefined && typeof a.operation !== 'string')
      ) {
        throw new RequestError('`action.method`, `action.path` and `action.operation` must be strings');
      }
      if (path !== undefined) {
        const normalized = normalizeRequestPath(path);
        if (normalized === undefined) {
          throw new RequestError(
            `request path \`${String(path).slice(0, 200)}\` cannot be normalized safely`,
          );
        }
        path = normalized;
      }
      action.method = a.method;
      action.path = path;
      action.operation = a.operation;
    } else {
      action.method = action.path = action.operation = undefined;
    }

    const credential = checkCredential(request, identity.valid, identity.accepted, this.decisionTime, action);
    const d = compiledService.zoneIndex;
    const zone = this.zoneVerdicts[zoneIndex]![d] ?? combine(this.zoneRules[zoneIndex]![d]!, this.now());
    const wildcard = svc ? this.anyService : undefined;
    const flow =
      compiledService.constantFlow ??
      this.layer('flow', compiledService.flows, wildcard?.flows, identity, port, undefined);
    const permission =
      compiledService.constantPermission ??
      this.layer('permission', compiledService.permissions, wildcard?.permissions, identity, port, action);

    let deciding: LayerName = 'permission';
    let verdict = permission;
    // Reporting order: credential → zone → flow → permission; the first deny decides.
    if (credential.verdict === 'deny') {
      deciding = 'credential';
      verdict = credential;
    } else if (zone.verdict === 'deny') {
      deciding = 'zone';
      verdict = zone;
    } else if (flow.verdict === 'deny') {
      deciding = 'flow';
      verdict = flow;
    }
    const mode = compiledService.mode;
    const enforced = mode === 'enforce';
    const allow = verdict.verdict === 'allow';
    let errors: readonly ConditionFailure[] = NO_ERRORS;
    if (this.errors.length) {
      errors = this.errors;
      this.errors = [];
    }
    // The id is in the literal, not added after: an added property moves every decision to a
    // slower, larger layout (a fifth of the engine's speed on the peer workload).
    const decision: Decision = {
      apiVersion: DECISION_API_VERSION,
      decisionId: this.ids?.id(),
      decision: verdict.verdict,
      allowed: allow || !enforced,
      enforced,
      mode,
      wouldDeny: !allow && !enforced,
      layer: deciding,
      reason: verdict.reason,
      rules: verdict.rules,
      layers: { credential, zone, flow, permission },
      errors,
      policyRevision: this.revision,
      service: serviceName,
      sourceZone,
      destinationZone: compiledService.zone,
    };
    return decision;
  }

  /**
   * One rule layer over the candidate rules of the destination and of `"*"`:
   * any matching deny denies (reporting every matching deny), else any
   * matching allow allows (reporting every matching allow), else default deny.
   */
  private layer(
    layer: 'flow' | 'permission',
    bucket: RuleBucket<RuleInstance>,
    wildcard: RuleBucket<RuleInstance> | undefined,
    identity: Identity,
    port: number | undefined,
    action: ActionFacts | undefined,
  ): LayerVerdict {
    this.firstAllow = undefined;
    this.allows = undefined;
    this.denies = undefined;
    this.labelIds = identity.labelIds;
    const keys = identity.keys;
    for (let b = 0; b < 2; b++) {
      const bucket_ = b === 0 ? bucket : wildcard;
      if (!bucket_ || bucket_.size === 0) continue;
      if (bucket_.keyCount !== 0) {
        const index = bucket_.index;
        for (let i = 0; i < keys.length; i++) {
          const at = bucket_.find(keys[i]!);
          if (at !== -1) this.visit(bucket_.rules, index[at + 1]!, index[at + 3]!, true, layer, port, action);
        }
      }
      const always = bucket_.always;
      if (always.length !== 0) this.visit(always, 0, always.length, false, layer, port, action);
    }
    const denies = this.denies;
    if (denies) return { verdict: 'deny', reason: 'deny_rule', rules: denies };
    const allows = this.allows;
    if (allows) return { verdict: 'allow', reason: 'allow_rule', rules: allows };
    // One allow, the common answer: its verdict is made once and shared.
    const only = this.firstAllow as RuleInstance | undefined; // set by visit()
    if (only) return (only.onlyAllow ??= allowVerdict([only.id]));
    return DEFAULT_DENY;
  }

  /** Checks `list[from]` up to, not including, `list[to]`. */
  private visit(
    list: readonly RuleInstance[],
    from: number,
    to: number,
    keyed: boolean,
    layer: 'flow' | 'permission',
    port: number | undefined,
    action: ActionFacts | undefined,
  ): void {
    const n = this.counter;
    const facts = this.facts;
    const labelIds = this.labelIds;
    for (let i = from; i < to; i++) {
      const r = list[i]!;
      if (r.seen === n) continue;
      r.seen = n;
      if (r.ports === undefined) {
        if (r.portFrom !== 0 && (port === undefined || port < r.portFrom || port > r.portTo)) continue;
      } else if (!r.ports(port)) continue;
      if (action !== undefined) {
        if (r.prefix !== undefined) {
          if (r.method !== undefined && action.method !== r.method) continue;
          if (action.path === undefined || !action.path.startsWith(r.prefix)) continue;
        } else if (r.pairs !== undefined) {
          if (!matchesPairs(r.pairs, action)) continue;
        } else if (r.actions !== undefined && !r.actions(action)) continue;
      }
      if (!(keyed && r.proven)) {
        if (r.needA !== NO_LABEL) {
          if (!has(labelIds, r.needA) || (r.needB !== NO_LABEL && !has(labelIds, r.needB))) continue;
        } else if (!r.source(facts)) continue;
      }
      if (r.expires && this.now() >= r.expiresAt) continue;
      const condition = r.condition;
      if (condition !== undefined) {
        const result = condition.evaluate((this.activation ??= this.buildActivation(action ?? EMPTY_ACTION)));
        if (result !== true) {
          if (result === false) continue;
          // Fail closed: an erroring deny matches, an erroring allow does not.
          this.errors.push({
            layer,
            ruleId: r.id,
            effect: r.effect,
            outcome: r.effect === 'deny' ? 'matched' : 'not_matched',
            error: isConditionError(result) ? result.error : 'condition did not return a bool',
          });
          if (r.effect === 'allow') continue;
        }
      }
      if (r.effect === 'deny') (this.denies ??= []).push(r.id);
      else if (this.firstAllow === undefined) this.firstAllow = r;
      else (this.allows ??= [this.firstAllow.id]).push(r.id);
    }
  }

  private buildActivation(action: ActionFacts): ConditionActivation {
    return buildActivation(
      this.request!,
      this.facts,
      this.sourceZone,
      this.destinationZone,
      this.request!.destination.service,
      action,
      this.conditionsReadTime ? this.now() : undefined,
    );
  }
}

class RequestError extends Error {}

/** Whether `ids`, a caller's few label pair numbers, holds `id`. */
function has(ids: Int32Array, id: number): boolean {
  for (let i = 0; i < ids.length; i++) if (ids[i] === id) return true;
  return false;
}

/** At most this many `method, prefix` pairs are read in place; larger lists keep their matcher. */
const MAX_PLAIN_PAIRS = 16;

/**
 * Actions that are all plain (methods or `"*"`, path prefixes; no path
 * globs, no operations) as `method, prefix` pairs; undefined otherwise.
 * An action without prefixes matches any path, so it is not plain here.
 */
function plainActionPairs(
  actions: readonly import('../policy/model.js').ActionMatch[],
  intern: (text: string) => string,
): (string | undefined)[] | undefined {
  const pairs: (string | undefined)[] = [];
  for (const a of actions) {
    if (a.operations.length !== 0 || a.paths.length !== 0 || a.prefixes.length === 0) return undefined;
    const methods = a.methods === '*' ? [undefined] : a.methods;
    if (methods.length === 0) return undefined;
    for (const m of methods) {
      for (const p of a.prefixes) pairs.push(m === undefined ? undefined : intern(m), intern(p));
    }
    if (pairs.length > 2 * MAX_PLAIN_PAIRS) return undefined;
  }
  return pairs;
}

/** Whether some `method, prefix` pair matches: the method (any when undefined) and a path starting with the prefix. */
function matchesPairs(pairs: readonly (string | undefined)[], action: ActionFacts): boolean {
  const path = action.path;
  if (path === undefined) return false;
  const method = action.method;
  for (let j = 0; j < pairs.length; j += 2) {
    const m = pairs[j];
    if ((m === undefined || m === method) && path.startsWith(pairs[j + 1]!)) return true;
  }
  return false;
}

const EMPTY_ACTION: ActionFacts = Object.freeze({ method: undefined, path: undefined, operation: undefined });

function combine(
  rules: readonly { id: string; effect: Effect; expiresAt: number }[],
  nowMs: number,
): LayerVerdict {
  let allows: string[] | undefined;
  let denies: string[] | undefined;
  for (const r of rules) {
    if (r.expiresAt !== NEVER && nowMs >= r.expiresAt) continue;
    if (r.effect === 'deny') (denies ??= []).push(r.id);
    else (allows ??= []).push(r.id);
  }
  if (denies) return freezeVerdict({ verdict: 'deny', reason: 'deny_rule', rules: Object.freeze(denies) });
  if (allows) return allowVerdict(allows);
  return DEFAULT_DENY;
}

function allowVerdict(ids: string[]): LayerVerdict {
  return freezeVerdict({ verdict: 'allow', reason: 'allow_rule', rules: Object.freeze(ids) });
}

/** See `CompiledService.constantFlow`; `wildcard` is the `"*"` bucket of the same layer. */
function constantVerdict(
  bucket: RuleBucket<RuleInstance>,
  wildcard: RuleBucket<RuleInstance> | undefined,
): LayerVerdict | undefined {
  const rules: RuleInstance[] = [];
  for (const b of [bucket, wildcard]) {
    if (!b) continue;
    if (b.keyCount !== 0) return undefined;
    for (const r of b.always) {
      const matchesAll =
        r.anySource &&
        r.portFrom === 0 &&
        r.ports === undefined &&
        r.prefix === undefined &&
        r.pairs === undefined &&
        r.actions === undefined &&
        r.condition === undefined &&
        !r.expires;
      if (!matchesAll) return undefined;
      rules.push(r);
    }
  }
  // Visiting order, as `layer` reports: this service's rules, then those of `"*"`.
  return combine(rules, 0);
}

function buildActivation(
  request: DecisionRequest,
  facts: SourceFacts,
  sourceZone: string,
  destinationZone: string,
  service: string,
  action: ActionFacts,
  /** Undefined when no condition of the policy reads `time` or `credential`. */
  nowMs: number | undefined,
): ConditionActivation {
  const source: Record<string, unknown> = {
    spiffeId: facts.spiffeId,
    trustDomain: facts.trustDomain,
    path: facts.path,
    labels: facts.labels,
    zone: sourceZone,
  };
  if (request.source.ip !== undefined) source.ip = request.source.ip;
  const credential: Record<string, unknown> = {};
  const c = request.credential;
  if (c && nowMs !== undefined) {
    credential.type = c.type;
    if (c.id !== undefined) credential.id = c.id;
    if (c.issuedAt !== undefined) {
      const issued = Date.parse(c.issuedAt);
      credential.issuedAt = new Date(issued);
      credential.ageSeconds = (nowMs - issued) / 1000;
    }
    if (c.expiresAt !== undefined) {
      const expires = Date.parse(c.expiresAt);
      credential.expiresAt = new Date(expires);
      credential.ttlSeconds = (expires - nowMs) / 1000;
    }
  }
  const destination: Record<string, unknown> = { service, zone: destinationZone };
  if (request.destination.port !== undefined) destination.port = request.destination.port;
  const act: Record<string, unknown> = {};
  if (action.method !== undefined) act.method = action.method;
  if (action.path !== undefined) act.path = action.path;
  if (action.operation !== undefined) act.operation = action.operation;
  const activation: Record<string, unknown> = {
    source,
    credential,
    destination,
    action: act,
    context: request.context ?? {},
  };
  if (nowMs !== undefined) activation.time = new Date(nowMs);
  return activation as unknown as ConditionActivation;
}
