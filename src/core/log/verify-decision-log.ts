/**
 * `gatehouse decisions verify`: checks the hash chain of a stored decision
 * log, and that the store holds each record as the chain sealed it,
 * streaming, with constant memory.
 */
import type { DecisionLogAnchor, DecisionLogStore } from '../ports.js';
import type { DecisionRecord } from './decision-record.js';
import { canonicalBody, ChainVerifier, GENESIS_HASH, type ChainBreak } from './hash-chain.js';
import { storedRecordProblem, type StoredRecordProblem } from './stored-record-problem.js';

export interface DecisionLogScanOptions {
  /** The first sequence number to read (export). Default 1, the whole log. */
  fromSeq?: number;
  /** Records read per query. Default 1000. */
  batchSize?: number;
}

/**
 * Where the stored log first fails a check: a break of the hash chain, or a
 * record the store does not hold as the chain sealed it (its text, or a
 * copy of a field beside it, altered in the database).
 */
export type DecisionLogBreak = ChainBreak | (StoredRecordProblem & Pick<ChainBreak, 'seq' | 'position'>);

export interface DecisionLogStatus {
  /** Records checked. */
  checked: number;
  /** The first break, when the log is not intact. */
  firstBreak?: DecisionLogBreak;
  /** Where the stored log starts when it was pruned: the first record must link to it. */
  anchor?: DecisionLogAnchor;
}

/**
 * Reads the log in sequence order and checks each record against the one
 * before it (see {@link ChainVerifier}): a record altered, removed or
 * reordered in the store breaks the chain there. A record's stored text must
 * also be the canonical JSON its hash covers, byte for byte (what an export
 * hands on), and each copy of its fields that the store filters by must say
 * what the record says ({@link storedRecordProblem}); either failing is a
 * break too (`text_not_canonical`, `column_mismatch`). Stops at the first
 * break; `checked` then counts the records read up to and including it. A
 * stored text that is not a JSON object is reported as an altered record.
 *
 * The first stored record must be record 1, linked to the genesis hash, or,
 * in a pruned log, follow the anchor (the last record pruned). The anchor is
 * stored beside the log, so whoever can write the database can also delete
 * records from the start and move the anchor after them, as a prune does:
 * that, a chain resealed from some record on, and records removed from the
 * end leave no break. Compare a sequence number and hash kept elsewhere
 * (`--holds`) to catch them.
 */
export async function verifyDecisionLog(
  store: Pick<DecisionLogStore, 'scan' | 'anchor'>,
  options: Pick<DecisionLogScanOptions, 'batchSize'> = {},
): Promise<DecisionLogStatus> {
  // A prune while the log is read removes records before and ahead of the reading: a break then
  // is the prune's doing when the anchor has moved meanwhile, and the log is read again.
  // A prune ends: so does this loop.
  for (;;) {
    const anchor = await store.anchor();
    const status = await verifyFrom(store, anchor, options.batchSize ?? 1000);
    if (status.firstBreak === undefined) return status;
    const now = await store.anchor();
    if (now?.seq === anchor?.seq && now?.hash === anchor?.hash) return status;
  }
}

async function verifyFrom(
  store: Pick<DecisionLogStore, 'scan'>,
  anchor: DecisionLogAnchor | undefined,
  batchSize: number,
): Promise<DecisionLogStatus> {
  const verifier = new ChainVerifier({ after: anchor ?? { seq: 0, hash: GENESIS_HASH } });
  const status = (s: DecisionLogStatus): DecisionLogStatus => (anchor ? { ...s, anchor } : s);
  let checked = 0;
  for await (const batch of store.scan((anchor?.seq ?? 0) + 1, batchSize)) {
    for (const stored of batch) {
      checked++;
      const record = parseRecordText(stored.json);
      if (record === undefined) {
        const firstBreak: ChainBreak = {
          seq: stored.seq,
          position: checked,
          reason: 'hash_mismatch',
          message: `record ${stored.seq} was altered: its stored text is not a JSON record`,
        };
        return status({ checked, firstBreak });
      }
      const { body, canonical } = canonicalBody(record, stored.json);
      verifier.pushCanonical(record, body);
      const { firstBreak } = verifier.status();
      if (firstBreak !== undefined) return status({ checked, firstBreak });
      const problem = storedRecordProblem(stored, record, canonical);
      if (problem !== undefined)
        return status({ checked, firstBreak: { seq: record.seq, position: checked, ...problem } });
    }
  }
  return status({ checked });
}

/** A record's JSON text as an object; undefined when it is not JSON or not an object. */
export function parseRecordText(json: string): DecisionRecord | undefined {
  try {
    const value: unknown = JSON.parse(json);
    return value !== null && typeof value === 'object' && !Array.isArray(value)
      ? (value as DecisionRecord)
      : undefined;
  } catch {
    return undefined;
  }
}
