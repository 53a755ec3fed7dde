/**
 * Bearer secrets the control plane hands out once (admin credentials, join
 * tokens) and remembers only by hash.
 */
import { randomBytes } from 'node:crypto';
import { sha256Hex } from '../sha256.js';

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
  return `sha256:${sha256Hex(secret)}`;
}
