import { closeSync, openSync, writeSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { formatFlowRecord } from '../../core/analysis/flows/index.js';
import { withInventoryErrors } from '../exposure-flags.js';
import { FLOW_INPUT_OPTIONS, flowInput, ingestSummary, readFlows } from '../flow-files.js';
import { EXIT, type CliIo } from '../io.js';
import { readEstate } from '../rollout-flags.js';
import { UsageError } from '../usage-error.js';
import { fileProblem } from '../file-problem.js';

export const usage = `usage: gatehouse flows import FILE... [--format gatehouse|vpc|hubble|decision-log]
                            [--policy POLICY...] [--inventory FILE] [--vpc-fields FIELDS]
                            [--out FILE] [--max-problems N]

Reads observed flows and writes them as Gatehouse flow records (JSON lines, docs/flows.md),
with callers and destinations resolved to identities, services and zones.
  FILE           input files (\`-\` for standard input)
  --format       gatehouse (default), vpc (AWS VPC Flow Logs v2-v5), hubble (hubble observe
                 -o json) or decision-log (Gatehouse decision log)
  --policy       policy file or folder (repeatable; merged): zones by CIDR, services by SPIFFE ID
  --inventory    inventory snapshot: identities by address (docs/inventory.md)
  --vpc-fields   the flow log's custom format (\`\${version} \${srcaddr} ...\`) when files have no header
  --out          write records to FILE instead of standard output
  --max-problems bad lines listed with their line numbers (default 20; all are counted)
Bad lines are reported on standard error with their file and line and never stop the import;
a progress bar shows on a terminal for large inputs.
Exit: 0 ok (also with bad lines), 3 invalid input (an unreadable file, policy or inventory), 1 other failure.`;

export async function run(argv: string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'import')
    throw new UsageError(sub ? `unknown subcommand \`${sub}\`` : 'name a subcommand: import');
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      ...FLOW_INPUT_OPTIONS,
      policy: { type: 'string', multiple: true },
      inventory: { type: 'string' },
      out: { type: 'string' },
      'max-problems': { type: 'string' },
    },
  });
  if (values.flows) throw new UsageError('name the input files as arguments, not with --flows');
  const input = flowInput(values, positionals);
  const maxProblems = values['max-problems'] === undefined ? 20 : Number(values['max-problems']);
  if (!Number.isInteger(maxProblems) || maxProblems < 0)
    throw new UsageError(`--max-problems must be a whole number, got \`${values['max-problems']}\``);

  if (values.inventory !== undefined && !values.policy?.length)
    throw new UsageError('--inventory needs --policy: zones and services come from the policy');
  return withInventoryErrors('flows', io, async () => {
    const estate = values.policy?.length ? readEstate(values.policy, values.inventory, io.cwd) : {};
    const { records, report } = readFlows(input, io, { ...estate, maxProblems });
    let fd: number | undefined;
    if (values.out !== undefined) {
      try {
        fd = openSync(resolve(io.cwd, values.out), 'w');
      } catch (e) {
        throw new UsageError(`cannot write \`${values.out}\`: ${fileProblem(e, 'write')}`);
      }
    }
    let buffer = '';
    const flush = () => {
      if (fd !== undefined) writeSync(fd, buffer);
      else io.stdout.write(buffer);
      buffer = '';
    };
    try {
      for await (const r of records) {
        buffer += formatFlowRecord(r) + '\n';
        if (buffer.length > 1 << 16) flush();
      }
      flush();
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
    const summary = ingestSummary(report());
    if (values.out !== undefined) summary[0] = `${summary[0]}; written to ${values.out}`;
    for (const line of summary)
      io.stderr.write(line.startsWith('  ') ? `${line}\n` : `gatehouse flows: ${line}\n`);
    return EXIT.ok;
  });
}
