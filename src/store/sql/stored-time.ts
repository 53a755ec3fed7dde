/**
 * Timestamps cross the store port as RFC 3339 text. The store keeps one
 * canonical form, UTC with milliseconds (`2026-01-02T03:04:05.000Z`), so that
 * text order is time order in SQLite and values read back the same from
 * either adapter.
 */
import { canonicalTime } from '../../core/dates.js';
import { GatehouseError } from '../../core/errors.js';

/**
 * The canonical form of an RFC 3339 timestamp: converted to UTC, fractions
 * below a millisecond dropped. Throws `store_error` naming `field` for text
 * that is not an RFC 3339 date-time with a real calendar date, and for instants
 * outside the years 0000–9999 (the expanded-year form would break text order).
 */
export function storedTime(value: string, field: string): string {
  // One definition with `gatehouse decisions verify`, which checks each record's `decided_at` by it.
  const canonical = typeof value === 'string' ? canonicalTime(value) : undefined;
  if (canonical !== undefined) return canonical;
  throw new GatehouseError(
    'store_error',
    `invalid timestamp \`${String(value)}\` for ${field}: want RFC 3339`,
  );
}

/** {@link storedTime} for an optional value; absent stays absent (SQL NULL). */
export function storedTimeOrNull(value: string | undefined, field: string): string | null {
  return value === undefined ? null : storedTime(value, field);
}
