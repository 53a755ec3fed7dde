/**
 * The thread {@link readDecisionLogOnThread} starts: reads one decision log
 * file as {@link readDecisionLog} reads it and posts its records reduced to
 * numbers, a batch at a time (`{ batch }`…, then `{ read: true }`); when
 * asked, reads it a second time to check its hash chain, sharing that with
 * the gatherer once it is free (`{ slice }`…); then posts
 * `{ done: true, segments? }`; or `{ error }` at any point.
 *
 * The chain is checked by a reading of its own because hashing every record
 * is the largest part of reading: done with the first, it would keep the
 * gatherer waiting. The second reading goes on whenever the gatherer is
 * behind, and after the last record is handed over, beside the findings. It
 * never passes the records the first has read, so a log appended to
 * meanwhile is checked as far as it was audited.
 */
import { resolve } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { recordFields } from '../core/analysis/exposure/activity.js';
import { ActivityBatchWriter, batchBuffers } from '../core/analysis/exposure/activity-batch.js';
import { RecordLineScanner } from '../core/analysis/exposure/record-line.js';
import { GatehouseError } from '../core/errors.js';
import { ChainVerifier, type ChainSegment } from '../core/log/hash-chain.js';
import { fileLinesSync, readDecisionLog } from './decision-log-file.js';
import { BATCHES_AHEAD, checkRecordLine, Progress, type ReaderJob } from './decision-log-reader.js';

const job = workerData as ReaderJob;
const progress = new Int32Array(job.progress);
const writer = new ActivityBatchWriter(job.batchSize);
const scanner = new RecordLineScanner();

/**
 * The chain check, a second reading of the file behind the first, taken a
 * few lines at a time when the reader has nothing better to do. Once every
 * record is handed over and the gatherer has finished its work, it asks for
 * a share of the check: each time, the next `sliceLines` lines go to
 * it, and the check here goes on after them. Each run of records checked
 * here or there is a segment; the gatherer joins them in order.
 */
class ChainPass {
  private verifier = new ChainVerifier({ segment: true });
  /** The segments so far, in log order: checked here, or the number of a slice sent. */
  private readonly segments: (ChainSegment | number)[] = [];
  private slices = 0;
  private readonly lines = fileLinesSync(resolve(job.cwd, job.path));
  private batch: string[] = [];
  private at = 0;
  /** Records checked here or sent. */
  private seen = 0;
  private ended = false;

  /**
   * Checks up to `budget` more lines, never past the `records` the first
   * reading has read: false when there was nothing it could check.
   */
  step(records: number, budget: number): boolean {
    let progressed = false;
    while (budget-- > 0 && this.seen < records) {
      const line = this.nextLine();
      if (line === undefined) return progressed;
      progressed = true;
      if (line.trim() === '') continue;
      checkRecordLine(this.verifier, scanner, line);
      this.seen++;
    }
    return progressed;
  }

  /** Sends the next lines, up to the `records` read, to the gatherer to check. */
  share(records: number): void {
    const lines: string[] = [];
    while (lines.length < job.sliceLines && this.seen < records) {
      const line = this.nextLine();
      if (line === undefined) break;
      if (line.trim() === '') continue;
      lines.push(line);
      this.seen++;
    }
    if (!lines.length) return;
    this.segments.push(this.verifier.segment(), this.slices);
    this.verifier = new ChainVerifier({ segment: true });
    parentPort!.postMessage({ slice: lines, index: this.slices++ });
  }

  /** Every segment, in order; call once, at the end. */
  end(): (ChainSegment | number)[] {
    this.segments.push(this.verifier.segment());
    return this.segments;
  }

  private nextLine(): string | undefined {
    while (this.at === this.batch.length) {
      const next = this.ended ? undefined : this.lines.next();
      if (!next || next.done) {
        this.ended = true;
        return undefined;
      }
      this.batch = next.value;
      this.at = 0;
    }
    return this.batch[this.at++];
  }
}

const chain = job.verifyChain ? new ChainPass() : undefined;
/** Records the first reading has handed to the writer. */
let records = 0;
/** Batches posted. */
let sent = 0;

/**
 * Posts the batch; then, while the gatherer is {@link BATCHES_AHEAD} behind
 * (a log read faster than it is gathered must not pile up in memory),
 * checks the chain of records already read, or waits.
 */
function send(): void {
  const batch = writer.take();
  sent++;
  parentPort!.postMessage({ batch }, batchBuffers(batch));
  for (;;) {
    const done = Atomics.load(progress, Progress.gathered);
    if (sent - done <= BATCHES_AHEAD) return;
    if (!chain?.step(records, 256)) Atomics.wait(progress, Progress.gathered, done, 1000);
  }
}

try {
  await readDecisionLog(job.path, job.cwd, {
    add: (record) => {
      records++;
      if (writer.add(recordFields(record))) send();
    },
    addLine: (line) => {
      const read = scanner.scan(line, false);
      if (!read) return false;
      records++;
      if (writer.add(read.fields)) send();
      return true;
    },
  });
  if (writer.count) send();
  parentPort!.postMessage({ read: true });
  if (chain) {
    for (;;) {
      if (Atomics.exchange(progress, Progress.help, 0)) chain.share(records);
      if (!chain.step(records, 256)) break;
    }
  }
  parentPort!.postMessage({ done: true, segments: chain?.end() });
} catch (e) {
  const error =
    e instanceof GatehouseError
      ? { code: e.code, message: e.message }
      : { message: e instanceof Error ? e.message : String(e) };
  parentPort!.postMessage({ error });
}
