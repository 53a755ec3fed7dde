/**
 * SPIFFE bundles (SPIFFE Trust Domain and Bundle §4): the JWK Set that
 * carries a trust domain's public keys, one entry per X.509-SVID CA
 * certificate and per JWT-SVID signing key.
 */
import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { GatehouseError } from '../errors.js';
import { certificateMatchesJwk, parseCertificate } from './certificates.js';
import type { KeyUse, StoredSigningKey } from './signing-key.js';
import { publicJwkMembers } from './signing-keys.js';
import { trustDomainProblem } from './spiffe-id.js';
import { x509 } from './x509-library.js';

/** One key of a bundle, with public members only. */
export interface BundleJwk {
  kty: string;
  /** Bundle §4.2.2: which SVID type the key is authoritative for. */
  use: KeyUse;
  /** JWT-SVID §6.1: set on every `jwt-svid` key; X.509-SVID §6.1: never on `x509-svid` keys. */
  kid?: string;
  /** X.509-SVID §6.1: exactly one base64 DER CA certificate. */
  x5c?: string[];
  crv?: string;
  x?: string;
  y?: string;
  n?: string;
  e?: string;
}

export interface SpiffeBundle {
  keys: BundleJwk[];
  /** Bundle §4.1.1: increases whenever the content changes. */
  spiffe_sequence?: number;
  /** Bundle §4.1.2: suggested refresh interval in seconds. */
  spiffe_refresh_hint?: number;
}

/**
 * Bundles by trust domain name. Bundle §3: a validator picks the bundle of
 * the trust domain the SVID resides in, so the name travels with the bundle.
 * Bundles are treated as immutable: replace the object to change one.
 */
export type SpiffeBundles = Readonly<Record<string, SpiffeBundle>> | ReadonlyMap<string, SpiffeBundle>;

export interface BuildBundleOptions {
  sequence: number;
  refreshHintSeconds: number;
}

// Bundle §4.2.1 and RFC 7517 §4.1: the key types this implementation reads;
// others are ignored as the bundle standard requires.
const KNOWN_KTY = new Set(['EC', 'RSA']);
const KNOWN_USES = new Set<string>(['jwt-svid', 'x509-svid']);
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];
const KNOWN_CURVES = new Set(['P-256', 'P-384', 'P-521']);
const MIN_RSA_BITS = 2048;

/**
 * Builds the bundle of a trust domain from its stored keys, in every state
 * (`next` keys are published before they sign, `retired` ones until what
 * they signed has expired). `x509-svid` keys contribute their CA certificate
 * in `x5c` and no `kid` (X.509-SVID §6.1); `jwt-svid` keys their `kid`
 * (JWT-SVID §6.1). Only public members are copied. Keys are ordered by use,
 * then creation time, then kid, so equal inputs give equal output.
 * @throws GatehouseError `key_invalid` when an `x509-svid` key has no CA
 *   certificate or its certificate does not certify the key
 */
