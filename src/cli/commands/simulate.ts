import { parseArgs } from 'node:util';
import {
  Simulation,
  actionText,
  countText,
  percentText,
  shortIdentity,
  type BreakGroup,
  type ReplayedFlow,
  type SimulateOptions,
  type SimulationReport,
} from '../../core/analysis/rollout/index.js';
import { countFlag } from '../flag-values.js';
import { oneOf, withInventoryErrors } from '../exposure-flags.js';
import { FLOW_INPUT_OPTIONS, flowInput, readFlows, reportBadLines } from '../flow-files.js';
import { EXIT, type CliIo } from '../io.js';
import { contextFlag, ESTATE_OPTIONS, readEstate, rolloutNow, serviceFlag } from '../rollout-flags.js';
import { renderTable } from '../table.js';

export const usage = `usage: gatehouse simulate --policy CANDIDATE... --flows FILE... [--current POLICY...]
                         [--format FORMAT] [--inventory FILE] [--service NAME]...
                         [--context JSON] [--now TIME] [--min-flows N] [--max-flows N]
                         [--fail-on-break] [--output table|json]

Replays observed traffic against a candidate policy before it is enforced: coverage (the
share of observed flows it allows), the exact flows it would break grouped by service and
missing rule, what it newly allows compared with the current policy, and a promotion
verdict per service (ready for enforce or not, and why).
  --policy         the candidate policy: file or folder (repeatable; merged)
  --current        the policy in force, to compare with (repeatable; merged)
  --flows          flow files (repeatable; \`-\` for standard input)
  --format         gatehouse (default), vpc, hubble or decision-log
  --vpc-fields     VPC flow log custom format, when the files have no header
  --inventory      inventory snapshot: identities by address
  --service        report only this service (repeatable)
  --context        request context every replayed flow carries, for conditions ({"mtls":true})
  --now            the decision time for rule expiry and conditions (default: the
                   inventory's generatedAt, else now)
  --min-flows      flows a service needs before it can be ready (default 1)
  --max-flows      flows listed per group (default 20 in JSON, 3 in the table)
  --fail-on-break  exit 2 when the candidate would break any observed flow
  --output         table (default) or json
Flows carry no credentials: replay assumes each caller with an identity presents a verified
one. Flows without an action (VPC, Hubble L3/L4) are judged by the zone and flow layers.
Exit: 0 ok, 2 breaks (with --fail-on-break), 3 invalid input, 1 other failure.`;

export async function run(argv: string[], io: CliIo, clock: () => number): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...FLOW_INPUT_OPTIONS,
      ...ESTATE_OPTIONS,
      current: { type: 'string', multiple: true },
      context: { type: 'string' },
      now: { type: 'string' },
      'min-flows': { type: 'string' },
      'max-flows': { type: 'string' },
      'fail-on-break': { type: 'boolean', default: false },
      output: { type: 'string', default: 'table' },
    },
  });
  const input = flowInput(values);
  const output = oneOf(values.output, ['table', 'json'] as const, '--output');
  const context = contextFlag(values.context);
  const minFlows = countFlag(values['min-flows'], '--min-flows', 1);
  const maxFlows = countFlag(values['max-flows'], '--max-flows', 0);

  return withInventoryErrors('simulate', io, async () => {
    const { policy: candidate, inventory } = readEstate(values.policy, values.inventory, io.cwd);
    const current = values.current?.length
      ? readEstate(values.current, undefined, io.cwd, '--current').policy
      : undefined;
    const services = serviceFlag(values.service, current ? [candidate, current] : [candidate]);
    const options: SimulateOptions = {
      candidate,
      now: rolloutNow(values.now, inventory, clock),
      maxFlowsPerGroup: maxFlows ?? (output === 'table' ? 3 : 20),
    };
    if (current) options.current = current;
    if (services) options.services = services;
    if (context) options.context = context;
    if (minFlows !== undefined) options.minFlows = minFlows;
    const simulation = new Simulation(options);
    const { records, report } = readFlows(input, io, {
      policy: candidate,
      ...(inventory ? { inventory } : {}),
    });
    for await (const r of records) simulation.add(r);
    reportBadLines('simulate', report(), io);
    const result = simulation.finish();
    io.stdout.write(
      output === 'json'
        ? JSON.stringify(result, null, 2) + '\n'
        : renderSimulation(result, candidate.trustDomain),
    );
    const broken = result.breaks.some((b) => !b.intended);
    return values['fail-on-break'] && broken ? EXIT.denied : EXIT.ok;
  });
}

function day(iso: string): string {
  return iso.slice(0, 10);
}

/** Rows padded into aligned columns, without a header. */
function columns(rows: readonly (readonly string[])[], indent: string): string[] {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map(
    (r) =>
      indent +
      r
        .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!)))
        .join('  ')
        .trimEnd(),
  );
}

function flowRow(f: ReplayedFlow, trustDomain: string): string[] {
  const who = f.source.spiffeId ? shortIdentity(f.source.spiffeId, trustDomain) : (f.source.ip ?? '?');
  const action = f.action
    ? actionText(f.action) + (f.action.examplePath ? ` (e.g. ${f.action.examplePath})` : '')
    : f.protocol;
  return [
    `${who} @${f.source.zone}`,
    f.port === undefined ? '-' : `:${f.port}`,
    action,
    `${countText(f.flows)} flow(s)`,
    `${day(f.firstSeen)} … ${day(f.lastSeen)}`,
    f.current ? `current: ${f.current}` : '',
  ];
}

