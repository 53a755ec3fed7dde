/**
 * Nothing a proxy answered is lost, nor logged twice: with the control plane
 * stopped (so that no record can be shipped), kill -9 the proxy under load,
 * start it again on the same spool with the control plane back, kill it
 * again as it ships, kill and restart the control plane, start the proxy once
 * more, and find every decision id a client received, allowed or denied, in
 * the decision log, once each, with the hash chain intact.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { HELLO_POLICY, startHelloEstate, type HelloEstate } from '../support/hello-estate.js';
import { startProxy, type ProxyProcess } from '../support/proxy-process.js';
import { built, cli, startServer, type ServerProcess } from '../support/server-process.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('proxy crash durability', { skip: built ? false : 'run `npm run build` first' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-proxy-crash-'));
  const spool = join(dir, 'hello.spool');
  let server: ServerProcess | undefined;
  let proxy: ProxyProcess | undefined;
  let estate: HelloEstate | undefined;
  after(async () => {
    if (server?.child.signalCode === null) server.child.kill('SIGCONT');
    await proxy?.stop();
    await server?.stop();
    estate?.closeUpstream();
    rmSync(dir, { recursive: true, force: true });
  });

  test('kill -9 under load while the control plane is away, restart: every answered decision is logged once', async () => {
    estate = await startHelloEstate(dir);
    server = estate.server;
    let env = estate.env;
    const { token, upstreamUrl } = estate;
    const proxyArgs = (serverUrl: string) => [
      '--service',
      'hello',
      '--upstream',
      upstreamUrl,
      '--server',
      serverUrl,
      '--token-file',
      join(dir, 'admin.token'),
      '--decision-spool',
      spool,
    ];
    let args = proxyArgs(server.url);
    proxy = await startProxy(args, { synced: true });
    const url = proxy.url;

    // The control plane stops: the proxy goes on enforcing, and can ship nothing.
    server.child.kill('SIGSTOP');
    const answered = { allow: [] as string[], deny: [] as string[] };
    let killed = false;
    const worker = async (w: number) => {
      for (let i = 0; !killed; i++) {
        // One request in four without a credential: denied by the proxy itself.
        const denied = (w + i) % 4 === 0;
        try {
          const res = await fetch(`${url}/hello/${w}/${i}`, {
            headers: denied ? {} : { authorization: `Bearer ${token}` },
          });
          await res.arrayBuffer();
          const id = res.headers.get('x-gatehouse-decision-id');
          if (id === null) continue;
          if (res.status === 200) answered.allow.push(id);
          else if (res.status === 403 && denied) answered.deny.push(id);
        } catch {
          // The connection died with the proxy: this decision was never answered.
        }
      }
    };
    const workers = Array.from({ length: 16 }, (_, w) => worker(w));
    for (let waited = 0; answered.allow.length < 300 && waited < 20_000; waited += 50) await sleep(50);
    proxy.child.kill('SIGKILL');
    killed = true;
    await Promise.all(workers);
    const child = proxy.child;
    if (child.exitCode === null && child.signalCode === null) await new Promise((r) => child.once('exit', r));
    assert.ok(answered.allow.length >= 100, `load ran (${answered.allow.length} allowed)`);
    assert.ok(answered.deny.length >= 20, `denies answered (${answered.deny.length})`);

    // The control plane is back; a new proxy on the same spool ships what the killed one held.
    server.child.kill('SIGCONT');
    proxy = await startProxy(args, { synced: true });
    const recovered = /"event":"decision_spool_recovered"[^\n]*"records":(\d+)/.exec(proxy.stderr());
    assert.ok(recovered, `the new proxy says what it took up:\n${proxy.stderr()}`);
    assert.ok(Number(recovered[1]) >= answered.allow.length + answered.deny.length);
    // Killed again while it ships (or just after): the next run ships whatever is left, once.
    proxy.child.kill('SIGKILL');
    if (proxy.child.exitCode === null && proxy.child.signalCode === null)
      await new Promise((r) => proxy!.child.once('exit', r));
    // So is the control plane: it comes back remembering no decision id it wrote, and records
    // the killed proxy shipped before its cursor moved are sent again, to be found in its log.
    server.child.kill('SIGKILL');
    if (server.child.exitCode === null && server.child.signalCode === null)
      await new Promise((r) => server!.child.once('exit', r));
    server = await startServer(dir, ['--policy', HELLO_POLICY]);
    env = { GATEHOUSE_SERVER: server.url, GATEHOUSE_TOKEN: server.adminToken };
    args = proxyArgs(server.url);
    proxy = await startProxy(args, { synced: true });
    const want = [...answered.allow, ...answered.deny];
    let logged: string[] = [];
    for (let i = 0; i < 100; i++) {
      const exported = await cli(['decisions', 'export'], env);
      assert.equal(exported.code, 0, exported.err);
      logged = exported.out
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => (JSON.parse(l) as { decisionId: string }).decisionId);
      const have = new Set(logged);
      if (want.every((id) => have.has(id))) break;
      await sleep(200);
    }
    const have = new Set(logged);
    const lost = want.filter((id) => !have.has(id));
    assert.deepEqual(lost, [], `${lost.length} of ${want.length} answered decision(s) missing from the log`);
    assert.equal(have.size, logged.length, 'no decision logged twice');
    const verify = await cli(['decisions', 'verify'], env);
    assert.equal(verify.code, 0, verify.out + verify.err);
    assert.match(verify.out, /hash chain intact/);

    // Once shipped, the spool is not shipped again by the next run.
    await proxy.stop();
    proxy = await startProxy(args, { synced: true });
    assert.doesNotMatch(proxy.stderr(), /"decision_spool_recovered"/);
  });
});
