/**
 * What the decision log says each identity did, gathered in one pass with
 * memory bounded per identity (sets are capped and count what they drop):
 * when and from where it called, what it reached, which permission rules it
 * exercised, which zone boundaries it was stopped at.
 */
import type { DecisionRecord } from '../../log/decision-record.js';
import { RecordLineScanner } from './record-line.js';
import { MethodSet, SmallMap, SmallSet } from './small-collections.js';
import { parseUtcTime } from '../../utc-time.js';
import { ownedString } from './owned-string.js';
import {
  Field,
  FIELDS,
  Flag,
  NAME_KINDS,
  NameKind,
  pathShape,
  TEXT_NAME,
  type ActivityBatch,
} from './activity-batch.js';

export { pathShape };

/** Records may carry fields beyond {@link DecisionRecord}; the one read here is the client's user agent. */
export type ObservedRecord = DecisionRecord & { userAgent?: string };

/** What the collector reads of a record, as the record holds it. */
export interface RecordFields {
  time: string;
  spiffeId: string;
  ip: string | undefined;
  sourceZone: string;
  /** The record has a credential. */
  credential: boolean;
  credentialType: NonNullable<DecisionRecord['credential']>['type'] | undefined;
  credentialId: string | undefined;
  service: string;
  port: number | undefined;
  destinationZone: string;
  method: string | undefined;
  path: string | undefined;
  decision: DecisionRecord['decision'];
  layer: DecisionRecord['layer'];
  rules: readonly string[];
  wouldDeny: boolean;
  userAgent: unknown;
}

/** The fields of a record the collector reads. */
export function recordFields(record: ObservedRecord): RecordFields {
  const credential = record.credential;
  return {
    time: record.time,
    spiffeId: record.source.spiffeId,
    ip: record.source.ip,
    sourceZone: record.source.zone,
    credential: Boolean(credential),
    credentialType: credential ? credential.type : undefined,
    credentialId: credential ? credential.id : undefined,
    service: record.destination.service,
    port: record.destination.port,
    destinationZone: record.destination.zone,
    method: record.action?.method,
    path: record.action?.path,
    decision: record.decision,
    layer: record.layer,
    rules: record.rules,
    wouldDeny: Boolean(record.wouldDeny),
    userAgent: record.userAgent,
  };
}

export const MAX_ADDRESSES = 256;
export const MAX_PATHS = 64;
export const MAX_USER_AGENTS = 8;
const MAX_METHODS = 32;

export interface ServiceUse {
  requests: number;
  allowed: number;
  /** Allowed requests by `<source zone>\0<port>` (port `0` when the request had none). */
  allowedAt: SmallSet<string>;
  /** The zone and port last added to `allowedAt`: a caller mostly repeats them, so the key need not be built again. */
  lastZone?: string;
  lastPort?: number | undefined;
}

export interface RuleUse {
  count: number;
  /** Per service: the methods seen (`''` for a request without one) and the source zones. */
  services: SmallMap<string, { methods: MethodSet; zones: SmallSet<string> }>;
}

export interface ZoneDenial {
  sourceZone: string;
  destinationZone: string;
  count: number;
  first: number;
  last: number;
  services: SmallSet<string>;
  rules: SmallSet<string>;
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
  addresses: SmallMap<string, number>;
  addressesDropped: number;
  zones: SmallMap<string, number>;
  /** Records by UTC hour of day and by UTC day of week (0 = Sunday). */
  hours: number[];
  weekdays: number[];
  /** Running mean and squared deviation of the seconds between consecutive records (Welford). */
  gaps: { n: number; mean: number; m2: number };
  /** Distinct path shapes: segments holding a digit read as `{}` (`/orders/{}/items`). */
  paths: SmallSet<string>;
  pathsDropped: number;
  userAgents: SmallMap<string, number>;
  credentialTypes: SmallMap<string, number>;
  credentialIds: SmallSet<string>;
  services: SmallMap<string, ServiceUse>;
  /** Permission allow rules named by allowed decisions. */
  permissionRules: SmallMap<string, RuleUse>;
  zoneDenials: SmallMap<string, ZoneDenial>;
  /** Allowed decisions after the entry was disabled or offboarded. */
  allowedAfterOffboarding: number;
  firstAfterOffboarding: number;
  /** When the identity was disabled or offboarded (ms); undefined while active. Looked up once per identity. */
  offboardedAt: number | undefined;
}

