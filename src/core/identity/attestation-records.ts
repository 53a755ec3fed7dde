/**
 * Stored records behind attestation: join tokens and trusted OIDC issuers.
 */

/** A single-use join token. Only its hash is stored; the token is shown once. */
export interface JoinToken {
  /** `sha256:<hex>` of the token text. */
  hash: string;
  entryId: string;
  createdAt: string;
  expiresAt: string;
  usedAt?: string;
}

/** An external OIDC issuer trusted for federation, by its JWKS. */
export interface OidcIssuer {
  /** Exactly the `iss` claim of its tokens. */
  issuer: string;
  /** A JWK Set given inline (from a file)... */
  jwks?: Readonly<{ keys: readonly Record<string, unknown>[] }>;
  /** ...or fetched from this URL by the edge and cached. */
  jwksUri?: string;
  /** Accepted clock skew in seconds for this issuer's `exp`/`nbf`/`iat`. */
  clockSkewSeconds?: number;
  createdAt: string;
}

/** An admin credential of the control plane itself. Only the hash is stored. */
export interface AdminCredential {
  id: string;
  /** `sha256:<hex>` of the bearer secret. */
  hash: string;
  createdAt: string;
  lastUsedAt?: string;
}
