import { parseArgs } from 'node:util';
import { apiClient, CLIENT_OPTIONS, CLIENT_USAGE } from '../api-client.js';
import { EXIT, type CliIo } from '../io.js';
import { UsageError } from '../usage-error.js';

export const usage = `usage: gatehouse bundle [--output json|pem]

Prints the trust bundle: the SPIFFE bundle (JWK Set) as JSON, or the X.509 authorities as PEM
(for \`openssl verify -CAfile\`).
${CLIENT_USAGE}`;

export interface BundleJson {
  keys: { use?: string; x5c?: string[]; kid?: string }[];
  spiffe_sequence?: number;
}

/** The X.509 authorities of a SPIFFE bundle as PEM certificates. */
export function bundleToPem(bundle: BundleJson): string {
  const certs = bundle.keys.filter((k) => k.use === 'x509-svid' && k.x5c?.length).map((k) => k.x5c![0]!);
  return certs
    .map(
      (b64) =>
        `-----BEGIN CERTIFICATE-----\n${b64.match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`,
    )
    .join('');
}

export async function run(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { ...CLIENT_OPTIONS, output: { type: 'string', default: 'json' } },
  });
  if (values.output !== 'json' && values.output !== 'pem')
    throw new UsageError('--output must be json or pem');
  const bundle = await apiClient(values, io).call<BundleJson>('GET', '/.well-known/spiffe-bundle');
  io.stdout.write(values.output === 'pem' ? bundleToPem(bundle) : JSON.stringify(bundle, null, 2) + '\n');
  return EXIT.ok;
}
