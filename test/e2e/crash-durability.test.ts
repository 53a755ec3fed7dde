/**
 * Nothing acknowledged is lost: kill -9 the server while it answers decisions
 * under load, restart it, and find every decision id a client received in
 * the log, with the hash chain intact.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { built, cli, startServer, type ServerProcess } from '../support/server-process.js';

const REQUEST = JSON.stringify({
  source: { spiffeId: 'spiffe://acme.corp/ns/shop/sa/web', ip: '10.10.1.20' },
  credential: { type: 'x509-svid', verified: true },
  destination: { service: 'orders', port: 8443 },
  action: { method: 'GET', path: '/orders/42' },
  context: { mtls: true },
});

describe('crash durability', { skip: built ? false : 'run `npm run build` first' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-crash-'));
  let server: ServerProcess | undefined;
  after(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('kill -9 under load, restart: every answered decision is in the log', async () => {
    server = await startServer(dir);
    const { url, adminToken } = server;
    const acknowledged: string[] = [];
    let killed = false;
    const worker = async () => {
      while (!killed) {
        try {
          const res = await fetch(`${url}/v1/decide`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${adminToken}` },
            body: REQUEST,
          });
          if (res.status !== 200) continue;
          const body = (await res.json()) as { decisionId: string };
          acknowledged.push(body.decisionId);
        } catch {
          // The connection died with the server: this decision was never acknowledged.
        }
      }
    };
    const workers = Array.from({ length: 32 }, worker);
    // Kill in the middle of the load, once it is well under way (however slow the machine).
    for (let waited = 0; acknowledged.length < 200 && waited < 20_000; waited += 50) {
      await new Promise((r) => setTimeout(r, 50));
    }
    server.child.kill('SIGKILL');
    killed = true;
    await Promise.all(workers);
    const child = server.child;
    if (child.exitCode === null && child.signalCode === null) await new Promise((r) => child.once('exit', r));
    assert.ok(acknowledged.length > 50, `load ran (${acknowledged.length} decisions acknowledged)`);

    server = await startServer(dir);
    const env = { GATEHOUSE_SERVER: server.url, GATEHOUSE_TOKEN: adminToken };
    const exported = await cli(['decisions', 'export'], env);
    assert.equal(exported.code, 0, exported.err);
    const logged = new Set(
      exported.out
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { decisionId: string }).decisionId),
    );
    const lost = acknowledged.filter((id) => !logged.has(id));
    assert.deepEqual(lost, [], `${lost.length} acknowledged decision(s) missing from the log`);
    const verify = await cli(['decisions', 'verify'], env);
    assert.equal(verify.code, 0, verify.out + verify.err);
    assert.match(verify.out, /hash chain intact/);
  });
});