interface Listed {
  service: string;
  title: string;
  flows: number;
  callers: string[];
  note?: string;
  examples: ReplayedFlow[];
  moreExamples: number;
  fixes?: string[];
}

function groupLines(groups: readonly Listed[], trustDomain: string): string[] {
  const out: string[] = [];
  for (const g of groups) {
    out.push(
      `  ${g.service}: ${g.title} — ${countText(g.flows)} flow(s) from ${g.callers.length} caller(s)${g.note ? `; ${g.note}` : ''}`,
    );
    out.push(
      ...columns(
        g.examples.map((f) => flowRow(f, trustDomain)),
        '      ',
      ),
    );
    if (g.moreExamples) out.push(`      … ${countText(g.moreExamples)} more distinct flow(s)`);
    for (const fix of g.fixes ?? []) out.push(`    fix: ${fix}`);
  }
  return out;
}

function breakLines(groups: readonly BreakGroup[], trustDomain: string): string[] {
  return groupLines(
    groups.map((b) => ({
      ...b,
      title: b.missing,
      ...(b.alreadyDenied ? { note: `${countText(b.alreadyDenied)} denied by the current policy too` } : {}),
    })),
    trustDomain,
  );
}

function renderSimulation(r: SimulationReport, trustDomain: string): string {
  const out: string[] = [];
  const t = r.totals;
  const window = r.window ? ` observed ${day(r.window.first)} to ${day(r.window.last)}` : '';
  out.push(
    `replayed ${countText(t.replayed)} flow(s)${window} (${countText(t.records)} record(s), ${countText(t.distinct)} distinct) against candidate ${r.candidate.revision.slice(0, 19)}` +
      (r.current ? ` and current ${r.current.revision.slice(0, 19)}` : ''),
  );
  const coverage = (p: { allowed: number; denied: number }) => percentText(p.allowed, p.allowed + p.denied);
  out.push(
    `coverage: candidate ${coverage(r.candidate)}` +
      (r.current ? `, current ${coverage(r.current)}` : '') +
      (t.notReplayed ? `; ${countText(t.notReplayed)} flow(s) to undeclared endpoints not replayed` : ''),
  );
  out.push('');
  const rows = r.services
    .filter((s) => s.flows > 0 || s.mode !== s.currentMode)
    .map((s) => [
      s.service,
      s.currentMode && s.currentMode !== s.mode ? `${s.currentMode} → ${s.mode}` : s.mode,
      countText(s.flows),
      s.coverage === null ? '-' : percentText(s.allowed, s.flows),
      s.verdict === 'not-ready'
        ? 'NOT READY'
        : s.verdict === 'no-traffic'
          ? 'no traffic'
          : s.verdict.toUpperCase(),
      s.reason,
    ]);
  out.push(renderTable(['service', 'mode', 'flows', 'coverage', 'verdict', 'why'], rows).trimEnd());
  const broken = r.breaks.filter((b) => !b.intended);
  const intended = r.breaks.filter((b) => b.intended);
  out.push('', broken.length ? `would break (${broken.length} group(s)):` : 'would break: nothing');
  out.push(...breakLines(broken, trustDomain));
  if (intended.length) {
    out.push('', `denied by deny rules, as intended (${intended.length} group(s)):`);
    out.push(...breakLines(intended, trustDomain));
  }
  if (r.current) {
    out.push(
      '',
      r.newlyAllowed.length
        ? `newly allowed compared with the current policy (${r.newlyAllowed.length} group(s)):`
        : 'newly allowed compared with the current policy: nothing',
    );
    out.push(
      ...groupLines(
        r.newlyAllowed.map((g) => ({
          ...g,
          title: `allowed by ${g.rules.map((x) => `\`${x}\``).join(', ')}`,
        })),
        trustDomain,
      ),
    );
  }
  if (r.ruleChanges) {
    const c = r.ruleChanges;
    const list = (xs: string[]) =>
      xs.length ? `: ${xs.slice(0, 6).join(', ')}${xs.length > 6 ? ` +${xs.length - 6}` : ''}` : '';
    out.push(
      '',
      `rule changes: ${c.added.length} added${list(c.added)}; ${c.removed.length} removed${list(c.removed)}; ${c.changed.length} changed${list(c.changed)}` +
        (c.modes.length
          ? `; mode ${c.modes.map((m) => `${m.service} ${m.from ?? '-'} → ${m.to ?? '-'}`).join(', ')}`
          : ''),
    );
  }
  const notReady = r.services.filter((s) => s.verdict === 'not-ready').length;
  const ready = r.services.filter((s) => s.verdict === 'ready').length;
  out.push(
    '',
    `${r.services.length} service(s): ${ready} ready for enforce, ${notReady} not ready, ${r.services.filter((s) => s.verdict === 'enforced').length} enforced, ${r.services.filter((s) => s.verdict === 'no-traffic').length} without traffic`,
  );
  return out.join('\n') + '\n';
}
