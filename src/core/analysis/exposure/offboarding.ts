/**
 * Offboarding gaps (OWASP NHI1): disabled or offboarded identities that still
 * hold live credentials, secrets or grants, are still allowed in the log
 * after their status changed, or that the policy still lets reach services.
 */
import type { AuditContext } from './audit-context.js';
import { makeFinding, type Finding } from './finding.js';
import { codeList, duration, isoDay, isoTime } from './format.js';
import { parseUtcTime } from '../../utc-time.js';

export function findOffboarding(ctx: AuditContext): Finding[] {
  const { estate, activity } = ctx;
  const out: Finding[] = [];
  for (const entry of estate.inventory.entries) {
    if (entry.status === 'active') continue;
    const changed = parseUtcTime(entry.updatedAt);
    const status = `\`${entry.status}\` since ${isoDay(changed)}`;
    const lifetime = estate.lifetime(entry.spiffeId);
    const grants = estate
      .grants(entry.spiffeId)
      .filter((g) => !g.endedAt && parseUtcTime(g.expiresAt) > estate.now);
    if (lifetime.live.length || grants.length) {
      const evidence = [`entry \`${entry.id}\` is ${status}`];
      for (const c of lifetime.live)
        evidence.push(
          c.kind === 'static-secret'
            ? `static secret \`${c.id}\` ${c.expiresAt === null ? 'never expires' : `expires in ${duration(c.expiresAt - estate.now)}`}`
            : `${c.kind} \`${c.id}\` issued ${isoTime(c.issuedAt)} is valid for ${duration(c.expiresAt! - estate.now)} more and not revoked`,
        );
      for (const g of grants)
        evidence.push(
          `JIT grant \`${g.id}\` (${g.task}) on \`${g.scope.service}\` runs until ${isoDay(parseUtcTime(g.expiresAt))}`,
        );
      out.push(
        makeFinding('offboarded_live_credentials', {
          severity: entry.status === 'offboarded' || lifetime.state === 'no-expiry' ? 'critical' : 'high',
          subject: { kind: 'identity', id: entry.spiffeId },
          title: `${entry.status} identity \`${entry.spiffeId}\` still holds live credentials`,
          evidence,
          fix: `revoke every credential of the entry (\`gatehouse\` revocation with target \`entry\` and value \`${entry.id}\`), delete its static secrets and end its grants`,
          data: {
            status: entry.status,
            liveCredentials: lifetime.live.map((c) => c.id),
            grants: grants.map((g) => g.id),
          },
        }),
      );
    }
    const seen = activity.identities.get(entry.spiffeId);
    if (seen && seen.allowedAfterOffboarding > 0) {
      out.push(
        makeFinding('offboarded_still_used', {
          severity: 'critical',
          subject: { kind: 'identity', id: entry.spiffeId },
          title: `${entry.status} identity \`${entry.spiffeId}\` was still allowed ${seen.allowedAfterOffboarding} time(s)`,
          evidence: [
            `entry \`${entry.id}\` is ${status}`,
            `${seen.allowedAfterOffboarding} allowed decision(s) after that, first at ${isoTime(seen.firstAfterOffboarding)}, last at ${isoTime(seen.lastAllowed)}`,
            `reached ${codeList([...seen.services].filter(([, u]) => u.allowed).map(([s]) => s))}`,
          ],
          fix: `find which workload still presents \`${entry.spiffeId}\` (source addresses ${codeList(seen.addresses.keys(), 4)}), revoke its credentials, and remove the rules that still allow it`,
          data: { allowedAfter: seen.allowedAfterOffboarding, first: isoTime(seen.firstAfterOffboarding) },
        }),
      );
    }
    const reach = estate.reach(entry.spiffeId, undefined, { includeUnenforced: false });
    if (reach.services.length) {
      const rules = new Set<string>();
      for (const s of reach.services) {
        s.flowRules.forEach((r) => rules.add(r));
        s.grants.forEach((g) => rules.add(g.rule));
      }
      out.push(
        makeFinding('offboarded_still_reachable', {
          severity: 'medium',
          subject: { kind: 'identity', id: entry.spiffeId },
          title: `the policy still lets ${entry.status} identity \`${entry.spiffeId}\` reach ${codeList(new Set(reach.services.map((s) => s.service)))}`,
          evidence: [`entry \`${entry.id}\` is ${status}`, `allowed by ${codeList(rules, 8)}`],
          fix: `remove \`${entry.spiffeId}\` from those rules, or exclude it from label selectors with \`not: ${entry.spiffeId}\`, and drop its policy workload entry`,
          data: { rules: [...rules] },
        }),
      );
    }
  }
  return out;
}
