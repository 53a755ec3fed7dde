/**
 * Private keys at rest: a PKCS#8 PEM sealed under a passphrase into a text
 * envelope that names its own parameters, so stronger settings can be used
 * later without breaking keys already stored.
 *
 *   enc:v1:scrypt:<N>:<r>:<p>:<salt>:<iv>:<ciphertext>:<tag>
 *
 * The key-encryption key is scrypt(passphrase, salt) (RFC 7914); the PEM is
 * sealed with AES-256-GCM under a fresh 96-bit IV. Binary fields are
 * base64url. Everything before the ciphertext is authenticated as associated
 * data, so altering the parameters fails like a wrong passphrase would.
 *
 * Messages never include key material, the passphrase or the envelope.
 */
import { createCipheriv, createDecipheriv, randomBytes, scryptSync } from 'node:crypto';
import { GatehouseError } from '../errors.js';

export const KEY_ENVELOPE_PREFIX = 'enc:v1:';

/** scrypt cost parameters (RFC 7914 §2). */
export interface ScryptCost {
  /** CPU/memory cost, a power of two. */
  N: number;
  r: number;
  p: number;
}

/**
 * The cost new envelopes use: N = 2^15, r = 8, p = 1 needs 32 MiB and about
 * a tenth of a second, paid once per key load (loaded keys are cached).
 */
export const DEFAULT_SCRYPT_COST: Readonly<ScryptCost> = { N: 2 ** 15, r: 8, p: 1 };

// Bounds on what an envelope may ask for, so a crafted envelope cannot make
// loading a key allocate gigabytes or spin for minutes.
const MIN_N = 2 ** 10;
const MAX_N = 2 ** 20;
const MAX_R = 32;
const MAX_P = 16;
const SALT_BYTES = 16;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;
const B64URL = /^[A-Za-z0-9_-]+$/;

/** True when `text` is an `enc:v1:` envelope (not whether it opens). */
export function isProtectedPrivateKey(text: string): boolean {
  return typeof text === 'string' && text.startsWith(KEY_ENVELOPE_PREFIX);
}

function deriveKey(passphrase: string, salt: Buffer, cost: ScryptCost): Buffer {
  return scryptSync(Buffer.from(passphrase, 'utf8'), salt, KEY_BYTES, {
    N: cost.N,
    r: cost.r,
    p: cost.p,
    // scrypt needs 128·N·r bytes; Node refuses anything above `maxmem`.
    maxmem: 256 * cost.N * cost.r + 1024 * 1024,
  });
}

function costProblem(cost: ScryptCost): string | undefined {
  const { N, r, p } = cost;
  if (!Number.isInteger(N) || N < MIN_N || N > MAX_N || (N & (N - 1)) !== 0) {
    return `scrypt N must be a power of two between ${MIN_N} and ${MAX_N}`;
  }
  if (!Number.isInteger(r) || r < 1 || r > MAX_R) return `scrypt r must be between 1 and ${MAX_R}`;
  if (!Number.isInteger(p) || p < 1 || p > MAX_P) return `scrypt p must be between 1 and ${MAX_P}`;
  return undefined;
}

/**
 * Seals a private key PEM under `passphrase`. Each call draws a fresh salt
 * and IV, so sealing the same key twice gives different envelopes.
 * @throws GatehouseError `key_invalid` when the passphrase is empty, the
 *   input is not a PEM private key, or `cost` is out of bounds
 */
