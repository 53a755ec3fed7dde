import { parseArgs } from 'node:util';
import {
  blastRadius,
  blastRadiusDot,
  buildEstate,
  resolveBlastTarget,
  type BlastRadius,
  type BlastRadiusOptions,
} from '../../core/analysis/exposure/index.js';
import { parsePolicy } from '../../core/policy/index.js';
import { countFlag } from '../flag-values.js';
import { analysisNow, oneOf, withInventoryErrors, writeOut } from '../exposure-flags.js';
import { readInventoryFile } from '../inventory-file.js';
import { EXIT, type CliIo } from '../io.js';
import { readPolicySources } from '../policy-files.js';
import { renderTable } from '../table.js';
import { UsageError } from '../usage-error.js';

export const usage = `usage: gatehouse blast-radius IDENTITY|CREDENTIAL --policy POLICY... --inventory FILE
                             [--max-hops N] [--max-paths N] [--from-zone ZONE]... [--now TIME]
                             [--output table|json|dot] [--out FILE]

Shows everything a compromised identity (or one stolen credential) can reach through the
three layers, and where it can move next through credentials the services it reaches hold,
as paths ranked by reach and by how long the credentials stay valid.
  IDENTITY      a SPIFFE ID, a path of the trust domain (/ns/shop/sa/web) or an entry id
  CREDENTIAL    an issued credential id (jti, serial) or a static secret id
  --policy      policy file or folder (repeatable; merged)
  --inventory   inventory snapshot, YAML or JSON (docs/inventory.md)
  --max-hops    lateral moves to follow (default 3; 0 for the first hop only)
  --max-paths   ranked paths to show (default 20)
  --from-zone   zone the start calls from (repeatable; default: its own zones)
  --now         the time to judge credential lifetimes against (default: the inventory's
                generatedAt, else now)
  --output      table (default), json, or dot (Graphviz)
  --out         write to FILE instead of standard output
A SPIFFE ID the inventory does not hold is judged by the policy alone, and the start says so.
Exit: 0 ok, 3 invalid input or a name that is neither a SPIFFE ID nor anything the inventory
holds, 1 other failure.`;

export async function run(argv: string[], io: CliIo, clock: () => number): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      policy: { type: 'string', multiple: true },
      inventory: { type: 'string' },
      'max-hops': { type: 'string' },
      'max-paths': { type: 'string' },
      'from-zone': { type: 'string', multiple: true },
      now: { type: 'string' },
      output: { type: 'string', default: 'table' },
      out: { type: 'string' },
    },
  });
  if (positionals.length !== 1) throw new UsageError('name exactly one identity or credential');
  if (!values.policy?.length) throw new UsageError('--policy is required');
  if (!values.inventory) throw new UsageError('--inventory is required');
  const output = oneOf(values.output, ['table', 'json', 'dot'] as const, '--output');
  const options: BlastRadiusOptions = {};
  const maxHops = countFlag(values['max-hops'], '--max-hops', 0);
  const maxPaths = countFlag(values['max-paths'], '--max-paths', 1);
  if (maxHops !== undefined) options.maxHops = maxHops;
  if (maxPaths !== undefined) options.maxPaths = maxPaths;

  return withInventoryErrors('blast-radius', io, async () => {
    const policy = parsePolicy(readPolicySources(values.policy!, io.cwd));
    const inventory = readInventoryFile(values.inventory!, io.cwd);
    const estate = buildEstate(policy, inventory, { now: analysisNow(values.now, inventory, clock) });
    if (values['from-zone']) {
      const known = new Set([...policy.zones.map((z) => z.name), 'unknown']);
      for (const z of values['from-zone'])
        if (!known.has(z)) throw new UsageError(`unknown zone \`${z}\` in --from-zone`);
      options.fromZones = values['from-zone'];
    }
    const target = resolveBlastTarget(estate, positionals[0]!);
    if (!target.start) {
      io.stderr.write(`gatehouse blast-radius: ${target.problem}\n`);
      return EXIT.invalidInput;
    }
    const result = blastRadius(estate, target.start, options);
    const text =
      output === 'json'
        ? JSON.stringify(result, null, 2) + '\n'
        : output === 'dot'
          ? blastRadiusDot(result)
          : renderBlastTable(result, policy.trustDomain);
    if (values.out !== undefined) {
      writeOut(values.out, io.cwd, text);
      io.stdout.write(
        `wrote ${values.out}: ${result.totals.identities} identities, ${result.totals.services} services, ${result.totals.edges} edges\n`,
      );
    } else io.stdout.write(text);
    return EXIT.ok;
  });
}

function renderBlastTable(b: BlastRadius, trustDomain: string): string {
  const own = `spiffe://${trustDomain}/`;
  const short = (t: string) => t.split(own).join('/');
  const first = b.identities[0]!;
  const out: string[] = [];
  const what =
    b.start.via === 'credential'
      ? `stolen ${b.start.credential!.kind} \`${b.start.credential!.id}\` of `
      : '';
  out.push(
    `start: ${what}${short(b.start.spiffeId)}${b.start.inInventory === false ? ' (not in the inventory: judged by the policy alone)' : ''} from ${first.zones.length ? first.zones.join(', ') : 'unknown'}; credentials valid: ${b.window.text}${b.window.credential && b.start.via === 'identity' ? ` (${b.window.credential})` : ''}`,
  );
  out.push(
    `reaches ${first.reach.length} service(s) directly; ${b.totals.identities - 1} more identit${b.totals.identities === 2 ? 'y' : 'ies'} through held credentials (max ${b.maxHops} hop(s)); ${b.totals.services} service(s) in all`,
  );
  out.push('', 'first hop');
  const rows = first.reach.map((r) => [
    r.service,
    r.ports,
    r.allowedByPolicy ? (r.conditional ? 'conditional' : 'allowed') : `not enforced (${r.mode})`,
    r.allowedByPolicy
      ? [
          `zone ${r.zoneRules.join(',')}`,
          `flow ${r.flowRules.join(',')}`,
          `permission ${r.actions.join('; ')}`,
        ].join(' · ')
      : `${r.mode} mode lets every request through`,
  ]);
  out.push(renderTable(['service', 'ports', 'access', 'allowed by'], rows).trimEnd());
  out.push('', `paths, ranked by reach × remaining credential lifetime`);
  const pathRows: string[][] = [];
  for (const p of b.paths) {
    pathRows.push([
      String(p.rank),
      String(p.score),
      String(p.hops),
      short(p.identity),
      p.window.text,
      p.services.join(', ') || '-',
    ]);
    p.explanation.forEach((line, i) => pathRows.push(['', '', '', '', '', `${i + 1}. ${short(line)}`]));
  }
  out.push(renderTable(['rank', 'score', 'hops', 'identity', 'credentials', 'reaches'], pathRows).trimEnd());
  out.push(
    '',
    `${b.totals.paths} path(s), ${b.paths.length} shown; ${b.totals.edges} edge(s); as of ${b.now}`,
  );
  return out.join('\n') + '\n';
}
