/**
 * Secrets that live too long: static secrets never rotated or rotated too
 * long ago, issued SVIDs with long lifetimes, and identities that still
 * authenticate with static API keys.
 */
import type { AuditContext } from './audit-context.js';
import { makeFinding, type Finding } from './finding.js';
import { codeList, days, duration, isoDay } from './format.js';
import { parseUtcTime } from '../../utc-time.js';

const MS_PER_DAY = 86_400_000;

export function findSecrets(ctx: AuditContext): Finding[] {
  const { estate, thresholds } = ctx;
  const maxAge = thresholds.secretMaxAgeDays * MS_PER_DAY;
  const out: Finding[] = [];
  const entries = estate.inventory.entries;
  const ids = estate.entryIdentities();
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!;
    if (entry.status !== 'active') continue;
    const used = ids[i]?.activity;
    for (const s of entry.staticSecrets ?? []) {
      const expiresAt = s.expiresAt === undefined ? undefined : parseUtcTime(s.expiresAt);
      if (expiresAt !== undefined && expiresAt <= estate.now) continue;
      const created = parseUtcTime(s.createdAt);
      const since = s.rotatedAt ? parseUtcTime(s.rotatedAt) : created;
      const age = estate.now - since;
      const evidence = [`created on ${isoDay(created)}`];
      evidence.push(
        s.rotatedAt ? `last rotated on ${isoDay(since)}, ${days(age)} days ago` : 'never rotated',
      );
      evidence.push(expiresAt === undefined ? 'no expiry' : `expires on ${isoDay(expiresAt)}`);
      const lastUsed = Math.max(
        s.lastUsedAt ? parseUtcTime(s.lastUsedAt) : -Infinity,
        used?.credentialIds.has(s.id) ? used.last : -Infinity,
      );
      if (lastUsed > -Infinity) evidence.push(`last used on ${isoDay(lastUsed)}`);
      evidence.push(`stored as \`${s.hash.slice(0, 19)}…\`; the secret itself is not kept`);
      const subject = { kind: 'secret' as const, id: s.id, identity: entry.spiffeId };
      const data = {
        createdAt: s.createdAt,
        rotatedAt: s.rotatedAt ?? null,
        expiresAt: s.expiresAt ?? null,
        ageDays: days(age),
        maxAgeDays: thresholds.secretMaxAgeDays,
      };
      const fix = `rotate \`${s.id}\` now and on a schedule of at most ${thresholds.secretMaxAgeDays} days, or better, replace it with a short-lived SVID for \`${entry.spiffeId}\` and delete the key`;
      if (!s.rotatedAt && age > maxAge) {
        out.push(
          makeFinding('never_rotated_secret', {
            severity: age > 365 * MS_PER_DAY ? 'high' : 'medium',
            subject,
            title: `secret \`${s.id}\` of \`${entry.spiffeId}\` was never rotated in ${days(age)} days`,
            evidence,
            fix,
            data,
          }),
        );
      } else if (age > maxAge) {
        out.push(
          makeFinding('long_lived_secret', {
            severity: 'medium',
            subject,
            title: `secret \`${s.id}\` of \`${entry.spiffeId}\` was last rotated ${days(age)} days ago`,
            evidence,
            fix,
            data,
          }),
        );
      } else if (expiresAt === undefined || expiresAt - since > maxAge) {
        out.push(
          makeFinding('long_lived_secret', {
            severity: 'low',
            subject,
            title:
              expiresAt === undefined
                ? `secret \`${s.id}\` of \`${entry.spiffeId}\` never expires`
                : `secret \`${s.id}\` of \`${entry.spiffeId}\` is valid for ${days(expiresAt - since)} days`,
            evidence,
            fix: `give \`${s.id}\` an expiry of at most ${thresholds.secretMaxAgeDays} days and rotate it before then`,
            data,
          }),
        );
      }
    }
  }

  const maxTtl = thresholds.credentialMaxTtlHours * 3_600_000;
  for (const c of estate.inventory.credentials) {
    const issued = parseUtcTime(c.issuedAt);
    const expires = parseUtcTime(c.expiresAt);
    if (expires <= estate.now || expires - issued <= maxTtl || estate.isRevoked(c)) continue;
    const ttl = expires - issued;
    out.push(
      makeFinding('long_lived_credential', {
        severity: ttl > 30 * MS_PER_DAY ? 'high' : 'medium',
        subject: { kind: 'credential', id: c.id, identity: c.spiffeId },
        title: `${c.type} \`${c.id}\` of \`${c.spiffeId}\` lives ${duration(ttl)}`,
        evidence: [
          `issued on ${isoDay(issued)} via \`${c.via}\`, expires on ${isoDay(expires)}`,
          `still valid for ${duration(expires - estate.now)}; the threshold is ${thresholds.credentialMaxTtlHours}h`,
        ],
        fix: `lower the SVID TTL of \`${c.spiffeId}\` (\`${c.type === 'jwt-svid' ? 'jwtSvidTtlSeconds' : 'x509SvidTtlSeconds'}\`) to ${thresholds.credentialMaxTtlHours}h or less and let the workload renew; revoke \`${c.id}\` if it is not needed until then`,
        data: { issuedAt: c.issuedAt, expiresAt: c.expiresAt, ttlSeconds: Math.round(ttl / 1000) },
      }),
    );
  }

  for (const id of estate.identities.values()) {
    const entry = id.entry;
    if (entry && entry.status !== 'active') continue;
    const seen = id.activity;
    const keyUses = seen?.credentialTypes.get('api-key') ?? 0;
    const secrets = entry?.staticSecrets ?? [];
    if (id.kind !== 'api-key' && !keyUses && !secrets.length) continue;
    const evidence: string[] = [];
    if (id.kind === 'api-key') evidence.push('registered as kind `api-key`');
    if (secrets.length) evidence.push(`static secrets on record: ${codeList(secrets.map((s) => s.id))}`);
    if (keyUses) evidence.push(`${keyUses} decision(s) in the log authenticated with an API key`);
    out.push(
      makeFinding('static_key_authentication', {
        severity: keyUses ? 'medium' : 'low',
        subject: { kind: 'identity', id: id.spiffeId },
        title: `identity \`${id.spiffeId}\` authenticates with a static key`,
        evidence,
        fix: `register the workload for attestation (join token or OIDC) so it gets short-lived SVIDs, move its callers over, then delete the static key`,
        data: { apiKeyDecisions: keyUses, staticSecrets: secrets.map((s) => s.id) },
      }),
    );
  }
  return out;
}
