/**
 * Ships the proxy's decision records to the control plane in batches
 * (`POST /v1/decisions/records`), where they are chained into the decision
 * log. The proxy's own decisions never wait for it.
 *
 * While the server is unreachable the records wait in a bounded buffer
 * (`maxBuffered`, oldest first) and are sent when it is back; a record
 * arriving when the buffer is full is dropped and counted, never the proxy's
 * answer. Delivery is at least once: a batch whose answer was lost is sent
 * again, marked `resend`, and the server skips decision ids it has already
 * written, looking them up in its log when it does not remember them.
 *
 * With a spool (decision-spool.ts) every buffered record is also in a file
 * before its caller is answered ({@link DecisionShipper.settle}), and what a
 * run left unshipped is shipped by the next one.
 */
import type { UnchainedRecord } from '../core/log/hash-chain.js';
import { isLoggedFailure, type Logger } from '../server/logger.js';
import type { RecordsResponse } from '../server/routes/sync-routes.js';
import { JsonText, type ControlPlaneClient } from './control-plane-client.js';
import { DecisionSpool, type SpooledRecord } from './decision-spool.js';

export interface DecisionShipperOptions {
  client: ControlPlaneClient;
  logger: Logger;
  /** Records kept while they cannot be shipped; default 50 000. */
  maxBuffered?: number;
  /** Records per request; default 500 (the server takes at most 1000). */
  maxBatch?: number;
  /**
   * Characters of records per request, past the first record; default 512 KiB, half the
   * server's default body limit (`--max-body-bytes`, 1 MiB), for text that is not ASCII. A
   * server that refuses a batch as too large (413) halves it for the next ones.
   */
  maxBatchChars?: number;
  /** Pause between shipments; default 200 ms. */
  intervalMs?: number;
  /** The spool's directory (decision-spool.ts); records are kept in memory only when absent. */
  spoolDir?: string;
  /** Sync the spool's writes to the disk (decision-spool.ts); default false. */
  spoolSync?: boolean;
}

export interface ShipperStats {
  buffered: number;
  shipped: number;
  /** Records dropped because the buffer was full, or refused by the server as malformed. */
  dropped: number;
  /** Records the spool could not write (they are shipped from memory all the same). */
  unspooled: number;
  /** Records an earlier run left in the spool, taken up at start. */
  recovered: number;
}

/** A buffered record: its JSON text and its number in the spool (-1 without one). */
type Buffered = SpooledRecord;

const MAX_BACKOFF_MS = 10_000;

export class DecisionShipper {
  private buffer: Buffered[] = [];
  private shipped = 0;
  private dropped = 0;
  private unspooled = 0;
  private spoolFailures = 0;
  private readonly recovered: number = 0;
  /**
   * How many records at the front of the buffer may have reached the server
   * before (recovered from the spool, or in a batch whose answer was lost).
   * A batch holding any is marked `resend`, so that the server looks for
   * them in its log: its memory of ids it wrote does not survive a restart.
   */
  private resendable = 0;
  private readonly spool: DecisionSpool | undefined;
  /** Dropped since the last warning. */
  private droppedUnreported = 0;
  private failures = 0;
  private timer: NodeJS.Timeout | undefined;
  private sending: Promise<void> | undefined;
  private stopped = false;
  private readonly maxBuffered: number;
  private readonly maxBatch: number;
  private batchChars: number;
  private readonly intervalMs: number;

  constructor(private readonly options: DecisionShipperOptions) {
    this.maxBuffered = options.maxBuffered ?? 50_000;
    this.maxBatch = options.maxBatch ?? 500;
    this.batchChars = options.maxBatchChars ?? 512 * 1024;
    this.intervalMs = options.intervalMs ?? 200;
    if (options.spoolDir !== undefined) {
      // Throws `store_error` when the directory cannot be used: the caller does not start.
      this.spool = DecisionSpool.open(options.spoolDir, {
        sync: options.spoolSync === true,
        failed: (error, records) => {
          this.unspooled += records;
          const failures = ++this.spoolFailures;
          if (isLoggedFailure(failures))
            options.logger.log('error', 'decision_spool_failed', {
              error: error.message,
              records,
              failures,
              unspooled: this.unspooled,
            });
        },
      });
      const { records, skipped, staleLock, unreadableCursor } = this.spool.recovery;
      this.buffer = records;
      this.recovered = records.length;
      this.resendable = records.length;
      if (records.length > 0 || skipped > 0 || staleLock || unreadableCursor !== undefined) {
        options.logger.log(
          skipped > 0 || unreadableCursor !== undefined ? 'warn' : 'info',
          'decision_spool_recovered',
          {
            spool: options.spoolDir,
            records: records.length,
            skipped,
            staleLock,
            ...(unreadableCursor !== undefined && { unreadableCursor }),
          },
        );
      }
    }
  }

  /**
   * Writes the records queued for the spool now, so that they are on file
   * before an answer leaves; a no-op when there are none. Never throws: a
   * failure is logged and counted.
   */
  settle(): void {
    this.spool?.settle();
  }

  /** Queues a record; never throws. */
  push(record: UnchainedRecord): void {
    if (this.buffer.length >= this.maxBuffered) {
      this.dropped++;
      if (this.droppedUnreported++ === 0) {
        this.options.logger.log('warn', 'decision_records_dropped', {
          why: `the shipping buffer is full (${this.maxBuffered} records)`,
        });
      }
      return;
    }
    const text = JSON.stringify(record);
    this.buffer.push({ n: this.spool ? this.spool.append(text) : -1, text });
  }

