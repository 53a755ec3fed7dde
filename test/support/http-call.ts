/**
 * One HTTP(S) request as a client such as curl makes it: the path sent as
 * written, a client certificate when given, the server certificate not
 * checked (an SVID names a SPIFFE ID, not a host name).
 */
import http, { type IncomingHttpHeaders } from 'node:http';
import https from 'node:https';

export interface Answer {
  status: number;
  /** The reason phrase of the status line, e.g. `Forbidden`. */
  statusMessage: string;
  headers: IncomingHttpHeaders;
  /** Header names and values as received, in order: `[name, value, name, value, …]`. */
  rawHeaders: string[];
  body: string;
  json(): Record<string, unknown>;
}

export interface Call {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  /** Client X.509-SVID (PEM chain and key). */
  cert?: { chain: string; key: string };
}

export function call(url: string, options: Call = {}): Promise<Answer> {
  const u = new URL(url);
  const secure = u.protocol === 'https:';
  return new Promise((resolve, reject) => {
    const req = (secure ? https : http).request(
      {
        host: u.hostname,
        port: u.port,
        // As written: URL parsing would resolve `%2e%2e` and `//` before the server sees them.
        path: url.slice(u.origin.length) || '/',
        method: options.method ?? 'GET',
        headers: options.headers ?? {},
        agent: false,
        // The proxy's X.509-SVID names a SPIFFE ID, not a host name.
        ...(secure ? { rejectUnauthorized: false } : {}),
        ...(options.cert ? { cert: options.cert.chain, key: options.cert.key } : {}),
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () =>
          resolve({
            status: res.statusCode!,
            statusMessage: res.statusMessage ?? '',
            headers: res.headers,
            rawHeaders: res.rawHeaders,
            body,
            json: () => JSON.parse(body) as Record<string, unknown>,
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}
