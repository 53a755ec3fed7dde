/**
 * What the control plane remembers about every credential it issued, and the
 * revocations that take credentials back.
 */

export type IssuedCredentialType = 'jwt-svid' | 'x509-svid';

export interface IssuedCredential {
  /** `jti` of a JWT-SVID or the hex serial number of an X.509-SVID. */
  id: string;
  type: IssuedCredentialType;
  spiffeId: string;
  entryId: string;
  /** Key id of the signing key (JWT) or CA key (X.509) that signed it. */
  kid: string;
  /** JWT-SVID audiences. */
  audience?: readonly string[];
  /** Set when the credential belongs to a JIT grant. */
  grantId?: string;
  /** How it was obtained: `join-token`, `oidc`, `renewal`, `admin`. */
  via: string;
  issuedAt: string;
  expiresAt: string;
}

export type RevocationTarget = 'credential' | 'identity' | 'entry' | 'grant';

/**
 * A revocation. `credential` takes back one credential (jti or serial);
 * `identity` every credential of a SPIFFE ID issued before `revokedAt`;
 * `entry` every credential issued for an entry before `revokedAt`; `grant`
 * every credential of a JIT grant.
 */
export interface Revocation {
  target: RevocationTarget;
  /** The credential id, SPIFFE ID, entry id or grant id. */
  value: string;
  revokedAt: string;
  reason?: string;
  /** After this instant nothing the revocation covers can still be valid; it may then be pruned. */
  expiresAt?: string;
}
