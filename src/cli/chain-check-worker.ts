/**
 * The thread {@link checkChainInWorker} starts: checks the hash chain of one
 * decision log file and posts its status.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { checkChainOfFile } from './decision-log-file.js';

const { file } = workerData as { file: string };
parentPort!.postMessage(await checkChainOfFile(file));
