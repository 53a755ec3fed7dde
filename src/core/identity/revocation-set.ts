/**
 * The revocations a verifier holds in memory, answering "is this credential
 * taken back?" in constant time on the per-request path.
 */
import { GatehouseError } from '../errors.js';
import type { Revocation } from './credential.js';

/** What a verifier knows about a presented credential. */
export interface RevocableCredential {
  /** `jti` or hex serial. */
  id?: string;
  spiffeId: string;
  entryId?: string;
  grantId?: string;
  /**
   * When it was issued: RFC 3339, epoch milliseconds or a Date. When unknown,
   * the credential counts as issued before every identity or entry revocation.
   */
  issuedAt?: string | number | Date;
}

/**
 * How long past its `expiresAt` a revocation is still kept and sent: a
 * revocation then covers nothing that is still valid, and the margin absorbs
 * clock differences between servers and proxies.
 */
export const REVOCATION_EXPIRY_MARGIN_MS = 5 * 60_000;

/** Whether `revocation` may be forgotten at `now` (epoch ms): past its expiry and the margin. */
export function revocationOutlived(revocation: Revocation, now: number): boolean {
  return (
    revocation.expiresAt !== undefined && Date.parse(revocation.expiresAt) + REVOCATION_EXPIRY_MARGIN_MS < now
  );
}

function instantOf(value: string | number | Date): number {
  return value instanceof Date ? value.getTime() : typeof value === 'number' ? value : Date.parse(value);
}

/**
 * Revocations indexed by what they target:
 * - `credential`: that credential id (jti or serial);
 * - `identity` / `entry`: every credential of that SPIFFE ID / entry issued
 *   at or before `revokedAt` (credentials issued later are unaffected);
 * - `grant`: every credential of that grant, whenever issued.
 *
 * JWT `iat` has whole-second precision: a credential issued in the same
 * second as an identity revocation, just after it, counts as covered.
 */
export class RevocationSet {
  private readonly credentials = new Map<string, Revocation>();
  private readonly identities = new Map<string, { at: number; revocation: Revocation }>();
  private readonly entries = new Map<string, { at: number; revocation: Revocation }>();
  private readonly grants = new Map<string, Revocation>();
  private count = 0;

  constructor(revocations: Iterable<Revocation> = []) {
    for (const r of revocations) this.add(r);
  }

  /** Number of revocations added and kept (repeats of a target are folded). */
  get size(): number {
    return this.count;
  }

  /**
   * Adds a revocation; effective for the next {@link isRevoked} call. For an
   * identity or entry revoked twice, the later `revokedAt` wins (it covers more).
   * Returns whether it covers more than before: false for a repeat.
   * @throws GatehouseError `request_invalid` for an unknown target or a bad `revokedAt`
   */
  add(revocation: Revocation): boolean {
    const { target, value } = revocation;
    const at = Date.parse(revocation.revokedAt);
    if (typeof value !== 'string' || value === '') {
      throw new GatehouseError('request_invalid', 'revocation value must be a non-empty string');
    }
    if (Number.isNaN(at)) {
      throw new GatehouseError(
        'request_invalid',
        `revocation of \`${value}\`: revokedAt is not an RFC 3339 date-time`,
      );
    }
    switch (target) {
      case 'credential':
      case 'grant': {
        // A repeated revocation keeps the first one, as the store does.
        const map = target === 'credential' ? this.credentials : this.grants;
        if (map.has(value)) return false;
        map.set(value, revocation);
        this.count++;
        return true;
      }
      case 'identity':
      case 'entry': {
        const map = target === 'identity' ? this.identities : this.entries;
        const known = map.get(value);
        if (!known) this.count++;
        if (known && at <= known.at) return false;
        map.set(value, { at, revocation });
        return true;
      }
      default:
        throw new GatehouseError('request_invalid', `unknown revocation target \`${String(target)}\``);
    }
  }

  /** The revocation that covers the credential, or undefined; O(1). */
  find(credential: RevocableCredential): Revocation | undefined {
    if (credential.id !== undefined) {
      const byId = this.credentials.get(credential.id);
      if (byId) return byId;
    }
    if (credential.grantId !== undefined) {
      const byGrant = this.grants.get(credential.grantId);
      if (byGrant) return byGrant;
    }
    const issuedAt =
      credential.issuedAt === undefined ? Number.NEGATIVE_INFINITY : instantOf(credential.issuedAt);
    // An unreadable issue time cannot prove the credential postdates a revocation.
    const at = Number.isNaN(issuedAt) ? Number.NEGATIVE_INFINITY : issuedAt;
    const byIdentity = this.identities.get(credential.spiffeId);
    if (byIdentity && at <= byIdentity.at) return byIdentity.revocation;
    if (credential.entryId !== undefined) {
      const byEntry = this.entries.get(credential.entryId);
      if (byEntry && at <= byEntry.at) return byEntry.revocation;
    }
    return undefined;
  }

  /**
   * Forgets the revocations outlived at `now` (epoch ms; see
   * {@link revocationOutlived}). Those without `expiresAt` stay. O(size);
   * returns how many were forgotten.
   */
  prune(now: number): number {
    let pruned = 0;
    const expired = (r: Revocation) => revocationOutlived(r, now);
    for (const map of [this.credentials, this.grants])
      for (const [value, r] of map)
        if (expired(r)) {
          map.delete(value);
          pruned++;
        }
    for (const map of [this.identities, this.entries])
      for (const [value, { revocation }] of map)
        if (expired(revocation)) {
          map.delete(value);
          pruned++;
        }
    this.count -= pruned;
    return pruned;
  }

  /** Every revocation kept, in no particular order: what a copy of the set needs to be rebuilt. */
  list(): Revocation[] {
    const out = [...this.credentials.values(), ...this.grants.values()];
    for (const map of [this.identities, this.entries])
      for (const { revocation } of map.values()) out.push(revocation);
    return out;
  }

  /** True when a revocation covers the credential; O(1). */
  isRevoked(credential: RevocableCredential): boolean {
    return this.find(credential) !== undefined;
  }
}
