/**
 * The ports the pure core declares for what it needs from outside (STYLE.md §2).
 * Real implementations are created at the edge and passed in.
 */
import type { Verdict } from './decision/decision.js';
import type { AdminCredential, JoinToken, OidcIssuer } from './identity/attestation-records.js';
import type { IssuedCredential, Revocation } from './identity/credential.js';
import type { EntryKind, EntryStatus, RegistrationEntry } from './identity/entry.js';
import type { Grant } from './identity/grant.js';
import type { StoredSigningKey } from './identity/signing-key.js';
import type { PolicyVersion } from './policy/policy-version.js';
import type { DecisionRecord } from './log/decision-record.js';

/** Wall-clock time. The core never reads the system clock itself. */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
}

/** A source of unpredictable identifiers (decision ids, token ids). */
export interface Random {
  /** A fresh identifier, unique with overwhelming probability. */
  id(): string;
}

/** A clock that always answers the same instant; for tests and replay. */
export function fixedClock(epochMs: number): Clock {
  return { now: () => epochMs };
}

/**
 * Filters for {@link IdentityStore.listEntries}. Every field given must hold.
 */
export interface EntryFilter {
  status?: EntryStatus;
  kind?: EntryKind;
  owner?: string;
  spiffeId?: string;
  /** Only entries with an `oidc` attestation rule for this issuer (its URL, exactly). */
  oidcIssuer?: string;
  /**
   * Only entries listed after this one, in the listing's order (`createdAt`,
   * then `id`): the last entry of the page before, to read a long list a
   * page at a time.
   */
  after?: { createdAt: string; id: string };
  /** At most this many entries (a whole number of 1 or more). */
  limit?: number;
}

export interface CredentialFilter {
  spiffeId?: string;
  entryId?: string;
  grantId?: string;
  /** Only credentials with `expiresAt` after this instant (RFC 3339). */
  liveAt?: string;
}

/** One activation of a policy version (see {@link IdentityStore.markPolicyActivated}). */
export interface PolicyActivation {
  /** Numbered from 1, in the order activations were made by the servers of the store. */
  n: number;
  revision: string;
  activatedAt: string;
}

/** What {@link IdentityStore.listRevocationChanges} answers. */
export interface RevocationChanges {
  revocations: Revocation[];
  /** The change to give as `after` next time: the last one listed, else `after` itself. */
  through: number;
  /**
   * The revocation recorded as change `after`, when the store still holds
   * it: a reader tells by it that the change it read last is the one this
   * store numbered so (see core/identity/revocation-cursor.ts).
   */
  at?: Revocation;
}

/**
 * Everything the identity plane persists. Implemented by the SQLite and the
 * PostgreSQL adapters (src/store/), which pass the same contract tests.
 * Timestamps cross this port as RFC 3339 strings in UTC with milliseconds.
 *
 * Errors: `store_conflict` on a duplicate key, `store_not_found` when an
 * update names nothing, `store_error` for anything else. Methods are async
 * so that a networked database fits; nothing here is on the per-request hot
 * path (verifiers keep revocations in memory).
 */
export interface IdentityStore {
  createEntry(entry: RegistrationEntry): Promise<void>;
  /** Replaces the entry with the same id. */
  updateEntry(entry: RegistrationEntry): Promise<void>;
  getEntry(id: string): Promise<RegistrationEntry | undefined>;
  /** The entry holding this SPIFFE ID (SPIFFE IDs are unique across entries). */
  getEntryBySpiffeId(spiffeId: string): Promise<RegistrationEntry | undefined>;
  /** Ordered by `createdAt`, then `id`. */
  listEntries(filter?: EntryFilter): Promise<RegistrationEntry[]>;
  /** Sets `lastSeenAt` when later than the stored one. */
  touchEntry(id: string, seenAt: string): Promise<void>;

  /**
   * Inserts or replaces by `kid`, except that a stored `signedUntil` later
   * than the given one is kept: a key's `signedUntil` never moves back, so a
   * server writing a key it read before another server's reservation cannot
   * shorten the time that key stays published.
   */
  putSigningKey(key: StoredSigningKey): Promise<void>;
  /**
   * Raises the key's `signedUntil` to `signedUntil` when it is earlier (or
   * unset), changing nothing else, and returns the key as stored; undefined
   * when no key has that `kid` (another server deleted it). Atomic: servers
   * sharing the store may reserve the same key at once.
   */
  reserveSigningKey(kid: string, signedUntil: string): Promise<StoredSigningKey | undefined>;
  /**
   * Runs `work` while holding the store's lock `name`, which every server
   * sharing the store takes too: work of several calls (a key rotation)
   * then never interleaves with the same work on another server. Released
   * when `work` settles.
   */
  withLock<T>(name: 'key-rotation' | 'admin-credential', work: () => Promise<T>): Promise<T>;
  listSigningKeys(): Promise<StoredSigningKey[]>;
  deleteSigningKey(kid: string): Promise<void>;

