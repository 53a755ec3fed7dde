/**
 * The thread {@link checkChainInWorker} starts: checks the hash chain of one
 * decision log file and posts its status.
 */
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { checkChainOfFile } from './decision-log-file.js';

// The chain check runs beside the audit, which has more to do: on Linux, where a thread has a
// priority of its own, this one yields the processor to the audit's thread and its garbage
// collector (elsewhere the call would lower the whole process, so it is not made).
if (process.platform === 'linux') {
  try {
    setPriority(10);
  } catch {
    // Not allowed here: the check runs at the usual priority.
  }
}

const { file } = workerData as { file: string };
parentPort!.postMessage(await checkChainOfFile(file));
