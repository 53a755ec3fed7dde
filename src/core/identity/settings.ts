/**
 * Settings of the identity authority, resolved at the edge (flags, then
 * environment, then defaults) and checked here once.
 */
import { GatehouseError } from '../errors.js';
import type { SigningAlgorithm } from './signing-key.js';
import { trustDomainProblem } from './spiffe-id.js';

export interface IdentitySettings {
  trustDomain: string;
  /** Algorithm of new signing keys. */
  keyAlgorithm: SigningAlgorithm;
  /** Encrypts private keys at rest when set. */
  keyPassphrase?: string;
  jwtSvidTtlSeconds: number;
  jwtSvidMaxTtlSeconds: number;
  x509SvidTtlSeconds: number;
  x509SvidMaxTtlSeconds: number;
  joinTokenTtlSeconds: number;
  grantMaxTtlSeconds: number;
  /** Accepted clock skew when verifying `exp`/`nbf`. */
  clockSkewSeconds: number;
  /** How long a signing key signs before the next one takes over. */
  keyActiveLifetimeSeconds: number;
  /** How long a next key is published in the bundle before it signs. */
  keyPrepublishSeconds: number;
  bundleRefreshHintSeconds: number;
}

export const DEFAULT_IDENTITY_SETTINGS: Omit<IdentitySettings, 'trustDomain'> = {
  keyAlgorithm: 'ES256',
  jwtSvidTtlSeconds: 300,
  jwtSvidMaxTtlSeconds: 3600,
  x509SvidTtlSeconds: 3600,
  x509SvidMaxTtlSeconds: 24 * 3600,
  joinTokenTtlSeconds: 600,
  grantMaxTtlSeconds: 8 * 3600,
  clockSkewSeconds: 30,
  keyActiveLifetimeSeconds: 24 * 3600,
  keyPrepublishSeconds: 3600,
  bundleRefreshHintSeconds: 300,
};

/** Fills defaults and rejects impossible values. */
export function identitySettings(
  given: Partial<IdentitySettings> & { trustDomain: string },
): IdentitySettings {
  const s: IdentitySettings = {
    ...DEFAULT_IDENTITY_SETTINGS,
    ...dropUndefined(given),
    trustDomain: given.trustDomain,
  };
  const why = trustDomainProblem(s.trustDomain);
  if (why) throw new GatehouseError('entry_invalid', `invalid trust domain \`${s.trustDomain}\`: ${why}`);
  const positive: (keyof IdentitySettings)[] = [
    'jwtSvidTtlSeconds',
    'jwtSvidMaxTtlSeconds',
    'x509SvidTtlSeconds',
    'x509SvidMaxTtlSeconds',
    'joinTokenTtlSeconds',
    'grantMaxTtlSeconds',
    'keyActiveLifetimeSeconds',
    'keyPrepublishSeconds',
    'bundleRefreshHintSeconds',
  ];
  for (const k of positive) {
    const v = s[k] as number;
    if (!Number.isInteger(v) || v < 1)
      throw new GatehouseError('entry_invalid', `setting ${k} must be a positive whole number`);
  }
  if (!Number.isInteger(s.clockSkewSeconds) || s.clockSkewSeconds < 0 || s.clockSkewSeconds > 600) {
    throw new GatehouseError('entry_invalid', 'setting clockSkewSeconds must be between 0 and 600');
  }
  if (s.jwtSvidTtlSeconds > s.jwtSvidMaxTtlSeconds || s.x509SvidTtlSeconds > s.x509SvidMaxTtlSeconds) {
    throw new GatehouseError('entry_invalid', 'a default SVID TTL must not exceed its maximum');
  }
  return s;
}

function dropUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
