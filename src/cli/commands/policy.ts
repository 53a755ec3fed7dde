import { parseArgs } from 'node:util';
import type { PolicyDiff, PolicyProblem } from '../../core/policy/index.js';
import { apiClient, CLIENT_OPTIONS, CLIENT_USAGE } from '../api-client.js';
import { EXIT, type CliIo } from '../io.js';
import { readPolicySources } from '../policy-files.js';
import { renderTable } from '../table.js';
import { UsageError } from '../usage-error.js';

export const usage = `usage: gatehouse policy push POLICY... [--comment TEXT] [--no-activate]
       gatehouse policy list [--output table|json]
       gatehouse policy show REVISION
       gatehouse policy activate REVISION          (roll back or forward to a stored version)
       gatehouse policy diff FROM [TO]             (TO defaults to the active revision)

Manages the policy of a running server. \`push\` uploads files or folders (merged), which the
server validates like \`gatehouse check\`: errors reject the upload (exit 3), warnings are shown.
Activation is atomic: requests in flight finish with the policy they started with.
${CLIENT_USAGE}`;

interface VersionInfo {
  revision: string;
  comment?: string;
  createdAt: string;
  activatedAt?: string;
  files: string[];
  active: boolean;
}

export async function run(argv: string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      ...CLIENT_OPTIONS,
      comment: { type: 'string' },
      'no-activate': { type: 'boolean', default: false },
      output: { type: 'string', default: 'table' },
    },
  });
  const api = apiClient(values, io);
  const one = () => {
    if (positionals.length !== 1) throw new UsageError(`policy ${sub} takes one revision`);
    return encodeURIComponent(positionals[0]!);
  };
  switch (sub) {
    case 'push': {
      if (!positionals.length) throw new UsageError('name the policy files or folders to push');
      const sources = readPolicySources(positionals, io.cwd);
      const r = await api.call<{
        revision: string;
        activated: boolean;
        existing: boolean;
        warnings: PolicyProblem[];
      }>('POST', '/v1/policies', {
        sources,
        ...(values.comment ? { comment: values.comment } : {}),
        activate: !values['no-activate'],
      });
      for (const w of r.warnings) {
        const at = w.location ? `${w.location.file}:${w.location.line}:${w.location.column}: ` : '';
        io.stderr.write(`${at}warning: ${w.message}\n`);
      }
      io.stdout.write(
        `${r.existing ? 'already stored' : 'stored'} ${r.revision}${r.activated ? '; active now' : ' (not activated)'}\n`,
      );
      return EXIT.ok;
    }
    case 'list': {
      const { versions } = await api.call<{ versions: VersionInfo[] }>('GET', '/v1/policies');
      if (values.output === 'json') io.stdout.write(JSON.stringify(versions, null, 2) + '\n');
      else
        io.stdout.write(
          renderTable(
            ['', 'REVISION', 'CREATED', 'LAST ACTIVATED', 'FILES', 'COMMENT'],
            versions.map((v) => [
              v.active ? '*' : '',
              v.revision.slice(0, 19),
              v.createdAt,
              v.activatedAt ?? '-',
              String(v.files.length),
              v.comment ?? '',
            ]),
          ),
        );
      return EXIT.ok;
    }
    case 'show':
      io.stdout.write(JSON.stringify(await api.call('GET', `/v1/policies/${one()}`), null, 2) + '\n');
      return EXIT.ok;
    case 'activate':
    case 'rollback': {
      const r = await api.call<{ active: string }>('POST', `/v1/policies/${one()}/activate`);
      io.stdout.write(`active: ${r.active}\n`);
      return EXIT.ok;
    }
    case 'diff': {
      if (positionals.length < 1 || positionals.length > 2)
        throw new UsageError('policy diff takes FROM and optionally TO');
      const q = new URLSearchParams({ from: positionals[0]! });
      if (positionals[1]) q.set('to', positionals[1]);
      const d = await api.call<PolicyDiff>('GET', `/v1/policies/diff?${q}`);
      if (values.output === 'json') io.stdout.write(JSON.stringify(d, null, 2) + '\n');
      else {
        io.stdout.write(`${d.from.slice(0, 19)} → ${d.to.slice(0, 19)}: ${d.changes.length} change(s)\n`);
        const sign = { added: '+', removed: '-', changed: '~' } as const;
        for (const c of d.changes) {
          io.stdout.write(
            `${sign[c.change]} ${c.part} ${c.key}${c.fields ? ` (${c.fields.join(', ')})` : ''}\n`,
          );
        }
      }
      return EXIT.ok;
    }
    default:
      throw new UsageError(sub ? `unknown policy command \`${sub}\`` : 'name a policy command');
  }
}
