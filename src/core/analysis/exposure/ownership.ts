/** Ownership: identities nobody owns, and identities the log shows that the inventory does not know. */
import { tryParseSpiffeId } from '../../identity/spiffe-id.js';
import type { AuditContext } from './audit-context.js';
import { makeFinding, type Finding } from './finding.js';
import { codeList, isoDay, plural } from './format.js';

export function findOwnership(ctx: AuditContext): Finding[] {
  const { estate } = ctx;
  const out: Finding[] = [];
  for (const id of estate.identities.values()) {
    if (id.owner || id.entry?.status === 'offboarded') continue;
    const lifetime = estate.lifetimeOf(id, id.spiffeId);
    const secrets = id.entry?.staticSecrets ?? [];
    const evidence = [
      id.entry ? `inventory entry \`${id.entry.id}\` has no \`owner\`` : 'not in the inventory',
      id.workload ? 'the policy workload has no `owner`' : 'not listed in the policy workloads',
    ];
    if (id.kind) evidence.push(`kind \`${id.kind}\``);
    if (secrets.length) evidence.push(`holds static secrets: ${codeList(secrets.map((s) => s.id))}`);
    else if (lifetime.live.length) evidence.push(`holds ${plural(lifetime.live.length, 'live credential')}`);
    const seen = id.activity;
    if (seen) evidence.push(`${plural(seen.records, 'decision')} in the log, last on ${isoDay(seen.last)}`);
    out.push(
      makeFinding('missing_owner', {
        severity: secrets.length || lifetime.state === 'no-expiry' ? 'high' : 'medium',
        subject: { kind: 'identity', id: id.spiffeId },
        title: `identity \`${id.spiffeId}\` has no owner`,
        evidence,
        fix: `name the team accountable for \`${id.spiffeId}\` in \`owner\` (inventory entry and policy workload); if nobody claims it, disable it`,
      }),
    );
  }

  const trustDomain = estate.policy.trustDomain;
  for (const { activity: a, identity } of ctx.seen) {
    if (identity || a.allowed === 0) continue;
    if (tryParseSpiffeId(a.spiffeId)?.trustDomain !== trustDomain) continue;
    const services = [...a.services].filter(([, u]) => u.allowed > 0).map(([s]) => s);
    out.push(
      makeFinding('unregistered_identity', {
        severity: 'medium',
        subject: { kind: 'identity', id: a.spiffeId },
        title: `identity \`${a.spiffeId}\` is allowed but not in the inventory`,
        evidence: [
          `${a.allowed} of ${plural(a.records, 'decision')} allowed between ${isoDay(a.first)} and ${isoDay(a.last)}`,
          `reached ${codeList(services)}`,
          `called from ${codeList(a.addresses.keys(), 4)}`,
        ],
        fix: `register \`${a.spiffeId}\` in the inventory with an owner and attestation, or remove what lets it in`,
        data: { records: a.records, allowed: a.allowed, services },
      }),
    );
  }
  return out;
}
