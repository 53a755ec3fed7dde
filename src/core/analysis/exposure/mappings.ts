/**
 * The finding catalogue: every finding type with the OWASP Non-Human
 * Identities Top 10 (2025) risks, the NIST SP 800-207 §2.1 tenets and the
 * NIST CSF 2.0 subcategories it maps to. docs/exposure.md prints this table.
 */

export type OwaspNhiId =
  'NHI1' | 'NHI2' | 'NHI3' | 'NHI4' | 'NHI5' | 'NHI6' | 'NHI7' | 'NHI8' | 'NHI9' | 'NHI10';

/** OWASP Top 10 Non-Human Identities Risks – 2025. */
export const OWASP_NHI: Readonly<Record<OwaspNhiId, string>> = {
  NHI1: 'Improper Offboarding',
  NHI2: 'Secret Leakage',
  NHI3: 'Vulnerable Third-Party NHI',
  NHI4: 'Insecure Authentication',
  NHI5: 'Overprivileged NHI',
  NHI6: 'Insecure Cloud Deployment Configurations',
  NHI7: 'Long-Lived Secrets',
  NHI8: 'Environment Isolation',
  NHI9: 'NHI Reuse',
  NHI10: 'Human Use of NHI',
};

export type Tenet = 1 | 2 | 3 | 4 | 5 | 6 | 7;

/** NIST SP 800-207 §2.1, the tenets of zero trust. */
export const NIST_800_207_TENETS: Readonly<Record<Tenet, string>> = {
  1: 'All data sources and computing services are considered resources',
  2: 'All communication is secured regardless of network location',
  3: 'Access to individual enterprise resources is granted on a per-session basis',
  4: 'Access to resources is determined by dynamic policy',
  5: 'The enterprise monitors and measures the integrity and security posture of all owned and associated assets',
  6: 'All resource authentication and authorization are dynamic and strictly enforced before access is allowed',
  7: 'The enterprise collects as much information as possible about the current state of assets, network infrastructure and communications and uses it to improve its security posture',
};

export type CsfId =
  'PR.AA-01' | 'PR.AA-02' | 'PR.AA-03' | 'PR.AA-04' | 'PR.AA-05' | 'PR.IR-01' | 'DE.CM-01' | 'DE.CM-03';

/** NIST Cybersecurity Framework 2.0 subcategories. */
export const NIST_CSF: Readonly<Record<CsfId, string>> = {
  'PR.AA-01':
    'Identities and credentials for authorized users, services, and hardware are managed by the organization',
  'PR.AA-02': 'Identities are proofed and bound to credentials based on the context of interactions',
  'PR.AA-03': 'Users, services, and hardware are authenticated',
  'PR.AA-04': 'Identity assertions are protected, conveyed, and verified',
  'PR.AA-05':
    'Access permissions, entitlements, and authorizations are defined in a policy, managed, enforced, and reviewed, and incorporate the principles of least privilege and separation of duties',
  'PR.IR-01': 'Networks and environments are protected from unauthorized logical access and usage',
  'DE.CM-01': 'Networks and network services are monitored to find potentially adverse events',
  'DE.CM-03': 'Personnel activity and technology usage are monitored to find potentially adverse events',
};

export type FindingType =
  | 'stale_identity'
  | 'never_rotated_secret'
  | 'long_lived_secret'
  | 'long_lived_credential'
  | 'static_key_authentication'
  | 'missing_owner'
  | 'unregistered_identity'
  | 'cross_environment_use'
  | 'identity_reuse'
  | 'third_party_broad_access'
  | 'human_use'
  | 'loose_oidc_federation'
  | 'over_privileged'
  | 'offboarded_live_credentials'
  | 'offboarded_still_used'
  | 'offboarded_still_reachable'
  | 'denied_cross_zone'
  | 'permission_blocked_by_zone'
  | 'microsegment_blocked_by_zone'
  | 'estate_wide_reach';

/** Where a finding comes from: the file of src/core/analysis/exposure/ that raises it. */
export type FindingFamily =
  | 'stale'
  | 'secrets'
  | 'ownership'
  | 'sharing'
  | 'third-party'
  | 'human-use'
  | 'federation'
  | 'over-privilege'
  | 'offboarding'
  | 'cross-zone'
  | 'risk-checks';

export interface CatalogueEntry {
  family: FindingFamily;
  /** What the finding means, one sentence. */
  summary: string;
  owasp: readonly OwaspNhiId[];
  nist80207: readonly Tenet[];
  csf: readonly CsfId[];
}

