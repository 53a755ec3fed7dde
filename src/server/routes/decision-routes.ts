/**
 * The decision API (docs/decision-api.md, docs/enforce.md): `POST /v1/decide`
 * and its batch form for enforcement points, the Envoy HTTP ext_authz
 * contract under `/v1/ext_authz/{service}/…`, and the decision log
 * (`GET /v1/decisions`, export, verify).
 */
import type { IdentityAuthority } from '../../core/identity/authority.js';
import type { DecisionRequest } from '../../core/decision/request.js';
import { exportDecisionLog } from '../../core/log/export-decision-log.js';
import { verifyDecisionLog } from '../../core/log/verify-decision-log.js';
import type { DecisionLogFilter, DecisionLogStore } from '../../core/ports.js';
import { requireAdmin, requireCaller } from '../auth.js';
import type { DecisionService } from '../decision-service.js';
import { HttpError } from '../http-error.js';
import type { RouteRequest, Router } from '../router.js';

const MAX_BATCH = 1000;
const MAX_PAGE = 1000;
// CONNECT never reaches a route: the server answers it 405 itself.
const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE'];

export function decisionRoutes(
  router: Router,
  authority: IdentityAuthority,
  service: DecisionService,
  log: DecisionLogStore,
): void {
  router.add('POST', '/v1/decide', async (req) => {
    await requireCaller(authority, req);
    const { decision } = await service.decide(await req.body(), 'api');
    return { status: 200, body: decision, headers: { 'x-gatehouse-decision-id': decision.decisionId! } };
  });

  router.add('POST', '/v1/decide/batch', async (req) => {
    await requireCaller(authority, req);
    const body = (await req.body()) as { requests?: unknown } | undefined;
    const requests = body?.requests;
    if (!Array.isArray(requests) || requests.length === 0 || requests.length > MAX_BATCH) {
      throw new HttpError(
        400,
        'request_invalid',
        `\`requests\` must be a list of 1 to ${MAX_BATCH} decision requests`,
      );
    }
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
  });

  // Envoy's HTTP ext_authz: the original request arrives with its method, headers and
  // path appended to the prefix. 200 allows; anything else denies and goes to the client.
  for (const method of HTTP_METHODS) {
    router.add(method, '/v1/ext_authz/:service', (req) => extAuthz(req, service));
    router.add(method, '/v1/ext_authz/:service/*', (req) => extAuthz(req, service));
  }

  router.add('GET', '/v1/decisions', async (req) => {
    await requireAdmin(authority, req);
    const filter = decisionFilter(req);
    return { status: 200, body: { decisions: await log.query(filter) } };
  });
  router.add('GET', '/v1/decisions/export', async (req) => {
    await requireAdmin(authority, req);
    let out = '';
    const fromSeq = Number(req.query.get('fromSeq') ?? '1');
    if (!Number.isInteger(fromSeq) || fromSeq < 1)
      throw new HttpError(400, 'request_invalid', '`fromSeq` must be 1 or more');
    await exportDecisionLog(log, (lines) => void (out += lines), { fromSeq });
    return { status: 200, body: out, headers: { 'content-type': 'application/x-ndjson' } };
  });
  router.add('GET', '/v1/decisions/verify', async (req) => {
    await requireAdmin(authority, req);
    return { status: 200, body: await verifyDecisionLog(log) };
  });
}

function decisionFilter(req: RouteRequest): DecisionLogFilter {
  const q = req.query;
  const limit = Number(q.get('limit') ?? '100');
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) {
    throw new HttpError(400, 'request_invalid', `\`limit\` must be a whole number from 1 to ${MAX_PAGE}`);
  }
  const filter: DecisionLogFilter = { limit };
  const identity = q.get('identity');
  const svc = q.get('service');
  const verdict = q.get('verdict');
  if (identity) filter.identity = identity;
  if (svc) filter.service = svc;
  if (verdict) {
    if (verdict !== 'allow' && verdict !== 'deny')
      throw new HttpError(400, 'request_invalid', '`verdict` must be allow or deny');
    filter.verdict = verdict;
  }
  for (const k of ['since', 'until'] as const) {
    const v = q.get(k);
    if (v) {
      if (Number.isNaN(Date.parse(v)))
        throw new HttpError(400, 'request_invalid', `\`${k}\` must be an RFC 3339 date-time`);
      filter[k] = new Date(v).toISOString();
    }
  }
  for (const k of ['afterSeq', 'beforeSeq'] as const) {
    const v = q.get(k);
    if (v) {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0)
        throw new HttpError(400, 'request_invalid', `\`${k}\` must be a whole number`);
      filter[k] = n;
    }
  }
  if (q.get('order') === 'desc') filter.descending = true;
  return filter;
}

