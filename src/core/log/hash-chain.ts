/**
 * The hash chain of the decision log: each record carries the hash of the one
 * before it, so that a record removed, reordered or altered after the fact
 * breaks the chain at that point (docs/exposure.md).
 */
import { sha256Hex } from '../sha256.js';
import type { DecisionRecord } from './decision-record.js';

/** `prevHash` of the first record of a log. */
export const GENESIS_HASH = `sha256:${'0'.repeat(64)}`;

/**
 * JSON with object keys sorted at every level and `undefined` members dropped:
 * the same text as the policy revision's canonical JSON, written out directly
 * because the log hashes every record.
 */
export function canonicalRecordJson(value: unknown): string {
  switch (typeof value) {
    case 'string':
      // JSON.stringify escapes only quotes, backslashes, control characters and lone surrogates.
      return NEEDS_ESCAPE.test(value) ? JSON.stringify(value) : `"${value}"`;
    case 'number':
      // Finite numbers print as JSON.stringify prints them; NaN and the infinities are `null`.
      return Number.isFinite(value) ? `${value}` : 'null';
    case 'boolean':
      return value ? 'true' : 'false';
  }
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) {
      const v: unknown = value[i];
      out += (i ? ',' : '') + (v === undefined || typeof v === 'function' ? 'null' : canonicalRecordJson(v));
    }
    return out + ']';
  }
  return objectJson(value, undefined);
}

/** Where {@link objectJson} found the place of its `mark` key: a character offset, or -1. */
let markAt = -1;

/**
 * The object branch of {@link canonicalRecordJson}. With `mark`, leaves out
 * the member of that key, if any, and sets {@link markAt} to the offset at
 * which it would start (after the comma of the member before), when some
 * present key sorts after it: the record's `hash`, which is hashed without
 * itself and stored with itself.
 */
function objectJson(o: object, mark: string | undefined): string {
  const keys = Object.keys(o);
  const shape = shapeOf(keys);
  let out = '{';
  for (let i = 0; i < shape.order.length; i++) {
    const k = keys[shape.order[i]!]!;
    const v = (o as Record<string, unknown>)[k];
    if (v === undefined || typeof v === 'function' || k === mark) continue;
    const comma = out.length > 1;
    if (mark !== undefined && markAt < 0 && k > mark) markAt = out.length + (comma ? 1 : 0);
    out += (comma ? ',' : '') + shape.quoted[i]! + canonicalRecordJson(v);
  }
  return out + '}';
}

// eslint-disable-next-line no-control-regex -- control characters are what JSON escapes
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/** An object layout: its keys as listed, their sorted order, each key as written (`"key":`). */
interface Shape {
  keys: readonly string[];
  /** Indexes into `keys`, in sorted key order. */
  order: readonly number[];
  /** `JSON.stringify(key) + ':'`, in sorted key order. */
  quoted: readonly string[];
}

/**
 * Layouts seen, by first key. Records are written by a few programs, so a
 * few layouts recur: sorting and quoting their keys once makes the log's
 * hashing several times cheaper. The first key is a property name, which the
 * engine keeps as one string per name: looking it up builds no new string.
 */
const SHAPES = new Map<string, Shape[]>();
const MAX_SHAPES = 512;
let shapeCount = 0;

function shapeOf(keys: readonly string[]): Shape {
  const first = keys.length === 0 ? '' : keys[0]!;
  const known = SHAPES.get(first);
  if (known) {
    for (let i = 0; i < known.length; i++) if (sameKeys(known[i]!.keys, keys)) return known[i]!;
  }
  const order = keys
    .map((_, i) => i)
    .sort((a, b) => (keys[a]! < keys[b]! ? -1 : keys[a]! > keys[b]! ? 1 : 0));
  const shape: Shape = { keys: [...keys], order, quoted: order.map((i) => `${JSON.stringify(keys[i])}:`) };
  // Bounded: a stream of records with ever new layouts must not grow memory (nor the lists scanned).
  if (shapeCount < MAX_SHAPES) {
    shapeCount++;
    if (known) known.push(shape);
    else SHAPES.set(first, [shape]);
  }
  return shape;
}

