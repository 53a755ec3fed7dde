/**
 * The lean path: plain HTTP/1.1 requests read and answered straight on the
 * connection, without Node's `http` machinery (request and response
 * streams, events, header objects), which costs an enforcement point's
 * decision more CPU than the decision. The server serves its hot routes
 * (`/v1/decide`, ext_authz) this way (lean-route-service.ts), the proxy
 * every plain request it forwards (proxy/lean-proxy-service.ts).
 *
 * Every connection starts here. A request whose head is plain
 * (http1-request-head.ts) and that the {@link LeanService} takes is served
 * here; at the first request that is not, the connection is handed to
 * Node's `http` server with the bytes not yet used, and stays there. So
 * Node's parser judges anything unusual, and answers everything else as
 * before.
 *
 * What the lean path does as Node's server does: one request at a time, in
 * order (pipelined requests wait their turn); the same limits and timeouts
 * (head, body, whole request, idle keep-alive), checked once a second as
 * Node checks them; `Date`, `Connection` and `Keep-Alive` in the answers
 * ({@link answerHeadEnd}); a client that does not read its answers stops
 * being read; graceful close ends idle connections at once and busy ones
 * after their answer.
 */
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { endWithError } from './http-exchange.js';
import { HttpError } from './http-error.js';
import type { HttpLimits } from './http-server.js';
import {
  HeadScanner,
  INCOMPLETE,
  NOT_PLAIN,
  readRequestHead,
  type RequestHead,
} from './http1-request-head.js';
import { peerCertificateChain } from './peer-certificate-chain.js';

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

/**
 * What the lean path serves. `take` is told each plain head and returns
 * what `serve` needs to answer it, or undefined: the connection goes to
 * Node's server. Once the body has arrived, `serve` answers on the
 * exchange's socket and calls `exchange.done()` when the answer is written.
 */
export interface LeanService<T> {
  take(head: RequestHead): T | undefined;
  serve(taken: T, exchange: LeanExchange): void;
}

/** One request taken by the lean path, for its {@link LeanService} to answer. */
export interface LeanExchange {
  readonly head: RequestHead;
  /** The whole body (`Content-Length` bytes; empty without one). */
  readonly body: Buffer;
  readonly socket: Socket;
  readonly remoteAddress: string;
  /** The client's certificate chain (TLS), leaf first. */
  peerCertificates(): ReturnType<typeof peerCertificateChain>;
  /** The answer must end the connection: the client asked, ended its side, or the server is closing. */
  readonly mustClose: boolean;
  /** The idle keep-alive timeout the answer announces, in milliseconds (0: none). */
  readonly keepAliveTimeoutMs: number;
  /**
   * The answer is written: the connection ends after it when `close`
   * (which must be so when {@link mustClose}), or reads the next request.
   * Called once per exchange.
   */
  done(close: boolean): void;
}

export interface LeanPathOptions<T> {
  service: LeanService<T>;
  limits: HttpLimits;
  /** Node's `http` server taking over a connection (its own connection listener). */
  handOff(socket: Socket): void;
  /** Counted into as requests are served and connections handed off. */
  counters?: LeanPathCounters;
  /**
   * A body not whole this long after its head (checked once a second) goes
   * with its connection to Node's server, which can stream it, rather than
   * being held here until it is; without it, the body timeout applies.
   */
  slowBodyHandOffMs?: number;
}

/** How often the timeouts are checked: as often as Node's server checks its own. */
const SWEEP_MS = 1000;

/** A field name an answer may carry: a token (RFC 9110 §5.6.2), as Node checks the names it writes. */
export const FIELD_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

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

/**
 * The last fields of an answer's head and the empty line after them, as
 * Node's server writes them: `Date` (unless the answer has one),
 * `Connection` and `Keep-Alive` whenever there is a keep-alive timeout (in
 * whole seconds; neither when the answer has its own `Connection`), then
 * `last` (a field line with its CRLF).
 */
