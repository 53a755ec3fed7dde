/**
 * The decision log as JSON lines, for `gatehouse decisions export` and
 * for other tools: each record's stored canonical text, byte for byte, so
 * that the export can be checked with the hash chain on its own.
 */
import { GatehouseError } from '../errors.js';
import type { DecisionLogStore } from '../ports.js';
import type { DecisionLogScanOptions } from './verify-decision-log.js';

/**
 * The log from `fromSeq` on, oldest first, as JSON lines: one string per
 * batch read from the store (each line ends with `\n`). Read on demand, so
 * a slow consumer holds at most one batch in memory.
 *
 * The records of a log are numbered without gaps, so a batch that does not
 * follow the one before means a prune deleted records ahead of the export
 * while it read: it fails (`store_conflict`) rather than go on as if the
 * records it never read had not been (an archive taken before a prune
 * would lack them for good).
 */
export async function* decisionLogLines(
  store: Pick<DecisionLogStore, 'scan'>,
  options: DecisionLogScanOptions = {},
): AsyncGenerator<string> {
  let next: number | undefined;
  for await (const batch of store.scan(options.fromSeq ?? 1, options.batchSize ?? 1000)) {
    const first = batch[0]?.seq;
    if (next !== undefined && first !== undefined && first !== next)
      throw new GatehouseError(
        'store_conflict',
        `records ${next} to ${first - 1} were pruned while the export read them: export again`,
      );
    let lines = '';
    for (const stored of batch) lines += `${stored.json}\n`;
    if (batch.length > 0) next = batch[batch.length - 1]!.seq + 1;
    yield lines;
  }
}
