/**
 * Reads an `strace -f` log (openat, close, write, writev, pwrite64,
 * fdatasync, fsync) of a process that keeps a decision spool, to check the
 * order of its system calls: at each checkpoint (a settle returning, an
 * answer leaving) every write to a spool file must have been followed by a
 * data sync of that file, and every spool file made by a sync of the
 * directory (or its name could be lost with the machine).
 */
import { spawnSync } from 'node:child_process';

const TRACED_CALLS = 'trace=openat,close,write,writev,pwrite64,fdatasync,fsync';

/** Arguments of `strace` running node with `nodeArgs`, its calls and its threads' logged to `traceFile`. */
export function tracedNode(traceFile: string, nodeArgs: string[]): string[] {
  return ['-f', '-o', traceFile, '-e', TRACED_CALLS, '--', process.execPath, ...nodeArgs];
}

/** Whether strace can be run here (the Debian package `strace`). */
export const straceAvailable = spawnSync('strace', ['-V']).error === undefined;

export interface SyncCheck {
  /** What was not synced at a checkpoint, each time it was not. */
  problems: string[];
  /** Writes to spool files seen. */
  writes: number;
  /** Checkpoints seen. */
  checkpoints: number;
}

/**
 * `isCheckpoint` is told each write or writev: its file descriptor and the
 * rest of the line after `(fd, `.
 */
export function checkSyncs(
  log: string,
  spoolDir: string,
  isCheckpoint: (fd: string, args: string) => boolean,
): SyncCheck {
  const segmentFd = new Map<string, string>();
  let dirFd: string | undefined;
  const dirty = new Set<string>();
  const result: SyncCheck = { problems: [], writes: 0, checkpoints: 0 };
  for (const line of log.split('\n')) {
    let m = /^\d+\s+openat\(AT_FDCWD, "([^"]+)", [^)]*\) = (\d+)/.exec(line);
    if (m) {
      const [, file, fd] = m;
      if (file!.startsWith(`${spoolDir}/`) && file!.endsWith('.jsonl')) {
        segmentFd.set(fd!, file!);
        dirty.add(`file ${file} not in its directory`);
      } else if (file === spoolDir) dirFd = fd;
      continue;
    }
    // A call another thread interrupted reads `fdatasync(19 <unfinished ...>`: its start counts.
    m = /^\d+\s+(close|write|writev|pwrite64|fdatasync|fsync)\((\d+)([,) ].*)$/.exec(line);
    if (!m) continue;
    const [, call, fd, args] = m;
    if (call === 'close') {
      // Its number may be given to the next file opened.
      segmentFd.delete(fd!);
      if (fd === dirFd) dirFd = undefined;
    } else if (call === 'fdatasync' || call === 'fsync') {
      if (segmentFd.has(fd!)) dirty.delete(`write to ${segmentFd.get(fd!)}`);
      if (fd === dirFd) for (const d of [...dirty]) if (d.startsWith('file ')) dirty.delete(d);
    } else if (segmentFd.has(fd!)) {
      result.writes++;
      dirty.add(`write to ${segmentFd.get(fd!)}`);
    } else if (isCheckpoint(fd!, args!)) {
      result.checkpoints++;
      result.problems.push(...dirty);
      dirty.clear();
    }
  }
  return result;
}
