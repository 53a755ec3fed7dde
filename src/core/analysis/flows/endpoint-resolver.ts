/**
 * Who and where the ends of a flow are. Observers see addresses; policies
 * speak of identities, services and zones. The resolver maps, in this order:
 *
 * - an address to an identity: the inventory entry whose `addresses` hold it
 *   (longest prefix; offboarded entries are ignored, an address two entries
 *   claim resolves to neither, and is counted as ambiguous);
 * - an address to a zone: the policy zone whose CIDRs hold it (longest
 *   prefix), else `unknown` — exactly as the decision engine places a caller;
 *   a caller seen without an address takes its inventory entry's `zone`;
 * - a destination identity to a service: the declared service whose
 *   `spiffeId` it is (when several share it, the one listening on the port);
 *   the destination zone is then the service's zone, as in decisions.
 *
 * What the record already says wins: a decision log record keeps its zones
 * and service. A service name the policy does not declare is kept too, but
 * the destination is then an undeclared endpoint (declared-service.ts): it
 * is placed by its address, as any other. Endpoints that nothing resolves
 * stay visible: no identity, no service, zone `unknown`.
 */
import type { InventorySnapshot } from '../../identity/inventory.js';
import { createPrefixTable, formatCidr, parseCidr, type Cidr, type PrefixTable } from '../../net/index.js';
import { UNKNOWN_ZONE, type Policy, type Service } from '../../policy/model.js';
import { declaredServiceNames, declaredServiceOf } from './declared-service.js';
import type { FlowRecord } from './flow-record.js';

interface Holder {
  spiffeId: string;
  zone: string | undefined;
}

/** Two entries claim the same prefix: the address belongs to neither. */
const AMBIGUOUS: Holder = Object.freeze({ spiffeId: '', zone: undefined });

function addressCidr(text: string): Cidr | undefined {
  try {
    return parseCidr(text.includes('/') ? text : `${text}/${text.includes(':') ? 128 : 32}`);
  } catch {
    return undefined;
  }
}

export class EndpointResolver {
  private readonly zones: PrefixTable<string>;
  private readonly holders: PrefixTable<Holder>;
  private readonly entryZones = new Map<string, string>();
  private readonly servicesById = new Map<string, Service[]>();
  private readonly serviceZones = new Map<string, string>();
  /** Prefixes that more than one inventory entry claims, as text. */
  readonly ambiguousAddresses: readonly string[];
  /** Inventory addresses that are neither an address nor a CIDR (`entries[i].addresses[j]`). */
  readonly unreadableAddresses: readonly string[];
  /** The services the policy declares: a destination naming any other is an undeclared endpoint. */
  readonly declaredServices: ReadonlySet<string>;

  constructor(policy: Policy, inventory?: InventorySnapshot) {
    this.declaredServices = declaredServiceNames([policy]);
    this.zones = createPrefixTable(
      policy.zones.flatMap((z) => z.cidrs.map((c) => ({ cidr: parseCidr(c), value: z.name }))),
    );
    for (const s of policy.services) {
      this.serviceZones.set(s.name, s.zone);
      if (s.spiffeId === undefined) continue;
      const list = this.servicesById.get(s.spiffeId);
      if (list) list.push(s);
      else this.servicesById.set(s.spiffeId, [s]);
    }
    const byPrefix = new Map<string, { cidr: Cidr; holder: Holder }>();
    const unreadable: string[] = [];
    (inventory?.entries ?? []).forEach((entry, i) => {
      if (entry.status === 'offboarded') return;
      if (entry.zone !== undefined) this.entryZones.set(entry.spiffeId, entry.zone);
      (entry.addresses ?? []).forEach((address, j) => {
        const cidr = addressCidr(address);
        if (!cidr) return void unreadable.push(`entries[${i}].addresses[${j}]`);
        const key = formatCidr(cidr);
        const known = byPrefix.get(key);
        if (known && known.holder.spiffeId !== entry.spiffeId) known.holder = AMBIGUOUS;
        else if (!known) byPrefix.set(key, { cidr, holder: { spiffeId: entry.spiffeId, zone: entry.zone } });
      });
    });
    this.holders = createPrefixTable([...byPrefix.values()].map((p) => ({ cidr: p.cidr, value: p.holder })));
    this.ambiguousAddresses = [...byPrefix]
      .filter(([, p]) => p.holder === AMBIGUOUS)
      .map(([k]) => k)
      .sort();
    this.unreadableAddresses = unreadable;
  }

  /** The zone holding an address, or `unknown`. */
  zoneOf(ip: string): string {
    return this.zones.lookupText(ip) ?? UNKNOWN_ZONE;
  }

  /** The identity of the inventory entry holding an address, when exactly one does. */
  identityAt(ip: string): string | undefined {
    const h = this.holders.lookupText(ip);
    return h === undefined || h === AMBIGUOUS ? undefined : h.spiffeId;
  }

  /** The declared service a workload identity serves on a port, if any. */
  serviceFor(spiffeId: string, port: number | undefined): Service | undefined {
    const list = this.servicesById.get(spiffeId);
    if (!list) return undefined;
    if (list.length === 1 || port === undefined) return list[0];
    const listening = list.find(
      (s) => s.ports === '*' || s.ports.some((r) => port >= r.from && port <= r.to),
    );
    return listening ?? list[0];
  }

  /**
   * Fills in what the record does not say: identities, service and zones.
   * Changes the record in place and answers it.
   */
  resolve(record: FlowRecord): FlowRecord {
    const src = record.source;
    if (src.spiffeId === undefined && src.ip !== undefined) {
      const id = this.identityAt(src.ip);
      if (id !== undefined) src.spiffeId = id;
    }
    if (src.zone === undefined) {
      src.zone =
        src.ip !== undefined
          ? this.zoneOf(src.ip)
          : ((src.spiffeId !== undefined ? this.entryZones.get(src.spiffeId) : undefined) ?? UNKNOWN_ZONE);
    }
    const dst = record.destination;
    if (dst.spiffeId === undefined && dst.ip !== undefined) {
      const id = this.identityAt(dst.ip);
      if (id !== undefined) dst.spiffeId = id;
    }
    if (dst.service === undefined && dst.spiffeId !== undefined) {
      const service = this.serviceFor(dst.spiffeId, dst.port);
      if (service) dst.service = service.name;
    }
    if (dst.zone === undefined) {
      const service = declaredServiceOf(record, this.declaredServices);
      if (service !== undefined) dst.zone = this.serviceZones.get(service)!;
      else if (dst.ip !== undefined) dst.zone = this.zoneOf(dst.ip);
      else
        dst.zone =
          (dst.spiffeId !== undefined ? this.entryZones.get(dst.spiffeId) : undefined) ?? UNKNOWN_ZONE;
    }
    return record;
  }
}
