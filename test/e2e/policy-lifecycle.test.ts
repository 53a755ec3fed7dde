/**
 * The policy lifecycle against the real server: upload with validation,
 * atomic hot reload under load with no failed request, rollback and diff.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { built, cli, root, startServer, type ServerProcess } from '../support/server-process.js';

const WEB = 'spiffe://acme.corp/ns/shop/sa/web';
const REQUEST = {
  source: { spiffeId: WEB, ip: '10.10.1.20' },
  credential: { type: 'x509-svid', verified: true },
  destination: { service: 'orders', port: 8443 },
  action: { method: 'POST', path: '/orders' },
  context: { mtls: true, risk: 10 },
};

describe('policy lifecycle', { skip: built ? false : 'run `npm run build` first' }, () => {
  let dir: string;
  let server: ServerProcess;
  let env: Record<string, string>;
  let original: string;
  let tightened: string;

  const decide = async () => {
    const res = await fetch(`${server.url}/v1/decide`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${env.GATEHOUSE_TOKEN}` },
      body: JSON.stringify(REQUEST),
    });
    return { status: res.status, body: (await res.json()) as { decision: string; policyRevision: string } };
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-policy-'));
    server = await startServer(dir);
    env = { GATEHOUSE_SERVER: server.url, GATEHOUSE_TOKEN: server.adminToken };
    cpSync(join(root, 'examples/acme/policy'), join(dir, 'policy'), { recursive: true });
    writeFileSync(
      join(dir, 'policy', '40-freeze.yaml'),
      [
        'apiVersion: gatehouse.dev/v1',
        'permissions:',
        '  - id: perm-freeze-orders',
        '    effect: deny',
        '    description: change freeze on order writes',
        '    owner: team-orders',
        `    from: [${WEB}]`,
        '    to: { service: orders }',
        '    actions: [{ methods: [POST] }]',
        '',
      ].join('\n'),
    );
  });
  after(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the policy loaded at start is the active version', async () => {
    const r = await cli(['policy', 'list', '--output', 'json'], env);
    assert.equal(r.code, 0, r.err);
    const versions = JSON.parse(r.out) as { revision: string; active: boolean }[];
    assert.equal(versions.length, 1);
    assert.ok(versions[0]!.active);
    original = versions[0]!.revision;
    assert.equal((await decide()).body.decision, 'allow');
  });

  test('an invalid policy is rejected with file:line:col and changes nothing', async () => {
    const r = await cli(['policy', 'push', 'test/fixtures/broken-policy'], env);
    assert.equal(r.code, 3, r.out + r.err);
    assert.match(r.err, /policy rejected/);
    assert.match(r.err, /\.yaml:\d+:\d+: /);
    assert.equal((await decide()).body.policyRevision, original);
  });

  test('a push under load swaps the policy atomically: no request fails', async () => {
    const load = Array.from({ length: 300 }, (_, i) =>
      new Promise((r) => setTimeout(r, i % 50)).then(decide),
    );
    const push = cli(['policy', 'push', join(dir, 'policy'), '--comment', 'change freeze'], env);
    const [results, pushed] = await Promise.all([Promise.all(load), push]);
    assert.equal(pushed.code, 0, pushed.err);
    tightened = /stored (sha256:[0-9a-f]+)/.exec(pushed.out)![1]!;
    for (const r of results) {
      assert.equal(r.status, 200);
      const expect = r.body.policyRevision === original ? 'allow' : 'deny';
      assert.equal(r.body.decision, expect, 'each decision is wholly one revision or the other');
    }
    const after = await decide();
    assert.equal(after.body.policyRevision, tightened);
    assert.equal(after.body.decision, 'deny');
  });

  test('diff names the change; rollback restores the earlier revision', async () => {
    const d = await cli(['policy', 'diff', original, tightened], env);
    assert.equal(d.code, 0, d.err);
    assert.match(d.out, /1 change\(s\)/);
    assert.match(d.out, /\+ permission perm-freeze-orders/);
    const rb = await cli(['policy', 'activate', original], env);
    assert.equal(rb.code, 0, rb.err);
    const now = await decide();
    assert.equal(now.body.policyRevision, original);
    assert.equal(now.body.decision, 'allow');
    const unknown = await cli(['policy', 'activate', 'sha256:00'], env);
    assert.equal(unknown.code, 1);
  });
});
