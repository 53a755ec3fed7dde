/**
 * The proxy's last synced state on file: the policy texts, the trust bundle
 * and the revocations it enforces, written after each sync that changed them
 * and read when the proxy starts. A proxy restarted while the control plane
 * is away then enforces what it enforced before, instead of denying every
 * request until the server is back (as OPA does with a persisted bundle).
 *
 * The file is replaced whole (written beside it, synced, renamed over it), so
 * a crash leaves the previous state or the new one, never a mix. What is read
 * back is checked as a sync answer would be (sync-client.ts); a file that
 * does not pass is not used at all, for a state missing some revocations
 * would let their credentials in.
 */
import { constants, readFileSync } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import type { Revocation } from '../core/identity/credential.js';
import { parseRevocationCursor } from '../core/identity/revocation-cursor.js';
import { GatehouseError } from '../core/errors.js';
import type { PolicySourceText } from '../core/policy/index.js';
import { makeDirectory } from '../make-directory.js';
import { isLoggedFailure, type Logger } from '../server/logger.js';

export const SYNCED_STATE_FORMAT = 'gatehouse.proxy.synced-state/v1';

/** What a proxy held after its last sync that left it with a policy. */
export interface SyncedState {
  format: typeof SYNCED_STATE_FORMAT;
  /** The control plane it was synced from: a state of another server is not used. */
  server: string;
  /** When that sync succeeded, RFC 3339. */
  syncedAt: string;
  policy: {
    revision: string;
    /** The store's number of its activation (absent from servers of earlier versions). */
    activation?: number;
    sources: PolicySourceText[];
  };
  bundle: { trustDomain: string; sequence: number; value: unknown };
  revocations: Revocation[];
  /** Where the next sync takes up the revocations. */
  revocationCursor?: string;
}

/** The default file name, in the proxy's spool directory. */
export const SYNCED_STATE_FILE = 'synced-state.json';

/**
 * A state that could not be written is tried again this often until it is,
 * or a newer one replaces it. A sync saves only what it changed, and the
 * proxy enforces the state whether or not it reached the file: without a
 * retry, a disk that had room again would keep the older state (missing the
 * revocations enforced since) until the next change, for a restart to find.
 */
export const SAVE_RETRY_MS = 1_000;

export class SyncedStateFile {
  private pending: SyncedState | undefined;
  private writing: Promise<void> | undefined;
  private failures = 0;
  /** The last state saved, until it is on file. */
  private unsaved: SyncedState | undefined;
  private retry: NodeJS.Timeout | undefined;

  constructor(
    readonly file: string,
    private readonly logger: Logger,
  ) {}

  /**
   * The state on file; undefined when there is none.
   * @throws GatehouseError `store_error` when the file cannot be read or is not a state of this format
   */
  read(): SyncedState | undefined {
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw stateError(`cannot read ${this.file}: ${(error as Error).message}`, error);
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      throw stateError(`${this.file} is not JSON: ${(error as Error).message}`, error);
    }
    const problem = shapeProblem(value);
    if (problem) throw stateError(`${this.file}: ${problem}`);
    return value as SyncedState;
  }

  /**
   * Writes `state` in the background. Writes do not overlap: a state saved
   * while one is being written replaces any other waiting, and goes next.
   */
  save(state: SyncedState): void {
    clearTimeout(this.retry);
    this.retry = undefined;
    this.unsaved = state;
    this.pending = state;
    this.writing ??= this.drain();
  }

  /**
   * Resolves once every state saved so far is on file (or failed); one that
   * failed before and waits to be tried again is tried once more now.
   */
  async flush(): Promise<void> {
    if (this.retry && this.unsaved) this.save(this.unsaved);
    await this.writing;
  }

  private async drain(): Promise<void> {
    while (this.pending) {
      const state = this.pending;
      this.pending = undefined;
      try {
        await replaceFile(this.file, JSON.stringify(state));
        if (this.unsaved === state) this.unsaved = undefined;
        if (this.failures > 0) {
          this.logger.log('info', 'synced_state_saved', { file: this.file, afterFailures: this.failures });
          this.failures = 0;
        }
      } catch (error) {
        this.failures++;
        if (isLoggedFailure(this.failures))
          this.logger.log('warn', 'synced_state_save_failed', {
            file: this.file,
            failures: this.failures,
            error: (error as Error).message,
          });
      }
    }
    this.writing = undefined;
    const unsaved = this.unsaved;
    if (unsaved) {
      // Unref'd: a proxy that stops is not held by it (close() flushes once more).
      this.retry = setTimeout(() => this.save(unsaved), SAVE_RETRY_MS);
      this.retry.unref();
    }
  }
}

/** Writes `text` beside `file`, syncs it and renames it over `file`, then syncs the directory. */
async function replaceFile(file: string, text: string): Promise<void> {
  makeDirectory(dirname(file));
  // A name of this write's own: proxies in separate containers sharing the file may have the same
  // process id. Made anew, never followed as a link.
  const temporary = join(
    dirname(file),
    `.${basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`,
  );
  const handle = await open(
    temporary,
    constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
    0o600,
  );
  try {
    await handle.writeFile(text);
    await handle.sync();
  } catch (error) {
    await handle.close();
    await unlink(temporary).catch(() => undefined);
    throw error;
  }
  await handle.close();
  await rename(temporary, file);
  // The rename itself outlives a power cut only once the directory is synced.
  const directory = await open(dirname(file), constants.O_RDONLY);
  try {
    await directory.sync();
  } finally {
    await directory.close();
  }
}

/** Why `value` is not a synced state of this format, or undefined when it is one. */
function shapeProblem(value: unknown): string | undefined {
  if (!isObject(value)) return 'not a JSON object';
  if (value.format !== SYNCED_STATE_FORMAT)
    return `format is ${JSON.stringify(value.format)}, expected "${SYNCED_STATE_FORMAT}"`;
  if (typeof value.server !== 'string') return 'server is not a string';
  if (typeof value.syncedAt !== 'string' || Number.isNaN(Date.parse(value.syncedAt)))
    return 'syncedAt is not a date-time';
  const { policy, bundle, revocations, revocationCursor } = value;
  if (!isObject(policy) || typeof policy.revision !== 'string' || !Array.isArray(policy.sources))
    return 'policy is not {revision, sources}';
  if (policy.activation !== undefined && !Number.isSafeInteger(policy.activation))
    return 'policy.activation is not a whole number';
  const badSource = policy.sources.findIndex(
    (s: unknown) => !isObject(s) || typeof s.file !== 'string' || typeof s.text !== 'string',
  );
  if (badSource >= 0) return `policy.sources[${badSource}] is not {file, text}`;
  if (
    !isObject(bundle) ||
    typeof bundle.trustDomain !== 'string' ||
    !Number.isSafeInteger(bundle.sequence) ||
    bundle.value === undefined
  )
    return 'bundle is not {trustDomain, sequence, value}';
  if (!Array.isArray(revocations)) return 'revocations is not an array';
  // Read as the server reads it: one it refuses would fail every sync of the proxy, which would
  // then enforce this state for ever, however many revocations the server records meanwhile.
  if (revocationCursor !== undefined && !isRevocationCursor(revocationCursor))
    return 'revocationCursor is not a cursor of the server';
  return undefined;
}

function isRevocationCursor(value: unknown): boolean {
  if (typeof value !== 'string') return false;
  try {
    parseRevocationCursor(value);
    return true;
  } catch {
    return false;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stateError(message: string, cause?: unknown): GatehouseError {
  return new GatehouseError('store_error', message, cause === undefined ? {} : { cause });
}