export function answerHeadEnd(
  close: boolean,
  keepAliveTimeoutMs: number,
  has: { date?: boolean; connection?: boolean; last?: string } = {},
): string {
  const date = has.date ? '' : `Date: ${httpDate(Date.now())}\r\n`;
  const last = has.last ?? '';
  if (has.connection) return `${date}${last}\r\n`;
  if (close) return `${date}Connection: close\r\n${last}\r\n`;
  if (keepAliveTimeoutMs > 0)
    return `${date}Connection: keep-alive\r\nKeep-Alive: timeout=${Math.floor(keepAliveTimeoutMs / 1000)}\r\n${last}\r\n`;
  return `${date}Connection: keep-alive\r\n${last}\r\n`;
}

export class Http1LeanPath<T> {
  private readonly connections = new Set<LeanConnection<T>>();
  private readonly sweeper: NodeJS.Timeout;
  /** Set by a graceful close: every answer from then on ends its connection. */
  closing = false;
  readonly now: () => number = Date.now;
  readonly counters: LeanPathCounters;

  constructor(readonly options: LeanPathOptions<T>) {
    this.counters = options.counters ?? leanPathCounters();
    this.sweeper = setInterval(() => this.sweep(), SWEEP_MS);
    this.sweeper.unref();
  }

  /** Takes a new connection. */
  accept(socket: Socket): void {
    this.connections.add(new LeanConnection(this, socket));
  }

