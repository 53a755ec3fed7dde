/**
 * Envoy's external authorization, independent of its transport: the HTTP
 * form (`/v1/ext_authz/{service}/…`) and the gRPC form
 * (`envoy.service.auth.v3.Authorization/Check`) both describe the original
 * request with these fields, and both answer with this verdict.
 */
import type { DecisionRequest } from '../core/decision/request.js';
import { bearerToken } from './bearer-token.js';
import type { DecisionService } from './decision-service.js';
import { HttpError } from './http-error.js';

/** The original request as the proxy saw it. */
export interface ExtAuthzInput {
  /** The destination service, as named in the policy. */
  service: string;
  method: string;
  /** The raw request target, query included: the engine normalizes it. */
  path: string;
  /** Lower-case names, as Node and Envoy give them. */
  headers: Record<string, string | string[] | undefined>;
  /**
   * The address the check came from: the proxy's own on the HTTP form, where
   * the client's is the last `x-forwarded-for` entry (the one the proxy added).
   */
  remoteAddress: string;
  /** The downstream client's address when the proxy says it outside the headers (gRPC): it wins. */
  sourceAddress?: string;
  /** The destination port when the proxy says it; else `x-forwarded-port` or the `host` port. */
  destinationPort?: number;
  /** What the proxy verified of the downstream mTLS peer, when it says so outside the headers. */
  peer?: { principal?: string; certificate?: string };
}

/** The verdict, ready for either wire form. */
export interface ExtAuthzAnswer {
  allowed: boolean;
  /** 200 allows; 403 denies. */
  status: 200 | 403;
  /** `x-gatehouse-decision-id` (absent only when the request could not be read), `x-gatehouse-would-deny`. */
  headers: Record<string, string>;
  /** The deny body, `{decision: 'deny', …}`; absent on allow. */
  body?: Record<string, unknown>;
}

/**
 * Decides one ext_authz check through the decision service (so it is
 * logged, `via` naming the form). A request that cannot be read is a deny
 * with reason `request_invalid`, in every mode: an `Authorization` field of
 * the Bearer scheme that is not `Bearer <token68>` among them. Any other
 * failure is thrown to the caller, which must answer it as a deny too.
 */
export async function checkExtAuthz(
  service: DecisionService,
  input: ExtAuthzInput,
  via: 'ext_authz' | 'ext_authz_grpc',
): Promise<ExtAuthzAnswer> {
  const bearer = bearerToken(input.headers.authorization);
  // Fail closed: a bearer credential that does not parse is refused, not passed over for the
  // certificate (a grant's JWT-SVID narrows what the workload's own identity may do).
  if (bearer === '')
    return unreadable('the `Authorization` field is not a usable bearer credential: want `Bearer <token68>`');
  // With a bearer, a client certificate is not the credential: it is checked beside it, and
  // makes the request mTLS only when it verifies for the same identity (DecisionService.decide).
  const cert = xfccCertificate(input.headers['x-forwarded-client-cert']) ?? input.peer?.certificate;
  let decision;
  try {
    decision = (await service.decide(extAuthzRequest(input, bearer, cert), via, bearer ? cert : undefined))
      .decision;
  } catch (err) {
    if (err instanceof HttpError && err.status === 400) return unreadable(err.message);
    throw err;
  }
  const headers: Record<string, string> = { 'x-gatehouse-decision-id': decision.decisionId! };
  if (decision.wouldDeny) headers['x-gatehouse-would-deny'] = 'true';
  if (decision.allowed) return { allowed: true, status: 200, headers };
  return {
    allowed: false,
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

/** A request Gatehouse cannot even read: a deny, said in Envoy's terms, and not logged. */
function unreadable(message: string): ExtAuthzAnswer {
  return {
    allowed: false,
    status: 403,
    headers: {},
    body: { decision: 'deny', reason: 'request_invalid', message },
  };
}

/**
 * The decision request for an ext_authz check: the source named by
 * `x-gatehouse-spiffe-id`, the bearer JWT's `sub`, the XFCC `URI` or the
 * peer principal, in that order, and the credential presented (bearer
 * JWT-SVID first, else the client certificate) for the decision service to
 * verify.
 *
 * The source address is the proxy's word, never the client's: the address
 * it gives outside the headers, else the last `x-forwarded-for` entry, which
 * the proxy appended (the entries before it are whatever the client sent, as
 * Envoy reads them with `xff_num_trusted_hops: 0`).
 */
function extAuthzRequest(
  input: ExtAuthzInput,
  bearer: string | undefined,
  cert: string | undefined,
): Omit<DecisionRequest, 'credential'> & { credential?: unknown } {
  const h = input.headers;
  const xff = h['x-forwarded-for'];
  const forwardedFor = typeof xff === 'string' ? xff.split(',').pop()!.trim() : undefined;
  const ip =
    (input.sourceAddress || forwardedFor || input.remoteAddress).replace(/^::ffff:/, '') || undefined;
  const portText =
    (typeof h['x-forwarded-port'] === 'string' && h['x-forwarded-port']) ||
    /:(\d+)$/.exec(String(h.host ?? ''))?.[1];
  const port = input.destinationPort || (portText ? Number(portText) : undefined);
  // Only a name for the source: the credential is verified after, and must be for this same ID.
  const spiffeId =
    typeof h['x-gatehouse-spiffe-id'] === 'string'
      ? h['x-gatehouse-spiffe-id']
      : bearer
        ? sourceIdFrom(bearer)
        : (xfccElement(h['x-forwarded-client-cert'], 'URI') ?? (input.peer?.principal || undefined));
  const request: Omit<DecisionRequest, 'credential'> & { credential?: unknown } = {
    source: { spiffeId: spiffeId ?? '', ...(ip ? { ip } : {}) },
    destination: { service: input.service, ...(port && port <= 65535 ? { port } : {}) },
    action: { method: input.method, path: input.path },
    // A certificate alone is the credential, verified before anything is allowed; beside a bearer
    // it counts only once verified (DecisionService.decide sets `mtls` then).
    context: { mtls: cert !== undefined && !bearer },
  };
  if (bearer) request.credential = { jwtSvid: bearer };
  else if (cert) request.credential = { x509Chain: cert };
  return request;
}

/** `x-forwarded-client-cert`: the `Cert` element (URL-encoded PEM) of the last (nearest) element. */
function xfccCertificate(header: string | string[] | undefined): string | undefined {
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
