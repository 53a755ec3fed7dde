/**
 * The dependency map: who talks to whom. Each edge is a caller (a service, a
 * workload identity, or an unknown address) reaching a destination (a
 * declared service, or an undeclared endpoint, which may be a service name
 * the policy does not declare) on a port, with the actions seen (paths
 * generalised to templates), how many flows, when first and last, the
 * verdicts observers reported and the zones crossed. Built in one pass
 * over resolved flow records with memory bounded by the edges and their
 * distinct action templates, not by the flows.
 */
import { normalizeRequestPath } from '../../decision/request-path.js';
import { UNKNOWN_ZONE, type Policy } from '../../policy/model.js';
import { parseUtcTime } from '../../utc-time.js';
import { declaredServiceNames, declaredServiceOf } from '../flows/declared-service.js';
import { observationsOf, type FlowRecord } from '../flows/flow-record.js';
import { PathTemplates, templatePath } from './path-template.js';

export const DEPENDENCY_MAP_KIND = 'DependencyMap';

export type DependencyNodeKind = 'service' | 'workload' | 'unknown';

export interface DependencyNode {
  /**
   * `svc:<service>` for a service the flows name (kind `service` when the
   * policy declares it, else `unknown`), `wl:<SPIFFE ID>`, `ip:<address>`, or
   * `zone:<zone>` for an unknown caller seen without an address.
   */
  id: string;
  kind: DependencyNodeKind;
  /**
   * Short name: the service, the SPIFFE ID's path within the trust domain,
   * `unknown <address>`, or `unknown service <name>` for a service name the
   * policy does not declare.
   */
  label: string;
  spiffeId?: string;
  /** The service name, as the flows give it; a declared service only when `kind` is `service`. */
  service?: string;
  ip?: string;
  zone: string;
}

export interface DependencyAction {
  method?: string;
  /** The path template (`/orders/{id}`). */
  path?: string;
  operation?: string;
  flows: number;
}

export interface DependencyEdge {
  from: string;
  to: string;
  port?: number;
  protocol: string;
  flows: number;
  records: number;
  bytes: number;
  firstSeen: string;
  lastSeen: string;
  /** Flows by the verdict their observer reported; `unreported` when it reported none. */
  verdicts: { allow: number; deny: number; unreported: number };
  actions: DependencyAction[];
  sourceZones: string[];
  destinationZone: string;
  /** Whether any flow of the edge crossed from one zone into another (or from or to `unknown`). */
  crossesZones: boolean;
  origins: string[];
}

export interface DependencyMap {
  apiVersion: 'gatehouse.dev/v1';
  kind: typeof DEPENDENCY_MAP_KIND;
  window: { first: string; last: string } | null;
  totals: {
    records: number;
    flows: number;
    edges: number;
    callers: number;
    services: number;
    unknownSources: number;
    unknownDestinations: number;
    crossZoneEdges: number;
  };
  nodes: DependencyNode[];
  edges: DependencyEdge[];
}

export interface DependencyMapOptions {
  /** Show only edges into or out of these services. */
  services?: readonly string[];
  /** Only flows at or after / before these instants (epoch ms). */
  since?: number;
  until?: number;
  /** Distinct literals at one path position before it becomes a variable (default 32). */
  maxPathLiterals?: number;
}

interface EdgeState {
  from: string;
  to: string;
  /** Set when the destination is a declared service: its node, to learn its SPIFFE ID from later flows. */
  toService: DependencyNode | undefined;
  port: number | undefined;
  protocol: string;
  flows: number;
  records: number;
  bytes: number;
  first: number;
  last: number;
  allow: number;
  deny: number;
  unreported: number;
  /** Pre-templated action key → flows. */
  actions: Map<string, number>;
  /** Flows' source zones, with how many records each: the caller node is placed in the one seen most. */
  sourceZones: Map<string, number>;
  /** The same for the destination, when it is no declared service. */
  destinationZones: Map<string, number>;
  destinationZone: string;
  crosses: boolean;
  origins: Set<string>;
}

const SEP = '\u0001';

