/**
 * A small method + path router. Patterns are literal segments and `:name`
 * parameters; the first matching route wins. A path that matches a route
 * with another method answers 405 with `Allow`.
 */
import type { IncomingMessage } from 'node:http';

export interface RouteRequest {
  method: string;
  path: string;
  params: Record<string, string>;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  /** The peer address as the socket saw it. */
  remoteAddress: string;
  /** The parsed JSON body; undefined when there is none. */
  body(): Promise<unknown>;
  /** The raw body bytes (for non-JSON protocols). */
  rawBody(): Promise<Buffer>;
}

export interface RouteResponse {
  status: number;
  /** A value sent as JSON, or a string/Buffer sent as is. */
  body?: unknown;
  headers?: Record<string, string>;
}

export type Handler = (req: RouteRequest) => Promise<RouteResponse> | RouteResponse;

interface Route {
  method: string;
  segments: string[];
  handler: Handler;
}

export class Router {
  private readonly routes: Route[] = [];

  add(method: string, pattern: string, handler: Handler): this {
    this.routes.push({ method, segments: split(pattern), handler });
    return this;
  }

  /** The handler and parameters for a request; `allow` lists methods when only the path matched. */
  match(
    method: string,
    path: string,
  ): { handler: Handler; params: Record<string, string> } | { allow: string[] } | undefined {
    const parts = split(path);
    const allow: string[] = [];
    for (const route of this.routes) {
      const params = matchSegments(route.segments, parts);
      if (!params) continue;
      if (route.method === method || (method === 'HEAD' && route.method === 'GET')) {
        return { handler: route.handler, params };
      }
      allow.push(route.method);
    }
    return allow.length ? { allow } : undefined;
  }
}

function split(path: string): string[] {
  return path.split('/').filter((s) => s.length > 0);
}

function matchSegments(pattern: string[], parts: string[]): Record<string, string> | undefined {
  // A final `*` matches the rest of the path, one segment or more.
  if (pattern[pattern.length - 1] === '*') {
    if (parts.length < pattern.length) return undefined;
    return matchSegments(pattern.slice(0, -1), parts.slice(0, pattern.length - 1));
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
      params[p.slice(1)] = decoded;
    } else if (p !== v) return undefined;
  }
  return params;
}
