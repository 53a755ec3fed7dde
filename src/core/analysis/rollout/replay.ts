/**
 * Replay: observed flows judged by a policy, as the decision engine would
 * judge them if the flows were requests.
 *
 * Identical flows are judged once. Flows are first gathered into groups — same
 * caller (identity and address), service, port, protocol and action — and
 * each group is decided once per policy, weighted by how many flows it holds.
 * A path segment that looks like a value (`/orders/42`) is folded into `{id}`
 * before grouping, but only when no policy being replayed can tell the two
 * apart: no path pattern, operation or prefix names that value, no pattern
 * matches inside a segment, and no condition reads `action`. Folding is then
 * exact: every rule matches `/orders/{id}` exactly when it matches
 * `/orders/42`.
 *
 * What replay assumes, since flows carry no credentials or request context:
 * - every caller with an identity presents a verified credential (replay
 *   tests rules, not credentials); a caller without one is denied at the
 *   credential layer (`identity_missing`), as it would be when enforced;
 * - conditions see the `context` given in the options, the same for every flow;
 * - a flow without an action (VPC Flow Logs, Hubble L3/L4) is judged by the
 *   layers that can see it — credential, zone and flow; the permission layer
 *   needs an action;
 * - a flow with a zone but no address is replayed from an address of that zone.
 * Flows to a destination that is no declared service (none of the policies
 * replayed declares it, whatever name the record gives it) are not replayed:
 * no policy governs them; they are counted apart.
 */
import type { ConditionFailure, DecisionReason } from '../../decision/decision.js';
import type { DecisionRequest } from '../../decision/request.js';
import { normalizeRequestPath } from '../../decision/request-path.js';
import {
  createPrefixTable,
  formatIpAddress,
  parseCidr,
  type Cidr,
  type IpAddress,
  type PrefixTable,
} from '../../net/index.js';
import { compileValidatedPolicy, type CompiledPolicy } from '../../policy/compile.js';
import { UNKNOWN_ZONE, type LayerName, type Policy, type RolloutMode } from '../../policy/model.js';
import { fixedClock } from '../../ports.js';
import { parseUtcTime } from '../../utc-time.js';
import { declaredServiceNames, declaredServiceOf } from '../flows/declared-service.js';
import { observationsOf, type FlowRecord } from '../flows/flow-record.js';
import { isIdSegment } from './path-template.js';

export interface ReplayOptions {
  /** The decision time (epoch ms): rule expiry and conditions that read `time` are judged at it. */
  now: number;
  /** The request context every replayed flow carries, for conditions (`{"mtls": true}`). */
  context?: Readonly<Record<string, unknown>>;
}

/** Identical flows: one caller, one service and port, one action. */
export interface FlowGroup {
  spiffeId?: string;
  ip?: string;
  /** The caller's zone as observed (replay recomputes it from `ip` under each policy). */
  sourceZone: string;
  service: string;
  port?: number;
  protocol: string;
  method?: string;
  /** The normalized path, with value segments folded into `{id}` where that is exact. */
  path?: string;
  /** One path as observed. */
  examplePath?: string;
  operation?: string;
  records: number;
  /** Flows (records weighted by `count`). */
  flows: number;
  first: number;
  last: number;
}

/** Whether a group carries an action the permission layer can judge. */
export function hasAction(g: { method?: string; path?: string; operation?: string }): boolean {
  return g.method !== undefined || g.path !== undefined || g.operation !== undefined;
}

/**
 * Folds value segments of normalized paths into `{id}` when no given policy
 * can tell a value from `{id}`; answers the identity function when some
 * policy could (a condition reading `action`, a pattern with `*` inside a
 * segment).
 */
export function createPathFolder(policies: readonly Policy[]): (path: string) => string {
  const literals = new Set<string>();
  const partials: string[] = [];
  let exact = true;
  const pattern = (p: string) => {
    const segments = p.slice(1).split('/');
    for (const s of segments) {
      if (s === '*' || s === '**' || /^\{[A-Za-z_][A-Za-z0-9_]*\}$/.test(s)) continue;
      if (s.includes('*')) exact = false;
      literals.add(s);
    }
  };
  const prefix = (p: string) => {
    const segments = p.slice(1).split('/');
    const last = segments.pop() ?? '';
    for (const s of segments) literals.add(s);
    if (last !== '') partials.push(last);
  };
  for (const policy of policies) {
    for (const s of policy.services)
      for (const defs of s.operations.values())
        for (const d of defs) {
          d.paths.forEach(pattern);
          d.prefixes.forEach(prefix);
        }
    for (const r of policy.permissions) {
      if (r.when !== undefined && /\baction\b/.test(r.when)) exact = false;
      for (const a of r.actions) {
        a.paths.forEach(pattern);
        a.prefixes.forEach(prefix);
      }
    }
  }
  if (!exact) return (path) => path;
  const foldable = (s: string): boolean => {
    if (!isIdSegment(s) || literals.has(s)) return false;
    for (const q of partials) if (s.startsWith(q)) return false;
    return true;
  };
  return (path) => {
    let segments: string[] | undefined;
    let start = 1;
    let digits = 0;
    for (let i = 1, n = 0; i <= path.length; i++) {
      const c = i < path.length ? path.charCodeAt(i) : 0x2f;
      if (c !== 0x2f) {
        // `*`, `{` and `}` make a segment a value too (path-template.ts).
        if ((c >= 48 && c <= 57) || c === 42 || c === 123 || c === 125) digits++;
        continue;
      }
      // A segment without digits is a name unless it is a long token: slice only when it may be a value.
      if (i > start && (digits > 0 || i - start >= 20) && foldable(path.slice(start, i)))
        (segments ??= path.slice(1).split('/'))[n] = '{id}';
      start = i + 1;
      digits = 0;
      n++;
    }
    return segments ? '/' + segments.join('/') : path;
  };
}

