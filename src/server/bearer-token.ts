/**
 * Reading the bearer credential of an `Authorization` field, for every
 * place that accepts one: the control plane's own callers, ext_authz (HTTP
 * and gRPC) and the proxy.
 */

// RFC 6750 §2.1 and RFC 7235 §2.1: the scheme in any case, 1*SP, a token68
// (1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="), and nothing after it.
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*)$/i;
// The scheme is a whole `token` (RFC 7230 §3.2.6): `Bearerish x` is another scheme.
const BEARER_SCHEME = /^\s*Bearer(?![!#$%&'*+\-.^_`|~0-9A-Za-z])/i;

/**
 * The token of `Authorization: Bearer <token>`.
 *
 * - undefined: no `Authorization` field, or one of another scheme (`Basic …`),
 *   which is not a bearer credential at all;
 * - `''`: the Bearer scheme without a usable token: a tab or nothing after the
 *   scheme, characters outside token68, white space or anything else after the
 *   token, or the field given more than once with the Bearer scheme. No
 *   credential verifies as `''`, so a caller that presents it as the
 *   credential fails closed;
 * - otherwise the token, as sent.
 */
export function bearerToken(header: string | readonly string[] | undefined): string | undefined {
  if (header === undefined) return undefined;
  if (typeof header !== 'string') {
    if (header.length === 1) return bearerToken(header[0]);
    return header.some((h) => BEARER_SCHEME.test(h)) ? '' : undefined;
  }
  if (!BEARER_SCHEME.test(header)) return undefined;
  return BEARER.exec(header)?.[1] ?? '';
}
