/**
 * Identities shared where they should not be: one identity used from zones of
 * different environments (OWASP NHI8), or by several workloads and from many
 * source addresses (NHI9).
 */
import type { AuditContext } from './audit-context.js';
import { makeFinding, type Finding } from './finding.js';
import { codeList, plural } from './format.js';
import { UNKNOWN_ZONE } from '../../policy/model.js';
import { parseCidr, parseIpAddress, cidrContains, type Cidr } from '../../net/index.js';

export function findSharing(ctx: AuditContext): Finding[] {
  const { estate, thresholds } = ctx;
  const out: Finding[] = [];
  for (const { activity: a, identity: id } of ctx.seen) {
    if (!id) continue;

    // NHI8: the environments of the zones it calls from, and the one it belongs to.
    const observed = new Map<string, string[]>();
    for (const zone of a.zones.keys()) {
      if (zone === UNKNOWN_ZONE) continue;
      const env = estate.environmentOf(zone);
      if (env) observed.set(env, [...(observed.get(env) ?? []), zone]);
    }
    const declared = id.labels.env ?? (id.zones[0] ? estate.environmentOf(id.zones[0]) : undefined);
    const envs = new Set(observed.keys());
    if (declared) envs.add(declared);
    if (observed.size && envs.size > 1) {
      const foreign = [...observed].filter(([env]) => env !== declared);
      const evidence = [
        declared ? `belongs to environment \`${declared}\`` : 'has no declared environment',
        ...[...observed].map(
          ([env, zones]) =>
            `${zones.reduce((n, z) => n + (a.zones.get(z) ?? 0), 0)} decision(s) from ${codeList(zones)} (environment \`${env}\`)`,
        ),
      ];
      out.push(
        makeFinding('cross_environment_use', {
          severity: foreign.some(([env]) => env === 'prod' || env === 'production') ? 'high' : 'medium',
          subject: { kind: 'identity', id: a.spiffeId },
          title: `identity \`${a.spiffeId}\` is used in ${plural(envs.size, 'environment')}: ${codeList([...envs].sort())}`,
          evidence,
          fix: `give each environment its own identity (a separate entry per environment, with \`env\` set) and pin the rules that name \`${a.spiffeId}\` to its zones with \`zones:\``,
          data: { declared: declared ?? null, observed: Object.fromEntries(observed) },
        }),
      );
    }

    // NHI9: used from other workloads' addresses, outside its own, or from too many.
    const own: Cidr[] = (id.entry?.addresses ?? []).map((x) =>
      parseCidr(x.includes('/') ? x : x.includes(':') ? `${x}/128` : `${x}/32`),
    );
    const others = new Map<string, number>();
    let outside = 0;
    const outsideIps: string[] = [];
    for (const [ip, n] of a.addresses) {
      let mine = false;
      try {
        const addr = parseIpAddress(ip);
        mine = own.some((c) => cidrContains(c, addr));
      } catch {
        mine = false;
      }
      if (mine) continue;
      const holders = estate.workloadsAt(ip).filter((s) => s !== a.spiffeId);
      for (const h of holders) others.set(h, (others.get(h) ?? 0) + n);
      if (own.length) {
        outside += n;
        outsideIps.push(ip);
      }
    }
    const distinct = a.addresses.size + a.addressesDropped;
    // Without an inventory entry there is nothing to say it should be one workload.
    const tooMany = !own.length && id.entry !== undefined && distinct > thresholds.maxAddresses;
    if (!others.size && !outside && !tooMany) continue;
    const evidence: string[] = [];
    for (const [h, n] of others) evidence.push(`${n} decision(s) from addresses declared by \`${h}\``);
    if (outside)
      evidence.push(
        `${outside} decision(s) from ${codeList(outsideIps, 4)}, outside its declared addresses ${codeList(id.entry?.addresses ?? [])}`,
      );
    if (tooMany)
      evidence.push(
        `seen from ${a.addressesDropped ? `more than ${distinct}` : distinct} source addresses (threshold ${thresholds.maxAddresses}) and declares none`,
      );
    out.push(
      makeFinding('identity_reuse', {
        severity: others.size ? 'high' : 'medium',
        subject: { kind: 'identity', id: a.spiffeId },
        title: others.size
          ? `identity \`${a.spiffeId}\` is used by ${plural(others.size + 1, 'workload')}`
          : outside
            ? `identity \`${a.spiffeId}\` is used from ${plural(outsideIps.length, 'address', 'addresses')} outside its own`
            : `identity \`${a.spiffeId}\` is used from ${distinct} source addresses`,
        evidence,
        fix: `issue one identity per workload: register the other callers with their own entries, declare \`addresses\` for \`${a.spiffeId}\`, then rotate its credentials so only its own workload holds them`,
        data: {
          sourceAddresses: distinct,
          otherWorkloads: Object.fromEntries(others),
          outsideDeclared: outside,
        },
      }),
    );
  }
  return out;
}