export class DependencyMapBuilder {
  private readonly edges = new Map<string, EdgeState>();
  private readonly nodes = new Map<string, DependencyNode>();
  private readonly templates = new Map<string, { tree: PathTemplates; seen: Set<string> }>();
  private readonly serviceOfIdentity = new Map<string, string>();
  private readonly serviceZone = new Map<string, string>();
  private readonly declared: ReadonlySet<string>;
  private readonly only: Set<string> | undefined;
  private readonly trustDomainPrefix: string;
  private records = 0;
  private flows = 0;

  constructor(
    policy: Policy,
    private readonly options: DependencyMapOptions = {},
  ) {
    for (const s of policy.services) {
      this.serviceZone.set(s.name, s.zone);
      if (s.spiffeId !== undefined && !this.serviceOfIdentity.has(s.spiffeId))
        this.serviceOfIdentity.set(s.spiffeId, s.name);
    }
    this.declared = declaredServiceNames([policy]);
    this.only = options.services ? new Set(options.services) : undefined;
    this.trustDomainPrefix = `spiffe://${policy.trustDomain}`;
  }

  private shortId(spiffeId: string): string {
    return spiffeId.startsWith(this.trustDomainPrefix + '/')
      ? spiffeId.slice(this.trustDomainPrefix.length)
      : spiffeId;
  }

  private sourceNode(r: FlowRecord): DependencyNode {
    const s = r.source;
    const zone = s.zone ?? UNKNOWN_ZONE;
    if (s.spiffeId !== undefined) {
      const service = this.serviceOfIdentity.get(s.spiffeId);
      if (service !== undefined)
        return this.node(`svc:${service}`, () => ({
          kind: 'service',
          label: service,
          service,
          spiffeId: s.spiffeId,
          zone: this.serviceZone.get(service)!,
        }));
      return this.node(`wl:${s.spiffeId}`, () => ({
        kind: 'workload',
        label: this.shortId(s.spiffeId!),
        spiffeId: s.spiffeId,
        zone,
      }));
    }
    if (s.ip !== undefined)
      return this.node(`ip:${s.ip}`, () => ({
        kind: 'unknown',
        label: `unknown ${s.ip}`,
        ip: s.ip,
        zone,
      }));
    return this.node(`zone:${zone}`, () => ({ kind: 'unknown', label: `unknown in ${zone}`, zone }));
  }

  private destinationNode(r: FlowRecord): DependencyNode {
    const d = r.destination;
    const zone = d.zone ?? UNKNOWN_ZONE;
    const service = d.service;
    if (service !== undefined) {
      // A name the policy does not declare stays visible, by its name, as an undeclared endpoint.
      if (declaredServiceOf(r, this.declared) === undefined)
        return this.node(`svc:${service}`, () => ({
          kind: 'unknown',
          label: `unknown service ${service}`,
          service,
          zone,
        }));
      return this.node(`svc:${service}`, () => ({
        kind: 'service',
        label: service,
        service,
        zone: this.serviceZone.get(service)!,
      }));
    }
    if (d.spiffeId !== undefined)
      return this.node(`wl:${d.spiffeId}`, () => ({
        kind: 'workload',
        label: this.shortId(d.spiffeId!),
        spiffeId: d.spiffeId,
        zone,
      }));
    const ip = d.ip ?? '?';
    return this.node(`ip:${ip}`, () => ({
      kind: 'unknown',
      label: `unknown ${ip}`,
      ...(d.ip ? { ip } : {}),
      zone,
    }));
  }

  /** The node with this id, made by `create` on first sight. */
  private node(id: string, create: () => Omit<DependencyNode, 'id'>): DependencyNode {
    let node = this.nodes.get(id);
    if (!node) {
      node = { id, ...create() } as DependencyNode;
      this.nodes.set(id, node);
    }
    return node;
  }

