/**
 * The lean path: plain HTTP/1.1 requests to the hot routes (`/v1/decide`,
 * ext_authz) read and answered straight on the connection, without Node's
 * `http` machinery (request and response streams, events, header objects),
 * which costs an enforcement point's decision more CPU than the decision.
 *
 * Every connection starts here. A request whose head is plain
 * (http1-request-head.ts) and whose route is marked `lean` is served here;
 * at the first request that is not, the connection is handed to Node's
 * `http` server with the bytes not yet used, and stays there. So Node's
 * parser judges anything unusual, and answers everything else as before.
 *
 * What the lean path does as Node's server does: one request at a time, in
 * order (pipelined requests wait their turn); the same routes, answers,
 * header fields, `Date`, `Connection` and `Keep-Alive`; the same limits
 * and timeouts (head, body, whole request, idle keep-alive), checked once a
 * second as Node checks them; a client that does not read its answers stops
 * being read; graceful close ends idle connections at once and busy ones
 * after their answer.
 */
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { dispatch, endWithError, answerPayload, targetPath, type IncomingRequest } from './http-exchange.js';
import { HttpError } from './http-error.js';
import type { HttpLimits } from './http-server.js';
import {
  HeadScanner,
  INCOMPLETE,
  NOT_PLAIN,
  readRequestHead,
  type RequestHead,
} from './http1-request-head.js';
import type { Logger } from './logger.js';
import { peerCertificateChain } from './peer-certificate-chain.js';
import type { RouteMatch, RouteResponse, Router } from './router.js';

/** What the lean path did, for metrics. */
export interface LeanPathCounters {
  /** Requests read and answered by the lean path. */
  served: number;
  /** Connections given to Node's server: at a request that was not plain, or to another route. */
  handedOff: number;
}

export function leanPathCounters(): LeanPathCounters {
  return { served: 0, handedOff: 0 };
}

export interface LeanPathOptions {
  router: Router;
  logger: Logger;
  limits: HttpLimits;
  /** Node's `http` server taking over a connection (its own connection listener). */
  handOff(socket: Socket): void;
  /** Counted into as requests are served and connections handed off. */
  counters?: LeanPathCounters;
}

/** How often the timeouts are checked: as often as Node's server checks its own. */
const SWEEP_MS = 1000;

/** The `Date` field, made once a second. */
let dateSecond = -1;
let dateField = '';
function httpDate(now: number): string {
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateField = new Date(second * 1000).toUTCString();
  }
  return dateField;
}

// A field name is a token; a value is visible ASCII, spaces and tabs. Checked, as Node checks
// the fields it writes, so that no route can split an answer with a CR or LF.
const FIELD_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const FIELD_VALUE = /^[\t\x20-\x7e]*$/;

export class Http1LeanPath {
  private readonly connections = new Set<LeanConnection>();
  private readonly sweeper: NodeJS.Timeout;
  /** Set by a graceful close: every answer from then on ends its connection. */
  closing = false;
  readonly now: () => number = Date.now;
  readonly counters: LeanPathCounters;

  constructor(readonly options: LeanPathOptions) {
    this.counters = options.counters ?? leanPathCounters();
    this.sweeper = setInterval(() => this.sweep(), SWEEP_MS);
    this.sweeper.unref();
  }

  /** Takes a new connection. */
  accept(socket: Socket): void {
    this.connections.add(new LeanConnection(this, socket));
  }

  forget(connection: LeanConnection): void {
    this.connections.delete(connection);
  }

  /** Ends the connections with no request under way or arriving. */
  closeIdle(): void {
    for (const c of this.connections) c.closeIfIdle();
  }

  closeAll(): void {
    this.closing = true;
    for (const c of this.connections) c.destroy();
  }

  /** Stops checking timeouts: the server has closed. */
  stop(): void {
    clearInterval(this.sweeper);
  }

  private sweep(): void {
    const now = this.now();
    for (const c of this.connections) c.checkTimeouts(now);
  }
}

/** Bytes a connection holds unread before it stops reading (a pipelining client that does not read). */
function holdLimit(limits: HttpLimits): number {
  return limits.maxHeaderBytes + limits.maxBodyBytes;
}

