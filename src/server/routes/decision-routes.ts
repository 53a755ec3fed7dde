/**
 * The decision API (docs/decision-api.md, docs/enforce.md): `POST /v1/decide`
 * and its batch form for enforcement points, the Envoy HTTP ext_authz
 * contract under `/v1/ext_authz/{service}/…`, and the decision log
 * (`GET /v1/decisions`, export, verify, prune).
 */
import type { IdentityAuthority } from '../../core/identity/authority.js';
import { decisionLogLines } from '../../core/log/export-decision-log.js';
import { verifyDecisionLog } from '../../core/log/verify-decision-log.js';
import type { DecisionLogAnchor, DecisionLogFilter, DecisionLogStore } from '../../core/ports.js';
import type { DecisionLogPruner } from '../decision-log-pruner.js';
import { forbidden, requireAdmin, requireCaller, type Caller } from '../auth.js';
import type { DecisionService } from '../decision-service.js';
import { checkExtAuthz } from '../ext-authz.js';
import { HttpError } from '../http-error.js';
import { StreamBody, type RouteRequest, type Router } from '../router.js';
import { bodyList, countParam, enumParam, invalid, timeParam } from './params.js';

const MAX_BATCH = 1000;
const MAX_PAGE = 1000;
// The enforcement points' routes: answered by the lean HTTP/1.1 path when the request is plain.
const LEAN = { lean: true };
// CONNECT never reaches a route: the server answers it 405 itself.
const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE'];

export function decisionRoutes(
  router: Router,
  authority: IdentityAuthority,
  service: DecisionService,
  log: DecisionLogStore,
  pruner: DecisionLogPruner,
): void {
  router.add(
    'POST',
    '/v1/decide',
    async (req) => {
      const caller = await requireCaller(authority, req);
      const body = await req.body();
      ownServicesOnly(caller, [body], service);
      const { decision } = await service.decide(body, 'api');
      return { status: 200, body: decision, headers: { 'x-gatehouse-decision-id': decision.decisionId! } };
    },
    LEAN,
  );

  router.add(
    'POST',
    '/v1/decide/batch',
    async (req) => {
      const caller = await requireCaller(authority, req);
      const requests = bodyList(await req.body(), 'requests', MAX_BATCH, 'decision requests');
      ownServicesOnly(caller, requests, service);
      const decisions = await Promise.all(
        requests.map(async (r) => {
          try {
            return (await service.decide(r, 'api')).decision;
          } catch (err) {
            if (err instanceof HttpError) return { error: { code: err.code, message: err.message } };
            throw err;
          }
        }),
      );
      return { status: 200, body: { decisions } };
    },
    LEAN,
  );

  // Envoy's HTTP ext_authz: the original request arrives with its method, headers and
  // path appended to the prefix. 200 allows; anything else denies and goes to the client.
  for (const method of HTTP_METHODS) {
    router.add(method, '/v1/ext_authz/:service', (req) => extAuthz(req, service), LEAN);
    router.add(method, '/v1/ext_authz/:service/*', (req) => extAuthz(req, service), LEAN);
  }

  router.add('GET', '/v1/decisions', async (req) => {
    await requireAdmin(authority, req);
    const filter = decisionFilter(req);
    return { status: 200, body: { decisions: await log.query(filter) } };
  });
  router.add('GET', '/v1/decisions/export', async (req) => {
    await requireAdmin(authority, req);
    const fromSeq = countParam(req.query, 'fromSeq', 1) ?? 1;
    // Streamed: a log of millions of records is larger than any string the server could build.
    return {
      status: 200,
      body: new StreamBody(decisionLogLines(log, { fromSeq })),
      headers: { 'content-type': 'application/x-ndjson' },
    };
  });
  router.add('GET', '/v1/decisions/verify', async (req) => {
    await requireAdmin(authority, req);
    return { status: 200, body: await verifyDecisionLog(log) };
  });
  router.add('POST', '/v1/decisions/prune', async (req) => {
    await requireAdmin(authority, req);
    const body = await req.body();
    if (body === null || typeof body !== 'object' || Array.isArray(body))
      throw invalid('the body must be a JSON object such as {"before": "2026-11-01T00:00:00Z"}');
    const before = timeParam(body as Record<string, unknown>, 'before');
    if (before === undefined) throw invalid('`before` is required: records decided before it are pruned');
    const { pruned, anchor } = await pruner.prune(new Date(before).toISOString());
    const answer: PruneResponse = { pruned, anchor: anchor ?? null, remaining: await log.count() };
    return { status: 200, body: answer };
  });
}

