/**
 * The proxy's decision spool: every decision record, as the JSON text it is
 * shipped as, appended to a file before the caller gets its answer, so that
 * a proxy killed or restarted while the control plane is away (or slow to
 * take records) ships them when it comes back instead of losing them.
 *
 * Layout of the directory (one proxy at a time, held by `lock`):
 * - `NNNNNNNNNNNNNNNN.jsonl`, segments of up to `segmentRecords` records, one
 *   JSON text a line, named by the number of their first record; a record's
 *   number is its segment's plus its line.
 * - `acked`, the number of the first record not yet taken by the control
 *   plane: records before it are not shipped again, and a segment wholly
 *   before it is deleted.
 *
 * Writes go to the operating system, not through to the disk: the records
 * outlive the process (kill -9, a crash, a restart), not the machine. With
 * `sync`, each write is also synced to the disk (`fdatasync`, and the
 * directory when a segment file is made) before {@link settle} returns, so
 * that they outlive the machine too, at the cost of a disk sync on the
 * proxy's event loop per write. They are written by {@link settle}, which the proxy calls just before each
 * answer that carries a decision leaves: under load the records of every
 * request decided since the last answer go in one write. A record whose
 * answer never leaves (its caller went away) is written within
 * {@link LATE_WRITE_MS}.
 *
 * A segment cut short by a crash ends in a partial line; it is skipped when
 * the spool is read again, and so is any line that is not a JSON object.
 */
