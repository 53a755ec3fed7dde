/**
 * The proxy's client of the control plane: JSON over HTTP with the proxy's
 * credential, a deadline on every call, and one error type that says whether
 * the server answered at all. Over HTTPS the proxy may also present its own
 * X.509-SVID as client certificate (mTLS), which the server takes as the
 * workload's credential when no bearer token is sent (docs/identity.md).
 */
import https from 'node:https';
import { httpsExchange, type HttpsAnswer as Answer } from '../https-exchange.js';

export interface ControlPlaneClient {
  readonly server: string;
  get<T>(path: string): Promise<T>;
  /** Posts `body` as JSON; a {@link JsonText} is sent as it is. */
  post<T>(path: string, body: unknown): Promise<T>;
}

/** A body already written as JSON (the decision spool's records are): sent without serializing it again. */
export class JsonText {
  constructor(readonly text: string) {}
}

/** A call that failed: `status` 0 when the server could not be reached or did not answer in time. */
export class ControlPlaneError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string,
  ) {
    super(message);
    this.name = 'ControlPlaneError';
  }
}

export interface ControlPlaneClientOptions {
  /** Base URL, e.g. `http://127.0.0.1:8080`. */
  server: string;
  /** The credential sent as a bearer token, read before every call (it may be renewed). */
  credential: () => string | undefined;
  /**
   * The client certificate chain and key (PEM) presented to an `https:`
   * server, read before every call (the SVID is renewed); none when it
   * answers undefined. The server's certificate is checked against the
   * system's CAs and `NODE_EXTRA_CA_CERTS`, as with a bearer token alone.
   */
  clientCertificate?: () => ClientCertificate | undefined;
  /** Deadline of one call; default 5 s. */
  timeoutMs?: number;
}

export interface ClientCertificate {
  cert: string | Buffer;
  key: string | Buffer;
}

export function controlPlaneClient(options: ControlPlaneClientOptions): ControlPlaneClient {
  const server = options.server.replace(/\/+$/, '');
  const timeoutMs = options.timeoutMs ?? 5000;
  // Kept-alive connections for calls with a certificate, one per certificate (the agent tells them apart by it).
  const agent = server.startsWith('https:') ? new https.Agent({ keepAlive: true }) : undefined;
  const exchange = async (
    method: string,
    path: string,
    headers: Record<string, string>,
    body: string | undefined,
  ): Promise<Answer> => {
    const certificate = agent ? options.clientCertificate?.() : undefined;
    if (certificate)
      return httpsExchange(server + path, { method, headers, agent, ...certificate }, body, timeoutMs);
    const res = await fetch(server + path, {
      method,
      headers,
      ...(body !== undefined ? { body } : {}),
      signal: AbortSignal.timeout(timeoutMs),
    });
    return { status: res.status, text: await res.text() };
  };
  const call = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const headers: Record<string, string> = { accept: 'application/json' };
    const token = options.credential();
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Answer;
    try {
      res = await exchange(
        method,
        path,
        headers,
        body === undefined ? undefined : body instanceof JsonText ? body.text : JSON.stringify(body),
      );
    } catch (err) {
      const e = err as { cause?: { code?: string }; code?: string; message: string };
      const cause = e.cause?.code ?? (e.code === 'ABORT_ERR' ? undefined : e.code) ?? e.message;
      throw new ControlPlaneError(`cannot reach ${server}: ${cause}`, 0, 'unreachable');
    }
    let parsed: unknown;
    try {
      parsed = res.text ? JSON.parse(res.text) : {};
    } catch {
      throw new ControlPlaneError(`${method} ${path}: the answer is not JSON`, res.status, 'bad_response');
    }
    if (res.status < 200 || res.status > 299) {
      const e = (parsed as { error?: { code?: string; message?: string } }).error;
      throw new ControlPlaneError(
        `${method} ${path}: ${e?.message ?? `HTTP ${res.status}`}`,
        res.status,
        e?.code ?? 'http_error',
      );
    }
    return parsed as T;
  };
  return {
    server,
    get: (path) => call('GET', path),
    post: (path, body) => call('POST', path, body),
  };
}
