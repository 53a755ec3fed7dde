import { parseArgs } from 'node:util';
import { apiClient, CLIENT_OPTIONS, CLIENT_USAGE } from '../api-client.js';
import { EXIT, type CliIo } from '../io.js';
import { renderTable } from '../table.js';
import { UsageError } from '../usage-error.js';

export const usage = `usage: gatehouse keys list [--output table|json]
       gatehouse keys rotate [--force]

Lists the trust domain's signing keys (never their private parts) or runs the rotation plan:
a next key is published in the bundle before it signs; a retired key stays published until
everything it signed has expired. --force starts a rotation now.
${CLIENT_USAGE}`;

interface KeyInfo {
  kid: string;
  use: string;
  alg: string;
  state: string;
  createdAt: string;
  signedUntil?: string;
}

export async function run(argv: string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: {
      ...CLIENT_OPTIONS,
      force: { type: 'boolean', default: false },
      output: { type: 'string', default: 'table' },
    },
  });
  const api = apiClient(values, io);
  if (sub === 'list') {
    const { keys } = await api.call<{ keys: KeyInfo[] }>('GET', '/v1/keys');
    io.stdout.write(
      values.output === 'json'
        ? JSON.stringify(keys, null, 2) + '\n'
        : renderTable(
            ['KID', 'USE', 'ALG', 'STATE', 'CREATED', 'SIGNED UNTIL'],
            keys.map((k) => [k.kid, k.use, k.alg, k.state, k.createdAt, k.signedUntil ?? '-']),
          ),
    );
    return EXIT.ok;
  }
  if (sub === 'rotate') {
    const r = await api.call<{ changed: boolean; sequence: number }>('POST', '/v1/keys/rotate', {
      force: values.force,
    });
    io.stdout.write(
      r.changed
        ? `keys rotated; bundle sequence ${r.sequence}\n`
        : `nothing to rotate; bundle sequence ${r.sequence}\n`,
    );
    return EXIT.ok;
  }
  throw new UsageError(sub ? `unknown keys command \`${sub}\`` : 'name a keys command: list or rotate');
}
