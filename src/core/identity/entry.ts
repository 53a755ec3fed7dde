/**
 * Registration entries: the inventory of non-human identities. An entry says
 * which SPIFFE ID a workload may hold, who owns it, how it proves itself
 * (attestation) and how long its credentials live.
 */

export type EntryKind = 'service' | 'job' | 'ci-pipeline' | 'agent' | 'third-party-app' | 'api-key';
export const ENTRY_KINDS: readonly EntryKind[] = [
  'service',
  'job',
  'ci-pipeline',
  'agent',
  'third-party-app',
  'api-key',
];

/** `disabled` can be re-enabled; `offboarded` is final. Neither may obtain credentials. */
export type EntryStatus = 'active' | 'disabled' | 'offboarded';
export const ENTRY_STATUSES: readonly EntryStatus[] = ['active', 'disabled', 'offboarded'];

/**
 * A claim condition of OIDC federation: the verified claim must equal the
 * value, or one of the values when a list is given. `*` inside a value is a
 * glob over any characters except `/` (for example `refs/heads/*`).
 */
export type ClaimCondition = string | readonly string[];

/** How a workload may prove it is this entry. */
export type AttestationRule =
  | { type: 'join-token' }
  | {
      type: 'oidc';
      /** Issuer URL, matched exactly against `iss`; the issuer must be registered. */
      issuer: string;
      /** Required audience of the presented token. */
      audience: string;
      /** Every claim listed must match (AND); at least one is required. */
      claims: Readonly<Record<string, ClaimCondition>>;
    };

/** A static secret registered for inventory only: Gatehouse keeps its hash, never the secret. */
export interface StaticSecret {
  /** Key id or name shown to people, never the secret. */
  id: string;
  /** `sha256:<hex>` of the secret. */
  hash: string;
  createdAt: string;
  /** Last rotation; absent when never rotated. */
  rotatedAt?: string;
  expiresAt?: string;
  lastUsedAt?: string;
}

export interface RegistrationEntry {
  /** Stable opaque id (`ent_...`). */
  id: string;
  spiffeId: string;
  kind: EntryKind;
  owner?: string;
  description?: string;
  labels: Readonly<Record<string, string>>;
  /** The zone the workload runs in, when known. */
  zone?: string;
  /** IP addresses or CIDRs the workload sends from; maps observed flows to it. */
  addresses?: readonly string[];
  attestation: readonly AttestationRule[];
  /** Per-entry TTL overrides, in seconds; capped by the server's maximum. */
  jwtSvidTtlSeconds?: number;
  x509SvidTtlSeconds?: number;
  /** RFC 3339; the entry issues nothing after this instant. */
  expiresAt?: string;
  status: EntryStatus;
  /**
   * SPIFFE IDs whose credentials this workload holds (a CI runner holding a
   * deploy key, say); used to follow lateral movement in blast-radius analysis.
   */
  holdsCredentialsOf?: readonly string[];
  staticSecrets?: readonly StaticSecret[];
  createdAt: string;
  updatedAt: string;
  lastSeenAt?: string;
}