class LeanConnection {
  /**
   * Bytes received and not yet used, the start of the next request, in the
   * pieces they came in: joined only when a head is to be read or a body is
   * whole, so that a request arriving in many pieces is not copied again at
   * each one.
   */
  private parts: Buffer[] = [];
  private size = 0;
  /**
   * Follows a head that did not come whole in one piece, until its end
   * arrives; with what it said of the pieces so far.
   */
  private scanner: HeadScanner | undefined;
  private scanned: ReturnType<HeadScanner['push']> = INCOMPLETE;
  /** The head of the next request, once read, while its body arrives. */
  private head: RequestHead | undefined;
  private route: Extract<RouteMatch, { handler: unknown }> | undefined;
  /** A request is being answered. */
  private busy = false;
  /** End the connection after the answer under way: the client asked, or ended its side. */
  private closeAfter = false;
  /** When the first byte of the next request arrived; when its head was read. */
  private requestStartedAt = 0;
  private headReadAt = 0;
  /** When the connection last became idle (no request under way). */
  private idleSince: number;
  private readonly remoteAddress: string;
  private readonly onData = (chunk: Buffer) => this.received(chunk);
  private readonly onError = () => this.socket.destroy();
  private readonly onEnd = () => this.ended();
  private readonly onClose = () => this.path.forget(this);
  private readonly peerCertificates = () => peerCertificateChain(this.socket);

  constructor(
    private readonly path: Http1LeanPath,
    private readonly socket: Socket,
  ) {
    this.idleSince = path.now();
    this.remoteAddress = socket.remoteAddress ?? '';
    socket.on('data', this.onData).on('error', this.onError).on('close', this.onClose).on('end', this.onEnd);
  }

  /**
   * The client will send nothing more (it half-closed the connection). A
   * request being answered still gets its answer, then the connection
   * closes; a request cut short gets 400; an idle connection closes.
   */
  private ended(): void {
    if (this.busy) this.closeAfter = true;
    else if (this.size > 0)
      this.fail(
        new HttpError(400, 'request_malformed', 'malformed HTTP request: the connection ended inside it'),
      );
    else {
      this.release();
      this.socket.end();
    }
  }

  closeIfIdle(): void {
    if (!this.busy && this.size === 0) this.socket.destroy();
  }

  destroy(): void {
    this.socket.destroy();
  }

  checkTimeouts(now: number): void {
    if (this.busy || this.socket.destroyed) return;
    const { limits } = this.path.options;
    if (this.size === 0) {
      if (now - this.idleSince > limits.keepAliveTimeoutMs) this.socket.destroy();
    } else if (this.head === undefined) {
      if (now - this.requestStartedAt > limits.headersTimeoutMs)
        this.fail(new HttpError(408, 'request_timeout', 'request was not received in time'));
    } else if (now - this.headReadAt > limits.bodyTimeoutMs) {
      this.fail(
        new HttpError(408, 'body_timeout', `request body was not received within ${limits.bodyTimeoutMs} ms`),
      );
    } else if (now - this.requestStartedAt > limits.requestTimeoutMs) {
      this.fail(new HttpError(408, 'request_timeout', 'request was not received in time'));
    }
  }

  private fail(err: HttpError): void {
    this.release();
    endWithError(this.socket, err);
  }

  private received(chunk: Buffer): void {
    if (this.size === 0) this.requestStartedAt = this.path.now();
    this.parts.push(chunk);
    this.size += chunk.length;
    if (this.scanner !== undefined && this.scanned === INCOMPLETE) this.scanned = this.scanner.push(chunk);
    if (!this.busy) this.next();
    if (this.size > holdLimit(this.path.options.limits)) this.socket.pause();
  }

  /** The bytes not yet used, in one buffer. */
  private joined(): Buffer {
    if (this.parts.length > 1) this.parts = [Buffer.concat(this.parts, this.size)];
    return this.parts[0]!;
  }

  /** Keeps what follows the request just taken as the start of the next one. */
  private keep(rest: Buffer): void {
    this.parts = rest.length > 0 ? [rest] : [];
    this.size = rest.length;
    this.scanner = undefined;
    this.scanned = INCOMPLETE;
  }

