/**
 * What the decision log says each identity did, gathered in one pass with
 * memory bounded per identity (sets are capped and count what they drop):
 * when and from where it called, what it reached, which permission rules it
 * exercised, which zone boundaries it was stopped at.
 */
import type { DecisionRecord } from '../../log/decision-record.js';

/** Records may carry fields beyond {@link DecisionRecord}; the one read here is the client's user agent. */
export type ObservedRecord = DecisionRecord & { userAgent?: string };

export const MAX_ADDRESSES = 256;
export const MAX_PATHS = 64;
export const MAX_USER_AGENTS = 8;
const MAX_METHODS = 32;

export interface ServiceUse {
  requests: number;
  allowed: number;
  /** Allowed requests by `<source zone>\0<port>` (port `0` when the request had none). */
  allowedAt: Set<string>;
}

export interface RuleUse {
  count: number;
  /** Per service: the methods seen (`''` for a request without one) and the source zones. */
  services: Map<string, { methods: Set<string>; zones: Set<string> }>;
}

export interface ZoneDenial {
  sourceZone: string;
  destinationZone: string;
  count: number;
  first: number;
  last: number;
  services: Set<string>;
  rules: Set<string>;
  /** Denials let through because the service was in `observe` or `simulate` mode. */
  unenforced: number;
}

export interface IdentityActivity {
  spiffeId: string;
  records: number;
  allowed: number;
  denied: number;
  first: number;
  last: number;
  lastAllowed: number;
  /** Source addresses and how often each was seen (at most {@link MAX_ADDRESSES}). */
  addresses: Map<string, number>;
  addressesDropped: number;
  zones: Map<string, number>;
  /** Records by UTC hour of day and by UTC day of week (0 = Sunday). */
  hours: number[];
  weekdays: number[];
  /** Running mean and squared deviation of the seconds between consecutive records (Welford). */
  gaps: { n: number; mean: number; m2: number };
  /** Distinct path shapes: segments holding a digit read as `{}` (`/orders/{}/items`). */
  paths: Set<string>;
  pathsDropped: number;
  userAgents: Map<string, number>;
  credentialTypes: Map<string, number>;
  credentialIds: Set<string>;
  services: Map<string, ServiceUse>;
  /** Permission allow rules named by allowed decisions. */
  permissionRules: Map<string, RuleUse>;
  zoneDenials: Map<string, ZoneDenial>;
  /** Allowed decisions after the entry was disabled or offboarded. */
  allowedAfterOffboarding: number;
  firstAfterOffboarding: number;
}

export interface ActivityOptions {
  /** Records before this instant (ms) are skipped. */
  since?: number;
  /** Records at or after this instant (ms) are skipped. */
  until?: number;
  /** When a disabled or offboarded identity changed status; decisions allowed after it are counted. */
  offboardedAt?: (spiffeId: string) => number | undefined;
}

export interface ActivitySummary {
  records: number;
  /** Records outside the window or with an unreadable time. */
  skipped: number;
  first?: number;
  last?: number;
}

function newActivity(spiffeId: string): IdentityActivity {
  return {
    spiffeId,
    records: 0,
    allowed: 0,
    denied: 0,
    first: Infinity,
    last: -Infinity,
    lastAllowed: -Infinity,
    addresses: new Map(),
    addressesDropped: 0,
    zones: new Map(),
    hours: new Array<number>(24).fill(0),
    weekdays: new Array<number>(7).fill(0),
    gaps: { n: 0, mean: 0, m2: 0 },
    paths: new Set(),
    pathsDropped: 0,
    userAgents: new Map(),
    credentialTypes: new Map(),
    credentialIds: new Set(),
    services: new Map(),
    permissionRules: new Map(),
    zoneDenials: new Map(),
    allowedAfterOffboarding: 0,
    firstAfterOffboarding: Infinity,
  };
}

const bump = <K>(m: Map<K, number>, k: K) => m.set(k, (m.get(k) ?? 0) + 1);

/** Gathers activity record by record; feed it the log in order. */
export class ActivityCollector {
  readonly identities = new Map<string, IdentityActivity>();
  private records = 0;
  private skipped = 0;
  private first = Infinity;
  private last = -Infinity;
  private readonly offboarded = new Map<string, number | undefined>();

  constructor(private readonly options: ActivityOptions = {}) {}

