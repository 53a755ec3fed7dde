import { parseArgs } from 'node:util';
import {
  Assessment,
  NEXT_STEPS,
  countText,
  percentText,
  type AssessOptions,
  type ReadinessReport,
} from '../../core/analysis/rollout/index.js';
import { oneOf, withInventoryErrors } from '../exposure-flags.js';
import { FLOW_INPUT_OPTIONS, flowInput, readFlows, reportBadLines } from '../flow-files.js';
import { EXIT, type CliIo } from '../io.js';
import { contextFlag, ESTATE_OPTIONS, readEstate, rolloutNow, serviceFlag } from '../rollout-flags.js';
import { renderTable } from '../table.js';

export const usage = `usage: gatehouse assess --policy POLICY... --flows FILE... [--format FORMAT] [--inventory FILE]
                       [--service NAME]... [--now TIME] [--context JSON] [--output table|json]

Rollout readiness per service: are its dependencies mapped (coverage of observed flows), is
coarse segmentation in place first (prod apart from dev and test, OT apart from IT), is the
policy plane owned (rules with owners and review dates), and the next step — zone-first,
observe, microsegment, tighten-identity, enforce, or enforced — with the reason in one line.
  --policy      policy file or folder (repeatable; merged)
  --flows       flow files (repeatable; \`-\` for standard input)
  --format      gatehouse (default), vpc, hubble or decision-log
  --vpc-fields  VPC flow log custom format, when the files have no header
  --inventory   inventory snapshot: identities by address, environments by label
  --service     assess only this service (repeatable)
  --now         review dates and expiry are judged at this time (default: the inventory's
                generatedAt, else now)
  --context     request context replayed flows carry, for conditions ({"mtls":true})
  --output      table (default) or json
Exit: 0 ok, 3 invalid input, 1 other failure.`;

export async function run(argv: string[], io: CliIo, clock: () => number): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...FLOW_INPUT_OPTIONS,
      ...ESTATE_OPTIONS,
      now: { type: 'string' },
      context: { type: 'string' },
      output: { type: 'string', default: 'table' },
    },
  });
  const input = flowInput(values);
  const output = oneOf(values.output, ['table', 'json'] as const, '--output');
  const context = contextFlag(values.context);

  return withInventoryErrors('assess', io, async () => {
    const { policy, inventory } = readEstate(values.policy, values.inventory, io.cwd);
    const services = serviceFlag(values.service, [policy]);
    const options: AssessOptions = { policy, now: rolloutNow(values.now, inventory, clock) };
    if (inventory) options.inventory = inventory;
    if (services) options.services = services;
    if (context) options.context = context;
    const assessment = new Assessment(options);
    const { records, report } = readFlows(input, io, { policy, ...(inventory ? { inventory } : {}) });
    for await (const r of records) assessment.add(r);
    reportBadLines('assess', report(), io);
    const result = assessment.finish();
    io.stdout.write(output === 'json' ? JSON.stringify(result, null, 2) + '\n' : renderReadiness(result));
    return EXIT.ok;
  });
}

const mark = (ok: boolean) => (ok ? 'yes' : 'NO');

function renderReadiness(r: ReadinessReport): string {
  const out: string[] = [];
  const mixed = r.zones.filter((z) => z.mixed);
  if (mixed.length) {
    out.push('zones that mix environments:');
    for (const z of mixed) out.push(`  ${z.problem}`);
    out.push('');
  }
  const rows = r.services.map((s) => [
    s.service,
    s.zone,
    s.mode,
    countText(s.dependencies.flows),
    s.dependencies.coverage === null ? '-' : percentText(s.dependencies.allowed, s.dependencies.flows),
    mark(s.segmentation.inPlace),
    mark(s.ownership.owned),
    mark(s.identity.tight),
    s.nextStep,
    s.reason,
  ]);
  out.push(
    renderTable(
      ['service', 'zone', 'mode', 'flows', 'coverage', 'zones ok', 'owned', 'tight', 'next step', 'why'],
      rows,
    ).trimEnd(),
  );
  const summary = NEXT_STEPS.filter((s) => r.summary[s] > 0).map((s) => `${r.summary[s]} ${s}`);
  const window = r.window
    ? ` over flows from ${r.window.first.slice(0, 10)} to ${r.window.last.slice(0, 10)}`
    : '';
  out.push('', `${r.services.length} service(s)${window}: ${summary.join(', ')}`);
  return out.join('\n') + '\n';
}
