/**
 * A decision log file read on a second thread, its records handed to the
 * first as batches of numbers (see activity-batch.ts): the first thread only
 * gathers. With the hash chain checked on the reading thread too, the two
 * threads split the audit of a large log nearly in half.
 */
import { Worker } from 'node:worker_threads';
import type { ActivityBatch } from '../core/analysis/exposure/activity-batch.js';
import { GatehouseError, type GatehouseErrorCode } from '../core/errors.js';
import { RecordLineScanner } from '../core/analysis/exposure/record-line.js';
import type { DecisionRecord } from '../core/log/decision-record.js';
import {
  ChainVerifier,
  joinChainSegments,
  type ChainSegment,
  type ChainStatus,
} from '../core/log/hash-chain.js';

/** Batches the reader may be ahead of the gatherer before it waits. */
export const BATCHES_AHEAD = 16;

/** What the two threads share, as indexes of an Int32Array: batches gathered, and a request for help. */
export const Progress = { gathered: 0, help: 1 } as const;

/** Lines of the chain check the reader hands over at a time, once the gatherer is free to help. */
export const SLICE_LINES = 8192;

/** What the reading thread is given. */
export interface ReaderJob {
  /** As given (error messages name it so), and the folder it is relative to. */
  path: string;
  cwd: string;
  verifyChain: boolean;
  batchSize: number;
  sliceLines: number;
  progress: SharedArrayBuffer;
}

type ReaderMessage =
  | { batch: ActivityBatch }
  | { read: true }
  | { slice: string[]; index: number }
  | { done: true; segments?: (ChainSegment | number)[] }
  | { error: { code?: GatehouseErrorCode; message: string } };

export interface ReadingOnThread {
  /** Settles once every record is in the sink. */
  read: Promise<void>;
  /**
   * The chain's status when asked for, once checked; settles after
   * {@link read}. Call it when this thread has nothing else to do: it takes a
   * share of the check the reading thread has left.
   */
  chain(): Promise<ChainStatus | undefined>;
}

/**
 * Reads the JSON-lines decision log at `path` on a second thread into
 * `sink`, batch by batch in log order, then checks its hash chain there when
 * `verifyChain`, while the caller goes on. Rejects as {@link readDecisionLog}
 * throws: the same errors, naming the same lines. An error of the sink stops
 * the reading and rejects. A rejection of `read` is also one of `chain`.
 */
export function readDecisionLogOnThread(
  path: string,
  cwd: string,
  sink: { addBatch(batch: ActivityBatch): void },
  options: { verifyChain: boolean; batchSize?: number; sliceLines?: number },
): ReadingOnThread {
  const progress = new SharedArrayBuffer(8);
  const counters = new Int32Array(progress);
  const job: ReaderJob = {
    path,
    cwd,
    verifyChain: options.verifyChain,
    batchSize: options.batchSize ?? 4096,
    sliceLines: options.sliceLines ?? SLICE_LINES,
    progress,
  };
  let readDone!: () => void;
  let readFailed!: (e: unknown) => void;
  const read = new Promise<void>((res, rej) => {
    readDone = res;
    readFailed = rej;
  });
  const helped: ChainSegment[] = [];
  const scanner = new RecordLineScanner();
  const chain = new Promise<ChainStatus | undefined>((resolvePromise, reject) => {
    const worker = new Worker(new URL('./decision-log-reader-worker.js', import.meta.url), {
      workerData: job,
    });
    let settled = false;
    const fail = (e: unknown) => {
      if (settled) return;
      settled = true;
      void worker.terminate();
      readFailed(e);
      reject(e);
    };
    worker.on('message', (m: ReaderMessage) => {
      if (settled) return;
      if ('batch' in m) {
        try {
          sink.addBatch(m.batch);
        } catch (e) {
          return fail(e);
        }
        Atomics.add(counters, Progress.gathered, 1);
        Atomics.notify(counters, Progress.gathered);
      } else if ('read' in m) {
        readDone();
      } else if ('slice' in m) {
        // Ask for the next share before checking this one: the reader reads it meanwhile.
        Atomics.store(counters, Progress.help, 1);
        try {
          helped[m.index] = checkSlice(m.slice, scanner);
        } catch (e) {
          return fail(e);
        }
      } else if ('error' in m) {
        const { code, message } = m.error;
        fail(code ? new GatehouseError(code, message) : new Error(message));
      } else {
        settled = true;
        readDone();
        resolvePromise(
          m.segments && joinChainSegments(m.segments.map((x) => (typeof x === 'number' ? helped[x]! : x))),
        );
      }
    });
    worker.once('error', fail);
    worker.once('exit', (code) => fail(new Error(`the decision log reader thread exited with code ${code}`)));
  });
  // Whoever awaits only `read` must not leave a rejection of `chain` unhandled.
  chain.catch(() => undefined);
  return {
    read,
    chain: () => {
      Atomics.store(counters, Progress.help, 1);
      return chain;
    },
  };
}

/**
 * Gives the verifier the record of one line the first reading took as a
 * record (so it parses): read without building it when plain.
 */
export function checkRecordLine(verifier: ChainVerifier, scanner: RecordLineScanner, line: string): void {
  const chain = scanner.scanChain(line);
  if (chain) verifier.pushCanonical(chain.record, chain.body);
  else verifier.push(JSON.parse(line) as DecisionRecord);
}

/** Checks a run of lines the reading thread handed over. */
function checkSlice(lines: readonly string[], scanner: RecordLineScanner): ChainSegment {
  const verifier = new ChainVerifier({ segment: true });
  for (const line of lines) checkRecordLine(verifier, scanner, line);
  return verifier.segment();
}
