/**
 * One request through the proxy: verify the caller's SVIDs locally, build the
 * decision request, decide in-process with the synced policy, record the
 * decision, then forward or answer the deny. Every answer carries
 * `x-gatehouse-decision-id`.
 *
 * - Allowed (an allow, or a deny in `simulate`/`observe` mode): forwarded;
 *   a would-deny is marked `x-gatehouse-would-deny: true` both ways.
 * - Denied: 403 `{decision, decisionId, layer, reason}`; a request the policy
 *   cannot evaluate (a path that does not normalize, a target that is not a
 *   path, `Authorization` twice): 400 with the same body and a `message`.
 * - No policy synced yet: 503, reason `policy_unavailable`, for every request.
 */
import { STATUS_CODES } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Decision } from '../core/decision/decision.js';
import { failedDecision } from '../core/decision/failed-decision.js';
import type { UnchainedRecord } from '../core/log/hash-chain.js';
import { recordFromDecision } from '../core/log/record-from-decision.js';
import type { Clock, Random } from '../core/ports.js';
import type { CompiledPolicy } from '../core/policy/index.js';
import { isoTime } from '../core/utc-time.js';
import { bearerToken } from '../server/bearer-token.js';
import type { Logger } from '../server/logger.js';
import type { Forwarder } from './forwarder.js';
import type { ProxyRequest, ProxyResponse } from './proxy-exchange.js';
import type { CallerIdentity, LocalVerifier } from './local-verifier.js';
import { buildDecisionRequest } from './request-builder.js';

export interface ProxyHandlerOptions {
  service: string;
  /** The destination port the policy sees; default: the port the connection arrived on. */
  servicePort?: number;
  /** Forward the caller's bearer JWT-SVID instead of stripping it. */
  keepCredential: boolean;
  /** The synced policy, read on every request; undefined before the first sync. */
  policy(): CompiledPolicy | undefined;
  verifier: LocalVerifier;
  forwarder: Forwarder;
  /**
   * Where decision records go. `settle` is called before the proxy itself
   * answers (a deny, a failure), and after forwarding a request when no
   * other is in flight: a spooled record is on file by then. (The
   * forwarder settles before relaying an upstream's answer.)
   */
  records: { push(record: UnchainedRecord): void; settle(): void };
  clock: Clock;
  /** The same id source the synced engines use. */
  ids: Random;
  logger: Logger;
}

export const NO_POLICY_MESSAGE = 'the proxy has no policy: it has not synced with the control plane yet';
const DECISION_ID = 'x-gatehouse-decision-id';
const SPIFFE_ID = 'x-gatehouse-spiffe-id';
const WOULD_DENY = 'x-gatehouse-would-deny';
const MAX_DRAINED_BODY = 1024 * 1024;
const NO_CALLER: CallerIdentity = Object.freeze({ spiffeId: '', mtls: false });
const AUTHORIZATION_REPEATED = 'the request carries more than one Authorization field';

/**
 * Whether `Authorization` comes more than once. Node's reader keeps the first
 * for the decision (the lean reader refuses the request), and the others would
 * reach the upstream unjudged, and unstripped when the first is no bearer.
 */
function authorizationRepeated(raw: readonly string[]): boolean {
  let seen = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length !== 13 || name.toLowerCase() !== 'authorization') continue;
    if (seen) return true;
    seen = true;
  }
  return false;
}

