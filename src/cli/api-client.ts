/**
 * The CLI's client of the control-plane API (STYLE.md §10: admin verbs talk
 * to the server, never to its database). Server and credential resolve from
 * flags, then GATEHOUSE_SERVER / GATEHOUSE_TOKEN, then defaults.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { httpsExchange } from '../https-exchange.js';
import { EXIT, type CliIo } from './io.js';
import { UsageError } from './usage-error.js';
import { fileProblem } from './file-problem.js';

export const CLIENT_OPTIONS = {
  server: { type: 'string' },
  token: { type: 'string' },
  'token-file': { type: 'string' },
} as const;

export const CLIENT_USAGE = `Connection: --server URL (env GATEHOUSE_SERVER, default http://127.0.0.1:8080);
  credential: --token SECRET | --token-file FILE (env GATEHOUSE_TOKEN): the admin credential,
  or a workload's JWT-SVID for the control-plane audience.`;

/** An API call that failed; carries the exit code the CLI should return. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string,
    readonly exitCode: number,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface ApiClient {
  readonly server: string;
  call<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<T>;
  /** GETs `path` and hands `write` the body as it arrives (large answers: a whole decision log). */
  stream(path: string, write: (chunk: Uint8Array) => void | Promise<void>): Promise<void>;
}

/** A TLS client certificate chain and its private key, PEM. */
export interface ClientCertificate {
  cert: string;
  key: string;
}

/**
 * The client of the server that flags and environment name. With
 * `clientCertificate`, every call presents it (mTLS), so the server must be
 * `https:` (a usage error otherwise), and answers are read whole.
 */
export function apiClient(
  values: { server?: string | undefined; token?: string | undefined; 'token-file'?: string | undefined },
  io: CliIo,
  clientCertificate?: ClientCertificate,
): ApiClient {
  const server = (values.server ?? io.env.GATEHOUSE_SERVER ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
  if (!/^https?:\/\/[^\s/]+$/.test(server))
    throw new UsageError(`--server must be an http(s) URL, not \`${server}\``);
  if (clientCertificate && !server.startsWith('https:'))
    throw new UsageError(
      `a client certificate needs an https:// server (--server or GATEHOUSE_SERVER), not \`${server}\``,
    );
  let token = values.token ?? io.env.GATEHOUSE_TOKEN;
  if (values['token-file']) {
    try {
      token = readFileSync(resolve(io.cwd, values['token-file']), 'utf8').trim();
    } catch (err) {
      throw new UsageError(`cannot read --token-file: ${fileProblem(err)}`);
    }
  }
  /** One call; a non-2xx answer throws. `deadline`: give up after 30 s (not for streamed answers). */
  const send = async (
    method: string,
    path: string,
    body: unknown,
    accept: string,
    deadline: boolean,
  ): Promise<Response> => {
    const headers: Record<string, string> = { accept };
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const text = body !== undefined ? JSON.stringify(body) : undefined;
    let res: Response;
    try {
      if (clientCertificate) {
        // `fetch` cannot present a client certificate. One connection per call (`agent: false`):
        // a kept-alive one would hold the process open after its last call.
        const answer = await httpsExchange(
          server + path,
          { method, headers, agent: false, ...clientCertificate },
          text,
          deadline ? 30_000 : undefined,
        );
        res = new Response(answer.text === '' ? null : answer.text, { status: answer.status });
      } else {
        res = await fetch(server + path, {
          method,
          headers,
          ...(text !== undefined ? { body: text } : {}),
          ...(deadline ? { signal: AbortSignal.timeout(30_000) } : {}),
        });
      }
    } catch (err) {
      throw new ApiError(`cannot reach ${server}: ${causeOf(err)}`, 0, 'unreachable', EXIT.error);
    }
    if (!res.ok) throw failure(res.status, parseJson(await res.text()));
    return res;
  };
  return {
    server,
    async call<T>(method: string, path: string, body?: unknown): Promise<T> {
      const res = await send(method, path, body, 'application/json', true);
      return parseJson(await res.text()) as T;
    },
    async stream(path: string, write: (chunk: Uint8Array) => void | Promise<void>): Promise<void> {
      // No deadline: a whole log takes as long as it takes, and the server keeps the connection busy.
      const res = await send('GET', path, undefined, 'application/x-ndjson', false);
      try {
        for await (const chunk of res.body ?? []) await write(chunk as Uint8Array);
      } catch (err) {
        // The server cuts the connection when it fails half way: the output is incomplete.
        throw new ApiError(
          `the answer from ${server} broke off: ${causeOf(err)}`,
          0,
          'incomplete',
          EXIT.error,
        );
      }
    },
  };
}

/**
 * What made a call fail: the socket's or TLS's error code (`ECONNREFUSED`,
 * `DEPTH_ZERO_SELF_SIGNED_CERT`) when there is one; `fetch` puts it in the
 * cause, `node:https` on the error itself.
 */
function causeOf(err: unknown): string {
  const e = err as { cause?: { code?: unknown }; code?: unknown; message: string };
  const code = [e.cause?.code, e.code].find((c) => typeof c === 'string' && c !== 'ABORT_ERR');
  return typeof code === 'string' ? code : e.message;
}

function parseJson(text: string): unknown {
  try {
    return text ? JSON.parse(text) : {};
  } catch {
    return { error: { code: 'bad_response', message: text.slice(0, 200) } };
  }
}

/** The error of a non-2xx answer, with the exit code the CLI returns for it. */
function failure(status: number, parsed: unknown): ApiError {
  const e = (parsed as { error?: { code?: string; message?: string; problems?: { message: string }[] } })
    .error;
  const detail =
    e?.problems && e.problems.length > 1 ? '\n  ' + e.problems.map((p) => p.message).join('\n  ') : '';
  const message =
    status === 401 && (e?.code ?? 'unauthorized') === 'unauthorized'
      ? `unauthorized: give the admin credential with --token or GATEHOUSE_TOKEN`
      : `${e?.message ?? `HTTP ${status}`}${detail}`;
  return new ApiError(
    message,
    status,
    e?.code ?? 'http_error',
    status === 400 ? EXIT.invalidInput : EXIT.error,
  );
}

/** Parses repeated `key=value` flags. */
export function keyValues(list: string[] | undefined, flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of list ?? []) {
    const i = item.indexOf('=');
    if (i <= 0) throw new UsageError(`${flag} must be key=value, not \`${item}\``);
    out[item.slice(0, i)] = item.slice(i + 1);
  }
  return out;
}

export function readTextFile(path: string, io: CliIo, flag: string): string {
  try {
    return path === '-' ? '' : readFileSync(resolve(io.cwd, path), 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${flag} \`${path}\`: ${fileProblem(err)}`);
  }
}

export function positiveInt(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1)
    throw new UsageError(`${flag} must be a positive whole number of seconds`);
  return n;
}
