/**
 * The proxy's client of the control plane: JSON over HTTP with the proxy's
 * credential, a deadline on every call, and one error type that says whether
 * the server answered at all.
 */

export interface ControlPlaneClient {
  readonly server: string;
  get<T>(path: string): Promise<T>;
  post<T>(path: string, body: unknown): Promise<T>;
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
  /** Deadline of one call; default 5 s. */
  timeoutMs?: number;
}

export function controlPlaneClient(options: ControlPlaneClientOptions): ControlPlaneClient {
  const server = options.server.replace(/\/+$/, '');
  const timeoutMs = options.timeoutMs ?? 5000;
  const call = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const headers: Record<string, string> = { accept: 'application/json' };
    const token = options.credential();
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    let text: string;
    try {
      res = await fetch(server + path, {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(timeoutMs),
      });
      text = await res.text();
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
      throw new ControlPlaneError(`cannot reach ${server}: ${cause}`, 0, 'unreachable');
    }
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : {};
    } catch {
      throw new ControlPlaneError(`${method} ${path}: the answer is not JSON`, res.status, 'bad_response');
    }
    if (!res.ok) {
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
