import { parseArgs } from 'node:util';
import { apiClient, CLIENT_OPTIONS, CLIENT_USAGE, readTextFile } from '../api-client.js';
import { EXIT, type CliIo } from '../io.js';
import { UsageError } from '../usage-error.js';

export const usage = `usage: gatehouse issuer add --issuer URL (--jwks FILE | --jwks-uri URL) [--clock-skew S]
       gatehouse issuer list

Trusts an external OIDC issuer (a CI provider, a Kubernetes cluster) for federation. Entries
then name it in an \`oidc\` attestation rule with strict claim conditions.
${CLIENT_USAGE}`;

export async function run(argv: string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: {
      ...CLIENT_OPTIONS,
      issuer: { type: 'string' },
      jwks: { type: 'string' },
      'jwks-uri': { type: 'string' },
      'clock-skew': { type: 'string' },
    },
  });
  const api = apiClient(values, io);
  if (sub === 'add') {
    if (!values.issuer) throw new UsageError('--issuer is required');
    const body: Record<string, unknown> = { issuer: values.issuer };
    if (values.jwks) body.jwks = JSON.parse(readTextFile(values.jwks, io, '--jwks')) as unknown;
    if (values['jwks-uri']) body.jwksUri = values['jwks-uri'];
    if (values['clock-skew'] !== undefined) body.clockSkewSeconds = Number(values['clock-skew']);
    const r = await api.call('POST', '/v1/oidc-issuers', body);
    io.stdout.write(JSON.stringify(r, null, 2) + '\n');
    return EXIT.ok;
  }
  if (sub === 'list') {
    io.stdout.write(JSON.stringify(await api.call('GET', '/v1/oidc-issuers'), null, 2) + '\n');
    return EXIT.ok;
  }
  throw new UsageError(sub ? `unknown issuer command \`${sub}\`` : 'name an issuer command: add or list');
}