const SEP = '\u0001';

/**
 * Gathers resolved flow records into groups of identical flows, in one pass.
 * Records whose destination is no declared service are counted, not grouped.
 */
export class FlowGroups {
  private readonly map = new Map<string, Map<string, FlowGroup>>();
  /** Distinct flows. */
  size = 0;
  private readonly fold: (path: string) => string;
  private readonly declared: ReadonlySet<string>;
  /** Records (and flows) whose destination is no declared service. */
  readonly unattributed = { records: 0, flows: 0 };
  records = 0;
  flows = 0;
  first = Number.POSITIVE_INFINITY;
  last = Number.NEGATIVE_INFINITY;

  /** `policies`: every policy the groups will be replayed against (folding must be exact for each). */
  constructor(policies: readonly Policy[]) {
    this.fold = createPathFolder(policies);
    this.declared = declaredServiceNames(policies);
  }

  add(r: FlowRecord): void {
    const n = observationsOf(r);
    const time = parseUtcTime(r.time);
    this.records++;
    this.flows += n;
    if (time < this.first) this.first = time;
    if (time > this.last) this.last = time;
    const d = r.destination;
    const service = declaredServiceOf(r, this.declared);
    if (service === undefined) {
      this.unattributed.records++;
      this.unattributed.flows += n;
      return;
    }
    const s = r.source;
    const a = r.action;
    let path: string | undefined;
    if (a?.path !== undefined) {
      const normalized = normalizeRequestPath(a.path);
      path = normalized === undefined ? a.path : this.fold(normalized);
    }
    // Two levels: the caller's identity, then the rest. Shorter keys hash faster, and a
    // caller's flows share the first level.
    const caller = s.spiffeId ?? '';
    let byCaller = this.map.get(caller);
    if (!byCaller) this.map.set(caller, (byCaller = new Map()));
    const key =
      (s.ip ?? '@' + (s.zone ?? UNKNOWN_ZONE)) +
      SEP +
      service +
      SEP +
      (d.port ?? '') +
      SEP +
      r.protocol +
      SEP +
      (a === undefined ? '' : (a.method ?? '') + SEP + (path ?? '') + SEP + (a.operation ?? ''));
    const g = byCaller.get(key);
    if (g) {
      g.records++;
      g.flows += n;
      if (time < g.first) g.first = time;
      if (time > g.last) g.last = time;
      return;
    }
    const group: FlowGroup = {
      sourceZone: s.zone ?? UNKNOWN_ZONE,
      service,
      protocol: r.protocol,
      records: 1,
      flows: n,
      first: time,
      last: time,
    };
    if (s.spiffeId !== undefined) group.spiffeId = s.spiffeId;
    if (s.ip !== undefined) group.ip = s.ip;
    if (d.port !== undefined) group.port = d.port;
    if (a?.method !== undefined) group.method = a.method;
    if (path !== undefined) {
      group.path = path;
      group.examplePath = a!.path!;
    }
    if (a?.operation !== undefined) group.operation = a.operation;
    byCaller.set(key, group);
    this.size++;
  }

  /** The groups, callers in first-seen order. */
  groups(): FlowGroup[] {
    const out: FlowGroup[] = [];
    for (const byCaller of this.map.values()) for (const g of byCaller.values()) out.push(g);
    return out;
  }
}

/** How a policy judges a group. */
export interface ReplayVerdict {
  allowed: boolean;
  /** The deciding layer: the first that denies, else `flow` (no action) or `permission`. */
  layer: LayerName;
  reason: DecisionReason;
  /** The deciding rules (deny rules on a deny, allow rules on an allow). */
  rules: readonly string[];
  /** The flow layer's allow rules, when it allowed. */
  flowRules: readonly string[];
  /** Whether the permission layer allows the flow's action (always false for a flow without one). */
  permissionAllows: boolean;
  errors: readonly ConditionFailure[];
  sourceZone: string;
  destinationZone: string;
  mode: RolloutMode;
}

const VERIFIED = Object.freeze({ type: 'x509-svid' as const, verified: true });
const JUDGED_WITHOUT_ACTION: readonly LayerName[] = ['credential', 'zone', 'flow'];

