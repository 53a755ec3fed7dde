/**
 * Turns one inbound HTTP request into a v1 decision request, and says which
 * path to forward: the normalized path the policy decided on (plus the query),
 * so that the upstream never sees a path other than the one authorized.
 */
import type { DecisionRequest } from '../core/decision/request.js';
import { normalizeRequestPath } from '../core/decision/request-path.js';
import type { CallerIdentity } from './local-verifier.js';

export interface InboundRequest {
  method: string;
  /** The request target as received (`/path?query`). */
  url: string;
  /** The peer address of the socket; forwarded-for headers are never trusted for it. */
  remoteAddress: string;
}

export interface BuiltRequest {
  request: DecisionRequest;
  /** Normalized path and the original query; undefined when the path cannot be normalized (a deny). */
  forwardPath: string | undefined;
  /** The client address, IPv4-mapped addresses unwrapped. */
  clientIp: string;
}

/**
 * Builds the decision request. The path is given to the engine without its
 * query (the query may hold secrets and is never logged); an unusable target
 * such as `*` or an absolute URL is passed through as is, and the engine
 * denies it as `request_invalid`.
 */
export function buildDecisionRequest(
  inbound: InboundRequest,
  caller: CallerIdentity,
  destination: { service: string; port: number | undefined },
): BuiltRequest {
  const url = inbound.url;
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  const normalized = normalizeRequestPath(path);
  const clientIp = inbound.remoteAddress.startsWith('::ffff:')
    ? inbound.remoteAddress.slice(7)
    : inbound.remoteAddress;
  const request: DecisionRequest = {
    source: clientIp ? { spiffeId: caller.spiffeId, ip: clientIp } : { spiffeId: caller.spiffeId },
    destination:
      destination.port === undefined
        ? { service: destination.service }
        : { service: destination.service, port: destination.port },
    action: { method: inbound.method, path },
    context: { mtls: caller.mtls },
  };
  if (caller.credential) request.credential = caller.credential;
  return {
    request,
    forwardPath: normalized === undefined ? undefined : q < 0 ? normalized : normalized + url.slice(q),
    clientIp,
  };
}
