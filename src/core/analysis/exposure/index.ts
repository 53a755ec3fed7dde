export { Audit, runAudit, AUDIT_REPORT_KIND } from './audit.js';
export type { AuditOptions, AuditReport } from './audit.js';
export { DEFAULT_THRESHOLDS } from './audit-context.js';
export type { AuditThresholds } from './audit-context.js';
export { ActivityCollector, collectActivity, emptyWindowProblem } from './activity.js';
export type { ObservedRecord, IdentityActivity, ActivityOptions } from './activity.js';
export { Estate, buildEstate } from './estate.js';
export type { EstateIdentity, EstateOptions, Lifetime, LiveCredential } from './estate.js';
export { compareFindings, findingId, makeFinding, SEVERITIES } from './finding.js';
export type { Finding, FindingMappings, FindingSubject, Severity } from './finding.js';
export { FINDING_CATALOGUE, FINDING_TYPES, NIST_800_207_TENETS, NIST_CSF, OWASP_NHI } from './mappings.js';
export type { CsfId, FindingFamily, FindingType, OwaspNhiId, Tenet } from './mappings.js';
export { Reachability, reachVerdict, actionsCover } from './reachability.js';
export type {
  IdentityReach,
  PermissionTerm,
  PointVerdict,
  ReachSubject,
  ServiceReach,
  ZoneVerdict,
} from './reachability.js';
export { grantedVsUsed, identityPrivileges, proposeTightenedPolicy } from './granted-vs-used.js';
export type {
  IdentityPrivileges,
  PolicyChange,
  PrivilegeReport,
  TightenedPolicy,
} from './granted-vs-used.js';
export { policyToDocument } from './policy-document.js';
export { blastRadius, resolveBlastTarget, actionText } from './blast-radius.js';
export type {
  BlastPath,
  BlastRadius,
  BlastRadiusOptions,
  BlastStart,
  CompromisedIdentity,
  GraphEdge,
  GraphNode,
} from './blast-radius.js';
export { blastRadiusDot } from './blast-radius-dot.js';
export { policyRiskChecks } from './risk-checks.js';
export { renderAuditHtml, escapeHtml } from './report-html.js';
export { formatPorts } from './port-set.js';
