import { readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startProxy, SYNCED_STATE_FILE, type ProxyConfig } from '../../proxy/index.js';
import { jsonLogger, type LogLevel } from '../../server/logger.js';
import { EXIT, type CliIo } from '../io.js';
import { UsageError } from '../usage-error.js';
import { parseDuration, parseListen } from '../flag-values.js';
import { fileProblem } from '../file-problem.js';

export const usage = `usage: gatehouse proxy --service NAME --upstream URL [--listen HOST:PORT] [--server URL]
                      [--token SECRET | --token-file FILE] [--tls-cert FILE --tls-key FILE [--tls-ca FILE]]
                      [--keep-credential] [--sync-interval DURATION] [--service-port PORT]
                      [--decision-buffer N] [--decision-spool DIR|none] [--decision-spool-sync]
                      [--sync-state FILE|none] [--metrics-listen HOST:PORT]
                      [--log-level debug|info|warn|error]

Runs an enforcing reverse proxy in front of one service (docs/enforce.md). Each request is
decided in-process with the policy synced from the server, then forwarded or denied (403 with
the decision id and reason); the service's mode decides whether denies are enforced.
  --service          the service, as named in the policy
  --upstream         where the service listens, e.g. http://127.0.0.1:9000
  --listen           address to listen on (default 127.0.0.1:8443)
  --server           the control plane (env GATEHOUSE_SERVER, default http://127.0.0.1:8080)
  --token, --token-file
                     the proxy's credential for the server (env GATEHOUSE_TOKEN): the admin
                     credential, or the service's own JWT-SVID for the control plane (control-plane.token
                     from \`gatehouse attest --out-dir\`; a token file is re-read when it changes);
                     not needed with --tls-cert and an https --server
  --tls-cert, --tls-key
                     the proxy's own X.509-SVID (e.g. svid.pem and svid.key from \`gatehouse attest
                     --out-dir\`): terminate TLS and request client X.509-SVIDs (mTLS); reloaded on change;
                     also presented to an https --server, which takes it as the proxy's credential
  --tls-ca           CA certificates to advertise to clients (bundle.pem)
  --keep-credential  forward the caller's Authorization header (default: stripped)
  --sync-interval    how often to poll the server: 500ms (default), 2s, ...
  --service-port     the destination port the policy sees (default: the port the proxy listens on)
  --decision-buffer  decision records kept while the server is unreachable (default 50000)
  --decision-spool   directory where decision records are kept on file until shipped, so that a
                     restarted proxy ships what it had not (default gatehouse-proxy-SERVICE-PORT.spool
                     in the working directory; one proxy per directory); none: in memory only
  --decision-spool-sync
                     sync the spool to the disk before each answer leaves, so that records outlive
                     a power loss as well as the proxy (costs a disk sync per write; default off)
  --sync-state       file where the last synced policy, trust bundle and revocations are kept, so that
                     a proxy restarted while the server is away enforces them until it answers (default
                     synced-state.json in the decision spool; with --decision-spool none: not kept); none:
                     not kept, a restarted proxy denies every request until it syncs
  --metrics-listen   serve /metrics (Prometheus), /healthz and /readyz on this address (default: off)
  --log-level        structured JSON logs on stderr (default info)`;

const LEVELS: LogLevel[] = ['debug', 'info', 'warn', 'error'];