export interface ActivityOptions {
  /** Records before this instant (ms) are skipped. */
  since?: number;
  /** Records at or after this instant (ms) are skipped. */
  until?: number;
  /** When a disabled or offboarded identity changed status; decisions allowed after it are counted. */
  offboardedAt?: (spiffeId: string) => number | undefined;
}

/**
 * Why a log window holds no instant (`since` at or after `until`), or
 * undefined when it holds some. An analysis over an empty window judges every
 * identity on no decision at all, calling those the log shows busy stale or
 * unused, so the edges refuse it. `names` words it for the caller's flags or
 * query parameters.
 */
export function emptyWindowProblem(
  since: number | undefined,
  until: number,
  names: { since: string; until: string },
): string | undefined {
  if (since === undefined || since < until) return undefined;
  return `${names.since} must be before ${names.until}: \`${new Date(since).toISOString()}\` is not before \`${new Date(until).toISOString()}\``;
}

export interface ActivitySummary {
  records: number;
  /** Records outside the window or with an unreadable time. */
  skipped: number;
  first?: number;
  last?: number;
}

/** The zone denials of every identity that had none: shared, and never written to. */
const NO_ZONE_DENIALS: SmallMap<string, ZoneDenial> = new SmallMap();

function newActivity(spiffeId: string): IdentityActivity {
  return {
    spiffeId,
    records: 0,
    allowed: 0,
    denied: 0,
    first: Infinity,
    last: -Infinity,
    lastAllowed: -Infinity,
    addresses: new SmallMap(),
    addressesDropped: 0,
    zones: new SmallMap(),
    hours: new Array<number>(24).fill(0),
    weekdays: new Array<number>(7).fill(0),
    gaps: { n: 0, mean: 0, m2: 0 },
    paths: new SmallSet(),
    pathsDropped: 0,
    userAgents: new SmallMap(),
    credentialTypes: new SmallMap(),
    credentialIds: new SmallSet(),
    services: new SmallMap(),
    permissionRules: new SmallMap(),
    zoneDenials: NO_ZONE_DENIALS,
    allowedAfterOffboarding: 0,
    firstAfterOffboarding: Infinity,
    offboardedAt: undefined,
  };
}

/** Counts `k` in `m`; a new key is stored as `keep` makes it. */
const bump = <K>(m: SmallMap<K, number>, k: K, keep: (k: K) => K = ownedString) => {
  const n = m.get(k);
  m.set(n === undefined ? keep(k) : k, (n ?? 0) + 1);
};

/** Adds `k` to `set`, stored as `keep` makes it. */
const addTo = <K>(set: SmallSet<K>, k: K, keep: (k: K) => K = ownedString) => {
  if (!set.has(k)) set.add(keep(k));
};

/** Distinct names kept once for every identity (zones, services, rules, …); past this many, new ones are copied. */
const MAX_SHARED = 100_000;

/**
 * Records gathered together: each record's identity is looked up in a map of
 * up to hundreds of thousands, a lookup that waits on memory far more than it
 * computes; a batch's lookups, made one after the other before any record is
 * gathered, wait side by side instead of in turn.
 */
const BATCH = 32;

