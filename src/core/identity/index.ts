export {
  parseSpiffeId,
  tryParseSpiffeId,
  spiffeIdEquals,
  trustDomainProblem,
  pathProblem,
} from './spiffe-id.js';
export type { SpiffeId } from './spiffe-id.js';
export type { Instant } from './instant.js';
export {
  KEY_ENVELOPE_PREFIX,
  DEFAULT_SCRYPT_COST,
  isProtectedPrivateKey,
  protectPrivateKey,
  unprotectPrivateKey,
} from './key-protection.js';
export type { ScryptCost } from './key-protection.js';
export {
  SIGNING_ALGORITHMS,
  isSigningAlgorithm,
  generateSigningKey,
  loadPrivateKey,
  loadPrivateCryptoKey,
  publicKeyOf,
  jwkThumbprint,
  activeSigningKey,
} from './signing-keys.js';
export type { GenerateSigningKeyOptions } from './signing-keys.js';
export { createTrustDomainCa, DEFAULT_CA_VALIDITY_SECONDS, CA_BACKDATE_SECONDS } from './trust-domain-ca.js';
export type { CreateTrustDomainCaOptions } from './trust-domain-ca.js';
export {
  issueX509Svid,
  verifyX509Svid,
  DEFAULT_X509_SVID_TTL_SECONDS,
  X509_SVID_BACKDATE_SECONDS,
} from './x509-svid.js';
export type {
  IssueX509SvidOptions,
  IssuedX509Svid,
  VerifyX509SvidOptions,
  VerifiedX509Svid,
} from './x509-svid.js';
export {
  issueJwtSvid,
  verifyJwtSvid,
  JwtSvidVerifier,
  JWT_SVID_ALGORITHMS,
  MAX_JWT_SVID_BYTES,
  DEFAULT_JWT_SVID_TTL_SECONDS,
  DEFAULT_CLOCK_SKEW_SECONDS,
} from './jwt-svid.js';
export type {
  JwtSvidAlgorithm,
  JwtSvidClaims,
  IssuedJwtSvidClaims,
  IssueJwtSvidOptions,
  IssuedJwtSvid,
  VerifyJwtSvidOptions,
  VerifiedJwtSvid,
  JwtSvidVerifierOptions,
  RevocationCheck,
} from './jwt-svid.js';
export { buildBundle, parseBundle, bundleFor, jwtAuthority, x509Authorities } from './bundle.js';
export type { BundleJwk, SpiffeBundle, SpiffeBundles, BuildBundleOptions } from './bundle.js';
export {
  verifyOidcToken,
  matchClaimConditions,
  matchClaimGlob,
  OIDC_ALGORITHMS,
  MAX_OIDC_TOKEN_BYTES,
} from './oidc-token.js';
export type { OidcClaims, VerifyOidcTokenOptions, ClaimMatch } from './oidc-token.js';
export { planKeyRotation } from './key-rotation.js';
export type { RotationAction, KeyRotationOptions } from './key-rotation.js';
export { RevocationSet } from './revocation-set.js';
export type { RevocableCredential } from './revocation-set.js';
