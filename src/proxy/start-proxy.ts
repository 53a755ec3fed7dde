/**
 * The proxy's composition root: typed configuration in, the sync client,
 * verifier, forwarder and decision shipper wired together, the listening
 * server out (plain HTTP, or TLS requesting client X.509-SVIDs).
 *
 * The server listens at once and decides from the first request: before the
 * first sync every request is denied (503), and once synced the proxy keeps
 * enforcing the last state it has whenever the control plane is away. With
 * a synced-state file, a proxy restarted starts from the state an earlier
 * run kept there instead of from nothing.
 */
import { readFileSync, statSync } from 'node:fs';
import http, { STATUS_CODES, type Server } from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Clock } from '../core/ports.js';
import { leadWithLeanPath } from '../server/http1-lean-path.js';
import type { Logger } from '../server/logger.js';
import { decisionIds, systemClock } from '../system.js';
import { controlPlaneClient } from './control-plane-client.js';
import { DecisionShipper } from './decision-shipper.js';
import { Forwarder } from './forwarder.js';
import { LocalVerifier } from './local-verifier.js';
import { leanProxyPath } from './lean-proxy-service.js';
import { proxyHandler, sendJson } from './proxy-handler.js';
import { ProxyMetrics, serveProxyMetrics } from './proxy-metrics.js';
import { SyncClient } from './sync-client.js';
import { SyncedStateFile } from './synced-state-file.js';

export interface ProxyTlsFiles {
  /** The proxy's own X.509-SVID chain, PEM (leaf first). */
  certFile: string;
  keyFile: string;
  /** CA certificates advertised to clients as acceptable issuers (the trust bundle as PEM). */
  caFile?: string;
}

export interface ProxyConfig {
  /** The service this proxy protects, as named in the policy. */
  service: string;
  host: string;
  port: number;
  upstream: URL;
  /** The control plane's base URL. */
  server: string;
  /** The proxy's credential for the control plane, read before every call. */
  credential: () => string | undefined;
  tls?: ProxyTlsFiles;
  keepCredential: boolean;
  syncIntervalMs: number;
  /** The destination port the policy sees; default: the port a connection arrived on. */
  servicePort?: number;
  /** Decision records kept while the server is unreachable. */
  maxBufferedDecisions?: number;
  /** Where decision records wait until shipped (decision-spool.ts); in memory only when absent. */
  decisionSpool?: string;
  /** Sync each write of the spool to the disk before the answers it covers leave. */
  decisionSpoolSync?: boolean;
  /**
   * Where the last synced state is kept (synced-state-file.ts), to be enforced after a restart
   * until the control plane answers; not kept when absent.
   */
  syncState?: string;
  /** Where to serve `/metrics`, `/healthz` and `/readyz` (docs/enforce.md); none when absent. */
  metrics?: { host: string; port: number };
}

export interface RunningProxy {
  /** Where the proxy listens, e.g. `https://127.0.0.1:8443`. */
  url: string;
  sync: SyncClient;
  shipper: DecisionShipper;
  /** Where `/metrics` is served, when asked for. */
  metricsUrl?: string;
  /** Stops listening, then ships what is buffered for at most `deadlineMs`; resolves with the records left unsent. */
  close(deadlineMs?: number): Promise<number>;
}

const KEEP_ALIVE_TIMEOUT_MS = 65_000;
const HEADERS_TIMEOUT_MS = 20_000;

// TLS files are checked this often; a renewed SVID is loaded without a restart.
const TLS_RELOAD_MS = 10_000;

