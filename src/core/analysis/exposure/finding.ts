/**
 * A finding: one thing about the estate a security team should act on, with
 * the evidence that shows it, a concrete fix, and where it sits in the OWASP
 * Non-Human Identities Top 10 (2025), the NIST SP 800-207 tenets and NIST CSF
 * 2.0 (mappings.ts). Wire format: schemas/finding.v1.json.
 */
import { sha256Hex } from '../../sha256.js';
import { FINDING_CATALOGUE, type CsfId, type FindingType, type OwaspNhiId, type Tenet } from './mappings.js';

export type Severity = 'critical' | 'high' | 'medium' | 'low';
/** Most severe first. */
export const SEVERITIES: readonly Severity[] = ['critical', 'high', 'medium', 'low'];
/** The position of a severity in {@link SEVERITIES}, as `indexOf` gives it, without a search. */
function severityRank(severity: string): number {
  switch (severity) {
    case 'critical':
      return 0;
    case 'high':
      return 1;
    case 'medium':
      return 2;
    case 'low':
      return 3;
    default:
      return -1;
  }
}

export interface FindingSubject {
  kind: 'identity' | 'credential' | 'secret' | 'grant' | 'rule';
  /** A SPIFFE ID, credential id, secret id, grant id or rule id. */
  id: string;
  /** The SPIFFE ID the credential, secret or grant belongs to. */
  identity?: string;
}

export interface FindingMappings {
  owasp: readonly OwaspNhiId[];
  nist80207: readonly Tenet[];
  csf: readonly CsfId[];
}

export interface Finding {
  /** Stable across runs for the same type and subject (`nhf_` and 12 hex digits): suppress or track by it. */
  id: string;
  type: FindingType;
  severity: Severity;
  subject: FindingSubject;
  /** One line, in the project's message voice. */
  title: string;
  /** What was seen, one fact per line. */
  evidence: readonly string[];
  /** What to change, concretely. */
  fix: string;
  mappings: FindingMappings;
  /** The same evidence as values, for machines. */
  data?: Readonly<Record<string, unknown>>;
}

/** The stable id of a finding of `type` about `subject`. */
export function findingId(type: FindingType, subject: FindingSubject): string {
  const text = `${type}\u0000${subject.kind}\u0000${subject.id}\u0000${subject.identity ?? ''}`;
  return `nhf_${sha256Hex(text).slice(0, 12)}`;
}

export interface FindingInput {
  severity: Severity;
  subject: FindingSubject;
  title: string;
  evidence: readonly string[];
  fix: string;
  data?: Record<string, unknown>;
}

/** A finding of `type`, with its id and the catalogue's mappings filled in. */
export function makeFinding(type: FindingType, input: FindingInput): Finding {
  const entry = FINDING_CATALOGUE[type];
  const finding: Finding = {
    id: findingId(type, input.subject),
    type,
    severity: input.severity,
    subject: input.subject,
    title: input.title,
    evidence: input.evidence,
    fix: input.fix,
    mappings: { owasp: entry.owasp, nist80207: entry.nist80207, csf: entry.csf },
  };
  if (input.data) finding.data = input.data;
  return finding;
}

/** Most severe first, then by type and subject: the order every output uses. */
export function compareFindings(a: Finding, b: Finding): number {
  // A lookup, not SEVERITIES.indexOf: an audit sorts a hundred thousand findings and more.
  const s = severityRank(a.severity) - severityRank(b.severity);
  if (s) return s;
  if (a.type !== b.type) return a.type < b.type ? -1 : 1;
  if (a.subject.id !== b.subject.id) return a.subject.id < b.subject.id ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}
