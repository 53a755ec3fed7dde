import { UsageError } from './usage-error.js';

/** Parses an RFC 3339 flag value to epoch milliseconds. */
export function parseTimeFlag(value: string, flag: string): number {
  const ms = /^\d{4}-\d{2}-\d{2}(T.*)?$/.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(ms)) throw new UsageError(`${flag} must be an RFC 3339 date-time, got \`${value}\``);
  return ms;
}
