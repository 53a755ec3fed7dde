/**
 * JWT-SVIDs (SPIFFE JWT-SVID standard): issuing them with a trust domain's
 * `jwt-svid` key, and verifying them against SPIFFE bundles.
 */
import { createPublicKey, randomUUID, type JsonWebKey, type KeyObject } from 'node:crypto';
import { CompactSign, compactVerify, errors as joseErrors } from 'jose';
import { GatehouseError } from '../errors.js';
import type { Clock } from '../ports.js';
import { bundleFor, jwtAuthority, type BundleJwk, type SpiffeBundle, type SpiffeBundles } from './bundle.js';
import { decodeCompactJws, shown } from './compact-jws.js';
import { mixedControlPlaneAudience } from './control-plane-audience.js';
import { epochMs, isoOf, type Instant } from './instant.js';
import { RevocationSet } from './revocation-set.js';
import type { StoredSigningKey } from './signing-key.js';
import { loadPrivateKey, publicJwkMembers } from './signing-keys.js';
import { parseSpiffeId } from './spiffe-id.js';

/** JWT-SVID §2.1: the only algorithms a JWT-SVID may use (RFC 7518 §3.3–3.5). */
export const JWT_SVID_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'ES256',
  'ES384',
  'ES512',
  'PS256',
  'PS384',
  'PS512',
] as const;
export type JwtSvidAlgorithm = (typeof JWT_SVID_ALGORITHMS)[number];

/** Tokens longer than this are refused before any parsing. */
export const MAX_JWT_SVID_BYTES = 8 * 1024;
export const DEFAULT_JWT_SVID_TTL_SECONDS = 300;
export const DEFAULT_CLOCK_SKEW_SECONDS = 30;

// JWT-SVID §2: no header beyond alg, kid and typ may be present.
const ALLOWED_HEADERS = new Set(['alg', 'kid', 'typ']);
// The claims issueJwtSvid sets itself; extra claims may not replace them.
const REGISTERED_CLAIMS = new Set(['sub', 'aud', 'exp', 'iat', 'nbf', 'jti']);
// JWT-SVID §2.1 with RFC 7518: the curve each ECDSA algorithm is defined on.
const EC_CURVE: Readonly<Record<string, string>> = { ES256: 'P-256', ES384: 'P-384', ES512: 'P-521' };
const MIN_RSA_BITS = 2048;

/** Claims of a verified JWT-SVID. Only `sub`, `aud` and `exp` are guaranteed (JWT-SVID §3). */
export interface JwtSvidClaims {
  sub: string;
  aud: string | string[];
  exp: number;
  iat?: number;
  nbf?: number;
  jti?: string;
  [claim: string]: unknown;
}

/** Claims of a JWT-SVID this module issued: every registered claim is set. */
export interface IssuedJwtSvidClaims extends JwtSvidClaims {
  aud: string[];
  iat: number;
  jti: string;
}

/**
 * A revocation check run on every verification: a callback on the claims, or
 * a {@link RevocationSet}, which is asked about `jti` (credential
 * revocations) and `sub` issued at `iat` (identity revocations). Entry and
 * grant revocations need a callback that knows the token's entry or grant.
 */
export type RevocationCheck = ((claims: JwtSvidClaims) => boolean) | RevocationSet;

export interface IssueJwtSvidOptions {
  spiffeId: string;
  /** JWT-SVID §3.2: one or more audiences; one is strongly recommended (§7.2). */
  audience: readonly string[];
  /** Whole seconds; defaults to 300. */
  ttlSeconds?: number;
  /** An active `jwt-svid` key. */
  key: StoredSigningKey;
  /** Opens the key when it is stored sealed. */
  passphrase?: string;
  now: Instant;
  /** Token id; a random UUID when omitted. */
  jti?: string;
  /** Private claims to add; they may not replace `sub`, `aud`, `exp`, `iat`, `nbf` or `jti`. */
  extraClaims?: Readonly<Record<string, unknown>>;
}