export async function startProxy(
  config: ProxyConfig,
  deps: { logger: Logger; clock?: Clock },
): Promise<RunningProxy> {
  const { logger } = deps;
  const clock = deps.clock ?? systemClock;
  const ids = decisionIds();
  // The proxy's own SVID, also presented to an https: control plane (mTLS); renewed on reload.
  let svid = config.tls
    ? { cert: readFileSync(config.tls.certFile), key: readFileSync(config.tls.keyFile) }
    : undefined;
  const client = controlPlaneClient({
    server: config.server,
    credential: config.credential,
    clientCertificate: () => svid,
  });
  const stateFile =
    config.syncState !== undefined ? new SyncedStateFile(config.syncState, logger) : undefined;
  const sync = new SyncClient({
    client,
    clock,
    ids,
    logger,
    intervalMs: config.syncIntervalMs,
    ...(stateFile ? { persist: (state) => stateFile.save(state) } : {}),
  });
  const shipper = new DecisionShipper({
    client,
    logger,
    ...(config.maxBufferedDecisions !== undefined ? { maxBuffered: config.maxBufferedDecisions } : {}),
    ...(config.decisionSpool !== undefined
      ? { spoolDir: config.decisionSpool, spoolSync: config.decisionSpoolSync === true }
      : {}),
  });
  // After the shipper: its spool's lock keeps a second proxy from the same directory.
  if (stateFile) restoreSyncedState(sync, stateFile, logger);
  const forwarder = new Forwarder({
    upstream: config.upstream,
    fail: (res, status, message, headers) => {
      const code = status === 504 ? 'upstream_timeout' : 'upstream_unavailable';
      sendJson(res, status, { error: { code, message } }, headers, false);
    },
    beforeAnswer: () => shipper.settle(),
  });
  const metrics = new ProxyMetrics(config.service, sync, shipper, clock);
  const handler = proxyHandler({
    service: config.service,
    ...(config.servicePort !== undefined ? { servicePort: config.servicePort } : {}),
    keepCredential: config.keepCredential,
    policy: () => sync.policy,
    verifier: new LocalVerifier(sync, clock),
    forwarder,
    records: {
      push(record) {
        metrics.count(record);
        shipper.push(record);
      },
      settle: () => shipper.settle(),
    },
    clock,
    ids,
    logger,
  });

  let reload: NodeJS.Timeout | undefined;
  let server: Server;
  if (config.tls) {
    const files = config.tls;
    const read = () => ({
      cert: readFileSync(files.certFile),
      key: readFileSync(files.keyFile),
      ...(files.caFile ? { ca: readFileSync(files.caFile) } : {}),
    });
    const tlsServer = https.createServer(
      // Client certificates are requested, not required: a caller without one still gets
      // a decision (and its reason), and the chain is verified against the synced bundle.
      { ...read(), requestCert: true, rejectUnauthorized: false },
      handler,
    );
    let stamp = tlsStamp(files);
    reload = setInterval(() => {
      const next = tlsStamp(files);
      if (next === stamp) return;
      try {
        const loaded = read();
        tlsServer.setSecureContext(loaded);
        svid = { cert: loaded.cert, key: loaded.key };
        stamp = next;
        logger.log('info', 'tls_reloaded', { certFile: files.certFile });
      } catch (err) {
        logger.log('error', 'tls_reload_failed', { error: (err as Error).message });
      }
    }, TLS_RELOAD_MS);
    reload.unref();
    server = tlsServer;
  } else {
    server = http.createServer(handler);
  }
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  // Slowloris guard: a client has this long to send its headers.
  server.headersTimeout = HEADERS_TIMEOUT_MS;
  // Plain requests are read and answered without Node's request and response objects.
  leadWithLeanPath(server, config.tls ? 'secureConnection' : 'connection', {
    ...leanProxyPath(handler, HEADERS_TIMEOUT_MS, KEEP_ALIVE_TIMEOUT_MS),
    counters: metrics.lean,
  });
  server.on('clientError', answerClientError);
  // Upgrades and tunnels would carry traffic past the per-request decision.
  server.on('upgrade', (_req, socket: Socket) =>
    refuse(socket, 400, 'upgrade_unsupported', 'protocol upgrades are not proxied'),
  );
  server.on('connect', (_req, socket: Socket) =>
    refuse(socket, 405, 'method_not_allowed', 'CONNECT is not proxied'),
  );

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => {
      server.off('error', reject);
      resolve();
    });
  }).catch(async (err: unknown) => {
    if (reload) clearInterval(reload);
    await shipper.stop(0); // releases the spool
    throw err;
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `${config.tls ? 'https' : 'http'}://${host}:${address.port}`;
  const metricsServer = config.metrics
    ? await serveProxyMetrics(metrics, sync, config.metrics.host, config.metrics.port).catch(
        async (err: unknown) => {
          if (reload) clearInterval(reload);
          server.close();
          await shipper.stop(0); // releases the spool
          throw err;
        },
      )
    : undefined;
  sync.start();
  shipper.start();
  logger.log('info', 'proxy_started', {
    url,
    service: config.service,
    upstream: config.upstream.href,
    server: config.server,
    mtls: config.tls !== undefined,
    ...(metricsServer ? { metrics: metricsServer.url } : {}),
  });

  let closed: Promise<number> | undefined;
  return {
    url,
    sync,
    shipper,
    ...(metricsServer ? { metricsUrl: metricsServer.url } : {}),
    close(deadlineMs = 5000) {
      closed ??= (async () => {
        if (reload) clearInterval(reload);
        sync.stop();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeIdleConnections();
        });
        forwarder.close();
        const left = await shipper.stop(deadlineMs);
        await stateFile?.flush();
        metricsServer?.server.close();
        metricsServer?.server.closeAllConnections();
        return left;
      })();
      return closed;
    },
  };
}

/** Takes up the state on file, if there is one of this server that reads; otherwise starts with nothing. */
function restoreSyncedState(sync: SyncClient, file: SyncedStateFile, logger: Logger): void {
  try {
    const state = file.read();
    if (state) sync.restore(state);
  } catch (error) {
    // Fails closed: the proxy denies every request until it syncs, as one that never synced.
    logger.log('error', 'synced_state_unreadable', { file: file.file, error: (error as Error).message });
  }
}

function tlsStamp(files: ProxyTlsFiles): string {
  return [files.certFile, files.keyFile, files.caFile]
    .map((f) => {
      if (!f) return '';
      try {
        const st = statSync(f);
        return `${st.mtimeMs}:${st.size}`;
      } catch {
        return 'missing';
      }
    })
    .join('|');
}

/** A request the HTTP parser refused (bad method, oversized headers, garbage): a clear 4xx, then close. */
function answerClientError(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  if (err.code === 'HPE_HEADER_OVERFLOW')
    return refuse(socket, 431, 'headers_too_large', 'request headers are too large');
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT')
    return refuse(socket, 408, 'request_timeout', 'the request took too long');
  if (err.code === 'HPE_INVALID_METHOD')
    return refuse(socket, 400, 'method_invalid', 'the method is not an upper-case HTTP method');
  refuse(socket, 400, 'request_malformed', 'the request is not valid HTTP/1.1');
}

function refuse(socket: Socket, status: number, code: string, message: string): void {
  const body = JSON.stringify({ error: { code, message } });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}