export const FINDING_CATALOGUE: Readonly<Record<FindingType, CatalogueEntry>> = {
  stale_identity: {
    family: 'stale',
    summary: 'an active identity unused for longer than the stale threshold',
    owasp: ['NHI1'],
    nist80207: [6, 7],
    csf: ['PR.AA-01', 'DE.CM-03'],
  },
  never_rotated_secret: {
    family: 'secrets',
    summary: 'a static secret never rotated since it was created, older than the rotation threshold',
    owasp: ['NHI7', 'NHI2'],
    nist80207: [3, 6],
    csf: ['PR.AA-01'],
  },
  long_lived_secret: {
    family: 'secrets',
    summary: 'a static secret last rotated longer ago than the threshold, or without an expiry',
    owasp: ['NHI7'],
    nist80207: [3, 6],
    csf: ['PR.AA-01'],
  },
  long_lived_credential: {
    family: 'secrets',
    summary: 'an issued SVID whose lifetime exceeds the credential lifetime threshold',
    owasp: ['NHI7'],
    nist80207: [3, 6],
    csf: ['PR.AA-01', 'PR.AA-04'],
  },
  static_key_authentication: {
    family: 'secrets',
    summary: 'an identity that authenticates with a static API key instead of a short-lived SVID',
    owasp: ['NHI4', 'NHI7'],
    nist80207: [6],
    csf: ['PR.AA-03'],
  },
  missing_owner: {
    family: 'ownership',
    summary: 'an identity nobody owns: nobody to review, rotate or offboard it',
    owasp: ['NHI1'],
    nist80207: [7],
    csf: ['PR.AA-01'],
  },
  unregistered_identity: {
    family: 'ownership',
    summary: 'an identity of the trust domain allowed in the decision log but absent from the inventory',
    owasp: ['NHI1'],
    nist80207: [1, 7],
    csf: ['PR.AA-01', 'DE.CM-03'],
  },
  cross_environment_use: {
    family: 'sharing',
    summary: 'one identity used from zones of different environments (production and development, say)',
    owasp: ['NHI8'],
    nist80207: [4, 6],
    csf: ['PR.IR-01', 'PR.AA-05'],
  },
  identity_reuse: {
    family: 'sharing',
    summary: 'one identity used by several workloads or from many source addresses',
    owasp: ['NHI9'],
    nist80207: [3, 6],
    csf: ['PR.AA-02', 'DE.CM-03'],
  },
  third_party_broad_access: {
    family: 'third-party',
    summary: 'a third-party app with broad grants: many services, every action, inherited or long JIT grants',
    owasp: ['NHI3', 'NHI5'],
    nist80207: [3, 4],
    csf: ['PR.AA-05'],
  },
  human_use: {
    family: 'human-use',
    summary:
      'an identity whose traffic looks like a person at work: interactive clients, office-hour bursts, exploration',
    owasp: ['NHI10'],
    nist80207: [4, 7],
    csf: ['DE.CM-03', 'PR.AA-02'],
  },
  loose_oidc_federation: {
    family: 'federation',
    summary: 'OIDC federation whose claim conditions let more workloads in than intended',
    owasp: ['NHI6'],
    nist80207: [6],
    csf: ['PR.AA-02', 'PR.AA-04'],
  },
  over_privileged: {
    family: 'over-privilege',
    summary:
      'an identity granted permissions it never exercised or services it never contacted in the log window',
    owasp: ['NHI5'],
    nist80207: [3],
    csf: ['PR.AA-05'],
  },
  offboarded_live_credentials: {
    family: 'offboarding',
    summary: 'a disabled or offboarded identity that still holds live credentials, secrets or grants',
    owasp: ['NHI1'],
    nist80207: [6],
    csf: ['PR.AA-01', 'PR.AA-05'],
  },
  offboarded_still_used: {
    family: 'offboarding',
    summary: 'a disabled or offboarded identity allowed in the decision log after its status changed',
    owasp: ['NHI1'],
    nist80207: [6, 7],
    csf: ['PR.AA-01', 'DE.CM-03'],
  },
  offboarded_still_reachable: {
    family: 'offboarding',
    summary: 'a disabled or offboarded identity the policy still lets reach services',
    owasp: ['NHI1'],
    nist80207: [3],
    csf: ['PR.AA-05'],
  },
  denied_cross_zone: {
    family: 'cross-zone',
    summary: 'an identity denied at the zone layer while trying to cross into another zone',
    owasp: ['NHI8'],
    nist80207: [2, 7],
    csf: ['DE.CM-01', 'PR.IR-01'],
  },
  permission_blocked_by_zone: {
    family: 'risk-checks',
    summary: 'a permission the zone layer always blocks: it can never take effect',
    owasp: [],
    nist80207: [4],
    csf: ['PR.AA-05', 'PR.IR-01'],
  },
  microsegment_blocked_by_zone: {
    family: 'risk-checks',
    summary: 'a flow rule (microsegment) a zone rule makes pointless: zone segmentation blocks all it allows',
    owasp: [],
    nist80207: [4],
    csf: ['PR.IR-01'],
  },
  estate_wide_reach: {
    family: 'risk-checks',
    summary: 'rules that let one identity reach most of the estate',
    owasp: ['NHI5'],
    nist80207: [3],
    csf: ['PR.AA-05', 'PR.IR-01'],
  },
};

/** Every finding type, in catalogue order. */
export const FINDING_TYPES: readonly FindingType[] = Object.keys(FINDING_CATALOGUE) as FindingType[];
