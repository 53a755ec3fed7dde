import { parseArgs } from 'node:util';
import {
  SuggestionBuilder,
  countText,
  percentText,
  shortIdentity,
  type PolicySuggestion,
  type SuggestOptions,
} from '../../core/analysis/rollout/index.js';
import { formatProblem } from '../../core/policy/index.js';
import { countFlag } from '../flag-values.js';
import { oneOf, withInventoryErrors, writeOut } from '../exposure-flags.js';
import { FLOW_INPUT_OPTIONS, flowInput, readFlows, reportBadLines } from '../flow-files.js';
import { EXIT, type CliIo } from '../io.js';
import { contextFlag, ESTATE_OPTIONS, readEstate, rolloutNow, serviceFlag } from '../rollout-flags.js';
import { renderTable } from '../table.js';

export const usage = `usage: gatehouse suggest --policy BASE... --flows FILE... [--format FORMAT] [--inventory FILE]
                        [--service NAME]... [--review-days N] [--now TIME] [--context JSON]
                        [--output table|json|yaml] [--out FILE]

A least-privilege policy from observed traffic: for each service, one flow rule and one
permission rule per caller seen, with the exact SPIFFE ID, the ports used and the methods and
path templates used (/orders/{id}, never /**), owned by the service's owner and due for review.
Starts from the base policy (zones, services, workloads, segmentation and deny rules kept;
allow rules of the services in scope replaced), is checked as \`gatehouse check\` would, and is
replayed against the flows it was built from: every flow it includes is allowed.
  --policy       the base policy: file or folder (repeatable; merged)
  --flows        flow files (repeatable; \`-\` for standard input)
  --format       gatehouse (default), vpc, hubble or decision-log
  --vpc-fields   VPC flow log custom format, when the files have no header
  --inventory    inventory snapshot: identities by address, owners of unowned services
  --service      suggest for this service (repeatable; default: every service with traffic)
  --review-days  days until the rules' reviewBy (default 90)
  --now          review dates count from here (default: the inventory's generatedAt, else now)
  --context      request context for conditions of kept rules ({"mtls":true})
  --output       table (default: a summary), json, or yaml (the policy)
  --out          write the suggested policy (YAML) to FILE
Exit: 0 ok, 3 invalid input, 1 other failure (also when the suggestion would not pass check).`;

export async function run(argv: string[], io: CliIo, clock: () => number): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...FLOW_INPUT_OPTIONS,
      ...ESTATE_OPTIONS,
      'review-days': { type: 'string' },
      now: { type: 'string' },
      context: { type: 'string' },
      output: { type: 'string', default: 'table' },
      out: { type: 'string' },
    },
  });
  const input = flowInput(values);
  const output = oneOf(values.output, ['table', 'json', 'yaml'] as const, '--output');
  const reviewDays = countFlag(values['review-days'], '--review-days', 1);
  const context = contextFlag(values.context);

  return withInventoryErrors('suggest', io, async () => {
    const { policy, inventory } = readEstate(values.policy, values.inventory, io.cwd);
    const services = serviceFlag(values.service, [policy]);
    const options: SuggestOptions = { base: policy, now: rolloutNow(values.now, inventory, clock) };
    if (services) options.services = services;
    if (inventory) options.inventory = inventory;
    if (reviewDays !== undefined) options.reviewDays = reviewDays;
    if (context) options.context = context;
    if (values.out !== undefined) options.file = values.out;
    const builder = new SuggestionBuilder(options);
    const { records, report } = readFlows(input, io, { policy, ...(inventory ? { inventory } : {}) });
    for await (const r of records) builder.add(r);
    reportBadLines('suggest', report(), io);
    const s = builder.finish();
    if (s.check.errors.length) {
      io.stderr.write('gatehouse suggest: the suggested policy does not pass check:\n');
      for (const e of s.check.errors) io.stderr.write(`  ${formatProblem(e)}\n`);
      return EXIT.error;
    }
    if (values.out !== undefined) writeOut(values.out, io.cwd, s.yaml);
    if (output === 'yaml') io.stdout.write(s.yaml);
    else if (output === 'json') {
      const { yaml: _yaml, ...rest } = s;
      io.stdout.write(JSON.stringify(rest, null, 2) + '\n');
    } else io.stdout.write(renderSuggestion(s, policy.trustDomain, values.out));
    return EXIT.ok;
  });
}

function renderSuggestion(s: PolicySuggestion, trustDomain: string, file: string | undefined): string {
  const out: string[] = [];
  const rows = s.services.map((x) => [
    x.service,
    x.owner ?? '-',
    countText(x.flows),
    String(x.callers),
    `${x.flowRules.length}/${x.permissionRules.length}`,
    x.actions.slice(0, 4).join(', ') + (x.actions.length > 4 ? ` +${x.actions.length - 4}` : '') ||
      '(connections only)',
  ]);
  out.push(
    renderTable(['service', 'owner', 'flows', 'callers', 'rules flow/permission', 'actions'], rows).trimEnd(),
  );
  if (s.excluded.length) {
    out.push('', 'left out (not allowed by the suggestion):');
    const rows2 = s.excluded.map((e) => [
      e.service,
      `${countText(e.flows)} flow(s)`,
      e.message,
      e.callers
        .map((c) => shortIdentity(c, trustDomain))
        .slice(0, 3)
        .join(', ') + (e.callers.length > 3 ? ` +${e.callers.length - 3}` : ''),
    ]);
    out.push(renderTable(['service', 'flows', 'why', 'callers'], rows2).trimEnd());
  }
  const r = s.rules;
  out.push(
    '',
    `rules: ${r.added.length} added, ${r.replaced.length} replaced${r.replaced.length ? ` (${r.replaced.slice(0, 5).join(', ')}${r.replaced.length > 5 ? ` +${r.replaced.length - 5}` : ''})` : ''}` +
      (r.kept.length
        ? `, ${r.kept.length} kept that also reach other services (${r.kept.slice(0, 5).join(', ')})`
        : ''),
  );
  out.push(
    `replay: ${s.coverage.coverage === null ? 'no flows' : `${percentText(s.coverage.allowed, s.coverage.flows)} of ${countText(s.coverage.flows)} included flow(s) allowed`}; ` +
      `check: ${s.check.errors.length} error(s), ${s.check.warnings.length} warning(s), revision ${s.check.revision?.slice(0, 19) ?? '-'}`,
  );
  out.push(file ? `written to ${file}` : 'write it with --out FILE, or print it with --output yaml');
  return out.join('\n') + '\n';
}
