/**
 * Timestamps cross the store port as RFC 3339 text. The store keeps one
 * canonical form, UTC with milliseconds (`2026-01-02T03:04:05.000Z`), so that
 * text order is time order in SQLite and values read back the same from
 * either adapter.
 */
import { isRealDate } from '../../core/dates.js';
import { GatehouseError } from '../../core/errors.js';

// RFC 3339 §5.6 date-time; a leap second (`:60`) has no Date value and is refused.
const DATE_TIME =
  /^\d{4}-\d{2}-\d{2}[Tt]([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d+)?([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d)$/;

/**
 * The canonical form of an RFC 3339 timestamp: converted to UTC, fractions
 * below a millisecond dropped. Throws `store_error` naming `field` for text
 * that is not an RFC 3339 date-time with a real calendar date, and for instants
 * outside the years 0000–9999.
 */
export function storedTime(value: string, field: string): string {
  if (typeof value === 'string' && DATE_TIME.test(value) && isRealDate(value)) {
    const iso = new Date(Date.parse(value)).toISOString();
    // Offsets can push an instant past 9999-12-31; the expanded-year form would break text order.
    if (/^\d{4}-/.test(iso)) return iso;
  }
  throw new GatehouseError(
    'store_error',
    `invalid timestamp \`${String(value)}\` for ${field}: want RFC 3339`,
  );
}

/** {@link storedTime} for an optional value; absent stays absent (SQL NULL). */
export function storedTimeOrNull(value: string | undefined, field: string): string | null {
  return value === undefined ? null : storedTime(value, field);
}