  /** Serves the next request when it is all here; hands the connection off at the first that is not lean. */
  private next(): void {
    if (this.size === 0 || this.busy) return;
    const { router, limits } = this.path.options;
    if (this.head === undefined) {
      // A head that did not come whole is followed piece by piece, and read once it has ended:
      // joined and read again at every piece, one dripping in would cost time squared.
      if (this.scanner !== undefined && this.scanned === INCOMPLETE) return;
      const head = this.scanned === NOT_PLAIN ? NOT_PLAIN : readRequestHead(this.joined(), limits);
      if (head === INCOMPLETE) {
        this.scanner = new HeadScanner(limits.maxHeaderBytes, this.joined());
        return;
      }
      const found = head === NOT_PLAIN ? undefined : router.match(head.method, targetPath(head.target));
      if (head === NOT_PLAIN || found === undefined || 'allow' in found || !found.lean) {
        this.handOff();
        return;
      }
      this.head = head;
      this.route = found;
      this.headReadAt = this.path.now();
    }
    const head = this.head;
    const end = head.headBytes + head.contentLength;
    if (this.size < end) return;
    const buf = this.joined();
    const body = buf.subarray(head.headBytes, end);
    this.keep(buf.subarray(end));
    if (this.size > 0) this.requestStartedAt = this.path.now();
    const route = this.route!;
    this.head = undefined;
    this.route = undefined;
    this.busy = true;
    this.path.counters.served++;
    if (head.close) this.closeAfter = true;
    const socket = this.socket;
    const incoming: IncomingRequest = {
      method: head.method,
      target: head.target,
      headers: head.headers,
      remoteAddress: this.remoteAddress,
      peerCertificates: this.peerCertificates,
      rawBody: () => Promise.resolve(body),
    };
    dispatch(router, this.path.options.logger, incoming, route).then(
      (response) => this.answer(head, response),
      // dispatch never rejects; should it, the connection is cut rather than left hanging.
      () => socket.destroy(),
    );
  }

  private answer(head: RequestHead, response: RouteResponse): void {
    const socket = this.socket;
    if (socket.destroyed) return;
    let close = this.closeAfter || this.path.closing;
    let bytes: { head: string; payload: string | Buffer | undefined };
    try {
      bytes = encode(head.method, response, close, this.path);
    } catch (err) {
      this.path.options.logger.log('error', 'response_failed', { error: String(err) });
      close = true;
      bytes = encode(head.method, { status: 500, body: INTERNAL }, close, this.path);
    }
    const { payload } = bytes;
    if (payload === undefined) socket.write(bytes.head, 'latin1');
    else if (typeof payload === 'string') socket.write(bytes.head + payload);
    else {
      socket.cork();
      socket.write(bytes.head, 'latin1');
      socket.write(payload);
      socket.uncork();
    }
    this.busy = false;
    this.idleSince = this.path.now();
    if (close) {
      this.release();
      socket.end();
      return;
    }
    // A client that stopped reading its answers is read again once it takes them.
    if (socket.writableNeedDrain) socket.once('drain', () => this.resume());
    else this.resume();
  }

  private resume(): void {
    if (this.socket.destroyed) return;
    if (this.socket.isPaused()) this.socket.resume();
    this.next();
  }

  private detach(): void {
    this.socket
      .off('data', this.onData)
      .off('error', this.onError)
      .off('close', this.onClose)
      .off('end', this.onEnd);
    this.path.forget(this);
  }

  /** Lets the connection go, to be closed here: an error racing the close is nobody's to handle. */
  private release(): void {
    this.detach();
    this.socket.on('error', ignore);
  }

  /** Gives the connection, with the bytes not yet used, to Node's `http` server. */
  private handOff(): void {
    const rest = this.size > 0 ? this.joined() : undefined;
    this.keep(Buffer.alloc(0));
    this.path.counters.handedOff++;
    this.detach();
    this.path.options.handOff(this.socket);
    if (rest !== undefined) this.socket.unshift(rest);
    if (this.socket.isPaused()) this.socket.resume();
  }
}

function ignore(): void {}

const INTERNAL = { error: { code: 'internal_error', message: 'internal error' } };

/** The status line and header fields (Latin-1 text) and the body of an answer. */
function encode(
  method: string,
  response: RouteResponse,
  close: boolean,
  path: Http1LeanPath,
): { head: string; payload: string | Buffer | undefined } {
  const { headers, payload } = answerPayload(response);
  const status = response.status;
  let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Unknown'}\r\n`;
  for (const name in headers) {
    const value = headers[name]!;
    if (!FIELD_NAME.test(name) || !FIELD_VALUE.test(value))
      throw new Error(`invalid answer field \`${name.slice(0, 100)}\``);
    head += `${name}: ${value}\r\n`;
  }
  head += `Date: ${httpDate(path.now())}\r\n`;
  // As Node writes them: `Keep-Alive` whenever there is a keep-alive timeout, in whole seconds.
  const keepAliveMs = path.options.limits.keepAliveTimeoutMs;
  if (close) head += 'Connection: close\r\n\r\n';
  else if (keepAliveMs > 0)
    head += `Connection: keep-alive\r\nKeep-Alive: timeout=${Math.floor(keepAliveMs / 1000)}\r\n\r\n`;
  else head += 'Connection: keep-alive\r\n\r\n';
  const bodyless = method === 'HEAD' || status === 204 || status === 304 || status < 200;
  return { head, payload: bodyless ? undefined : payload };
}
