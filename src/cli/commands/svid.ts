import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { makeDirectory } from '../../make-directory.js';
import type { JwtSvidIssued, X509SvidIssued } from '../../core/identity/authority.js';
import { apiClient, CLIENT_OPTIONS, CLIENT_USAGE, positiveInt, readTextFile } from '../api-client.js';
import { EXIT, type CliIo } from '../io.js';
import { UsageError } from '../usage-error.js';

export const usage = `usage: gatehouse svid jwt --audience AUD... [--spiffe-id ID] [--ttl S] [--output token|json]
       gatehouse svid x509 [--spiffe-id ID] [--csr FILE] [--ttl S] [--out-dir DIR] [--output pem|json]

Issues an SVID. With the admin credential, for the entry named by --spiffe-id (or entry id);
with a workload's JWT-SVID (--token-file), for that workload itself. The default lifetimes are
5 minutes (JWT) and 1 hour (X.509); entries and the server cap them. A JWT-SVID is for the
control plane (spiffe://<trust domain>/gatehouse) alone or for other audiences: an --audience
list that mixes the two is refused (exit 3), since every service given the token could call
the control plane with it.
${CLIENT_USAGE}`;

export async function run(argv: string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: {
      ...CLIENT_OPTIONS,
      audience: { type: 'string', multiple: true },
      'spiffe-id': { type: 'string' },
      ttl: { type: 'string' },
      csr: { type: 'string' },
      'out-dir': { type: 'string' },
      output: { type: 'string' },
    },
  });
  const api = apiClient(values, io);
  const body: Record<string, unknown> = {};
  if (values['spiffe-id']) body.spiffeId = values['spiffe-id'];
  const ttl = positiveInt(values.ttl, '--ttl');
  if (ttl) body.ttlSeconds = ttl;
  if (sub === 'jwt') {
    if (!values.audience?.length)
      throw new UsageError('--audience is required (JWT-SVIDs always carry an audience)');
    const output = values.output ?? 'token';
    if (output !== 'token' && output !== 'json') throw new UsageError('--output must be token or json');
    body.audience = values.audience;
    const r = await api.call<JwtSvidIssued>('POST', '/v1/svid/jwt', body);
    io.stdout.write(output === 'json' ? JSON.stringify(r, null, 2) + '\n' : r.token + '\n');
    return EXIT.ok;
  }
  if (sub === 'x509') {
    const output = values.output ?? 'pem';
    if (output !== 'pem' && output !== 'json') throw new UsageError('--output must be pem or json');
    if (values.csr) body.csr = readTextFile(values.csr, io, '--csr');
    const r = await api.call<X509SvidIssued>('POST', '/v1/svid/x509', body);
    if (values['out-dir']) {
      const dir = resolve(io.cwd, values['out-dir']);
      makeDirectory(dir);
      writeFileSync(join(dir, 'svid.pem'), r.chainPem);
      if (r.privateKeyPem) writeFileSync(join(dir, 'svid.key'), r.privateKeyPem, { mode: 0o600 });
      io.stderr.write(
        `X.509-SVID ${r.serial} for ${r.spiffeId}, expires ${r.expiresAt}, written to ${values['out-dir']}/\n`,
      );
    } else if (output === 'json') io.stdout.write(JSON.stringify(r, null, 2) + '\n');
    else io.stdout.write(r.chainPem + (r.privateKeyPem ?? ''));
    return EXIT.ok;
  }
  throw new UsageError(sub ? `unknown svid kind \`${sub}\`: use jwt or x509` : 'name jwt or x509');
}
