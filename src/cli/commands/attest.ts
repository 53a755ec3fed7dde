import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createSecureContext } from 'node:tls';
import { parseArgs } from 'node:util';
import { makeDirectory } from '../../make-directory.js';
import type { AttestResult, JwtSvidIssued } from '../../core/identity/authority.js';
import {
  ApiError,
  apiClient,
  CLIENT_OPTIONS,
  CLIENT_USAGE,
  readTextFile,
  type ApiClient,
} from '../api-client.js';
import { EXIT, type CliIo } from '../io.js';
import { UsageError } from '../usage-error.js';
import { bundleToPem, type BundleJson } from './bundle.js';

export const usage = `usage: gatehouse attest (--join-token TOKEN | --oidc-token TOKEN | --oidc-token-file FILE)
                       [--spiffe-id ID] [--csr FILE] [--audience AUD]... [--no-x509]
                       [--out-dir DIR] [--output table|json]
       gatehouse attest --renew (--svid-token FILE | --x509 CHAIN.pem --key KEY.pem)
                       [--csr FILE] [--audience AUD]... [--no-x509] [--out-dir DIR] [--output table|json]

Proves a workload's identity and obtains its SVIDs: an X.509-SVID (from --csr, or with a
generated key), a JWT-SVID for the control plane alone (to renew, get more SVIDs, or sync;
services refuse it), and with --audience a second JWT-SVID for exactly those audiences (to
present to services; the control plane refuses it). With --out-dir, writes svid.pem (leaf and
CA), svid.key (when generated), bundle.pem, control-plane.token and, with --audience,
jwt-svid.token there (keys and tokens with mode 0600). --renew presents the current SVID
instead: the control-plane JWT-SVID in --svid-token (control-plane.token) as bearer token, or
the X.509-SVID in --x509 with its private key --key as the TLS client certificate, which needs
an https:// server (its certificate is trusted through the system's CAs and
NODE_EXTRA_CA_CERTS); give --audience again to renew jwt-svid.token too.
${CLIENT_USAGE}`;

