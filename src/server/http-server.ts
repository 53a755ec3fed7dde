/**
 * The HTTP front of the control plane: routing, bounded requests, one error
 * mapping, and a request log for failures. Handlers never see raw sockets;
 * they get a {@link RouteRequest} and return a {@link RouteResponse}.
 *
 * Every request the server refuses gets a JSON error with a stable code,
 * even one the HTTP parser rejects before routing (docs/decision-api.md,
 * "Limits and errors").
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import { answerPayload, dispatch, endWithError } from './http-exchange.js';
import { errorResponse, HttpError } from './http-error.js';
import { leadWithLeanPath, type LeanPathCounters } from './http1-lean-path.js';
import { leanRouteService } from './lean-route-service.js';
import type { Logger } from './logger.js';
import { peerCertificateChain } from './peer-certificate-chain.js';
import { StreamBody, type RouteResponse, type Router } from './router.js';

/** What the server accepts from a client, and for how long it waits. */
export interface HttpLimits {
  /** Largest request body; larger bodies get 413. */
  maxBodyBytes: number;
  /** Longest request target (path and query); longer ones get 414. */
  maxUrlBytes: number;
  /** Largest request head (request line and header fields); larger heads get 431. */
  maxHeaderBytes: number;
  /** Most header fields in one request; more get 431. */
  maxHeaders: number;
  /** Time to receive the request head; then 408. */
  headersTimeoutMs: number;
  /** Time to receive the body once a handler reads it; then 408. */
  bodyTimeoutMs: number;
  /** Time to receive the whole request, head and body; then 408. */
  requestTimeoutMs: number;
  /** How long an idle kept-alive connection stays open. */
  keepAliveTimeoutMs: number;
}

const DEFAULT_HTTP_LIMITS: Readonly<HttpLimits> = {
  maxBodyBytes: 1024 * 1024,
  maxUrlBytes: 8 * 1024,
  maxHeaderBytes: 16 * 1024,
  maxHeaders: 100,
  headersTimeoutMs: 10_000,
  bodyTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 65_000,
};

/** A server certificate chain and its private key, PEM: the server then speaks HTTPS only. */
export interface ServerTls {
  cert: string | Buffer;
  key: string | Buffer;
}

export interface HttpServerOptions {
  router: Router;
  logger: Logger;
  limits?: Partial<HttpLimits>;
  tls?: ServerTls;
  /** Where the lean path counts what it serves and hands off (for /metrics). */
  leanCounters?: LeanPathCounters;
}

// Header fields whose repetition would make two readers of the request disagree.
const SINGLE_HEADERS = ['authorization', 'content-type', 'host'];

export function createHttpServer(options: HttpServerOptions): Server {
  const limits: HttpLimits = { ...DEFAULT_HTTP_LIMITS, ...options.limits };
  const settings = {
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    maxHeaderSize: limits.maxHeaderBytes,
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    // The timeouts above are only checked this often (Node's default is 30 s).
    connectionsCheckingInterval: 1000,
    // Checked in `handle`, so that the answer is a JSON error like every other.
    requireHostHeader: false,
  };
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res, options, limits).catch((err: unknown) => {
      options.logger.log('error', 'request_failed', { error: String(err) });
      res.destroy();
    });
  };
  // An HTTPS server is an HTTP server behind TLS: the same limits, routes and errors.
  const server: Server = options.tls
    ? createHttpsServer(
        {
          ...settings,
          cert: options.tls.cert,
          key: options.tls.key,
          minVersion: 'TLSv1.2',
          // A client may authenticate with its X.509-SVID (mTLS). Asked for, not required: admins
          // and JWT-SVID callers present none. Any certificate passes the handshake; whether it
          // is a valid, unrevoked SVID of the trust domain is decided per request (auth.ts),
          // so that a revocation or a key rotation counts at once and a refusal is a JSON 401.
          requestCert: true,
          rejectUnauthorized: false,
        },
        onRequest,
      )
    : createServer(settings, onRequest);
  // One more than allowed, so that a request with too many is seen, not silently cut.
  server.maxHeadersCount = limits.maxHeaders + 1;
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    const inFlight = (socket as { _httpMessage?: ServerResponse })._httpMessage;
    // Never write into a response already under way: the peer would read garbage.
    if (err.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent) {
      socket.destroy();
      return;
    }
    endWithError(socket, clientError(err, limits));
  });
  // CONNECT never reaches the request handler; no route tunnels.
  server.on('connect', (_req: IncomingMessage, socket: Duplex) => {
    endWithError(socket, new HttpError(405, 'method_not_allowed', 'CONNECT is not allowed here'));
  });
  leadWithLeanPath(server, options.tls ? 'secureConnection' : 'connection', {
    service: leanRouteService(options.router, options.logger),
    limits,
    ...(options.leanCounters ? { counters: options.leanCounters } : {}),
  });
  return server;
}

