import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createSecureContext } from 'node:tls';
import { parseArgs } from 'node:util';
import { createApp, type App, type AppConfig } from '../../app.js';
import type { SigningAlgorithm } from '../../core/identity/signing-key.js';
import { jsonLogger, type LogLevel } from '../../server/logger.js';
import type { CliIo } from '../io.js';
import { UsageError } from '../usage-error.js';
import { parseDuration, parseListen, parseSpan } from '../flag-values.js';
import { fileProblem } from '../file-problem.js';

export const usage = `usage: gatehouse serve [--listen HOST:PORT] [--db FILE|URL] [--policy POLICY]...
                      [--trust-domain NAME] [--key-alg ES256|ES384|RS256|PS256]
                      [--admin-token-file FILE] [--log-level debug|info|warn|error] [--seed INVENTORY]
                      [--grpc-listen HOST:PORT] [--max-body-bytes N] [--body-timeout DURATION]
                      [--tls-cert FILE --tls-key FILE] [--decision-retention SPAN]

Runs the control plane: the identity API, the trust bundle and the decision API.
  --listen            address to listen on (default 127.0.0.1:8080; env GATEHOUSE_LISTEN)
  --db                SQLite file (default gatehouse.db) or postgres:// URL (env GATEHOUSE_DB)
  --policy            policy file or folder (repeatable; default examples/acme/policy; env GATEHOUSE_POLICY)
  --trust-domain      trust domain (default: the policy's trustDomain)
  --key-alg           algorithm of new signing keys (default ES256)
  --admin-token-file  on first start, also write the admin credential to FILE (mode 0600)
  --log-level         structured JSON logs on stderr (default info)
  --seed              an inventory file (docs/inventory.md) whose entries are registered when
                      the database has none: a demo estate
  --grpc-listen       also serve Envoy's gRPC ext_authz (envoy.service.auth.v3.Authorization)
                      on HOST:PORT (default off; env GATEHOUSE_GRPC_LISTEN)
  --tls-cert          serve HTTPS, and gRPC over TLS, with this PEM certificate chain
                      (env GATEHOUSE_TLS_CERT); with --tls-key. Plaintext without them.
  --tls-key           the PEM private key of --tls-cert (env GATEHOUSE_TLS_KEY)
  --max-body-bytes    largest request body accepted; larger ones get 413 (default 1048576)
  --body-timeout      time a client has to send a body once it is read: 10s (default), 500ms, ...;
                      then 408 (docs/decision-api.md, "Limits and errors")
  --decision-retention
                      prune decision records older than this: 90d, 12h, ... (default: kept for
                      ever; env GATEHOUSE_DECISION_RETENTION); at start and then every hour at most
                      (docs/decision-log.md, "Retention")
Environment: GATEHOUSE_KEY_PASSPHRASE encrypts private keys at rest.
The admin credential is created on first start, printed once and stored hashed.`;

const ALGS: SigningAlgorithm[] = ['ES256', 'ES384', 'RS256', 'PS256'];
const LEVELS: LogLevel[] = ['debug', 'info', 'warn', 'error'];

export async function run(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      listen: { type: 'string' },
      db: { type: 'string' },
      policy: { type: 'string', multiple: true },
      'trust-domain': { type: 'string' },
      'key-alg': { type: 'string' },
      'admin-token-file': { type: 'string' },
      'log-level': { type: 'string', default: 'info' },
      seed: { type: 'string' },
      'grpc-listen': { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'max-body-bytes': { type: 'string' },
      'body-timeout': { type: 'string' },
      'decision-retention': { type: 'string' },
    },
  });
  const { host, port } = parseListen(values.listen ?? io.env.GATEHOUSE_LISTEN ?? '127.0.0.1:8080');
  const grpcListen = values['grpc-listen'] ?? io.env.GATEHOUSE_GRPC_LISTEN;
  const grpc = grpcListen ? parseListen(grpcListen, '--grpc-listen') : undefined;
  const db = values.db ?? io.env.GATEHOUSE_DB ?? 'gatehouse.db';
  const policy = values.policy?.length ? values.policy : [io.env.GATEHOUSE_POLICY ?? 'examples/acme/policy'];
  const alg = (values['key-alg'] ?? 'ES256') as SigningAlgorithm;
  if (!ALGS.includes(alg)) throw new UsageError(`--key-alg must be one of ${ALGS.join(', ')}`);
  const level = values['log-level'] as LogLevel;
  if (!LEVELS.includes(level)) throw new UsageError(`--log-level must be one of ${LEVELS.join(', ')}`);
  const passphrase = io.env.GATEHOUSE_KEY_PASSPHRASE;
  const httpLimits: AppConfig['httpLimits'] = {};
  if (values['max-body-bytes'] !== undefined) {
    const n = /^\d{1,10}$/.test(values['max-body-bytes']) ? Number(values['max-body-bytes']) : NaN;
    if (!(n >= 1024 && n <= 1024 * 1024 * 1024))
      throw new UsageError('--max-body-bytes must be a whole number of bytes from 1024 to 1073741824');
    httpLimits.maxBodyBytes = n;
  }
  if (values['body-timeout'] !== undefined)
    httpLimits.bodyTimeoutMs = parseDuration(values['body-timeout'], '--body-timeout');
  const retention = values['decision-retention'] ?? io.env.GATEHOUSE_DECISION_RETENTION;
  const decisionRetentionMs =
    retention === undefined ? undefined : parseSpan(retention, '--decision-retention');

  const tls = readTls(
    values['tls-cert'] ?? io.env.GATEHOUSE_TLS_CERT,
    values['tls-key'] ?? io.env.GATEHOUSE_TLS_KEY,
    io.cwd,
  );

  const logger = jsonLogger(io.stderr, { level });
  const app = await createApp(
    {
      host,
      port,
      db,
      policy,
      cwd: io.cwd,
      ...(values.seed ? { seedInventory: values.seed } : {}),
      ...(grpc ? { grpc } : {}),
      httpLimits,
      ...(tls ? { tls } : {}),
      ...(decisionRetentionMs !== undefined ? { decisionRetentionMs } : {}),
      ...(values['trust-domain'] ? { trustDomain: values['trust-domain'] } : {}),
      identity: { keyAlgorithm: alg, ...(passphrase ? { keyPassphrase: passphrase } : {}) },
    },
    { logger },
  );
  printBanner(app, db, io, values['admin-token-file']);
  await waitForSignal(app, logger);
  return 0;
}

