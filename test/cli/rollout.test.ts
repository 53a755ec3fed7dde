/**
 * docs/rollout.md, run: every `$ command` of its console blocks is executed
 * in order (gatehouse through `main`, and the few shell commands the
 * walk-through uses, in a temporary folder standing for /tmp/rollout), and
 * its output must be the output the document shows. GATEHOUSE_UPDATE_GOLDEN=1
 * rewrites the document's outputs from a run.
 *
 * Then the verbs' edges: usage errors, unreadable inputs, bad lines on
 * standard error, formats and exit codes.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { basename, join, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { runCli } from '../support/cli-run.js';

const root = new URL('../..', import.meta.url).pathname;
const DOC = 'docs/rollout.md';
const WORK = '/tmp/rollout';
const NOW = Date.parse('2030-01-01T00:00:00Z');

const run = (args: string[], stdin = '') => runCli(args, { stdin, now: NOW });

/** Splits a command line as a POSIX shell would for the simple lines the document uses. */
function words(line: string): string[] {
  const out: string[] = [];
  let word: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      word = (word ?? '') + line.slice(i + 1, end);
      i = end;
    } else if (c === ' ') {
      if (word !== undefined) out.push(word);
      word = undefined;
    } else word = (word ?? '') + c;
  }
  if (word !== undefined) out.push(word);
  return out;
}

interface Step {
  command: string;
  /** Index of the first output line in the document's lines, and how many lines it has. */
  at: number;
  length: number;
  expected: string;
}

/** The `$ ` commands of the document's console blocks, with the output each shows. */
function steps(lines: string[]): Step[] {
  const out: Step[] = [];
  let inConsole = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.startsWith('```')) {
      inConsole = !inConsole && line === '```console';
      continue;
    }
    if (!inConsole || !line.startsWith('$ ')) continue;
    let command = line.slice(2);
    while (command.endsWith('\\')) command = command.slice(0, -1) + lines[++i]!.trim().replace(/^/, ' ');
    const at = i + 1;
    let end = at;
    while (end < lines.length && !lines[end]!.startsWith('$ ') && !lines[end]!.startsWith('```')) end++;
    out.push({
      command: command.replace(/ +/g, ' '),
      at,
      length: end - at,
      expected: lines.slice(at, end).join('\n'),
    });
    i = end - 1;
  }
  return out;
}

/** Runs one command of the document; `work` stands for /tmp/rollout. */
async function execute(command: string, work: string, last: { code: number }): Promise<string> {
  const local = (p: string) => resolve(root, p.replace(WORK, work));
  const argv = words(command);
  const [name, ...args] = argv;
  switch (name) {
    case 'gatehouse': {
      // `> /dev/null` drops standard output.
      const gt = args.indexOf('>');
      const r = await run((gt === -1 ? args : args.slice(0, gt)).map((a) => a.replace(WORK, work)));
      last.code = r.code;
      return ((gt === -1 ? r.out : '') + r.err).split(work).join(WORK);
    }
    case 'mkdir':
      mkdirSync(local(args[args.length - 1]!), { recursive: true });
      return '';
    case 'cp': {
      const [from, to] = args.filter((a) => a !== '-r');
      const target = statSafe(local(to!))?.isDirectory() ? join(local(to!), basename(from!)) : local(to!);
      cpSync(local(from!), target, { recursive: true });
      return '';
    }
    case 'cat': {
      const gt = args.indexOf('>');
      const text = args
        .slice(0, gt)
        .map((f) => readFileSync(local(f), 'utf8'))
        .join('');
      writeFileSync(local(args[gt + 1]!), text);
      return '';
    }
    case 'sed': {
      const [, script, file] = args;
      const [, from, to] = /^s\/(.*)\/(.*)\/$/.exec(script!)!;
      const path = local(file!);
      const text = readFileSync(path, 'utf8');
      writeFileSync(`${path}.bak`, text);
      writeFileSync(path, text.replace(new RegExp(from!), to!));
      return '';
    }
    case 'echo':
      return `${last.code}\n`;
    default:
      throw new Error(`docs/rollout.md: the walk-through test cannot run \`${command}\``);
  }
}

