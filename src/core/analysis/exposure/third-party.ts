/**
 * Third-party apps with broad grants: a vendor's identity that reaches many
 * services, may take every action somewhere, gets access through rules
 * written for others (labels, globs, `*`), or holds wide or long JIT grants.
 */
import type { FlowRule, PermissionRule } from '../../policy/model.js';
import type { AuditContext } from './audit-context.js';
import { makeFinding, type Finding } from './finding.js';
import { codeList, days, isoDay } from './format.js';
import { parseUtcTime } from '../../utc-time.js';

const MS_PER_DAY = 86_400_000;

export function findThirdParty(ctx: AuditContext): Finding[] {
  const { estate, thresholds } = ctx;
  const rules = new Map<string, FlowRule | PermissionRule>();
  for (const r of [...estate.policy.flows, ...estate.policy.permissions]) rules.set(r.id, r);
  const names = (ruleId: string, spiffeId: string) => {
    const r = rules.get(ruleId);
    return r !== undefined && r.from !== '*' && r.from.some((t) => t.spiffeId === spiffeId && !t.not);
  };
  const out: Finding[] = [];
  for (const id of estate.identities.values()) {
    if (id.kind !== 'third-party-app' || (id.entry && id.entry.status !== 'active')) continue;
    const reach = estate.reach(id.spiffeId, undefined, { includeUnenforced: false });
    const services = [...new Set(reach.services.map((s) => s.service))];
    const evidence: string[] = [];
    let reasons = 0;
    if (services.length >= thresholds.thirdPartyMaxServices) {
      reasons++;
      evidence.push(`reaches ${services.length} services: ${codeList(services)}`);
    }
    const everyAction = reach.services.flatMap((s) =>
      s.grants.filter((g) => g.actions.length === 0).map((g) => `\`${g.rule}\` on \`${s.service}\``),
    );
    if (everyAction.length) {
      reasons++;
      evidence.push(`may take every action: ${[...new Set(everyAction)].join(', ')}`);
    }
    const inherited = new Set<string>();
    for (const s of reach.services) {
      for (const r of [...s.flowRules, ...s.grants.map((g) => g.rule)])
        if (!names(r, id.spiffeId)) inherited.add(`\`${r}\` (${s.service})`);
    }
    if (inherited.size) {
      reasons++;
      evidence.push(`gets access through rules that do not name it: ${[...inherited].join(', ')}`);
    }
    for (const g of estate.grants(id.spiffeId)) {
      const expires = parseUtcTime(g.expiresAt);
      if (g.endedAt || expires <= estate.now) continue;
      const wide = !g.scope.methods.length && !g.scope.paths.length && !g.scope.operations.length;
      const long = expires - parseUtcTime(g.startedAt) > 7 * MS_PER_DAY;
      if (!wide && !long) continue;
      reasons++;
      evidence.push(
        `JIT grant \`${g.id}\` on \`${g.scope.service}\`${wide ? ' allows any method and path' : ''}${wide && long ? ' and' : ''}${long ? ` lasts ${days(expires - parseUtcTime(g.startedAt))} days` : ''} (until ${isoDay(expires)})`,
      );
    }
    if (!reasons) continue;
    out.push(
      makeFinding('third_party_broad_access', {
        severity: reasons >= 2 || everyAction.length ? 'high' : 'medium',
        subject: { kind: 'identity', id: id.spiffeId },
        title: `third-party app \`${id.spiffeId}\` has broad access`,
        evidence,
        fix: `give \`${id.spiffeId}\` its own rules naming it by SPIFFE ID, for the few services and actions the integration needs; exclude it from label rules (\`not: { labels: { vendor: ... } }\`) and scope its JIT grants to one task, for hours`,
        data: { services, everyAction: [...new Set(everyAction)], inheritedRules: [...inherited] },
      }),
    );
  }
  return out;
}