/** The certificate and key files, read and checked as a pair; undefined for plaintext. */
function readTls(
  certFile: string | undefined,
  keyFile: string | undefined,
  cwd: string,
): { cert: Buffer; key: Buffer } | undefined {
  if (certFile === undefined && keyFile === undefined) return undefined;
  if (certFile === undefined || keyFile === undefined)
    throw new UsageError('--tls-cert and --tls-key go together: give both, or neither for plaintext');
  const read = (file: string, flag: string) => {
    try {
      return readFileSync(resolve(cwd, file));
    } catch (e) {
      throw new UsageError(`${flag}: cannot read \`${file}\`: ${fileProblem(e)}`);
    }
  };
  const cert = read(certFile, '--tls-cert');
  const key = read(keyFile, '--tls-key');
  try {
    // Checked here, so that a wrong pair is a clear usage error, not a failure to listen.
    createSecureContext({ cert, key });
  } catch (e) {
    throw new UsageError(
      `--tls-cert and --tls-key: not a certificate chain and its private key: ${(e as Error).message}`,
    );
  }
  return { cert, key };
}

function printBanner(app: App, db: string, io: CliIo, tokenFile: string | undefined): void {
  const lines = [
    `Gatehouse is serving trust domain ${app.authority.settings.trustDomain} (policy ${app.policy.revision.slice(0, 19)})`,
    `  API            ${app.url}/v1`,
    `  trust bundle   ${app.url}/.well-known/spiffe-bundle`,
    `  health         ${app.url}/healthz  ${app.url}/readyz`,
    `  database       ${shownDatabase(db)}`,
  ];
  if (app.grpcAddress) lines.splice(4, 0, `  ext_authz gRPC ${app.grpcAddress}`);
  if (app.createdAdminSecret) {
    lines.push(
      '',
      'Admin credential (shown once; only its hash is stored):',
      `  ${app.createdAdminSecret}`,
      `  export GATEHOUSE_SERVER=${app.url} GATEHOUSE_TOKEN=${app.createdAdminSecret}`,
    );
    if (tokenFile) {
      writeFileSync(resolve(io.cwd, tokenFile), app.createdAdminSecret + '\n', { mode: 0o600 });
      lines.push(`  (also written to ${tokenFile})`);
    }
  } else {
    lines.push('', 'Admin credential: created on first start (use GATEHOUSE_TOKEN).');
  }
  io.stdout.write(lines.join('\n') + '\n');
}

/**
 * The database as the banner shows it: a PostgreSQL URL without its password
 * (the banner ends up in logs), and what sharing it means.
 */
export function shownDatabase(db: string): string {
  if (!/^postgres(ql)?:\/\//.test(db)) return db;
  let shown = db;
  try {
    const url = new URL(db);
    if (url.password !== '') url.password = '***';
    shown = url.toString();
  } catch {
    shown = 'postgres://… (unparsable URL)';
  }
  return `${shown} (shared: other servers' revocations, keys and policy taken up every 1 s)`;
}

function waitForSignal(app: App, logger: ReturnType<typeof jsonLogger>): Promise<void> {
  return new Promise((done) => {
    const stop = (signal: string) => {
      logger.log('info', 'server_stopping', { signal });
      app.close().then(
        () => {
          logger.log('info', 'server_stopped', {});
          done();
        },
        (err: unknown) => {
          logger.log('error', 'shutdown_failed', { error: String(err) });
          done();
        },
      );
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
}
