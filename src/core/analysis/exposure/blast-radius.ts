/**
 * Blast radius: everything a compromised identity can reach, and how far an
 * attacker can move from there. The first hop is what the policy lets the
 * identity reach through all three layers (services in `observe` or
 * `simulate` mode let everything through). From there the attacker moves
 * laterally through credentials the inventory says a reached service holds
 * (`holdsCredentialsOf`): a credential taken from a service is used from that
 * service's zone. When the start is an identity (its workload compromised)
 * the credentials its own workload holds are taken too; when it is a single
 * stolen credential they are not.
 *
 * Each identity obtained is a path, ranked by what it reaches weighted by how
 * long its credentials remain valid: score = (services reached, a conditional
 * one counting half) × min(remaining lifetime, horizon) / horizon, where a
 * credential that never expires — or whose lifetime is not on record — counts
 * as the whole horizon and an expired one as nothing.
 */
import { tryParseSpiffeId } from '../../identity/spiffe-id.js';
import type { ActionMatch } from '../../policy/model.js';
import type { Estate, EstateIdentity, Lifetime } from './estate.js';
import { duration, shortId } from './format.js';
import { formatPorts, union } from './port-set.js';
import type { PortSet } from './port-set.js';
import type { PermissionTerm, ServiceReach } from './reachability.js';
import { parseUtcTime } from '../../utc-time.js';

const MS_PER_DAY = 86_400_000;

export interface BlastRadiusOptions {
  /** Lateral moves to follow; 0 is the first hop only. Default 3. */
  maxHops?: number;
  /** Ranked paths to return. Default 20. */
  maxPaths?: number;
  /** Lifetimes at or beyond this count fully. Default 90 days. */
  horizonDays?: number;
  /** Zones the start calls from; default its own. */
  fromZones?: readonly string[];
}

export interface CredentialWindow {
  state: 'live' | 'no-expiry' | 'expired' | 'unknown';
  /** Remaining milliseconds; `null` without expiry or when unknown. */
  remainingMs: number | null;
  /** The credential that lasts longest. */
  credential?: string;
  /** `41m`, `18d 3h`, `no expiry`, `expired`, `not on record`. */
  text: string;
}

export interface BlastStart {
  query: string;
  spiffeId: string;
  via: 'identity' | 'credential';
  /** The stolen credential, when the start is one. */
  credential?: { id: string; kind: string };
  /**
   * False for a SPIFFE ID the inventory does not hold: judged by the policy
   * alone (a credential of an unregistered identity still matches the policy's
   * selectors), and said so, for it may as well be a typo.
   */
  inInventory?: false;
}

export interface ReachedService {
  service: string;
  zone: string;
  sourceZone: string;
  ports: string;
  mode: string;
  /** The policy allows some request through all three layers. */
  allowedByPolicy: boolean;
  /** Every allowed request depends on a condition. */
  conditional: boolean;
  /** The service does not enforce denials (`observe` or `simulate`). */
  unenforced: boolean;
  zoneRules: readonly string[];
  flowRules: readonly string[];
  permissionRules: readonly string[];
  /** What the grants allow, one line each: `perm-x: GET /orders/{id} when context.mtls == true`. */
  actions: readonly string[];
}

export interface CompromisedIdentity {
  spiffeId: string;
  /** Lateral moves from the start (0 for the start). */
  hops: number;
  window: CredentialWindow;
  /** Zones its credential is used from. */
  zones: readonly string[];
  reach: readonly ReachedService[];
  /** How it was obtained: the identity it was reached from and the service (or own workload) holding it. */
  via?: { identity: string; service?: string };
  score: number;
  /** Its credentials were expired or revoked: found, but not followed further. */
  dormant: boolean;
}

export type PathStep =
  | { kind: 'start'; identity: string; via: 'identity' | 'credential'; credential?: string; window: string }
  | {
      kind: 'reach';
      identity: string;
      service: string;
      ports: string;
      sourceZone: string;
      rules: string;
      conditional: boolean;
      unenforced: boolean;
    }
  | { kind: 'holds'; holder: string; identity: string; window: string };

