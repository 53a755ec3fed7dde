/**
 * The writer of the decision log: places each record in the hash chain and
 * hands it back only once the store holds it durably. Records arriving while
 * a write is under way go together into the next one (group commit), so one
 * transaction, one disk sync, carries many decisions.
 *
 * Back-pressure, not loss: at most `maxQueue` records wait to be written.
 * Beyond that `record()` does not resolve until there is room, in call order,
 * so a slow disk slows the callers down and nothing is dropped. The writer
 * never gives up on a waiting record by itself; a caller that cannot wait
 * races `record()` against its own deadline and fails closed (the record may
 * still be written later).
 */
import { isIsoString } from '../dates.js';
import { GatehouseError } from '../errors.js';
import type { DecisionLogStore } from '../ports.js';
import type { DecisionRecord } from './decision-record.js';
import { ChainWriter, type UnchainedRecord } from './hash-chain.js';
import { isRecordsAlreadyLogged } from './records-already-logged.js';

export interface DecisionLogWriterOptions {
  /** Records per transaction, at most. Default 1000. */
  maxBatch?: number;
  /**
   * Records accepted but not yet durable (queued or being written), at most.
   * Default 10 000. Beyond it `record()` waits for room.
   */
  maxQueue?: number;
  /**
   * Runs the next write later. Default: a microtask, which gathers the
   * records recorded in the same turn of the event loop. A server passes
   * `setImmediate`, so that the requests already received (whose records a
   * synchronous store would otherwise keep out) join the batch.
   */
  defer?: (run: () => void) => void;
  /**
   * Tries per batch when the store answers `store_conflict` (another writer
   * appended to the same log first): the batch is chained again after the
   * new last record and retried. Default 3. A store that can chain the
   * batch again inside its own transaction (PostgreSQL) does so instead,
   * and never answers a conflict.
   */
  attempts?: number;
}

/** Counters for metrics. */
export interface DecisionLogWriterStats {
  /** Records accepted but not yet durable: queued or being written. */
  queueDepth: number;
  /** `record()` calls waiting for room in the queue. */
  waiting: number;
  /** Records written durably. */
  written: number;
  /** Transactions committed. */
  batches: number;
  /** Appends that failed; their records were rejected. */
  writeErrors: number;
  /** Records rejected: their append failed, or they could not be recorded at all. */
  rejected: number;
  /** Batches chained again after another writer appended first (by the writer or inside the store). */
  conflicts: number;
  /** Records given to `recordOnce` that the log already held: not written again. */
  alreadyLogged: number;
}

interface Pending {
  body: UnchainedRecord;
  /** Call order of `record()`; records are written in this order. */
  ticket: number;
  /** From `recordOnce`: written only when the log holds no record of its decision id and time. */
  once: boolean;
  /** Undefined only for a `once` record that the log already held. */
  resolve(record: DecisionRecord | undefined): void;
  reject(error: unknown): void;
}

type Head = Pick<DecisionRecord, 'seq' | 'hash'>;

export class DecisionLogWriter {
  private readonly maxBatch: number;
  private readonly maxQueue: number;
  private readonly defer: (run: () => void) => void;
  private readonly attempts: number;

  /** Accepted records not yet taken into a write, in ticket order. */
  private readonly queue: Pending[] = [];
  /** Callers waiting for room, in ticket order. */
  private readonly waiters: Pending[] = [];
  /** Records of the write under way whose callers have not been answered yet. */
  private inFlight = 0;
  private writing = false;
  private scheduled = false;
  private closing = false;

  /**
   * The last record the store holds. INVARIANT: when `headKnown`, `head`
   * is what the store's `last()` would answer; after a failed append it is
   * unknown (the append may have committed after all) and read again.
   */
  private head: Head | undefined;
  private headKnown = false;

  private issued = 0;
  private settledThrough = 0;
  private readonly flushers: { target: number; resolve: () => void }[] = [];

  private readonly counters = {
    written: 0,
    batches: 0,
    writeErrors: 0,
    rejected: 0,
    conflicts: 0,
    alreadyLogged: 0,
  };

  /**
   * A writer continuing the chain after the store's last record. Fails with
   * the store's error when the log cannot be read; with `store_error` for
   * option values that are not whole numbers of 1 or more.
   */
  static async open(
    store: DecisionLogStore,
    options: DecisionLogWriterOptions = {},
  ): Promise<DecisionLogWriter> {
    const writer = new DecisionLogWriter(store, options);
    writer.head = await store.last();
    writer.headKnown = true;
    return writer;
  }

  private constructor(
    private readonly store: DecisionLogStore,
    options: DecisionLogWriterOptions,
  ) {
    this.maxBatch = positive(options.maxBatch ?? 1000, 'batch size');
    this.maxQueue = positive(options.maxQueue ?? 10_000, 'queue size');
    this.attempts = positive(options.attempts ?? 3, 'attempts');
    this.defer = options.defer ?? ((run) => queueMicrotask(run));
  }