  stats(): ShipperStats {
    return {
      buffered: this.buffer.length,
      shipped: this.shipped,
      dropped: this.dropped,
      unspooled: this.unspooled,
      recovered: this.recovered,
    };
  }

  start(): void {
    this.stopped = false;
    this.schedule(this.intervalMs);
  }

  /**
   * Stops shipping after trying to send what is buffered for at most
   * `deadlineMs`; resolves with the records left unsent (kept in the spool
   * for the next run, when there is one). Releases the spool.
   */
  async stop(deadlineMs: number): Promise<number> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    const until = Date.now() + deadlineMs;
    await this.sending;
    while (this.buffer.length > 0 && Date.now() < until) {
      if (!(await this.shipBatch())) break;
    }
    try {
      this.spool?.close();
    } catch (error) {
      // The records are on file already; only the lock may be left, and the next run takes it over.
      this.options.logger.log('warn', 'decision_spool_failed', { error: (error as Error).message });
    }
    return this.buffer.length;
  }

  private schedule(delay: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.sending = this.drain().finally(() => (this.sending = undefined));
    }, delay);
    this.timer.unref();
  }

  private async drain(): Promise<void> {
    while (this.buffer.length > 0 && !this.stopped) {
      if (!(await this.shipBatch())) {
        this.schedule(Math.min(MAX_BACKOFF_MS, this.intervalMs * 2 ** Math.min(this.failures, 10)));
        return;
      }
      if (this.buffer.length < this.maxBatch) break;
    }
    this.schedule(this.intervalMs);
  }

  /**
   * The oldest records, as many as fit a request: sized by count alone, a
   * batch of long records (a long path, many rules) went past the server's
   * body limit, was refused as a whole each time, and held every record
   * behind it, after restarts too (the spool gives it back).
   */
  private nextBatch(): SpooledRecord[] {
    let chars = 0;
    let n = 0;
    while (n < this.buffer.length && n < this.maxBatch) {
      chars += this.buffer[n]!.text.length + 1;
      if (n > 0 && chars > this.batchChars) break;
      n++;
    }
    return this.buffer.slice(0, n);
  }

  /** Sends the oldest batch; false when the server could not take it. */
  private async shipBatch(): Promise<boolean> {
    const batch = this.nextBatch();
    let answer: RecordsResponse;
    try {
      const resend = this.resendable > 0 ? ',"resend":true' : '';
      const body = new JsonText(`{"records":[${batch.map((b) => b.text).join(',')}]${resend}}`);
      answer = await this.options.client.post<RecordsResponse>('/v1/decisions/records', body);
    } catch (err) {
      const status = (err as { status?: number }).status;
      if (status === 413 && batch.length > 1) {
        // The server takes less than this (a lower `--max-body-bytes`): smaller batches from now on.
        this.batchChars = Math.max(1024, Math.floor(this.batchChars / 2));
        this.options.logger.log('warn', 'decision_batch_too_large', {
          records: batch.length,
          nextBatchChars: this.batchChars,
        });
        return true;
      }
      if (status === 400 || status === 413) {
        // Malformed, or one record larger than the server takes: sending it again cannot help.
        this.buffer.splice(0, batch.length);
        this.resendable = Math.max(0, this.resendable - batch.length);
        this.taken();
        this.dropped += batch.length;
        this.options.logger.log('error', 'decision_records_refused', {
          records: batch.length,
          error: (err as Error).message,
        });
        return true;
      }
      // The server may have written the batch before its answer was lost.
      this.resendable = Math.max(this.resendable, batch.length);
      if (this.failures++ === 0) {
        this.options.logger.log('warn', 'decision_shipping_failed', {
          error: (err as Error).message,
          buffered: this.buffer.length,
          maxBuffered: this.maxBuffered,
        });
      }
      return false;
    }
    // Records the log could not take now go back to the front, in order; refused ones
    // (malformed: sending them again cannot help) are dropped. A server from before
    // `refused` refuses a whole batch with 400 instead, handled above.
    const refused = answer.refused ?? [];
    if (refused.length > 0) {
      this.dropped += refused.length;
      this.options.logger.log('error', 'decision_records_refused', {
        records: refused.length,
        error: refused[0]!.message,
      });
    }
    const again = answer.failed.map((i) => batch[i]!).filter(Boolean);
    this.buffer.splice(0, batch.length, ...again);
    this.resendable = Math.max(0, this.resendable - batch.length) + again.length;
    this.taken();
    this.shipped += batch.length - again.length - refused.length;
    if (this.failures > 0 || this.droppedUnreported > 0) {
      this.options.logger.log('info', 'decision_shipping_restored', {
        buffered: this.buffer.length,
        droppedWhileUnavailable: this.droppedUnreported,
      });
      this.failures = 0;
      this.droppedUnreported = 0;
    }
    return again.length === 0;
  }

  /** Tells the spool that the records before the oldest still buffered need not be shipped again. */
  private taken(): void {
    if (!this.spool) return;
    try {
      this.spool.acknowledge(this.buffer.length > 0 ? this.buffer[0]!.n : this.spool.nextNumber());
    } catch (error) {
      // Only costs records shipped twice after a restart (the server skips ids it has written).
      this.options.logger.log('warn', 'decision_spool_failed', { error: (error as Error).message });
    }
  }
}