  forget(connection: LeanConnection<T>): void {
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

/**
 * Puts a lean path in front of Node's own reading of each connection of
 * `server` (`event`: `connection`, or `secureConnection` for HTTPS): Node's
 * connection listener is taken off the event and becomes where the lean
 * path hands connections. Closing the server closes the lean path's
 * connections as Node closes its own: `close()` makes every later lean
 * answer end its connection, and calls `closeIdleConnections()`, which
 * ends the idle ones.
 */
export function leadWithLeanPath<T>(
  server: Server,
  event: 'connection' | 'secureConnection',
  options: Omit<LeanPathOptions<T>, 'handOff'>,
): void {
  const [nodeListener] = server.listeners(event) as ((socket: Socket) => void)[];
  if (nodeListener === undefined) return;
  const lean = new Http1LeanPath<T>({ ...options, handOff: (socket) => nodeListener.call(server, socket) });
  server.removeListener(event, nodeListener);
  server.on(event, (socket: Socket) => lean.accept(socket));
  const close = server.close.bind(server);
  server.close = (callback?: (err?: Error) => void) => {
    lean.closing = true;
    return close(callback);
  };
  const closeIdle = server.closeIdleConnections.bind(server);
  const closeAll = server.closeAllConnections.bind(server);
  server.closeIdleConnections = () => {
    closeIdle();
    lean.closeIdle();
  };
  server.closeAllConnections = () => {
    closeAll();
    lean.closeAll();
  };
  server.once('close', () => lean.stop());
}

/** Bytes a connection holds unread before it stops reading (a pipelining client that does not read). */
function holdLimit(limits: HttpLimits): number {
  return limits.maxHeaderBytes + limits.maxBodyBytes;
}

/** One connection on the lean path; the exchange of the request it is answering. */
class LeanConnection<T> implements LeanExchange {
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
  /** The head of the next request, once read and taken, while its body arrives; what the service took. */
  private pending: { head: RequestHead; taken: T } | undefined;
  /** The request being answered (valid while `busy`). */
  head!: RequestHead;
  body: Buffer = EMPTY;
  /** A request is being answered. */
  private busy = false;
  /** Requests are being read and served (see `read`). */
  private reading = false;
  /** The client has not taken the answers written: nothing more is read until it does. */
  private draining = false;
  /** End the connection after the answer under way: the client asked, or ended its side. */
  private closeAfter = false;
  /** When the first byte of the next request arrived; when its head was read. */
  private requestStartedAt = 0;
  private headReadAt = 0;
  /** When the connection last became idle (no request under way). */
  private idleSince: number;
  readonly remoteAddress: string;
  readonly keepAliveTimeoutMs: number;
  private readonly onData = (chunk: Buffer) => this.received(chunk);
  private readonly onError = () => this.socket.destroy();
  private readonly onEnd = () => this.ended();
  private readonly onClose = () => this.path.forget(this);
  readonly peerCertificates = () => peerCertificateChain(this.socket);

  constructor(
    private readonly path: Http1LeanPath<T>,
    readonly socket: Socket,
  ) {
    this.idleSince = path.now();
    this.remoteAddress = socket.remoteAddress ?? '';
    this.keepAliveTimeoutMs = path.options.limits.keepAliveTimeoutMs;
    socket.on('data', this.onData).on('error', this.onError).on('close', this.onClose).on('end', this.onEnd);
  }

  get mustClose(): boolean {
    return this.closeAfter || this.path.closing;
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
    if (!this.busy && !this.draining && this.size === 0) this.socket.destroy();
  }

  destroy(): void {
    this.socket.destroy();
  }

  checkTimeouts(now: number): void {
    // Not while an answer is under way or waits for the client to take it (Node's server has no
    // timeout on writing either).
    if (this.busy || this.draining || this.socket.destroyed) return;
    const { limits } = this.path.options;
    if (this.size === 0) {
      if (now - this.idleSince > limits.keepAliveTimeoutMs) this.socket.destroy();
    } else if (this.pending === undefined) {
      if (now - this.requestStartedAt > limits.headersTimeoutMs)
        this.fail(new HttpError(408, 'request_timeout', 'request was not received in time'));
    } else if (
      this.path.options.slowBodyHandOffMs !== undefined &&
      now - this.headReadAt > this.path.options.slowBodyHandOffMs
    ) {
      // The head was taken but nothing served: the bytes are all still here for Node to read.
      this.pending = undefined;
      this.handOff();
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
    this.read();
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

  /**
   * Serves the requests that are all here, one after the other; hands the
   * connection off at the first not taken. A loop, not a recursion: a
   * service that answers before `serve` returns (the proxy's deny) calls
   * `done()`, which must not serve the next request from inside this one,
   * or a client pipelining thousands would nest a call for each.
   */
  private read(): void {
    if (this.reading) return;
    this.reading = true;
    try {
      let more = true;
      while (more) more = !this.busy && !this.draining && this.size > 0 && this.readOne();
    } finally {
      this.reading = false;
    }
  }

  /** Reads and serves the next request if it is all here; false when there is nothing more to do now. */
  private readOne(): boolean {
    const { service, limits } = this.path.options;
    if (this.pending === undefined) {
      // A head that did not come whole is followed piece by piece, and read once it has ended:
      // joined and read again at every piece, one dripping in would cost time squared.
      if (this.scanner !== undefined && this.scanned === INCOMPLETE) return false;
      const head = this.scanned === NOT_PLAIN ? NOT_PLAIN : readRequestHead(this.joined(), limits);
      if (head === INCOMPLETE) {
        this.scanner = new HeadScanner(limits.maxHeaderBytes, this.joined());
        return false;
      }
      const taken = head === NOT_PLAIN ? undefined : service.take(head);
      if (taken === undefined) {
        this.handOff();
        return false;
      }
      this.pending = { head: head as RequestHead, taken };
      this.headReadAt = this.path.now();
    }
    const { head, taken } = this.pending;
    const end = head.headBytes + head.contentLength;
    if (this.size < end) return false;
    const buf = this.joined();
    this.head = head;
    this.body = buf.subarray(head.headBytes, end);
    this.keep(buf.subarray(end));
    if (this.size > 0) this.requestStartedAt = this.path.now();
    this.pending = undefined;
    this.busy = true;
    this.path.counters.served++;
    if (head.close) this.closeAfter = true;
    service.serve(taken, this);
    return true;
  }

  done(close: boolean): void {
    if (!this.busy) return;
    this.busy = false;
    this.body = EMPTY;
    this.idleSince = this.path.now();
    const socket = this.socket;
    if (socket.destroyed) return;
    if (close || this.mustClose) {
      this.release();
      socket.end();
      return;
    }
    // A client that stopped reading its answers is read again once it takes them.
    if (socket.writableNeedDrain) {
      this.draining = true;
      socket.once('drain', () => {
        this.draining = false;
        this.resume();
      });
    } else this.resume();
  }

  private resume(): void {
    if (this.socket.destroyed) return;
    if (this.socket.isPaused()) this.socket.resume();
    this.read();
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
    this.keep(EMPTY);
    this.path.counters.handedOff++;
    this.detach();
    this.path.options.handOff(this.socket);
    if (rest !== undefined) this.socket.unshift(rest);
    if (this.socket.isPaused()) this.socket.resume();
  }
}

const EMPTY = Buffer.alloc(0);

function ignore(): void {}
