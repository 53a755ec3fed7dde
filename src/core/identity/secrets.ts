/**
 * Bearer secrets the control plane hands out once (admin credentials, join
 * tokens) and remembers only by hash.
 */
import { createHash, randomBytes } from 'node:crypto';

/** A fresh secret: a readable prefix and 256 random bits, base64url. */
export function newSecret(prefix: string): string {
  return `${prefix}_${randomBytes(32).toString('base64url')}`;
}

/** A fresh opaque id: a prefix and 96 random bits. */
export function newId(prefix: string): string {
  return `${prefix}_${randomBytes(12).toString('base64url')}`;
}

/** `sha256:<hex>` of a secret. Secrets are high-entropy, so a plain hash is enough to store them. */
export function hashSecret(secret: string): string {
  return `sha256:${createHash('sha256').update(secret, 'utf8').digest('hex')}`;
}
