/**
 * The two sides of one exchange at the proxy, whichever reader took the
 * request off the connection: Node's `http` server (an `IncomingMessage`
 * streaming its body, a `ServerResponse`), or the lean path
 * (lean-proxy-service.ts: a {@link WholeRequest} read whole, a
 * `LeanResponse` written on the socket). The handler and the forwarder use
 * only what both give.
 */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';

/** A plain request the lean path read whole, body included. */
export interface WholeRequest {
  readonly whole: true;
  readonly method: string;
  /** The request target as sent: path and query. */
  readonly url: string;
  /** Field values by lower-case name (a plain request has each field once). */
  readonly headers: IncomingHttpHeaders;
  /** Field names (lower case) and values, alternating, in the order received. */
  readonly rawHeaders: string[];
  readonly socket: Socket;
  readonly complete: true;
  readonly body: Buffer;
}

export type ProxyRequest = IncomingMessage | WholeRequest;

/** What the proxy does with an answer; Node's `ServerResponse` is one. */
export interface ProxyResponse {
  /** The status line and fields are fixed (written, or to go out with the first body bytes). */
  readonly headersSent: boolean;
  /** `headers`: field names and values, alternating. Throws on a name or value that cannot be sent. */
  writeHead(status: number, reason: string, headers: string[]): unknown;
  /** Returns false when the client is not taking the bytes as fast: wait for `drain`. */
  write(chunk: Buffer): boolean;
  end(body?: string): unknown;
  /** Cuts the connection: the client sees an incomplete answer. */
  destroy(): unknown;
  /** `close`: the client's connection closed before the answer ended. */
  once(event: 'close' | 'drain', listener: () => void): unknown;
  off(event: 'drain', listener: () => void): unknown;
}
