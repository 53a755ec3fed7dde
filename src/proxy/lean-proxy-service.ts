/**
 * The proxy on the lean path (server/http1-lean-path.ts): every plain
 * request (a plain head, a body of at most {@link LEAN_PROXY_BODY_BYTES}
 * framed by `Content-Length`) is read whole and handed to the proxy's
 * handler as a {@link WholeRequest}, answered by a {@link LeanResponse};
 * at the first other request the connection goes to Node's server, which
 * streams bodies of any size and judges anything unusual.
 *
 * Why: on loopback Node's server costs the proxy about 10 µs of CPU a
 * request for reading the head into objects and framing the answer, a
 * sixth of what the proxy spends a request (docs/performance.md).
 */
import type { LeanService } from '../server/http1-lean-path.js';
import type { HttpLimits } from '../server/http-server.js';
import { LeanResponse } from './lean-response.js';
import type { ProxyRequest, ProxyResponse, WholeRequest } from './proxy-exchange.js';

/** Larger bodies are streamed through Node's server rather than held whole. */
export const LEAN_PROXY_BODY_BYTES = 64 * 1024;

/**
 * The lean path's limits for a proxy whose Node server has `headersTimeoutMs`
 * and `keepAliveTimeoutMs` and Node's defaults otherwise (a 16 KB head, at
 * most 2000 fields kept, 300 s to receive a request): a head beyond them is
 * left to Node's server, which answers it as it always has.
 */
export function leanProxyLimits(headersTimeoutMs: number, keepAliveTimeoutMs: number): HttpLimits {
  return {
    maxBodyBytes: LEAN_PROXY_BODY_BYTES,
    maxUrlBytes: 16 * 1024,
    maxHeaderBytes: 16 * 1024,
    maxHeaders: 2000,
    headersTimeoutMs,
    bodyTimeoutMs: 300_000,
    requestTimeoutMs: 300_000,
    keepAliveTimeoutMs,
  };
}

export function leanProxyService(
  handler: (req: ProxyRequest, res: ProxyResponse) => void,
): LeanService<true> {
  return {
    take: () => true,
    serve(_taken, exchange) {
      const { head } = exchange;
      const rawHeaders: string[] = [];
      for (const name in head.headers) rawHeaders.push(name, head.headers[name]!);
      const req: WholeRequest = {
        whole: true,
        method: head.method,
        url: head.target,
        headers: head.headers,
        rawHeaders,
        socket: exchange.socket,
        complete: true,
        body: exchange.body,
      };
      try {
        handler(req, new LeanResponse(exchange));
      } catch {
        // The handler answers its own failures; should it throw even so, nothing was forwarded
        // and the connection is cut rather than left without an answer.
        exchange.socket.destroy();
      }
    },
  };
}