/** `x-forwarded-client-cert`: the `Cert` element (URL-encoded PEM) of the last (nearest) element. */
export function xfccCertificate(header: string | string[] | undefined): string | undefined {
  return xfccElement(header, 'Cert');
}

function xfccElement(header: string | string[] | undefined, key: 'Cert' | 'URI'): string | undefined {
  if (typeof header !== 'string') return undefined;
  const last = header.split(',').pop() ?? '';
  const m = new RegExp(`(?:^|;)\\s*${key}="?([^";]+)"?`, 'i').exec(last);
  if (!m) return undefined;
  try {
    return decodeURIComponent(m[1]!);
  } catch {
    return undefined;
  }
}

async function extAuthz(req: RouteRequest, service: DecisionService) {
  // The router decoded the service name and keeps the original path raw: the engine
  // normalizes it, and denies a path it cannot normalize safely.
  const serviceName = req.params.service!;
  let path = req.params['*'] ?? '/';
  const query = req.query.toString();
  if (query) path += `?${query}`;
  const h = req.headers;
  const forwardedFor =
    typeof h['x-forwarded-for'] === 'string' ? h['x-forwarded-for'].split(',')[0]!.trim() : undefined;
  const ip = forwardedFor || req.remoteAddress.replace(/^::ffff:/, '') || undefined;
  const portText =
    (typeof h['x-forwarded-port'] === 'string' && h['x-forwarded-port']) ||
    /:(\d+)$/.exec(String(h.host ?? ''))?.[1];
  const port = portText ? Number(portText) : undefined;
  const bearer =
    typeof h.authorization === 'string' ? /^Bearer\s+(\S+)$/i.exec(h.authorization)?.[1] : undefined;
  const cert = xfccCertificate(h['x-forwarded-client-cert']);
  // Only a name for the source: the credential is verified after, and must be for this same ID.
  const spiffeId =
    typeof h['x-gatehouse-spiffe-id'] === 'string'
      ? h['x-gatehouse-spiffe-id']
      : bearer
        ? sourceIdFrom(bearer)
        : xfccElement(h['x-forwarded-client-cert'], 'URI');
  const request: Omit<DecisionRequest, 'credential'> & { credential?: unknown } = {
    source: { spiffeId: spiffeId ?? '', ...(ip ? { ip } : {}) },
    destination: { service: serviceName, ...(port && port <= 65535 ? { port } : {}) },
    action: { method: req.method, path },
    context: { mtls: cert !== undefined },
  };
  if (bearer) request.credential = { jwtSvid: bearer };
  else if (cert) request.credential = { x509Chain: cert };
  let decision;
  try {
    decision = (await service.decide(request, 'ext_authz')).decision;
  } catch (err) {
    // A request Gatehouse cannot even read is a deny, said in Envoy's terms.
    if (err instanceof HttpError && err.status === 400) {
      return { status: 403, body: { decision: 'deny', reason: 'request_invalid', message: err.message } };
    }
    throw err;
  }
  const headers: Record<string, string> = { 'x-gatehouse-decision-id': decision.decisionId! };
  if (decision.wouldDeny) headers['x-gatehouse-would-deny'] = 'true';
  if (decision.allowed) return { status: 200, headers };
  return {
    status: 403,
    headers,
    body: {
      decision: 'deny',
      decisionId: decision.decisionId,
      layer: decision.layer,
      reason: decision.reason,
    },
  };
}

/** The `sub` of a bearer JWT, unverified: only to name the source; the credential is verified after. */
function sourceIdFrom(token: string | undefined): string | undefined {
  const part = token?.split('.')[1];
  if (!part || part.length > 8192) return undefined;
  try {
    const sub = (JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as { sub?: unknown }).sub;
    return typeof sub === 'string' ? sub : undefined;
  } catch {
    return undefined;
  }
}