  recordCredential(credential: IssuedCredential): Promise<void>;
  getCredential(id: string): Promise<IssuedCredential | undefined>;
  /** Ordered by `issuedAt`, then `id`. */
  listCredentials(filter?: CredentialFilter): Promise<IssuedCredential[]>;

  /**
   * Idempotent on (`target`, `value`). A repeat with a later `revokedAt` replaces the record
   * (it covers more: an entry disabled, re-enabled and disabled again); an earlier or equal one
   * changes nothing.
   */
  addRevocation(revocation: Revocation): Promise<void>;
  listRevocations(): Promise<Revocation[]>;
  /**
   * The revocations recorded or replaced after change `after`, in change
   * order, and the change to read after next time. `addRevocation` numbers
   * each change it makes, and every server sharing the store sees them in
   * that order: a change is never seen after a later one. Unlike a time,
   * the number holds whatever the clocks of the servers that revoked said.
   * When `after` is beyond the store's last change (a number of another
   * store, or of this one before it was restored from a backup), every
   * revocation is listed, as for 0. The answer carries the revocation of
   * change `after` itself (`at`) when it is still held.
   */
  listRevocationChanges(after: number): Promise<RevocationChanges>;
  /**
   * Deletes the revocations whose `expiresAt` is before `before` (nothing
   * they cover can still be valid), but for the last change recorded, from
   * which the numbering goes on. Resolves to how many it deleted.
   */
  pruneRevocations(before: string): Promise<number>;

  createJoinToken(token: JoinToken): Promise<void>;
  /**
   * Atomically marks an unused, unexpired token used and returns it; returns
   * undefined when the token is unknown, used or expired (INVARIANT: single use,
   * even under concurrent callers).
   */
  consumeJoinToken(hash: string, now: string): Promise<JoinToken | undefined>;

  /** Inserts or replaces by `issuer`. */
  putOidcIssuer(issuer: OidcIssuer): Promise<void>;
  listOidcIssuers(): Promise<OidcIssuer[]>;
  deleteOidcIssuer(issuer: string): Promise<boolean>;

  createGrant(grant: Grant): Promise<void>;
  getGrant(id: string): Promise<Grant | undefined>;
  /** Sets `endedAt` if not yet ended; returns the grant as stored afterwards. */
  endGrant(id: string, endedAt: string): Promise<Grant | undefined>;
  listGrants(filter?: { entryId?: string; activeAt?: string }): Promise<Grant[]>;

  createAdminCredential(credential: AdminCredential): Promise<void>;
  getAdminCredentialByHash(hash: string): Promise<AdminCredential | undefined>;
  countAdminCredentials(): Promise<number>;

  /** Stores a policy version; storing the same revision again keeps the first (content-addressed). */
  putPolicyVersion(version: PolicyVersion): Promise<void>;
  getPolicyVersion(revision: string): Promise<PolicyVersion | undefined>;
  /** Newest first. */
  listPolicyVersions(): Promise<PolicyVersion[]>;
  /**
   * Records that `revision` became active at `at`, for every server of the
   * store: resolves to the activation's number, one more than the last
   * activation's, in turn with every other server's. store_not_found when
   * the version is unknown.
   */
  markPolicyActivated(revision: string, at: string): Promise<number>;
  /** The last activation recorded (the policy the store's servers enforce); undefined before the first. */
  latestPolicyActivation(): Promise<PolicyActivation | undefined>;

  /** Small named values (bundle sequence number, schema facts). */
  getMeta(key: string): Promise<string | undefined>;
  setMeta(key: string, value: string): Promise<void>;

  close(): Promise<void>;
}

/**
 * Filters for {@link DecisionLogStore.query}. Every field given must hold.
 * Times are RFC 3339; a record's `time` is compared as an instant.
 */
export interface DecisionLogFilter {
  /** The source SPIFFE ID, exactly. */
  identity?: string;
  /** The destination service, exactly. */
  service?: string;
  verdict?: Verdict;
  /** Decided at or after this instant. */
  since?: string;
  /** Decided before this instant. */
  until?: string;
  /** Records after this sequence number: the cursor of the next page when ascending. */
  afterSeq?: number;
  /** Records before this sequence number: the cursor of the next page when descending. */
  beforeSeq?: number;
  /** Newest first. Default: oldest first. */
  descending?: boolean;
  /** At most this many records; a whole number of 1 or more. */
  limit: number;
}

export interface DecisionLogAppendOptions {
  /**
   * Indexes into the records of those to store only when the log holds no
   * record with the same decision id decided at the same time: records
   * shipped by an enforcement point, which may send one again, possibly to
   * another server of the same log. The look is made in the append's own
   * transaction, after every other writer's commit, so two servers cannot
   * both miss it. When the log holds any of them the append stores nothing
   * and fails with `RecordsAlreadyLogged` (log/records-already-logged.ts)
   * naming them: the batch must be chained again without them. The time is
   * part of the key (the log's index is on time, then decision id): a record
   * sent again keeps the time it was decided at.
   */
  onlyNew?: readonly number[];
  /**
   * Chains the records again after `tail`, the stored last record (undefined
   * for an empty log), when they do not continue it because another writer
   * of the same log appended first: the same bodies in the same order, each
   * with its canonical text. An adapter that runs JavaScript inside its
   * transaction (PostgreSQL's) calls it there, holding the log's lock, and
   * stores what it returns; the records stored are then those of its last
   * call. Without it, or in an adapter that cannot call it there (SQLite's
   * writing thread), such an append fails with `store_conflict`.
   */
  rechain?(tail: Pick<DecisionRecord, 'seq' | 'hash'> | undefined): {
    records: readonly DecisionRecord[];
    texts: readonly string[];
  };
}

