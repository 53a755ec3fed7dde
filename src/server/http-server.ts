/**
 * The HTTP front of the control plane: routing, bounded JSON bodies, one
 * error mapping, and a request log for failures. Handlers never see raw
 * sockets; they get a {@link RouteRequest} and return a {@link RouteResponse}.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { errorResponse, HttpError } from './http-error.js';
import type { Logger } from './logger.js';
import type { RouteRequest, RouteResponse, Router } from './router.js';

export interface HttpServerOptions {
  router: Router;
  logger: Logger;
  /** Largest accepted request body; larger bodies get 413. */
  maxBodyBytes?: number;
}

const DEFAULT_MAX_BODY = 1024 * 1024;

export function createHttpServer(options: HttpServerOptions): Server {
  const maxBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY;
  const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
    void handle(req, res, options, maxBody);
  });
  // Slowloris guard: a client has this long to send its headers.
  server.headersTimeout = 20_000;
  server.requestTimeout = 60_000;
  return server;
}

async function handle(
  req: IncomingMessage,
  res: ServerResponse,
  options: HttpServerOptions,
  maxBody: number,
): Promise<void> {
  const started = process.hrtime.bigint();
  const method = req.method ?? 'GET';
  let path = '/';
  let query = new URLSearchParams();
  const rawUrl = req.url ?? '/';
  const q = rawUrl.indexOf('?');
  path = q < 0 ? rawUrl : rawUrl.slice(0, q);
  if (q >= 0) query = new URLSearchParams(rawUrl.slice(q + 1));
  let response: RouteResponse;
  try {
    const found = options.router.match(method, path);
    if (!found) throw new HttpError(404, 'not_found', `no route for ${method} ${path}`);
    if ('allow' in found) {
      throw new HttpError(405, 'method_not_allowed', `${method} is not allowed here`, {
        allow: found.allow.join(', '),
      });
    }
    let raw: Promise<Buffer> | undefined;
    const rawBody = () => (raw ??= readBody(req, maxBody));
    const request: RouteRequest = {
      method,
      path,
      params: found.params,
      query,
      headers: req.headers,
      remoteAddress: req.socket.remoteAddress ?? '',
      rawBody,
      body: async () => parseJson(await rawBody(), req.headers['content-type']),
    };
    response = await found.handler(request);
  } catch (err) {
    const mapped = errorResponse(err);
    if (mapped.internal) {
      options.logger.log('error', 'request_failed', {
        method,
        path,
        error: err instanceof Error ? (err.stack ?? err.message) : String(err),
      });
    }
    response = { status: mapped.status, body: mapped.body, headers: mapped.headers };
    // Unread bodies of failed requests must not be parsed as the next request.
    if (!req.complete) res.setHeader('connection', 'close');
  }
  send(res, response, method === 'HEAD');
  const micros = Number((process.hrtime.bigint() - started) / 1000n);
  if (response.status >= 500)
    options.logger.log('warn', 'request_served', { method, path, status: response.status, micros });
}

function send(res: ServerResponse, response: RouteResponse, head: boolean): void {
  const headers: Record<string, string> = { 'cache-control': 'no-store', ...response.headers };
  let payload: string | Buffer | undefined;
  if (response.body === undefined) payload = undefined;
  else if (typeof response.body === 'string' || Buffer.isBuffer(response.body)) payload = response.body;
  else {
    payload = JSON.stringify(response.body);
    headers['content-type'] ??= 'application/json';
  }
  if (payload !== undefined) headers['content-length'] = String(Buffer.byteLength(payload));
  res.writeHead(response.status, headers);
  res.end(head ? undefined : payload);
}

function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? '0');
    if (declared > max) {
      reject(new HttpError(413, 'body_too_large', `request body is larger than ${max} bytes`));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) {
        reject(new HttpError(413, 'body_too_large', `request body is larger than ${max} bytes`));
        req.pause();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function parseJson(raw: Buffer, contentType: string | undefined): unknown {
  if (raw.length === 0) return undefined;
  if (contentType && !/^application\/([a-z.+-]*\+)?json\b/i.test(contentType)) {
    throw new HttpError(415, 'unsupported_media_type', 'request body must be application/json');
  }
  try {
    return JSON.parse(raw.toString('utf8')) as unknown;
  } catch (err) {
    throw new HttpError(400, 'body_invalid', `request body is not valid JSON: ${(err as Error).message}`);
  }
}
