import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { golden, root, runCli } from '../support/cli-run.js';

const NOW = Date.parse('2026-11-22T12:00:00Z');

const run = (args: string[], stdin = '') => runCli(args, { stdin, now: NOW });

describe('gatehouse check', () => {
  test('the example estate is valid; lint reports the overdue review', async () => {
    const r = await run(['check', 'examples/acme/policy']);
    assert.equal(r.code, 0, r.out + r.err);
    assert.match(r.out, /0 error\(s\)/);
    assert.match(
      r.out,
      /30-permissions\.yaml:\d+:\d+: warning: rule `perm-pricing-agent-write` was due for review on 2026-09-30/,
    );
  });

  test('a broken policy reports every error at file:line:col and exits 3', async () => {
    const r = await run(['check', 'test/fixtures/broken-policy']);
    assert.equal(r.code, 3, r.out + r.err);
    golden('check-broken.txt', r.out);
    assert.match(r.out, /policy\.yaml:5:26: error: invalid CIDR `10\.1\.0\.1\/16`/);
    assert.match(r.out, /policy\.yaml:12:13: error: invalid effect `alow`/);
    assert.match(r.out, /policy\.yaml:15:11: error: .*context\.risk </);
    assert.match(r.out, /policy\.yaml:16:9: error: rule id `perm-orders` is already used/);
    assert.match(
      r.out,
      /policy\.yaml:18:5: error: unknown field `form` in a permission rule: did you mean `from`\?/,
    );
  });

  test('--output json is machine-readable', async () => {
    const r = await run(['check', 'test/fixtures/broken-policy', '--output', 'json']);
    assert.equal(r.code, 3);
    const body = JSON.parse(r.out) as { valid: boolean; errors: { location: { line: number } }[] };
    assert.equal(body.valid, false);
    assert.ok(body.errors.length >= 5);
    assert.ok(body.errors.every((e) => e.location.line > 0));
  });

  test('a YAML syntax error is reported at its line', async () => {
    const r = await run(['check', 'test/fixtures/bad-yaml.yaml']);
    assert.equal(r.code, 3);
    assert.match(r.out, /bad-yaml\.yaml:5:3: error: cannot parse policy: map keys must be unique/);
  });

  test('a missing file is a clear error', async () => {
    const r = await run(['check', 'no/such/policy.yaml']);
    assert.equal(r.code, 3);
    assert.match(r.err, /cannot read policy `no\/such\/policy\.yaml`: no such file or folder/);
  });

  test('files that cannot be read or written are named, with why, in words', async () => {
    const folder = await run(['decide', '--policy', 'examples/acme/policy', '--requests', 'examples']);
    assert.equal(folder.code, 3);
    assert.match(folder.err, /cannot read requests file `examples`: it is a folder, not a file/);
    const out = await run([
      'audit',
      '--policy',
      'examples/acme/policy',
      '--inventory',
      'examples/acme/inventory.yaml',
      '--out',
      'no/such/folder/report.html',
    ]);
    assert.equal(out.code, 3);
    assert.match(out.err, /cannot write `no\/such\/folder\/report\.html`: no such folder/);
  });
});