export interface BlastPath {
  rank: number;
  identity: string;
  hops: number;
  score: number;
  window: CredentialWindow;
  /** What the identity at the end of the path reaches. */
  services: readonly string[];
  steps: readonly PathStep[];
  /** The steps as sentences, one per hop. */
  explanation: readonly string[];
}

export interface GraphNode {
  id: string;
  kind: 'identity' | 'service';
  label: string;
  start?: boolean;
  hops?: number;
  window?: string;
  zone?: string;
  mode?: string;
}

export interface GraphEdge {
  from: string;
  to: string;
  kind: 'reaches' | 'holds';
  ports?: string;
  rules?: readonly string[];
  conditional?: boolean;
  unenforced?: boolean;
}

export interface BlastRadius {
  start: BlastStart;
  now: string;
  maxHops: number;
  window: CredentialWindow;
  identities: readonly CompromisedIdentity[];
  /** Every service any compromised identity reaches, with the closest identity that does. */
  services: readonly (ReachedService & { by: string; hops: number })[];
  paths: readonly BlastPath[];
  graph: { nodes: readonly GraphNode[]; edges: readonly GraphEdge[] };
  totals: {
    identities: number;
    services: number;
    unconditionalServices: number;
    edges: number;
    paths: number;
  };
}

export type BlastTargetResult =
  { start: BlastStart; problem?: undefined } | { start?: undefined; problem: string };

/**
 * Finds what `query` names: a SPIFFE ID, a SPIFFE ID path of the trust domain
 * (`/ns/shop/sa/web`), an entry id, an issued credential id or a static
 * secret id.
 */
export function resolveBlastTarget(estate: Estate, query: string): BlastTargetResult {
  const td = estate.policy.trustDomain;
  const asId = query.startsWith('/') ? `spiffe://${td}${query}` : query;
  if (estate.identities.has(asId)) return { start: { query, spiffeId: asId, via: 'identity' } };
  const entry = estate.entry(query);
  if (entry) return { start: { query, spiffeId: entry.spiffeId, via: 'identity' } };
  const issued = estate.inventory.credentials.find((c) => c.id === query);
  if (issued)
    return {
      start: {
        query,
        spiffeId: issued.spiffeId,
        via: 'credential',
        credential: { id: issued.id, kind: issued.type },
      },
    };
  for (const e of estate.inventory.entries)
    for (const s of e.staticSecrets ?? [])
      if (s.id === query)
        return {
          start: {
            query,
            spiffeId: e.spiffeId,
            via: 'credential',
            credential: { id: s.id, kind: 'static-secret' },
          },
        };
  if (tryParseSpiffeId(asId))
    return { start: { query, spiffeId: asId, via: 'identity', inInventory: false } };
  return { problem: `\`${query}\` names no identity, entry, credential or static secret of the inventory` };
}

function windowOf(l: Lifetime): CredentialWindow {
  const w: CredentialWindow = {
    state: l.state,
    remainingMs: l.state === 'live' ? l.remainingMs : null,
    text:
      l.state === 'live'
        ? duration(l.remainingMs!)
        : l.state === 'no-expiry'
          ? 'no expiry'
          : l.state === 'expired'
            ? 'expired'
            : 'not on record',
  };
  if (l.live[0]) w.credential = l.live[0].id;
  return w;
}

function credentialWindow(estate: Estate, start: BlastStart): CredentialWindow {
  const id = start.credential!.id;
  const issued = estate.inventory.credentials.find((c) => c.id === id);
  if (issued) {
    const expires = parseUtcTime(issued.expiresAt);
    if (expires <= estate.now || estate.isRevoked(issued))
      return {
        state: 'expired',
        remainingMs: null,
        credential: id,
        text: estate.isRevoked(issued) ? 'revoked' : 'expired',
      };
    return {
      state: 'live',
      remainingMs: expires - estate.now,
      credential: id,
      text: duration(expires - estate.now),
    };
  }
  const secret = estate.identities.get(start.spiffeId)?.entry?.staticSecrets?.find((s) => s.id === id);
  const expires = secret?.expiresAt === undefined ? null : parseUtcTime(secret.expiresAt);
  if (expires === null) return { state: 'no-expiry', remainingMs: null, credential: id, text: 'no expiry' };
  if (expires <= estate.now) return { state: 'expired', remainingMs: null, credential: id, text: 'expired' };
  return {
    state: 'live',
    remainingMs: expires - estate.now,
    credential: id,
    text: duration(expires - estate.now),
  };
}

