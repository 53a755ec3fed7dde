/**
 * Trust-domain signing keys: generating them as the store keeps them, and
 * loading their private halves for signing.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  webcrypto,
  type JsonWebKey,
  type KeyObject,
} from 'node:crypto';
import { GatehouseError } from '../errors.js';
import { epochMs, isoOf, type Instant } from './instant.js';
import { protectPrivateKey, unprotectPrivateKey } from './key-protection.js';
import type { KeyUse, SigningAlgorithm, StoredSigningKey } from './signing-key.js';

export const SIGNING_ALGORITHMS: readonly SigningAlgorithm[] = ['ES256', 'ES384', 'RS256', 'PS256'];
const KEY_USES: readonly KeyUse[] = ['jwt-svid', 'x509-svid'];
// RFC 7518 §3.3 and §3.5: RSA keys of at least 2048 bits.
const MIN_RSA_BITS = 2048;
const KID = /^[A-Za-z0-9._:-]{1,128}$/;

export interface GenerateSigningKeyOptions {
  use: KeyUse;
  /** Defaults to ES256 (ECDSA on P-256). */
  alg?: SigningAlgorithm;
  /** Defaults to the RFC 7638 JWK thumbprint of the public key. */
  kid?: string;
  /** Creation time (`createdAt`). */
  now: Instant;
  /** When given, the private key is stored sealed (see key-protection.ts). */
  passphrase?: string;
  /** RSA modulus size for RS256/PS256; at least 2048 (the default). */
  rsaModulusLength?: number;
}

/** True when `alg` is one of {@link SIGNING_ALGORITHMS}. */
export function isSigningAlgorithm(alg: unknown): alg is SigningAlgorithm {
  return SIGNING_ALGORITHMS.includes(alg as SigningAlgorithm);
}

/** The public members of an EC or RSA JWK, in RFC 7638 order; private members never pass. */
export function publicJwkMembers(jwk: Readonly<Record<string, unknown>>): Record<string, string> {
  if (jwk.kty === 'EC') return { crv: String(jwk.crv), kty: 'EC', x: String(jwk.x), y: String(jwk.y) };
  if (jwk.kty === 'RSA') return { e: String(jwk.e), kty: 'RSA', n: String(jwk.n) };
  throw new GatehouseError('key_invalid', `unsupported key type \`${String(jwk.kty)}\`: expected EC or RSA`);
}

/** RFC 7638 JWK thumbprint (SHA-256, base64url) of an EC or RSA public key. */
export function jwkThumbprint(jwk: Readonly<Record<string, unknown>>): string {
  // RFC 7638 §3.2: the required members in lexicographic order, no whitespace.
  return createHash('sha256')
    .update(JSON.stringify(publicJwkMembers(jwk)))
    .digest('base64url');
}

/**
 * Generates a key pair for `use` and returns it as the store keeps it, in
 * state `next` (published, not yet signing). Key generation is synchronous:
 * a few milliseconds for ECDSA, tens to hundreds for RSA.
 * @throws GatehouseError `key_invalid` for an unknown use or algorithm, a
 *   bad kid or an RSA modulus under 2048 bits
 */
export function generateSigningKey(options: GenerateSigningKeyOptions): StoredSigningKey {
  const { use, alg = 'ES256' } = options;
  if (!KEY_USES.includes(use)) throw new GatehouseError('key_invalid', `unknown key use \`${String(use)}\``);
  if (!isSigningAlgorithm(alg)) {
    throw new GatehouseError(
      'key_invalid',
      `unsupported signing algorithm \`${String(alg)}\`: use one of ${SIGNING_ALGORITHMS.join(', ')}`,
    );
  }
  if (options.kid !== undefined && !KID.test(options.kid)) {
    throw new GatehouseError(
      'key_invalid',
      'invalid kid: use 1 to 128 of A-Z, a-z, 0-9, `.`, `_`, `:` and `-`',
    );
  }
  const createdAt = isoOf(epochMs(options.now));
  const { privateKey } = newKeyPair(alg, options.rsaModulusLength);
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const publicJwk = publicJwkMembers(
    createPublicKey(privateKey).export({ format: 'jwk' }) as Record<string, unknown>,
  );
  return {
    kid: options.kid ?? jwkThumbprint(publicJwk),
    use,
    alg,
    state: 'next',
    publicJwk,
    privateKey: options.passphrase ? protectPrivateKey(pem, options.passphrase) : pem,
    createdAt,
  };
}

function newKeyPair(alg: SigningAlgorithm, rsaBits = MIN_RSA_BITS): { privateKey: KeyObject } {
  switch (alg) {
    case 'ES256':
      return generateKeyPairSync('ec', { namedCurve: 'P-256' });
    case 'ES384':
      return generateKeyPairSync('ec', { namedCurve: 'P-384' });
    case 'RS256':
    case 'PS256':
      if (!Number.isInteger(rsaBits) || rsaBits < MIN_RSA_BITS || rsaBits % 8 !== 0) {
        throw new GatehouseError('key_invalid', `RSA keys need a modulus of at least ${MIN_RSA_BITS} bits`);
      }
      // Plain rsaEncryption keys (not id-RSASSA-PSS) so that PS256 keys export
      // as JWKs and import into Web Crypto for certificate signing alike.
      return generateKeyPairSync('rsa', { modulusLength: rsaBits });
  }
}

