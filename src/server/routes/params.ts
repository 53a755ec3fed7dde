/**
 * Readers of request parameters, one for each kind of value, shared by every
 * route so that a parameter is read the same way wherever it arrives: from
 * the query, or from a JSON body.
 *
 * A parameter that is absent reads as undefined (a JSON `null` is not
 * absent). One that is present must have the form its reader wants, or the
 * request is refused with `400 request_invalid` naming the parameter and what
 * it must be; an empty value is present, so `?since=` is refused, not
 * ignored.
 */
import { parseRfc3339 } from '../../core/dates.js';
import { HttpError } from '../http-error.js';

/** Where parameters are read from: the query, or the object of a JSON body. */
export type Params = URLSearchParams | Readonly<Record<string, unknown>>;

// Decimal digits without a sign, exponent or leading zero.
const DECIMAL = /^(0|[1-9][0-9]*)$/;

/** A 400 `request_invalid` naming what is wrong with a parameter. */
export const invalid = (message: string): HttpError => new HttpError(400, 'request_invalid', message);

function raw(from: Params, name: string): unknown {
  if (from instanceof URLSearchParams) return from.get(name) ?? undefined;
  return Object.hasOwn(from, name) ? from[name] : undefined;
}

/**
 * An instant, as epoch ms: an RFC 3339 date-time with seconds and a zone
 * (`2026-11-20T10:00:00Z`, `2026-11-20T11:00:00.250+01:00`; see
 * {@link parseRfc3339}).
 * @throws HttpError 400 `request_invalid` for anything else, a date alone included
 */
export function timeParam(from: Params, name: string): number | undefined {
  const v = raw(from, name);
  if (v === undefined) return undefined;
  const ms = typeof v === 'string' ? parseRfc3339(v) : undefined;
  if (ms === undefined)
    throw invalid(`\`${name}\` must be an RFC 3339 date-time, such as 2026-11-20T10:00:00Z`);
  return ms;
}

/**
 * A whole number from `min` to `max` (at most `Number.MAX_SAFE_INTEGER`):
 * decimal digits (`0`, `42`; no sign, exponent, fraction, leading zero or
 * white space), or in a JSON body also a JSON number with an integer value.
 * @throws HttpError 400 `request_invalid` for anything else
 */
export function countParam(from: Params, name: string, min: number, max?: number): number | undefined {
  const v = raw(from, name);
  if (v === undefined) return undefined;
  const n = typeof v === 'number' ? v : typeof v === 'string' && DECIMAL.test(v) ? Number(v) : Number.NaN;
  const top = max ?? Number.MAX_SAFE_INTEGER;
  if (Number.isInteger(n) && n >= min && n <= top) return n;
  throw invalid(
    max === undefined && !(n > top)
      ? `\`${name}\` must be a whole number of ${min} or more`
      : `\`${name}\` must be a whole number from ${min} to ${top}`,
  );
}

/**
 * One of the `allowed` values, exactly (case included). `label` names the
 * parameter in the error when it is nested (`flows.format`).
 * @throws HttpError 400 `request_invalid` for anything else
 */
export function enumParam<const T extends readonly string[]>(
  from: Params,
  name: string,
  allowed: T,
  label = name,
): T[number] | undefined {
  const v = raw(from, name);
  if (v === undefined) return undefined;
  if (typeof v === 'string' && (allowed as readonly string[]).includes(v)) return v as T[number];
  const last = allowed[allowed.length - 1];
  throw invalid(
    `\`${label}\` must be ${allowed.length > 1 ? `${allowed.slice(0, -1).join(', ')} or ${last}` : last}`,
  );
}

/**
 * The list a JSON body holds in `field`: 1 to `max` items, or 400
 * `request_invalid` saying so (`what` names the items).
 */
export function bodyList(body: unknown, field: string, max: number, what: string): unknown[] {
  const list = (body as Record<string, unknown> | undefined)?.[field];
  if (!Array.isArray(list) || list.length === 0 || list.length > max)
    throw new HttpError(400, 'request_invalid', `\`${field}\` must be a list of 1 to ${max} ${what}`);
  return list;
}