describe('gatehouse decide', () => {
  test('the example requests as a table (README quick start)', async () => {
    const r = await run([
      'decide',
      '--policy',
      'examples/acme/policy',
      '--requests',
      'examples/acme/requests.jsonl',
      '--output',
      'table',
    ]);
    assert.equal(r.code, 0, r.err);
    golden('decide-table.txt', r.out);
  });

  test('--explain on one request', async () => {
    const request = readFileSync(join(root, 'examples/acme/requests.jsonl'), 'utf8').split('\n')[5]!;
    const r = await run([
      'decide',
      '--policy',
      'examples/acme/policy',
      '--request',
      JSON.stringify(JSON.parse(request).request),
      '--explain',
    ]);
    assert.equal(r.code, 0, r.err);
    const decision = JSON.parse(r.out) as { decision: string; explanation: string; decisionId: string };
    assert.equal(decision.decision, 'deny');
    assert.match(decision.decisionId, /^[0-9a-f]{16}-/);
    golden('explain-condition-error.txt', decision.explanation + '\n');
  });

  test('--fail-on-deny exits 2 when a request is denied', async () => {
    const r = await run([
      'decide',
      '--policy',
      'examples/acme/policy',
      '--requests',
      'examples/acme/requests.jsonl',
      '--fail-on-deny',
    ]);
    assert.equal(r.code, 2);
    assert.equal(r.out.trim().split('\n').length, 25);
  });

  test('requests from standard input; a bad line is denied, reported and exits 3', async () => {
    const good = JSON.parse(
      readFileSync(join(root, 'examples/acme/requests.jsonl'), 'utf8').split('\n')[0]!,
    ).request;
    const stdin = [JSON.stringify(good), '{not json', JSON.stringify({ source: { spiffeId: 5 } }), ''].join(
      '\n',
    );
    const r = await run(['decide', '--policy', 'examples/acme/policy', '--requests', '-'], stdin);
    assert.equal(r.code, 3);
    const lines = r.out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { decision: string; reason: string; line: number; message?: string });
    assert.equal(lines.length, 3);
    assert.equal(lines[0]!.decision, 'allow');
    assert.equal(lines[1]!.reason, 'request_invalid');
    assert.match(lines[1]!.message!, /line 2: not valid JSON/);
    assert.match(lines[2]!.message!, /source\.spiffeId must be a non-empty string/);
    assert.match(lines[2]!.message!, /destination is required/);
    assert.match(r.err, /2 request\(s\) were invalid and denied/);
  });

  test('with a table, why each bad line was refused goes to standard error', async () => {
    const stdin = ['{not json', JSON.stringify({ source: { spiffeId: 5 } }), ''].join('\n');
    const r = await run(
      ['decide', '--policy', 'examples/acme/policy', '--requests', '-', '--output', 'table'],
      stdin,
    );
    assert.equal(r.code, 3);
    assert.match(r.out, /2 request\(s\): 0 allowed, 2 denied, 2 invalid/);
    const err = r.err.trim().split('\n');
    assert.equal(err.length, 3);
    assert.match(err[0]!, /^gatehouse decide: line 1: not valid JSON/);
    assert.match(
      err[1]!,
      /^gatehouse decide: line 2: invalid request: .*source\.spiffeId must be a non-empty string/,
    );
    assert.match(err[2]!, /2 request\(s\) were invalid and denied/);
  });

  test('an invalid policy exits 3 before deciding anything', async () => {
    const r = await run(['decide', '--policy', 'test/fixtures/broken-policy', '--request', '{}']);
    assert.equal(r.code, 3);
    assert.match(r.err, /policy\.yaml:5:26: error: invalid CIDR/);
    assert.equal(r.out, '');
  });

  test('usage errors exit 3 with the usage', async () => {
    const r = await run(['decide', '--policy', 'examples/acme/policy']);
    assert.equal(r.code, 3);
    assert.match(r.err, /give exactly one of --request or --requests/);
    assert.match(r.err, /usage: gatehouse decide/);
    const unknown = await run(['decide', '--bogus']);
    assert.equal(unknown.code, 3);
    assert.match(unknown.err, /unknown option '--bogus'/i);
  });
});

describe('gatehouse', () => {
  test('an unknown command exits 3', async () => {
    const r = await run(['frobnicate']);
    assert.equal(r.code, 3);
    assert.match(r.err, /unknown command `frobnicate`/);
  });
  test('what an error quotes reaches the terminal with its control characters written out', async () => {
    const r = await run(['frob\u001b]0;owned\u0007\u009b2J']);
    assert.equal(r.code, 3);
    assert.match(r.err, /unknown command `frob\\u001b\]0;owned\\u0007\\u009b2J`/);
    const failed = await run(['decide', '--policy', 'no/such\u001b[2Jplace', '--request', '{}']);
    assert.equal(failed.code, 3);
    // eslint-disable-next-line no-control-regex
    assert.ok(!/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/.test(failed.err), failed.err);
    assert.match(failed.err, /no\/such\\u001b\[2Jplace/);
  });
  test('version', async () => {
    const r = await run(['version']);
    assert.equal(r.code, 0);
    assert.match(r.out, /^gatehouse \d+\.\d+\.\d+/);
  });
});