function statSafe(path: string) {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

describe('docs/rollout.md, step by step', () => {
  test('every command prints what the document shows', async () => {
    const work = mkdtempSync(join(tmpdir(), 'gatehouse-rollout-'));
    const lines = readFileSync(join(root, DOC), 'utf8').split('\n');
    const all = steps(lines);
    assert.ok(all.length >= 10, 'the walk-through has its steps');
    const last = { code: 0 };
    const actual: string[] = [];
    for (const step of all) actual.push((await execute(step.command, work, last)).replace(/\n$/, ''));
    // The diagram the document draws is the file the walk-through wrote.
    const mermaid = readFileSync(join(work, 'payments.mmd'), 'utf8');
    const block = /```mermaid\n[\s\S]*?```/;
    if (process.env.GATEHOUSE_UPDATE_GOLDEN === '1') {
      for (let k = all.length - 1; k >= 0; k--) {
        const s = all[k]!;
        lines.splice(s.at, s.length, ...(actual[k] === '' ? [] : actual[k]!.split('\n')));
      }
      writeFileSync(
        join(root, DOC),
        lines.join('\n').replace(block, () => '```mermaid\n' + mermaid + '```'),
      );
      return;
    }
    all.forEach((s, k) => assert.equal(actual[k], s.expected, `docs/rollout.md: output of \`${s.command}\``));
    assert.ok(
      lines.join('\n').includes('```mermaid\n' + mermaid + '```'),
      'the Mermaid diagram is the map the walk-through draws',
    );
  });

  test('the fix shown is the file the walk-through copies', () => {
    const doc = readFileSync(join(root, DOC), 'utf8');
    const fix = readFileSync(join(root, 'examples/estate/fixes/45-payments-refunds.yaml'), 'utf8');
    assert.ok(doc.includes('```yaml\n' + fix + '```'), 'the fix file is shown as it is');
  });
});

const ESTATE = ['--policy', 'examples/estate/policy', '--inventory', 'examples/estate/inventory.yaml'];
const WEEK = ['--flows', 'examples/estate/flows/week.jsonl'];

describe('gatehouse flows import', () => {
  test('the Hubble sample: records on standard output, the report and bad lines on standard error', async () => {
    const r = await run([
      'flows',
      'import',
      '--format',
      'hubble',
      'examples/estate/flows/hubble.jsonl',
      ...ESTATE,
    ]);
    assert.equal(r.code, 0, r.err);
    const first = JSON.parse(r.out.split('\n')[0]!) as { origin: string; source: { spiffeId: string } };
    assert.equal(first.origin, 'hubble');
    assert.match(first.source.spiffeId, /^spiffe:\/\/northwind\.example\/ns\//);
    assert.match(
      r.err,
      /skipped \d+ reply record\(s\), \d+ repeated report\(s\) of counted connections, 1 non-flow event\(s\); 1 bad line\(s\)/,
    );
    assert.match(r.err, /examples\/estate\/flows\/hubble\.jsonl:62: not valid JSON/);
  });

  test('standard input, a VPC custom format without header, and usage errors', async () => {
    const line = '3 10.10.1.11 10.11.1.10 5432 6 1763719200 ACCEPT';
    const r = await run(
      [
        'flows',
        'import',
        '--format',
        'vpc',
        '-',
        '--vpc-fields',
        '${version} ${srcaddr} ${dstaddr} ${dstport} ${protocol} ${start} ${action}',
        ...ESTATE,
      ],
      line + '\n',
    );
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /"service":"orders-db"/);
    assert.equal((await run(['flows', 'import', 'x', '--format', 'netflow'])).code, 3);
    assert.match(
      (await run(['flows', 'import', 'x', '--format', 'netflow'])).err,
      /--format must be gatehouse, vpc, hubble or decision-log/,
    );
    assert.match((await run(['flows', 'import'])).err, /name at least one flow file/);
    assert.match((await run(['flows', 'export', 'x'])).err, /unknown subcommand `export`/);
    const missing = await run(['flows', 'import', 'no/such.log']);
    assert.equal(missing.code, 3);
    assert.match(missing.err, /cannot read flows `no\/such\.log`: no such file/);
  });

  test('standard input counts its lines as a file does: a final newline ends a line, it starts none', async () => {
    const file = 'examples/estate/flows/vpc-flow-logs.txt';
    const fromFile = await run(['flows', 'import', '--format', 'vpc', file]);
    const fromStdin = await run(['flows', 'import', '--format', 'vpc', '-'], readFileSync(file, 'utf8'));
    assert.match(fromFile.err, /read 229 line\(s\) of 1 file\(s\)/);
    assert.equal(fromStdin.err, fromFile.err.replaceAll(file, '-'));
  });

  test('the VPC v5 sample: its header line sets the field order', async () => {
    const r = await run([
      'flows',
      'import',
      '--format',
      'vpc',
      'examples/estate/flows/vpc-flow-logs-v5.txt',
      ...ESTATE,
    ]);
    assert.equal(r.code, 0, r.err);
    assert.match(
      r.err,
      /40 flow record\(s\) standing for 40 flow\(s\); skipped 1 NODATA record\(s\); 0 bad line\(s\)/,
    );
    const first = JSON.parse(r.out.split('\n')[0]!) as { origin: string; destination: { service: string } };
    assert.equal(first.origin, 'vpc-flow-logs');
    assert.equal(first.destination.service, 'kafka');
  });

  test('the decision log imports as flows', async () => {
    const r = await run(['flows', 'import', '--format', 'decision-log', 'examples/acme/decisions.jsonl']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out.split('\n')[0]!, /"origin":"decision-log"/);
  });
});

describe('rollout verbs', () => {
  test('map: JSON and DOT; unknown services are usage errors', async () => {
    const json = await run(['map', ...ESTATE, ...WEEK, '--service', 'legacy-billing', '--output', 'json']);
    assert.equal(json.code, 0, json.err);
    const map = JSON.parse(json.out) as { kind: string; nodes: { id: string; kind: string }[] };
    assert.equal(map.kind, 'DependencyMap');
    assert.ok(map.nodes.some((n) => n.id === 'ip:10.99.4.17' && n.kind === 'unknown'));
    const dot = await run(['map', ...ESTATE, ...WEEK, '--service', 'legacy-billing', '--output', 'dot']);
    assert.match(dot.out, /^digraph dependencies \{/);
    const bad = await run(['map', ...ESTATE, ...WEEK, '--service', 'nope']);
    assert.equal(bad.code, 3);
    assert.match(bad.err, /unknown service `nope` in --service/);
  });

  test('simulate --output json is the report; --fail-on-break exits 2', async () => {
    const args = [
      'simulate',
      '--policy',
      'examples/estate/candidate',
      '--current',
      'examples/estate/policy',
      ...WEEK,
    ];
    const r = await run([
      ...args,
      '--inventory',
      'examples/estate/inventory.yaml',
      '--service',
      'payments',
      '--output',
      'json',
    ]);
    assert.equal(r.code, 0, r.err);
    const report = JSON.parse(r.out) as { kind: string; services: { verdict: string }[] };
    assert.equal(report.kind, 'SimulationReport');
    assert.equal(report.services[0]!.verdict, 'not-ready');
    const fail = await run([
      ...args,
      '--inventory',
      'examples/estate/inventory.yaml',
      '--service',
      'payments',
      '--fail-on-break',
    ]);
    assert.equal(fail.code, 2);
    assert.match((await run([...args, '--context', '[1]'])).err, /--context must be a JSON object/);
  });

  test('a service the policy does not declare: flows import, map and simulate count it as undeclared', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-undeclared-'));
    const file = join(dir, 'f.jsonl');
    const caller = '"source":{"spiffeId":"spiffe://northwind.example/ns/shop/sa/checkout","ip":"10.10.1.12"}';
    writeFileSync(
      file,
      [
        `{"v":1,"time":"2026-11-16T00:00:00Z",${caller},"destination":{"service":"payments","port":8443},"protocol":"tcp"}`,
        `{"v":1,"time":"2026-11-16T00:00:01Z",${caller},"destination":{"service":"ghost","port":8443},"protocol":"tcp"}`,
        '',
      ].join('\n'),
    );
    const policy = ['--policy', 'examples/estate/policy'];
    const imported = await run(['flows', 'import', ...policy, file]);
    assert.equal(imported.code, 0, imported.err);
    assert.match(
      imported.err,
      /0 record\(s\) from callers with no identity, 1 to endpoints that are no declared service/,
    );
    // The record keeps the name it gave.
    assert.match(imported.out.split('\n')[1]!, /"service":"ghost"/);
    const map = await run(['map', ...policy, '--flows', file]);
    assert.equal(map.code, 0, map.err);
    assert.match(map.out, /1 service\(s\); 0 caller\(s\) with no identity, 1 undeclared destination\(s\)/);
    assert.match(map.out, /\? service ghost:8443/);
    const simulated = await run(['simulate', ...policy, '--flows', file]);
    assert.equal(simulated.code, 0, simulated.err);
    assert.match(simulated.out, /; 1 flow\(s\) to undeclared endpoints not replayed/);
  });

  test('suggest --output yaml is a policy that passes check; assess --output json', async () => {
    const s = await run(['suggest', ...ESTATE, ...WEEK, '--service', 'payments', '--output', 'yaml']);
    assert.equal(s.code, 0, s.err);
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-suggest-'));
    writeFileSync(join(dir, 'suggested.yaml'), s.out);
    const check = await run(['check', join(dir, 'suggested.yaml')]);
    assert.equal(check.code, 0, check.out);
    const a = await run(['assess', ...ESTATE, ...WEEK, '--output', 'json']);
    assert.equal(a.code, 0, a.err);
    const report = JSON.parse(a.out) as { kind: string; services: { service: string; nextStep: string }[] };
    assert.equal(report.kind, 'ReadinessReport');
    assert.equal(report.services.find((x) => x.service === 'legacy-billing')!.nextStep, 'zone-first');
  });
});

describe('malformed input, verb by verb', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-rollout-bad-'));
  const badPolicy = join(dir, 'bad-policy.yaml');
  writeFileSync(badPolicy, 'apiVersion: gatehouse.dev/v1\nzones: [\n');
  const badFlows = join(dir, 'bad-flows.jsonl');
  const week = readFileSync(join(root, 'examples/estate/flows/week.jsonl'), 'utf8').split('\n');
  writeFileSync(badFlows, [...week.slice(0, 3), '{"v":1,"time":"nope"}', 'not json', ''].join('\n'));

  for (const verb of ['map', 'simulate', 'suggest', 'assess']) {
    test(`${verb}: bad lines are reported with their line numbers; the rest is analysed`, async () => {
      const r = await run([verb, ...ESTATE, '--flows', badFlows, '--output', 'json']);
      assert.equal(r.code, 0, r.err);
      assert.match(r.err, new RegExp(`gatehouse ${verb}: 2 bad line\\(s\\) skipped`));
      assert.match(r.err, /bad-flows\.jsonl:4: `time` must be an RFC 3339 date-time/);
      assert.match(r.err, /bad-flows\.jsonl:5: not valid JSON/);
      assert.ok(JSON.parse(r.out), 'the report is still written');
    });

    test(`${verb}: a bad policy, an unreadable file and wrong flags are invalid input (exit 3)`, async () => {
      const policy = await run([verb, '--policy', badPolicy, ...WEEK]);
      assert.equal(policy.code, 3);
      assert.match(policy.err, /bad-policy\.yaml:3:1: cannot parse policy/);
      const missing = await run([verb, ...ESTATE, '--flows', join(dir, 'none.jsonl')]);
      assert.equal(missing.code, 3);
      assert.match(missing.err, /cannot read flows `.*none\.jsonl`: no such file/);
      const folder = await run([verb, ...ESTATE, '--flows', dir]);
      assert.equal(folder.code, 3);
      assert.match(folder.err, /cannot read flows `.*`: it is a folder, not a file/);
      const flag = await run([verb, ...ESTATE, ...WEEK, '--bogus']);
      assert.equal(flag.code, 3);
      assert.match(flag.err, new RegExp(`gatehouse ${verb}: unknown option '--bogus'`));
      const output = await run([verb, ...ESTATE, ...WEEK, '--output', 'svg']);
      assert.equal(output.code, 3);
      assert.match(output.err, /--output must be/);
      assert.match((await run([verb, ...WEEK])).err, /--policy is required/);
      assert.match((await run([verb, ...ESTATE])).err, /name at least one flow file/);
    });
  }
});

test('the example files the walk-through reads are not ignored by git (a fresh clone has them)', (t) => {
  const doc = readFileSync(join(root, DOC), 'utf8');
  const files = [...new Set(doc.match(/examples\/estate\/[\w./-]+\.\w+/g) ?? [])];
  assert.ok(files.length >= 5);
  for (const f of files) assert.ok(statSafe(join(root, f))?.isFile(), `${f} exists`);
  const res = spawnSync('git', ['check-ignore', '--no-index', ...files], { cwd: root, encoding: 'utf8' });
  if (res.error || res.status === 128) return t.skip('not a git work tree');
  assert.equal(res.stdout, '', 'ignored by .gitignore');
});
