/**
 * The estate as exposure analysis sees it: the policy and an inventory
 * snapshot joined once, as of one instant. Every identity of either (its
 * labels as selectors see them, the zones it runs in), which addresses belong
 * to which workload, which environment each zone is, which credentials are
 * still live, and what each identity reaches.
 */
import type { IssuedCredential, Revocation } from '../../identity/credential.js';
import { tryParseSpiffeId, type SpiffeId } from '../../identity/spiffe-id.js';
import type { RegistrationEntry } from '../../identity/entry.js';
import type { Grant } from '../../identity/grant.js';
import type { InventorySnapshot } from '../../identity/inventory.js';
import { createPrefixTable, formatCidr, parseCidr, type PrefixTable } from '../../net/index.js';
import { UNKNOWN_ZONE, type Policy, type Service, type Workload } from '../../policy/model.js';
import type { IdentityActivity } from './activity.js';
import { Reachability, type IdentityReach, type ReachOptions } from './reachability.js';
import { parseUtcTime } from '../../utc-time.js';

export interface EstateIdentity {
  spiffeId: string;
  entry?: RegistrationEntry;
  workload?: Workload;
  /** The inventory entry's labels with the policy's workload labels winning, as in decisions. */
  labels: Readonly<Record<string, string>>;
  kind?: string;
  owner?: string;
  /** The entry's zone and the zones of its declared addresses, sorted. */
  zones: readonly string[];
  /** The SPIFFE ID parsed, kept on first use (`null`: not a SPIFFE ID); see {@link parsedId}. */
  parsed?: SpiffeId | null;
  /** The last reach asked for, with and without unenforced services, and the zones it was from. */
  reached?: [KeptReach | undefined, KeptReach | undefined];
  /** Its issued credentials, and its lifetime once worked out: kept here, one lookup finds all. */
  issued?: IssuedCredential[];
  lifetime?: Lifetime;
  /**
   * Scratch of the blast radius being worked out: the run that found this
   * identity and what it made of it. A field read where a map of every
   * identity would be searched (see blast-radius.ts).
   */
  blastRun: object | undefined;
  blastFound: object | undefined;
  /** What the decision log shows it did, once an audit has joined the log to the estate. */
  activity: IdentityActivity | undefined;
}

interface KeptReach {
  zones: readonly string[];
  reach: IdentityReach;
}

/** An identity's SPIFFE ID parsed, once: analysis asks for it finding family after finding family. */
export function parsedId(id: EstateIdentity): SpiffeId | undefined {
  if (id.parsed === undefined) id.parsed = tryParseSpiffeId(id.spiffeId) ?? null;
  return id.parsed ?? undefined;
}

export interface LiveCredential {
  id: string;
  kind: 'jwt-svid' | 'x509-svid' | 'static-secret';
  issuedAt: number;
  /** `null`: never expires (a static secret without `expiresAt`). */
  expiresAt: number | null;
}

export interface Lifetime {
  /** How long the longest-lived live credential still lasts; `null` when one never expires. */
  remainingMs: number | null;
  state: 'live' | 'no-expiry' | 'expired' | 'unknown';
  /** Live credentials, longest-lived first. */
  live: readonly LiveCredential[];
  /** Credentials and secrets on record, live or not. */
  onRecord: number;
}

export interface EstateOptions {
  now: number;
  /** Zone → environment; zones not listed take the most common `env` label of the identities in them, else their own name. */
  environments?: Readonly<Record<string, string>>;
}

const MS_PER_DAY = 86_400_000;

export class Estate {
  readonly policy: Policy;
  readonly inventory: InventorySnapshot;
  readonly now: number;
  readonly identities = new Map<string, EstateIdentity>();
  readonly reachability: Reachability;
  private readonly zoneTable: PrefixTable<string>;
  // Built on first use: a blast radius needs none of these, an audit all.
  private addressTable: PrefixTable<readonly string[]> | undefined | null = null;
  private environments: Map<string, string> | undefined;
  private entriesById: Map<string, RegistrationEntry> | undefined;
  private byEntry: EstateIdentity[] | undefined;
  private readonly environmentsConfigured: Readonly<Record<string, string>> | undefined;
  private readonly credentials = new Map<string, IssuedCredential[]>();
  private readonly grantsBy = new Map<string, Grant[]>();
  private readonly servicesByName = new Map<string, Service>();
  private readonly servicesBySpiffeId = new Map<string, Service>();
  private readonly lifetimes = new Map<string, Lifetime>();
  private readonly revocations: readonly Revocation[];