export function actionText(actions: readonly ActionMatch[]): string {
  if (!actions.length) return 'every action';
  return actions
    .map((a) => {
      if (a.operations.length) return a.operations.join('|');
      const methods = a.methods === '*' ? '*' : a.methods.join('|');
      const paths = [...a.paths, ...a.prefixes.map((p) => `${p}…`)];
      return paths.length
        ? `${methods} ${paths.join('|')}`
        : methods === '*'
          ? 'any request'
          : `${methods} any path`;
    })
    .join('; ');
}

function rank(r: ServiceReach): number {
  return r.allowedByPolicy ? (r.conditional ? 2 : 3) : r.unenforced ? 1 : 0;
}

// Reaches of the same rules from different zones share their ports and grants: each is put
// in words once.
const portTexts = new WeakMap<PortSet, string>();
const grantTexts = new WeakMap<
  readonly PermissionTerm[],
  { rules: string[]; actions: string[]; ports: string }
>();

function reached(r: ServiceReach): ReachedService {
  let grants = grantTexts.get(r.grants);
  if (!grants)
    grantTexts.set(
      r.grants,
      (grants = {
        rules: r.grants.map((g) => g.rule),
        actions: r.grants.map((g) => `${g.rule}: ${actionText(g.actions)}${g.when ? ` when ${g.when}` : ''}`),
        ports: formatPorts(r.grants.reduce<PortSet>((all, g) => union(all, g.ports), [])),
      }),
    );
  // Allowed: the ports some grant opens (the flow layer may open more, which the permission
  // layer then refuses, and denies may close some); not enforced: every port the flows let through.
  let ports = r.allowedByPolicy ? grants.ports : portTexts.get(r.ports);
  if (ports === undefined) portTexts.set(r.ports, (ports = formatPorts(r.ports)));
  return {
    service: r.service,
    zone: r.serviceZone,
    sourceZone: r.sourceZone,
    ports,
    mode: r.mode,
    allowedByPolicy: r.allowedByPolicy,
    conditional: r.conditional,
    unenforced: r.unenforced,
    zoneRules: r.zone.allowed ? r.zone.rules : [],
    flowRules: r.allowedByPolicy ? r.flowRules : [],
    permissionRules: grants.rules,
    actions: grants.actions,
  };
}

function serviceValue(r: ReachedService): number {
  if (r.allowedByPolicy) return r.conditional ? 0.5 : 1;
  return r.unenforced ? 1 : 0;
}

