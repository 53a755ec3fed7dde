/**
 * The decision log as JSON lines, for `gatehouse decisions --export` and
 * for other tools: each record's stored canonical text, byte for byte, so
 * that the export can be checked with the hash chain on its own.
 */
import type { DecisionLogStore } from '../ports.js';
import type { DecisionLogScanOptions } from './verify-decision-log.js';

/**
 * Hands `write` the log from `fromSeq` on, oldest first, a batch of lines at
 * a time (each line ends with `\n`), awaiting it before reading on, so a
 * slow consumer holds at most one batch in memory. Resolves to the number of
 * records written; rejects with the first error of the store or of `write`.
 */
export async function exportDecisionLog(
  store: Pick<DecisionLogStore, 'scan'>,
  write: (lines: string) => void | Promise<void>,
  options: DecisionLogScanOptions = {},
): Promise<number> {
  let written = 0;
  for await (const batch of store.scan(options.fromSeq ?? 1, options.batchSize ?? 1000)) {
    let lines = '';
    for (const stored of batch) lines += `${stored.json}\n`;
    await write(lines);
    written += batch.length;
  }
  return written;
}