  constructor(policy: Policy, inventory: InventorySnapshot, options: EstateOptions) {
    this.policy = policy;
    this.inventory = inventory;
    this.now = options.now;
    this.environmentsConfigured = options.environments;
    this.reachability = new Reachability(policy, options.now);
    this.zoneTable = createPrefixTable(
      policy.zones.flatMap((z) => z.cidrs.map((c) => ({ cidr: parseCidr(c), value: z.name }))),
    );
    for (const s of policy.services) {
      this.servicesByName.set(s.name, s);
      if (s.spiffeId) this.servicesBySpiffeId.set(s.spiffeId, s);
    }
    const workloads = new Map(policy.workloads.map((w) => [w.spiffeId, w]));
    for (const entry of inventory.entries) {
      const workload = workloads.size ? workloads.get(entry.spiffeId) : undefined;
      this.identities.set(entry.spiffeId, this.describe(entry.spiffeId, entry, workload));
    }
    for (const w of policy.workloads) {
      if (!this.identities.has(w.spiffeId))
        this.identities.set(w.spiffeId, this.describe(w.spiffeId, undefined, w));
    }
    for (const c of inventory.credentials) {
      const id = this.identities.get(c.spiffeId);
      if (id) (id.issued ??= []).push(c);
      else push(this.credentials, c.spiffeId, c);
    }
    for (const g of inventory.grants) push(this.grantsBy, g.spiffeId, g);
    this.revocations = inventory.revocations.filter((r) => parseUtcTime(r.revokedAt) <= this.now);
  }

  private describe(
    spiffeId: string,
    entry: RegistrationEntry | undefined,
    workload: Workload | undefined,
  ): EstateIdentity {
    let zones: string[] = [];
    if (entry?.zone) zones.push(entry.zone);
    for (const a of entry?.addresses ?? []) {
      const slash = a.indexOf('/');
      const z = this.zoneTable.lookupText(slash === -1 ? a : a.slice(0, slash));
      if (z && !zones.includes(z)) zones.push(z);
    }
    if (zones.length > 1) zones = zones.sort();
    const id: EstateIdentity = {
      spiffeId,
      labels: { ...(entry?.labels ?? {}), ...(workload?.labels ?? {}) },
      zones,
      blastRun: undefined,
      blastFound: undefined,
      activity: undefined,
    };
    if (entry) id.entry = entry;
    if (workload) id.workload = workload;
    const kind = entry?.kind ?? workload?.kind;
    if (kind) id.kind = kind;
    // An owner of blank space names nobody to ask: it counts as none, and the
    // policy workload's owner is used instead when it has one.
    const owner = [entry?.owner, workload?.owner].find((o) => o !== undefined && o.trim() !== '');
    if (owner) id.owner = owner;
    return id;
  }

  /** Which addresses belong to which identities: inventory entries' declared ranges. */
  private addresses(): PrefixTable<readonly string[]> | undefined {
    if (this.addressTable !== null) return this.addressTable;
    const owners = new Map<string, string[]>();
    for (const entry of this.inventory.entries) {
      for (const a of entry.addresses ?? []) {
        const cidr = formatCidr(parseCidr(a.includes('/') ? a : a.includes(':') ? `${a}/128` : `${a}/32`));
        const list = owners.get(cidr);
        if (list) list.push(entry.spiffeId);
        else owners.set(cidr, [entry.spiffeId]);
      }
    }
    this.addressTable = owners.size
      ? createPrefixTable([...owners].map(([c, ids]) => ({ cidr: parseCidr(c), value: ids })))
      : undefined;
    return this.addressTable;
  }

