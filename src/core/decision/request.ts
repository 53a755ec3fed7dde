/**
 * The decision request (wire format v1, docs/decision-api.md): who asks, with
 * what credential, from where, to do what on which service.
 */
import { isRealDate } from '../dates.js';
import { compilePathGlob } from '../policy/glob.js';

export const REQUEST_API_VERSION = 'gatehouse.dev/v1';

export type CredentialType = 'x509-svid' | 'jwt-svid' | 'oidc' | 'api-key' | 'grant';
export const CREDENTIAL_TYPES: readonly CredentialType[] = [
  'x509-svid',
  'jwt-svid',
  'oidc',
  'api-key',
  'grant',
];

export interface RequestSource {
  /** The caller's SPIFFE ID, already verified by the enforcement point. */
  spiffeId: string;
  /** The caller's network address (IPv4 or IPv6). */
  ip?: string;
  /** Labels the enforcement point attaches from the registry; the policy's own inventory wins on conflict. */
  labels?: Record<string, string>;
}

export interface RequestCredential {
  type: CredentialType;
  /** `jti` of a JWT-SVID, serial of an X.509-SVID, key id of an API key. */
  id?: string;
  /** True only when the enforcement point verified signature, audience and trust domain. */
  verified: boolean;
  issuedAt?: string;
  notBefore?: string;
  expiresAt?: string;
  revoked?: boolean;
  /**
   * The task scope of a JIT grant (required when `type` is `grant`): the
   * credential is good only for this service and these actions. A grant
   * narrows what the policy allows; it never widens it.
   */
  scope?: GrantScopeClaim;
}

/** What a JIT grant credential may be used for; empty lists constrain nothing (docs/decision-api.md). */
export interface GrantScopeClaim {
  service: string;
  methods?: string[];
  paths?: string[];
  operations?: string[];
}

export interface RequestDestination {
  service: string;
  port?: number;
}

export interface RequestAction {
  method?: string;
  path?: string;
  /** A named operation of the service (for example a gRPC method). */
  operation?: string;
}

export interface DecisionRequest {
  apiVersion?: string;
  source: RequestSource;
  credential?: RequestCredential;
  destination: RequestDestination;
  action?: RequestAction;
  /** Free-form attributes for conditions: `mtls`, `posture`, `risk`, ... */
  context?: Record<string, unknown>;
  /** RFC 3339 time of the request; the decision point's clock when absent. */
  time?: string;
}

export interface RequestProblem {
  path: string;
  message: string;
}

const MAX_STRING = 8192;
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i;

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/**
 * Checks untrusted JSON against the request format and returns every problem
 * found (empty when valid). Unknown top-level fields are rejected so that a
 * misspelt field is never silently ignored on the authorization path.
 */
