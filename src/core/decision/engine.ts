/**
 * The compiled decision engine: a policy turned into indexes and closures once,
 * then asked many times. Semantics are those of docs/policy.md, and the
 * reference evaluator in test/reference/ states them as a plain loop; the two
 * are checked against each other on random policies.
 */
import { tryParseSpiffeId } from '../identity/spiffe-id.js';
import { createPrefixTable, parseCidr, type PrefixTable } from '../net/index.js';
import {
  compileCondition,
  isConditionError,
  type CompiledCondition,
  type ConditionActivation,
} from '../policy/cel/index.js';
import {
  LAYERS,
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
import { KeySpace, RuleBucket } from './rule-index.js';

export interface EngineOptions {
  clock: Clock;
  /** When given, every decision carries a fresh `decisionId`. */
  ids?: Random;
}

/** A rule as placed in one bucket (ports and operations depend on the service). */
interface RuleInstance {
  id: string;
  effect: Effect;
  expiresAt: number;
  ports: PortMatcher;
  actions: ActionMatcher | undefined;
  source: SourceMatcher;
  condition: CompiledCondition | undefined;
  /** Dedupe marker: the number of the decision that last looked at this instance. */
  seen: number;
}

interface CompiledService {
  name: string;
  zone: string;
  mode: RolloutMode;
  flows: RuleBucket<RuleInstance>;
  permissions: RuleBucket<RuleInstance>;
}

interface Identity extends SourceFacts {
  keys: number[];
  valid: boolean;
}

const NEVER = Number.POSITIVE_INFINITY;
const EMPTY: readonly string[] = Object.freeze([]);
const freezeVerdict = (v: LayerVerdict): LayerVerdict => Object.freeze(v);
const DEFAULT_DENY = freezeVerdict({ verdict: 'deny', reason: 'default_deny', rules: EMPTY });
const NOT_EVALUATED = freezeVerdict({ verdict: 'deny', reason: 'request_invalid', rules: EMPTY });
const NO_LABELS: Readonly<Record<string, string>> = Object.freeze({});
const MAX_CACHED_IDENTITIES = 50_000;

function expiry(expires: string | undefined): number {
  return expires === undefined ? NEVER : Date.parse(expires);
}

export class DecisionEngine {
  readonly revision: string;
  private readonly clock: Clock;
  private readonly ids: Random | undefined;
  private readonly keys = new KeySpace();
  private readonly zoneTable: PrefixTable<string>;
  private readonly zoneNames: string[];
  private readonly zoneIndex = new Map<string, number>();
  /** zoneRules[src][dst]: candidate segmentation rules. */
  private readonly zoneRules: { id: string; effect: Effect; expiresAt: number }[][][];
  /** Precomputed zone verdicts where no candidate rule can expire. */
  private readonly zoneVerdicts: (LayerVerdict | undefined)[][];
  private readonly services = new Map<string, CompiledService>();
  private readonly anyService: CompiledService;
  private readonly inventory = new Map<string, Identity>();
  private readonly strangers = new Map<string, Identity>();
  private readonly trustDomains: Set<string>;
  private readonly trustDomain: string;
  private counter = 0;

  constructor(policy: Policy, options: EngineOptions) {
    this.revision = policy.revision;
    this.clock = options.clock;
    this.ids = options.ids;
    this.trustDomain = policy.trustDomain;
    this.trustDomains = new Set([policy.trustDomain, ...policy.federatedTrustDomains]);

    // Zones: index 0..n-1 for declared zones, n for `unknown`.
    this.zoneNames = [...policy.zones.map((z) => z.name), UNKNOWN_ZONE];
    this.zoneNames.forEach((n, i) => this.zoneIndex.set(n, i));
    this.zoneTable = createPrefixTable(
      policy.zones.flatMap((z) => z.cidrs.map((c) => ({ cidr: parseCidr(c), value: z.name }))),
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
    const bucketFor = (svc: Service | undefined): CompiledService => ({
      name: svc?.name ?? '*',
      zone: svc?.zone ?? UNKNOWN_ZONE,
      mode: svc?.mode ?? 'enforce',
      flows: new RuleBucket(),
      permissions: new RuleBucket(),
    });
    this.anyService = bucketFor(undefined);
    const serviceByName = new Map(policy.services.map((s) => [s.name, s]));
    for (const svc of policy.services) this.services.set(svc.name, bucketFor(svc));

    const conditions = new Map<string, CompiledCondition>();
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
      const source = compileSelector(rule.from);
      let condition: CompiledCondition | undefined;
      if (when !== undefined) {
        condition = conditions.get(when);
        if (!condition) conditions.set(when, (condition = compileCondition(when)));
      }
      const targets =
        rule.to.services === '*' ? [undefined] : rule.to.services.map((n) => serviceByName.get(n)!);
      for (const svc of targets) {
        const instance: RuleInstance = {
          id: rule.id,
          effect: rule.effect,
          expiresAt: expiry(rule.expires),
          ports: compilePorts(rule.to.ports, svc),
          actions: actions ? compileActions(actions, svc) : undefined,
          source,
          condition,
          seen: 0,
        };
        const compiled = svc ? this.services.get(svc.name)! : this.anyService;
        compiled[layer].add(instance, rule.from, this.keys);
      }
    };
    for (const r of policy.flows) place('flows', r, undefined, undefined);
    for (const r of policy.permissions) place('permissions', r, r.actions, r.when);

    for (const w of policy.workloads) {
      const parsed = tryParseSpiffeId(w.spiffeId)!;
      this.inventory.set(
        w.spiffeId,
        this.identity(w.spiffeId, parsed.trustDomain, parsed.path, w.labels, true),
      );
    }
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
      zone: UNKNOWN_ZONE,
      keys: valid ? this.keys.keysOf(spiffeId, trustDomain, path, labels) : [],
      valid,
    };
  }

  private resolve(spiffeId: string): Identity {
    const known = this.inventory.get(spiffeId) ?? this.strangers.get(spiffeId);
    if (known) return known;
    const parsed = tryParseSpiffeId(spiffeId);
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
    const decisionNumber = ++this.counter;
    let service = '';
    try {
      service = String(request?.destination?.service ?? '');
      return this.evaluate(request, decisionNumber);
    } catch (e) {
      // Fail closed: an unexpected error denies, even in observe/simulate mode.
      const message = e instanceof Error ? e.message : String(e);
      return this.failure('internal_error', `internal error while deciding: ${message}`, service);
    }
  }

  /** A deny for a request that could not be evaluated. */
  failure(reason: 'request_invalid' | 'internal_error', message: string, service = ''): Decision {
    const decision: Decision = {
      apiVersion: DECISION_API_VERSION,
      decision: 'deny',
      allowed: false,
      enforced: true,
      mode: 'enforce',
      wouldDeny: false,
      layer: 'credential',
      reason,
      rules: EMPTY,
      layers: {
        credential: NOT_EVALUATED,
        zone: NOT_EVALUATED,
        flow: NOT_EVALUATED,
        permission: NOT_EVALUATED,
      },
      errors: [],
      message,
      policyRevision: this.revision,
      service,
      sourceZone: UNKNOWN_ZONE,
      destinationZone: UNKNOWN_ZONE,
    };
    if (this.ids) decision.decisionId = this.ids.id();
    return decision;
  }

  private evaluate(request: DecisionRequest, n: number): Decision {
    const source = request.source;
    const destination = request.destination;
    if (
      !source ||
      typeof source.spiffeId !== 'string' ||
      !destination ||
      typeof destination.service !== 'string'
    ) {
      return this.failure('request_invalid', 'request needs `source.spiffeId` and `destination.service`');
    }
    const serviceName = destination.service;
    const svc = this.services.get(serviceName);
    const compiledService = svc ?? this.anyService;
    const port = destination.port;

    // Time is needed only by expiring rules, conditions and credential checks: read it lazily.
    let nowMs = Number.NaN;
    const now = (): number => {
      if (Number.isNaN(nowMs)) {
        nowMs = request.time === undefined ? this.clock.now() : Date.parse(request.time);
        if (Number.isNaN(nowMs)) throw new RequestError(`invalid request time \`${String(request.time)}\``);
      }
      return nowMs;
    };

    // Who is calling, and from where.
    let identity = this.resolve(source.spiffeId);
    const ip = source.ip;
    const sourceZone = ip === undefined ? UNKNOWN_ZONE : (this.zoneTable.lookupText(ip) ?? UNKNOWN_ZONE);
    if (source.labels && identity.valid) {
      // Registry labels from the enforcement point; the policy's inventory wins on conflict.
      const labels = { ...source.labels, ...identity.labels };
      identity = this.identity(identity.spiffeId, identity.trustDomain, identity.path, labels, true);
    }
    const facts: SourceFacts = {
      spiffeId: identity.spiffeId,
      trustDomain: identity.trustDomain,
      path: identity.path,
      labels: identity.labels,
      zone: sourceZone,
    };

    // The action, normalized once.
    let action: ActionFacts = EMPTY_ACTION;
    const a = request.action;
    if (a) {
      let path = a.path;
      if (path !== undefined) {
        const normalized = normalizeRequestPath(path);
        if (normalized === undefined) {
          return this.failure(
            'request_invalid',
            `request path \`${path.slice(0, 200)}\` cannot be normalized safely`,
            serviceName,
          );
        }
        path = normalized;
      }
      action = { method: a.method, path, operation: a.operation };
    }

    let credential: LayerVerdict;
    let zone: LayerVerdict;
    let flow: LayerVerdict;
    let permission: LayerVerdict;
    const errors: ConditionFailure[] = [];
    try {
      credential = checkCredential(request, identity.valid, identity.trustDomain, this.trustDomains, now);

      const s = this.zoneIndex.get(sourceZone)!;
      const d = this.zoneIndex.get(compiledService.zone)!;
      zone = this.zoneVerdicts[s]![d] ?? combine(this.zoneRules[s]![d]!, now());

      flow = this.layer(
        'flow',
        compiledService.flows,
        svc ? this.anyService.flows : undefined,
        n,
        identity,
        facts,
        port,
        undefined,
        undefined,
        now,
        errors,
      );

      let activation: ConditionActivation | undefined;
      const activate = (): ConditionActivation =>
        (activation ??= buildActivation(
          request,
          facts,
          sourceZone,
          compiledService.zone,
          serviceName,
          action,
          now(),
        ));
      permission = this.layer(
        'permission',
        compiledService.permissions,
        svc ? this.anyService.permissions : undefined,
        n,
        identity,
        facts,
        port,
        action,
        activate,
        now,
        errors,
      );
    } catch (e) {
      if (e instanceof RequestError) return this.failure('request_invalid', e.message, serviceName);
      throw e;
    }

    const layers = { credential, zone, flow, permission };
    let deciding: LayerName = 'permission';
    for (const name of LAYERS) {
      if (layers[name].verdict === 'deny') {
        deciding = name;
        break;
      }
    }
    const verdict = layers[deciding];
    const mode = compiledService.mode;
    const enforced = mode === 'enforce';
    const allow = verdict.verdict === 'allow';
    const decision: Decision = {
      apiVersion: DECISION_API_VERSION,
      decision: verdict.verdict,
      allowed: allow || !enforced,
      enforced,
      mode,
      wouldDeny: !allow && !enforced,
      layer: deciding,
      reason: verdict.reason,
      rules: verdict.rules,
      layers,
      errors,
      policyRevision: this.revision,
      service: serviceName,
      sourceZone,
      destinationZone: compiledService.zone,
    };
    if (this.ids) decision.decisionId = this.ids.id();
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
    n: number,
    identity: Identity,
    facts: SourceFacts,
    port: number | undefined,
    action: ActionFacts | undefined,
    activate: (() => ConditionActivation) | undefined,
    now: () => number,
    errors: ConditionFailure[],
  ): LayerVerdict {
    let allows: string[] | undefined;
    let denies: string[] | undefined;
    const visit = (list: readonly RuleInstance[]): void => {
      for (let i = 0; i < list.length; i++) {
        const r = list[i]!;
        if (r.seen === n) continue;
        r.seen = n;
        if (!r.ports(port)) continue;
        if (action && r.actions && !r.actions(action)) continue;
        if (!r.source(facts)) continue;
        if (r.expiresAt !== NEVER && now() >= r.expiresAt) continue;
        if (r.condition && activate) {
          const result = r.condition.evaluate(activate());
          if (result !== true) {
            if (result === false) continue;
            const failed = isConditionError(result);
            // Fail closed: an erroring deny matches, an erroring allow does not.
            errors.push({
              layer,
              ruleId: r.id,
              effect: r.effect,
              outcome: r.effect === 'deny' ? 'matched' : 'not_matched',
              error: failed ? result.error : 'condition did not return a bool',
            });
            if (r.effect === 'allow') continue;
          }
        }
        if (r.effect === 'deny') (denies ??= []).push(r.id);
        else (allows ??= []).push(r.id);
      }
    };
    const scan = (b: RuleBucket<RuleInstance>): void => {
      if (b.size === 0) return;
      const keys = identity.keys;
      for (let i = 0; i < keys.length; i++) {
        const list = b.byKey.get(keys[i]!);
        if (list) visit(list);
      }
      visit(b.always);
    };
    scan(bucket);
    if (wildcard) scan(wildcard);
    if (denies) return { verdict: 'deny', reason: 'deny_rule', rules: denies };
    if (allows) return { verdict: 'allow', reason: 'allow_rule', rules: allows };
    return DEFAULT_DENY;
  }
}

class RequestError extends Error {}

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
  if (allows) return freezeVerdict({ verdict: 'allow', reason: 'allow_rule', rules: Object.freeze(allows) });
  return DEFAULT_DENY;
}

function buildActivation(
  request: DecisionRequest,
  facts: SourceFacts,
  sourceZone: string,
  destinationZone: string,
  service: string,
  action: ActionFacts,
  nowMs: number,
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
  if (c) {
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
  return {
    source,
    credential,
    destination,
    action: act,
    context: request.context ?? {},
    time: new Date(nowMs),
  } as unknown as ConditionActivation;
}