  /**
   * Chains `body` after every record recorded before it and resolves to the
   * chained record once it is durable. Rejects when its batch could not be
   * written (the caller must then fail closed: deny, or answer 503), when the
   * writer is closing, and, with `store_error`, for a body the log cannot
   * hold: `time` not in the form `2026-01-02T03:04:05.000Z` (years 0000 to
   * 9999, which the store keeps), a missing decision id, source SPIFFE ID or
   * destination service, a decision other than allow or deny. Fields named
   * `seq`, `prevHash` and `hash` in `body` are ignored: the chain sets them.
   */
  record(body: UnchainedRecord): Promise<DecisionRecord> {
    return this.enqueue(body, false) as Promise<DecisionRecord>;
  }

  /**
   * As {@link record}, for a record that may have been logged before: one
   * shipped by an enforcement point, which sends a batch again when its
   * answer was lost, perhaps to another server of the same log. Resolves to
   * undefined, writing nothing, when the log already holds a record with its
   * decision id and time; the store looks in the append's own transaction,
   * so two writers of one log cannot both write it. It does not look among
   * the records still queued: a caller that may pass the same record twice
   * at once keeps its own memory of them.
   */
  recordOnce(body: UnchainedRecord): Promise<DecisionRecord | undefined> {
    return this.enqueue(body, true);
  }

  private enqueue(body: UnchainedRecord, once: boolean): Promise<DecisionRecord | undefined> {
    if (this.closing) {
      return Promise.reject(
        new GatehouseError('store_error', 'cannot record decision: the decision log writer is closed'),
      );
    }
    const problem = bodyProblem(body);
    if (problem !== undefined) {
      this.counters.rejected++;
      return Promise.reject(
        new GatehouseError(
          'store_error',
          `cannot record decision \`${String(body.decisionId)}\`: ${problem}`,
        ),
      );
    }
    // The body is not copied here: sealing copies it, without any `seq`, `prevHash` or `hash` it has.
    return new Promise((resolve, reject) => {
      const pending: Pending = { body, ticket: ++this.issued, once, resolve, reject };
      if (this.waiters.length === 0 && this.queueDepth() < this.maxQueue) this.admit(pending);
      else this.waiters.push(pending);
    });
  }

  /** Records accepted but not yet durable (queued or being written); callers waiting for room not included. */
  queueDepth(): number {
    return this.queue.length + this.inFlight;
  }

  stats(): DecisionLogWriterStats {
    return { queueDepth: this.queueDepth(), waiting: this.waiters.length, ...this.counters };
  }

  /**
   * Resolves once every record recorded before this call is settled: written,
   * or rejected to its caller. Never rejects.
   */
  flush(): Promise<void> {
    const target = this.issued;
    if (this.settledThrough >= target) return Promise.resolve();
    return new Promise((resolve) => this.flushers.push({ target, resolve }));
  }

  /**
   * Refuses new records and resolves once those recorded before are settled
   * (graceful shutdown). The store stays open: its owner closes it after.
   */
  close(): Promise<void> {
    this.closing = true;
    return this.flush();
  }

  private admit(pending: Pending): void {
    this.queue.push(pending);
    this.schedule();
  }

  private schedule(): void {
    if (this.writing || this.scheduled || this.queue.length === 0) return;
    this.scheduled = true;
    this.defer(() => {
      this.scheduled = false;
      void this.writeNext();
    });
  }

  private async writeNext(): Promise<void> {
    if (this.writing || this.queue.length === 0) return;
    this.writing = true;
    const batch = this.queue.splice(0, this.maxBatch);
    this.inFlight = batch.length;
    try {
      await this.writeBatch(batch);
    } finally {
      this.inFlight = 0;
      this.writing = false;
      this.settled(batch.at(-1)!.ticket);
      while (this.waiters.length > 0 && this.queueDepth() < this.maxQueue)
        this.queue.push(this.waiters.shift()!);
      this.schedule();
    }
  }