  /** Environments: as configured, else the most common `env` label of the identities in each zone. */
  private environmentTable(): Map<string, string> {
    if (this.environments) return this.environments;
    const environments = new Map<string, string>();
    const votes = new Map<string, Map<string, number>>();
    for (const id of this.identities.values()) {
      const env = id.labels.env;
      if (!env) continue;
      for (const z of id.zones) {
        const m = votes.get(z) ?? new Map<string, number>();
        m.set(env, (m.get(env) ?? 0) + 1);
        votes.set(z, m);
      }
    }
    for (const z of this.policy.zones) {
      const configured = this.environmentsConfigured?.[z.name];
      if (configured) {
        environments.set(z.name, configured);
        continue;
      }
      const m = votes.get(z.name);
      const best = m ? [...m].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0]![0] : z.name;
      environments.set(z.name, best);
    }
    return (this.environments = environments);
  }

  /** The zone of an address, as the decision point sees it. */
  zoneOf(ip: string): string {
    return this.zoneTable.lookupText(ip) ?? UNKNOWN_ZONE;
  }

  /** The identities whose inventory entries declare an address range holding `ip`. */
  workloadsAt(ip: string): readonly string[] {
    return this.addresses()?.lookupText(ip) ?? [];
  }

  /** The environment a zone belongs to; `undefined` for `unknown`. */
  environmentOf(zone: string): string | undefined {
    return this.environmentTable().get(zone);
  }

  service(name: string): Service | undefined {
    return this.servicesByName.get(name);
  }

  /** The inventory entry of the workload that runs a service (by the service's SPIFFE ID). */
  serviceEntry(service: Service): RegistrationEntry | undefined {
    return service.spiffeId ? this.identities.get(service.spiffeId)?.entry : undefined;
  }

  /** The service a SPIFFE ID runs, if any. */
  serviceOf(spiffeId: string): Service | undefined {
    return this.servicesBySpiffeId.get(spiffeId);
  }

  /** The estate's identity of each inventory entry, in the inventory's order. */
  entryIdentities(): readonly EstateIdentity[] {
    return (this.byEntry ??= this.inventory.entries.map((e) => this.identities.get(e.spiffeId)!));
  }

  entry(id: string): RegistrationEntry | undefined {
    if (!this.entriesById) {
      this.entriesById = new Map();
      for (const entry of this.inventory.entries) this.entriesById.set(entry.id, entry);
    }
    return this.entriesById.get(id);
  }

  issuedCredentials(spiffeId: string): readonly IssuedCredential[] {
    return this.issuedOf(this.identities.get(spiffeId), spiffeId);
  }

  /** Issued credentials: on the identity when the estate knows it, else by SPIFFE ID. */
  private issuedOf(id: EstateIdentity | undefined, spiffeId: string): readonly IssuedCredential[] {
    return (id ? id.issued : this.credentials.get(spiffeId)) ?? [];
  }

  grants(spiffeId: string): readonly Grant[] {
    return this.grantsBy.get(spiffeId) ?? [];
  }

  /** Whether an issued credential has been taken back by a revocation in force. */
  isRevoked(c: IssuedCredential): boolean {
    if (!this.revocations.length) return false;
    const issued = parseUtcTime(c.issuedAt);
    return this.revocations.some((r) => {
      if (r.target === 'credential') return r.value === c.id;
      if (r.target === 'grant') return c.grantId !== undefined && r.value === c.grantId;
      const before = issued < parseUtcTime(r.revokedAt);
      if (r.target === 'identity') return before && r.value === c.spiffeId;
      return before && r.value === c.entryId;
    });
  }

  /** Live credentials and secrets of an identity, and how long the longest-lived of them still lasts. */
  lifetime(spiffeId: string): Lifetime {
    return this.lifetimeOf(this.identities.get(spiffeId), spiffeId);
  }

  /** {@link lifetime} for an identity already looked up (`undefined`: not in the estate). */
  lifetimeOf(id: EstateIdentity | undefined, spiffeId: string): Lifetime {
    let l = id ? id.lifetime : this.lifetimes.get(spiffeId);
    if (l) return l;
    const live: LiveCredential[] = [];
    const issued = this.issuedOf(id, spiffeId);
    for (const c of issued) {
      const expiresAt = parseUtcTime(c.expiresAt);
      if (expiresAt > this.now && !this.isRevoked(c))
        live.push({ id: c.id, kind: c.type, issuedAt: parseUtcTime(c.issuedAt), expiresAt });
    }
    const secrets = id?.entry?.staticSecrets ?? [];
    for (const s of secrets) {
      const expiresAt = s.expiresAt === undefined ? null : parseUtcTime(s.expiresAt);
      if (expiresAt === null || expiresAt > this.now)
        live.push({
          id: s.id,
          kind: 'static-secret',
          issuedAt: parseUtcTime(s.rotatedAt ?? s.createdAt),
          expiresAt,
        });
    }
    live.sort((a, b) => (b.expiresAt ?? Infinity) - (a.expiresAt ?? Infinity) || (a.id < b.id ? -1 : 1));
    const onRecord = issued.length + secrets.length;
    const first = live[0];
    const remainingMs = first ? (first.expiresAt === null ? null : first.expiresAt - this.now) : 0;
    const state = !onRecord ? 'unknown' : !first ? 'expired' : remainingMs === null ? 'no-expiry' : 'live';
    l = { remainingMs: state === 'unknown' ? null : remainingMs, state, live, onRecord };
    if (id) id.lifetime = l;
    else this.lifetimes.set(spiffeId, l);
    return l;
  }

  /**
   * What an identity reaches, from its own zones or from `zones` (a credential
   * used from another host). Identities unknown to the estate have no labels.
   * Identities that match the same rules from the same zones share one
   * `services` array (see {@link Reachability.servicesOf}).
   */
  reach(spiffeId: string, zones?: readonly string[], options: ReachOptions = {}): IdentityReach {
    return this.reachOf(this.identities.get(spiffeId), spiffeId, zones, options);
  }

  /** {@link reach} for an identity already looked up (`undefined`: not in the estate). */
  reachOf(
    id: EstateIdentity | undefined,
    spiffeId: string,
    zones?: readonly string[],
    options: ReachOptions = {},
  ): IdentityReach {
    if (!id) return this.reachability.of({ spiffeId, labels: {}, zones: zones ?? [] }, options);
    // Several finding families ask what the same identity reaches from the same zones:
    // the last answer is kept per identity (the estate is fixed as of `now`).
    const from = zones ?? id.zones;
    const slot = options.includeUnenforced === false ? 1 : 0;
    const kept = id.reached?.[slot];
    if (kept && kept.zones === from) return kept.reach;
    const reach = this.reachability.of(
      { spiffeId, labels: id.labels, zones: from, parsed: parsedId(id) },
      options,
    );
    (id.reached ??= [undefined, undefined])[slot] = { zones: from, reach };
    return reach;
  }

  /** `now` minus a number of days. */
  daysAgo(days: number): number {
    return this.now - days * MS_PER_DAY;
  }
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

export function buildEstate(policy: Policy, inventory: InventorySnapshot, options: EstateOptions): Estate {
  return new Estate(policy, inventory, options);
}
