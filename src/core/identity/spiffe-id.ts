import { GatehouseError } from '../errors.js';

/**
 * A SPIFFE ID (SPIFFE-ID standard §2): `spiffe://<trust domain><path>`.
 * `path` is empty or starts with `/`; it never ends with `/`.
 */
export interface SpiffeId {
  readonly trustDomain: string;
  readonly path: string;
  toString(): string;
}

// SPIFFE-ID §2.1: trust domain characters are lower-case letters, digits, `.`, `-` and `_`.
const TRUST_DOMAIN_CHAR = /^[a-z0-9._-]+$/;
// SPIFFE-ID §2.2: path segment characters are letters, digits, `.`, `-` and `_`.
const SEGMENT_CHAR = /^[A-Za-z0-9._-]+$/;
// A whole path of such segments, each non-empty, and one with a `.` or `..` segment: the common,
// valid case is settled by two scans; the checks below say what is wrong with the others.
const VALID_PATH = /^(?:\/[A-Za-z0-9._-]+)+$/;
const DOT_SEGMENT = /\/\.\.?(?:\/|$)/;
const SCHEME = 'spiffe://';
// SPIFFE-ID §2.3: a SPIFFE ID is at most 2048 bytes; §2.1: a trust domain at most 255.
const MAX_ID_BYTES = 2048;
const MAX_TRUST_DOMAIN_BYTES = 255;

class ParsedSpiffeId implements SpiffeId {
  constructor(
    readonly trustDomain: string,
    readonly path: string,
  ) {}
  toString(): string {
    return `${SCHEME}${this.trustDomain}${this.path}`;
  }
  toJSON(): string {
    return this.toString();
  }
}

function fail(text: string, why: string): never {
  const shown = text.length > 120 ? `${text.slice(0, 117)}...` : text;
  throw new GatehouseError('spiffe_id_invalid', `invalid SPIFFE ID \`${shown}\`: ${why}`);
}

/** Why `text` is not a valid trust domain name, or undefined when it is. */
export function trustDomainProblem(td: string): string | undefined {
  if (td.length !== 0 && td.length <= MAX_TRUST_DOMAIN_BYTES && TRUST_DOMAIN_CHAR.test(td)) return undefined;
  if (td.length === 0) return 'trust domain is missing';
  if (td.length > MAX_TRUST_DOMAIN_BYTES)
    return `trust domain is longer than ${MAX_TRUST_DOMAIN_BYTES} bytes`;
  if (td.includes(':')) return 'a port is not allowed in the trust domain';
  if (td.includes('@')) return 'userinfo is not allowed in the trust domain';
  if (/[A-Z]/.test(td)) return 'trust domain must be lower case';
  if (!TRUST_DOMAIN_CHAR.test(td)) return 'trust domain may contain only a-z, 0-9, `.`, `-` and `_`';
  return undefined;
}

/** Why `path` (empty or starting with `/`) is not a valid SPIFFE ID path, or undefined. */
export function pathProblem(path: string): string | undefined {
  if (path === '' || (VALID_PATH.test(path) && !DOT_SEGMENT.test(path))) return undefined;
  if (!path.startsWith('/')) return 'path must start with `/`';
  if (path.endsWith('/')) return 'path must not end with `/`';
  const segments = path.slice(1).split('/');
  for (const segment of segments) {
    if (segment === '') return 'path must not contain empty segments';
    if (segment === '.' || segment === '..') return 'path must not contain `.` or `..` segments';
    if (segment.includes('%')) return 'percent-encoding is not allowed';
    if (!SEGMENT_CHAR.test(segment))
      return 'path segments may contain only letters, digits, `.`, `-` and `_`';
  }
  return undefined;
}

/**
 * Parses a SPIFFE ID strictly per the SPIFFE-ID standard. Rejects upper case
 * in the scheme or trust domain (the standard requires lower case there),
 * query, fragment, port, userinfo, empty or dot segments, percent-encoding,
 * a trailing slash, IDs over 2048 bytes and trust domains over 255 bytes.
 * Path segments are case-sensitive and kept as written.
 * @throws GatehouseError `spiffe_id_invalid`
 */
export function parseSpiffeId(text: string): SpiffeId {
  if (typeof text !== 'string') fail(String(text), 'not a string');
  if (text.length === 0) fail(text, 'empty');
  if (utf8Length(text) > MAX_ID_BYTES) fail(text, `longer than ${MAX_ID_BYTES} bytes`);
  if (!text.startsWith(SCHEME)) {
    if (text.toLowerCase().startsWith(SCHEME)) fail(text, 'scheme must be lower case `spiffe`');
    fail(text, 'scheme must be `spiffe://`');
  }
  const rest = text.slice(SCHEME.length);
  if (rest.includes('?')) fail(text, 'a query is not allowed');
  if (rest.includes('#')) fail(text, 'a fragment is not allowed');
  const slash = rest.indexOf('/');
  const trustDomain = slash === -1 ? rest : rest.slice(0, slash);
  const path = slash === -1 ? '' : rest.slice(slash);
  const tdProblem = trustDomainProblem(trustDomain);
  if (tdProblem) fail(text, tdProblem);
  const pProblem = pathProblem(path);
  if (pProblem) fail(text, pProblem);
  return new ParsedSpiffeId(trustDomain, path);
}

/** Like {@link parseSpiffeId} but answers undefined instead of throwing. */
export function tryParseSpiffeId(text: string): SpiffeId | undefined {
  try {
    return parseSpiffeId(text);
  } catch {
    return undefined;
  }
}

/** True when both name the same SPIFFE ID (IDs are compared as canonical strings). */
export function spiffeIdEquals(a: SpiffeId | string, b: SpiffeId | string): boolean {
  return String(a) === String(b);
}

const encoder = new TextEncoder();
function utf8Length(text: string): number {
  // Fast path: an all-ASCII string is as long in bytes as in UTF-16 units.
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return encoder.encode(text).length;
  return text.length;
}
