/**
 * Denied cross-zone attempts: identities the zone layer stopped while they
 * tried to reach another zone — a misconfigured workload, or a compromised
 * one probing for a way across.
 */
import { UNKNOWN_ZONE } from '../../policy/model.js';
import type { AuditContext } from './audit-context.js';
import { makeFinding, type Finding, type Severity } from './finding.js';
import { codeList, isoTime } from './format.js';

export function findCrossZone(ctx: AuditContext): Finding[] {
  const out: Finding[] = [];
  for (const a of ctx.activity.identities.values()) {
    if (!a.zoneDenials.size) continue;
    const denials = [...a.zoneDenials.values()].sort((x, y) => y.count - x.count);
    const total = denials.reduce((n, d) => n + d.count, 0);
    const explicit = denials.some((d) => d.rules.size > 0);
    const external = denials.every((d) => d.sourceZone === UNKNOWN_ZONE);
    const severity: Severity = external ? 'low' : explicit || total >= 10 ? 'high' : 'medium';
    out.push(
      makeFinding('denied_cross_zone', {
        severity,
        subject: { kind: 'identity', id: a.spiffeId },
        title: `identity \`${a.spiffeId}\` was denied ${total} time(s) crossing ${denials.map((d) => `${d.sourceZone} → ${d.destinationZone}`).join(', ')}`,
        evidence: denials.map(
          (d) =>
            `${d.count} × ${d.sourceZone} → ${d.destinationZone} to ${codeList(d.services)}, ${d.rules.size ? `denied by ${codeList(d.rules)}` : 'no zone rule allows it (default deny)'}, ${isoTime(d.first)} … ${isoTime(d.last)}${d.unenforced ? `; ${d.unenforced} let through anyway (${d.unenforced === d.count ? 'all' : 'some'}: the service does not enforce denials yet)` : ''}`,
        ),
        fix: `find out why \`${a.spiffeId}\` tries to leave its zone: fix the workload's configuration if it is a mistake; if it is not, treat the identity as compromised, revoke its credentials and look at its blast radius (\`gatehouse blast-radius ${a.spiffeId}\`)`,
        data: {
          attempts: denials.map((d) => ({
            from: d.sourceZone,
            to: d.destinationZone,
            count: d.count,
            services: [...d.services],
            rules: [...d.rules],
          })),
        },
      }),
    );
  }
  return out;
}
