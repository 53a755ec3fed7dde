/**
 * Where a reader of revocations stands in the store's numbered changes
 * (IdentityStore.listRevocationChanges): the number of the last change it
 * read, and a mark of that change.
 *
 * A number alone is not enough. A store restored from a backup, or started
 * anew, gives numbers again from where it was: a reader whose number lies
 * beyond the store's last change is sent everything, but once more changes
 * were recorded than it is ahead, its number names one of them, and the
 * changes between the two would never reach it. The mark, a digest of the
 * change the number names, tells the change read from another one that
 * later took its number; when they differ, or the change is no longer held,
 * everything is read again. A revocation read twice changes nothing.
 */
import { createHash } from 'node:crypto';
import { GatehouseError } from '../errors.js';
import type { RevocationChanges } from '../ports.js';
import type { Revocation } from './credential.js';

export interface RevocationCursor {
  /** The store's number of the last change read (0: none). */
  change: number;
  /** {@link revocationMark} of that change; absent from a cursor of an earlier version. */
  mark?: string;
}

/** The changes after a cursor, and the cursor to read from next time. */
export interface RevocationsRead {
  revocations: Revocation[];
  through: RevocationCursor;
}

const MARK_BYTES = 9;
const CURSOR = /^(\d{1,16})(?:\.([A-Za-z0-9_-]{12}))?$/;

/**
 * A short digest of one change: what it revokes and when. A later change of
 * the same target takes a new number, so the change a number names never
 * changes within one store.
 */
export function revocationMark(revocation: Revocation): string {
  return createHash('sha256')
    .update(`${revocation.target}\n${revocation.value}\n${revocation.revokedAt}`)
    .digest()
    .subarray(0, MARK_BYTES)
    .toString('base64url');
}

/** `N.MARK`, or `N` alone when there is no mark. */
export function formatRevocationCursor(cursor: RevocationCursor): string {
  return cursor.mark === undefined ? String(cursor.change) : `${cursor.change}.${cursor.mark}`;
}

/**
 * Reads a cursor given back by a caller. A plain number is taken too: the
 * cursors of earlier versions (a change number, or before that a time,
 * which lies beyond every change and so reads everything).
 * @throws GatehouseError `request_invalid` for anything else
 */
export function parseRevocationCursor(text: string): RevocationCursor {
  const m = CURSOR.exec(text);
  const change = m ? Number(m[1]) : NaN;
  if (!m || !Number.isSafeInteger(change))
    throw new GatehouseError('request_invalid', 'revocation cursor must be a cursor from an earlier answer');
  return m[2] === undefined ? { change } : { change, mark: m[2] };
}

/**
 * The changes after `cursor`, read with `list` (a store's
 * listRevocationChanges). When the cursor carries a mark and the store no
 * longer holds the change it names as that change (a restore, another store,
 * or a change since pruned), every revocation is read instead: one more read
 * in those rare cases, never a change missed.
 */
export async function readRevocationChanges(
  list: (after: number) => Promise<RevocationChanges>,
  cursor: RevocationCursor,
): Promise<RevocationsRead> {
  let read = await list(cursor.change);
  const anchored =
    cursor.change === 0 ||
    cursor.mark === undefined ||
    (read.at !== undefined && revocationMark(read.at) === cursor.mark);
  if (!anchored) read = await list(0);
  const last = read.revocations.at(-1) ?? (read.through === cursor.change ? read.at : undefined);
  return {
    revocations: read.revocations,
    through:
      last === undefined ? { change: read.through } : { change: read.through, mark: revocationMark(last) },
  };
}
