/**
 * Signing key rotation with overlap, as a pure planner: given the stored
 * keys and the time, it says what to do; the caller applies the actions
 * (generating, updating and deleting keys in the store) and publishes the
 * new bundle.
 *
 * Life of a key: created `next` (published in the bundle, not signing) →
 * `active` (signing) → `retired` (published, not signing) → deleted once
 * everything it signed has expired. Verifiers therefore learn a key before
 * they meet anything it signed, and keep it while its credentials live.
 */
import { GatehouseError } from '../errors.js';
import { epochMs, type Instant } from './instant.js';
import type { KeyUse, SigningAlgorithm, StoredSigningKey } from './signing-key.js';

export type RotationAction =
  | { type: 'create-next'; use: KeyUse; alg: SigningAlgorithm; reason: string }
  | { type: 'activate'; kid: string; reason: string }
  | { type: 'retire'; kid: string; reason: string }
  | { type: 'delete'; kid: string; reason: string };

export interface KeyRotationOptions {
  now: Instant;
  /** Only keys of this use are planned for; others are ignored. */
  use: KeyUse;
  /** How long a key signs before the next one takes over. */
  activeLifetimeSeconds: number;
  /**
   * How long a next key is published before it may sign; at least the
   * bundle refresh hint, so every verifier has it first.
   */
  prepublishSeconds: number;
  /** Algorithm of keys to create. */
  alg: SigningAlgorithm;
  /**
   * Rotate now (a suspected compromise): the next key is activated even if
   * it has not been published for `prepublishSeconds` — verifiers with an
   * older bundle reject its credentials until they refresh. With no next key,
   * the plan is `create-next`; plan again after applying it.
   */
  force?: boolean;
}

const time = (iso: string | undefined): number => (iso === undefined ? Number.NaN : Date.parse(iso));

/**
 * Plans one rotation step for the keys of `options.use`:
 * - no active key: activate the oldest next key at once (nothing could sign
 *   otherwise), or create one;
 * - `prepublishSeconds` before the active key's lifetime ends (or at once
 *   when forced): create a next key if there is none;
 * - when the lifetime has ended (or when forced) and the next key has been
 *   published for `prepublishSeconds` (or when forced): activate it and
 *   retire the active key — the active key keeps signing past its lifetime
 *   until then;
 * - several active keys (a rotation half applied): keep the most recently
 *   activated, retire the others;
 * - retired keys whose `signedUntil` has passed, or that never signed
 *   (no `signedUntil`): delete.
 * Actions come in the order to apply them: create-next, activate, retire, delete.
 *
 * INVARIANT: while a key is active, a next key only becomes active after it
 * has been published for `prepublishSeconds` (unless forced); a retired key
 * is only deleted once nothing it signed is still valid.
 * @throws GatehouseError `request_invalid` for non-positive lifetimes or a negative prepublication time
 */
export function planKeyRotation(
  keys: readonly StoredSigningKey[],
  options: KeyRotationOptions,
): RotationAction[] {
  const { use, alg, activeLifetimeSeconds, prepublishSeconds } = options;
  if (!Number.isFinite(activeLifetimeSeconds) || activeLifetimeSeconds <= 0) {
    throw new GatehouseError('request_invalid', 'activeLifetimeSeconds must be a positive number of seconds');
  }
  if (!Number.isFinite(prepublishSeconds) || prepublishSeconds < 0) {
    throw new GatehouseError('request_invalid', 'prepublishSeconds must be a non-negative number of seconds');
  }
  const now = epochMs(options.now);
  const force = options.force === true;
  const mine = keys.filter((k) => k.use === use);
  const activeSince = (k: StoredSigningKey) => {
    const at = time(k.activatedAt);
    return Number.isNaN(at) ? time(k.createdAt) : at;
  };
  const actives = mine.filter((k) => k.state === 'active').sort((a, b) => activeSince(b) - activeSince(a));
  const nexts = mine.filter((k) => k.state === 'next').sort((a, b) => time(a.createdAt) - time(b.createdAt));
  const creates: RotationAction[] = [];
  const activations: RotationAction[] = [];
  const retirements: RotationAction[] = [];
  const deletions: RotationAction[] = [];

  const current = actives[0];
  const candidate = nexts[0];
  for (const extra of actives.slice(1)) {
    retirements.push({ type: 'retire', kid: extra.kid, reason: 'another active key was activated later' });
  }

  if (!current) {
    if (candidate) {
      activations.push({ type: 'activate', kid: candidate.kid, reason: 'no key is active' });
    } else {
      creates.push({ type: 'create-next', use, alg, reason: 'no key is active or waiting' });
    }
  } else {
    const lifetimeEnds = activeSince(current) + activeLifetimeSeconds * 1000;
    if (!candidate) {
      if (force || now >= lifetimeEnds - prepublishSeconds * 1000) {
        creates.push({
          type: 'create-next',
          use,
          alg,
          reason: force
            ? 'rotation forced'
            : `active key \`${current.kid}\` reaches the end of its lifetime soon`,
        });
      }
    } else {
      const published = now - time(candidate.createdAt);
      if ((force || now >= lifetimeEnds) && (force || published >= prepublishSeconds * 1000)) {
        activations.push({
          type: 'activate',
          kid: candidate.kid,
          reason: force ? 'rotation forced' : `active key \`${current.kid}\` reached the end of its lifetime`,
        });
        retirements.unshift({ type: 'retire', kid: current.kid, reason: `replaced by \`${candidate.kid}\`` });
      }
    }
  }

  for (const k of mine) {
    if (k.state !== 'retired') continue;
    if (k.signedUntil === undefined) {
      deletions.push({ type: 'delete', kid: k.kid, reason: 'retired and never signed anything' });
    } else if (now >= time(k.signedUntil)) {
      deletions.push({
        type: 'delete',
        kid: k.kid,
        reason: `everything it signed expired by ${k.signedUntil}`,
      });
    }
  }
  return [...creates, ...activations, ...retirements, ...deletions];
}