  private async writeBatch(batch: readonly Pending[]): Promise<void> {
    let pending = batch;
    for (let attempt = 1; ; attempt++) {
      let head: Head | undefined;
      try {
        head = await this.knownHead();
      } catch (error) {
        return this.fail(pending, error);
      }
      const first = this.chain(pending, head);
      const owners = first.owners;
      pending = owners;
      if (first.records.length === 0) return;
      const onlyNew: number[] = [];
      owners.forEach((owner, i) => owner.once && onlyNew.push(i));
      // What the store holds once the append resolves: these, or what it last chained again.
      let stored: { records: readonly DecisionRecord[]; texts: readonly string[] } = first;
      const rechain = (tail: Head | undefined) => {
        // Another writer of the log appended first; the store asks under its lock, so this holds.
        const chain = new ChainWriter(tail);
        const sealed = owners.map((owner) => chain.seal(owner.body));
        stored = { records: sealed.map((s) => s.record), texts: sealed.map((s) => s.text) };
        this.counters.conflicts++;
        return stored;
      };
      try {
        await this.store.append(first.records, first.texts, {
          ...(onlyNew.length > 0 && { onlyNew }),
          rechain,
        });
      } catch (error) {
        // The append may have committed even so (a commit whose answer was
        // lost): the next batch chains after whatever the store holds.
        this.headKnown = false;
        if (isRecordsAlreadyLogged(error)) {
          // Nothing was stored: those records are answered, the rest chained again without them.
          const held = new Set(error.indexes);
          const rest: Pending[] = [];
          owners.forEach((owner, i) => {
            if (owner.once && held.has(i)) this.answerLogged(owner);
            else rest.push(owner);
          });
          if (rest.length < owners.length) {
            // Not a conflict: each such retry has fewer records, so it ends.
            pending = rest;
            attempt--;
            continue;
          }
          // INVARIANT: the store names only records asked about; anything else fails the batch.
          return this.fail(owners, error);
        }
        if (isConflict(error) && attempt < this.attempts) {
          this.counters.conflicts++;
          continue;
        }
        return this.fail(owners, error);
      }
      const { records } = stored;
      const last = records.at(-1)!;
      this.head = { seq: last.seq, hash: last.hash };
      this.headKnown = true;
      this.counters.written += records.length;
      this.counters.batches++;
      this.inFlight -= owners.length;
      owners.forEach((owner, i) => owner.resolve(records[i]!));
      return;
    }
  }

  private answerLogged(owner: Pending): void {
    this.inFlight--;
    this.counters.alreadyLogged++;
    owner.resolve(undefined);
  }

  private async knownHead(): Promise<Head | undefined> {
    if (!this.headKnown) {
      this.head = await this.store.last();
      this.headKnown = true;
    }
    return this.head;
  }

  /** Chains the bodies after `head`; a body that cannot be hashed is rejected alone. */
  private chain(
    pending: readonly Pending[],
    head: Head | undefined,
  ): { records: DecisionRecord[]; texts: string[]; owners: Pending[] } {
    const records: DecisionRecord[] = [];
    const texts: string[] = [];
    const owners: Pending[] = [];
    let chain = new ChainWriter(head);
    for (const entry of pending) {
      try {
        const { record, text } = chain.seal(entry.body);
        records.push(record);
        texts.push(text);
        owners.push(entry);
      } catch (error) {
        // The chain writer counted the record before it failed to hash it: restart after the last good one.
        chain = new ChainWriter(records.at(-1) ?? head);
        this.inFlight--;
        this.counters.rejected++;
        entry.reject(
          new GatehouseError(
            'store_error',
            `cannot record decision \`${entry.body.decisionId}\`: it cannot be serialized as JSON`,
            { cause: error },
          ),
        );
      }
    }
    return { records, texts, owners };
  }

  private fail(owners: readonly Pending[], error: unknown): void {
    this.inFlight -= owners.length;
    this.counters.writeErrors++;
    this.counters.rejected += owners.length;
    for (const owner of owners) owner.reject(error);
  }

  private settled(ticket: number): void {
    this.settledThrough = ticket;
    for (let i = this.flushers.length - 1; i >= 0; i--) {
      const flusher = this.flushers[i]!;
      if (flusher.target <= ticket) {
        this.flushers.splice(i, 1);
        flusher.resolve();
      }
    }
  }
}

function positive(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new GatehouseError(
      'store_error',
      `invalid decision log ${name} \`${String(value)}\`: want a whole number of 1 or more`,
    );
  }
  return value;
}

function isConflict(error: unknown): boolean {
  return error instanceof GatehouseError && error.code === 'store_conflict';
}

/** Why the store could not hold this body, or undefined. */
function bodyProblem(body: UnchainedRecord): string | undefined {
  const loose = body as {
    decisionId?: unknown;
    time?: unknown;
    source?: { spiffeId?: unknown };
    destination?: { service?: unknown };
    decision?: unknown;
  };
  if (typeof loose.decisionId !== 'string' || loose.decisionId === '') return 'the decision id is missing';
  if (typeof loose.time !== 'string' || !isIsoString(loose.time)) {
    return `invalid time \`${String(loose.time)}\`: want RFC 3339 in UTC with milliseconds`;
  }
  if (typeof loose.source?.spiffeId !== 'string') return 'the source SPIFFE ID is missing';
  if (typeof loose.destination?.service !== 'string') return 'the destination service is missing';
  if (loose.decision !== 'allow' && loose.decision !== 'deny') {
    return `invalid decision \`${String(loose.decision)}\`: want allow or deny`;
  }
  return undefined;
}