/** `POST /v1/decisions/prune`. */
export interface PruneResponse {
  /** Records deleted by this call. */
  pruned: number;
  /** The last record pruned, by this call or an earlier one; null when none ever was. */
  anchor: DecisionLogAnchor | null;
  /** Records left in the log. */
  remaining: number;
}

function decisionFilter(req: RouteRequest): DecisionLogFilter {
  const q = req.query;
  const filter: DecisionLogFilter = { limit: countParam(q, 'limit', 1, MAX_PAGE) ?? 100 };
  const identity = q.get('identity');
  const svc = q.get('service');
  const verdict = enumParam(q, 'verdict', ['allow', 'deny']);
  if (identity) filter.identity = identity;
  if (svc) filter.service = svc;
  if (verdict !== undefined) filter.verdict = verdict;
  for (const k of ['since', 'until'] as const) {
    const t = timeParam(q, k);
    if (t !== undefined) filter[k] = new Date(t).toISOString();
  }
  for (const k of ['afterSeq', 'beforeSeq'] as const) {
    const n = countParam(q, k, 0);
    if (n !== undefined) filter[k] = n;
  }
  if (enumParam(q, 'order', ['asc', 'desc']) === 'desc') filter.descending = true;
  return filter;
}

/**
 * A workload asks for decisions only as the enforcement point of its own
 * services (those whose SPIFFE ID it holds), as it ships records only for
 * them: the request's credential is the enforcement point's word, and the
 * decision is logged, so another workload's word would write evidence about
 * services it does not guard. The admin asks for any.
 * @throws HttpError 403 `forbidden`
 */
function ownServicesOnly(caller: Caller, requests: readonly unknown[], service: DecisionService): void {
  if (caller.kind !== 'workload') return;
  const services = service.policy.policy.services;
  for (const r of requests) {
    const name = (r as { destination?: { service?: unknown } } | null)?.destination?.service;
    // Anything but a service name is for the decision service to refuse (400).
    if (typeof name !== 'string') continue;
    if (!services.some((s) => s.name === name && s.spiffeId === caller.spiffeId))
      throw forbidden(`\`${caller.spiffeId}\` may not ask for decisions on service \`${name}\``);
  }
}

async function extAuthz(req: RouteRequest, service: DecisionService) {
  // The router decoded the service name and keeps the original path raw: the engine
  // normalizes it, and denies a path it cannot normalize safely.
  let path = req.params['*'] ?? '/';
  const query = req.query.toString();
  if (query) path += `?${query}`;
  // `{service}:{port}` fixes the destination port in Envoy's path prefix, where no header of the
  // client's can choose it (service names hold no `:`).
  const named = req.params.service!;
  const colon = named.lastIndexOf(':');
  const port = colon === -1 ? undefined : /^[1-9]\d{0,4}$/.exec(named.slice(colon + 1))?.[0];
  if (colon !== -1 && !(port && Number(port) <= 65535))
    throw new HttpError(
      400,
      'request_invalid',
      `\`${named}\`: want a service name, or NAME:PORT with a port 1-65535`,
    );
  const answer = await checkExtAuthz(
    service,
    {
      service: colon === -1 ? named : named.slice(0, colon),
      ...(port ? { destinationPort: Number(port) } : {}),
      method: req.method,
      path,
      headers: req.headers,
      remoteAddress: req.remoteAddress,
    },
    'ext_authz',
  );
  return answer.body
    ? { status: answer.status, headers: answer.headers, body: answer.body }
    : { status: answer.status, headers: answer.headers };
}