/** A policy compiled once, judging flow groups. */
export class PolicyReplayer {
  readonly policy: Policy;
  private readonly engine: CompiledPolicy;
  private readonly context: Readonly<Record<string, unknown>> | undefined;
  private readonly zoneAddresses = new Map<string, string | undefined>();
  private readonly zoneCidrs: Map<string, Cidr[]>;
  private readonly allCidrs: Cidr[];
  private readonly zoneTable: PrefixTable<string>;

  constructor(policy: Policy, options: ReplayOptions) {
    this.policy = policy;
    this.engine = compileValidatedPolicy(policy, { clock: fixedClock(options.now) });
    this.context = options.context;
    this.zoneCidrs = new Map(policy.zones.map((z) => [z.name, z.cidrs.map(parseCidr)]));
    this.allCidrs = [...this.zoneCidrs.values()].flat();
    this.zoneTable = createPrefixTable(
      policy.zones.flatMap((z) => z.cidrs.map((c) => ({ cidr: parseCidr(c), value: z.name }))),
    );
  }

  /** An address this policy places in `zone`, for callers observed without one. */
  private addressIn(zone: string): string | undefined {
    if (this.zoneAddresses.has(zone)) return this.zoneAddresses.get(zone);
    let found: string | undefined;
    for (const cidr of this.zoneCidrs.get(zone) ?? []) {
      for (const ip of candidates(cidr, this.allCidrs)) {
        if (this.zoneTable.lookup(ip) === zone) {
          found = formatIpAddress(ip);
          break;
        }
      }
      if (found) break;
    }
    this.zoneAddresses.set(zone, found);
    return found;
  }

  judge(g: FlowGroup): ReplayVerdict {
    const ip = g.ip ?? this.addressIn(g.sourceZone);
    const request: DecisionRequest = {
      source: ip === undefined ? { spiffeId: g.spiffeId ?? '' } : { spiffeId: g.spiffeId ?? '', ip },
      credential: VERIFIED,
      destination: g.port === undefined ? { service: g.service } : { service: g.service, port: g.port },
    };
    const withAction = hasAction(g);
    if (withAction) {
      const action: NonNullable<DecisionRequest['action']> = {};
      if (g.method !== undefined) action.method = g.method;
      if (g.path !== undefined) action.path = g.path;
      if (g.operation !== undefined) action.operation = g.operation;
      request.action = action;
    }
    if (this.context) request.context = this.context as Record<string, unknown>;
    const d = this.engine.decide(request);
    const flowRules = d.layers.flow.verdict === 'allow' ? d.layers.flow.rules : [];
    const base = {
      flowRules,
      permissionAllows: withAction && d.layers.permission.verdict === 'allow',
      errors: d.errors,
      sourceZone: d.sourceZone,
      destinationZone: d.destinationZone,
      mode: d.mode,
    };
    if (withAction || d.reason === 'request_invalid' || d.reason === 'internal_error') {
      return { allowed: d.decision === 'allow', layer: d.layer, reason: d.reason, rules: d.rules, ...base };
    }
    for (const layer of JUDGED_WITHOUT_ACTION) {
      const v = d.layers[layer];
      if (v.verdict === 'deny') return { allowed: false, layer, reason: v.reason, rules: v.rules, ...base };
    }
    const flow = d.layers.flow;
    return { allowed: true, layer: 'flow', reason: flow.reason, rules: flow.rules, ...base };
  }
}

/**
 * Addresses of `cidr` to try, in order, for one that a zone table places in
 * the zone `cidr` belongs to: its first and last address, then every point
 * inside it where another prefix starts or ends. Longest-prefix match changes
 * its answer only at those points, so if no candidate is in the zone, no
 * address of `cidr` is (nested zones hold all of it). The two ends alone miss
 * a zone whose more specific neighbours hold both of them.
 */
function candidates(cidr: Cidr, all: readonly Cidr[]): IpAddress[] {
  const [start, end] = span(cidr);
  const points = new Set<bigint>([start, end]);
  const inner: bigint[] = [];
  for (const other of all) {
    if (other.family !== cidr.family) continue;
    const [s, e] = span(other);
    if (s > start && s <= end) inner.push(s);
    if (e >= start && e < end) inner.push(e + 1n);
  }
  for (const p of inner.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))) points.add(p);
  return [...points].map((p) => addressAt(cidr.family, p));
}

/** The first and last address of a prefix, as integers. */
function span(cidr: Cidr): [bigint, bigint] {
  const bits = cidr.family === 4 ? 32 : 128;
  const a = cidr.address;
  const start = a.family === 4 ? BigInt(a.value) : a.words.reduce((n, w) => (n << 32n) | BigInt(w), 0n);
  return [start, start + (1n << BigInt(bits - cidr.prefixLength)) - 1n];
}

function addressAt(family: 4 | 6, n: bigint): IpAddress {
  if (family === 4) return { family: 4, value: Number(n) };
  const word = (k: number) => Number((n >> BigInt(96 - 32 * k)) & 0xffffffffn);
  return { family: 6, words: [word(0), word(1), word(2), word(3)] };
}