export function checkDecisionRequest(value: unknown): RequestProblem[] {
  const problems: RequestProblem[] = [];
  const bad = (path: string, message: string) => problems.push({ path, message });
  if (!isObject(value)) {
    bad('', 'a decision request must be a JSON object');
    return problems;
  }
  for (const key of Object.keys(value)) {
    if (!['apiVersion', 'source', 'credential', 'destination', 'action', 'context', 'time'].includes(key)) {
      bad(key, `unknown field \`${key}\``);
    }
  }
  if (value.apiVersion !== undefined && value.apiVersion !== REQUEST_API_VERSION) {
    bad(
      'apiVersion',
      `unsupported apiVersion \`${String(value.apiVersion)}\`: use \`${REQUEST_API_VERSION}\``,
    );
  }
  const str = (v: unknown, path: string, required: boolean) => {
    if (v === undefined) {
      if (required) bad(path, 'is required');
      return;
    }
    if (typeof v !== 'string' || v.length === 0) bad(path, 'must be a non-empty string');
    else if (v.length > MAX_STRING) bad(path, `must be at most ${MAX_STRING} characters`);
  };
  const time = (v: unknown, path: string) => {
    if (v === undefined) return;
    if (typeof v !== 'string' || !RFC3339.test(v) || !isRealDate(v))
      bad(path, 'must be an RFC 3339 date-time');
  };
  const s = value.source;
  if (!isObject(s)) bad('source', 'is required: an object with `spiffeId`');
  else {
    str(s.spiffeId, 'source.spiffeId', true);
    str(s.ip, 'source.ip', false);
    if (s.labels !== undefined) {
      if (!isObject(s.labels)) bad('source.labels', 'must be an object of strings');
      else
        for (const [k, v] of Object.entries(s.labels))
          if (typeof v !== 'string') bad(`source.labels.${k}`, 'must be a string');
    }
    for (const k of Object.keys(s))
      if (!['spiffeId', 'ip', 'labels'].includes(k)) bad(`source.${k}`, `unknown field \`${k}\``);
  }
  const c = value.credential;
  if (c !== undefined) {
    if (!isObject(c)) bad('credential', 'must be an object');
    else {
      if (!CREDENTIAL_TYPES.includes(c.type as CredentialType))
        bad('credential.type', `must be one of ${CREDENTIAL_TYPES.join(', ')}`);
      str(c.id, 'credential.id', false);
      if (typeof c.verified !== 'boolean') bad('credential.verified', 'must be true or false');
      if (c.revoked !== undefined && typeof c.revoked !== 'boolean')
        bad('credential.revoked', 'must be true or false');
      time(c.issuedAt, 'credential.issuedAt');
      time(c.notBefore, 'credential.notBefore');
      time(c.expiresAt, 'credential.expiresAt');
      if (c.type === 'grant' && c.scope === undefined) bad('credential.scope', 'is required for a grant');
      if (c.scope !== undefined) {
        if (c.type !== 'grant') bad('credential.scope', 'is allowed only when `type` is `grant`');
        checkGrantScope(c.scope, bad);
      }
      for (const k of Object.keys(c)) {
        if (!['type', 'id', 'verified', 'issuedAt', 'notBefore', 'expiresAt', 'revoked', 'scope'].includes(k))
          bad(`credential.${k}`, `unknown field \`${k}\``);
      }
    }
  }
  const d = value.destination;
  if (!isObject(d)) bad('destination', 'is required: an object with `service` and `port`');
  else {
    str(d.service, 'destination.service', true);
    if (
      d.port !== undefined &&
      (!Number.isInteger(d.port) || (d.port as number) < 1 || (d.port as number) > 65535)
    ) {
      bad('destination.port', 'must be an integer in 1..65535');
    }
    for (const k of Object.keys(d))
      if (!['service', 'port'].includes(k)) bad(`destination.${k}`, `unknown field \`${k}\``);
  }
  const a = value.action;
  if (a !== undefined) {
    if (!isObject(a)) bad('action', 'must be an object');
    else {
      if (a.method !== undefined && (typeof a.method !== 'string' || !TOKEN.test(a.method)))
        bad('action.method', 'must be an HTTP method token');
      str(a.path, 'action.path', false);
      if (typeof a.path === 'string' && !a.path.startsWith('/')) bad('action.path', 'must start with `/`');
      str(a.operation, 'action.operation', false);
      for (const k of Object.keys(a))
        if (!['method', 'path', 'operation'].includes(k)) bad(`action.${k}`, `unknown field \`${k}\``);
    }
  }
  if (value.context !== undefined && !isObject(value.context)) bad('context', 'must be an object');
  time(value.time, 'time');
  return problems;
}

function checkGrantScope(scope: unknown, bad: (path: string, message: string) => void): void {
  if (!isObject(scope)) return bad('credential.scope', 'must be an object with `service`');
  if (typeof scope.service !== 'string' || scope.service.length === 0)
    bad('credential.scope.service', 'must be a non-empty string');
  const list = (key: 'methods' | 'paths' | 'operations', ok: (v: string) => string | undefined) => {
    const v = scope[key];
    if (v === undefined) return;
    if (!Array.isArray(v)) return bad(`credential.scope.${key}`, 'must be a list of strings');
    v.forEach((x, i) => {
      const why =
        typeof x === 'string' && x.length > 0 && x.length <= MAX_STRING
          ? ok(x)
          : 'must be a non-empty string';
      if (why) bad(`credential.scope.${key}[${i}]`, why);
    });
  };
  list('methods', (m) => (TOKEN.test(m) ? undefined : 'must be an HTTP method token'));
  list('paths', (p) => {
    try {
      compilePathGlob(p);
      return p.startsWith('/') ? undefined : 'must start with `/`';
    } catch (err) {
      return (err as Error).message;
    }
  });
  list('operations', () => undefined);
  for (const k of Object.keys(scope))
    if (!['service', 'methods', 'paths', 'operations'].includes(k))
      bad(`credential.scope.${k}`, `unknown field \`${k}\``);
}
