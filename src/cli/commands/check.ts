import { parseArgs } from 'node:util';
import { checkPolicy, formatProblem } from '../../core/policy/index.js';
import { EXIT, type CliIo } from '../io.js';
import { readPolicySources } from '../policy-files.js';
import { UsageError } from '../usage-error.js';
import { parseTimeFlag } from '../time-flag.js';

export const usage = `usage: gatehouse check POLICY... [--output table|json] [--strict] [--now TIME]

Validates policy files or folders (merged) and lints them.
  --output   table (default) or json
  --strict   treat warnings as errors (exit 3)
  --now      the time to judge reviewBy/expires against (RFC 3339; default: now)
Exit: 0 valid, 3 invalid (errors are printed as file:line:col), 1 on other failure.`;

export async function run(argv: string[], io: CliIo, clock: () => number): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      output: { type: 'string', default: 'table' },
      strict: { type: 'boolean', default: false },
      now: { type: 'string' },
    },
  });
  if (positionals.length === 0) throw new UsageError('name at least one policy file or folder');
  if (values.output !== 'table' && values.output !== 'json')
    throw new UsageError('--output must be table or json');
  const now = values.now === undefined ? clock() : parseTimeFlag(values.now, '--now');
  const result = checkPolicy(readPolicySources(positionals, io.cwd), { now });
  const failed = result.errors.length > 0 || (values.strict && result.warnings.length > 0);
  if (values.output === 'json') {
    io.stdout.write(
      JSON.stringify(
        {
          valid: result.errors.length === 0,
          revision: result.policy?.revision ?? null,
          errors: result.errors,
          warnings: result.warnings,
        },
        null,
        2,
      ) + '\n',
    );
  } else {
    for (const p of [...result.errors, ...result.warnings]) io.stdout.write(formatProblem(p) + '\n');
    const p = result.policy;
    const summary = p
      ? `${p.zones.length} zones, ${p.services.length} services, ${p.workloads.length} workloads, ${p.segmentation.length + p.flows.length + p.permissions.length} rules; revision ${p.revision.slice(0, 19)}`
      : 'policy is invalid';
    io.stdout.write(`${result.errors.length} error(s), ${result.warnings.length} warning(s): ${summary}\n`);
  }
  return failed ? EXIT.invalidInput : EXIT.ok;
}