export function proxyHandler(options: ProxyHandlerOptions): (req: ProxyRequest, res: ProxyResponse) => void {
  const { service, verifier, forwarder, records, clock, ids, logger } = options;
  const via = `proxy:${service}`;
  // The names a JWT-SVID for this service may carry as audience, per synced policy.
  const audiences = new WeakMap<CompiledPolicy, readonly string[]>();
  const audiencesOf = (policy: CompiledPolicy): readonly string[] => {
    let list = audiences.get(policy);
    if (!list) {
      const spiffeId = policy.policy.services.find((s) => s.name === service)?.spiffeId;
      list = spiffeId ? [spiffeId, service] : [service];
      audiences.set(policy, list);
    }
    return list;
  };

  const failed = (res: ProxyResponse, err: unknown) => {
    // Fail closed: nothing was forwarded.
    logger.log('error', 'proxy_request_failed', {
      error: err instanceof Error ? (err.stack ?? err.message) : String(err),
    });
    records.settle();
    if (res.headersSent) res.destroy();
    else sendJson(res, 500, { error: { code: 'internal_error', message: 'internal error' } }, [], true);
  };

  /** Decides with the caller known, records, then forwards or denies; synchronous. */
  const finish = (
    req: ProxyRequest,
    res: ProxyResponse,
    started: bigint,
    policy: CompiledPolicy | undefined,
    bearer: string | undefined,
    caller: CallerIdentity,
  ): void => {
    const socket = req.socket as TLSSocket;
    const built = buildDecisionRequest(
      { method: req.method ?? 'GET', url: req.url ?? '/', remoteAddress: socket.remoteAddress ?? '' },
      caller,
      { service, port: options.servicePort ?? socket.localPort },
    );
    let decision: Decision = !policy
      ? failedDecision('internal_error', NO_POLICY_MESSAGE, 'none', service)
      : authorizationRepeated(req.rawHeaders)
        ? failedDecision('request_invalid', AUTHORIZATION_REPEATED, policy.revision, service)
        : policy.decide(built.request);
    if (decision.decisionId === undefined) decision = { ...decision, decisionId: ids.id() };
    const decisionId = decision.decisionId!;
    records.push(
      recordFromDecision(built.request, decision, {
        decisionId,
        time: isoTime(clock.now()),
        via,
        latencyMicros: Number((process.hrtime.bigint() - started) / 1000n),
      }),
    );
    if (!policy) {
      records.settle();
      return deny(req, res, 503, decision, 'policy_unavailable');
    }
    if (!decision.allowed || built.forwardPath === undefined) {
      records.settle();
      return deny(req, res, decision.reason === 'request_invalid' ? 400 : 403, decision);
    }
    const upstreamHeaders = [DECISION_ID, decisionId];
    const responseHeaders = [DECISION_ID, decisionId];
    if (decision.layers.credential.verdict === 'allow')
      upstreamHeaders.push(SPIFFE_ID, built.request.source.spiffeId);
    if (decision.wouldDeny) {
      upstreamHeaders.push(WOULD_DENY, 'true');
      responseHeaders.push(WOULD_DENY, 'true');
    }
    forwarder.forward(req, res, {
      path: built.forwardPath,
      clientIp: built.clientIp,
      stripAuthorization: bearer !== undefined && !options.keepCredential,
      proto: socket.encrypted === true ? 'https' : 'http',
      upstreamHeaders,
      responseHeaders,
    });
    // Alone in flight, the record is written now, while the upstream works on the request;
    // with others, the first answer to leave writes the records of all (one write, not many).
    if (forwarder.inFlight <= 1) records.settle();
  };

  return (req, res) => {
    try {
      const started = process.hrtime.bigint();
      const socket = req.socket as TLSSocket;
      const policy = options.policy();
      const bearer = bearerToken(req.headers.authorization);
      const caller = policy
        ? verifier.identify(bearer, socket.encrypted === true ? socket : undefined, audiencesOf(policy))
        : NO_CALLER;
      if (caller instanceof Promise) {
        caller.then(
          (known) => finish(req, res, started, policy, bearer, known),
          (err: unknown) => failed(res, err),
        );
      } else finish(req, res, started, policy, bearer, caller);
    } catch (err) {
      failed(res, err);
    }
  };
}

function deny(
  req: ProxyRequest,
  res: ProxyResponse,
  status: number,
  decision: Decision,
  reason: string = decision.reason,
): void {
  const body: Record<string, unknown> = {
    decision: 'deny',
    decisionId: decision.decisionId,
    layer: decision.layer,
    reason,
  };
  if (decision.message !== undefined) body.message = decision.message;
  // A small unread body is drained so the connection stays usable; a large or
  // open-ended one is not read just to be thrown away: the connection closes instead.
  const length = Number(req.headers['content-length'] ?? 0);
  const large = req.headers['transfer-encoding'] !== undefined || !(length <= MAX_DRAINED_BODY);
  sendJson(res, status, body, [DECISION_ID, decision.decisionId!], large && !req.complete);
}

/** Answers with a JSON body; `headers` is a flat name/value list added to the answer. */
export function sendJson(
  res: ProxyResponse,
  status: number,
  body: unknown,
  headers: readonly string[],
  close: boolean,
): void {
  const text = JSON.stringify(body);
  const out = [
    ...headers,
    'content-type',
    'application/json',
    'content-length',
    String(Buffer.byteLength(text)),
    'cache-control',
    'no-store',
  ];
  if (close) out.push('connection', 'close');
  res.writeHead(status, STATUS_CODES[status] ?? 'Unknown', out);
  res.end(text);
}
