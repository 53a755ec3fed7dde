/** Flag values several verbs read: listen addresses, durations and counts. */
import { UsageError } from './usage-error.js';

/** `HOST:PORT`, `[IPv6]:PORT`; port 0 asks the system for one. */
export function parseListen(text: string, flag = '--listen'): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:]+)):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new UsageError(`${flag} must be HOST:PORT, not \`${text}\``);
  return { host: (m[1] ?? m[2])!, port };
}

/** `500ms`, `2s`, or a bare number of milliseconds; 50 ms to 1 hour. */
export function parseDuration(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(text.trim());
  const ms = m ? Number(m[1]) * (m[2] === 's' ? 1000 : 1) : NaN;
  if (!(ms >= 50 && ms <= 3_600_000))
    throw new UsageError(`${flag} must be a duration from 50ms to 1h, such as 500ms or 2s`);
  return Math.round(ms);
}

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A long span, `90d`, `12h`, `30m` or `45s`: a whole number and a unit; 1 second to 100 years. */
export function parseSpan(text: string, flag: string): number {
  const m = /^(\d{1,6})(s|m|h|d)$/.exec(text.trim());
  const ms = m ? Number(m[1]) * UNIT_MS[m[2]!]! : NaN;
  if (!(ms >= 1000 && ms <= 36_500 * 86_400_000))
    throw new UsageError(
      `${flag} must be a whole number of days, hours, minutes or seconds, such as 90d or 12h`,
    );
  return ms;
}

/** A whole number flag of at least `min`; undefined when the flag was not given. */
export function countFlag(value: string | undefined, flag: string, min = 0): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min)
    throw new UsageError(`${flag} must be a whole number of at least ${min}, got \`${value}\``);
  return n;
}
