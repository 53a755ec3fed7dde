/**
 * Strict decoding of a JWS Compact Serialization (RFC 7515 §3.1, §7.2)
 * before any signature is checked: exactly three segments of unpadded
 * base64url, a JSON object header and a JSON object payload. Shared by the
 * JWT-SVID and the OIDC token verifiers, which map failures to their own
 * error codes.
 */

export type DecodedJws =
  | { ok: true; header: Record<string, unknown>; payload: Record<string, unknown>; signed: boolean }
  | { ok: false; why: string };

// RFC 7515 §2: base64url without padding; RFC 7515 §3.1: segments are separated by `.`.
const B64URL = /^[A-Za-z0-9_-]*$/;
const decoder = new TextDecoder('utf-8', { fatal: true });

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function decodeJson(
  segment: string,
  what: string,
): { ok: true; value: Record<string, unknown> } | { ok: false; why: string } {
  if (segment === '') return { ok: false, why: `${what} is empty` };
  if (!B64URL.test(segment) || segment.length % 4 === 1)
    return { ok: false, why: `${what} is not base64url` };
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(Buffer.from(segment, 'base64url')));
  } catch {
    return { ok: false, why: `${what} is not JSON` };
  }
  if (!isObject(value)) return { ok: false, why: `${what} is not a JSON object` };
  return { ok: true, value };
}

/** Splits and decodes a compact JWS; never verifies anything. `signed` is false for an empty signature. */
export function decodeCompactJws(token: string): DecodedJws {
  const segments = token.split('.');
  if (segments.length !== 3) {
    return { ok: false, why: `expected 3 dot-separated segments, got ${segments.length}` };
  }
  const [h, p, s] = segments as [string, string, string];
  const header = decodeJson(h, 'header');
  if (!header.ok) return header;
  const payload = decodeJson(p, 'payload');
  if (!payload.ok) return payload;
  if (!B64URL.test(s) || s.length % 4 === 1) return { ok: false, why: 'signature is not base64url' };
  // An empty signature is reported by the caller after it has judged `alg` (`none` tokens have one).
  return { ok: true, header: header.value, payload: payload.value, signed: s !== '' };
}

/** A value from a token, shortened and stripped of backticks and control characters, for messages. */
export function shown(value: unknown, max = 80): string {
  const text = (typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value))).replace(
    // eslint-disable-next-line no-control-regex
    /[`\u0000-\u001f\u007f]/g,
    '?',
  );
  return text.length > max ? `${text.slice(0, max - 3)}...` : text;
}