function sameKeys(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A record before it is placed in the chain. */
export type UnchainedRecord = Omit<DecisionRecord, 'seq' | 'prevHash' | 'hash'>;

/**
 * `sha256:<hex>` over the canonical JSON (keys sorted, no white space) of the
 * record without its `hash` field. Fields the record carries beyond
 * {@link DecisionRecord} are covered too.
 */
export function recordHash(record: Omit<DecisionRecord, 'hash'> | DecisionRecord): string {
  const { hash: _hash, ...body } = record as DecisionRecord;
  return bodyHash(canonicalRecordJson(body));
}

/** {@link recordHash} of the record whose canonical JSON without `hash` is `body`. */
export function bodyHash(body: string): string {
  return `sha256:${sha256Hex(body)}`;
}

/**
 * A record read back from a store, in the one pass {@link ChainWriter.seal}
 * makes: `body`, its canonical JSON without `hash`, which the hash covers
 * (`bodyHash(body)` is `recordHash(record)`), and whether `text`, the text
 * stored, is its whole canonical JSON byte for byte
 * (`canonicalRecordJson(record)`), as seal writes it for the store to keep.
 */
export function canonicalBody(record: object, text: string): { body: string; canonical: boolean } {
  markAt = -1;
  const body = objectJson(record, 'hash');
  const at = markAt;
  const hash = (record as { hash?: unknown }).hash;
  if (hash === undefined || typeof hash === 'function') return { body, canonical: text === body };
  const member = `"hash":${canonicalRecordJson(hash)}`;
  // No key sorts after `hash`: it closes the object (never in a record, which has `prevHash` and `seq`).
  if (at < 0)
    return { body, canonical: text === `${body.slice(0, -1)}${body.length > 2 ? ',' : ''}${member}}` };
  // Compared piece by piece, as seal cut it in: slices of either text are not copies, the whole
  // text written out would be one (as long as the record) for every record read.
  const after = at + member.length;
  const canonical =
    text.length === body.length + member.length + 1 &&
    text.slice(0, at) === body.slice(0, at) &&
    text.slice(at, after) === member &&
    text.charCodeAt(after) === 44 /* , */ &&
    text.slice(after + 1) === body.slice(at);
  return { body, canonical };
}

/** Places records in a chain one after the other: numbers them from 1 and seals each with its hash. */
export class ChainWriter {
  private seq = 0;
  private prev = GENESIS_HASH;

  /** Continues an existing log after its last record. */
  constructor(last?: Pick<DecisionRecord, 'seq' | 'hash'>) {
    if (last) {
      this.seq = last.seq;
      this.prev = last.hash;
    }
  }

  append<R extends UnchainedRecord>(body: R): R & DecisionRecord {
    return this.seal(body).record;
  }

  /**
   * {@link append}, with the record's canonical JSON (its `hash` included):
   * the text a store keeps, written in the same pass that hashed the record.
   */
  seal<R extends UnchainedRecord>(body: R): { record: R & DecisionRecord; text: string } {
    // Key order only reads well: the hash is over the canonical (sorted) form.
    // `hash` is in the literal from the start (undefined members are left out of
    // the canonical JSON): adding it afterwards would move the record to a new layout.
    // The body's own `seq`, `prevHash` and `hash`, if any, are dropped: the chain sets them.
    const {
      v,
      seq: _seq,
      prevHash: _prevHash,
      hash: _hash,
      ...rest
    } = body as UnchainedRecord & Partial<Pick<DecisionRecord, 'seq' | 'prevHash' | 'hash'>>;
    const record = { v, seq: ++this.seq, ...rest, prevHash: this.prev, hash: undefined } as unknown as R &
      DecisionRecord;
    markAt = -1;
    const hashed = objectJson(record, 'hash');
    // `prevHash` and `seq` sort after `hash`: there is always a member to insert it before.
    const at = markAt;
    const hash = bodyHash(hashed);
    record.hash = hash;
    this.prev = hash;
    // The stored text is the hashed one with `hash` in its sorted place, cut in rather than
    // written again.
    const text = `${hashed.slice(0, at)}"hash":${JSON.stringify(hash)},${hashed.slice(at)}`;
    return { record, text };
  }
}

export interface ChainBreak {
  seq: number;
  /** 1-based position of the record in what was checked. */
  position: number;
  reason: 'seq_gap' | 'prev_hash_mismatch' | 'hash_mismatch';
  message: string;
}

export interface ChainStatus {
  /** Records checked. */
  checked: number;
  /** The first break, when the chain is not intact. */
  firstBreak?: ChainBreak;
}

/** Why `record` does not follow `prev` (the record before it, or none), if it does not. */
function linkProblem(
  prev: { seq: number; hash: string } | undefined,
  record: Pick<DecisionRecord, 'seq' | 'prevHash'>,
): Pick<ChainBreak, 'reason' | 'message'> | undefined {
  if (prev === undefined)
    return record.seq === 1 && record.prevHash !== GENESIS_HASH
      ? { reason: 'prev_hash_mismatch', message: 'record 1 does not link to the genesis hash' }
      : undefined;
  if (record.seq !== prev.seq + 1)
    return { reason: 'seq_gap', message: `record ${record.seq} follows record ${prev.seq}` };
  if (record.prevHash !== prev.hash)
    return {
      reason: 'prev_hash_mismatch',
      message: `record ${record.seq} does not link to record ${prev.seq}`,
    };
  return undefined;
}

/** Why `record`, the first stored, does not follow `after`, the last record pruned (record 0: none). */
function anchorProblem(
  after: { seq: number; hash: string },
  record: Pick<DecisionRecord, 'seq' | 'prevHash'>,
): Pick<ChainBreak, 'reason' | 'message'> | undefined {
  const start =
    after.seq === 0 ? 'the log starts at record 1' : `the log was pruned through record ${after.seq}`;
  if (record.seq !== after.seq + 1)
    return {
      reason: 'seq_gap',
      message: `record ${record.seq} is the first stored, but ${start}: the records between were removed`,
    };
  if (record.prevHash !== after.hash)
    return {
      reason: 'prev_hash_mismatch',
      message:
        after.seq === 0
          ? 'record 1 does not link to the genesis hash'
          : `record ${record.seq} does not link to the last pruned record ${after.seq}`,
    };
  return undefined;
}

/**
 * A run of consecutive records checked on its own, to be joined with the
 * runs before and after it ({@link joinChainSegments}): the link of its
 * first record to the record before is the join's to check.
 */
export interface ChainSegment {
  checked: number;
  /** The first record's number and link; the last record's number and hash. */
  first?: { seq: number; prevHash: string };
  last?: { seq: number; hash: string };
  /** The first break inside the run, its position counted from the run's start. */
  firstBreak?: ChainBreak;
}

/**
 * Checks records one at a time, in log order, with constant memory. A log may
 * start after record 1 (a rotated file): the first record is trusted as the
 * anchor unless it claims to be record 1, which must link to the genesis hash.
 * As a `segment` verifier, it leaves the first record's link unchecked. Given
 * `after` (the last record pruned from a stored log, or record 0 with the
 * genesis hash for one stored whole), the first record must follow it.
 */
export class ChainVerifier {
  private checked = 0;
  private prev: { seq: number; hash: string } | undefined;
  private first: ChainSegment['first'];
  private broken: ChainBreak | undefined;

  constructor(private readonly options: { segment?: boolean; after?: { seq: number; hash: string } } = {}) {
    this.prev = options.after;
  }

  push(record: DecisionRecord): void {
    this.next(record, undefined);
  }

  /**
   * Like {@link push}, for a record whose canonical JSON without `hash` (as
   * {@link canonicalRecordJson} writes it) is already at hand.
   */
  pushCanonical(record: Pick<DecisionRecord, 'seq' | 'prevHash' | 'hash'>, body: string): void {
    this.next(record, body);
  }

  private next(record: Pick<DecisionRecord, 'seq' | 'prevHash' | 'hash'>, body: string | undefined): void {
    this.checked++;
    if (this.broken) return;
    const at = this.checked;
    if (at === 1) this.first = { seq: record.seq, prevHash: record.prevHash };
    const link =
      at === 1 && this.options.segment
        ? undefined
        : at === 1 && this.options.after
          ? anchorProblem(this.options.after, record)
          : linkProblem(this.prev, record);
    if (link) {
      this.broken = { seq: record.seq, position: at, ...link };
      return;
    }
    const hash = body === undefined ? recordHash(record as DecisionRecord) : bodyHash(body);
    if (hash !== record.hash) {
      this.broken = {
        seq: record.seq,
        position: at,
        reason: 'hash_mismatch',
        message: `record ${record.seq} was altered: its hash does not match its content`,
      };
      return;
    }
    this.prev = { seq: record.seq, hash: record.hash };
  }

  status(): ChainStatus {
    return this.broken ? { checked: this.checked, firstBreak: this.broken } : { checked: this.checked };
  }

  /** What a `segment` verifier found, for {@link joinChainSegments}. */
  segment(): ChainSegment {
    const s: ChainSegment = { checked: this.checked };
    if (this.first) s.first = this.first;
    if (this.prev) s.last = this.prev;
    if (this.broken) s.firstBreak = this.broken;
    return s;
  }
}

/**
 * The status of a chain checked in consecutive runs, in order: exactly what
 * one {@link ChainVerifier} over all their records gives.
 */
export function joinChainSegments(segments: readonly ChainSegment[]): ChainStatus {
  let checked = 0;
  let firstBreak: ChainBreak | undefined;
  let prev: { seq: number; hash: string } | undefined;
  for (const s of segments) {
    if (!s.checked) continue;
    if (!firstBreak) {
      const link = linkProblem(prev, s.first!);
      if (link) firstBreak = { seq: s.first!.seq, position: checked + 1, ...link };
      else if (s.firstBreak) firstBreak = { ...s.firstBreak, position: checked + s.firstBreak.position };
      prev = s.last;
    }
    checked += s.checked;
  }
  return firstBreak ? { checked, firstBreak } : { checked };
}

/** Checks a whole log in order; see {@link ChainVerifier}. */
export function verifyChain(records: Iterable<DecisionRecord>): ChainStatus {
  const verifier = new ChainVerifier();
  for (const r of records) verifier.push(r);
  return verifier.status();
}
