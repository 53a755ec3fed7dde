/**
 * What `gatehouse decisions verify` checks of a stored record beyond its
 * place in the hash chain: that the store keeps the very text the chain
 * hashed, and that the copies of the record's fields which the store keeps
 * beside it, to filter and order by, say what the record says. The chain
 * covers the text alone: a copy altered in the database changes which records
 * a query finds (`decisions --verdict deny`) and leaves the chain intact.
 */
import { canonicalTime } from '../dates.js';
import type { DecisionLogColumns, StoredDecisionRecord } from '../ports.js';
import type { DecisionRecord } from './decision-record.js';
import { canonicalRecordJson } from './hash-chain.js';

/** A copy that does not say what the record says. */
export interface ColumnMismatch {
  /** The copy, by its column's name in both stores' `decision_log`. */
  column: string;
  /** The record's field it copies, as a path: `source.spiffeId`. */
  field: string;
  /** What the copy says. */
  stored: string | number;
  /** What the record's field says; absent when the record has no such field. */
  recorded?: unknown;
}

export type StoredRecordProblem =
  | {
      /** The stored text is not the canonical JSON of the record it parses to. */
      reason: 'text_not_canonical';
      message: string;
    }
  | {
      reason: 'column_mismatch';
      /** Every copy of the record that does not match, in the order of {@link COPIES}. */
      columns: ColumnMismatch[];
      message: string;
    };

interface Copy {
  column: string;
  field: string;
  stored(s: StoredDecisionRecord): string | number;
  /** What the record's field says. */
  recorded(r: Loose): unknown;
  /** What the copy must say: the field as the store writes it (undefined when it cannot hold it). */
  want?(recorded: unknown): unknown;
}

/** A record as parsed from a store's text, which may lack any field. */
type Loose = Partial<Record<keyof DecisionRecord, unknown>>;

const member = (value: unknown, key: string): unknown =>
  value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined;

const column = (key: keyof DecisionLogColumns) => (s: StoredDecisionRecord) => s.columns[key];

/**
 * Each copy the store keeps (sql-decision-log.ts, `COLUMNS`), and the field it
 * copies. INVARIANT: every column but `record_json` is here.
 */
const COPIES: readonly Copy[] = [
  { column: 'seq', field: 'seq', stored: (s) => s.seq, recorded: (r) => r.seq },
  {
    column: 'decided_at',
    field: 'time',
    stored: column('decidedAt'),
    recorded: (r) => r.time,
    // The store keeps one form of a time, so that text order is time order.
    want: (time) => (typeof time === 'string' ? canonicalTime(time) : undefined),
  },
  { column: 'decision_id', field: 'decisionId', stored: column('decisionId'), recorded: (r) => r.decisionId },
  {
    column: 'source_spiffe_id',
    field: 'source.spiffeId',
    stored: column('sourceSpiffeId'),
    recorded: (r) => member(r.source, 'spiffeId'),
  },
  {
    column: 'service',
    field: 'destination.service',
    stored: column('service'),
    recorded: (r) => member(r.destination, 'service'),
  },
  { column: 'verdict', field: 'decision', stored: column('verdict'), recorded: (r) => r.decision },
  { column: 'hash', field: 'hash', stored: column('hash'), recorded: (r) => r.hash },
];

/**
 * Why `stored` does not hold `record` as the store must, if it does not:
 * its text is not the record's canonical JSON (`canonical`, as
 * `canonicalBody` found), or a copy of one of its fields says something
 * else. `record` is what `stored.json` parses to, its place in the chain
 * already checked.
 */
export function storedRecordProblem(
  stored: StoredDecisionRecord,
  record: DecisionRecord,
  canonical: boolean,
): StoredRecordProblem | undefined {
  const seq = record.seq;
  if (!canonical) {
    const text = canonicalRecordJson(record);
    let at = 0;
    while (at < text.length && stored.json.charCodeAt(at) === text.charCodeAt(at)) at++;
    return {
      reason: 'text_not_canonical',
      message:
        `record ${seq} was altered in the store: its stored text is not the canonical JSON its hash ` +
        `covers (they differ from character ${at + 1})`,
    };
  }
  let columns: ColumnMismatch[] | undefined;
  for (const copy of COPIES) {
    const recorded = copy.recorded(record as Loose);
    const want = copy.want ? copy.want(recorded) : recorded;
    const have = copy.stored(stored);
    if (have === want) continue;
    const mismatch: ColumnMismatch = { column: copy.column, field: copy.field, stored: have };
    if (recorded !== undefined) mismatch.recorded = recorded;
    (columns ??= []).push(mismatch);
  }
  if (columns === undefined) return undefined;
  return {
    reason: 'column_mismatch',
    columns,
    message:
      `record ${seq} was altered in the store: ` +
      columns
        .map(
          (c) =>
            `column \`${c.column}\` says ${shown(c.stored)}, ` +
            (c.recorded === undefined
              ? `the record has no \`${c.field}\``
              : `the record's \`${c.field}\` is ${shown(c.recorded)}`),
        )
        .join('; '),
  };
}

function shown(value: unknown): string {
  return `\`${typeof value === 'string' ? value : JSON.stringify(value)}\``;
}