/** Gathers activity record by record; feed it the log in order. */
export class ActivityCollector {
  private readonly byId = new Map<string, IdentityActivity>();
  /** Records in the window not gathered yet, with their times, in log order. */
  private readonly queued: RecordFields[] = [];
  private readonly queuedTimes: number[] = [];
  private readonly looked: (IdentityActivity | undefined)[] = [];
  private touched = 0;
  /**
   * One instance of each zone, service, rule, method, user agent and path
   * shape stored as a key: every identity's collections hold the same few
   * strings, which stay in cache, and a lookup compares them there.
   */
  private readonly shared = new Map<string, string>();
  private records = 0;
  private skipped = 0;
  private first = Infinity;
  private last = -Infinity;
  private lines: RecordLineScanner | undefined;
  /** For {@link addBatch}: the names numbered so far, by kind, and the identities by number. */
  private readonly names: string[][] = Array.from({ length: NAME_KINDS }, () => []);
  private readonly byNumber: (IdentityActivity | undefined)[] = [];
  /** The record {@link addBatch} fills for each record in turn: gathering keeps none of it. */
  private readonly scratchRules: string[] = [];
  private readonly scratch: RecordFields = {
    time: '',
    spiffeId: '',
    ip: undefined,
    sourceZone: '',
    credential: false,
    credentialType: undefined,
    credentialId: undefined,
    service: '',
    port: undefined,
    destinationZone: '',
    method: undefined,
    path: undefined,
    decision: 'deny',
    layer: 'credential',
    rules: this.scratchRules,
    wouldDeny: false,
    userAgent: undefined,
  };

  constructor(private readonly options: ActivityOptions = {}) {}

  /** The kept instance of a repeated name (see {@link shared}). */
  private readonly share = (text: string): string => {
    const kept = this.shared.get(text);
    if (kept !== undefined) return kept;
    const copy = ownedString(text);
    if (this.shared.size < MAX_SHARED) this.shared.set(copy, copy);
    return copy;
  };

  /** What each identity did, by SPIFFE ID. */
  get identities(): ReadonlyMap<string, IdentityActivity> {
    if (this.queued.length) this.drain();
    return this.byId;
  }

  add(record: ObservedRecord): void {
    const t = this.inWindow(record.time);
    if (t !== undefined) this.enqueue(t, recordFields(record));
  }

  /**
   * Adds one line of a JSON-lines decision log when it is plain (see
   * {@link RecordLineScanner}); false when it was not taken: parse it and
   * {@link add} the record.
   */
  addLine(line: string): boolean {
    const read = (this.lines ??= new RecordLineScanner()).scan(line, false);
    if (read) this.addFields(read.fields);
    return read !== undefined;
  }

  /** Like {@link add}, for a record already reduced to its fields. */
  addFields(fields: RecordFields): void {
    const t = this.inWindow(fields.time);
    if (t !== undefined) this.enqueue(t, fields);
  }

  private enqueue(t: number, fields: RecordFields): void {
    this.queued.push(fields);
    this.queuedTimes.push(t);
    if (this.queued.length === BATCH) this.drain();
  }

  /** Gathers the queued records in order, their identities looked up first. */
  private drain(): void {
    const queued = this.queued;
    const looked = this.looked;
    const n = queued.length;
    for (let i = 0; i < n; i++) looked[i] = this.byId.get(queued[i]!.spiffeId);
    // Then what gathering reads first of each, side by side too; the sum only keeps the reads.
    let touched = 0;
    for (let i = 0; i < n; i++) {
      const a = looked[i];
      if (a) touched += a.records + a.hours.length + a.services.size + a.permissionRules.size + a.zones.size;
    }
    this.touched = touched;
    for (let i = 0; i < n; i++) {
      // A new identity is created by its first record, and found by the later ones of the batch.
      const a = looked[i] ?? this.byId.get(queued[i]!.spiffeId);
      this.gather(this.queuedTimes[i]!, queued[i]!, a);
    }
    queued.length = 0;
    this.queuedTimes.length = 0;
    looked.fill(undefined);
  }

  /** The record's time when it counts; otherwise it is counted as skipped. */
  private inWindow(time: string): number | undefined {
    return this.inWindowAt(parseUtcTime(time));
  }