export async function run(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...CLIENT_OPTIONS,
      'join-token': { type: 'string' },
      'oidc-token': { type: 'string' },
      'oidc-token-file': { type: 'string' },
      'spiffe-id': { type: 'string' },
      csr: { type: 'string' },
      audience: { type: 'string', multiple: true },
      'no-x509': { type: 'boolean', default: false },
      renew: { type: 'boolean', default: false },
      'svid-token': { type: 'string' },
      x509: { type: 'string' },
      key: { type: 'string' },
      'out-dir': { type: 'string' },
      output: { type: 'string', default: 'table' },
    },
  });
  if (values.output !== 'table' && values.output !== 'json')
    throw new UsageError('--output must be table or json');
  const body: Record<string, unknown> = {};
  if (values.csr) body.csr = readTextFile(values.csr, io, '--csr');
  if (values.audience?.length) body.audience = values.audience;
  if (values['no-x509']) body.x509 = false;

  let result: AttestResult;
  if (values.renew) {
    if (values['svid-token'] !== undefined && values.x509 !== undefined)
      throw new UsageError('--renew takes one of --svid-token or --x509, not both');
    if (values.key !== undefined && values.x509 === undefined)
      throw new UsageError('--key goes with --renew --x509');
    if (values['svid-token']) {
      const token = readTextFile(values['svid-token'], io, '--svid-token').trim();
      result = await apiClient({ ...values, token, 'token-file': undefined }, io).call<AttestResult>(
        'POST',
        '/v1/renew',
        body,
      );
    } else if (values.x509) {
      if (!values.key) throw new UsageError('--renew --x509 needs --key, the private key of the X.509-SVID');
      const certificate = {
        cert: readTextFile(values.x509, io, '--x509'),
        key: readTextFile(values.key, io, '--key'),
      };
      try {
        // Checked here, so that a wrong pair is a clear usage error, not a failed handshake.
        createSecureContext(certificate);
      } catch (e) {
        throw new UsageError(
          `--x509 and --key: not a certificate chain and its private key: ${(e as Error).message}`,
        );
      }
      result = await renewWithX509(
        apiClient({ ...values, token: undefined, 'token-file': undefined }, io, certificate),
        body,
      );
    } else throw new UsageError('--renew needs --svid-token FILE, or --x509 CHAIN.pem with --key KEY.pem');
  } else {
    if (values['svid-token'] !== undefined || values.x509 !== undefined || values.key !== undefined)
      throw new UsageError('--svid-token, --x509 and --key go with --renew');
    const sources = [values['join-token'], values['oidc-token'], values['oidc-token-file']].filter(
      (v) => v !== undefined,
    );
    if (sources.length !== 1)
      throw new UsageError('give exactly one of --join-token, --oidc-token, --oidc-token-file');
    if (values['join-token']) {
      body.method = 'join-token';
      body.token = values['join-token'];
    } else {
      body.method = 'oidc';
      body.token =
        values['oidc-token'] ?? readTextFile(values['oidc-token-file']!, io, '--oidc-token-file').trim();
      if (values['spiffe-id']) body.spiffeId = values['spiffe-id'];
    }
    // Attestation carries its own proof; no admin credential is sent.
    result = await apiClient({ ...values, token: undefined, 'token-file': undefined }, io).call<AttestResult>(
      'POST',
      '/v1/attest',
      body,
    );
  }

  if (values['out-dir']) {
    const dir = resolve(io.cwd, values['out-dir']);
    makeDirectory(dir);
    const bundle = await apiClient(
      { ...values, token: undefined, 'token-file': undefined },
      io,
    ).call<BundleJson>('GET', '/v1/bundle');
    writeFileSync(join(dir, 'bundle.pem'), bundleToPem(bundle));
    if (result.x509Svid) {
      writeFileSync(join(dir, 'svid.pem'), result.x509Svid.chainPem);
      if (result.x509Svid.privateKeyPem)
        writeFileSync(join(dir, 'svid.key'), result.x509Svid.privateKeyPem, { mode: 0o600 });
    }
    if (result.audienceJwtSvid)
      writeFileSync(join(dir, 'jwt-svid.token'), result.audienceJwtSvid.token + '\n', { mode: 0o600 });
    if (result.jwtSvid)
      writeFileSync(join(dir, 'control-plane.token'), result.jwtSvid.token + '\n', { mode: 0o600 });
  }
  if (values.output === 'json') {
    io.stdout.write(JSON.stringify(result, null, 2) + '\n');
    return EXIT.ok;
  }
  const lines = [`attested ${result.spiffeId} (entry ${result.entryId}, via ${result.via})`];
  if (result.x509Svid)
    lines.push(`  X.509-SVID     serial ${result.x509Svid.serial}, expires ${result.x509Svid.expiresAt}`);
  if (result.audienceJwtSvid) lines.push(`  JWT-SVID       ${jwtSummary(result.audienceJwtSvid)}`);
  if (result.jwtSvid) lines.push(`  control plane  ${jwtSummary(result.jwtSvid)}`);
  if (values['out-dir']) {
    const files = [
      ...(result.x509Svid ? ['svid.pem'] : []),
      ...(result.x509Svid?.privateKeyPem ? ['svid.key'] : []),
      'bundle.pem',
      ...(result.audienceJwtSvid ? ['jwt-svid.token'] : []),
      ...(result.jwtSvid ? ['control-plane.token'] : []),
    ];
    lines.push(`  written to     ${values['out-dir']}/ (${files.join(', ')})`);
  } else {
    // The control-plane token last, where the one token printed used to be: a script that takes
    // the last line renews with it, as before, and one that took it for a service fails closed.
    if (result.audienceJwtSvid)
      lines.push(
        '',
        `JWT-SVID for ${result.audienceJwtSvid.audience.join(' ')}:`,
        result.audienceJwtSvid.token,
      );
    if (result.jwtSvid) lines.push('', 'JWT-SVID for the control plane:', result.jwtSvid.token);
  }
  io.stdout.write(lines.join('\n') + '\n');
  return EXIT.ok;
}

const jwtSummary = (svid: JwtSvidIssued) =>
  `jti ${svid.jti}, aud ${svid.audience.join(' ')}, expires ${svid.expiresAt}`;

/**
 * `POST /v1/renew` presenting the X.509-SVID as the TLS client certificate:
 * the handshake proves the key, so the server takes the SVID from the
 * connection (a chain in the body would prove nothing).
 */
async function renewWithX509(client: ApiClient, body: Record<string, unknown>): Promise<AttestResult> {
  try {
    return await client.call<AttestResult>('POST', '/v1/renew', body);
  } catch (err) {
    // The server says no more than 401 to a certificate it refuses; the generic hint names the
    // admin credential, which has nothing to do with renewal.
    if (err instanceof ApiError && err.status === 401)
      throw new ApiError(
        `unauthorized: the server did not take the X.509-SVID of --x509 (expired, revoked, not of its trust domain, or not an SVID)`,
        err.status,
        err.code,
        err.exitCode,
      );
    throw err;
  }
}
