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
import { internalized } from './internalized.js';
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
import { buildActivation, IDENTITY_KEYS } from './condition-activation.js';
import {
  ANY_METHOD,
  encodeRule,
  F_ACTIONS,
  F_ANY_SOURCE,
  F_CONDITION,
  F_DENY,
  F_EXPIRES,
  F_PAIRS,
  F_PORTS,
  F_PREFIX,
  F_PROVEN,
  F_SHARED,
  NO_METHOD,
  plainActionPairs,
  RECORD,
  type RuleSpec,
} from './rule-record.js';
import { KeySpace, NO_LABEL, RuleBucket } from './rule-index.js';

export interface EngineOptions {
  clock: Clock;
  /** When given, every decision carries a fresh `decisionId`. */
  ids?: Random;
}

/** A destination (a service, or `"*"` for every other) while the engine is built. */
interface ServiceSpec {
  name: string;
  zoneIndex: number;
  mode: RolloutMode;
  flows: RuleBucket<RuleSpec>;
  permissions: RuleBucket<RuleSpec>;
}

/*
 * A destination's record in the rule table, written just before its
 * permission bucket, so that one read brings both:
 *
 *     zone (index in zoneNames), mode (index in MODES),
 *     constant flow verdict, constant permission verdict (index in
 *       constantVerdicts, -1 for none; see constantVerdict()),
 *     where its flow bucket starts, where its permission bucket starts (-1: none)
 */
const S_ZONE = 0;
const S_MODE = 1;
const S_CONSTANT_FLOW = 2;
const S_CONSTANT_PERMISSION = 3;
const S_FLOWS = 4;
const S_PERMISSIONS = 5;
const MODES: readonly RolloutMode[] = ['enforce', 'simulate', 'observe'];

/** A caller as resolved once; the per-request zone lives in the scratch `facts`. */
interface Identity extends Omit<SourceFacts, 'zone'> {
  valid: boolean;
  /** Valid and of an accepted trust domain. */
  accepted: boolean;
}

/*
 * A caller's record in the caller table: what the rule layers read of it,
 * found from its SPIFFE ID by a map whose values are numbers, so that a
 * decision goes from the map straight to these words, with no object in
 * between. Its `Identity` (for selectors that need a call, and conditions) is
 * read only when needed.
 *
 *     flags, number in `callers`, keyCount n, labelCount m,
 *     key_1 … key_n (KeySpace.keysOf), label_1 … label_m (KeySpace.labelNeeds),
 *     f, (from, to) × f, p, (from, to) × p
 *
 * The last two lists are the caller's rule ranges in the flow and permission
 * buckets of the rules for every service (`"*"`): those buckets are the same
 * for every destination, so their walk by the caller's keys is done once per
 * caller, not once per decision (on the peer workload that bucket has 92
 * keys, and its walk was more than half of all key steps).
 */
const C_FLAGS = 0;
const C_NUMBER = 1;
const C_KEYS = 2;
const C_LABELS = 3;
const C_HEADER = 4;
const C_VALID = 1;
const C_ACCEPTED = 2;

