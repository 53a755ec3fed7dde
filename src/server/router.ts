/**
 * A small method + path router. Patterns are literal segments and `:name`
 * parameters, optionally ending in `*`; the first matching route wins. A
 * path that matches a route with another method answers 405 with `Allow`.
 *
 * Matching is exact: `//`, a trailing `/`, `.` and `..` segments never
 * match a literal segment, and a parameter never decodes to an empty
 * value, `.`, `..`, or one holding `/`, `\` or a control character.
 */
import type { IncomingMessage } from 'node:http';

export interface RouteRequest {
  method: string;
  path: string;
  /** Decoded `:name` parameters; `*` holds the raw rest of the path, from its `/`. */
  params: Record<string, string>;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  /** The peer address as the socket saw it. */
  remoteAddress: string;
  /**
   * The client certificate chain of the TLS connection, DER, leaf first;
   * empty over plain HTTP or when the client presented none. Not verified:
   * the TLS layer takes any certificate, and the caller's identity is
   * decided from it by the X.509-SVID verifier (auth.ts). The handshake did
   * prove that the client holds the leaf's private key, which X.509 renewal
   * relies on (`IdentityAuthority.renewWithX509`).
   */
  peerCertificates(): readonly Buffer[];
  /** The parsed JSON body; undefined when there is none. */
  body(): Promise<unknown>;
  /** The raw body bytes (for non-JSON protocols). */
  rawBody(): Promise<Buffer>;
}

export interface RouteResponse {
  status: number;
  /** A value sent as JSON, a string/Buffer sent as is, or a {@link StreamBody} sent as it comes. */
  body?: unknown;
  headers?: Record<string, string>;
}

/**
 * A body too large to hold in memory (a whole decision log), sent chunk by
 * chunk as the iterable yields, at the pace the client reads. The first
 * chunk is awaited before the status line goes out, so a failure to start
 * is an ordinary error answer; a failure later can only cut the response
 * short (the connection is closed, and the client sees a truncated body).
 */
export class StreamBody {
  constructor(readonly chunks: AsyncIterable<string | Buffer>) {}
}

export type Handler = (req: RouteRequest) => Promise<RouteResponse> | RouteResponse;

export interface RouteOptions {
  /**
   * Served by the lean HTTP/1.1 path (http1-lean-path.ts) when the request
   * is plain enough: for the hot routes of enforcement points. The handler
   * must never answer with a {@link StreamBody}.
   */
  lean?: boolean;
}

/** What {@link Router.match} found: the route, or the methods the path allows. */
export type RouteMatch =
  { handler: Handler; params: Record<string, string>; lean: boolean } | { allow: string[] };

/** A registered route, as {@link Router.routes} lists it. */
export interface RouteInfo {
  method: string;
  pattern: string;
}

interface Route extends RouteInfo {
  segments: string[];
  handler: Handler;
  lean: boolean;
}

export class Router {
  private readonly table: Route[] = [];

  add(method: string, pattern: string, handler: Handler, options: RouteOptions = {}): this {
    this.table.push({ method, pattern, segments: split(pattern), handler, lean: options.lean === true });
    return this;
  }

  /** Every registered route in registration order. */
  routes(): RouteInfo[] {
    return this.table.map(({ method, pattern }) => ({ method, pattern }));
  }

  /** The handler and parameters for a request; `allow` lists methods when only the path matched. */
  match(method: string, path: string): RouteMatch | undefined {
    const parts = split(path);
    const allow: string[] = [];
    for (const route of this.table) {
      const params = matchSegments(route.segments, parts);
      if (!params) continue;
      if (route.method === method || (method === 'HEAD' && route.method === 'GET')) {
        return { handler: route.handler, params, lean: route.lean };
      }
      allow.push(route.method);
    }
    return allow.length ? { allow } : undefined;
  }
}

// Empty segments are kept, so that `//v1/decide` or `/v1/decide/` match nothing.
function split(path: string): string[] {
  return path === '/' ? [] : path.slice(1).split('/');
}

/** INVARIANT: a parameter names one thing; it can never climb, split or hide a path. */
function unsafeParam(value: string): boolean {
  if (value === '' || value === '.' || value === '..') return true;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x20 || c === 0x7f || c === 0x2f /* / */ || c === 0x5c /* \\ */) return true;
  }
  return false;
}

function matchSegments(pattern: string[], parts: string[]): Record<string, string> | undefined {
  // A final `*` matches the rest of the path, one segment or more, kept raw.
  let rest: string | undefined;
  if (pattern[pattern.length - 1] === '*') {
    if (parts.length < pattern.length) return undefined;
    rest = '/' + parts.slice(pattern.length - 1).join('/');
    pattern = pattern.slice(0, -1);
    parts = parts.slice(0, pattern.length);
  }
  if (pattern.length !== parts.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i]!;
    const v = parts[i]!;
    if (p.startsWith(':')) {
      let decoded: string;
      try {
        decoded = decodeURIComponent(v);
      } catch {
        return undefined;
      }
      if (unsafeParam(decoded)) return undefined;
      params[p.slice(1)] = decoded;
    } else if (p !== v) return undefined;
  }
  if (rest !== undefined) params['*'] = rest;
  return params;
}
