import { parseArgs } from 'node:util';
import type { Revocation } from '../../core/identity/credential.js';
import { apiClient, CLIENT_OPTIONS, CLIENT_USAGE } from '../api-client.js';
import { EXIT, type CliIo } from '../io.js';
import { UsageError } from '../usage-error.js';

export const usage = `usage: gatehouse revoke (--credential JTI|SERIAL | --identity SPIFFE-ID | --entry ID | --grant ID)
                       [--reason TEXT] [--output table|json]

Revokes one credential; every credential of an identity issued so far (offboarding); every
credential of an entry; or a JIT grant's credentials. At once on the server asked, within about
a second on other servers of the same PostgreSQL store, and at proxies on their next sync.
A serial may be given as openssl prints it (upper case, colons); an entry by its SPIFFE ID.
A credential, entry or grant the server never issued or registered is refused (not found).
${CLIENT_USAGE}`;

export async function run(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...CLIENT_OPTIONS,
      credential: { type: 'string' },
      identity: { type: 'string' },
      entry: { type: 'string' },
      grant: { type: 'string' },
      reason: { type: 'string' },
      output: { type: 'string', default: 'table' },
    },
  });
  const targets = (['credential', 'identity', 'entry', 'grant'] as const).filter(
    (t) => values[t] !== undefined,
  );
  if (targets.length !== 1)
    throw new UsageError('give exactly one of --credential, --identity, --entry, --grant');
  const target = targets[0]!;
  const r = await apiClient(values, io).call<Revocation>('POST', '/v1/revocations', {
    target,
    value: values[target],
    ...(values.reason ? { reason: values.reason } : {}),
  });
  io.stdout.write(
    values.output === 'json'
      ? JSON.stringify(r, null, 2) + '\n'
      : `revoked ${r.target} ${r.value} at ${r.revokedAt}` +
          (r.expiresAt ? `; enforced until ${r.expiresAt}, when all it covers has expired\n` : '\n'),
  );
  return EXIT.ok;
}
