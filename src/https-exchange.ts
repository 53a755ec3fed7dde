/**
 * One request over `node:https`, for the clients that present a client
 * certificate (mTLS): `fetch` cannot. Used by the proxy (its X.509-SVID as
 * its credential) and the CLI (X.509 renewal). The server's certificate is
 * checked as `fetch` checks it: against the system's CAs and
 * `NODE_EXTRA_CA_CERTS`.
 */
import https from 'node:https';

/** One exchange's outcome: the status and the body as text. */
export interface HttpsAnswer {
  status: number;
  text: string;
}

/** Sends `body` (when given) to `url` and reads the whole answer, within `timeoutMs` when given. */
export function httpsExchange(
  url: string,
  options: https.RequestOptions,
  body: string | undefined,
  timeoutMs: number | undefined,
): Promise<HttpsAnswer> {
  const deadline = timeoutMs === undefined ? {} : { signal: AbortSignal.timeout(timeoutMs) };
  return new Promise((resolve, reject) => {
    const req = https.request(url, { ...options, ...deadline }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}
