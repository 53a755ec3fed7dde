import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { golden, root, runCli } from '../support/cli-run.js';

const ESTATE = ['--policy', 'examples/acme/policy', '--inventory', 'examples/acme/inventory.yaml'];
const LOG = ['--decisions', 'examples/acme/decisions.jsonl'];

const run = (args: string[], stdin = '') => runCli(args, { stdin, now: Date.parse('2030-01-01T00:00:00Z') });

describe('gatehouse audit', () => {
  test('an inventory YAML cannot parse is invalid input naming the file, line and column', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'gatehouse-')), 'inventory.yaml');
    writeFileSync(
      file,
      'apiVersion: gatehouse.dev/v1\nkind: Inventory\nentries:\n  - spiffeId: spiffe://acme.corp/x\n    spiffeId: spiffe://acme.corp/y\n',
    );
    const r = await run(['audit', '--policy', 'examples/acme/policy', '--inventory', file]);
    assert.equal(r.code, 3, r.err);
    assert.match(r.err, /inventory\.yaml:5:5: cannot parse inventory: map keys must be unique/i);
  });

  test('the example estate as a table, judged at the inventory snapshot time', async () => {
    const r = await run(['audit', ...ESTATE, ...LOG]);
    assert.equal(r.code, 0, r.err);
    golden('audit-table.txt', r.out);
  });

  test('--details adds evidence and fixes', async () => {
    const r = await run(['audit', ...ESTATE, ...LOG, '--details']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /· interactive clients: `Mozilla\/5\.0/);
    assert.match(r.out, /fix: revoke every credential of the entry/);
  });

  test('--output json is the audit report', async () => {
    const r = await run(['audit', ...ESTATE, ...LOG, '--output', 'json']);
    const report = JSON.parse(r.out) as {
      kind: string;
      log: { chain: string };
      findings: { mappings: { csf: string[] } }[];
    };
    assert.equal(report.kind, 'AuditReport');
    assert.equal(report.log.chain, 'intact');
    assert.ok(report.findings.every((f) => f.mappings.csf.length > 0));
  });

  test('--output html --out FILE writes a self-contained report', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'gatehouse-')), 'report.html');
    const r = await run(['audit', ...ESTATE, ...LOG, '--output', 'html', '--out', file]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^wrote .*report\.html: \d+ finding\(s\) \(\d+ critical/);
    assert.match(readFileSync(file, 'utf8'), /^<!DOCTYPE html>/);
  });

  test('--fail-on exits 2 when a finding is that severe; without a log, log findings are skipped', async () => {
    assert.equal((await run(['audit', ...ESTATE, ...LOG, '--fail-on', 'critical'])).code, 2);
    const r = await run(['audit', ...ESTATE]);
    assert.equal(r.code, 0);
    assert.match(r.out, /no decision log/);
    assert.doesNotMatch(r.out, /human_use|over_privileged/);
  });

  test('a tampered log is reported', async () => {
    const lines = readFileSync(join(root, 'examples/acme/decisions.jsonl'), 'utf8').split('\n');
    lines[9] = lines[9]!
      .replace('"decision":"deny"', '"decision":"allow"')
      .replace('"decision":"allow"', '"decision":"deny"');
    const r = await run(['audit', ...ESTATE, '--decisions', '-'], lines.join('\n'));
    assert.equal(r.code, 0);
    assert.match(r.err, /hash chain is broken: record 10 was altered/);
  });

  test('bad input exits 3 with a clear message', async () => {
    const noFile = await run(['audit', '--policy', 'examples/acme/policy', '--inventory', 'no/such.yaml']);
    assert.equal(noFile.code, 3);
    assert.match(noFile.err, /cannot read inventory `no\/such\.yaml`: no such file/);
    const folderLog = await run(['audit', ...ESTATE, '--decisions', 'examples']);
    assert.equal(folderLog.code, 3);
    assert.match(folderLog.err, /cannot read decision log `examples`: it is a folder, not a file/);
    const missingLog = await run(['audit', ...ESTATE, '--decisions', 'no/such.jsonl']);
    assert.equal(missingLog.code, 3);
    assert.match(missingLog.err, /cannot read decision log `no\/such\.jsonl`: no such file/);
    const badLine = await run(['audit', ...ESTATE, '--decisions', '-'], '{"time":"x"}\n');
    assert.equal(badLine.code, 3);
    assert.match(badLine.err, /-:1: not a decision record: `source\.spiffeId` is required/);
    // An empty window would judge every identity on no decision at all.
    const empty = await run(['audit', ...ESTATE, ...LOG, '--since', '2026-11-23', '--until', '2026-11-20']);
    assert.equal(empty.code, 3);
    assert.match(empty.err, /--since must be before --until/);
    const future = await run(['privileges', ...ESTATE, ...LOG, '--since', '2026-12-01']);
    assert.equal(future.code, 3);
    assert.match(
      future.err,
      /--since must be before --until \(default: --now\): `2026-12-01T00:00:00\.000Z`/,
    );
    const usage = await run(['audit', '--inventory', 'x']);
    assert.equal(usage.code, 3);
    assert.match(usage.err, /--policy is required/);
  });
});

describe('gatehouse blast-radius', () => {
  test('a compromised web identity, explained hop by hop', async () => {
    const r = await run(['blast-radius', '/ns/shop/sa/web', ...ESTATE]);
    assert.equal(r.code, 0, r.err);
    golden('blast-radius-table.txt', r.out);
  });

  test('json and dot', async () => {
    const j = JSON.parse(
      (await run(['blast-radius', 'legacy-reporting-key', ...ESTATE, '--output', 'json'])).out,
    ) as {
      start: { via: string };
      paths: unknown[];
    };
    assert.equal(j.start.via, 'credential');
    assert.ok(j.paths.length >= 1);
    const dot = await run([
      'blast-radius',
      'spiffe://acme.corp/ns/shop/sa/web',
      ...ESTATE,
      '--output',
      'dot',
    ]);
    golden('blast-radius.dot', dot.out);
  });

  test('an unknown identity exits 3', async () => {
    const r = await run(['blast-radius', 'nobody', ...ESTATE]);
    assert.equal(r.code, 3);
    assert.match(r.err, /`nobody` names no identity, entry, credential or static secret/);
  });

  test('a SPIFFE ID the inventory does not hold is judged by the policy alone, and said so', async () => {
    const r = await run(['blast-radius', '/ns/shop/sa/nope', ...ESTATE]);
    assert.equal(r.code, 0, r.err);
    assert.match(
      r.out,
      /^start: \/ns\/shop\/sa\/nope \(not in the inventory: judged by the policy alone\) from /,
    );
    const json = await run(['blast-radius', '/ns/shop/sa/nope', ...ESTATE, '--output', 'json']);
    assert.equal((JSON.parse(json.out) as { start: { inInventory?: boolean } }).start.inInventory, false);
    const known = await run(['blast-radius', '/ns/shop/sa/web', ...ESTATE, '--output', 'json']);
    assert.equal(
      (JSON.parse(known.out) as { start: { inInventory?: boolean } }).start.inInventory,
      undefined,
    );
  });
});

describe('gatehouse privileges', () => {
  test('granted vs used, and the tightened policy it proposes passes check', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-'));
    const file = join(dir, 'tightened.yaml');
    const r = await run(['privileges', ...ESTATE, ...LOG, '--propose', file]);
    assert.equal(r.code, 0, r.err);
    golden('privileges-table.txt', r.out.replace(file, 'FILE'));
    const check = await run(['check', file, '--now', '2026-11-22T11:00:00Z']);
    assert.equal(check.code, 0, check.out);
    assert.match(check.out, /^0 error\(s\)/m);
  });

  test('--identity narrows the table', async () => {
    const r = await run([
      'privileges',
      ...ESTATE,
      ...LOG,
      '--identity',
      '/agents/support-copilot',
      '--output',
      'json',
    ]);
    const body = JSON.parse(r.out) as { identities: { spiffeId: string }[] };
    assert.deepEqual(
      body.identities.map((i) => i.spiffeId),
      ['spiffe://acme.corp/agents/support-copilot'],
    );
    assert.equal(r.err, '');
    const typo = await run(['privileges', ...ESTATE, ...LOG, '--identity', '/agents/support-copilt']);
    assert.equal(typo.code, 0, typo.err);
    assert.equal(
      typo.err,
      'gatehouse privileges: no identity of the estate is `spiffe://acme.corp/agents/support-copilt`: nothing to show for it\n',
    );
  });
});
