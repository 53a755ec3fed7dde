/**
 * Over-privileged identities (OWASP NHI5): identities active in the log window
 * that are granted permissions they never exercised and services they never
 * contacted. Identities absent from the log are stale, not over-privileged.
 */
import type { AuditContext } from './audit-context.js';
import { makeFinding, type Finding } from './finding.js';
import { codeList, isoDay, plural } from './format.js';
import { privilegesOf } from './granted-vs-used.js';

export function findOverPrivilege(ctx: AuditContext): Finding[] {
  const { estate, log } = ctx;
  if (!ctx.hasLog || !log.records) return [];
  const everyone = new Set(
    [...estate.policy.flows, ...estate.policy.permissions].filter((r) => r.from === '*').map((r) => r.id),
  );
  const out: Finding[] = [];
  const window = `between ${isoDay(log.first!)} and ${isoDay(log.last!)}`;
  for (const { activity: a, identity: id } of ctx.seen) {
    if (!id || (id.entry && id.entry.status !== 'active')) continue;
    const all = privilegesOf(estate, id, a, a.spiffeId);
    // Rules for every caller (`from: "*"`) are a choice about the estate, not about this identity.
    const own = (rules: readonly string[]) => rules.some((r) => !everyone.has(r));
    const p = {
      ...all,
      unusedServices: all.unusedServices.filter((s) => own(s.flowRules) && own(s.permissionRules)),
      unusedPermissionRules: everyone.size
        ? all.unusedPermissionRules.filter((r) => !everyone.has(r.rule))
        : all.unusedPermissionRules,
      broadRules: everyone.size ? all.broadRules.filter((b) => !everyone.has(b.rule)) : all.broadRules,
    };
    // A rule allowing every action of which a few methods were used grants the rest unused:
    // reported even when every service and rule was used, as `privileges` narrows it.
    if (!p.unusedServices.length && !p.unusedPermissionRules.length && !p.broadRules.length) continue;
    const evidence = [
      `${plural(a.records, 'decision')} ${window}; contacted ${p.used.services.length ? codeList(p.used.services) : 'nothing'}`,
    ];
    for (const s of p.unusedServices)
      evidence.push(
        `can reach \`${s.service}\` on ${s.ports}${s.conditional ? ' (conditionally)' : ''} but never contacted it: ${codeList([...s.flowRules, ...s.permissionRules])}`,
      );
    const unusedElsewhere = p.unusedPermissionRules.filter(
      (r) => !p.unusedServices.some((s) => r.services.includes(s.service)),
    );
    for (const r of unusedElsewhere)
      evidence.push(
        `permission \`${r.rule}\` (${r.everyAction ? 'every action' : 'some actions'} on ${codeList(r.services)}) never allowed one of its requests`,
      );
    for (const b of p.broadRules)
      evidence.push(
        `\`${b.rule}\` allows every action on \`${b.service}\`; it used only ${b.methods.length ? codeList(b.methods) : 'requests without a method'}`,
      );
    const unused = [
      p.unusedServices.length ? plural(p.unusedServices.length, 'reachable service') : '',
      p.unusedPermissionRules.length ? plural(p.unusedPermissionRules.length, 'permission') : '',
    ]
      .filter(Boolean)
      .join(' and ');
    const broad = [...new Set(p.broadRules.map((b) => b.rule))];
    const everyAction = p.unusedPermissionRules.some((r) => r.everyAction);
    const firm = p.unusedServices.filter((s) => !s.conditional);
    out.push(
      makeFinding('over_privileged', {
        severity: firm.length >= 3 || everyAction ? 'high' : firm.length ? 'medium' : 'low',
        subject: { kind: 'identity', id: a.spiffeId },
        title: unused
          ? `identity \`${a.spiffeId}\` never used ${unused}`
          : `identity \`${a.spiffeId}\` used a few of the actions ${codeList(broad)} allow${broad.length === 1 ? 's' : ''} it`,
        evidence,
        fix: `remove what it does not use: \`gatehouse privileges --propose FILE\` writes a tightened policy from the same log; review it with the owner${id.owner ? ` \`${id.owner}\`` : ''} and apply it`,
        data: {
          unusedServices: p.unusedServices.map((s) => s.service),
          unusedPermissionRules: p.unusedPermissionRules.map((r) => r.rule),
          usedServices: p.used.services,
        },
      }),
    );
  }
  return out;
}
