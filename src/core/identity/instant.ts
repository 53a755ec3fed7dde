/**
 * Instants as the identity core receives them. The core never reads the
 * system clock (STYLE.md §1): callers pass `clock.now()` or a `Date`.
 */
import { GatehouseError } from '../errors.js';

/** Milliseconds since the Unix epoch, or a `Date`. */
export type Instant = number | Date;

/**
 * The instant in epoch milliseconds.
 * @throws GatehouseError `request_invalid` when it is not a finite time
 */
export function epochMs(at: Instant): number {
  const ms = at instanceof Date ? at.getTime() : at;
  if (typeof ms !== 'number' || !Number.isFinite(ms)) {
    throw new GatehouseError('request_invalid', 'invalid instant: expected epoch milliseconds or a Date');
  }
  return ms;
}

/** RFC 3339 in UTC with milliseconds, the form timestamps cross the store port in. */
export function isoOf(ms: number): string {
  return new Date(ms).toISOString();
}