  /** Adds one resolved flow record. */
  add(r: FlowRecord): void {
    const { since, until } = this.options;
    let time = Number.NaN;
    if (since !== undefined || until !== undefined) {
      time = parseUtcTime(r.time);
      if ((since !== undefined && time < since) || (until !== undefined && time >= until)) return;
    }
    const d = r.destination;
    const s = r.source;
    const sourceService = s.spiffeId !== undefined ? this.serviceOfIdentity.get(s.spiffeId) : undefined;
    if (
      this.only &&
      !(d.service !== undefined && this.only.has(d.service)) &&
      !(sourceService !== undefined && this.only.has(sourceService))
    )
      return;
    if (Number.isNaN(time)) time = parseUtcTime(r.time);
    const port = d.port;
    // The edge's key names its two nodes as their ids would; the nodes themselves are
    // looked up only for a new edge (the hot path is an edge seen before).
    const key =
      (sourceService !== undefined
        ? 's' + sourceService
        : s.spiffeId !== undefined
          ? 'w' + s.spiffeId
          : s.ip !== undefined
            ? 'i' + s.ip
            : 'z' + (s.zone ?? UNKNOWN_ZONE)) +
      SEP +
      (d.service !== undefined
        ? 's' + d.service
        : d.spiffeId !== undefined
          ? 'w' + d.spiffeId
          : 'i' + (d.ip ?? '?')) +
      SEP +
      (port ?? '') +
      SEP +
      r.protocol;
    let e = this.edges.get(key);
    if (!e) {
      const from = this.sourceNode(r);
      const to = this.destinationNode(r);
      e = {
        from: from.id,
        to: to.id,
        toService: to.kind === 'service' ? to : undefined,
        port,
        protocol: r.protocol,
        flows: 0,
        records: 0,
        bytes: 0,
        first: time,
        last: time,
        allow: 0,
        deny: 0,
        unreported: 0,
        actions: new Map(),
        sourceZones: new Map(),
        destinationZones: new Map(),
        destinationZone: d.zone ?? UNKNOWN_ZONE,
        crosses: false,
        origins: new Set(),
      };
      this.edges.set(key, e);
    }
    const n = observationsOf(r);
    this.records++;
    this.flows += n;
    e.records++;
    e.flows += n;
    if (r.bytes !== undefined) e.bytes += r.bytes;
    if (time < e.first) e.first = time;
    if (time > e.last) e.last = time;
    if (r.verdict === 'allow') e.allow += n;
    else if (r.verdict === 'deny') e.deny += n;
    else e.unreported += n;
    const sourceZone = s.zone ?? UNKNOWN_ZONE;
    e.sourceZones.set(sourceZone, (e.sourceZones.get(sourceZone) ?? 0) + 1);
    if (e.toService === undefined) {
      const zone = d.zone ?? UNKNOWN_ZONE;
      e.destinationZones.set(zone, (e.destinationZones.get(zone) ?? 0) + 1);
    } else if (e.toService.spiffeId === undefined && d.spiffeId !== undefined)
      e.toService.spiffeId = d.spiffeId;
    if (sourceZone !== e.destinationZone || sourceZone === UNKNOWN_ZONE) e.crosses = true;
    e.origins.add(r.origin);
    const a = r.action;
    if (a) {
      let path = '';
      if (a.path !== undefined) {
        path = templatePath(normalizeRequestPath(a.path) ?? a.path);
        let t = this.templates.get(e.to);
        if (!t) {
          t = {
            tree: new PathTemplates(
              this.options.maxPathLiterals !== undefined ? { maxLiterals: this.options.maxPathLiterals } : {},
            ),
            seen: new Set(),
          };
          this.templates.set(e.to, t);
        }
        // Each distinct template enters the tree once; a busy edge repeats a few templates.
        if (!t.seen.has(path)) {
          if (t.seen.size >= 10_000) t.seen.clear();
          t.seen.add(path);
          t.tree.add(path);
        }
      }
      const actionKey = (a.method ?? '') + SEP + path + SEP + (a.operation ?? '');
      e.actions.set(actionKey, (e.actions.get(actionKey) ?? 0) + n);
    }
  }