const NEVER = Number.POSITIVE_INFINITY;
const EMPTY: readonly string[] = Object.freeze([]);
const freezeVerdict = (v: LayerVerdict): LayerVerdict => Object.freeze(v);
const DEFAULT_DENY = freezeVerdict({ verdict: 'deny', reason: 'default_deny', rules: EMPTY });
const NO_LABELS: Readonly<Record<string, string>> = Object.freeze({});
const NO_ERRORS: readonly ConditionFailure[] = Object.freeze([]);
const NO_KEYS: readonly number[] = Object.freeze([]);
const NO_CALLER = new Int32Array(C_HEADER + 2);
const MAX_CACHED_IDENTITIES = 50_000;
/** In `known`: an inventory ID not yet seen in a request, whose record is not made yet. */
const UNFILED = -1;

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
  /**
   * Where each service's record starts in the rule table (see S_ZONE), by name. A dictionary
   * object, not a `Map`, for the reasons `known` gives; a name may be anything, and with no
   * prototype every name is a plain key (one that reads as an array index too).
   */
  private readonly services: Record<string, number> = Object.create(null) as Record<string, number>;
  /** The record of `"*"`: rules for every service, and the destination of requests to an unknown one. */
  private readonly anyServiceAt: number;
  /** The flow and permission buckets of the rules for every service; -1: none. */
  private readonly anyFlows: number;
  private readonly anyPermissions: number;
  private readonly constantVerdicts: LayerVerdict[] = [];
  /** Labels of the policy's inventory by SPIFFE ID; identities are built on first sight. */
  private readonly inventory = new Map<string, Readonly<Record<string, string>>>();
  /**
   * The inventory's callers by SPIFFE ID: where their record starts in `callerTable`, UNFILED
   * until their first request.
   *
   * A dictionary object, not a `Map`: a property name is internalized, and V8 turns a string it
   * was looked up by into a pointer to that internalized copy, so that the same string's next
   * lookup compares no characters. An enforcement point that keeps a caller's ID between
   * requests (the JWT-SVID verifier answers a cached token with the same identity object), and
   * the peer harness, which reuses its requests, then find the caller without reading the ID
   * again. On the peer workload: +6 to +7 % decisions/s against a `Map` made with room for every
   * key. A string seen for the first time costs more, about 0.15 µs more than with a `Map` here:
   * V8 looks for its internalized copy first.
   *
   * Every inventory ID is a key from the start (its value UNFILED until its first request), so
   * that V8 makes the internalized copies one after the other while the policy loads: 10,000
   * SPIFFE IDs then take about 640 KB, in a few runs of adjacent memory, not a line here and there.
   *
   * No prototype: nothing inherited can answer, and `__proto__` is a plain key. A SPIFFE ID
   * starts with `spiffe://`, so it is never an array index, which objects keep apart.
   */
  private readonly known: Record<string, number> = Object.create(null) as Record<string, number>;
  private readonly strangers = new Map<string, number>();
  private callerTable = new Int32Array(1024);
  private callerTableLength = 0;
  /** Callers by the number in their record. */
  private callers: Identity[] = [];
  private readonly trustDomains: Set<string>;
  private counter = 0;
  /**
   * Every bucket of the flow and permission layers, one after the other
   * ({@link RuleBucket.write}), its rules as records ({@link encodeRule}).
   */
  private readonly table: Int32Array;
  /** Per rule instance, by the number in its record. */
  private readonly ruleIds: string[] = [];
  /** `[ruleIds[i]]`, frozen, made once per rule: the rules of a layer that one allow decides. */
  private readonly singleRules: (readonly string[])[];
  private readonly expiresAt: number[] = [];
  /** The policy's distinct conditions, by the number in rule records. */
  private readonly conditionList: CompiledCondition[] = [];
  /** Their `direct` functions, by the same number: called first, with `evaluate` for what they leave open. */
  private readonly conditionDirect: (((activation: ConditionActivation) => unknown) | undefined)[] = [];
  private readonly sources: SourceMatcher[] = [];
  private readonly portMatchers: (PortMatcher | undefined)[] = [];
  private readonly actionMatchers: (ActionMatcher | undefined)[] = [];
  /** Dedupe marker for F_SHARED instances: the number of the decision that last looked at it. */
  private seen = new Float64Array(0);
  /** Path prefixes of the records, by number. */
  private readonly strings: string[] = [];
  /**
   * Methods the records name, by text. A dictionary object, not a `Map`: method names are short,
   * and V8 internalizes short strings that `JSON.parse` and the HTTP parser make, which a
   * dictionary finds by identity in half a `Map`'s time. No prototype: `constructor` is a method.
   */
  private readonly methodIds: Record<string, number> = Object.create(null) as Record<string, number>;
  private methodCount = 0;
  /** Whether any condition reads `time` or `credential`; if none does, activations skip both (and the clock). */
  private conditionsReadTime = false;
  /**
   * Whether any condition reads the caller's SPIFFE ID, trust domain, path or
   * labels. If none does, activations leave them out and the caller's
   * identity is not read from memory for them (8 % of a decision on the peer
   * workload, whose conditions read `source.ip`).
   */
  private conditionsReadCaller = false;

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
    const specFor = (svc: Service | undefined): ServiceSpec => ({
      name: svc?.name ?? '*',
      zoneIndex: this.zoneIndex.get(svc?.zone ?? UNKNOWN_ZONE) ?? this.unknownZone,
      mode: svc?.mode ?? 'enforce',
      flows: new RuleBucket(),
      permissions: new RuleBucket(),
    });
    const anySpec = specFor(undefined);
    const specs = new Map(policy.services.map((svc) => [svc.name, specFor(svc)]));
    const serviceByName = new Map(policy.services.map((s) => [s.name, s]));

    const selectors = new Map<string, SourceMatcher>();
    const stringIds = new Map<string, number>();
    const stringId = (text: string): number => {
      let id = stringIds.get(text);
      if (id === undefined) {
        stringIds.set(text, (id = this.strings.length));
        this.strings.push(internalized(text));
      }
      return id;
    };
    const methodId = (method: string | undefined): number => {
      if (method === undefined) return ANY_METHOD;
      let id = this.methodIds[method];
      if (id === undefined) this.methodIds[method] = id = this.methodCount++;
      return id;
    };
    const conditionNumbers = new Map<CompiledCondition, number>();
    const conditionNumber = (condition: CompiledCondition | undefined): number => {
      if (condition === undefined) return -1;
      let n = conditionNumbers.get(condition);
      if (n === undefined) {
        conditionNumbers.set(condition, (n = this.conditionList.push(condition) - 1));
        this.conditionDirect.push(condition.direct);
      }
      return n;
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
        const keys = condition.sourceKeys;
        if (keys === undefined || IDENTITY_KEYS.some((k) => keys.has(k))) this.conditionsReadCaller = true;
      }
      const targets =
        rule.to.services === '*' ? [undefined] : rule.to.services.map((n) => serviceByName.get(n)!);
      for (const svc of targets) {
        const spec: RuleSpec = {
          instance: this.ruleIds.length,
          id: rule.id,
          proven: false,
          shared: false,
          effect: rule.effect,
          expires: rule.expires !== undefined,
          portFrom: 0,
          portTo: 65535,
          ports: undefined,
          method: undefined,
          prefix: undefined,
          pairs: undefined,
          actions: undefined,
          needA: needs?.[0] ?? NO_LABEL,
          needB: needs?.[1] ?? NO_LABEL,
          anySource: rule.from === '*',
          conditionNumber: conditionNumber(condition),
        };
        const ports = rule.to.ports ?? svc?.ports ?? '*';
        if (ports !== '*' && ports.length === 1) {
          spec.portFrom = ports[0]!.from;
          spec.portTo = ports[0]!.to;
        } else if (ports !== '*') spec.ports = compilePorts(ports, svc);
        const simple = actions?.length === 1 ? actions[0]! : undefined;
        if (
          simple &&
          simple.operations.length === 0 &&
          simple.paths.length === 0 &&
          simple.prefixes.length === 1 &&
          (simple.methods === '*' || simple.methods.length === 1)
        ) {
          spec.method = simple.methods === '*' ? undefined : simple.methods[0]!;
          spec.prefix = simple.prefixes[0]!;
        } else if (actions && actions.length) {
          spec.pairs = plainActionPairs(actions);
          if (spec.pairs === undefined) spec.actions = compileActions(actions, svc);
        }
        this.ruleIds.push(rule.id);
        this.expiresAt.push(expiry(rule.expires));
        this.sources.push(source);
        this.portMatchers.push(spec.ports);
        this.actionMatchers.push(spec.actions);
        (svc ? specs.get(svc.name)! : anySpec)[layer].add(spec, rule.from, this.keys);
      }
    };
    for (const r of policy.flows) place('flows', r, undefined, undefined);
    for (const r of policy.permissions) place('permissions', r, r.actions, r.when);
    this.seen = new Float64Array(this.ruleIds.length);
    this.singleRules = this.ruleIds.map((id) => Object.freeze([id]));

    const table: number[] = [];
    const encode = (rule: RuleSpec, out: number[]): void => encodeRule(rule, out, stringId, methodId);
    const constant = (verdict: LayerVerdict | undefined): number =>
      verdict === undefined ? -1 : this.constantVerdicts.push(verdict) - 1;
    const write = (spec: ServiceSpec, wildcard: ServiceSpec | undefined): number => {
      const at = table.length;
      table.push(
        spec.zoneIndex,
        MODES.indexOf(spec.mode),
        constant(constantVerdict(spec.flows, wildcard?.flows)),
        constant(constantVerdict(spec.permissions, wildcard?.permissions)),
        -1,
        -1,
      );
      table[at + S_PERMISSIONS] = spec.permissions.write(table, encode);
      table[at + S_FLOWS] = spec.flows.write(table, encode);
      return at;
    };
    this.anyServiceAt = write(anySpec, undefined);
    for (const spec of specs.values()) this.services[spec.name] = write(spec, anySpec);
    this.table = Int32Array.from(table);
    this.anyFlows = this.table[this.anyServiceAt + S_FLOWS]!;
    this.anyPermissions = this.table[this.anyServiceAt + S_PERMISSIONS]!;

    // Identities are indexed lazily, on their first request: an estate of tens
    // of thousands of workloads should not slow every policy load.
    for (const w of policy.workloads) {
      this.inventory.set(w.spiffeId, w.labels);
      // Named now, filed on first sight: see `known`.
      this.known[w.spiffeId] = UNFILED;
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
      valid,
      accepted: valid && this.trustDomains.has(trustDomain),
    };
  }

  /** The caller's record (see C_HEADER), its number in `callers` set to `number`. */
  private callerRecord(identity: Identity, number: number): number[] {
    const { spiffeId, trustDomain, path, labels, valid } = identity;
    const keys = valid ? this.keys.keysOf(spiffeId, trustDomain, path, labels) : NO_KEYS;
    const labelIds = valid ? this.keys.labelIdsOf(labels) : NO_KEYS;
    const flags = (valid ? C_VALID : 0) | (identity.accepted ? C_ACCEPTED : 0);
    const record = [flags, number, keys.length, labelIds.length, ...keys, ...labelIds];
    this.rangesOf(this.anyFlows, keys, record);
    this.rangesOf(this.anyPermissions, keys, record);
    return record;
  }

  /**
   * Appends to `out` how many rule ranges of `bucket` the sorted `keys` select, then each as
   * `from, to`, in the order a walk of the bucket by those keys visits them: the walk of
   * `layer()`, done once per caller for the buckets of `"*"`.
   */
  private rangesOf(bucket: number, keys: ArrayLike<number>, out: number[]): void {
    const countAt = out.length;
    out.push(0);
    if (bucket === -1) return;
    const table = this.table;
    let p = bucket + 3;
    const end = p + 2 * table[bucket]!;
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      // KEYS_END, above every key, ends the bucket's keys.
      while (table[p]! < key) p += 2;
      if (p === end) break;
      if (table[p] === key) {
        out.push(table[p + 1]!, table[p + 3]!);
        out[countAt] = out[countAt]! + 1;
      }
    }
  }

  /** Files the caller in the caller table and returns where its record starts. */
  private addCaller(identity: Identity): number {
    const record = this.callerRecord(identity, this.callers.length);
    this.callers.push(identity);
    const at = this.callerTableLength;
    if (at + record.length > this.callerTable.length) {
      const grown = new Int32Array(Math.max(2 * this.callerTable.length, at + record.length));
      grown.set(this.callerTable.subarray(0, at));
      this.callerTable = grown;
    }
    this.callerTable.set(record, at);
    this.callerTableLength = at + record.length;
    return at;
  }

  /** Where the caller's record starts in the caller table, filed on first sight. */
  private resolve(requested: string): number {
    const known = this.known[requested];
    if (known !== undefined && known !== UNFILED) return known;
    const stranger = this.strangers.get(requested);
    if (stranger !== undefined) return stranger;
    // Kept as a map key and in the caller's identity: see internalized().
    const spiffeId = internalized(requested);
    const parsed = tryParseSpiffeId(spiffeId);
    const labels = this.inventory.get(spiffeId);
    if (labels && parsed) {
      const at = this.addCaller(this.identity(spiffeId, parsed.trustDomain, parsed.path, labels, true));
      // Only inventory callers are filed here, so the inventory bounds their number.
      this.known[spiffeId] = at;
      return at;
    }
    // Bounded: unknown callers must not grow memory without limit.
    if (this.strangers.size >= MAX_CACHED_IDENTITIES) this.forgetStrangers();
    const at = this.addCaller(
      parsed
        ? this.identity(spiffeId, parsed.trustDomain, parsed.path, NO_LABELS, true)
        : this.identity(spiffeId, '', '', NO_LABELS, false),
    );
    this.strangers.set(spiffeId, at);
    return at;
  }

  /** Drops the callers outside the inventory: the caller table is made again from the others. */
  private forgetStrangers(): void {
    const known: Identity[] = [];
    for (const id in this.known) {
      const at = this.known[id]!;
      if (at !== UNFILED) known.push(this.callers[this.callerTable[at + C_NUMBER]!]!);
    }
    this.strangers.clear();
    this.callers = [];
    this.callerTable = new Int32Array(1024);
    this.callerTableLength = 0;
    for (const identity of known) this.known[identity.spiffeId] = this.addCaller(identity);
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
  /** Sink of the early reads in `evaluate` (kept, so that they are not optimized away). */
  private touched = 0;
  private nowMs = Number.NaN;
  private activation: ConditionActivation | undefined;
  private errors: ConditionFailure[] = [];
  /** The instance of the first matching allow of the layer under way (-1: none); `allows` holds every id once there is a second. */
  private firstAllow = -1;
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
  /** The caller's record: the array that holds it (the caller table, mostly) and where it starts. */
  private caller: Int32Array = NO_CALLER;
  private callerAt = 0;
  /** The caller: made for this request (labels it brought), else undefined (`callers` has it). */
  private callerIdentity: Identity | undefined;
  /** Whether `facts` describe this request's caller yet; see `sourceFacts`. */
  private factsReady = false;
  /** The request method's number among those records name; NO_METHOD when none names it. */
  private methodId = NO_METHOD;
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

    // Who is calling, and from where. The caller first: its lookup waits for memory three times
    // over (the ID's internalized copy, the dictionary, then the caller's record), the service's
    // seldom; looked up after it, the service is found while the processor waits for those reads.
    // A small gain, near the noise: +1.3 % and +1.8 % over 4 and 8 pairs of harness processes
    // (bench-engine-ab.mjs --processes) on the large peer workload.
    let callerAt = this.resolve(source.spiffeId);
    const knownService = this.services[serviceName];
    const serviceAt = knownService ?? this.anyServiceAt;
    const table = this.table;
    // After resolve(), which may have grown or remade the table.
    let caller = this.callerTable;
    // Start reading what the rule layers read first, from memory seldom in cache, so that the
    // reads wait alongside the work below instead of one after the other later.
    this.touched = caller[callerAt + C_KEYS]! + table[serviceAt + S_PERMISSIONS]!;
    const ip = source.ip;
    const zoneIndex =
      ip === undefined ? this.unknownZone : (this.zoneTable.lookupText(ip) ?? this.unknownZone);
    const sourceZone = this.zoneNames[zoneIndex]!;
    const callerFlags = caller[callerAt + C_FLAGS]!;
    const valid = (callerFlags & C_VALID) !== 0;
    this.callerIdentity = undefined;
    if (source.labels && valid) {
      // Registry labels from the enforcement point; the policy's inventory wins on conflict.
      const known = this.callers[caller[callerAt + C_NUMBER]!]!;
      const labels = { ...source.labels, ...known.labels };
      const identity = this.identity(known.spiffeId, known.trustDomain, known.path, labels, true);
      this.callerIdentity = identity;
      caller = Int32Array.from(this.callerRecord(identity, -1));
      callerAt = 0;
    }
    this.caller = caller;
    this.callerAt = callerAt;
    this.factsReady = false;
    this.sourceZone = sourceZone;
    const destinationZone = this.zoneNames[table[serviceAt + S_ZONE]!]!;
    this.destinationZone = destinationZone;

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

    const credential = checkCredential(
      request,
      valid,
      (callerFlags & C_ACCEPTED) !== 0,
      this.decisionTime,
      action,
    );
    const d = table[serviceAt + S_ZONE]!;
    const zone = this.zoneVerdicts[zoneIndex]![d] ?? combine(this.zoneRules[zoneIndex]![d]!, this.now());
    // The rules for every service apply beside a known service's own; an unknown one has only those.
    const known = knownService !== undefined;
    const constantFlow = table[serviceAt + S_CONSTANT_FLOW]!;
    const flow =
      constantFlow !== -1
        ? this.constantVerdicts[constantFlow]!
        : this.layer('flow', known ? table[serviceAt + S_FLOWS]! : -1, port, undefined);
    const constantPermission = table[serviceAt + S_CONSTANT_PERMISSION]!;
    let permission: LayerVerdict;
    if (constantPermission !== -1) permission = this.constantVerdicts[constantPermission]!;
    else {
      const method = action.method;
      this.methodId = method === undefined ? NO_METHOD : (this.methodIds[method] ?? NO_METHOD);
      permission = this.layer('permission', known ? table[serviceAt + S_PERMISSIONS]! : -1, port, action);
    }

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
    const mode = MODES[table[serviceAt + S_MODE]!]!;
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
      destinationZone,
    };
    return decision;
  }

  /**
   * One rule layer over the candidate rules of the destination (its bucket at `at`; -1: none or
   * an unknown service) and of `"*"`: any matching deny denies (reporting every matching deny),
   * else any matching allow allows (reporting every matching allow), else default deny.
   */
  private layer(
    layer: 'flow' | 'permission',
    at: number,
    port: number | undefined,
    action: ActionFacts | undefined,
  ): LayerVerdict {
    this.firstAllow = -1;
    this.allows = undefined;
    this.denies = undefined;
    const caller = this.caller;
    const keysFrom = this.callerAt + C_HEADER;
    const keysTo = keysFrom + caller[this.callerAt + C_KEYS]!;
    const table = this.table;
    if (at !== -1) {
      const keyCount = table[at]!;
      if (keyCount !== 0) {
        // Both key lists are sorted: one walk over the two finds the common keys, with
        // branches a processor predicts better than those of a binary search per key.
        let p = at + 3;
        const end = p + 2 * keyCount;
        for (let i = keysFrom; i < keysTo; i++) {
          const key = caller[i]!;
          // KEYS_END, above every key, ends the bucket's keys.
          while (table[p]! < key) p += 2;
          if (p === end) break;
          if (table[p] === key) this.visit(table[p + 1]!, table[p + 3]!, layer, port, action);
        }
      }
      const from = table[at + 1]!;
      const to = table[at + 2]!;
      if (from !== to) this.visit(from, to, layer, port, action);
    }
    const any = layer === 'flow' ? this.anyFlows : this.anyPermissions;
    if (any !== -1) {
      // The caller's ranges in this bucket, found when its record was made.
      let r = keysTo + caller[this.callerAt + C_LABELS]!;
      if (layer === 'permission') r += 1 + 2 * caller[r]!;
      const rangesEnd = r + 1 + 2 * caller[r]!;
      for (r++; r < rangesEnd; r += 2) this.visit(caller[r]!, caller[r + 1]!, layer, port, action);
      const from = table[any + 1]!;
      const to = table[any + 2]!;
      if (from !== to) this.visit(from, to, layer, port, action);
    }
    const denies = this.denies;
    if (denies) return { verdict: 'deny', reason: 'deny_rule', rules: denies };
    const allows = this.allows;
    if (allows) return { verdict: 'allow', reason: 'allow_rule', rules: allows };
    // One allow, the common answer. A new verdict costs less than a shared one per rule, which is
    // seldom in cache (+7 % on the large peer workload); its one-rule list is shared, read where
    // the rule's id would be, one array fewer to make (+1.4 % and +1.1 % over 8 pairs of harness
    // processes in each order, bench-engine-ab.mjs --processes).
    const only = this.firstAllow;
    if (only !== -1) return { verdict: 'allow', reason: 'allow_rule', rules: this.singleRules[only]! };
    return DEFAULT_DENY;
  }

  /** Checks the records of the rule table from position `from` up to, not including, `to`. */
  private visit(
    from: number,
    to: number,
    layer: 'flow' | 'permission',
    port: number | undefined,
    action: ActionFacts | undefined,
  ): void {
    const table = this.table;
    const n = this.counter;
    for (let at = from; at < to;) {
      const flags = table[at]!;
      const record = at;
      at += flags & F_PAIRS ? RECORD + 2 * table[record + 6]! : RECORD;
      const instance = table[record + 5]!;
      if (flags & F_SHARED) {
        if (this.seen[instance] === n) continue;
        this.seen[instance] = n;
      }
      if (flags & F_PORTS) {
        if (!this.portMatchers[instance]!(port)) continue;
      } else {
        const ports = table[record + 1]!;
        const portFrom = ports & 0xffff;
        if (portFrom !== 0 && (port === undefined || port < portFrom || port > ports >>> 16)) continue;
      }
      if (action !== undefined) {
        if (flags & F_PREFIX) {
          const method = table[record + 6]!;
          if (method !== ANY_METHOD && method !== this.methodId) continue;
          const path = action.path;
          if (path === undefined || !path.startsWith(this.strings[table[record + 7]!]!)) continue;
        } else if (flags & F_PAIRS) {
          if (!this.matchesPairs(record, action.path)) continue;
        } else if (flags & F_ACTIONS && !this.actionMatchers[instance]!(action)) continue;
      }
      if (!(flags & (F_ANY_SOURCE | F_PROVEN))) {
        const needA = table[record + 3]!;
        if (needA !== NO_LABEL) {
          const caller = this.caller;
          const callerAt = this.callerAt;
          const labelsFrom = callerAt + C_HEADER + caller[callerAt + C_KEYS]!;
          const labelsTo = labelsFrom + caller[callerAt + C_LABELS]!;
          const needB = table[record + 4]!;
          if (
            !has(caller, labelsFrom, labelsTo, needA) ||
            (needB !== NO_LABEL && !has(caller, labelsFrom, labelsTo, needB))
          )
            continue;
        } else if (!this.sources[instance]!(this.sourceFacts())) continue;
      }
      if (flags & F_EXPIRES && this.now() >= this.expiresAt[instance]!) continue;
      if (flags & F_CONDITION) {
        const number = table[record + 2]!;
        const activation = (this.activation ??= this.buildActivation(action ?? EMPTY_ACTION));
        // The compiled function straight away: `evaluate` reaches it through three more objects,
        // seldom in cache. Anything but a bool from it is left to `evaluate`, which says what it is.
        const direct = this.conditionDirect[number];
        const quick = direct === undefined ? undefined : callDirect(direct, activation);
        const result =
          quick === true || quick === false ? quick : this.conditionList[number]!.evaluate(activation);
        if (result !== true) {
          if (result === false) continue;
          // Fail closed: an erroring deny matches, an erroring allow does not.
          const deny = (flags & F_DENY) !== 0;
          this.errors.push({
            layer,
            ruleId: this.ruleIds[instance]!,
            effect: deny ? 'deny' : 'allow',
            outcome: deny ? 'matched' : 'not_matched',
            error: isConditionError(result) ? result.error : 'condition did not return a bool',
          });
          if (!deny) continue;
        }
      }
      if (flags & F_DENY) (this.denies ??= []).push(this.ruleIds[instance]!);
      else if (this.firstAllow === -1) this.firstAllow = instance;
      else (this.allows ??= [this.ruleIds[this.firstAllow]!]).push(this.ruleIds[instance]!);
    }
  }

  /** Whether some `method, prefix` pair of the F_PAIRS record at `record` matches the request. */
  private matchesPairs(record: number, path: string | undefined): boolean {
    if (path === undefined) return false;
    const table = this.table;
    const method = this.methodId;
    const end = record + RECORD + 2 * table[record + 6]!;
    for (let j = record + RECORD; j < end; j += 2) {
      const m = table[j]!;
      if ((m === ANY_METHOD || m === method) && path.startsWith(this.strings[table[j + 1]!]!)) return true;
    }
    return false;
  }

  /** The caller as selectors and conditions see it, filled on first need in a decision. */
  private sourceFacts(): SourceFacts {
    const facts = this.facts;
    if (!this.factsReady) {
      const identity = this.callerIdentity ?? this.callers[this.caller[this.callerAt + C_NUMBER]!]!;
      facts.spiffeId = identity.spiffeId;
      facts.trustDomain = identity.trustDomain;
      facts.path = identity.path;
      facts.labels = identity.labels;
      facts.zone = this.sourceZone;
      this.factsReady = true;
    }
    return facts;
  }

  private buildActivation(action: ActionFacts): ConditionActivation {
    return buildActivation(
      this.request!,
      this.conditionsReadCaller ? this.sourceFacts() : undefined,
      this.sourceZone,
      this.destinationZone,
      this.request!.destination.service,
      action,
      this.conditionsReadTime ? this.now() : undefined,
    );
  }
}