export function protectPrivateKey(
  pem: string,
  passphrase: string,
  cost: ScryptCost = DEFAULT_SCRYPT_COST,
): string {
  if (typeof passphrase !== 'string' || passphrase.length === 0) {
    throw new GatehouseError('key_invalid', 'cannot protect a private key: the passphrase is empty');
  }
  if (typeof pem !== 'string' || !/^-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem.trimStart())) {
    throw new GatehouseError('key_invalid', 'cannot protect a private key: input is not a PEM private key');
  }
  const why = costProblem(cost);
  if (why) throw new GatehouseError('key_invalid', `cannot protect a private key: ${why}`);
  const salt = randomBytes(SALT_BYTES);
  const iv = randomBytes(IV_BYTES);
  const header = `${KEY_ENVELOPE_PREFIX}scrypt:${cost.N}:${cost.r}:${cost.p}:${salt.toString('base64url')}:${iv.toString('base64url')}`;
  const cipher = createCipheriv('aes-256-gcm', deriveKey(passphrase, salt, cost), iv, {
    authTagLength: TAG_BYTES,
  });
  cipher.setAAD(Buffer.from(header, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(pem, 'utf8'), cipher.final()]);
  return `${header}:${ciphertext.toString('base64url')}:${cipher.getAuthTag().toString('base64url')}`;
}

function malformed(why: string): never {
  throw new GatehouseError('key_invalid', `private key envelope is malformed: ${why}`);
}

/**
 * Opens what the store holds in `privateKey`: an `enc:v1:` envelope is
 * decrypted with `passphrase`; a PEM in the clear is returned as it is
 * (a passphrase given for it is ignored, so a store can be protected key by
 * key).
 * @throws GatehouseError `key_passphrase_required` (sealed, no passphrase),
 *   `key_passphrase_wrong` (the GCM tag does not verify: wrong passphrase or
 *   altered envelope), `key_invalid` (neither PEM nor a well-formed envelope)
 */
export function unprotectPrivateKey(text: string, passphrase?: string): string {
  if (typeof text !== 'string') throw new GatehouseError('key_invalid', 'private key is not text');
  if (!isProtectedPrivateKey(text)) {
    if (text.startsWith('enc:')) {
      throw new GatehouseError(
        'key_invalid',
        'private key envelope has an unsupported version: expected `enc:v1:`',
      );
    }
    if (!/^-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text.trimStart())) {
      throw new GatehouseError('key_invalid', 'private key is neither a PEM nor an `enc:v1:` envelope');
    }
    return text;
  }
  const parts = text.slice(KEY_ENVELOPE_PREFIX.length).split(':');
  if (parts.length !== 8)
    malformed(`expected 8 fields after \`${KEY_ENVELOPE_PREFIX}\`, got ${parts.length}`);
  const [kdf, n, r, p, saltText, ivText, ciphertextText, tagText] = parts as [
    string,
    string,
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  if (kdf !== 'scrypt') malformed('only the `scrypt` key derivation is supported');
  const cost: ScryptCost = { N: Number(n), r: Number(r), p: Number(p) };
  const why = costProblem(cost);
  if (why) malformed(why);
  for (const field of [saltText, ivText, ciphertextText, tagText]) {
    if (!B64URL.test(field)) malformed('a binary field is not base64url');
  }
  const salt = Buffer.from(saltText, 'base64url');
  const iv = Buffer.from(ivText, 'base64url');
  const tag = Buffer.from(tagText, 'base64url');
  if (salt.length < SALT_BYTES) malformed(`salt must be at least ${SALT_BYTES} bytes`);
  if (iv.length !== IV_BYTES) malformed(`IV must be ${IV_BYTES} bytes`);
  if (tag.length !== TAG_BYTES) malformed(`tag must be ${TAG_BYTES} bytes`);
  if (passphrase === undefined || passphrase === '') {
    throw new GatehouseError(
      'key_passphrase_required',
      'private key is protected by a passphrase: none was given',
    );
  }
  const header = text.slice(0, text.length - ciphertextText.length - tagText.length - 2);
  const decipher = createDecipheriv('aes-256-gcm', deriveKey(passphrase, salt, cost), iv, {
    authTagLength: TAG_BYTES,
  });
  decipher.setAAD(Buffer.from(header, 'utf8'));
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([
      decipher.update(Buffer.from(ciphertextText, 'base64url')),
      decipher.final(),
    ]).toString('utf8');
  } catch {
    // GCM fails closed; the cause is deliberately dropped (it says nothing useful and nothing secret should leak).
    throw new GatehouseError(
      'key_passphrase_wrong',
      'private key does not open with this passphrase: the passphrase is wrong or the envelope was altered',
    );
  }
}
