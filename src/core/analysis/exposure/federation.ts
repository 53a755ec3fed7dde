/**
 * OIDC federation without strict claim conditions (OWASP NHI6): an entry that
 * any token of its issuer can claim when the conditions pin no subject
 * (repository, project), only an organisation, or use wildcards; and, for CI
 * pipelines, any branch or pull request when no ref or environment is pinned.
 */
import type { ClaimCondition } from '../../identity/entry.js';
import type { AuditContext } from './audit-context.js';
import { makeFinding, SEVERITIES, type Finding, type Severity } from './finding.js';

/** Claims that name one workload: a repository, a project, a workflow. */
const SUBJECT_CLAIMS = [
  'sub',
  'repository',
  'repository_id',
  'project_path',
  'project_id',
  'job_workflow_ref',
  'workflow_ref',
];
/** Claims that name only an organisation or group, shared by many workloads. */
const ORGANISATION_CLAIMS = [
  'repository_owner',
  'repository_owner_id',
  'namespace_path',
  'namespace_id',
  'enterprise',
  'organization',
];
/** Claims that pin a branch, tag or deployment environment. */
const REF_CLAIMS = [
  'ref',
  'environment',
  'ref_type',
  'ref_protected',
  'environment_protected',
  'job_workflow_ref',
];

const values = (c: ClaimCondition): readonly string[] => (typeof c === 'string' ? [c] : c);

export function findFederation(ctx: AuditContext): Finding[] {
  const out: Finding[] = [];
  for (const entry of ctx.estate.inventory.entries) {
    if (entry.status !== 'active') continue;
    entry.attestation.forEach((rule, i) => {
      if (rule.type !== 'oidc') return;
      const claims = rule.claims;
      const names = Object.keys(claims);
      const problems: { severity: Severity; text: string }[] = [];
      const subject = names.filter((n) => SUBJECT_CLAIMS.includes(n));
      const organisation = names.filter((n) => ORGANISATION_CLAIMS.includes(n));
      if (!subject.length && !organisation.length) {
        problems.push({
          severity: 'critical',
          text: `no condition names a repository, project or organisation: any token \`${rule.issuer}\` issues for audience \`${rule.audience}\` may claim it`,
        });
      } else if (!subject.length) {
        problems.push({
          severity: 'high',
          text: `only the organisation is pinned (${organisation.map((n) => `\`${n}\``).join(', ')}): every repository or project in it may claim it`,
        });
      }
      for (const n of names) {
        for (const v of values(claims[n]!)) {
          if (v === '*')
            problems.push({ severity: 'high', text: `claim \`${n}\` accepts any value (\`*\`)` });
          else if (v.includes('*') && (SUBJECT_CLAIMS.includes(n) || REF_CLAIMS.includes(n)))
            problems.push({ severity: 'medium', text: `claim \`${n}\` is a wildcard: \`${v}\`` });
        }
      }
      const subPinsRef = values(claims.sub ?? []).some(
        (v) => /:(ref|environment):/.test(v) && !v.endsWith(':*'),
      );
      if (entry.kind === 'ci-pipeline' && !names.some((n) => REF_CLAIMS.includes(n)) && !subPinsRef)
        problems.push({
          severity: 'medium',
          text: 'no condition pins a branch, tag or environment: any branch or pull request of the pipeline may claim it',
        });
      if (!problems.length) return;
      const severity = SEVERITIES.find((s) => problems.some((p) => p.severity === s))!;
      out.push(
        makeFinding('loose_oidc_federation', {
          severity,
          subject: { kind: 'identity', id: entry.spiffeId },
          title: `OIDC federation of \`${entry.spiffeId}\` lets in more than one workload`,
          evidence: [
            `attestation[${i}]: issuer \`${rule.issuer}\`, audience \`${rule.audience}\`, claims ${names.map((n) => `${n}=${values(claims[n]!).join('|')}`).join(', ')}`,
            ...problems.map((p) => p.text),
          ],
          fix: `pin \`sub\` to exactly one repository and branch or environment (for GitHub: \`repo:<owner>/<repo>:ref:refs/heads/main\` or \`repo:<owner>/<repo>:environment:production\`), without wildcards`,
          data: { issuer: rule.issuer, audience: rule.audience, claims: { ...claims } },
        }),
      );
    });
  }
  return out;
}
