import { parseArgs } from 'node:util';
import {
  renderAuditHtml,
  SEVERITIES,
  type AuditOptions,
  type AuditReport,
  type Severity,
} from '../../core/analysis/exposure/index.js';
import { parsePolicy } from '../../core/policy/index.js';
import { auditWithLog } from '../audit-log.js';
import { countFlag } from '../flag-values.js';
import { analysisNow, checkWindow, oneOf, withInventoryErrors, writeOut } from '../exposure-flags.js';
import { readInventoryFile } from '../inventory-file.js';
import { EXIT, type CliIo } from '../io.js';
import { readPolicySources } from '../policy-files.js';
import { renderTable } from '../table.js';
import { parseTimeFlag } from '../time-flag.js';
import { UsageError } from '../usage-error.js';

export const usage = `usage: gatehouse audit --policy POLICY... --inventory FILE [--decisions FILE.jsonl]
                      [--since TIME] [--until TIME] [--now TIME] [--stale-days N]
                      [--output table|json|html] [--out FILE] [--details] [--fail-on SEVERITY]
                      [--skip-chain]

Finds exposure of non-human identities in the policy, the inventory and the decision log,
each finding with evidence, a fix and its OWASP NHI Top 10 / NIST SP 800-207 / CSF 2.0 mappings.
  --policy       policy file or folder (repeatable; merged)
  --inventory    inventory snapshot, YAML or JSON (docs/inventory.md)
  --decisions    decision log, JSON lines (\`-\` for standard input); without it, log-based
                 findings are skipped
  --since        only decisions at or after this time (RFC 3339)
  --until        only decisions before this time (default: --now)
  --now          the time to judge against (default: the inventory's generatedAt, else now)
  --stale-days   days without use after which an identity is stale (default 90)
  --output       table (default), json or html (a self-contained report)
  --out          write the report to FILE instead of standard output
  --details      table: add each finding's evidence and fix
  --fail-on      exit 2 when a finding is at least this severe (critical, high, medium, low)
  --skip-chain   do not check the decision log's hash chain
Exit: 0 ok, 2 findings at or above --fail-on, 3 invalid input, 1 other failure.`;

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
      'stale-days': { type: 'string' },
      output: { type: 'string', default: 'table' },
      out: { type: 'string' },
      details: { type: 'boolean', default: false },
      'fail-on': { type: 'string' },
      'skip-chain': { type: 'boolean', default: false },
    },
  });
  if (!values.policy?.length) throw new UsageError('--policy is required');
  if (!values.inventory) throw new UsageError('--inventory is required');
  const output = oneOf(values.output, ['table', 'json', 'html'] as const, '--output');
  const failOn =
    values['fail-on'] === undefined ? undefined : oneOf(values['fail-on'], SEVERITIES, '--fail-on');
  const staleDays = countFlag(values['stale-days'], '--stale-days', 1);
  const since = values.since === undefined ? undefined : parseTimeFlag(values.since, '--since');
  const until = values.until === undefined ? undefined : parseTimeFlag(values.until, '--until');

  return withInventoryErrors('audit', io, async () => {
    const policy = parsePolicy(readPolicySources(values.policy!, io.cwd));
    const inventory = readInventoryFile(values.inventory!, io.cwd);
    const options: AuditOptions = {
      now: analysisNow(values.now, inventory, clock),
      verifyChain: !values['skip-chain'],
    };
    checkWindow(since, until ?? options.now);
    if (since !== undefined) options.since = since;
    if (until !== undefined) options.until = until;
    if (staleDays !== undefined) options.staleDays = staleDays;
    const report = await auditWithLog(
      policy,
      inventory,
      options,
      values.decisions === undefined
        ? undefined
        : { path: values.decisions, cwd: io.cwd, stdin: () => io.readStdin() },
    );
    if (report.log.chain === 'broken')
      io.stderr.write(
        `gatehouse audit: the decision log's hash chain is broken: ${report.log.chainBreak!.message}; records may have been removed or altered\n`,
      );
    const text =
      output === 'json'
        ? JSON.stringify(report, null, 2) + '\n'
        : output === 'html'
          ? renderAuditHtml(report)
          : renderReportTable(report, values.details);
    if (values.out !== undefined) {
      writeOut(values.out, io.cwd, text);
      io.stdout.write(`wrote ${values.out}: ${summaryLine(report)}\n`);
    } else io.stdout.write(text);
    if (failOn) {
      const limit = SEVERITIES.indexOf(failOn);
      if (report.findings.some((f) => SEVERITIES.indexOf(f.severity) <= limit)) return EXIT.denied;
    }
    return EXIT.ok;
  });
}

function summaryLine(r: AuditReport): string {
  const counts = SEVERITIES.filter((s) => r.summary.bySeverity[s]).map(
    (s) => `${r.summary.bySeverity[s]} ${s}`,
  );
  return `${r.summary.findings} finding(s)${counts.length ? ` (${counts.join(', ')})` : ''}`;
}

function renderReportTable(r: AuditReport, details: boolean): string {
  const own = `spiffe://${r.trustDomain}/`;
  const short = (text: string) => text.split(own).join('/');
  const rows: string[][] = [];
  r.findings.forEach((f, i) => {
    rows.push([String(i + 1), f.severity, f.type, f.mappings.owasp.join(',') || '-', short(f.title)]);
    if (details) {
      for (const e of f.evidence) rows.push(['', '', '', '', `  · ${short(e)}`]);
      rows.push(['', '', '', '', `  fix: ${f.fix}`]);
    }
  });
  const bySeverity = (s: Severity) => r.summary.bySeverity[s];
  const log = r.log.given
    ? `log: ${r.log.records} record(s)${r.log.first ? ` ${r.log.first.slice(0, 10)} … ${r.log.last!.slice(0, 10)}` : ''}, chain ${r.log.chain}`
    : 'no decision log';
  const owasp = Object.entries(r.summary.byOwasp)
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
  return (
    renderTable(['#', 'severity', 'type', 'OWASP', 'finding'], rows) +
    `\n${r.summary.findings} finding(s): ${SEVERITIES.map((s) => `${bySeverity(s)} ${s}`).join(', ')}; ${r.summary.identities} identities; ${log}; policy ${r.policyRevision.slice(0, 19)}; as of ${r.now}\n` +
    (owasp ? `OWASP NHI Top 10: ${owasp}\n` : '')
  );
}