/** Why an edge exists, in one phrase: the rules of each layer, or the mode that lets it through. */
export function edgeRules(r: ReachedService): string {
  if (!r.allowedByPolicy) return `\`${r.service}\` is in ${r.mode} mode: denials are not enforced`;
  const parts = [
    `zone ${r.zoneRules.map((x) => `\`${x}\``).join(', ')}`,
    `flow ${r.flowRules.map((x) => `\`${x}\``).join(', ')}`,
    `permission ${r.permissionRules.map((x) => `\`${x}\``).join(', ')}`,
  ];
  return (
    parts.join(', ') + (r.conditional ? ' (conditional)' : '') + (r.unenforced ? ` (${r.mode} mode)` : '')
  );
}

/**
 * What one set of reached services looks like in the result, worked out once
 * and shared by every identity that reaches exactly that set (identities
 * matching the same rules from the same zones): one entry per service, the
 * best of the zones it is reached from, in service order.
 */
interface ReachProfile {
  list: readonly ReachedService[];
  /** The graph edge of each entry of `list`, without its `from`. */
  edges: readonly EdgeTemplate[];
  /** Sum of the entries' {@link serviceValue}s. */
  value: number;
}

interface EdgeTemplate {
  to: string;
  ports: string;
  rules: readonly string[];
  conditional: boolean;
  unenforced: boolean;
  /** Position of the service in this run's tables. */
  slot: number;
}

/** Orders paths: higher score first, then fewer hops, then SPIFFE ID. */
function comparePaths(a: CompromisedIdentity, b: CompromisedIdentity): number {
  return b.score - a.score || a.hops - b.hops || (a.spiffeId < b.spiffeId ? -1 : 1);
}

/** The first `k` of `items` in {@link comparePaths} order, as a full sort would give them. */
function topPaths(items: readonly CompromisedIdentity[], k: number): CompromisedIdentity[] {
  // Anything but a count keeps the meaning `slice` gives it.
  if (!Number.isInteger(k) || k < 0 || k >= items.length) return [...items].sort(comparePaths).slice(0, k);
  const top: CompromisedIdentity[] = [];
  if (k === 0) return top;
  for (const c of items) {
    if (top.length === k && comparePaths(c, top[k - 1]!) >= 0) continue;
    let lo = 0;
    let hi = top.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (comparePaths(c, top[mid]!) < 0) hi = mid;
      else lo = mid + 1;
    }
    top.splice(lo, 0, c);
    if (top.length > k) top.pop();
  }
  return top;
}

export function blastRadius(
  estate: Estate,
  start: BlastStart,
  options: BlastRadiusOptions = {},
): BlastRadius {
  const maxHops = options.maxHops ?? 3;
  const maxPaths = options.maxPaths ?? 20;
  const horizon = (options.horizonDays ?? 90) * MS_PER_DAY;
  const td = estate.policy.trustDomain;
  const short = (id: string) => shortId(id, td);
  const weight = (w: CredentialWindow) =>
    w.state === 'expired' ? 0 : w.state === 'live' ? Math.min(w.remainingMs!, horizon) / horizon : 1;

  // What the search found, by identity: on the estate's own identity object when it has one (a
  // field read, not a search of a map of every identity), else in a map of the strangers.
  const run = {};
  const strangers = new Map<string, CompromisedIdentity>();
  const foundOf = (est: EstateIdentity | undefined, spiffeId: string) =>
    est
      ? est.blastRun === run
        ? (est.blastFound as CompromisedIdentity)
        : undefined
      : strangers.get(spiffeId);
  const found = (spiffeId: string) => foundOf(estate.identities.get(spiffeId), spiffeId);
  const nodes: GraphNode[] = [];
  const edges: GraphEdge[] = [];
  // Held credentials already drawn, by holder: each holder's list is walked once, but may repeat a name.
  const holdEdges = new Map<string, Set<string>>();

  // Services get a slot on first sight; per-slot tables replace maps keyed by name on the hot path.
  const slots = new Map<string, number>();
  const slotNames: string[] = [];
  const closest: (ReachedService & { by: string; hops: number })[] = [];
  // The hops and value of `closest[k]`, in arrays of numbers read edge after edge.
  const closestHops: number[] = [];
  const closestValue: number[] = [];
  const looted: boolean[] = [];
  const drawn: boolean[] = [];
  const slotOf = (service: string) => {
    let k = slots.get(service);
    if (k === undefined) {
      k = slotNames.length;
      slots.set(service, k);
      slotNames.push(service);
    }
    return k;
  };

  const profiles = new Map<readonly ServiceReach[], ReachProfile>();
  const profileOf = (all: readonly ServiceReach[]): ReachProfile => {
    let p = profiles.get(all);
    if (p) return p;
    const best = new Map<string, ServiceReach>();
    for (const r of all) {
      const b = best.get(r.service);
      if (!b || rank(r) > rank(b)) best.set(r.service, r);
    }
    const list: ReachedService[] = [];
    for (const r of best.values()) list.push(reached(r));
    list.sort((a, b) => (a.service < b.service ? -1 : 1));
    p = {
      list,
      edges: list.map((s) => ({
        to: `service:${s.service}`,
        ports: s.ports,
        rules: [...s.zoneRules, ...s.flowRules, ...s.permissionRules],
        conditional: s.conditional,
        unenforced: s.unenforced,
        slot: slotOf(s.service),
      })),
      value: list.reduce((n, s) => n + serviceValue(s), 0),
    };
    profiles.set(all, p);
    return p;
  };

  const identityNode = (c: CompromisedIdentity, isStart: boolean) => {
    const n: GraphNode = {
      id: c.spiffeId,
      kind: 'identity',
      label: short(c.spiffeId),
      hops: c.hops,
      window: c.window.text,
    };
    if (isStart) n.start = true;
    nodes.push(n);
  };
  const holds = (from: string) => {
    let seen = holdEdges.get(from);
    if (!seen) holdEdges.set(from, (seen = new Set()));
    return seen;
  };

  const startIdentity = estate.identities.get(start.spiffeId);
  const startWindow =
    start.via === 'credential'
      ? credentialWindow(estate, start)
      : windowOf(estate.lifetimeOf(startIdentity, start.spiffeId));
  const first: CompromisedIdentity = {
    spiffeId: start.spiffeId,
    hops: 0,
    window: startWindow,
    zones: options.fromZones ?? startIdentity?.zones ?? [],
    reach: [],
    score: 0,
    dormant: startWindow.state === 'expired',
  };
  const markFound = (est: EstateIdentity | undefined, c: CompromisedIdentity) => {
    if (est) {
      est.blastRun = run;
      est.blastFound = c;
    } else strangers.set(c.spiffeId, c);
  };
  markFound(startIdentity, first);
  // Breadth first, so the queue is also the order identities are reported in; with each, the
  // estate's identity (looked up once).
  const queue: CompromisedIdentity[] = [first];
  const queued: (EstateIdentity | undefined)[] = [startIdentity];
  const takeHeld = (
    holder: string,
    held: readonly string[],
    hops: number,
    zones: readonly string[],
    identity: string,
    service: string | undefined,
  ) => {
    const seen = holds(holder);
    // Looked up together first: the lookups wait on memory, and waiting side by side, not in turn.
    const ests = held.map((y) => estate.identities.get(y));
    for (let i = 0; i < held.length; i++) {
      const y = held[i]!;
      if (!seen.has(y)) {
        seen.add(y);
        edges.push({ from: holder, to: y, kind: 'holds' });
      }
      const est = ests[i];
      if (foundOf(est, y)) continue;
      const window = windowOf(estate.lifetimeOf(est, y));
      const c: CompromisedIdentity = {
        spiffeId: y,
        hops,
        window,
        zones,
        reach: [],
        via: service === undefined ? { identity } : { identity, service },
        score: 0,
        dormant: window.state === 'expired',
      };
      markFound(est, c);
      queue.push(c);
      queued.push(est);
    }
  };

  for (let qi = 0; qi < queue.length; qi++) {
    const c = queue[qi]!;
    identityNode(c, qi === 0);
    const profile = profileOf(estate.reachOf(queued[qi], c.spiffeId, c.zones).services);
    const from = c.spiffeId;
    const loots = !c.dormant && c.hops < maxHops;
    const list = profile.list;
    for (let i = 0; i < list.length; i++) {
      const s = list[i]!;
      const t = profile.edges[i]!;
      const k = t.slot;
      if (!drawn[k]) {
        drawn[k] = true;
        nodes.push({ id: t.to, kind: 'service', label: s.service, zone: s.zone, mode: s.mode });
      }
      // Object literals in one key order per shape, as the JSON output shows them.
      edges.push(
        t.conditional
          ? t.unenforced
            ? {
                from,
                to: t.to,
                kind: 'reaches',
                ports: t.ports,
                rules: t.rules,
                conditional: true,
                unenforced: true,
              }
            : { from, to: t.to, kind: 'reaches', ports: t.ports, rules: t.rules, conditional: true }
          : t.unenforced
            ? { from, to: t.to, kind: 'reaches', ports: t.ports, rules: t.rules, unenforced: true }
            : { from, to: t.to, kind: 'reaches', ports: t.ports, rules: t.rules },
      );
      const knownHops = closestHops[k];
      if (knownHops === undefined || (knownHops === c.hops && serviceValue(s) > closestValue[k]!)) {
        closest[k] = { ...s, by: from, hops: c.hops };
        closestHops[k] = c.hops;
        closestValue[k] = serviceValue(s);
      }
      // Breadth first: the first identity to reach a service does so in the fewest hops, so
      // what the service holds is taken then, once.
      if (!loots || looted[k]) continue;
      looted[k] = true;
      const svc = estate.service(s.service);
      const held = (svc ? estate.serviceEntry(svc) : undefined)?.holdsCredentialsOf;
      if (held?.length) takeHeld(t.to, held, c.hops + 1, [svc!.zone], from, s.service);
    }
    c.reach = list;
    c.score = Number((profile.value * weight(c.window)).toPrecision(3));
    if (qi === 0 && start.via === 'identity' && !c.dormant && maxHops > 0) {
      const held = startIdentity?.entry?.holdsCredentialsOf;
      if (held?.length) takeHeld(c.spiffeId, held, 1, c.zones, c.spiffeId, undefined);
    }
  }
  const order = queue;
  const paths = topPaths(order, maxPaths).map((c, i) => pathTo(c, i + 1));

  function pathTo(c: CompromisedIdentity, rankNo: number): BlastPath {
    const chain: CompromisedIdentity[] = [];
    for (let x: CompromisedIdentity | undefined = c; x; x = x.via ? found(x.via.identity) : undefined)
      chain.unshift(x);
    const steps: PathStep[] = [];
    const text: string[] = [];
    const s0 = chain[0]!;
    const startStep: PathStep = {
      kind: 'start',
      identity: s0.spiffeId,
      via: start.via,
      window: s0.window.text,
    };
    if (start.credential) startStep.credential = start.credential.id;
    steps.push(startStep);
    text.push(
      start.via === 'credential'
        ? `a stolen ${start.credential!.kind} \`${start.credential!.id}\` of \`${short(s0.spiffeId)}\` (${s0.window.text})`
        : `\`${short(s0.spiffeId)}\` compromised (credentials: ${s0.window.text})`,
    );
    for (let i = 1; i < chain.length; i++) {
      const prev = chain[i - 1]!;
      const cur = chain[i]!;
      const via = cur.via!;
      if (via.service) {
        const r = prev.reach.find((x) => x.service === via.service)!;
        const rules = edgeRules(r);
        steps.push({
          kind: 'reach',
          identity: prev.spiffeId,
          service: r.service,
          ports: r.ports,
          sourceZone: r.sourceZone,
          rules,
          conditional: r.conditional,
          unenforced: !r.allowedByPolicy,
        });
        text.push(
          `\`${short(prev.spiffeId)}\` reaches \`${r.service}\` on ${r.ports} from \`${r.sourceZone}\`: ${rules}`,
        );
        steps.push({
          kind: 'holds',
          holder: `service:${r.service}`,
          identity: cur.spiffeId,
          window: cur.window.text,
        });
        text.push(`\`${r.service}\` holds credentials of \`${short(cur.spiffeId)}\` (${cur.window.text})`);
      } else {
        steps.push({ kind: 'holds', holder: prev.spiffeId, identity: cur.spiffeId, window: cur.window.text });
        text.push(
          `the workload of \`${short(prev.spiffeId)}\` holds credentials of \`${short(cur.spiffeId)}\` (${cur.window.text})`,
        );
      }
    }
    const last = chain[chain.length - 1]!;
    text.push(
      last.reach.length
        ? `\`${short(last.spiffeId)}\` reaches ${last.reach.map((r) => `\`${r.service}\``).join(', ')}`
        : `\`${short(last.spiffeId)}\` reaches nothing`,
    );
    return {
      rank: rankNo,
      identity: last.spiffeId,
      hops: last.hops,
      score: last.score,
      window: last.window,
      services: last.reach.map((r) => r.service),
      steps,
      explanation: text,
    };
  }

  // The estate outlives this answer: it must not keep it alive.
  for (const est of queued) if (est) est.blastFound = undefined;
  const serviceList = closest.filter((s) => s !== undefined).sort((a, b) => (a.service < b.service ? -1 : 1));
  return {
    start,
    now: new Date(estate.now).toISOString(),
    maxHops,
    window: startWindow,
    identities: order,
    services: serviceList,
    paths,
    graph: { nodes, edges },
    totals: {
      identities: order.length,
      services: serviceList.length,
      unconditionalServices: serviceList.filter((s) => (s.allowedByPolicy ? !s.conditional : s.unenforced))
        .length,
      edges: edges.length,
      paths: order.length,
    },
  };
}
