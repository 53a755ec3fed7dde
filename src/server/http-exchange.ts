/**
 * One request and its answer, whichever reader took the request off the
 * connection (Node's `http` module, or the lean path for the hot routes in
 * http1-lean-path.ts): the query, the JSON body, the route's answer with the
 * one error mapping, and the answer's header fields and bytes. Both readers
 * go through here, so a route cannot tell them apart.
 */
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { errorResponse, HttpError } from './http-error.js';
import type { Logger } from './logger.js';
import type { RouteMatch, RouteRequest, RouteResponse, Router } from './router.js';

/** The query of a request; a parameter given twice is refused rather than half-read. */
class Query extends URLSearchParams {
  override get(name: string): string | null {
    const all = this.getAll(name);
    if (all.length > 1)
      throw new HttpError(400, 'query_invalid', `query parameter \`${name}\` must appear once`);
    return all[0] ?? null;
  }
}

const JSON_MEDIA = /^application\/(?:[a-z0-9.+-]*\+)?json\s*(?:;|$)/i;

/** The JSON body; undefined when empty. 415 unless the content type is JSON, 400 when it does not parse. */
export function parseJson(raw: Buffer, contentType: string | undefined): unknown {
  if (raw.length === 0) return undefined;
  if (!contentType || !JSON_MEDIA.test(contentType)) {
    throw new HttpError(415, 'unsupported_media_type', 'request body must be application/json');
  }
  try {
    return JSON.parse(raw.toString('utf8')) as unknown;
  } catch (err) {
    throw new HttpError(400, 'body_invalid', `request body is not valid JSON: ${(err as Error).message}`);
  }
}

/** A request as its reader took it off the connection, before routing. */
export interface IncomingRequest {
  method: string;
  /** The request target: path and query, as sent. */
  target: string;
  headers: RouteRequest['headers'];
  remoteAddress: string;
  peerCertificates: RouteRequest['peerCertificates'];
  /** The body bytes, read at most once. */
  rawBody(): Promise<Buffer>;
  /**
   * Checks the reader makes before routing; throws an {@link HttpError}.
   * The lean path reads only heads that pass them, and has none.
   */
  check?(): void;
  /** Told when the answer is the error mapping of a failure (no route, a check, the route's throw). */
  failed?(): void;
}

/** The path of a request target (the part before `?`). */
export function targetPath(target: string): string {
  const q = target.indexOf('?');
  return q < 0 ? target : target.slice(0, q);
}

/**
 * The route's answer to `incoming`, or the error answer for it: 404 and 405
 * for no route, the route's own failure mapped by {@link errorResponse}.
 * Never rejects. Failures whose details are withheld from the caller (500)
 * are logged, and so is every answer of 500 or more, with the time it took.
 * `found` is the route already matched, when the reader did.
 */
export async function dispatch(
  router: Router,
  logger: Logger,
  incoming: IncomingRequest,
  found?: RouteMatch,
): Promise<RouteResponse> {
  const started = process.hrtime.bigint();
  const { method, target } = incoming;
  const path = targetPath(target);
  const response = await answer(router, logger, incoming, path, found);
  if (response.status >= 500) {
    logger.log('warn', 'request_served', {
      method,
      path: path.slice(0, 200),
      status: response.status,
      micros: Number((process.hrtime.bigint() - started) / 1000n),
    });
  }
  return response;
}

async function answer(
  router: Router,
  logger: Logger,
  incoming: IncomingRequest,
  path: string,
  found: RouteMatch | undefined,
): Promise<RouteResponse> {
  const { method, target } = incoming;
  try {
    incoming.check?.();
    const match = found ?? router.match(method, path);
    if (!match) throw new HttpError(404, 'not_found', `no route for \`${method} ${path.slice(0, 200)}\``);
    if ('allow' in match) {
      throw new HttpError(405, 'method_not_allowed', `${method} is not allowed here`, {
        allow: match.allow.join(', '),
      });
    }
    const request: RouteRequest = {
      method,
      path,
      params: match.params,
      query: new Query(target.slice(path.length + 1)),
      headers: incoming.headers,
      remoteAddress: incoming.remoteAddress,
      peerCertificates: incoming.peerCertificates,
      rawBody: incoming.rawBody,
      body: async () => parseJson(await incoming.rawBody(), incoming.headers['content-type']),
    };
    return await match.handler(request);
  } catch (err) {
    incoming.failed?.();
    const mapped = errorResponse(err);
    if (mapped.internal) {
      logger.log('error', 'request_failed', {
        method,
        path: path.slice(0, 200),
        error: err instanceof Error ? (err.stack ?? err.message) : String(err),
      });
    }
    return { status: mapped.status, body: mapped.body, headers: mapped.headers };
  }
}

/** The header fields and bytes of an answer whose body is not a stream. */
export function answerPayload(response: RouteResponse): {
  headers: Record<string, string>;
  payload: string | Buffer | undefined;
} {
  const headers: Record<string, string> = { 'cache-control': 'no-store', ...response.headers };
  let payload: string | Buffer | undefined;
  if (response.body === undefined) payload = undefined;
  else if (typeof response.body === 'string' || Buffer.isBuffer(response.body)) payload = response.body;
  else {
    payload = JSON.stringify(response.body);
    headers['content-type'] ??= 'application/json';
  }
  if (payload !== undefined) headers['content-length'] = String(Buffer.byteLength(payload));
  return { headers, payload };
}

/** Answers `err` on a connection no HTTP response object owns, and closes it. */
export function endWithError(socket: Duplex, err: HttpError): void {
  const { status, body } = errorResponse(err);
  const payload = JSON.stringify(body);
  const head = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}`,
    'content-type: application/json',
    `content-length: ${Buffer.byteLength(payload)}`,
    'cache-control: no-store',
    'connection: close',
    ...Object.entries(err.headers).map(([k, v]) => `${k}: ${v}`),
  ];
  socket.end(`${head.join('\r\n')}\r\n\r\n${payload}`, () => socket.destroy());
}