  add(record: ObservedRecord): void {
    const t = Date.parse(record.time);
    const { since, until } = this.options;
    if (Number.isNaN(t) || (since !== undefined && t < since) || (until !== undefined && t >= until)) {
      this.skipped++;
      return;
    }
    this.records++;
    if (t < this.first) this.first = t;
    if (t > this.last) this.last = t;
    const id = record.source.spiffeId;
    let a = this.identities.get(id);
    if (!a) this.identities.set(id, (a = newActivity(id)));
    if (a.records > 0 && t >= a.last) {
      // Welford: constant memory for the spread of the gaps between calls.
      const gap = (t - a.last) / 1000;
      const g = a.gaps;
      g.n++;
      const d = gap - g.mean;
      g.mean += d / g.n;
      g.m2 += d * (gap - g.mean);
    }
    a.records++;
    if (t < a.first) a.first = t;
    if (t > a.last) a.last = t;
    const allowed = record.decision === 'allow';
    if (allowed) a.allowed++;
    else a.denied++;
    const ip = record.source.ip;
    if (ip !== undefined) {
      if (a.addresses.has(ip) || a.addresses.size < MAX_ADDRESSES) bump(a.addresses, ip);
      else a.addressesDropped++;
    }
    bump(a.zones, record.source.zone);
    // UTC hour and weekday by arithmetic: no Date per record (1970-01-01 was a Thursday).
    a.hours[Math.floor(t / 3_600_000) % 24]!++;
    a.weekdays[(Math.floor(t / 86_400_000) + 4) % 7]!++;
    const path = record.action?.path === undefined ? undefined : pathShape(record.action.path);
    if (path !== undefined) {
      if (a.paths.has(path) || a.paths.size < MAX_PATHS) a.paths.add(path);
      else a.pathsDropped++;
    }
    const ua = record.userAgent;
    if (typeof ua === 'string' && (a.userAgents.has(ua) || a.userAgents.size < MAX_USER_AGENTS))
      bump(a.userAgents, ua);
    if (record.credential) {
      bump(a.credentialTypes, record.credential.type);
      if (record.credential.id !== undefined && a.credentialIds.size < MAX_METHODS)
        a.credentialIds.add(record.credential.id);
    }

    const service = record.destination.service;
    let use = a.services.get(service);
    if (!use) a.services.set(service, (use = { requests: 0, allowed: 0, allowedAt: new Set() }));
    use.requests++;
    if (allowed) {
      use.allowed++;
      use.allowedAt.add(`${record.source.zone}\u0000${record.destination.port ?? 0}`);
      if (t > a.lastAllowed) a.lastAllowed = t;
      if (record.layer === 'permission') {
        const method = record.action?.method ?? '';
        for (const rule of record.rules) {
          let r = a.permissionRules.get(rule);
          if (!r) a.permissionRules.set(rule, (r = { count: 0, services: new Map() }));
          r.count++;
          let s = r.services.get(service);
          if (!s) r.services.set(service, (s = { methods: new Set(), zones: new Set() }));
          if (s.methods.size < MAX_METHODS) s.methods.add(method);
          s.zones.add(record.source.zone);
        }
      }
      const off = this.offboardedAt(id);
      if (off !== undefined && t >= off) {
        a.allowedAfterOffboarding++;
        if (t < a.firstAfterOffboarding) a.firstAfterOffboarding = t;
      }
    } else if (record.layer === 'zone' && record.source.zone !== record.destination.zone) {
      const key = `${record.source.zone}\u0000${record.destination.zone}`;
      let z = a.zoneDenials.get(key);
      if (!z) {
        z = {
          sourceZone: record.source.zone,
          destinationZone: record.destination.zone,
          count: 0,
          first: t,
          last: t,
          services: new Set(),
          rules: new Set(),
          unenforced: 0,
        };
        a.zoneDenials.set(key, z);
      }
      z.count++;
      if (record.wouldDeny) z.unenforced++;
      if (t < z.first) z.first = t;
      if (t > z.last) z.last = t;
      z.services.add(service);
      for (const r of record.rules) z.rules.add(r);
    }
  }

  private offboardedAt(spiffeId: string): number | undefined {
    if (!this.options.offboardedAt) return undefined;
    if (!this.offboarded.has(spiffeId)) this.offboarded.set(spiffeId, this.options.offboardedAt(spiffeId));
    return this.offboarded.get(spiffeId);
  }

  summary(): ActivitySummary {
    const s: ActivitySummary = { records: this.records, skipped: this.skipped };
    if (this.records) {
      s.first = this.first;
      s.last = this.last;
    }
    return s;
  }
}

/** A path with its id-like segments (any holding a digit) replaced by `{}`. */
export function pathShape(path: string): string {
  const q = path.indexOf('?');
  const p = q === -1 ? path : path.slice(0, q);
  return /\d/.test(p) ? p.replace(/[^/]*\d[^/]*/g, '{}') : p;
}

/** Gathers activity from a whole log at once. */
export function collectActivity(
  records: Iterable<ObservedRecord>,
  options: ActivityOptions = {},
): ActivityCollector {
  const c = new ActivityCollector(options);
  for (const r of records) c.add(r);
  return c;
}
