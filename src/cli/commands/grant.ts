import { parseArgs } from 'node:util';
import type { JwtSvidIssued } from '../../core/identity/authority.js';
import type { Grant } from '../../core/identity/grant.js';
import { apiClient, CLIENT_OPTIONS, CLIENT_USAGE, positiveInt } from '../api-client.js';
import { EXIT, type CliIo } from '../io.js';
import { renderTable } from '../table.js';
import { UsageError } from '../usage-error.js';

export const usage = `usage: gatehouse grant start --entry ID|SPIFFE-ID --task TEXT --service NAME --ttl S
                            [--method M]... [--path GLOB]... [--operation OP]... [--audience AUD]...
                            [--output token|json]
       gatehouse grant end GRANT-ID
       gatehouse grant list [--entry ID] [--active] [--output table|json]

A JIT grant is a credential for one task: scoped to one service and a few actions, living no
longer than the task (--ttl), and revoked when the task ends. It narrows what the policy
allows; it never widens it. \`start\` prints the grant's JWT-SVID (audience: the service).
${CLIENT_USAGE}`;

export async function run(argv: string[], io: CliIo, clock: () => number): Promise<number> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      ...CLIENT_OPTIONS,
      entry: { type: 'string' },
      task: { type: 'string' },
      service: { type: 'string' },
      ttl: { type: 'string' },
      method: { type: 'string', multiple: true },
      path: { type: 'string', multiple: true },
      operation: { type: 'string', multiple: true },
      audience: { type: 'string', multiple: true },
      active: { type: 'boolean', default: false },
      output: { type: 'string' },
    },
  });
  const api = apiClient(values, io);
  if (sub === 'start') {
    if (!values.entry || !values.task || !values.service || !values.ttl) {
      throw new UsageError('--entry, --task, --service and --ttl are required');
    }
    const output = values.output ?? 'token';
    if (output !== 'token' && output !== 'json') throw new UsageError('--output must be token or json');
    const r = await api.call<{ grant: Grant; jwtSvid: JwtSvidIssued }>('POST', '/v1/grants', {
      entry: values.entry,
      task: values.task,
      ttlSeconds: positiveInt(values.ttl, '--ttl'),
      scope: {
        service: values.service,
        methods: values.method ?? [],
        paths: values.path ?? [],
        operations: values.operation ?? [],
      },
      ...(values.audience?.length ? { audience: values.audience } : {}),
    });
    if (output === 'json') io.stdout.write(JSON.stringify(r, null, 2) + '\n');
    else {
      io.stdout.write(r.jwtSvid.token + '\n');
      io.stderr.write(
        `grant ${r.grant.id} for ${r.grant.spiffeId}, task "${r.grant.task}", until ${r.grant.expiresAt}\n`,
      );
    }
    return EXIT.ok;
  }
  if (sub === 'end') {
    if (positionals.length !== 1) throw new UsageError('grant end takes exactly one grant id');
    const g = await api.call<Grant>('POST', `/v1/grants/${encodeURIComponent(positionals[0]!)}/end`);
    io.stdout.write(
      values.output === 'json'
        ? JSON.stringify(g, null, 2) + '\n'
        : `ended grant ${g.id} at ${g.endedAt}; its credentials are revoked\n`,
    );
    return EXIT.ok;
  }
  if (sub === 'list') {
    const q = new URLSearchParams();
    if (values.entry) q.set('entryId', values.entry);
    if (values.active) q.set('activeAt', new Date(clock()).toISOString());
    const { grants } = await api.call<{ grants: Grant[] }>('GET', `/v1/grants${q.size ? `?${q}` : ''}`);
    if (values.output === 'json') io.stdout.write(JSON.stringify(grants, null, 2) + '\n');
    else
      io.stdout.write(
        renderTable(
          ['ID', 'SPIFFE ID', 'TASK', 'SERVICE', 'EXPIRES', 'ENDED'],
          grants.map((g) => [g.id, g.spiffeId, g.task, g.scope.service, g.expiresAt, g.endedAt ?? '-']),
        ),
      );
    return EXIT.ok;
  }
  throw new UsageError(sub ? `unknown grant command \`${sub}\`` : 'name a grant command: start, end or list');
}