export interface IssuedJwtSvid {
  token: string;
  claims: IssuedJwtSvidClaims;
  /** RFC 3339 form of `exp`. */
  expiresAt: string;
}

/**
 * Issues a JWT-SVID: header `{ alg, kid, typ: 'JWT' }` with the key's
 * algorithm, claims `sub`, `aud` (always a list), `iat`, `exp` = `iat` +
 * `ttlSeconds` and a unique `jti`, signed with the key's private half.
 * @throws GatehouseError `spiffe_id_invalid` (bad `spiffeId`),
 *   `request_invalid` (empty audience, bad TTL, clashing extra claims, a
 *   token over 8 KiB), `key_invalid` (not an active jwt-svid key), and the
 *   errors of {@link loadPrivateKey}
 */
export async function issueJwtSvid(options: IssueJwtSvidOptions): Promise<IssuedJwtSvid> {
  const { key, audience, ttlSeconds = DEFAULT_JWT_SVID_TTL_SECONDS } = options;
  const sub = parseSpiffeId(options.spiffeId).toString();
  // JWT-SVID §3.2: aud MUST be present with one or more values.
  if (
    !Array.isArray(audience) ||
    audience.length === 0 ||
    audience.some((a) => typeof a !== 'string' || a.length === 0)
  ) {
    throw new GatehouseError(
      'request_invalid',
      'JWT-SVID audience is required: one or more non-empty strings',
    );
  }
  // JWT-SVID §3.3: exp MUST be set; the lifetime is kept short and whole.
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1) {
    throw new GatehouseError('request_invalid', 'JWT-SVID ttlSeconds must be a positive whole number');
  }
  if (key.use !== 'jwt-svid') {
    throw new GatehouseError(
      'key_invalid',
      `key \`${key.kid}\` is a ${key.use} key: JWT-SVIDs need a jwt-svid key`,
    );
  }
  // INVARIANT: only the active key signs; a next key is not yet known to every verifier.
  if (key.state !== 'active') {
    throw new GatehouseError('key_invalid', `key \`${key.kid}\` is ${key.state}: only the active key signs`);
  }
  if (options.jti !== undefined && (typeof options.jti !== 'string' || options.jti === '')) {
    throw new GatehouseError('request_invalid', 'JWT-SVID jti must be a non-empty string');
  }
  for (const name of Object.keys(options.extraClaims ?? {})) {
    if (REGISTERED_CLAIMS.has(name)) {
      throw new GatehouseError(
        'request_invalid',
        `extra claim \`${name}\` would replace a claim the issuer sets`,
      );
    }
  }
  const iat = Math.floor(epochMs(options.now) / 1000);
  const claims: IssuedJwtSvidClaims = {
    ...options.extraClaims,
    sub,
    aud: [...audience],
    iat,
    exp: iat + ttlSeconds,
    jti: options.jti ?? randomUUID(),
  };
  const privateKey = loadPrivateKey(key, options.passphrase);
  const token = await new CompactSign(new TextEncoder().encode(JSON.stringify(claims)))
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT' })
    .sign(privateKey);
  if (token.length > MAX_JWT_SVID_BYTES) {
    throw new GatehouseError('request_invalid', `JWT-SVID would be larger than ${MAX_JWT_SVID_BYTES} bytes`);
  }
  return { token, claims, expiresAt: isoOf(claims.exp * 1000) };
}

export interface VerifyJwtSvidOptions {
  /** The audience this verifier identifies with; JWT-SVID §3.2: it must be among `aud`. */
  audience: string;
  /**
   * The current time as epoch milliseconds or a Date. When omitted the
   * system clock is read; the control plane always passes its Clock's time.
   */
  now?: Instant;
  /** Leeway for `exp` and `nbf`; defaults to 30 seconds. */
  clockSkewSeconds?: number;
  /** Run after everything else passed; a revoked token fails with `svid_revoked`. */
  isRevoked?: RevocationCheck;
}

export interface VerifiedJwtSvid {
  spiffeId: string;
  claims: JwtSvidClaims;
}

