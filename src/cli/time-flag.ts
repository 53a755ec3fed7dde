import { parseRfc3339 } from '../core/dates.js';
import { UsageError } from './usage-error.js';

const DATE = /^\d{4}-\d{2}-\d{2}$/;

/**
 * A time flag's value in epoch ms: an RFC 3339 date-time with a zone, as the
 * API takes it (`2026-11-22T10:00:00Z`), or a date alone, read as the start
 * of that day in UTC (`2026-11-22`). A date-time without a zone would be read
 * in the machine's time zone, so it is refused rather than guessed.
 */
export function parseTimeFlag(value: string, flag: string): number {
  const ms = DATE.test(value) ? parseRfc3339(`${value}T00:00:00Z`) : parseRfc3339(value);
  if (ms === undefined)
    throw new UsageError(
      `${flag} must be an RFC 3339 date-time with a zone, such as 2026-11-22T10:00:00Z, or a date such as 2026-11-22; got \`${value}\``,
    );
  return ms;
}
