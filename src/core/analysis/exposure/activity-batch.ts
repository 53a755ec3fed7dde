/**
 * Decision records reduced to numbers, a batch at a time, for gathering
 * activity on one thread from a log read on another (see `gatehouse audit`).
 *
 * Reading a large log is half the audit's work: cutting lines, matching
 * them, and looking up each name in a table of every name seen. That half
 * can run beside the gathering when what it hands over is cheap to move and
 * cheap to read: each name a number into a table the reader extends batch by
 * batch (only names new since the batch before travel as text), and the
 * record's values in typed arrays that move between threads without copying.
 * The gatherer then finds an identity by its number, in an array, instead of
 * hashing its SPIFFE ID into a map of a hundred thousand identities.
 *
 * Addresses and credential ids, which are nearly as many as the records,
 * travel as text; so does any name once its kind has {@link MAX_NAMES}.
 */
import type { RecordFields } from './activity.js';
import { NameTable } from './name-table.js';
import { ownedString } from './owned-string.js';
import { parseUtcTime } from '../../utc-time.js';

/** The kinds of names numbered, in the order of {@link ActivityBatch.names}. */
export const NameKind = {
  spiffeId: 0,
  zone: 1,
  credentialType: 2,
  service: 3,
  method: 4,
  path: 5,
  userAgent: 6,
  layer: 7,
  rule: 8,
} as const;
export const NAME_KINDS = 9;

/** Names of one kind numbered at most; past it, a new name travels as text in {@link ActivityBatch.text}. */
export const MAX_NAMES = 1 << 20;

/** A field that has no value. */
export const NO_NAME = -1;
/** A name that travels as text: the next string of {@link ActivityBatch.text}. */
export const TEXT_NAME = -2;

/** The fields of one record in {@link ActivityBatch.fields}, in this order. */
export const Field = {
  spiffeId: 0,
  sourceZone: 1,
  destinationZone: 2,
  credentialType: 3,
  service: 4,
  method: 5,
  path: 6,
  userAgent: 7,
  layer: 8,
  /** {@link Flag} bits. */
  flags: 9,
  /** How many of {@link ActivityBatch.rules} are this record's, taken in order. */
  rules: 10,
} as const;
export const FIELDS = 11;

export const Flag = { allow: 1, wouldDeny: 2, credential: 4, port: 8 } as const;

export interface ActivityBatch {
  count: number;
  /** Each record's time (ms); NaN when unreadable. */
  times: Float64Array;
  /** Each record's destination port, when {@link Flag.port}. */
  ports: Float64Array;
  /** {@link FIELDS} numbers per record: a name's number, {@link NO_NAME} or {@link TEXT_NAME}. */
  fields: Int32Array;
  /** The rules of every record, in record order. */
  rules: Int32Array;
  /** Each record's source address and credential id. */
  addresses: (string | undefined)[];
  credentialIds: (string | undefined)[];
  /** Names that travel as text, in the order their fields are read (record by record, field by field, then rules). */
  text: string[];
  /** Per kind, the names numbered since the batch before, in number order. */
  names: string[][];
}

/** Path shapes as activity keeps them: segments holding a digit read as `{}` (`/orders/{}/items`). */
export function pathShape(path: string): string {
  const q = path.indexOf('?');
  const p = q === -1 ? path : path.slice(0, q);
  return /\d/.test(p) ? p.replace(/[^/]*\d[^/]*/g, '{}') : p;
}

/** Reduces records to batches; give the batches to `ActivityCollector.addBatch` in the order taken. */
export class ActivityBatchWriter {
  private readonly numbers: NameTable[] = [];
  /** Per kind, the name numbered last and its number. */
  private readonly lastName: (string | undefined)[] = new Array<string | undefined>(NAME_KINDS).fill(
    undefined,
  );
  private readonly lastNumber = new Int32Array(NAME_KINDS);
  private batch!: ActivityBatch;
  private ruleCount = 0;

  constructor(
    private readonly capacity = 4096,
    private readonly maxNames = MAX_NAMES,
  ) {
    for (let k = 0; k < NAME_KINDS; k++) this.numbers.push(new NameTable());
    this.start();
  }

  get count(): number {
    return this.batch.count;
  }

