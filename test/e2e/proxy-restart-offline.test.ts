/**
 * A proxy restarted while the control plane is away enforces the state it
 * last synced, kept in its spool directory: the same allows, the same
 * denies, the revocations it had taken up; a state of another server, a
 * spoiled one or `--sync-state none` leaves it denying everything (503), as
 * a proxy that never synced. Real processes throughout.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { HELLO_POLICY, startHelloEstate, WEB, HELLO, type HelloEstate } from '../support/hello-estate.js';
import { startProxy, type ProxyProcess } from '../support/proxy-process.js';
import { built, cli, startServer, type ServerProcess } from '../support/server-process.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, check: () => boolean, ms = 10_000): Promise<void> {
  for (let waited = 0; !check(); waited += 50) {
    if (waited > ms) assert.fail(`waited ${ms} ms for ${what}`);
    await sleep(50);
  }
}

describe(
  'proxy restarted while the control plane is away',
  { skip: built ? false : 'run `npm run build` first' },
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-proxy-offline-'));
    const spool = join(dir, 'hello.spool');
    let server: ServerProcess | undefined;
    let proxy: ProxyProcess | undefined;
    let estate: HelloEstate | undefined;
    after(async () => {
      await proxy?.stop();
      await server?.stop();
      estate?.closeUpstream();
      rmSync(dir, { recursive: true, force: true });
    });

    test('enforces its last synced policy and revocations; denies everything without a usable state', async () => {
      estate = await startHelloEstate(dir);
      server = estate.server;
      const { env, token, upstreamUrl } = estate;
      const revokedJwt = await cli(['svid', 'jwt', '--spiffe-id', WEB, '--audience', HELLO], env);
      assert.equal(revokedJwt.code, 0, revokedJwt.err);
      const revokedToken = revokedJwt.out.trim();
      const jti = (
        JSON.parse(Buffer.from(revokedToken.split('.')[1]!, 'base64url').toString()) as { jti: string }
      ).jti;
      const args = (serverUrl: string, ...more: string[]) => [
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
        '--metrics-listen',
        '127.0.0.1:0',
        '--sync-interval',
        '100ms',
        ...more,
      ];
      const serverUrl = server.url;
      proxy = await startProxy(args(serverUrl), { synced: true });
      const revoked = await cli(['revoke', '--credential', jti], env);
      assert.equal(revoked.code, 0, revoked.err);
      await until('the revocation at the proxy', () => proxy!.stderr().includes('"revocations_synced"'));

      const answers = async (url: string) => {
        const status = async (headers: Record<string, string>) => {
          const res = await fetch(`${url}/hello/1`, { headers });
          const body = (await res.text()) || '{}';
          const reason = res.status === 200 ? 'ok' : (JSON.parse(body) as { reason?: string }).reason;
          return `${res.status} ${reason}`;
        };
        return {
          valid: await status({ authorization: `Bearer ${token}` }),
          revoked: await status({ authorization: `Bearer ${revokedToken}` }),
          none: await status({}),
        };
      };
      const enforced = await answers(proxy.url);
      assert.deepEqual(enforced, {
        valid: '200 ok',
        revoked: '403 credential_revoked',
        none: '403 identity_missing',
      });

      // The control plane goes away, then the proxy is restarted: it takes up what it last synced.
      await server.stop();
      server = undefined;
      await proxy.stop();
      proxy = await startProxy(args(serverUrl), { synced: false });
      await until('the state restored', () => proxy!.stderr().includes('"synced_state_restored"'));
      assert.deepEqual(await answers(proxy.url), enforced);
      const ready = await fetch(`${proxy.metrics!}/readyz`);
      assert.equal(ready.status, 200);
      assert.match(await ready.text(), /restored from file/);
      assert.match(
        await (await fetch(`${proxy.metrics!}/metrics`)).text(),
        /^gatehouse_proxy_policy_restored\{service="hello"\} 1$/m,
      );
      assert.match(proxy.stderr(), /"event":"sync_failed".*"enforcing":"sha256:/);

      // The control plane back at the same address: the proxy syncs with it and says so.
      server = await startServer(dir, ['--policy', HELLO_POLICY, '--listen', new URL(serverUrl).host]);
      await until('the first sync with the server back', () => proxy!.stderr().includes('"proxy_synced"'));
      assert.match(
        await (await fetch(`${proxy.metrics!}/metrics`)).text(),
        /^gatehouse_proxy_policy_restored\{service="hello"\} 0$/m,
      );
      await server.stop();
      server = undefined;

      const unusable = async (what: string, proxyArgs: string[], logged: RegExp) => {
        await proxy!.stop();
        proxy = await startProxy(proxyArgs, { synced: false });
        const res = await fetch(`${proxy.url}/hello/1`, { headers: { authorization: `Bearer ${token}` } });
        assert.equal(res.status, 503, what);
        assert.equal(((await res.json()) as { reason: string }).reason, 'policy_unavailable', what);
        assert.match(proxy.stderr(), logged, what);
      };
      // Not kept: the proxy starts with nothing.
      await unusable('--sync-state none', args(serverUrl, '--sync-state', 'none'), /"enforcing":"nothing/);
      // A state synced from another control plane is not used.
      await unusable('another server', args('http://127.0.0.1:9'), /"event":"synced_state_ignored"/);
      // A state spoiled on file is not used at all.
      writeFileSync(join(spool, 'synced-state.json'), '{"format":"gatehouse.proxy.synced-state/v1"');
      await unusable('a spoiled file', args(serverUrl), /"event":"synced_state_unreadable".*is not JSON/);
    });
  },
);
