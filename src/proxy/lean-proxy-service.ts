/**
 * The proxy on the lean path (server/http1-lean-path.ts): every plain
 * request (a plain head, a body of at most {@link LEAN_PROXY_BODY_BYTES}
 * framed by `Content-Length`, arriving promptly) is read whole and handed
 * to the proxy's handler as a {@link WholeRequest}, answered by a
 * {@link LeanResponse}; at the first other request the connection goes to
 * Node's server, which streams bodies of any size and judges anything
 * unusual.
 *
 * Why: on loopback Node's server costs the proxy about 10 µs of CPU a
 * request for reading the head into objects and framing the answer, a
 * tenth to a sixth of what the proxy spends a request; it gained 1.07
 * times the throughput (docs/performance.md).
 */
import type { LeanPathOptions, LeanService } from '../server/http1-lean-path.js';
import { LeanResponse } from './lean-response.js';
import type { ProxyRequest, ProxyResponse, WholeRequest } from './proxy-exchange.js';

/** Larger bodies are streamed through Node's server rather than held whole. */
export const LEAN_PROXY_BODY_BYTES = 64 * 1024;

/**
 * A body still arriving this long after its head (1–2 s, as the lean path
 * looks once a second) is left to Node's server, which streams it, so that
 * slow senders hold no more here than they would there.
 */
export const LEAN_PROXY_SLOW_BODY_MS = 1000;

/**
 * How the proxy leads with the lean path, for `handler` (start-proxy.ts),
 * its Node server having `headersTimeoutMs` and `keepAliveTimeoutMs` and
 * Node's defaults otherwise (a 16 KB head, at most 2000 fields kept, 300 s
 * to receive a request): a head beyond those limits is left to Node's
 * server, which answers it as it always has.
 */
export function leanProxyPath(
  handler: (req: ProxyRequest, res: ProxyResponse) => void,
  headersTimeoutMs: number,
  keepAliveTimeoutMs: number,
): Omit<LeanPathOptions<true>, 'handOff' | 'counters'> {
  return {
    service: leanProxyService(handler),
    limits: {
      maxBodyBytes: LEAN_PROXY_BODY_BYTES,
      maxUrlBytes: 16 * 1024,
      maxHeaderBytes: 16 * 1024,
      maxHeaders: 2000,
      headersTimeoutMs,
      bodyTimeoutMs: 300_000,
      requestTimeoutMs: 300_000,
      keepAliveTimeoutMs,
    },
    slowBodyHandOffMs: LEAN_PROXY_SLOW_BODY_MS,
  };
}

function leanProxyService(handler: (req: ProxyRequest, res: ProxyResponse) => void): LeanService<true> {
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
