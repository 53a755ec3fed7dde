/**
 * Signs that a person uses a non-human identity (OWASP NHI10): interactive
 * clients (a browser, curl), traffic only in office hours and in bursts with
 * long pauses, and exploration — many different paths, many denials. Machines
 * call on a schedule or under load, round the clock, along a few paths.
 * Each sign alone is weak; the finding needs several.
 */
import type { IdentityActivity } from './activity.js';
import type { AuditContext } from './audit-context.js';
import { makeFinding, type Finding } from './finding.js';
import { codeList, plural } from './format.js';

/** User agents of browsers and of tools people type commands into. */
const INTERACTIVE = /^(mozilla\/|curl\/|wget\/|postmanruntime\/|httpie\/|insomnia\/|powershell\/)/i;

export interface HumanSigns {
  interactiveAgents: string[];
  /** Share of records inside office hours, and hours of the day with no record at all. */
  officeHours?: { share: number; silentHours: number; weekendShare: number };
  /** Coefficient of variation of the gaps between records: 1 for steady random traffic, far above for bursts. */
  burstiness?: number;
  exploration?: { pathShapes: number; deniedShare: number };
  score: number;
}

export function humanSigns(
  a: IdentityActivity,
  workHours: readonly [number, number],
  minRecords: number,
): HumanSigns {
  const signs: HumanSigns = {
    interactiveAgents: [...a.userAgents.keys()].filter((ua) => INTERACTIVE.test(ua)).sort(),
    score: 0,
  };
  if (signs.interactiveAgents.length) signs.score += 2;
  if (a.records < minRecords) return signs;
  const [from, to] = workHours;
  let inside = 0;
  let silent = 0;
  a.hours.forEach((n, h) => {
    if (h >= from && h < to) inside += n;
    if (n === 0) silent++;
  });
  const share = inside / a.records;
  const weekendShare = (a.weekdays[0]! + a.weekdays[6]!) / a.records;
  if (share >= 0.9 && silent >= 8) {
    signs.officeHours = { share, silentHours: silent, weekendShare };
    signs.score++;
  }
  const g = a.gaps;
  if (g.n >= 10 && g.mean > 0) {
    const cv = Math.sqrt(g.m2 / g.n) / g.mean;
    if (cv >= 2) {
      signs.burstiness = cv;
      signs.score++;
    }
  }
  const shapes = a.paths.size + a.pathsDropped;
  const deniedShare = a.denied / a.records;
  if (shapes >= 8 || (deniedShare >= 0.2 && shapes >= 3)) {
    signs.exploration = { pathShapes: shapes, deniedShare };
    signs.score++;
  }
  return signs;
}

export function findHumanUse(ctx: AuditContext): Finding[] {
  const { activity, thresholds } = ctx;
  const out: Finding[] = [];
  for (const a of activity.identities.values()) {
    const s = humanSigns(a, thresholds.workHours, thresholds.minRecords);
    if (s.score < 3) continue;
    const evidence: string[] = [];
    if (s.interactiveAgents.length) evidence.push(`interactive clients: ${codeList(s.interactiveAgents)}`);
    if (s.officeHours)
      evidence.push(
        `${Math.round(s.officeHours.share * 100)} % of ${plural(a.records, 'decision')} between ${thresholds.workHours[0]}:00 and ${thresholds.workHours[1]}:00 UTC, none in ${s.officeHours.silentHours} hours of the day; ${Math.round(s.officeHours.weekendShare * 100)} % at weekends`,
      );
    if (s.burstiness !== undefined)
      evidence.push(
        `comes in bursts: the gaps between calls vary ${s.burstiness.toFixed(1)}× their mean (steady traffic: about 1×)`,
      );
    if (s.exploration)
      evidence.push(
        `explores: ${s.exploration.pathShapes} different paths, ${Math.round(s.exploration.deniedShare * 100)} % denied`,
      );
    const zones = [...a.zones.keys()];
    evidence.push(`called from ${codeList(zones)} (${codeList(a.addresses.keys(), 3)})`);
    out.push(
      makeFinding('human_use', {
        severity: s.interactiveAgents.length ? 'high' : 'medium',
        subject: { kind: 'identity', id: a.spiffeId },
        title: `identity \`${a.spiffeId}\` looks used by a person`,
        evidence,
        fix: `find who uses \`${a.spiffeId}\` by hand and give them their own human access (SSO, with MFA and a JIT grant for the task); then rotate its credentials and restrict them to its workload's addresses`,
        data: {
          interactiveAgents: s.interactiveAgents,
          officeHoursShare: s.officeHours?.share ?? null,
          burstiness: s.burstiness ?? null,
          pathShapes: s.exploration?.pathShapes ?? null,
          deniedShare: s.exploration?.deniedShare ?? null,
          score: s.score,
        },
      }),
    );
  }
  return out;
}
