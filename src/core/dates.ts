import { FIRST_ISO_MS, LAST_ISO_MS, parseUtcTime, two } from './utc-time.js';

/** A date as `YYYY-MM-DD` at the start of a text. */
const PLAIN_DATE = /^\d{4}-\d\d-\d\d/;

/** Days in a month of the proleptic Gregorian calendar, as `Date` counts them. */
function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/** `Date.parse` rolls `2026-02-30` over to March; a real date survives the round trip. */
export function isRealDate(text: string): boolean {
  // An inventory holds hundreds of thousands of times: the common forms are read without a Date.
  const ms = parseUtcTime(text);
  if (Number.isNaN(ms)) return false;
  if (PLAIN_DATE.test(text)) {
    const month = two(text, 5);
    const day = two(text, 8);
    return (
      month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth(two(text, 0) * 100 + two(text, 2), month)
    );
  }
  const [y, m, d] = text.slice(0, 10).split('-').map(Number) as [number, number, number];
  // Not Date.UTC, which reads the years 0 to 99 as 1900 to 1999.
  const day = new Date(0);
  day.setUTCFullYear(y, m - 1, d);
  return day.getUTCFullYear() === y && day.getUTCMonth() === m - 1 && day.getUTCDate() === d;
}

/** The form `Date.prototype.toISOString` writes for the years 0000 to 9999. */
const ISO_STRING = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

/**
 * Whether `text` is what `toISOString` writes for some instant of the years
 * 0000 to 9999 (`2026-01-02T03:04:05.000Z`): read on its characters, without
 * making a Date.
 */
export function isIsoString(text: string): boolean {
  return (
    ISO_STRING.test(text) &&
    two(text, 11) <= 23 &&
    two(text, 14) <= 59 &&
    two(text, 17) <= 59 &&
    isRealDate(text)
  );
}

/**
 * `new Date(text).toISOString()` for a time `Date` reads; the text itself
 * when it is already that string, without making a Date.
 */
export function toIsoString(text: string): string {
  return isIsoString(text) ? text : new Date(text).toISOString();
}

// RFC 3339 §5.6 date-time; `T` and `Z` may be lower case (§5.6 NOTE). A leap second (`:60`) has
// no Date value and is refused.
const DATE_TIME =
  /^\d{4}-\d{2}-\d{2}[Tt]([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d+)?([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d)$/;

/**
 * The instant of an RFC 3339 §5.6 `date-time` in epoch ms (fractions below a
 * millisecond dropped): `2026-11-20T10:00:00Z`, `2026-11-20T11:00:00.250+01:00`.
 * Undefined for anything else: a date alone, a time without seconds or zone,
 * a date that is not in the calendar (`2026-02-30`), hour 24, a leap second,
 * and an instant outside the years 0000–9999 in UTC (which an offset can
 * reach from `9999-12-31`), the range the store keeps.
 */
export function parseRfc3339(text: string): number | undefined {
  if (!DATE_TIME.test(text) || !isRealDate(text)) return undefined;
  const ms = Date.parse(text);
  return ms >= FIRST_ISO_MS && ms <= LAST_ISO_MS ? ms : undefined;
}

/**
 * The one form the stores keep a time in, so that text order is time order:
 * what `toISOString` writes (UTC, milliseconds) for the instant of an RFC
 * 3339 `date-time`, the text itself when it is that form already. Undefined
 * for text {@link parseRfc3339} refuses.
 */
export function canonicalTime(text: string): string | undefined {
  if (isIsoString(text)) return text;
  const ms = parseRfc3339(text);
  return ms === undefined ? undefined : new Date(ms).toISOString();
}