class RequestError extends Error {}

/** `direct(activation)`, or undefined when it throws (`evaluate` then answers). */
function callDirect(
  direct: (activation: ConditionActivation) => unknown,
  activation: ConditionActivation,
): unknown {
  try {
    return direct(activation);
  } catch {
    return undefined;
  }
}

/** Whether `ids` holds `id` from `from` up to, not including, `to` (a caller's few label pair numbers). */
function has(ids: Int32Array, from: number, to: number, id: number): boolean {
  for (let i = from; i < to; i++) if (ids[i] === id) return true;
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

/**
 * The layer's verdict when its candidates (here and under `"*"`) are the same
 * for every request and match every request: no keys, no ports, no actions,
 * no conditions, no expiry. Then the layer is not evaluated. `wildcard` is
 * the `"*"` bucket of the same layer.
 */
function constantVerdict(
  bucket: RuleBucket<RuleSpec>,
  wildcard: RuleBucket<RuleSpec> | undefined,
): LayerVerdict | undefined {
  const rules: { id: string; effect: Effect; expiresAt: number }[] = [];
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
        r.conditionNumber === -1 &&
        !r.expires;
      if (!matchesAll) return undefined;
      rules.push({ id: r.id, effect: r.effect, expiresAt: NEVER });
    }
  }
  // Visiting order, as `layer` reports: this service's rules, then those of `"*"`.
  return combine(rules, 0);
}