  /** {@link inWindow} for a time already read (NaN: unreadable). */
  private inWindowAt(t: number): number | undefined {
    const { since, until } = this.options;
    if (Number.isNaN(t) || (since !== undefined && t < since) || (until !== undefined && t >= until)) {
      this.skipped++;
      return undefined;
    }
    return t;
  }

  private gather(t: number, record: RecordFields, known: IdentityActivity | undefined): IdentityActivity {
    this.records++;
    if (t < this.first) this.first = t;
    if (t > this.last) this.last = t;
    let a = known;
    if (!a) {
      const key = ownedString(record.spiffeId);
      this.byId.set(key, (a = newActivity(key)));
      a.offboardedAt = this.options.offboardedAt?.(key);
    }
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
    const ip = record.ip;
    if (ip !== undefined) {
      if (a.addresses.has(ip) || a.addresses.size < MAX_ADDRESSES) bump(a.addresses, ip);
      else a.addressesDropped++;
    }
    bump(a.zones, record.sourceZone, this.share);
    // UTC hour and weekday by arithmetic: no Date per record (1970-01-01 was a Thursday).
    a.hours[Math.floor(t / 3_600_000) % 24]!++;
    a.weekdays[(Math.floor(t / 86_400_000) + 4) % 7]!++;
    const path = record.path === undefined ? undefined : pathShape(record.path);
    if (path !== undefined) {
      if (a.paths.has(path) || a.paths.size < MAX_PATHS) addTo(a.paths, path, this.share);
      else a.pathsDropped++;
    }
    const ua = record.userAgent;
    if (typeof ua === 'string' && (a.userAgents.has(ua) || a.userAgents.size < MAX_USER_AGENTS))
      bump(a.userAgents, ua, this.share);
    if (record.credential) {
      bump(a.credentialTypes as SmallMap<string, number>, record.credentialType!, this.share);
      if (record.credentialId !== undefined && a.credentialIds.size < MAX_METHODS)
        addTo(a.credentialIds, record.credentialId);
    }

    const service = record.service;
    let use = a.services.get(service);
    if (!use)
      a.services.set(
        this.share(service),
        // Every field in the literal: one added later would move the object's fields out of it.
        (use = {
          requests: 0,
          allowed: 0,
          allowedAt: new SmallSet(),
          lastZone: undefined,
          lastPort: undefined,
        }),
      );
    use.requests++;
    if (allowed) {
      use.allowed++;
      if (use.lastZone !== record.sourceZone || use.lastPort !== record.port) {
        addTo(use.allowedAt, `${record.sourceZone}\u0000${record.port ?? 0}`, this.share);
        use.lastZone = this.share(record.sourceZone);
        use.lastPort = record.port;
      }
      if (t > a.lastAllowed) a.lastAllowed = t;
      if (record.layer === 'permission') {
        const method = record.method ?? '';
        for (const rule of record.rules) {
          let r = a.permissionRules.get(rule);
          if (!r) a.permissionRules.set(this.share(rule), (r = { count: 0, services: new SmallMap() }));
          r.count++;
          let s = r.services.get(service);
          if (!s)
            r.services.set(this.share(service), (s = { methods: new MethodSet(), zones: new SmallSet() }));
          if (!s.methods.has(method) && s.methods.size < MAX_METHODS) s.methods.add(this.share(method));
          addTo(s.zones, record.sourceZone, this.share);
        }
      }
      const off = a.offboardedAt;
      if (off !== undefined && t >= off) {
        a.allowedAfterOffboarding++;
        if (t < a.firstAfterOffboarding) a.firstAfterOffboarding = t;
      }
    } else if (record.layer === 'zone' && record.sourceZone !== record.destinationZone) {
      const key = `${record.sourceZone}\u0000${record.destinationZone}`;
      // Most identities are never stopped at a zone boundary: their map is made on the first denial.
      if (a.zoneDenials === NO_ZONE_DENIALS) a.zoneDenials = new SmallMap();
      let z = a.zoneDenials.get(key);
      if (!z) {
        z = {
          sourceZone: this.share(record.sourceZone),
          destinationZone: this.share(record.destinationZone),
          count: 0,
          first: t,
          last: t,
          services: new SmallSet(),
          rules: new SmallSet(),
          unenforced: 0,
        };
        a.zoneDenials.set(this.share(key), z);
      }
      z.count++;
      if (record.wouldDeny) z.unenforced++;
      if (t < z.first) z.first = t;
      if (t > z.last) z.last = t;
      addTo(z.services, service, this.share);
      for (const r of record.rules) addTo(z.rules, r, this.share);
    }
    return a;
  }