  /** Adds a record; true when the batch is full and must be taken. */
  add(record: RecordFields): boolean {
    const b = this.batch;
    const i = b.count++;
    const o = i * FIELDS;
    const f = b.fields;
    b.times[i] = parseUtcTime(record.time);
    f[o + Field.spiffeId] = this.number(NameKind.spiffeId, record.spiffeId);
    f[o + Field.sourceZone] = this.number(NameKind.zone, record.sourceZone);
    f[o + Field.destinationZone] = this.number(NameKind.zone, record.destinationZone);
    f[o + Field.credentialType] = this.number(NameKind.credentialType, record.credentialType);
    f[o + Field.service] = this.number(NameKind.service, record.service);
    f[o + Field.method] = this.number(NameKind.method, record.method);
    f[o + Field.path] = this.number(
      NameKind.path,
      record.path === undefined ? undefined : pathShape(record.path),
    );
    const ua = record.userAgent;
    f[o + Field.userAgent] = this.number(NameKind.userAgent, typeof ua === 'string' ? ua : undefined);
    f[o + Field.layer] = this.number(NameKind.layer, record.layer);
    let flags = 0;
    if (record.decision === 'allow') flags |= Flag.allow;
    if (record.wouldDeny) flags |= Flag.wouldDeny;
    if (record.credential) flags |= Flag.credential;
    if (record.port !== undefined) {
      flags |= Flag.port;
      b.ports[i] = record.port;
    }
    f[o + Field.flags] = flags;
    const rules = record.rules;
    f[o + Field.rules] = rules.length;
    for (const r of rules) {
      if (this.ruleCount === b.rules.length) {
        const grown = new Int32Array(b.rules.length * 2);
        grown.set(b.rules);
        b.rules = grown;
      }
      b.rules[this.ruleCount++] = this.number(NameKind.rule, r);
    }
    b.addresses.push(record.ip);
    b.credentialIds.push(record.credentialId);
    return b.count === this.capacity;
  }

  /** The batch so far (its arrays trimmed to it); the next records go to a new one. */
  take(): ActivityBatch {
    const b = this.batch;
    b.times = fit(b.times, b.count);
    b.ports = fit(b.ports, b.count);
    b.fields = fit(b.fields, b.count * FIELDS);
    b.rules = fit(b.rules, this.ruleCount);
    this.start();
    return b;
  }

  private start(): void {
    this.batch = {
      count: 0,
      times: new Float64Array(this.capacity),
      ports: new Float64Array(this.capacity),
      fields: new Int32Array(this.capacity * FIELDS),
      rules: new Int32Array(this.capacity * 2),
      addresses: [],
      credentialIds: [],
      text: [],
      names: Array.from({ length: NAME_KINDS }, () => []),
    };
    this.ruleCount = 0;
  }

  private number(kind: number, name: string | undefined): number {
    if (name === undefined) return NO_NAME;
    // Most kinds have a few names, and a record often repeats one of the record before: comparing
    // with that is cheaper than hashing a string cut from a line to look it up.
    if (name === this.lastName[kind]) return this.lastNumber[kind]!;
    const numbers = this.numbers[kind]!;
    let n = numbers.get(name);
    if (n === -1) n = this.numberNew(kind, numbers, name);
    if (kind !== NameKind.spiffeId && n >= 0) {
      this.lastName[kind] = name;
      this.lastNumber[kind] = n;
    }
    return n;
  }

  private numberNew(kind: number, numbers: NameTable, name: string): number {
    if (numbers.size >= this.maxNames) {
      this.batch.text.push(name);
      return TEXT_NAME;
    }
    const kept = ownedString(name);
    this.batch.names[kind]!.push(kept);
    return numbers.add(kept);
  }
}

/** The first `n` items of `a`: `a` itself when it holds just those (a full batch is not copied). */
function fit<T extends Float64Array | Int32Array>(a: T, n: number): T {
  return n === a.length ? a : (a.slice(0, n) as T);
}

/** The buffers of a batch, to move it to another thread without copying. */
export function batchBuffers(b: ActivityBatch): ArrayBuffer[] {
  return [b.times.buffer, b.ports.buffer, b.fields.buffer, b.rules.buffer] as ArrayBuffer[];
}