import {
  closeSync,
  fdatasyncSync,
  fsyncSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { GatehouseError } from '../core/errors.js';
import { makeDirectory } from '../make-directory.js';

export interface SpooledRecord {
  /** Its number in the spool, from 0; increasing in the order appended. */
  n: number;
  /** The record's JSON text, as shipped. */
  text: string;
}

export interface SpoolOptions {
  /** Records to a segment file before the next one starts; default 10 000. */
  segmentRecords?: number;
  /** Told when records could not be written, and how many (they are not tried again). */
  failed?: (error: GatehouseError, records: number) => void;
  /** Sync each write to the disk before {@link DecisionSpool.settle} returns; default false. */
  sync?: boolean;
}

/** What {@link DecisionSpool.open} found from earlier runs. */
export interface SpoolRecovery {
  /** Records not yet taken by the control plane, oldest first. */
  records: SpooledRecord[];
  /** Lines skipped: cut short by a crash, or not a JSON object. */
  skipped: number;
  /** Whether the lock of a process no longer running was taken over. */
  staleLock: boolean;
  /**
   * What the cursor file held when it was not a record number (a disk fault, a hand's edit):
   * every record on file is shipped again then, marked as sent before, for the server to skip
   * those it holds. Absent when the cursor was read.
   */
  unreadableCursor?: string;
}

/** How long a record may wait for an answer to write it before it is written anyway. */
export const LATE_WRITE_MS = 20;

const SEGMENT = /^(\d{16})\.jsonl$/;
const LOCK = 'lock';
const ACKED = 'acked';

interface Segment {
  first: number;
  /** Records numbered in it so far (lines written or being written). */
  count: number;
}

export class DecisionSpool {
  private readonly segments: Segment[] = [];
  /** The open segment's file descriptor; undefined until the first append after opening or a failure. */
  private fd: number | undefined;
  private pending: string[] = [];
  private pendingFrom = 0;
  private next = 0;
  private acked = 0;
  private late: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly segmentRecords: number;

  private constructor(
    readonly dir: string,
    private readonly options: SpoolOptions,
    readonly recovery: SpoolRecovery,
  ) {
    this.segmentRecords = options.segmentRecords ?? 10_000;
  }

  /**
   * Opens (creating it if need be) and locks the spool in `dir`, and reads
   * the records earlier runs left unshipped. Throws `store_error` when the
   * directory cannot be used, or another running process holds it.
   */
  static open(dir: string, options: SpoolOptions = {}): DecisionSpool {
    try {
      makeDirectory(dir);
    } catch (error) {
      throw spoolError(`cannot create the decision spool ${dir}: ${(error as Error).message}`, error);
    }
    const staleLock = lock(dir);
    try {
      const spool = new DecisionSpool(dir, options, { records: [], skipped: 0, staleLock });
      spool.recover();
      return spool;
    } catch (error) {
      rmSync(join(dir, LOCK), { force: true });
      if (error instanceof GatehouseError) throw error;
      throw spoolError(`cannot read the decision spool ${dir}: ${(error as Error).message}`, error);
    }
  }

  /**
   * Numbers `text` (one record's JSON, without line breaks) and queues it to
   * be written by the next {@link settle}, within {@link LATE_WRITE_MS} at
   * the latest. After {@link close}, writes nothing and answers -1
   * ({@link SpoolOptions.failed} is told).
   */
  append(text: string): number {
    if (this.closed) {
      this.options.failed?.(spoolError(`the decision spool ${this.dir} is closed`), 1);
      return -1;
    }
    const n = this.next++;
    if (this.pending.length === 0) this.pendingFrom = n;
    this.pending.push(text);
    // One timer at a time, armed when the queue fills and not again while it waits: most
    // records are written by the answer that follows their decision, before it fires.
    if (this.late === undefined) {
      this.late = setTimeout(() => {
        this.late = undefined;
        this.settle();
      }, LATE_WRITE_MS);
    }
    return n;
  }

  /**
   * Writes what is queued now. When it cannot, the records queued are not
   * spooled ({@link SpoolOptions.failed} is told how many) and the next ones
   * go to a new segment.
   */
  settle(): void {
    if (this.pending.length === 0) return;
    const lines = this.pending;
    const from = this.pendingFrom;
    this.pending = [];
    let at = 0;
    try {
      while (at < lines.length) {
        const segment = this.writable(from + at);
        const room = Math.min(lines.length - at, segment.first + this.segmentRecords - (from + at));
        const chunk = at === 0 && room === lines.length ? lines : lines.slice(at, at + room);
        const text = chunk.length === 1 ? `${chunk[0]}\n` : `${chunk.join('\n')}\n`;
        // Count first: a partial write still takes the numbers of the lines it started.
        segment.count += room;
        writeAll(this.fd!, text);
        at += room;
        // A segment left for a new one was synced as it was closed; this one is synced here.
        if (this.options.sync === true && at === lines.length) fdatasyncSync(this.fd!);
      }
    } catch (error) {
      // The segment may end in a partial line now: close it, so that the next lines start clean.
      try {
        this.closeSegment();
      } catch {
        // Already reported below; the descriptor is dropped either way.
      }
      this.options.failed?.(
        spoolError(
          `cannot write ${lines.length - at} decision record(s) to the spool ${this.dir}: ${(error as Error).message}`,
          error,
        ),
        lines.length - at,
      );
    }
  }

  /**
   * Marks every record before number `n` as taken by the control plane:
   * they are not shipped again after a restart, and segments holding only
   * such records are deleted.
   */
  acknowledge(n: number): void {
    if (n <= this.acked) return;
    this.acked = n;
    const tmp = join(this.dir, `${ACKED}.tmp`);
    writeFileSync(tmp, `${n}\n`);
    renameSync(tmp, join(this.dir, ACKED));
    const open = this.fd === undefined ? undefined : this.segments.at(-1);
    while (this.segments.length > 0) {
      const s = this.segments[0]!;
      if (s.first + s.count > n || s === open) break;
      unlinkSync(join(this.dir, segmentName(s.first)));
      this.segments.shift();
    }
  }

  /** The number the next record appended will get. */
  nextNumber(): number {
    return this.next;
  }

  /** Writes what is queued and releases the spool; the records left stay for the next run. */
  close(): void {
    if (this.closed) return;
    this.settle();
    this.closed = true;
    if (this.late !== undefined) clearTimeout(this.late);
    this.late = undefined;
    try {
      this.closeSegment();
    } finally {
      rmSync(join(this.dir, LOCK), { force: true });
    }
  }

  /** The open segment for record `n`: the current one while it has room, else a new one. */
  private writable(n: number): Segment {
    const last = this.segments.at(-1);
    if (this.fd !== undefined && last && n < last.first + this.segmentRecords) return last;
    this.closeSegment();
    const segment: Segment = { first: n, count: 0 };
    this.fd = openSync(join(this.dir, segmentName(n)), 'a');
    this.segments.push(segment);
    // The new file's name must reach the disk too, or its synced lines could be lost with it.
    if (this.options.sync === true) syncDirectory(this.dir);
    return segment;
  }

  private closeSegment(): void {
    if (this.fd === undefined) return;
    const fd = this.fd;
    this.fd = undefined;
    try {
      if (this.options.sync === true) fdatasyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }

  private recover(): void {
    const acked = readAcked(this.dir);
    if (typeof acked === 'string') this.recovery.unreadableCursor = acked;
    this.acked = typeof acked === 'number' ? acked : 0;
    const firsts = readdirSync(this.dir)
      .map((name) => SEGMENT.exec(name)?.[1])
      .filter((m): m is string => m !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
    let next = this.acked;
    for (const first of firsts) {
      const text = readFileSync(join(this.dir, segmentName(first)), 'utf8');
      const lines = text.split('\n');
      // What follows the last line break is a line cut short (or nothing).
      const partial = lines.pop()!;
      if (partial !== '') this.recovery.skipped++;
      const count = lines.length + (partial === '' ? 0 : 1);
      if (first + count <= this.acked) {
        unlinkSync(join(this.dir, segmentName(first)));
        continue;
      }
      this.segments.push({ first, count });
      for (let i = 0; i < lines.length; i++) {
        const n = first + i;
        if (n < this.acked) continue;
        if (isJsonObject(lines[i]!)) this.recovery.records.push({ n, text: lines[i]! });
        else this.recovery.skipped++;
      }
      next = Math.max(next, first + count);
    }
    this.next = next;
  }
}

function syncDirectory(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function segmentName(first: number): string {
  return `${String(first).padStart(16, '0')}.jsonl`;
}

/** The cursor: a record number, or the text it held instead. */
function readAcked(dir: string): number | string {
  let text: string;
  try {
    text = readFileSync(join(dir, ACKED), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw error;
  }
  const n = Number(text.trim());
  // Not a number: what it holds, for the caller to start over rather than not start at all.
  if (!Number.isSafeInteger(n) || n < 0) return text.trim().slice(0, 40);
  return n;
}

function isJsonObject(line: string): boolean {
  if (line.charCodeAt(0) !== 0x7b) return false;
  try {
    const v: unknown = JSON.parse(line);
    return typeof v === 'object' && v !== null && !Array.isArray(v);
  } catch {
    return false;
  }
}

function writeAll(fd: number, text: string): void {
  // Written as a string (no buffer made first); a short write, rare for a file, goes on from the bytes.
  let at = writeSync(fd, text);
  if (at === Buffer.byteLength(text)) return;
  const bytes = Buffer.from(text, 'utf8');
  while (at < bytes.length) at += writeSync(fd, bytes, at, bytes.length - at);
}

/**
 * Takes the spool's lock file for this process. A lock left by a process
 * that no longer runs (or by this process's id in an earlier life, as a
 * container's first process) is taken over; returns whether it was.
 */
function lock(dir: string): boolean {
  const file = join(dir, LOCK);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, `${process.pid}\n`, { flag: 'wx' });
      return attempt > 0;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST')
        throw spoolError(`cannot lock the decision spool ${dir}: ${(error as Error).message}`, error);
    }
    const holder = Number(readFileSync(file, 'utf8').trim());
    if (Number.isSafeInteger(holder) && holder > 0 && holder !== process.pid && running(holder)) {
      throw spoolError(
        `the decision spool ${dir} is in use by process ${holder}: give each proxy its own --decision-spool ` +
          `(if that process is not a proxy, remove ${file})`,
      );
    }
    rmSync(file, { force: true });
  }
  throw spoolError(`cannot lock the decision spool ${dir}: another process keeps taking it`);
}

function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it runs, as another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function spoolError(message: string, cause?: unknown): GatehouseError {
  return new GatehouseError('store_error', message, cause === undefined ? {} : { cause });
}
