/**
 * The decision log as JSON lines, for `gatehouse decisions export` and
 * for other tools: each record's stored canonical text, byte for byte, so
 * that the export can be checked with the hash chain on its own.
 */
import type { DecisionLogStore } from '../ports.js';
import type { DecisionLogScanOptions } from './verify-decision-log.js';

/**
 * The log from `fromSeq` on, oldest first, as JSON lines: one string per
 * batch read from the store (each line ends with `\n`). Read on demand, so
 * a slow consumer holds at most one batch in memory.
 */
export async function* decisionLogLines(
  store: Pick<DecisionLogStore, 'scan'>,
  options: DecisionLogScanOptions = {},
): AsyncGenerator<string> {
  for await (const batch of store.scan(options.fromSeq ?? 1, options.batchSize ?? 1000)) {
    let lines = '';
    for (const stored of batch) lines += `${stored.json}\n`;
    yield lines;
  }
}