  finish(): DependencyMap {
    const edges: DependencyEdge[] = [];
    let first = Number.POSITIVE_INFINITY;
    let last = Number.NEGATIVE_INFINITY;
    for (const e of this.edges.values()) {
      if (e.first < first) first = e.first;
      if (e.last > last) last = e.last;
      const templates = this.templates.get(e.to)?.tree;
      const merged = new Map<string, DependencyAction>();
      for (const [key, flows] of e.actions) {
        const [method, rawPath, operation] = key.split(SEP) as [string, string, string];
        const path = rawPath && templates ? templates.templateOf(rawPath) : rawPath;
        const k = method + SEP + path + SEP + operation;
        const known = merged.get(k);
        if (known) known.flows += flows;
        else {
          const action: DependencyAction = { flows };
          if (method) action.method = method;
          if (path) action.path = path;
          if (operation) action.operation = operation;
          merged.set(k, action);
        }
      }
      const actions = [...merged.values()].sort(
        (a, b) =>
          b.flows - a.flows ||
          (a.path ?? '').localeCompare(b.path ?? '') ||
          (a.method ?? '').localeCompare(b.method ?? ''),
      );
      const edge: DependencyEdge = {
        from: e.from,
        to: e.to,
        protocol: e.protocol,
        flows: e.flows,
        records: e.records,
        bytes: e.bytes,
        firstSeen: new Date(e.first).toISOString(),
        lastSeen: new Date(e.last).toISOString(),
        verdicts: { allow: e.allow, deny: e.deny, unreported: e.unreported },
        actions,
        sourceZones: [...e.sourceZones.keys()].sort(),
        destinationZone: e.destinationZone,
        crossesZones: e.crosses,
        origins: [...e.origins].sort(),
      };
      if (e.port !== undefined) edge.port = e.port;
      edges.push(edge);
    }
    edges.sort(
      (a, b) =>
        b.flows - a.flows ||
        a.from.localeCompare(b.from) ||
        a.to.localeCompare(b.to) ||
        (a.port ?? 0) - (b.port ?? 0),
    );
    // A workload or address may be seen in several zones: it is placed in the one seen most.
    const nodeZones = new Map<string, Map<string, number>>();
    const count = (id: string, zones: Map<string, number>) => {
      if (this.nodes.get(id)!.kind === 'service') return;
      let all = nodeZones.get(id);
      if (!all) nodeZones.set(id, (all = new Map()));
      for (const [zone, n] of zones) all.set(zone, (all.get(zone) ?? 0) + n);
    };
    for (const e of this.edges.values()) {
      count(e.from, e.sourceZones);
      count(e.to, e.destinationZones);
    }
    for (const [id, zones] of nodeZones) {
      const node = this.nodes.get(id)!;
      let best = node.zone;
      let most = -1;
      for (const [zone, n] of [...zones].sort(([a], [b]) => a.localeCompare(b)))
        if (n > most) {
          best = zone;
          most = n;
        }
      node.zone = best;
    }
    const nodes = [...this.nodes.values()].sort((a, b) => a.id.localeCompare(b.id));
    const used = new Set(edges.flatMap((e) => [e.from, e.to]));
    const callers = new Set(edges.map((e) => e.from));
    const targets = new Set(edges.map((e) => e.to));
    return {
      apiVersion: 'gatehouse.dev/v1',
      kind: DEPENDENCY_MAP_KIND,
      window: edges.length
        ? { first: new Date(first).toISOString(), last: new Date(last).toISOString() }
        : null,
      totals: {
        records: this.records,
        flows: this.flows,
        edges: edges.length,
        callers: callers.size,
        services: nodes.filter((n) => n.kind === 'service' && targets.has(n.id)).length,
        unknownSources: nodes.filter((n) => n.kind === 'unknown' && callers.has(n.id)).length,
        unknownDestinations: nodes.filter((n) => n.kind !== 'service' && targets.has(n.id)).length,
        crossZoneEdges: edges.filter((e) => e.crossesZones).length,
      },
      nodes: nodes.filter((n) => used.has(n.id)),
      edges,
    };
  }
}

/** The dependency map of some flow records: the pure form for callers that hold them already. */
export function buildDependencyMap(
  policy: Policy,
  records: Iterable<FlowRecord>,
  options: DependencyMapOptions = {},
): DependencyMap {
  const builder = new DependencyMapBuilder(policy, options);
  for (const r of records) builder.add(r);
  return builder.finish();
}