export function buildBundle(keys: readonly StoredSigningKey[], options: BuildBundleOptions): SpiffeBundle {
  if (!Number.isSafeInteger(options.sequence) || options.sequence < 0) {
    throw new GatehouseError('bundle_invalid', 'bundle sequence must be a non-negative integer');
  }
  if (!Number.isSafeInteger(options.refreshHintSeconds) || options.refreshHintSeconds < 0) {
    throw new GatehouseError(
      'bundle_invalid',
      'bundle refresh hint must be a non-negative whole number of seconds',
    );
  }
  const sorted = [...keys].sort(
    (a, b) =>
      a.use.localeCompare(b.use) ||
      a.createdAt.localeCompare(b.createdAt) ||
      (a.kid < b.kid ? -1 : a.kid > b.kid ? 1 : 0),
  );
  const entries: BundleJwk[] = [];
  for (const key of sorted) {
    const material = publicJwkMembers(key.publicJwk);
    if (key.use === 'jwt-svid') {
      entries.push({ ...material, use: 'jwt-svid', kid: key.kid } as BundleJwk);
      continue;
    }
    if (!key.certificatePem) {
      throw new GatehouseError(
        'key_invalid',
        `x509-svid key \`${key.kid}\` has no CA certificate to publish`,
      );
    }
    let cert: x509.X509Certificate;
    try {
      cert = parseCertificate(key.certificatePem);
    } catch {
      throw new GatehouseError('key_invalid', `CA certificate of \`${key.kid}\` is not a PEM certificate`);
    }
    if (!certificateMatchesJwk(cert, key.publicJwk)) {
      throw new GatehouseError('key_invalid', `CA certificate of \`${key.kid}\` does not certify its key`);
    }
    entries.push({
      ...material,
      use: 'x509-svid',
      x5c: [Buffer.from(cert.rawData).toString('base64')],
    } as BundleJwk);
  }
  return {
    keys: entries,
    spiffe_sequence: options.sequence,
    spiffe_refresh_hint: options.refreshHintSeconds,
  };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/**
 * Parses and validates a SPIFFE bundle (JSON text or an already parsed
 * value). Returns the bundle with only the entries this implementation uses,
 * each reduced to its public members.
 *
 * Ignored, as the standards require: entries with an unknown `use` (Bundle
 * §4.2.2) or unknown `kty` (§4.2.1), and `x509-svid` entries without `x5c`
 * (X.509-SVID §6.2). Rejected: a missing `keys` (§4.1.3), an entry without
 * `kty` or `use`, private key members, a `jwt-svid` entry without `kid` or
 * with a duplicate one (JWT-SVID §6.1), an `x509-svid` entry with a `kid`
 * (X.509-SVID §6.1) or whose first certificate is not a CA (§3.2), key
 * material that does not import, RSA under 2048 bits, and a sequence or
 * refresh hint that is not a non-negative integer (§4.1.1, §4.1.2).
 * Unknown top-level members are allowed (§4.1).
 * @param trustDomain the trust domain the bundle is for, named in errors
 * @throws GatehouseError `bundle_invalid` naming where (`path`) and why
 */
export function parseBundle(json: unknown, trustDomain?: string): SpiffeBundle {
  const of = trustDomain === undefined ? '' : ` of \`${trustDomain}\``;
  const fail = (path: string, why: string): never => {
    throw new GatehouseError(
      'bundle_invalid',
      `invalid SPIFFE bundle${of}: ${path ? `${path}: ` : ''}${why}`,
      {
        ...(path ? { path } : {}),
      },
    );
  };
  if (trustDomain !== undefined) {
    const why = trustDomainProblem(trustDomain);
    if (why) fail('', `trust domain \`${trustDomain}\` is invalid: ${why}`);
  }
  let value = json;
  if (typeof json === 'string') {
    try {
      value = JSON.parse(json) as unknown;
    } catch {
      fail('', 'not JSON');
    }
  }
  if (!isObject(value)) return fail('', 'must be a JSON object (a JWK Set)');
  const bundle: SpiffeBundle = { keys: [] };
  if (value.spiffe_sequence !== undefined) {
    const s = value.spiffe_sequence;
    if (typeof s !== 'number' || !Number.isSafeInteger(s) || s < 0) {
      fail('spiffe_sequence', 'must be a non-negative integer');
    }
    bundle.spiffe_sequence = s as number;
  }
  if (value.spiffe_refresh_hint !== undefined) {
    const h = value.spiffe_refresh_hint;
    if (typeof h !== 'number' || !Number.isSafeInteger(h) || h < 0) {
      fail('spiffe_refresh_hint', 'must be a non-negative whole number of seconds');
    }
    bundle.spiffe_refresh_hint = h as number;
  }
  // Bundle §4.1.3: `keys` MUST be present.
  if (!Array.isArray(value.keys)) fail('keys', 'required: a list of JWKs');
  const kids = new Set<string>();
  (value.keys as unknown[]).forEach((entry, i) => {
    const at = `keys[${i}]`;
    if (!isObject(entry)) return fail(at, 'must be a JWK object');
    // Bundle §4.2.1 and §4.2.2: kty and use MUST be set.
    if (typeof entry.kty !== 'string' || entry.kty === '') return fail(`${at}.kty`, 'required');
    if (typeof entry.use !== 'string' || entry.use === '') return fail(`${at}.use`, 'required');
    // Bundle §4.2.1, §4.2.2: unknown key types and uses are ignored, not errors.
    if (!KNOWN_USES.has(entry.use) || !KNOWN_KTY.has(entry.kty)) return;
    for (const member of PRIVATE_MEMBERS) {
      if (entry[member] !== undefined) fail(`${at}.${member}`, 'private key members must not be published');
    }
    const use = entry.use as KeyUse;
    const material = keyMaterial(entry, at, fail);
    if (use === 'jwt-svid') {
      // JWT-SVID §6.1: the kid of every jwt-svid entry MUST be set.
      if (typeof entry.kid !== 'string' || entry.kid === '')
        return fail(`${at}.kid`, 'required on jwt-svid keys');
      if (kids.has(entry.kid)) return fail(`${at}.kid`, `duplicate kid \`${entry.kid}\``);
      kids.add(entry.kid);
      if (!material) return fail(at, 'jwt-svid keys need their public key members');
      bundle.keys.push({ kty: entry.kty, use, kid: entry.kid, ...material });
      return;
    }
    // X.509-SVID §6.1: kid MUST NOT be set on x509-svid entries.
    if (entry.kid !== undefined) return fail(`${at}.kid`, 'must not be set on x509-svid keys');
    // X.509-SVID §6.2: an entry without x5c, or with an empty one, is ignored.
    if (entry.x5c === undefined || (Array.isArray(entry.x5c) && entry.x5c.length === 0)) return;
    if (!Array.isArray(entry.x5c) || !entry.x5c.every((c) => typeof c === 'string')) {
      return fail(`${at}.x5c`, 'must be a list of base64 DER certificates');
    }
    // X.509-SVID §6.2: the first certificate is the CA; any others are ignored.
    const first = entry.x5c[0] as string;
    let cert: x509.X509Certificate;
    try {
      if (!/^[A-Za-z0-9+/]+={0,2}$/.test(first)) throw new Error('not base64');
      cert = parseCertificate(Buffer.from(first, 'base64'));
    } catch {
      return fail(`${at}.x5c[0]`, 'not a base64 DER certificate');
    }
    const constraints = cert.getExtension(x509.BasicConstraintsExtension);
    if (!constraints?.ca) return fail(`${at}.x5c[0]`, 'not a CA certificate (X.509-SVID §3.2 needs cA true)');
    if (material && !certificateMatchesJwk(cert, material)) {
      return fail(at, 'key members do not match the certificate in x5c');
    }
    bundle.keys.push({ kty: entry.kty, use, ...(material ?? {}), x5c: [first] });
  });
  return bundle;
}

function keyMaterial(
  entry: Record<string, unknown>,
  at: string,
  fail: (path: string, why: string) => never,
): Record<string, string> | undefined {
  const names = entry.kty === 'EC' ? ['crv', 'x', 'y'] : ['n', 'e'];
  const present = names.filter((n) => entry[n] !== undefined);
  if (present.length === 0) return undefined;
  for (const n of names) {
    if (typeof entry[n] !== 'string' || entry[n] === '') fail(`${at}.${n}`, 'required: a base64url string');
  }
  if (entry.kty === 'EC' && !KNOWN_CURVES.has(entry.crv as string)) {
    fail(`${at}.crv`, 'must be P-256, P-384 or P-521');
  }
  const material = publicJwkMembers(entry);
  let key: KeyObject;
  try {
    key = createPublicKey({ key: material as JsonWebKey, format: 'jwk' });
  } catch {
    return fail(at, 'key members do not form a valid public key');
  }
  if (entry.kty === 'RSA' && (key.asymmetricKeyDetails?.modulusLength ?? 0) < MIN_RSA_BITS) {
    fail(`${at}.n`, `RSA keys need at least ${MIN_RSA_BITS} bits`);
  }
  return material;
}

/** The bundle of `trustDomain`, whichever form the bundles come in. */
export function bundleFor(bundles: SpiffeBundles, trustDomain: string): SpiffeBundle | undefined {
  if (bundles instanceof Map) return bundles.get(trustDomain);
  const record = bundles as Readonly<Record<string, SpiffeBundle>>;
  return Object.prototype.hasOwnProperty.call(record, trustDomain) ? record[trustDomain] : undefined;
}

/** The `jwt-svid` entry with this kid, if the bundle has one. */
export function jwtAuthority(bundle: SpiffeBundle, kid: string): BundleJwk | undefined {
  return bundle.keys.find((k) => k.use === 'jwt-svid' && k.kid === kid);
}

/** X.509-SVID §6.2: the CA certificates (DER) of the bundle's `x509-svid` entries. */
export function x509Authorities(bundle: SpiffeBundle): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const k of bundle.keys) {
    const first = k.use === 'x509-svid' ? k.x5c?.[0] : undefined;
    if (first) out.push(Buffer.from(first, 'base64'));
  }
  return out;
}
