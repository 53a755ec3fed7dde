/**
 * OIDC federation: verifying a token from a registered external issuer (a CI
 * system, a cloud provider) and matching its claims against the conditions
 * of a registration entry.
 */
import { compactVerify, createLocalJWKSet, errors as joseErrors, type JSONWebKeySet } from 'jose';
import { GatehouseError } from '../errors.js';
import type { OidcIssuer } from './attestation-records.js';
import { decodeCompactJws, shown } from './compact-jws.js';
import type { ClaimCondition } from './entry.js';
import { epochMs, isoOf, type Instant } from './instant.js';

/** Verified claims of an OIDC token. */
export type OidcClaims = Record<string, unknown>;

/** Asymmetric JWS algorithms (RFC 7518 §3.3–3.5, RFC 8037 §3.1); never `none`, never HMAC. */
export const OIDC_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
] as const;

/** OIDC tokens longer than this are refused before any parsing. */
export const MAX_OIDC_TOKEN_BYTES = 16 * 1024;
export const DEFAULT_OIDC_CLOCK_SKEW_SECONDS = 30;

export interface VerifyOidcTokenOptions {
  /** The audience the entry requires; it must be among `aud`. */
  audience: string;
  /** Epoch milliseconds or a Date. */
  now: Instant;
  /** Overrides the issuer's `clockSkewSeconds`; both default to 30 seconds. */
  clockSkewSeconds?: number;
  /** The issuer's key set when it is not inline (fetched from `jwksUri` by the edge). */
  jwks?: OidcIssuer['jwks'];
}

function fail(issuer: string, why: string): never {
  throw new GatehouseError('attestation_failed', `OIDC token from \`${shown(issuer)}\` rejected: ${why}`);
}

// Key sets prepared by jose, by the key set object they came from.
const keySets = new WeakMap<object, ReturnType<typeof createLocalJWKSet>>();

function keySetFor(jwks: NonNullable<OidcIssuer['jwks']>): ReturnType<typeof createLocalJWKSet> {
  let set = keySets.get(jwks);
  if (!set) {
    set = createLocalJWKSet(jwks as unknown as JSONWebKeySet);
    keySets.set(jwks, set);
  }
  return set;
}