function reject(code: ConstructorParameters<typeof GatehouseError>[0], message: string): never {
  throw new GatehouseError(code, message);
}

// Public keys imported from bundle entries, by entry: bundles are immutable,
// so an entry's key never changes.
const importedKeys = new WeakMap<BundleJwk, KeyObject>();

function importBundleKey(jwk: BundleJwk, kid: string): KeyObject {
  let key = importedKeys.get(jwk);
  if (!key) {
    try {
      key = createPublicKey({
        key: publicJwkMembers(jwk as unknown as Record<string, unknown>) as JsonWebKey,
        format: 'jwk',
      });
    } catch {
      return reject(
        'svid_unknown_key',
        `JWT-SVID key \`${shown(kid)}\` in the bundle is not a usable public key`,
      );
    }
    importedKeys.set(jwk, key);
  }
  return key;
}

/** Why the bundle key cannot verify `alg`, or undefined when it can. */
function algorithmMismatch(alg: JwtSvidAlgorithm, jwk: BundleJwk, key: KeyObject): string | undefined {
  const curve = EC_CURVE[alg];
  if (curve) return jwk.kty === 'EC' && jwk.crv === curve ? undefined : `${alg} needs an EC key on ${curve}`;
  if (jwk.kty !== 'RSA') return `${alg} needs an RSA key`;
  if ((key.asymmetricKeyDetails?.modulusLength ?? 0) < MIN_RSA_BITS)
    return `${alg} needs an RSA key of at least ${MIN_RSA_BITS} bits`;
  return undefined;
}

function isRevokedBy(check: RevocationCheck, claims: JwtSvidClaims): boolean {
  if (check instanceof RevocationSet) {
    return check.isRevoked({
      ...(typeof claims.jti === 'string' ? { id: claims.jti } : {}),
      spiffeId: claims.sub,
      ...(typeof claims.iat === 'number' ? { issuedAt: claims.iat * 1000 } : {}),
    });
  }
  return check(claims);
}

function checkRevocation(check: RevocationCheck | undefined, claims: JwtSvidClaims): void {
  if (check && isRevokedBy(check, claims)) {
    const what = typeof claims.jti === 'string' ? `\`${shown(claims.jti)}\`` : `of \`${shown(claims.sub)}\``;
    reject('svid_revoked', `JWT-SVID ${what} is revoked`);
  }
}

function nowMs(now: Instant | undefined): number {
  // The one read of the system clock in the identity core, for library callers that pass no time.
  return now === undefined ? new Date().getTime() : epochMs(now);
}

/**
 * Verifies a JWT-SVID against the bundle of the trust domain of its `sub`.
 * Checks, in order, each failing with its own code:
 * 1. size: over 8 KiB → `svid_oversized`, before any parsing;
 * 2. compact JWS shape, base64url, JSON header and payload → `svid_malformed`;
 *    a header other than `alg`, `kid`, `typ` (JWT-SVID §2) or a `typ` other
 *    than `JWT`/`JOSE` (§2.3) → `svid_malformed`;
 * 3. `alg` in the JWT-SVID §2.1 list (never `none`, never HMAC) → `svid_bad_algorithm`;
 *    then a non-empty signature → `svid_malformed`;
 * 4. `kid` present → `svid_unknown_key` (Gatehouse requires it to pick the key);
 * 5. `sub` present → `svid_missing_claim`, a SPIFFE ID → `svid_malformed`;
 * 6. a bundle for its trust domain → `svid_foreign_trust_domain`;
 * 7. a `jwt-svid` key with that `kid` in it → `svid_unknown_key`, fitting
 *    `alg` → `svid_bad_algorithm`;
 * 8. signature → `svid_bad_signature`;
 * 9. `aud` and `exp` present (§3.2, §3.3) → `svid_missing_claim`, well typed → `svid_malformed`;
 * 10. `exp` and `nbf` with the skew → `svid_expired`, `svid_not_yet_valid`;
 * 11. `audience` among `aud` → `svid_bad_audience`; so is an `aud` that holds
 *     the control plane of the trust domain of `sub`
 *     (`spiffe://<trust domain>/gatehouse`) beside any other audience, for
 *     every `audience` (see control-plane-audience.ts);
 * 12. revocation → `svid_revoked`.
 *
 * `now` is epoch milliseconds or a Date; when omitted the system clock is read.
 */
