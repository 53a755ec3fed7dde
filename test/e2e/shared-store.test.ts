/**
 * Two real `gatehouse serve` processes on one PostgreSQL database (its own,
 * dropped at the end), as servers scaled out behind a load balancer: what
 * one server changes in the shared store, the other enforces within about a
 * second — a revocation at its `/v1/decide`, a pushed policy, a key
 * rotation — without a restart; and both write one decision log, under load
 * and when one is killed -9, without a refused batch, a lost answer or a
 * record twice.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { postgresUnreachable, TEST_PG_URL, testSchemaName } from '../support/postgres-server.js';
import {
  bannerUrl,
  built,
  cli,
  root,
  spawnGatehouse,
  type GatehouseProcess,
} from '../support/server-process.js';

const WEB = 'spiffe://acme.corp/ns/shop/sa/web';
const ORDERS = 'spiffe://acme.corp/ns/shop/sa/orders';
const problem = built ? await postgresUnreachable() : 'run `npm run build` first';
const database = testSchemaName('gatehouse_shared_test');

describe('servers sharing a PostgreSQL store', () => {
  const admin = new pg.Client({ connectionString: TEST_PG_URL });
  const servers: GatehouseProcess[] = [];
  const urls: string[] = [];
  let dir = '';
  let env: Record<string, string> = {};
  let token = '';

  /** The test server's URL for database `name`. */
  const dbUrl = (name: string) => {
    const db = new URL(TEST_PG_URL);
    db.pathname = `/${name}`;
    return db.toString();
  };
  /** `gatehouse serve` on database `name` with the acme policy, once it is ready. */
  const serve = (what: string, name: string, extra: string[]) =>
    spawnGatehouse(
      what,
      ['serve', '--listen', '127.0.0.1:0', '--db', dbUrl(name), '--policy', 'examples/acme/policy', ...extra],
      {},
      bannerUrl,
    );
  const start = async (n: number) => {
    const p = await serve(`server ${n}`, database, ['--admin-token-file', join(dir, `admin-${n}.token`)]);
    servers.push(p);
    urls.push(p.found);
  };

  const decide = async (url: string, body: unknown) => {
    const res = await fetch(`${url}/v1/decide`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${env['GATEHOUSE_TOKEN']}` },
      body: JSON.stringify(body),
    });
    assert.equal(res.status, 200);
    return (await res.json()) as { decision: string; reason: string };
  };
  const request = (jwtSvid: string, method = 'POST') => ({
    source: { spiffeId: WEB, ip: '10.10.1.20' },
    credential: { jwtSvid },
    destination: { service: 'orders', port: 8443 },
    action: { method, path: method === 'POST' ? '/orders' : '/orders/42' },
    context: { mtls: true },
  });
  /** Asks until `done` holds, at most 5 s; how long it took, in ms. */
  const within = async (what: string, done: () => Promise<boolean>) => {
    const started = Date.now();
    while (!(await done())) {
      assert.ok(Date.now() - started < 5000, `${what}: not within 5 s`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return Date.now() - started;
  };
  const jwt = async () => {
    const t = await cli(['svid', 'jwt', '--spiffe-id', WEB, '--audience', ORDERS], env);
    assert.equal(t.code, 0, t.err);
    return t.out.trim();
  };

  before(async () => {
    if (problem !== undefined) return;
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-shared-'));
    await admin.connect();
    await admin.query(`CREATE DATABASE "${database}"`);
    await start(1);
    await start(2);
    env = {
      GATEHOUSE_SERVER: urls[0]!,
      GATEHOUSE_TOKEN: readFileSync(join(dir, 'admin-1.token'), 'utf8').trim(),
    };
    const e = await cli(
      ['entry', 'create', '--spiffe-id', WEB, '--kind', 'service', '--owner', 'team-shop'],
      env,
    );
    assert.equal(e.code, 0, e.err);
    token = await jwt();
  });
  after(async () => {
    for (const server of servers) await server.stop();
    if (problem === undefined) {
      await admin.query(`DROP DATABASE IF EXISTS "${database}"`);
      await admin.end();
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('a credential revoked through one server is denied by the other within a second or so', async () => {
    assert.equal(problem, undefined, problem);
    assert.equal((await decide(urls[1]!, request(token))).decision, 'allow');
    const jti = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).jti as string;
    assert.equal((await cli(['revoke', '--credential', jti], env)).code, 0);
    assert.equal((await decide(urls[0]!, request(token))).reason, 'credential_revoked');
    const took = await within('the revocation at the other server', async () => {
      return (await decide(urls[1]!, request(token))).reason === 'credential_revoked';
    });
    assert.ok(took < 2500, `${took} ms`);
  });

  test('a policy pushed to one server is enforced by the other', async () => {
    assert.equal(problem, undefined, problem);
    const fresh = await jwt();
    assert.equal((await decide(urls[1]!, request(fresh))).decision, 'allow');
    // The same policy, but the web front end may only read orders now: its POST is denied.
    const policy = join(dir, 'policy');
    cpSync(join(root, 'examples/acme/policy'), policy, { recursive: true });
    const file = join(policy, '30-permissions.yaml');
    const text = readFileSync(file, 'utf8');
    const rule = 'actions: [{ operations: [orders.read, orders.write] }]';
    assert.ok(text.includes(rule));
    writeFileSync(file, text.replace(rule, 'actions: [{ operations: [orders.read] }]'));
    const pushed = await cli(['policy', 'push', policy, '--output', 'json'], env);
    assert.equal(pushed.code, 0, pushed.err);
    await within('the pushed policy at the other server', async () => {
      return (await decide(urls[1]!, request(fresh))).decision === 'deny';
    });
    const revision = async (url: string) =>
      (
        (await (
          await fetch(`${url}/v1/policy`, { headers: { authorization: `Bearer ${env['GATEHOUSE_TOKEN']}` } })
        ).json()) as {
          revision: string;
        }
      ).revision;
    assert.equal(await revision(urls[1]!), await revision(urls[0]!));
    assert.match(servers[1]!.stderr(), /"msg":"policy_followed"|policy_followed/);
  });

  test('after a rotation on one server, the other verifies the new key and publishes it', async () => {
    assert.equal(problem, undefined, problem);
    for (let i = 0; i < 2; i++) assert.equal((await cli(['keys', 'rotate', '--force'], env)).code, 0);
    const signed = await jwt();
    const kid = JSON.parse(Buffer.from(signed.split('.')[0]!, 'base64url').toString()).kid as string;
    // Before it takes up the rotation, the other server does not know the key that signed it.
    await within('the new key at the other server', async () => {
      return (await decide(urls[1]!, request(signed, 'GET'))).decision === 'allow';
    });
    const bundle = async (url: string) =>
      (await (await fetch(`${url}/v1/bundle`)).json()) as { keys: { kid: string }[] };
    assert.ok((await bundle(urls[1]!)).keys.some((k) => k.kid === kid));
    assert.deepEqual(await bundle(urls[1]!), await bundle(urls[0]!));
  });

  test('a server that starts activates its files for all, and says what it replaced', async () => {
    assert.equal(problem, undefined, problem);
    const fresh = await jwt();
    assert.equal((await decide(urls[0]!, request(fresh))).decision, 'deny', 'the pushed policy is active');
    await servers[1]!.stop();
    await start(3);
    assert.match(servers[2]!.stderr(), /policy_replaced_at_start/);
    await within('the files again at the first server', async () => {
      return (await decide(urls[0]!, request(fresh))).decision === 'allow';
    });
  });

  test('both servers under load, one killed -9: every answered decision is in the one chain, once', async () => {
    assert.equal(problem, undefined, problem);
    // Servers 1 and 3 run now; the log holds the decisions of the tests before.
    const live = [urls[0]!, urls[2]!];
    const body = JSON.stringify({
      source: { spiffeId: WEB, ip: '10.10.1.20' },
      credential: { type: 'x509-svid', verified: true },
      destination: { service: 'orders', port: 8443 },
      action: { method: 'GET', path: '/orders/42' },
      context: { mtls: true },
    });
    const answered: string[] = [];
    const failures: number[] = [];
    let stop = false;
    const worker = async (url: string) => {
      while (!stop) {
        try {
          const res = await fetch(`${url}/v1/decide`, {
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              authorization: `Bearer ${env['GATEHOUSE_TOKEN']}`,
            },
            body,
          });
          if (res.status === 200) answered.push(((await res.json()) as { decisionId: string }).decisionId);
          else failures.push(res.status);
        } catch {
          // The killed server's connections: those decisions were never answered.
          if (url === live[1]) return;
        }
      }
    };
    const workers = [
      ...Array.from({ length: 12 }, () => worker(live[0]!)),
      ...Array.from({ length: 12 }, () => worker(live[1]!)),
    ];
    for (let waited = 0; answered.length < 400 && waited < 20_000; waited += 50) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    servers[2]!.child.kill('SIGKILL');
    const before = answered.length;
    // The survivor goes on writing the chain alone.
    for (let waited = 0; answered.length < before + 200 && waited < 20_000; waited += 50) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    stop = true;
    await Promise.all(workers);
    assert.ok(answered.length > before + 100, `${answered.length - before} answered after the kill`);
    // With the lock and the chaining again under it, no batch was refused for the other server's.
    assert.deepEqual(failures, []);

    const exported = await cli(['decisions', 'export'], env);
    assert.equal(exported.code, 0, exported.err);
    const logged = exported.out
      .trim()
      .split('\n')
      .map((line) => (JSON.parse(line) as { decisionId: string }).decisionId);
    const once = new Set(logged);
    assert.equal(once.size, logged.length, 'a decision id logged twice');
    const lost = answered.filter((id) => !once.has(id));
    assert.deepEqual(lost, [], `${lost.length} answered decision(s) missing from the log`);
    const verify = await cli(['decisions', 'verify'], env);
    assert.equal(verify.code, 0, verify.out + verify.err);
    assert.match(verify.out, /hash chain intact/);
  });

  test('two servers starting at once on an empty database, both seeding, both start', async () => {
    assert.equal(problem, undefined, problem);
    const empty = `${database}_empty`;
    await admin.query(`CREATE DATABASE "${empty}"`);
    const starting = [1, 2].map((n) =>
      serve(`seeding server ${n}`, empty, ['--seed', 'examples/acme/inventory.yaml']),
    );
    const started = await Promise.allSettled(starting);
    for (const s of started) if (s.status === 'fulfilled') servers.push(s.value);
    try {
      assert.deepEqual(
        started.map((s) => (s.status === 'fulfilled' ? 'started' : String(s.reason))),
        ['started', 'started'],
      );
      const client = new pg.Client({ connectionString: dbUrl(empty) });
      await client.connect();
      try {
        const { rows } = await client.query<{ n: string; ids: string }>(
          'SELECT COUNT(*) AS n, COUNT(DISTINCT spiffe_id) AS ids FROM entries',
        );
        assert.ok(Number(rows[0]!.n) > 0);
        assert.equal(rows[0]!.n, rows[0]!.ids);
        const keys = await client.query("SELECT key_use FROM signing_keys WHERE state = 'active'");
        assert.deepEqual(keys.rows.map((r: { key_use: string }) => r.key_use).sort(), [
          'jwt-svid',
          'x509-svid',
        ]);
        const admins = await client.query<{ n: string }>('SELECT COUNT(*) AS n FROM admin_credentials');
        assert.equal(Number(admins.rows[0]!.n), 1);
        const printed = started.filter((s) => s.status === 'fulfilled' && /gha_/.test(s.value.stdout()));
        assert.equal(printed.length, 1, 'one server created the admin credential and printed it');
      } finally {
        await client.end();
      }
    } finally {
      for (const s of started) if (s.status === 'fulfilled') await s.value.stop();
      await admin.query(`DROP DATABASE IF EXISTS "${empty}"`);
    }
  });
});
