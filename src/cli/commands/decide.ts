import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  checkDecisionRequest,
  explainDecision,
  failedDecision,
  type Decision,
  type DecisionRequest,
} from '../../core/decision/index.js';
import { compileValidatedPolicy, parsePolicy } from '../../core/policy/index.js';
import { decisionIds } from '../../system.js';
import { EXIT, type CliIo } from '../io.js';
import { readPolicySources } from '../policy-files.js';
import { renderTable } from '../table.js';
import { parseTimeFlag } from '../time-flag.js';
import { UsageError } from '../usage-error.js';
import { fileProblem } from '../file-problem.js';

export const usage = `usage: gatehouse decide --policy POLICY... (--request JSON | --requests FILE.jsonl)
                       [--explain] [--fail-on-deny] [--output json|table] [--now TIME]

Decides requests against a policy and prints one decision per request.
  --policy        policy file or folder (repeatable; merged)
  --request       one request as JSON text
  --requests      a JSON-lines file of requests (\`-\` for standard input); a line may
                  also be {"note": "...", "request": {...}}
  --explain       add a short human explanation
  --fail-on-deny  exit 2 when any request is denied
  --output        json (default: one decision per line) or table
  --now           decision time for requests without \`time\` (RFC 3339; default: now)
Exit: 0 ok, 2 denied (with --fail-on-deny), 3 invalid policy or request, 1 other failure.`;

interface Item {
  line: number;
  note?: string;
  request?: DecisionRequest;
  problem?: string;
}

export async function run(argv: string[], io: CliIo, clock: () => number): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      policy: { type: 'string', multiple: true },
      request: { type: 'string' },
      requests: { type: 'string' },
      explain: { type: 'boolean', default: false },
      'fail-on-deny': { type: 'boolean', default: false },
      output: { type: 'string', default: 'json' },
      now: { type: 'string' },
    },
  });
  if (!values.policy?.length) throw new UsageError('--policy is required');
  if ((values.request === undefined) === (values.requests === undefined)) {
    throw new UsageError('give exactly one of --request or --requests');
  }
  if (values.output !== 'json' && values.output !== 'table')
    throw new UsageError('--output must be json or table');
  const fixedNow = values.now === undefined ? undefined : parseTimeFlag(values.now, '--now');

  const policy = parsePolicy(readPolicySources(values.policy, io.cwd));
  const compiled = compileValidatedPolicy(policy, {
    clock: { now: () => fixedNow ?? clock() },
    ids: decisionIds(),
  });

  const items: Item[] =
    values.request !== undefined
      ? [parseItem(values.request, 1, false)]
      : splitLines(values.requests === '-' ? await io.readStdin() : readFile(values.requests!, io.cwd));

  let denied = 0;
  let wouldDeny = 0;
  /** Why each invalid line was refused. */
  const problems: string[] = [];
  const rows: string[][] = [];
  for (const item of items) {
    let decision: Decision;
    if (item.request) decision = compiled.decide(item.request);
    else {
      problems.push(item.problem ?? `line ${item.line}: invalid request`);
      decision = failedDecision('request_invalid', item.problem ?? 'invalid request', compiled.revision);
    }
    if (decision.decision === 'deny') denied++;
    if (decision.wouldDeny) wouldDeny++;
    if (values.output === 'json') {
      const out: Record<string, unknown> = { ...decision };
      if (item.note !== undefined) out.note = item.note;
      if (items.length > 1 || item.problem) out.line = item.line;
      if (values.explain) out.explanation = explainDecision(decision);
      io.stdout.write(JSON.stringify(out) + '\n');
    } else {
      rows.push(tableRow(item, decision, policy.trustDomain));
      if (values.explain)
        rows.push(
          ...explainDecision(decision)
            .split('\n')
            .map((l) => ['', '', '', '', '', '', l]),
        );
    }
  }
  if (values.output === 'table') {
    io.stdout.write(
      renderTable(['#', 'note', 'source', 'target', 'action', 'decision', 'deciding layer: rules'], rows),
    );
    const allowed = items.length - denied;
    const notEnforced = wouldDeny ? ` (${wouldDeny} not enforced: would deny)` : '';
    const bad = problems.length ? `, ${problems.length} invalid` : '';
    const revision = compiled.revision.slice(0, 19);
    io.stdout.write(
      `\n${items.length} request(s): ${allowed} allowed, ${denied} denied${notEnforced}${bad}; policy ${revision}\n`,
    );
  }
  if (problems.length) {
    // A table has no room for why; each decision's `message` says it in JSON.
    if (values.output === 'table') for (const p of problems) io.stderr.write(`gatehouse decide: ${p}\n`);
    io.stderr.write(`gatehouse decide: ${problems.length} request(s) were invalid and denied\n`);
    return EXIT.invalidInput;
  }
  return values['fail-on-deny'] && denied > 0 ? EXIT.denied : EXIT.ok;
}

function readFile(path: string, cwd: string): string {
  try {
    return readFileSync(resolve(cwd, path), 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read requests file \`${path}\`: ${fileProblem(e)}`);
  }
}

function splitLines(text: string): Item[] {
  const items: Item[] = [];
  text.split('\n').forEach((raw, i) => {
    if (raw.trim() === '') return;
    items.push(parseItem(raw, i + 1, true));
  });
  return items;
}

function parseItem(text: string, line: number, allowEnvelope: boolean): Item {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return { line, problem: `line ${line}: not valid JSON: ${(e as Error).message}` };
  }
  let note: string | undefined;
  if (allowEnvelope && value && typeof value === 'object' && !Array.isArray(value) && 'request' in value) {
    const env = value as { note?: unknown; request: unknown };
    if (env.note !== undefined) note = String(env.note);
    value = env.request;
  }
  const problems = checkDecisionRequest(value);
  if (problems.length) {
    const detail = problems.map((p) => (p.path ? `${p.path} ${p.message}` : p.message)).join('; ');
    return {
      line,
      ...(note !== undefined ? { note } : {}),
      problem: `line ${line}: invalid request: ${detail}`,
    };
  }
  return { line, ...(note !== undefined ? { note } : {}), request: value as DecisionRequest };
}

/** The SPIFFE ID without the policy's own trust domain, which every row would repeat. */
function shortId(id: string, trustDomain: string): string {
  const own = `spiffe://${trustDomain}/`;
  return id.startsWith(own) ? id.slice(own.length - 1) : id;
}

function tableRow(item: Item, d: Decision, trustDomain: string): string[] {
  const r = item.request;
  const source = r
    ? `${shortId(r.source.spiffeId, trustDomain)}${r.source.ip ? ` @${d.sourceZone}` : ''}`
    : '-';
  const target = r ? `${r.destination.service}${r.destination.port ? `:${r.destination.port}` : ''}` : '-';
  const action = r?.action
    ? [r.action.method, r.action.path, r.action.operation].filter(Boolean).join(' ')
    : '-';
  const verdict = d.enforced
    ? d.decision.toUpperCase()
    : d.wouldDeny
      ? `would DENY (${d.mode})`
      : `ALLOW (${d.mode})`;
  const why = d.rules.length ? `${d.layer}: ${d.rules.join(', ')}` : `${d.layer}: ${d.reason}`;
  return [String(item.line), item.note ?? '', source, target, action, verdict, why];
}