export async function verifyJwtSvid(
  token: string,
  bundles: SpiffeBundles,
  options: VerifyJwtSvidOptions,
): Promise<VerifiedJwtSvid> {
  const skew = options.clockSkewSeconds ?? DEFAULT_CLOCK_SKEW_SECONDS;
  if (!Number.isFinite(skew) || skew < 0) {
    throw new GatehouseError('request_invalid', 'clockSkewSeconds must be a non-negative number');
  }
  if (typeof options.audience !== 'string' || options.audience === '') {
    throw new GatehouseError('request_invalid', 'the expected audience must be a non-empty string');
  }
  const now = nowMs(options.now);
  if (typeof token !== 'string') reject('svid_malformed', 'malformed JWT-SVID: not a string');
  // Refuse oversized input before spending anything on it.
  if (token.length > MAX_JWT_SVID_BYTES) {
    reject('svid_oversized', `JWT-SVID is larger than ${MAX_JWT_SVID_BYTES} bytes`);
  }
  const decoded = decodeCompactJws(token);
  if (!decoded.ok) reject('svid_malformed', `malformed JWT-SVID: ${decoded.why}`);
  const { header, payload } = decoded;

  for (const name of Object.keys(header)) {
    if (!ALLOWED_HEADERS.has(name)) {
      reject('svid_malformed', `malformed JWT-SVID: header \`${shown(name)}\` is not allowed (JWT-SVID §2)`);
    }
  }
  // JWT-SVID §2.3: typ is optional; when set it is JWT or JOSE.
  if (header.typ !== undefined && header.typ !== 'JWT' && header.typ !== 'JOSE') {
    reject('svid_malformed', `malformed JWT-SVID: typ \`${shown(header.typ)}\` must be JWT or JOSE`);
  }
  // JWT-SVID §2.1 and §4: the alg is checked before anything else is processed.
  const alg = header.alg;
  if (typeof alg !== 'string' || !(JWT_SVID_ALGORITHMS as readonly string[]).includes(alg)) {
    reject(
      'svid_bad_algorithm',
      `JWT-SVID algorithm \`${shown(alg)}\` is not allowed: use one of ${JWT_SVID_ALGORITHMS.join(', ')}`,
    );
  }
  if (!decoded.signed) reject('svid_malformed', 'malformed JWT-SVID: the signature is empty');
  const kid = header.kid;
  if (typeof kid !== 'string' || kid === '') {
    reject('svid_unknown_key', 'JWT-SVID has no `kid`: a key id is required to pick the signing key');
  }

  // JWT-SVID §3.1: sub is the SPIFFE ID; Bundle §3: its trust domain picks the bundle.
  if (payload.sub === undefined) reject('svid_missing_claim', 'JWT-SVID has no `sub` claim');
  if (typeof payload.sub !== 'string') reject('svid_malformed', 'malformed JWT-SVID: `sub` is not a string');
  let trustDomain: string;
  try {
    trustDomain = parseSpiffeId(payload.sub).trustDomain;
  } catch (err) {
    return reject(
      'svid_malformed',
      `malformed JWT-SVID: \`sub\` is not a SPIFFE ID: ${(err as Error).message}`,
    );
  }
  const bundle = bundleFor(bundles, trustDomain);
  if (!bundle) {
    reject('svid_foreign_trust_domain', `JWT-SVID trust domain \`${trustDomain}\` has no bundle here`);
  }
  const jwk = jwtAuthority(bundle, kid);
  if (!jwk)
    reject('svid_unknown_key', `JWT-SVID key \`${shown(kid)}\` is not in the bundle of \`${trustDomain}\``);
  const key = importBundleKey(jwk, kid);
  const mismatch = algorithmMismatch(alg as JwtSvidAlgorithm, jwk, key);
  if (mismatch)
    reject('svid_bad_algorithm', `JWT-SVID algorithm does not fit key \`${shown(kid)}\`: ${mismatch}`);

  try {
    await compactVerify(token, key, { algorithms: [alg] });
  } catch (err) {
    if (err instanceof joseErrors.JWSSignatureVerificationFailed) {
      reject('svid_bad_signature', `JWT-SVID signature does not verify with key \`${shown(kid)}\``);
    }
    if (err instanceof joseErrors.JWSInvalid) reject('svid_malformed', 'malformed JWT-SVID: not a valid JWS');
    reject('svid_bad_algorithm', `JWT-SVID cannot be verified with key \`${shown(kid)}\` using ${alg}`);
  }

  const claims = checkClaims(payload, options.audience, trustDomain, now, skew);
  checkRevocation(options.isRevoked, claims);
  return { spiffeId: claims.sub, claims };
}