  /**
   * Adds a batch of records reduced to numbers (see {@link ActivityBatchWriter});
   * batches must come in the order the writer made them, each once.
   */
  addBatch(batch: ActivityBatch): void {
    if (this.queued.length) this.drain();
    const names = this.names;
    for (let k = 0; k < NAME_KINDS; k++) {
      const table = names[k]!;
      // Names gathering shares are shared from here; SPIFFE IDs are keys of their own.
      for (const name of batch.names[k]!) table.push(k === NameKind.spiffeId ? name : this.share(name));
    }
    const { fields, times, ports, rules, addresses, credentialIds, text } = batch;
    let textAt = 0;
    let ruleAt = 0;
    const name = (kind: number, n: number): string | undefined =>
      n >= 0 ? names[kind]![n] : n === TEXT_NAME ? text[textAt++] : undefined;
    const r = this.scratch;
    const ruleList = this.scratchRules;
    const byNumber = this.byNumber;
    for (let i = 0; i < batch.count; i++) {
      const o = i * FIELDS;
      const idNumber = fields[o + Field.spiffeId]!;
      r.spiffeId = name(NameKind.spiffeId, idNumber)!;
      r.sourceZone = name(NameKind.zone, fields[o + Field.sourceZone]!)!;
      r.destinationZone = name(NameKind.zone, fields[o + Field.destinationZone]!)!;
      r.credentialType = name(
        NameKind.credentialType,
        fields[o + Field.credentialType]!,
      ) as RecordFields['credentialType'];
      r.service = name(NameKind.service, fields[o + Field.service]!)!;
      r.method = name(NameKind.method, fields[o + Field.method]!);
      r.path = name(NameKind.path, fields[o + Field.path]!);
      r.userAgent = name(NameKind.userAgent, fields[o + Field.userAgent]!);
      r.layer = name(NameKind.layer, fields[o + Field.layer]!) as RecordFields['layer'];
      const flags = fields[o + Field.flags]!;
      r.decision = flags & Flag.allow ? 'allow' : 'deny';
      r.wouldDeny = (flags & Flag.wouldDeny) !== 0;
      r.credential = (flags & Flag.credential) !== 0;
      r.port = flags & Flag.port ? ports[i] : undefined;
      r.ip = addresses[i];
      r.credentialId = credentialIds[i];
      const ruleCount = fields[o + Field.rules]!;
      ruleList.length = ruleCount;
      for (let k = 0; k < ruleCount; k++) ruleList[k] = name(NameKind.rule, rules[ruleAt++]!)!;
      const t = this.inWindowAt(times[i]!);
      if (t === undefined) continue;
      if (idNumber >= 0) {
        // The identity by its number: no hashing of its SPIFFE ID, once it is known.
        const known = byNumber[idNumber];
        if (known) this.gather(t, r, known);
        else byNumber[idNumber] = this.gather(t, r, this.byId.get(r.spiffeId));
      } else this.gather(t, r, this.byId.get(r.spiffeId));
    }
    ruleList.length = 0;
  }

  summary(): ActivitySummary {
    if (this.queued.length) this.drain();
    const s: ActivitySummary = { records: this.records, skipped: this.skipped };
    if (this.records) {
      s.first = this.first;
      s.last = this.last;
    }
    return s;
  }
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