/** What a request the HTTP parser refused gets. */
function clientError(err: NodeJS.ErrnoException, limits: HttpLimits): HttpError {
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW':
      return new HttpError(
        431,
        'headers_too_large',
        `request head is larger than ${limits.maxHeaderBytes} bytes`,
      );
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new HttpError(408, 'request_timeout', 'request was not received in time');
    case 'HPE_INVALID_METHOD':
      return new HttpError(400, 'method_invalid', 'unknown request method: methods are upper case');
    case 'HPE_INVALID_URL':
      return new HttpError(400, 'path_invalid', 'request target is not a valid path');
    default: {
      const reason = (err as { reason?: unknown }).reason;
      const why = typeof reason === 'string' ? `: ${reason.toLowerCase()}` : '';
      return new HttpError(400, 'request_malformed', `malformed HTTP request${why}`);
    }
  }
}

/** Refuses a request whose head is out of bounds or ambiguous, before any route sees it. */
function checkHead(req: IncomingMessage, rawUrl: string, limits: HttpLimits): void {
  if (rawUrl.length > limits.maxUrlBytes)
    throw new HttpError(414, 'uri_too_long', `request target is longer than ${limits.maxUrlBytes} bytes`);
  if (!rawUrl.startsWith('/'))
    throw new HttpError(400, 'path_invalid', 'request target must be a path starting with `/`');
  if (req.rawHeaders.length / 2 > limits.maxHeaders)
    throw new HttpError(431, 'headers_too_many', `request has more than ${limits.maxHeaders} header fields`);
  if (req.httpVersion === '1.1' && req.headers.host === undefined)
    throw new HttpError(400, 'header_missing', 'header `host` is required');
  const seen = new Set<string>();
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i]!.toLowerCase();
    if (!SINGLE_HEADERS.includes(name)) continue;
    if (seen.has(name)) throw new HttpError(400, 'header_duplicate', `header \`${name}\` must appear once`);
    seen.add(name);
  }
}

async function handle(
  req: IncomingMessage,
  res: ServerResponse,
  options: HttpServerOptions,
  limits: HttpLimits,
): Promise<void> {
  const method = req.method ?? 'GET';
  const target = req.url ?? '/';
  let raw: Promise<Buffer> | undefined;
  let failed = false;
  const response = await dispatch(options.router, options.logger, {
    method,
    target,
    headers: req.headers,
    remoteAddress: req.socket.remoteAddress ?? '',
    peerCertificates: () => peerCertificateChain(req.socket),
    rawBody: () => (raw ??= readBody(req, limits)),
    check: () => checkHead(req, target, limits),
    failed: () => (failed = true),
  });
  // Unread bodies of failed requests must not be parsed as the next request.
  if (failed && !req.complete) res.setHeader('connection', 'close');
  // A client still sending would have its connection reset, the answer with it, if the
  // connection closed over unread bytes: read and drop a bounded rest of the body first
  // (not for a client too slow to send it, which has its answer already).
  if (!req.complete && response.status !== 408) {
    await drain(req);
    if (!req.complete) res.setHeader('connection', 'close');
  }
  // The client went away, or a timeout already answered on this socket.
  if (res.destroyed || req.socket.destroyed) return;
  if (response.body instanceof StreamBody) {
    await sendStream(res, response, response.body, method === 'HEAD', options.logger);
    return;
  }
  send(res, response, method === 'HEAD');
}