function isNumericDate(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

function checkClaims(
  payload: Record<string, unknown>,
  audience: string,
  trustDomain: string,
  now: number,
  skew: number,
): JwtSvidClaims {
  const { aud, exp, nbf, iat, jti } = payload;
  // JWT-SVID §3.2: aud MUST be present with at least one value.
  if (aud === undefined || (Array.isArray(aud) && aud.length === 0)) {
    reject('svid_missing_claim', 'JWT-SVID has no `aud` claim');
  }
  const audiences = Array.isArray(aud) ? aud : [aud];
  if (!audiences.every((a) => typeof a === 'string')) {
    reject('svid_malformed', 'malformed JWT-SVID: `aud` must be a string or a list of strings');
  }
  // JWT-SVID §3.3: exp MUST be set.
  if (exp === undefined) reject('svid_missing_claim', 'JWT-SVID has no `exp` claim');
  if (!isNumericDate(exp)) reject('svid_malformed', 'malformed JWT-SVID: `exp` is not a number');
  if (nbf !== undefined && !isNumericDate(nbf))
    reject('svid_malformed', 'malformed JWT-SVID: `nbf` is not a number');
  if (iat !== undefined && !isNumericDate(iat))
    reject('svid_malformed', 'malformed JWT-SVID: `iat` is not a number');
  if (jti !== undefined && typeof jti !== 'string')
    reject('svid_malformed', 'malformed JWT-SVID: `jti` is not a string');
  // RFC 7519 §4.1.4: the current time MUST be before exp (plus leeway).
  if (now >= (exp + skew) * 1000) {
    reject('svid_expired', `JWT-SVID expired at ${isoOf(exp * 1000)}`);
  }
  // RFC 7519 §4.1.5: not accepted before nbf (minus leeway).
  if (nbf !== undefined && now < (nbf - skew) * 1000) {
    reject('svid_not_yet_valid', `JWT-SVID is not valid before ${isoOf(nbf * 1000)}`);
  }
  // JWT-SVID §3.2: reject unless the verifier's audience is an aud element.
  if (!audiences.includes(audience)) {
    reject(
      'svid_bad_audience',
      `JWT-SVID audience \`${shown(audiences.join(', '))}\` does not include \`${shown(audience)}\``,
    );
  }
  // INVARIANT: the control plane's audience goes alone. Refused wherever it is presented: at a
  // service, such a token (issued before issuance refused it) is one the control plane would
  // take as the workload; at the control plane, one that services have seen.
  const controlPlane = mixedControlPlaneAudience(audiences, trustDomain);
  if (controlPlane !== undefined) {
    reject(
      'svid_bad_audience',
      `JWT-SVID audience \`${shown(audiences.join(', '))}\` mixes the control plane \`${controlPlane}\` with other audiences: a control-plane JWT-SVID is not for services`,
    );
  }
  return payload as JwtSvidClaims;
}

export interface JwtSvidVerifierOptions {
  /** The bundles, or a function returning the current ones (called on every verification). */
  bundles: SpiffeBundles | (() => SpiffeBundles);
  clock: Clock;
  /** Leeway for `exp` and `nbf`; defaults to 30 seconds. */
  clockSkewSeconds?: number;
  /** Run on every call, cache hits included. */
  isRevoked?: RevocationCheck;
  /** Cached verifications kept at most; the oldest is evicted first. Defaults to 10 000. */
  maxEntries?: number;
}

interface CachedVerification {
  result: VerifiedJwtSvid;
  trustDomain: string;
  /** The bundle object it was verified with; another object means the keys may have changed. */
  bundle: SpiffeBundle;
  /** First instant (ms) at which a full verification would reject it as expired. */
  rejectAt: number;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as object)) deepFreeze(v);
  }
  return value;
}

