/**
 * The ports the pure core declares for what it needs from outside (STYLE.md §2).
 * Real implementations are created at the edge and passed in.
 */

/** Wall-clock time. The core never reads the system clock itself. */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
}

/** A source of unpredictable identifiers (decision ids, token ids). */
export interface Random {
  /** A fresh identifier, unique with overwhelming probability. */
  id(): string;
}

/** A clock that always answers the same instant; for tests and replay. */
export function fixedClock(epochMs: number): Clock {
  return { now: () => epochMs };
}
