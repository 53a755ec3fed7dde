/**
 * Envoy's gRPC external authorization, `envoy.service.auth.v3.Authorization/Check`
 * (docs/decision-api.md): the same decision as the HTTP form
 * (`/v1/ext_authz/{service}/…`), logged `via: ext_authz_grpc`. Every answer
 * but an allow carries a non-OK status: a failure here is a deny, never an
 * allow.
 */
import { Server, ServerCredentials, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';
import type { DecisionService } from '../decision-service.js';
import { checkExtAuthz, type ExtAuthzAnswer } from '../ext-authz.js';
import type { ServerTls } from '../http-server.js';
import type { Logger } from '../logger.js';
import { loadAuthorizationService } from './external-auth-proto.js';

// google.rpc.Code: Envoy allows on OK only.
const OK = 0;
const PERMISSION_DENIED = 7;
const UNAVAILABLE = 14;
const SHUTDOWN_GRACE_MS = 5000;

/** A running gRPC listener. */
export interface ExtAuthzGrpcServer {
  /** `HOST:PORT` as bound (the real port when 0 was asked). */
  address: string;
  /** Stops accepting checks and waits (a few seconds at most) for those in flight. */
  close(): Promise<void>;
}

interface Peer {
  address?: { socket_address?: { address?: string; port_value?: number } };
  principal?: string;
  certificate?: string;
}

/** The fields of a decoded `CheckRequest` read here; any may be absent. */
interface CheckRequest {
  attributes?: {
    source?: Peer;
    destination?: Peer;
    request?: { http?: { method?: string; path?: string; headers?: Record<string, string> } };
    context_extensions?: Record<string, string>;
  };
}

interface HeaderValueOption {
  header: { key: string; value: string };
}

/** A `CheckResponse`: a status, and the HTTP answer for the downstream client or upstream. */
export interface CheckResponse {
  status: { code: number; message?: string };
  ok_response?: { headers: HeaderValueOption[] };
  denied_response?: { status: { code: number }; headers: HeaderValueOption[]; body: string };
}

/**
 * Binds the Authorization service on `host:port`: over TLS with `tls` (the
 * control plane's own certificate), else plaintext (Envoy reaching it over a
 * local cluster).
 */
export async function startExtAuthzGrpcServer(
  decisions: DecisionService,
  host: string,
  port: number,
  logger: Logger,
  tls?: ServerTls,
): Promise<ExtAuthzGrpcServer> {
  const server = new Server();
  server.addService(loadAuthorizationService().service, {
    Check: (call: ServerUnaryCall<CheckRequest, CheckResponse>, callback: sendUnaryData<CheckResponse>) => {
      grpcCheck(decisions, call.request).then(
        (response) => callback(null, response),
        (err: unknown) => {
          logger.log('error', 'ext_authz_grpc_failed', { error: String(err) });
          callback(null, unavailable());
        },
      );
    },
  });
  const hostPart = host.includes(':') ? `[${host}]` : host;
  const credentials = tls
    ? ServerCredentials.createSsl(
        null,
        [{ cert_chain: Buffer.from(tls.cert), private_key: Buffer.from(tls.key) }],
        false,
      )
    : ServerCredentials.createInsecure();
  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${hostPart}:${port}`, credentials, (err, p) => (err ? reject(err) : resolve(p))),
  );
  return {
    address: `${hostPart}:${bound}`,
    close: () =>
      new Promise<void>((resolve) => {
        const force = setTimeout(() => server.forceShutdown(), SHUTDOWN_GRACE_MS);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      }),
  };
}

/**
 * Answers one check. The service is `context_extensions["service"]`, else
 * the policy service whose SPIFFE ID is the destination principal; a check
 * naming neither is denied. Throws only on a failure of the decision
 * service, which the caller answers UNAVAILABLE.
 */
export async function grpcCheck(decisions: DecisionService, request: CheckRequest): Promise<CheckResponse> {
  const attrs = request.attributes ?? {};
  const http = attrs.request?.http ?? {};
  const principal = attrs.destination?.principal;
  const service =
    attrs.context_extensions?.service ||
    (principal ? decisions.policy.policy.services.find((s) => s.spiffeId === principal)?.name : undefined);
  if (!service) {
    return answer({
      allowed: false,
      status: 403,
      headers: {},
      body: {
        decision: 'deny',
        reason: 'request_invalid',
        message:
          'the check names no service: set `context_extensions` `service` on the route, ' +
          'or give the service a SPIFFE ID that is the destination principal',
      },
    });
  }
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(http.headers ?? {})) headers[k.toLowerCase()] = v;
  return answer(
    await checkExtAuthz(
      decisions,
      {
        service,
        method: http.method ?? '',
        path: http.path || '/',
        headers,
        remoteAddress: attrs.source?.address?.socket_address?.address ?? '',
        ...(attrs.source?.address?.socket_address?.address
          ? { sourceAddress: attrs.source.address.socket_address.address }
          : {}),
        ...(attrs.destination?.address?.socket_address?.port_value
          ? { destinationPort: attrs.destination.address.socket_address.port_value }
          : {}),
        peer: {
          ...(attrs.source?.principal ? { principal: attrs.source.principal } : {}),
          ...(attrs.source?.certificate ? { certificate: urlDecoded(attrs.source.certificate) } : {}),
        },
      },
      'ext_authz_grpc',
    ),
  );
}

function answer(a: ExtAuthzAnswer): CheckResponse {
  const headers = Object.entries(a.headers).map(([key, value]) => ({ header: { key, value } }));
  if (a.allowed) return { status: { code: OK }, ok_response: { headers } };
  return {
    status: { code: PERMISSION_DENIED, message: String(a.body?.reason ?? 'denied') },
    denied_response: {
      status: { code: a.status },
      headers: [...headers, { header: { key: 'content-type', value: 'application/json' } }],
      body: JSON.stringify(a.body ?? { decision: 'deny' }),
    },
  };
}

function unavailable(): CheckResponse {
  const body = { decision: 'deny', reason: 'unavailable', message: 'the decision point failed' };
  return {
    status: { code: UNAVAILABLE, message: 'decision point unavailable' },
    denied_response: {
      status: { code: 503 },
      headers: [{ header: { key: 'content-type', value: 'application/json' } }],
      body: JSON.stringify(body),
    },
  };
}

/** Peer.certificate is URL-encoded PEM; one that does not decode is passed on and fails verification. */
function urlDecoded(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