/**
 * {@link verifyJwtSvid} with a cache for the per-request path. A successful
 * verification is cached by token and audience until the token's `exp` (plus
 * skew); failures are never cached. On a cache hit:
 * - the revocation check runs again, so a revocation applies at once;
 * - the bundle of the token's trust domain must be the very object it was
 *   verified with — replacing a bundle (or calling {@link setBundles})
 *   invalidates what was verified against the old one.
 *
 * Results are frozen: callers share them.
 */
export class JwtSvidVerifier {
  private bundleSource: SpiffeBundles | (() => SpiffeBundles);
  private readonly clock: Clock;
  private readonly skew: number;
  private readonly revocationCheck: RevocationCheck | undefined;
  private readonly maxEntries: number;
  private readonly cache = new Map<string, CachedVerification>();

  constructor(options: JwtSvidVerifierOptions) {
    this.bundleSource = options.bundles;
    this.clock = options.clock;
    this.skew = options.clockSkewSeconds ?? DEFAULT_CLOCK_SKEW_SECONDS;
    this.revocationCheck = options.isRevoked;
    this.maxEntries = options.maxEntries ?? 10_000;
    if (!Number.isFinite(this.skew) || this.skew < 0) {
      throw new GatehouseError('request_invalid', 'clockSkewSeconds must be a non-negative number');
    }
    if (!Number.isInteger(this.maxEntries) || this.maxEntries < 0) {
      throw new GatehouseError('request_invalid', 'maxEntries must be a non-negative whole number');
    }
  }

  /** Cached verifications held now. */
  get size(): number {
    return this.cache.size;
  }

  /** Replaces the bundles and drops every cached verification. */
  setBundles(bundles: SpiffeBundles | (() => SpiffeBundles)): void {
    this.bundleSource = bundles;
    this.cache.clear();
  }

  /** Drops every cached verification. */
  clear(): void {
    this.cache.clear();
  }

  /**
   * Verifies as {@link verifyJwtSvid} does at the clock's current time.
   * @throws GatehouseError `svid_*`
   */
  async verify(token: string, options: { audience: string }): Promise<VerifiedJwtSvid> {
    const now = this.clock.now();
    const bundles = typeof this.bundleSource === 'function' ? this.bundleSource() : this.bundleSource;
    const cacheKey = `${options.audience}\n${token}`;
    const hit = this.cache.get(cacheKey);
    if (hit) {
      if (now < hit.rejectAt && bundleFor(bundles, hit.trustDomain) === hit.bundle) {
        checkRevocation(this.revocationCheck, hit.result.claims);
        return hit.result;
      }
      this.cache.delete(cacheKey);
    }
    const result = deepFreeze(
      await verifyJwtSvid(token, bundles, {
        audience: options.audience,
        now,
        clockSkewSeconds: this.skew,
        ...(this.revocationCheck ? { isRevoked: this.revocationCheck } : {}),
      }),
    );
    if (this.maxEntries > 0) {
      const trustDomain = parseSpiffeId(result.spiffeId).trustDomain;
      if (this.cache.size >= this.maxEntries) this.cache.delete(this.cache.keys().next().value as string);
      this.cache.set(cacheKey, {
        result,
        trustDomain,
        bundle: bundleFor(bundles, trustDomain)!,
        rejectAt: (result.claims.exp + this.skew) * 1000,
      });
    }
    return result;
  }
}
