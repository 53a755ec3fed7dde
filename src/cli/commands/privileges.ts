import { parseArgs } from 'node:util';
import {
  ActivityCollector,
  buildEstate,
  grantedVsUsed,
  type ActivityOptions,
  type PrivilegeReport,
} from '../../core/analysis/exposure/index.js';
import { parsePolicy } from '../../core/policy/index.js';
import { formatProblem } from '../../core/policy/index.js';
import { gatherDecisionLog } from '../audit-log.js';
import { analysisNow, checkWindow, oneOf, withInventoryErrors, writeOut } from '../exposure-flags.js';
import { readInventoryFile } from '../inventory-file.js';
import { EXIT, type CliIo } from '../io.js';
import { readPolicySources } from '../policy-files.js';
import { renderTable } from '../table.js';
import { parseTimeFlag } from '../time-flag.js';
import { UsageError } from '../usage-error.js';

export const usage = `usage: gatehouse privileges --policy POLICY... --inventory FILE --decisions FILE.jsonl
                           [--since TIME] [--until TIME] [--now TIME] [--identity ID]...
                           [--output table|json] [--propose FILE]

Granted versus used: for each identity, the services and permissions the policy grants it
against what the decision log shows it used, and a tightened policy without what nobody used.
  --policy      policy file or folder (repeatable; merged)
  --inventory   inventory snapshot, YAML or JSON (docs/inventory.md)
  --decisions   decision log, JSON lines (\`-\` for standard input)
  --since       only decisions at or after this time (RFC 3339)
  --until       only decisions before this time (default: --now)
  --now         the time to judge against (default: the inventory's generatedAt, else now)
  --identity    show only these identities (SPIFFE ID or trust-domain path; repeatable)
  --output      table (default) or json
  --propose     write the tightened policy (one YAML file that passes \`gatehouse check\`) to FILE
Exit: 0 ok, 3 invalid input, 1 other failure (also when the proposal would not pass check).`;

export async function run(argv: string[], io: CliIo, clock: () => number): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      policy: { type: 'string', multiple: true },
      inventory: { type: 'string' },
      decisions: { type: 'string' },
      since: { type: 'string' },
      until: { type: 'string' },
      now: { type: 'string' },
      identity: { type: 'string', multiple: true },
      output: { type: 'string', default: 'table' },
      propose: { type: 'string' },
    },
  });
  if (!values.policy?.length) throw new UsageError('--policy is required');
  if (!values.inventory) throw new UsageError('--inventory is required');
  if (!values.decisions) throw new UsageError('--decisions is required');
  const output = oneOf(values.output, ['table', 'json'] as const, '--output');
  const since = values.since === undefined ? undefined : parseTimeFlag(values.since, '--since');
  const until = values.until === undefined ? undefined : parseTimeFlag(values.until, '--until');

  return withInventoryErrors('privileges', io, async () => {
    const policy = parsePolicy(readPolicySources(values.policy!, io.cwd));
    const inventory = readInventoryFile(values.inventory!, io.cwd);
    const now = analysisNow(values.now, inventory, clock);
    checkWindow(since, until ?? now);
    const estate = buildEstate(policy, inventory, { now });
    const activityOptions: ActivityOptions = { until: until ?? now };
    if (since !== undefined) activityOptions.since = since;
    const activity = new ActivityCollector(activityOptions);
    await gatherDecisionLog({ path: values.decisions!, cwd: io.cwd, stdin: () => io.readStdin() }, activity);
    const report = grantedVsUsed(estate, activity, values.propose ? { file: values.propose } : {});
    if (values.identity) {
      const wanted = new Set(
        values.identity.map((i) => (i.startsWith('/') ? `spiffe://${policy.trustDomain}${i}` : i)),
      );
      report.identities = report.identities.filter((p) => wanted.has(p.spiffeId));
      // Said, not refused: a filter that matches nothing may be a typo, or an identity with nothing granted.
      const shown = new Set(report.identities.map((p) => p.spiffeId));
      for (const id of wanted)
        if (!shown.has(id))
          io.stderr.write(
            `gatehouse privileges: no identity of the estate is \`${id}\`: nothing to show for it\n`,
          );
    }
    if (report.proposal.check.errors.length) {
      io.stderr.write(`gatehouse privileges: the proposed policy does not pass check:\n`);
      for (const e of report.proposal.check.errors) io.stderr.write(`  ${formatProblem(e)}\n`);
      return EXIT.error;
    }
    if (values.propose) writeOut(values.propose, io.cwd, report.proposal.yaml);
    if (output === 'json') {
      const { yaml: _yaml, document: _doc, ...proposal } = report.proposal;
      io.stdout.write(JSON.stringify({ ...report, proposal }, null, 2) + '\n');
    } else io.stdout.write(renderPrivileges(report, policy.trustDomain, values.propose));
    return EXIT.ok;
  });
}

function renderPrivileges(
  r: PrivilegeReport & { identities: PrivilegeReport['identities'] },
  trustDomain: string,
  file?: string,
): string {
  const own = `spiffe://${trustDomain}/`;
  const short = (t: string) => t.split(own).join('/');
  const list = (xs: readonly string[]) => (xs.length ? xs.join(', ') : '-');
  const rows = r.identities.map((p) => [
    short(p.spiffeId),
    String(p.records),
    list(p.granted.services.map((s) => s.service)),
    list(p.used.services),
    list(p.unusedServices.map((s) => s.service)),
    list(p.unusedPermissionRules.map((x) => x.rule)),
  ]);
  const out = [
    `granted vs used over ${r.window.records} decision(s)${r.window.first ? ` from ${r.window.first} to ${r.window.last}` : ''}`,
    '',
    renderTable(
      ['identity', 'decisions', 'granted services', 'used', 'never contacted', 'permissions never used'],
      rows,
    ).trimEnd(),
    '',
    `tightened policy: ${r.proposal.changes.length} change(s); check: ${r.proposal.check.errors.length} error(s), ${r.proposal.check.warnings.length} warning(s), revision ${r.proposal.check.revision?.slice(0, 19) ?? '-'}${file ? `; written to ${file}` : ' (write it with --propose FILE)'}`,
  ];
  const changes = r.proposal.changes.map((c) => [c.layer, c.rule, c.change, c.detail]);
  if (changes.length) out.push(renderTable(['layer', 'rule', 'change', 'why'], changes).trimEnd());
  return out.join('\n') + '\n';
}
