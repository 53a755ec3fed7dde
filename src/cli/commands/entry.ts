import { parseArgs } from 'node:util';
import type { RegistrationEntry } from '../../core/identity/entry.js';
import {
  apiClient,
  CLIENT_OPTIONS,
  CLIENT_USAGE,
  keyValues,
  positiveInt,
  readTextFile,
} from '../api-client.js';
import { countFlag } from '../flag-values.js';
import { EXIT, type CliIo } from '../io.js';
import { renderTable } from '../table.js';
import { UsageError } from '../usage-error.js';

export const usage = `usage: gatehouse entry create (--spiffe-id ID --kind KIND | --file ENTRY.json) [--owner TEAM]
                             [--label KEY=VALUE]... [--zone ZONE] [--address IP|CIDR]...
                             [--attest join-token] [--jwt-ttl S] [--x509-ttl S] [--expires-at TIME]
       gatehouse entry list [--status S] [--kind K] [--owner O] [--page-size N] [--output table|json]
       gatehouse entry show ID|SPIFFE-ID
       gatehouse entry disable|enable|offboard ID
       gatehouse entry join-token ID [--ttl S]

Manages registration entries, the inventory of non-human identities.
Kinds: service, job, ci-pipeline, agent, third-party-app, api-key. Disabling or offboarding
an entry revokes every credential issued for it. \`join-token\` prints a single-use token once.
\`list\` reads the inventory a page of --page-size entries at a time (1 to 1000, default 1000).
${CLIENT_USAGE}`;

export async function run(argv: string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      ...CLIENT_OPTIONS,
      'spiffe-id': { type: 'string' },
      kind: { type: 'string' },
      owner: { type: 'string' },
      description: { type: 'string' },
      label: { type: 'string', multiple: true },
      zone: { type: 'string' },
      address: { type: 'string', multiple: true },
      attest: { type: 'string', multiple: true },
      'jwt-ttl': { type: 'string' },
      'x509-ttl': { type: 'string' },
      'expires-at': { type: 'string' },
      file: { type: 'string' },
      status: { type: 'string' },
      ttl: { type: 'string' },
      output: { type: 'string', default: 'table' },
      'page-size': { type: 'string' },
    },
  });
  if (values.output !== 'table' && values.output !== 'json')
    throw new UsageError('--output must be table or json');
  const api = apiClient(values, io);
  const print = (entry: RegistrationEntry) => {
    io.stdout.write(values.output === 'json' ? JSON.stringify(entry, null, 2) + '\n' : describe(entry));
  };
  const id = () => {
    if (positionals.length !== 1) throw new UsageError(`entry ${sub} takes exactly one entry id`);
    return encodeURIComponent(positionals[0]!);
  };
  switch (sub) {
    case 'create': {
      let body: Record<string, unknown>;
      if (values.file) body = JSON.parse(readTextFile(values.file, io, '--file')) as Record<string, unknown>;
      else {
        if (!values['spiffe-id'] || !values.kind) throw new UsageError('--spiffe-id and --kind are required');
        body = {
          spiffeId: values['spiffe-id'],
          kind: values.kind,
          labels: keyValues(values.label, '--label'),
          attestation: (values.attest ?? []).map((type) => ({ type })),
        };
        if (values.owner) body.owner = values.owner;
        if (values.description) body.description = values.description;
        if (values.zone) body.zone = values.zone;
        if (values.address?.length) body.addresses = values.address;
        if (values['jwt-ttl']) body.jwtSvidTtlSeconds = positiveInt(values['jwt-ttl'], '--jwt-ttl');
        if (values['x509-ttl']) body.x509SvidTtlSeconds = positiveInt(values['x509-ttl'], '--x509-ttl');
        if (values['expires-at']) body.expiresAt = values['expires-at'];
      }
      print(await api.call<RegistrationEntry>('POST', '/v1/entries', body));
      return EXIT.ok;
    }
    case 'list': {
      const size = countFlag(values['page-size'], '--page-size', 1) ?? ENTRY_PAGE;
      if (size > ENTRY_PAGE) throw new UsageError(`--page-size must be at most ${ENTRY_PAGE}, got ${size}`);
      const q = new URLSearchParams({ limit: String(size) });
      for (const k of ['status', 'kind', 'owner'] as const) if (values[k]) q.set(k, values[k]);
      // A page at a time: a large estate is not one answer the server has to build whole.
      const entries: RegistrationEntry[] = [];
      for (;;) {
        const page = await api.call<{ entries: RegistrationEntry[]; nextPageToken?: string }>(
          'GET',
          `/v1/entries?${q}`,
        );
        entries.push(...page.entries);
        if (page.nextPageToken === undefined) break;
        q.set('pageToken', page.nextPageToken);
      }
      if (values.output === 'json') io.stdout.write(JSON.stringify(entries, null, 2) + '\n');
      else
        io.stdout.write(
          renderTable(
            ['ID', 'SPIFFE ID', 'KIND', 'STATUS', 'OWNER', 'LAST SEEN'],
            entries.map((e) => [e.id, e.spiffeId, e.kind, e.status, e.owner ?? '-', e.lastSeenAt ?? 'never']),
          ),
        );
      return EXIT.ok;
    }
    case 'show':
      print(await api.call<RegistrationEntry>('GET', `/v1/entries/${id()}`));
      return EXIT.ok;
    case 'disable':
    case 'enable':
    case 'offboard':
      print(await api.call<RegistrationEntry>('POST', `/v1/entries/${id()}/${sub}`));
      return EXIT.ok;
    case 'join-token': {
      const ttlSeconds = positiveInt(values.ttl, '--ttl');
      const r = await api.call<{ token: string; expiresAt: string }>(
        'POST',
        `/v1/entries/${id()}/join-tokens`,
        ttlSeconds ? { ttlSeconds } : {},
      );
      if (values.output === 'json') io.stdout.write(JSON.stringify(r) + '\n');
      else io.stdout.write(`${r.token}\n`);
      io.stderr.write(`single-use join token, valid until ${r.expiresAt}; it is not shown again\n`);
      return EXIT.ok;
    }
    default:
      throw new UsageError(sub ? `unknown entry command \`${sub}\`` : 'name an entry command');
  }
}

function describe(e: RegistrationEntry): string {
  const rows: [string, string][] = [
    ['id', e.id],
    ['spiffeId', e.spiffeId],
    ['kind', e.kind],
    ['status', e.status],
    ['owner', e.owner ?? '-'],
    [
      'labels',
      Object.entries(e.labels)
        .map(([k, v]) => `${k}=${v}`)
        .join(', ') || '-',
    ],
    ['zone', e.zone ?? '-'],
    [
      'attestation',
      e.attestation.map((a) => (a.type === 'oidc' ? `oidc ${a.issuer}` : a.type)).join(', ') || '-',
    ],
    ['expiresAt', e.expiresAt ?? '-'],
    ['createdAt', e.createdAt],
    ['lastSeenAt', e.lastSeenAt ?? 'never'],
  ];
  return rows.map(([k, v]) => `${k.padEnd(12)} ${v}`).join('\n') + '\n';
}

/** Entries asked for per call of `entry list`: the API's largest page. */
const ENTRY_PAGE = 1000;
