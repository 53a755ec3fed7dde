import { parseArgs } from 'node:util';
import { apiClient, CLIENT_OPTIONS, CLIENT_USAGE, readTextFile } from '../api-client.js';
import { EXIT, type CliIo } from '../io.js';
import { UsageError } from '../usage-error.js';

export const usage = `usage: gatehouse token verify (TOKEN | --file FILE) --audience AUD [--output table|json]
       gatehouse token verify --x509 CHAIN.pem [--output table|json]

Verifies a JWT-SVID (signature against the trust bundle, audience, expiry, revocation) or an
X.509-SVID chain through the control plane. Exit 0 when valid, 2 when not.
${CLIENT_USAGE}`;

interface VerifyResult {
  valid: boolean;
  spiffeId?: string;
  serial?: string;
  expiresAt?: string;
  claims?: { exp?: number; jti?: string; aud?: string[] };
  error?: { code: string; message: string };
}

export async function run(argv: string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'verify')
    throw new UsageError(sub ? `unknown token command \`${sub}\`` : 'name a token command: verify');
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      ...CLIENT_OPTIONS,
      file: { type: 'string' },
      audience: { type: 'string' },
      x509: { type: 'string' },
      output: { type: 'string', default: 'table' },
    },
  });
  if (values.output !== 'table' && values.output !== 'json')
    throw new UsageError('--output must be table or json');
  const api = apiClient(values, io);
  let result: VerifyResult;
  if (values.x509) {
    result = await api.call<VerifyResult>('POST', '/v1/verify/x509', {
      chain: readTextFile(values.x509, io, '--x509'),
    });
  } else {
    const token = values.file ? readTextFile(values.file, io, '--file').trim() : positionals[0];
    if (!token || positionals.length > 1) throw new UsageError('give one token, or --file FILE');
    if (!values.audience)
      throw new UsageError('--audience is required: a JWT-SVID is valid only for its audience');
    result = await api.call<VerifyResult>('POST', '/v1/verify/jwt', { token, audience: values.audience });
  }
  if (values.output === 'json') io.stdout.write(JSON.stringify(result, null, 2) + '\n');
  else if (result.valid) {
    const until =
      result.expiresAt ?? (result.claims?.exp ? new Date(result.claims.exp * 1000).toISOString() : '?');
    const id = result.serial ? `serial ${result.serial}` : `jti ${result.claims?.jti ?? '?'}`;
    io.stdout.write(`valid: ${result.spiffeId} (${id}, expires ${until})\n`);
  } else io.stdout.write(`invalid: ${result.error?.code}: ${result.error?.message}\n`);
  return result.valid ? EXIT.ok : EXIT.denied;
}
