/**
 * Trust-domain keys as the store keeps them. A key is published in the bundle
 * while `next` (before it signs), signs while `active`, and stays published
 * while `retired` until the last credential it signed has expired.
 */

export type KeyUse = 'jwt-svid' | 'x509-svid';
export type SigningAlgorithm = 'ES256' | 'ES384' | 'RS256' | 'PS256';
export type KeyState = 'next' | 'active' | 'retired';

export interface StoredSigningKey {
  kid: string;
  use: KeyUse;
  alg: SigningAlgorithm;
  state: KeyState;
  /** Public key as a JWK (no private members). */
  publicJwk: Readonly<Record<string, unknown>>;
  /**
   * PKCS#8 private key: PEM in the clear, or an `enc:v1:` envelope when the
   * store is protected by a passphrase (see key-protection.ts).
   */
  privateKey: string;
  /** For `x509-svid` keys: the CA certificate, PEM. */
  certificatePem?: string;
  createdAt: string;
  activatedAt?: string;
  retiredAt?: string;
  /** Latest expiry of anything this key signed; it stays published until then. */
  signedUntil?: string;
}
