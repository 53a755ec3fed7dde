/**
 * The server's routes marked `lean` (`/v1/decide`, its batch form,
 * ext_authz) on the lean path (http1-lean-path.ts): a plain request to one
 * of them goes through the same dispatch and error mapping as on Node's
 * path (http-exchange.ts), and its answer is written in one piece with the
 * fields Node's server adds. A request to any other route leaves the
 * connection to Node's server.
 */
import { STATUS_CODES } from 'node:http';
import { answerPayload, dispatch, targetPath, type IncomingRequest } from './http-exchange.js';
import { answerHeadEnd, FIELD_NAME, type LeanExchange, type LeanService } from './http1-lean-path.js';
import type { RequestHead } from './http1-request-head.js';
import type { Logger } from './logger.js';
import type { RouteMatch, RouteResponse, Router } from './router.js';

type LeanRoute = Extract<RouteMatch, { handler: unknown }>;

// A value is visible ASCII, spaces and tabs. Checked with the name, as Node checks the fields it
// writes, so that no route can split an answer with a CR or LF.
const FIELD_VALUE = /^[\t\x20-\x7e]*$/;

const INTERNAL = { error: { code: 'internal_error', message: 'internal error' } };

export function leanRouteService(router: Router, logger: Logger): LeanService<LeanRoute> {
  return {
    take(head) {
      const found = router.match(head.method, targetPath(head.target));
      return found === undefined || 'allow' in found || !found.lean ? undefined : found;
    },
    serve(route, exchange) {
      const { head, body, socket } = exchange;
      const incoming: IncomingRequest = {
        method: head.method,
        target: head.target,
        headers: head.headers,
        remoteAddress: exchange.remoteAddress,
        peerCertificates: exchange.peerCertificates,
        rawBody: () => Promise.resolve(body),
      };
      dispatch(router, logger, incoming, route).then(
        (response) => answer(exchange, head, response, logger),
        // dispatch never rejects; should it, the connection is cut rather than left hanging.
        () => socket.destroy(),
      );
    },
  };
}

function answer(exchange: LeanExchange, head: RequestHead, response: RouteResponse, logger: Logger): void {
  const socket = exchange.socket;
  if (socket.destroyed) return exchange.done(true);
  let close = exchange.mustClose;
  let bytes: { head: string; payload: string | Buffer | undefined };
  try {
    bytes = encode(head.method, response, close, exchange.keepAliveTimeoutMs);
  } catch (err) {
    logger.log('error', 'response_failed', { error: String(err) });
    close = true;
    bytes = encode(head.method, { status: 500, body: INTERNAL }, close, exchange.keepAliveTimeoutMs);
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
  exchange.done(close);
}

/** The status line and header fields (Latin-1 text) and the body of an answer. */
function encode(
  method: string,
  response: RouteResponse,
  close: boolean,
  keepAliveTimeoutMs: number,
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
  head += answerHeadEnd(close, keepAliveTimeoutMs);
  const bodyless = method === 'HEAD' || status === 204 || status === 304 || status < 200;
  return { head, payload: bodyless ? undefined : payload };
}