/**
 * One record as stored: its canonical JSON text, byte for byte, and the
 * copies of its fields that the store keeps beside the text to filter and
 * order by, as read back. INVARIANT: each copy says what the record's field
 * says (`gatehouse decisions verify` checks that it does: the hash chain
 * covers the text only).
 */
export interface StoredDecisionRecord {
  /** The record's `seq`, as the store orders by it. */
  seq: number;
  json: string;
  columns: DecisionLogColumns;
}

/** The copies of a record's fields kept beside its text ({@link StoredDecisionRecord}). */
export interface DecisionLogColumns {
  /** The record's `time` in the store's one form (`2026-01-02T03:04:05.000Z`). */
  decidedAt: string;
  decisionId: string;
  /** `source.spiffeId`: the filter `identity`. */
  sourceSpiffeId: string;
  /** `destination.service`. */
  service: string;
  /** `decision`. */
  verdict: string;
  /** `hash`, which the next append links to and a prune makes the anchor. */
  hash: string;
}

/**
 * Where a pruned log starts: the last record pruned, which the first stored
 * record links to (docs/decision-log.md, "Retention").
 */
export interface DecisionLogAnchor {
  seq: number;
  hash: string;
  /** When the last prune ran. */
  prunedAt: string;
  /** Records pruned in all, by every prune. */
  pruned: number;
}

export interface DecisionLogPruneOptions {
  /** The time the prune is recorded at (the anchor's `prunedAt`). */
  at: string;
  /** Records deleted per transaction, at most. Default 1000. */
  batchSize?: number;
  /** Stops the prune after its current step when aborted; what was deleted stays deleted. */
  signal?: AbortSignal;
}

/**
 * Where the decision log is kept, in sequence order. Implemented by the
 * SQLite and the PostgreSQL adapters (src/store/), which pass the same
 * contract tests. Each record is kept as the canonical JSON text it was
 * hashed from, so that the chain can be checked again byte for byte.
 *
 * Errors: `store_conflict` when appended records do not continue the stored
 * log (a sequence number taken or skipped: another writer got there first),
 * `request_invalid` for a filter out of range, `store_error` for anything else.
 */
export interface DecisionLogStore {
  /**
   * Stores the records in one transaction: all or none. Durable when it
   * resolves. INVARIANT: the records are numbered on from the stored last one,
   * without gaps, and the first links to it; anything else is refused.
   * `texts`, when given, holds each record's canonical JSON as its
   * `ChainWriter.seal` wrote it, which the store keeps instead of writing it
   * again.
   */
  append(
    records: readonly DecisionRecord[],
    texts?: readonly string[],
    options?: DecisionLogAppendOptions,
  ): Promise<void>;
  /** The sequence number and hash of the last stored record; undefined for an empty log. */
  last(): Promise<Pick<DecisionRecord, 'seq' | 'hash'> | undefined>;
  /** The last record pruned; undefined when the log is stored whole, from record 1. */
  anchor(): Promise<DecisionLogAnchor | undefined>;
  /**
   * Deletes the oldest records, in sequence order, up to the first one
   * decided at or after `before` (later ones behind it stay too), and never
   * the newest record, which the next append continues. Each transaction
   * deletes at most `batchSize` records and moves the anchor to the last one
   * it deleted, so a prune stopped half-way leaves a log that verifies.
   * Resolves to how many it deleted and the anchor now. Fails with
   * `request_invalid` for a `before` that is not RFC 3339.
   */
  prune(
    before: string,
    options: DecisionLogPruneOptions,
  ): Promise<{ pruned: number; anchor: DecisionLogAnchor | undefined }>;
  /** Records matching `filter`, in sequence order. */
  query(filter: DecisionLogFilter): Promise<DecisionRecord[]>;
  /**
   * Every record from sequence number `fromSeq` on, oldest first, in batches of
   * at most `batchSize`, read one batch at a time (constant memory, for export
   * and verification). Records appended while scanning may or may not appear.
   */
  scan(fromSeq: number, batchSize: number): AsyncIterable<readonly StoredDecisionRecord[]>;
  count(): Promise<number>;
  /**
   * Why the store cannot take appends now, when it knows without trying:
   * a writing thread that has stopped. Undefined while it can (as far as it
   * knows). For readiness; an append still fails on its own when it fails.
   */
  problem?(): string | undefined;
  close(): Promise<void>;
}