function isNumericDate(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

/**
 * Verifies a token from a registered OIDC issuer and returns its claims:
 * - at most 16 KiB, a compact JWS with JSON header and payload;
 * - `alg` asymmetric ({@link OIDC_ALGORITHMS}); the key is chosen from the
 *   issuer's key set by `kid` and algorithm (a key whose `use` is not `sig`
 *   never verifies);
 * - `iss` exactly the registered issuer; the signature verifies;
 * - `aud` (a string or a list) contains `options.audience`;
 * - `exp` and `iat` are present; `exp` not past, `nbf` and `iat` not in the
 *   future, each with the skew.
 * @throws GatehouseError `attestation_failed` saying why
 */
export async function verifyOidcToken(
  token: string,
  issuer: Pick<OidcIssuer, 'issuer' | 'jwks' | 'clockSkewSeconds'>,
  options: VerifyOidcTokenOptions,
): Promise<OidcClaims> {
  const name = issuer.issuer;
  const now = epochMs(options.now);
  const skew = options.clockSkewSeconds ?? issuer.clockSkewSeconds ?? DEFAULT_OIDC_CLOCK_SKEW_SECONDS;
  if (!Number.isFinite(skew) || skew < 0) {
    throw new GatehouseError('request_invalid', 'clockSkewSeconds must be a non-negative number');
  }
  if (typeof token !== 'string' || token.length === 0) fail(name, 'no token');
  if (token.length > MAX_OIDC_TOKEN_BYTES) fail(name, `larger than ${MAX_OIDC_TOKEN_BYTES} bytes`);
  const decoded = decodeCompactJws(token);
  if (!decoded.ok) fail(name, `malformed: ${decoded.why}`);
  const { header, payload } = decoded;
  const alg = header.alg;
  if (typeof alg !== 'string' || !(OIDC_ALGORITHMS as readonly string[]).includes(alg)) {
    fail(name, `algorithm \`${shown(alg)}\` is not allowed: asymmetric algorithms only`);
  }
  if (!decoded.signed) fail(name, 'malformed: the signature is empty');
  // OIDC Core §3.1.3.7 (2): iss MUST exactly match the issuer.
  if (payload.iss !== name) fail(name, `issuer \`${shown(payload.iss)}\` is not the registered one`);
  const jwks = options.jwks ?? issuer.jwks;
  if (!jwks || !Array.isArray(jwks.keys)) fail(name, 'the issuer has no key set');

  try {
    await compactVerify(token, keySetFor(jwks), { algorithms: [...OIDC_ALGORITHMS] });
  } catch (err) {
    if (err instanceof joseErrors.JWSSignatureVerificationFailed) fail(name, 'signature does not verify');
    if (err instanceof joseErrors.JWKSNoMatchingKey) {
      fail(name, `no key of the issuer matches kid \`${shown(header.kid ?? '')}\` and ${alg}`);
    }
    if (err instanceof joseErrors.JWKSInvalid) fail(name, 'the issuer key set is invalid');
    fail(name, 'signature cannot be verified');
  }

  const { aud, exp, nbf, iat } = payload;
  const audiences = Array.isArray(aud) ? aud : aud === undefined ? [] : [aud];
  if (audiences.length === 0) fail(name, 'no `aud` claim');
  // OIDC Core §3.1.3.7 (3): the audience MUST contain this relying party.
  if (!audiences.includes(options.audience)) {
    fail(name, `audience \`${shown(audiences.join(', '))}\` does not include \`${shown(options.audience)}\``);
  }
  if (!isNumericDate(exp)) fail(name, exp === undefined ? 'no `exp` claim' : '`exp` is not a number');
  if (!isNumericDate(iat)) fail(name, iat === undefined ? 'no `iat` claim' : '`iat` is not a number');
  if (nbf !== undefined && !isNumericDate(nbf)) fail(name, '`nbf` is not a number');
  // RFC 7519 §4.1.4, §4.1.5 with leeway; a token issued in the future is refused too.
  if (now >= (exp + skew) * 1000) fail(name, `expired at ${isoOf(exp * 1000)}`);
  if (nbf !== undefined && now < (nbf - skew) * 1000) fail(name, `not valid before ${isoOf(nbf * 1000)}`);
  if (now < (iat - skew) * 1000) fail(name, `issued in the future, at ${isoOf(iat * 1000)}`);
  return payload;
}

export interface ClaimMatch {
  matched: boolean;
  /** One line per unmet condition, in the order the conditions are listed. */
  mismatches: string[];
}

/**
 * True when `value` matches `pattern`, where `*` stands for any run of
 * characters other than `/` and everything else is literal. Runs in time
 * linear in the pattern times the value, whatever the pattern.
 */
export function matchClaimGlob(pattern: string, value: string): boolean {
  // `*` never crosses `/`, so the slashes of pattern and value pair up one to one.
  const patternParts = pattern.split('/');
  const valueParts = value.split('/');
  if (patternParts.length !== valueParts.length) return false;
  return patternParts.every((p, i) => matchSegment(p, valueParts[i]!));
}

/** Wildcard match within one segment, with backtracking to the last `*` only. */
function matchSegment(pattern: string, value: string): boolean {
  let p = 0;
  let v = 0;
  let star = -1;
  let resume = 0;
  while (v < value.length) {
    if (p < pattern.length && pattern[p] === '*') {
      star = p++;
      resume = v;
    } else if (p < pattern.length && pattern[p] === value[v]) {
      p++;
      v++;
    } else if (star !== -1) {
      p = star + 1;
      v = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern[p] === '*') p++;
  return p === pattern.length;
}

/** The claim as text for matching, or why it cannot match. */
function claimText(value: unknown): { text: string } | { why: string } {
  if (typeof value === 'string') return { text: value };
  // Booleans and numbers compare by their JSON form (`true`, `42`).
  if (typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value))) {
    return { text: JSON.stringify(value) };
  }
  if (Array.isArray(value)) return { why: 'is a list: only strings, numbers and booleans can match' };
  if (value === null) return { why: 'is null' };
  return { why: 'is an object: only strings, numbers and booleans can match' };
}

/**
 * Matches verified claims against an entry's claim conditions (see
 * {@link ClaimCondition}): every listed claim must match (AND); a claim
 * matches a string condition, or any value of a list condition; `*` is a
 * glob that does not cross `/`. Missing claims, lists, objects and null
 * never match. Conditions with no claims never match: federation without
 * conditions would admit every token of the issuer.
 */
export function matchClaimConditions(
  claims: Readonly<Record<string, unknown>>,
  conditions: Readonly<Record<string, ClaimCondition>>,
): ClaimMatch {
  const names = Object.keys(conditions);
  if (names.length === 0) {
    return { matched: false, mismatches: ['no claim conditions: an entry without conditions never matches'] };
  }
  const mismatches: string[] = [];
  for (const name of names) {
    const condition = conditions[name]!;
    const wanted: readonly string[] = typeof condition === 'string' ? [condition] : condition;
    const want =
      wanted.length === 1
        ? `\`${shown(wanted[0])}\``
        : `one of ${wanted.map((w) => `\`${shown(w)}\``).join(', ')}`;
    if (!Object.prototype.hasOwnProperty.call(claims, name) || claims[name] === undefined) {
      mismatches.push(`claim \`${shown(name)}\` is missing: want ${want}`);
      continue;
    }
    const text = claimText(claims[name]);
    if ('why' in text) {
      mismatches.push(`claim \`${shown(name)}\` ${text.why}`);
      continue;
    }
    if (!wanted.some((w) => matchClaimGlob(w, text.text))) {
      mismatches.push(`claim \`${shown(name)}\` is \`${shown(text.text)}\`: want ${want}`);
    }
  }
  return { matched: mismatches.length === 0, mismatches };
}