export async function run(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      service: { type: 'string' },
      upstream: { type: 'string' },
      listen: { type: 'string', default: '127.0.0.1:8443' },
      server: { type: 'string' },
      token: { type: 'string' },
      'token-file': { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'tls-ca': { type: 'string' },
      'keep-credential': { type: 'boolean', default: false },
      'sync-interval': { type: 'string', default: '500ms' },
      'service-port': { type: 'string' },
      'decision-buffer': { type: 'string' },
      'decision-spool': { type: 'string' },
      'decision-spool-sync': { type: 'boolean', default: false },
      'sync-state': { type: 'string' },
      'metrics-listen': { type: 'string' },
      'log-level': { type: 'string', default: 'info' },
    },
  });
  if (!values.service) throw new UsageError('--service is required: the service as named in the policy');
  if (!values.upstream) throw new UsageError('--upstream is required: the URL the service listens on');
  let upstream: URL;
  try {
    upstream = new URL(values.upstream);
  } catch {
    throw new UsageError(`--upstream must be an http(s) URL, not \`${values.upstream}\``);
  }
  if (upstream.protocol !== 'http:' && upstream.protocol !== 'https:')
    throw new UsageError(`--upstream must be an http(s) URL, not \`${values.upstream}\``);
  const { host, port } = parseListen(values.listen);
  const server = (values.server ?? io.env.GATEHOUSE_SERVER ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
  if (!/^https?:\/\/[^\s/]+$/.test(server))
    throw new UsageError(`--server must be an http(s) URL, not \`${server}\``);
  const level = values['log-level'] as LogLevel;
  if (!LEVELS.includes(level)) throw new UsageError(`--log-level must be one of ${LEVELS.join(', ')}`);
  if (Boolean(values['tls-cert']) !== Boolean(values['tls-key']))
    throw new UsageError('--tls-cert and --tls-key go together');
  if (values['tls-ca'] && !values['tls-cert'])
    throw new UsageError('--tls-ca needs --tls-cert and --tls-key');
  const path = (p: string) => resolve(io.cwd, p);
  const config: ProxyConfig = {
    service: values.service,
    host,
    port,
    upstream,
    server,
    // Its own X.509-SVID authenticates the proxy to an https: server (mTLS): no token needed then.
    credential: credentialSource(
      values.token,
      values['token-file'],
      io,
      Boolean(values['tls-cert']) && server.startsWith('https:'),
    ),
    keepCredential: values['keep-credential'],
    syncIntervalMs: parseDuration(values['sync-interval'], '--sync-interval'),
  };
  if (values['tls-cert']) {
    config.tls = {
      certFile: path(values['tls-cert']),
      keyFile: path(values['tls-key']!),
      ...(values['tls-ca'] ? { caFile: path(values['tls-ca']) } : {}),
    };
  }
  if (values['service-port'] !== undefined) {
    const n = Number(values['service-port']);
    if (!Number.isInteger(n) || n < 1 || n > 65535)
      throw new UsageError('--service-port must be a port number');
    config.servicePort = n;
  }
  if (values['decision-buffer'] !== undefined) {
    const n = Number(values['decision-buffer']);
    if (!Number.isInteger(n) || n < 1)
      throw new UsageError('--decision-buffer must be a positive whole number');
    config.maxBufferedDecisions = n;
  }
  // Named by service and port: two proxies of one service on one host (replicas, or plain and mTLS) do not share one.
  const spool =
    values['decision-spool'] ??
    `gatehouse-proxy-${values.service.replace(/[^A-Za-z0-9._-]/g, '_')}-${port}.spool`;
  if (spool === '') throw new UsageError('--decision-spool must be a directory, or none');
  if (spool !== 'none') config.decisionSpool = path(spool);
  if (values['decision-spool-sync']) {
    if (spool === 'none')
      throw new UsageError('--decision-spool-sync needs a spool, not --decision-spool none');
    config.decisionSpoolSync = true;
  }
  const syncState =
    values['sync-state'] ?? (config.decisionSpool ? join(config.decisionSpool, SYNCED_STATE_FILE) : 'none');
  if (syncState === '') throw new UsageError('--sync-state must be a file, or none');
  if (syncState !== 'none') config.syncState = path(syncState);
  if (values['metrics-listen'] !== undefined)
    config.metrics = parseListen(values['metrics-listen'], '--metrics-listen');

  const logger = jsonLogger(io.stderr, { level });
  let proxy;
  try {
    proxy = await startProxy(config, { logger });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (
      e.code === 'ENOENT' ||
      e.code === 'EADDRINUSE' ||
      e.code === 'EACCES' ||
      /PEM|key|certificate/i.test(e.message)
    )
      throw new UsageError(`cannot start the proxy: ${e.message}`);
    throw err;
  }
  io.stdout.write(
    [
      `Gatehouse proxy for service ${config.service}`,
      `  listening  ${proxy.url}${config.tls ? '  (mTLS: client X.509-SVIDs requested)' : ''}`,
      `  upstream   ${upstream.href}`,
      `  server     ${server}  (sync every ${config.syncIntervalMs} ms)`,
      `  spool      ${config.decisionSpool ?? 'none (decision records in memory only)'}${config.decisionSpoolSync ? '  (synced to disk before answers)' : ''}`,
      ...(proxy.metricsUrl ? [`  metrics    ${proxy.metricsUrl}/metrics`] : []),
      '',
    ].join('\n'),
  );
  await new Promise<void>((done) => {
    const stop = (signal: string) => {
      logger.log('info', 'proxy_stopping', { signal });
      void proxy.close().then((unshipped) => {
        logger.log(unshipped ? 'warn' : 'info', 'proxy_stopped', {
          unshippedDecisions: unshipped,
          ...proxy.shipper.stats(),
        });
        done();
      });
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  return EXIT.ok;
}

/**
 * The credential, from --token, --token-file or GATEHOUSE_TOKEN. A token file
 * is read again whenever it changes, so a renewed JWT-SVID is picked up.
 */
function credentialSource(
  token: string | undefined,
  file: string | undefined,
  io: CliIo,
  mtls: boolean,
): () => string | undefined {
  if (file) {
    const abs = resolve(io.cwd, file);
    const read = () => {
      try {
        return readFileSync(abs, 'utf8').trim();
      } catch (err) {
        throw new UsageError(`cannot read --token-file: ${fileProblem(err)}`);
      }
    };
    let value = read();
    let stamp = statSync(abs).mtimeMs;
    return () => {
      try {
        const now = statSync(abs).mtimeMs;
        if (now !== stamp) {
          value = readFileSync(abs, 'utf8').trim();
          stamp = now;
        }
      } catch {
        // Keep the last credential read: the file may be in the middle of a replacement.
      }
      return value;
    };
  }
  const value = token ?? io.env.GATEHOUSE_TOKEN;
  if (value) return () => value;
  if (mtls) return () => undefined;
  throw new UsageError(
    'give the proxy a credential: --token, --token-file or GATEHOUSE_TOKEN, or --tls-cert and --tls-key with an https --server',
  );
}
