/** `Date.parse` rolls `2026-02-30` over to March; a real date survives the round trip. */
export function isRealDate(text: string): boolean {
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) return false;
  const [y, m, d] = text.slice(0, 10).split('-').map(Number) as [number, number, number];
  // Not Date.UTC, which reads the years 0 to 99 as 1900 to 1999.
  const day = new Date(0);
  day.setUTCFullYear(y, m - 1, d);
  return day.getUTCFullYear() === y && day.getUTCMonth() === m - 1 && day.getUTCDate() === d;
}

// RFC 3339 §5.6 date-time; `T` and `Z` may be lower case (§5.6 NOTE). A leap second (`:60`) has
// no Date value and is refused.
const DATE_TIME =
  /^\d{4}-\d{2}-\d{2}[Tt]([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d+)?([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d)$/;
/** 0000-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z, in epoch ms. */
const FIRST = -62_167_219_200_000;
const LAST = 253_402_300_799_999;

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
  return ms >= FIRST && ms <= LAST ? ms : undefined;
}