function send(res: ServerResponse, response: RouteResponse, head: boolean): void {
  const { headers, payload } = answerPayload(response);
  res.writeHead(response.status, headers);
  res.end(head ? undefined : payload);
}

/**
 * Sends a {@link StreamBody}: chunked, each chunk written when the client
 * has taken the one before (a slow reader holds the producer, not memory).
 */
async function sendStream(
  res: ServerResponse,
  response: RouteResponse,
  body: StreamBody,
  head: boolean,
  logger: Logger,
): Promise<void> {
  const chunks = body.chunks[Symbol.asyncIterator]();
  let next: IteratorResult<string | Buffer>;
  try {
    next = await chunks.next();
  } catch (err) {
    // Nothing is sent yet: the failure is an answer like any other.
    const mapped = errorResponse(err);
    if (mapped.internal) logFailure(logger, err);
    if (!res.destroyed) send(res, mapped, head);
    return;
  }
  res.writeHead(response.status, { 'cache-control': 'no-store', ...response.headers });
  if (head) {
    res.end();
    await chunks.return?.();
    return;
  }
  try {
    while (!next.done) {
      if (res.destroyed) break;
      if (!res.write(next.value)) await waitForDrain(res);
      next = await chunks.next();
    }
    if (next.done) res.end();
    else await chunks.return?.();
  } catch (err) {
    logFailure(logger, err);
    // Headers are out: only a cut connection can tell the client the body is incomplete.
    res.destroy(err as Error);
  }
}

function waitForDrain(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

function logFailure(logger: Logger, err: unknown): void {
  logger.log('error', 'response_failed', {
    error: err instanceof Error ? (err.stack ?? err.message) : String(err),
  });
}

/** The whole body, within `maxBodyBytes` and `bodyTimeoutMs`. */
function readBody(req: IncomingMessage, limits: HttpLimits): Promise<Buffer> {
  const max = limits.maxBodyBytes;
  const tooLarge = () => new HttpError(413, 'body_too_large', `request body is larger than ${max} bytes`);
  return new Promise((resolve, reject) => {
    if (Number(req.headers['content-length'] ?? '0') > max) {
      reject(tooLarge());
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    const timer = setTimeout(() => {
      fail(
        new HttpError(408, 'body_timeout', `request body was not received within ${limits.bodyTimeoutMs} ms`),
      );
    }, limits.bodyTimeoutMs);
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) fail(tooLarge());
      else chunks.push(chunk);
    };
    const onEnd = () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    };
    const onClose = () => {
      if (!req.complete) fail(new HttpError(400, 'body_incomplete', 'request body ended early'));
    };
    function fail(err: HttpError): void {
      clearTimeout(timer);
      req.off('data', onData).off('end', onEnd).off('close', onClose);
      req.pause();
      reject(err);
    }
    req.on('data', onData).on('end', onEnd).on('close', onClose);
    req.on('error', () => fail(new HttpError(400, 'body_incomplete', 'request body ended early')));
  });
}

/** How much of a refused request's body is read and dropped before the answer, at most. */
const DRAIN_BYTES = 16 * 1024 * 1024;
const DRAIN_MS = 2000;

/** Reads and drops the rest of a request body: until it ends, {@link DRAIN_BYTES} or {@link DRAIN_MS}. */
function drain(req: IncomingMessage): Promise<void> {
  return new Promise((resolve) => {
    let size = 0;
    const done = () => {
      clearTimeout(timer);
      req.off('data', onData).off('end', done).off('close', done).off('error', done);
      req.pause();
      resolve();
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > DRAIN_BYTES) done();
    };
    const timer = setTimeout(done, DRAIN_MS);
    req.on('data', onData).on('end', done).on('close', done).on('error', done);
    req.resume();
  });
}
