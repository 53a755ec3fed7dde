/** Stale identities: active entries nobody has used for longer than the stale threshold. */
import type { AuditContext } from './audit-context.js';
import { makeFinding, type Finding } from './finding.js';
import { codeList, days, isoDay, plural } from './format.js';
import { parseUtcTime } from '../../utc-time.js';

export function findStale(ctx: AuditContext): Finding[] {
  const { estate, thresholds, log } = ctx;
  const threshold = estate.daysAgo(thresholds.staleDays);
  const out: Finding[] = [];
  const entries = estate.inventory.entries;
  const ids = estate.entryIdentities();
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!;
    if (entry.status !== 'active') continue;
    const id = ids[i];
    const seen = id?.activity;
    const times = [seen?.last ?? -Infinity];
    if (entry.lastSeenAt) times.push(parseUtcTime(entry.lastSeenAt));
    for (const s of entry.staticSecrets ?? []) if (s.lastUsedAt) times.push(parseUtcTime(s.lastUsedAt));
    const last = Math.max(...times);
    const created = parseUtcTime(entry.createdAt);
    if (last >= threshold || (last === -Infinity && created >= threshold)) continue;

    const evidence: string[] = [];
    if (last === -Infinity)
      evidence.push(
        `never seen since it was registered on ${isoDay(created)} (${days(estate.now - created)} days ago)`,
      );
    else evidence.push(`last seen on ${isoDay(last)}, ${days(estate.now - last)} days ago`);
    if (ctx.hasLog)
      evidence.push(
        log.records
          ? `no decision in the log between ${isoDay(log.first!)} and ${isoDay(log.last!)} (${plural(log.records, 'record')})`
          : 'no decision in the log',
      );
    const lifetime = estate.lifetimeOf(id, entry.spiffeId);
    if (lifetime.live.length)
      evidence.push(
        `still holds ${plural(lifetime.live.length, 'live credential')}: ${codeList(lifetime.live.map((c) => c.id))}`,
      );
    const reach = estate.reachOf(id, entry.spiffeId, undefined, { includeUnenforced: false });
    const services = [...new Set(reach.services.map((s) => s.service))];
    if (services.length) evidence.push(`the policy still lets it reach ${codeList(services)}`);
    out.push(
      makeFinding('stale_identity', {
        severity: lifetime.live.length || services.length ? 'high' : 'medium',
        subject: { kind: 'identity', id: entry.spiffeId },
        title: `identity \`${entry.spiffeId}\` unused for ${last === -Infinity ? 'ever' : `${days(estate.now - last)} days`}`,
        evidence,
        fix: `confirm with ${id?.owner ? `\`${id.owner}\`` : 'its owner'} that it is no longer needed, then set the entry to \`disabled\`, revoke its credentials and remove the rules that name it; if it is needed, find why it stopped calling`,
        data: {
          lastSeen: last === -Infinity ? null : new Date(last).toISOString(),
          staleDays: thresholds.staleDays,
          liveCredentials: lifetime.live.map((c) => c.id),
          reachableServices: services,
        },
      }),
    );
  }
  return out;
}
