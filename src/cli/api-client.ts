/**
 * The CLI's client of the control-plane API (STYLE.md §10: admin verbs talk
 * to the server, never to its database). Server and credential resolve from
 * flags, then GATEHOUSE_SERVER / GATEHOUSE_TOKEN, then defaults.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
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
}

export function apiClient(
  values: { server?: string | undefined; token?: string | undefined; 'token-file'?: string | undefined },
  io: CliIo,
): ApiClient {
  const server = (values.server ?? io.env.GATEHOUSE_SERVER ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
  if (!/^https?:\/\/[^\s/]+$/.test(server))
    throw new UsageError(`--server must be an http(s) URL, not \`${server}\``);
  let token = values.token ?? io.env.GATEHOUSE_TOKEN;
  if (values['token-file']) {
    try {
      token = readFileSync(resolve(io.cwd, values['token-file']), 'utf8').trim();
    } catch (err) {
      throw new UsageError(`cannot read --token-file: ${fileProblem(err)}`);
    }
  }
  return {
    server,
    async call<T>(method: string, path: string, body?: unknown): Promise<T> {
      const headers: Record<string, string> = { accept: 'application/json' };
      if (token) headers.authorization = `Bearer ${token}`;
      if (body !== undefined) headers['content-type'] = 'application/json';
      let res: Response;
      try {
        res = await fetch(server + path, {
          method,
          headers,
          ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
          signal: AbortSignal.timeout(30_000),
        });
      } catch (err) {
        const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
        throw new ApiError(`cannot reach ${server}: ${cause}`, 0, 'unreachable', EXIT.error);
      }
      const text = await res.text();
      let parsed: unknown;
      try {
        parsed = text ? JSON.parse(text) : {};
      } catch {
        parsed = { error: { code: 'bad_response', message: text.slice(0, 200) } };
      }
      if (!res.ok) {
        const e = (
          parsed as { error?: { code?: string; message?: string; problems?: { message: string }[] } }
        ).error;
        const detail =
          e?.problems && e.problems.length > 1 ? '\n  ' + e.problems.map((p) => p.message).join('\n  ') : '';
        const message =
          res.status === 401 && (e?.code ?? 'unauthorized') === 'unauthorized'
            ? `unauthorized: give the admin credential with --token or GATEHOUSE_TOKEN`
            : `${e?.message ?? `HTTP ${res.status}`}${detail}`;
        throw new ApiError(
          message,
          res.status,
          e?.code ?? 'http_error',
          res.status === 400 ? EXIT.invalidInput : EXIT.error,
        );
      }
      return parsed as T;
    },
  };
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