/**
 * Why `key` (a private or public KeyObject) cannot serve `alg`, or undefined
 * when it can: ES256 needs P-256, ES384 P-384, RS256 and PS256 an RSA key of
 * at least 2048 bits.
 */
export function keyAlgorithmProblem(key: KeyObject, alg: SigningAlgorithm): string | undefined {
  const type = key.asymmetricKeyType;
  const details = key.asymmetricKeyDetails ?? {};
  if (alg === 'ES256' || alg === 'ES384') {
    const curve = alg === 'ES256' ? 'prime256v1' : 'secp384r1';
    if (type !== 'ec' || details.namedCurve !== curve)
      return `${alg} needs an ECDSA key on ${alg === 'ES256' ? 'P-256' : 'P-384'}`;
    return undefined;
  }
  if (type !== 'rsa') return `${alg} needs an RSA key`;
  if ((details.modulusLength ?? 0) < MIN_RSA_BITS)
    return `${alg} needs an RSA key of at least ${MIN_RSA_BITS} bits`;
  return undefined;
}

/** The public key of a stored key, from its JWK. @throws GatehouseError `key_invalid` */
export function publicKeyOf(key: StoredSigningKey): KeyObject {
  try {
    return createPublicKey({ key: publicJwkMembers(key.publicJwk) as JsonWebKey, format: 'jwk' });
  } catch (err) {
    if (err instanceof GatehouseError) throw err;
    throw new GatehouseError('key_invalid', `public key of \`${key.kid}\` is not a valid JWK`);
  }
}

// Loaded private keys, by the stored text (a fresh salt makes every envelope
// unique) and a digest of the passphrase: opening an envelope costs a scrypt
// run, and key records are copied whenever their state or `signedUntil` moves.
const LOADED_MAX = 64;
const loaded = new Map<string, KeyObject>();

function cacheKey(key: StoredSigningKey, passphrase: string | undefined): string {
  const digest = passphrase ? createHash('sha256').update(passphrase, 'utf8').digest('base64url') : '';
  return `${key.alg}\u0000${digest}\u0000${key.privateKey}`;
}

/**
 * The private key of a stored key, opened with `passphrase` when sealed, and
 * checked against the stored public key and algorithm. Loaded keys are kept
 * in a small in-memory cache.
 * @throws GatehouseError `key_passphrase_required`, `key_passphrase_wrong`,
 *   `key_invalid` (not PKCS#8, wrong type for `alg`, or not the pair of `publicJwk`)
 */
export function loadPrivateKey(key: StoredSigningKey, passphrase?: string): KeyObject {
  const id = cacheKey(key, passphrase);
  const hit = loaded.get(id);
  if (hit) return hit;
  const pem = unprotectPrivateKey(key.privateKey, passphrase);
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: pem, format: 'pem' });
  } catch {
    throw new GatehouseError('key_invalid', `private key of \`${key.kid}\` is not a PKCS#8 key`);
  }
  const why = keyAlgorithmProblem(privateKey, key.alg);
  if (why)
    throw new GatehouseError(
      'key_invalid',
      `private key of \`${key.kid}\` does not fit its algorithm: ${why}`,
    );
  const derived = publicJwkMembers(
    createPublicKey(privateKey).export({ format: 'jwk' }) as Record<string, unknown>,
  );
  if (JSON.stringify(derived) !== JSON.stringify(publicJwkMembers(key.publicJwk))) {
    throw new GatehouseError(
      'key_invalid',
      `private key of \`${key.kid}\` is not the pair of its public key`,
    );
  }
  if (loaded.size >= LOADED_MAX) loaded.delete(loaded.keys().next().value as string);
  loaded.set(id, privateKey);
  return privateKey;
}

/** Web Crypto parameters for signing with `alg` (key import and signature alike). */
export function webCryptoAlgorithm(
  alg: SigningAlgorithm,
): { name: 'ECDSA'; namedCurve: string; hash: string } | { name: string; hash: string; saltLength?: number } {
  switch (alg) {
    case 'ES256':
      return { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
    case 'ES384':
      return { name: 'ECDSA', namedCurve: 'P-384', hash: 'SHA-384' };
    case 'RS256':
      return { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
    case 'PS256':
      // RFC 4055 §3.1 as used by RFC 7518 §3.5: salt as long as the hash.
      return { name: 'RSA-PSS', hash: 'SHA-256', saltLength: 32 };
  }
}

/**
 * The private key as a non-extractable Web Crypto key for signing with the
 * key's algorithm (what `@peculiar/x509` signs certificates with).
 * @throws GatehouseError as {@link loadPrivateKey}
 */
export async function loadPrivateCryptoKey(
  key: StoredSigningKey,
  passphrase?: string,
): Promise<webcrypto.CryptoKey> {
  const der = loadPrivateKey(key, passphrase).export({ type: 'pkcs8', format: 'der' });
  return webcrypto.subtle.importKey('pkcs8', der, webCryptoAlgorithm(key.alg), false, ['sign']);
}

/**
 * The key that signs now for `use`: the active one, the most recently
 * activated when several are (a rotation half applied). Undefined when none.
 */
export function activeSigningKey(
  keys: readonly StoredSigningKey[],
  use: KeyUse,
): StoredSigningKey | undefined {
  let best: StoredSigningKey | undefined;
  for (const k of keys) {
    if (k.use !== use || k.state !== 'active') continue;
    if (!best || (k.activatedAt ?? k.createdAt) > (best.activatedAt ?? best.createdAt)) best = k;
  }
  return best;
}
