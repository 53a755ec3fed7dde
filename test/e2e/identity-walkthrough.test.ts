/**
 * docs/identity.md, step by step, against the real server process on a
 * random loopback port with a real SQLite file: create an entry, attest with
 * a join token, obtain and verify both SVIDs, revoke them and watch
 * verification fail; then restart and show that entries, keys and
 * revocations survived.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { built, cli, startServer, type ServerProcess } from '../support/server-process.js';

const AUDIENCE = 'spiffe://acme.corp/ns/shop/sa/orders';
const CONTROL_PLANE = 'spiffe://acme.corp/gatehouse';

describe(
  'identity walkthrough (docs/identity.md)',
  { skip: built ? false : 'run `npm run build` first' },
  () => {
    let dir: string;
    let server: ServerProcess;
    let env: Record<string, string>;
    let entryId: string;
    /** The JWT-SVID for orders (svids/jwt-svid.token). */
    let keptToken: string;
    /** The JWT-SVID for the control plane (svids/control-plane.token). */
    let controlToken: string;
    let revokedToken: string;
    let serial: string;

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'gatehouse-identity-'));
      server = await startServer(dir);
      env = { GATEHOUSE_SERVER: server.url, GATEHOUSE_TOKEN: server.adminToken };
    });
    after(async () => {
      await server?.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    test('first start prints where everything is and the admin credential once', () => {
      assert.match(server.stdout(), /trust bundle\s+http:\/\/127\.0\.0\.1:\d+\/\.well-known\/spiffe-bundle/);
      assert.match(server.stdout(), /gha_[A-Za-z0-9_-]{43}/);
      assert.doesNotMatch(server.stderr(), /gha_/, 'the secret never reaches the logs');
    });

    test('the admin API refuses anonymous and wrong credentials with a bare 401', async () => {
      for (const auth of [undefined, 'Bearer gha_wrong', 'Bearer not.a.jwt', 'Basic x']) {
        const res = await fetch(`${server.url}/v1/entries`, { headers: auth ? { authorization: auth } : {} });
        assert.equal(res.status, 401);
        assert.deepEqual(await res.json(), { error: { code: 'unauthorized', message: 'unauthorized' } });
      }
      const r = await cli(['entry', 'list'], { GATEHOUSE_SERVER: server.url });
      assert.equal(r.code, 1);
      assert.match(r.err, /unauthorized/);
    });

    test('the trust bundle is public and in the SPIFFE bundle format', async () => {
      const res = await fetch(`${server.url}/.well-known/spiffe-bundle`);
      assert.equal(res.status, 200);
      const bundle = (await res.json()) as {
        keys: { use: string; x5c?: string[]; kid?: string }[];
        spiffe_sequence: number;
      };
      assert.ok(bundle.spiffe_sequence >= 1);
      assert.ok(bundle.keys.some((k) => k.use === 'x509-svid' && k.x5c?.length === 1));
      assert.ok(bundle.keys.some((k) => k.use === 'jwt-svid' && k.kid));
      assert.ok(
        bundle.keys.every((k) => !('d' in k)),
        'no private key material',
      );
    });

    test('1. create an entry', async () => {
      const r = await cli(
        [
          'entry',
          'create',
          '--spiffe-id',
          'spiffe://acme.corp/ns/shop/checkout',
          '--kind',
          'service',
          '--owner',
          'team-shop',
          '--label',
          'app=checkout',
          '--zone',
          'prod',
          '--attest',
          'join-token',
          '--output',
          'json',
        ],
        env,
      );
      assert.equal(r.code, 0, r.err);
      const entry = JSON.parse(r.out) as { id: string; status: string; labels: Record<string, string> };
      assert.equal(entry.status, 'active');
      assert.deepEqual(entry.labels, { app: 'checkout' });
      entryId = entry.id;
      const dup = await cli(
        ['entry', 'create', '--spiffe-id', 'spiffe://acme.corp/ns/shop/checkout', '--kind', 'service'],
        env,
      );
      assert.equal(dup.code, 1);
      const foreign = await cli(
        ['entry', 'create', '--spiffe-id', 'spiffe://evil.example/x', '--kind', 'job'],
        env,
      );
      assert.equal(foreign.code, 3);
      assert.match(foreign.err, /not in trust domain `acme\.corp`/);
      const list = await cli(['entry', 'list'], env);
      assert.match(
        list.out,
        /spiffe:\/\/acme\.corp\/ns\/shop\/checkout\s+service\s+active\s+team-shop\s+never/,
      );
    });

    test('2. attest with a single-use join token and get both SVIDs', async () => {
      const t = await cli(['entry', 'join-token', entryId], env);
      assert.equal(t.code, 0, t.err);
      const token = t.out.trim();
      assert.match(token, /^gjt_/);
      const out = join(dir, 'svids');
      const a = await cli(['attest', '--join-token', token, '--audience', AUDIENCE, '--out-dir', out], {
        GATEHOUSE_SERVER: server.url,
      });
      assert.equal(a.code, 0, a.err);
      // The summary as docs/identity.md shows it: a JWT-SVID for orders, another for the control plane.
      assert.match(
        a.out,
        /^attested spiffe:\/\/acme\.corp\/ns\/shop\/checkout \(entry ent_\S+, via join-token\)$/m,
      );
      assert.match(a.out, /^ {2}X\.509-SVID {5}serial [0-9a-f]+, expires \S+Z$/m);
      assert.match(
        a.out,
        /^ {2}JWT-SVID {7}jti \S+, aud spiffe:\/\/acme\.corp\/ns\/shop\/sa\/orders, expires \S+Z$/m,
      );
      assert.match(
        a.out,
        /^ {2}control plane {2}jti \S+, aud spiffe:\/\/acme\.corp\/gatehouse, expires \S+Z$/m,
      );
      assert.match(
        a.out,
        /^ {2}written to {5}\S+\/ \(svid\.pem, svid\.key, bundle\.pem, jwt-svid\.token, control-plane\.token\)$/m,
      );
      serial = /serial ([0-9a-f]+)/.exec(a.out)![1]!;
      keptToken = readFileSync(join(out, 'jwt-svid.token'), 'utf8').trim();
      controlToken = readFileSync(join(out, 'control-plane.token'), 'utf8').trim();
      const aud = (token: string) =>
        (JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { aud: string[] }).aud;
      assert.deepEqual(aud(keptToken), [AUDIENCE]);
      assert.deepEqual(aud(controlToken), [CONTROL_PLANE]);
      for (const file of ['jwt-svid.token', 'control-plane.token'])
        assert.equal(statSync(join(out, file)).mode & 0o777, 0o600, file);
      const again = await cli(['attest', '--join-token', token], { GATEHOUSE_SERVER: server.url });
      assert.equal(again.code, 1, 'a join token works once');
      assert.match(again.err, /join token is unknown, used or expired/);
      const shown = await cli(['entry', 'show', entryId], env);
      assert.doesNotMatch(shown.out, /lastSeenAt\s+never/, 'attestation records last seen');
    });

    test('3. the X.509-SVID verifies with openssl against the bundle and has the SVID properties', () => {
      const out = join(dir, 'svids');
      const v = spawnSync('openssl', ['verify', '-CAfile', join(out, 'bundle.pem'), join(out, 'svid.pem')], {
        encoding: 'utf8',
      });
      assert.equal(v.status, 0, v.stderr);
      assert.match(v.stdout, /OK/);
      const x = spawnSync(
        'openssl',
        [
          'x509',
          '-in',
          join(out, 'svid.pem'),
          '-noout',
          '-ext',
          'subjectAltName,basicConstraints,keyUsage,extendedKeyUsage',
        ],
        { encoding: 'utf8' },
      );
      assert.equal(x.status, 0, x.stderr);
      assert.match(x.stdout, /URI:spiffe:\/\/acme\.corp\/ns\/shop\/checkout/);
      assert.match(x.stdout, /CA:FALSE/);
      assert.match(x.stdout, /Digital Signature/);
      assert.match(x.stdout, /TLS Web Server Authentication, TLS Web Client Authentication/);
    });

    test('4. both SVIDs verify through the control plane', async () => {
      const j = await cli(['token', 'verify', keptToken, '--audience', AUDIENCE], env);
      assert.equal(j.code, 0, j.out + j.err);
      assert.match(j.out, /^valid: spiffe:\/\/acme\.corp\/ns\/shop\/checkout/);
      const wrongAud = await cli(
        ['token', 'verify', keptToken, '--audience', 'spiffe://acme.corp/other'],
        env,
      );
      assert.equal(wrongAud.code, 2);
      assert.match(wrongAud.out, /svid_bad_audience/);
      // Each JWT-SVID serves one side: the control plane's is refused at orders.
      const control = await cli(['token', 'verify', controlToken, '--audience', AUDIENCE], env);
      assert.equal(control.code, 2);
      assert.match(control.out, /svid_bad_audience/);
      const x = await cli(['token', 'verify', '--x509', join(dir, 'svids', 'svid.pem')], env);
      assert.equal(x.code, 0, x.out + x.err);
    });

    test('5. an admin issues more SVIDs; a workload uses its own JWT-SVID to get more for itself', async () => {
      const j = await cli(
        ['svid', 'jwt', '--spiffe-id', 'spiffe://acme.corp/ns/shop/checkout', '--audience', AUDIENCE],
        env,
      );
      assert.equal(j.code, 0, j.err);
      revokedToken = j.out.trim();
      const tokenFile = join(dir, 'svids', 'control-plane.token');
      const self = await cli(['svid', 'jwt', '--audience', AUDIENCE, '--token-file', tokenFile], {
        GATEHOUSE_SERVER: server.url,
      });
      assert.equal(self.code, 0, self.err);
      const other = await cli(
        [
          'svid',
          'jwt',
          '--audience',
          AUDIENCE,
          '--spiffe-id',
          'spiffe://acme.corp/ns/other',
          '--token-file',
          tokenFile,
        ],
        { GATEHOUSE_SERVER: server.url },
      );
      assert.equal(other.code, 1);
      assert.match(other.err, /only for itself/);
      const renewed = await cli(['attest', '--renew', '--svid-token', tokenFile, '--no-x509'], {
        GATEHOUSE_SERVER: server.url,
      });
      assert.equal(renewed.code, 0, renewed.err);
      assert.match(renewed.out, /via renewal/);
      // Without --out-dir the tokens are printed, the control plane's last.
      assert.match(renewed.out, /\n\nJWT-SVID for the control plane:\n[\w-]+\.[\w-]+\.[\w-]+\n$/);
      const both = await cli(
        ['attest', '--renew', '--svid-token', tokenFile, '--no-x509', '--audience', AUDIENCE],
        { GATEHOUSE_SERVER: server.url },
      );
      assert.equal(both.code, 0, both.err);
      assert.match(
        both.out,
        /\n\nJWT-SVID for spiffe:\/\/acme\.corp\/ns\/shop\/sa\/orders:\n\S+\n\nJWT-SVID for the control plane:\n\S+\n$/,
      );
    });

    test('5a. orders, given the JWT-SVID for it, cannot call the control plane as checkout', async () => {
      const svids = join(dir, 'svids');
      const renew = await cli(['attest', '--renew', '--svid-token', join(svids, 'jwt-svid.token')], {
        GATEHOUSE_SERVER: server.url,
      });
      assert.equal(renew.code, 1, renew.out + renew.err);
      assert.match(renew.err, /unauthorized/);
      const asWorkload = (method: string, path: string, body?: unknown) =>
        fetch(`${server.url}${path}`, {
          method,
          headers: { authorization: `Bearer ${keptToken}`, 'content-type': 'application/json' },
          ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        });
      for (const [method, path, body] of [
        ['POST', '/v1/renew', {}],
        ['POST', '/v1/svid/jwt', { audience: [AUDIENCE] }],
        ['POST', '/v1/svid/x509', {}],
        ['GET', '/v1/sync', undefined],
        ['POST', '/v1/decisions/records', { records: [] }],
        ['POST', '/v1/decide', {}],
      ] as const) {
        const res = await asWorkload(method, path, body);
        assert.equal(res.status, 401, `${method} ${path}`);
        assert.deepEqual(await res.json(), { error: { code: 'unauthorized', message: 'unauthorized' } });
      }
      // The control plane's JWT-SVID is the workload's credential there.
      const res = await fetch(`${server.url}/v1/sync`, {
        headers: { authorization: `Bearer ${controlToken}` },
      });
      assert.equal(res.status, 200);
      // Nor can the workload ask for a JWT-SVID that would serve at both.
      const mixed = await cli(
        [
          'svid',
          'jwt',
          '--audience',
          AUDIENCE,
          '--audience',
          CONTROL_PLANE,
          '--token-file',
          join(svids, 'control-plane.token'),
        ],
        { GATEHOUSE_SERVER: server.url },
      );
      assert.equal(mixed.code, 3, mixed.out + mixed.err);
      assert.match(
        mixed.err,
        /audience mixes the control plane `spiffe:\/\/acme\.corp\/gatehouse` with other audiences/,
      );
    });

    test('5b. over plain HTTP there is no X.509 renewal: the SVID must be the TLS client certificate', async () => {
      const svids = join(dir, 'svids');
      const x509 = await cli(
        ['attest', '--renew', '--x509', join(svids, 'svid.pem'), '--key', join(svids, 'svid.key')],
        { GATEHOUSE_SERVER: server.url },
      );
      assert.equal(x509.code, 3, x509.out + x509.err);
      assert.match(x509.err, /a client certificate needs an https:\/\/ server/);
      // The chain in the body, as once documented, renews nothing: it is public.
      const res = await fetch(`${server.url}/v1/renew`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ x509Svid: readFileSync(join(svids, 'svid.pem'), 'utf8'), csr: 'x' }),
      });
      assert.equal(res.status, 400);
      const { error } = (await res.json()) as { error: { code: string; message: string } };
      assert.equal(error.code, 'body_invalid');
      assert.match(error.message, /TLS client certificate/);
    });

    test('6. revoke a JWT-SVID and an X.509-SVID: verification fails at once', async () => {
      const jti = JSON.parse(Buffer.from(revokedToken.split('.')[1]!, 'base64url').toString()).jti as string;
      const before = await cli(['token', 'verify', revokedToken, '--audience', AUDIENCE], env);
      assert.equal(before.code, 0, 'verified (and cached) before the revocation');
      const r = await cli(['revoke', '--credential', jti, '--reason', 'leaked in a log'], env);
      assert.equal(r.code, 0, r.err);
      assert.match(
        r.out,
        new RegExp(
          `^revoked credential ${jti} at \\S+Z; enforced until \\S+Z, when all it covers has expired\\n$`,
        ),
      );
      const after = await cli(['token', 'verify', revokedToken, '--audience', AUDIENCE], env);
      assert.equal(after.code, 2);
      assert.match(after.out, /svid_revoked/);
      const kept = await cli(['token', 'verify', keptToken, '--audience', AUDIENCE], env);
      assert.equal(kept.code, 0, 'other credentials are untouched');
      assert.equal((await cli(['revoke', '--credential', serial], env)).code, 0);
      const x = await cli(['token', 'verify', '--x509', join(dir, 'svids', 'svid.pem')], env);
      assert.equal(x.code, 2);
      assert.match(x.out, /svid_revoked/);
    });

    test('7. JIT grant: scoped credential, ended with the task', async () => {
      const g = await cli(
        [
          'grant',
          'start',
          '--entry',
          entryId,
          '--task',
          'INC-42 backfill',
          '--service',
          'orders',
          '--method',
          'GET',
          '--path',
          '/orders/*',
          '--ttl',
          '600',
          '--output',
          'json',
        ],
        env,
      );
      assert.equal(g.code, 0, g.err);
      const { grant, jwtSvid } = JSON.parse(g.out) as {
        grant: { id: string; expiresAt: string };
        jwtSvid: { token: string; expiresAt: string };
      };
      assert.ok(jwtSvid.expiresAt <= grant.expiresAt, 'the credential lives no longer than the task');
      const v = await cli(
        ['token', 'verify', jwtSvid.token, '--audience', 'orders', '--output', 'json'],
        env,
      );
      assert.equal(v.code, 0, v.out);
      assert.deepEqual((JSON.parse(v.out) as { grant: { scope: unknown } }).grant.scope, {
        service: 'orders',
        methods: ['GET'],
        paths: ['/orders/*'],
        operations: [],
      });
      const end = await cli(['grant', 'end', grant.id], env);
      assert.equal(end.code, 0, end.err);
      const v2 = await cli(['token', 'verify', jwtSvid.token, '--audience', 'orders'], env);
      assert.equal(v2.code, 2);
      assert.match(v2.out, /svid_revoked/);
    });

    test('8. restart: entries, keys and revocations survive', async () => {
      const bundleBefore = await (await fetch(`${server.url}/v1/bundle`)).json();
      assert.equal(await server.stop(), 0, 'graceful shutdown');
      server = await startServer(dir);
      env = {
        GATEHOUSE_SERVER: server.url,
        GATEHOUSE_TOKEN: readFileSync(join(dir, 'admin.token'), 'utf8').trim(),
      };
      assert.doesNotMatch(server.stdout(), /gha_/, 'the admin credential is shown only on first start');
      assert.deepEqual(await (await fetch(`${server.url}/v1/bundle`)).json(), bundleBefore);
      const list = await cli(['entry', 'list', '--output', 'json'], env);
      assert.equal(list.code, 0, list.err);
      assert.equal((JSON.parse(list.out) as unknown[]).length, 1);
      assert.equal(
        (await cli(['token', 'verify', keptToken, '--audience', AUDIENCE], env)).code,
        0,
        'keys survived',
      );
      const revoked = await cli(['token', 'verify', revokedToken, '--audience', AUDIENCE], env);
      assert.equal(revoked.code, 2, 'revocations survived');
      assert.match(revoked.out, /svid_revoked/);
    });

    test('9. offboarding revokes everything the entry holds and stops issuance', async () => {
      const r = await cli(['entry', 'offboard', entryId], env);
      assert.equal(r.code, 0, r.err);
      const v = await cli(['token', 'verify', keptToken, '--audience', AUDIENCE], env);
      assert.equal(v.code, 2);
      assert.match(v.out, /svid_revoked/);
      const issue = await cli(['svid', 'jwt', '--spiffe-id', entryId, '--audience', AUDIENCE], env);
      assert.equal(issue.code, 1);
      assert.match(issue.err, /offboarded/);
      const reenable = await cli(['entry', 'enable', entryId], env);
      assert.equal(reenable.code, 1);
    });

    test('bad input gets a clear error, never a crash', async () => {
      const res = await fetch(`${server.url}/v1/entries`, {
        method: 'POST',
        headers: { authorization: `Bearer ${env.GATEHOUSE_TOKEN}`, 'content-type': 'application/json' },
        body: '{"spiffeId": ',
      });
      assert.equal(res.status, 400);
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'body_invalid');
      const bad = await fetch(`${server.url}/v1/entries`, {
        method: 'POST',
        headers: { authorization: `Bearer ${env.GATEHOUSE_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ spiffeId: 'spiffe://ACME.corp/x', kind: 'robot', color: 'red' }),
      });
      assert.equal(bad.status, 400);
      const body = (await bad.json()) as { error: { problems: { message: string }[] } };
      const text = body.error.problems.map((p) => p.message).join('\n');
      assert.match(text, /spiffeId: invalid SPIFFE ID/);
      assert.match(text, /kind: must be one of/);
      assert.match(text, /color: unknown field/);
      const attest = await fetch(`${server.url}/v1/attest`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ method: 'join-token', token: 'gjt_forged' }),
      });
      assert.equal(attest.status, 401);
      writeFileSync(join(dir, 'x'), '');
    });

    test('entry list reads page after page and misses or repeats nothing', async () => {
      for (let i = 0; i < 5; i++) {
        const r = await cli(
          ['entry', 'create', '--spiffe-id', `spiffe://acme.corp/ns/batch/sa/job-${i}`, '--kind', 'job'],
          env,
        );
        assert.equal(r.code, 0, r.err);
      }
      const ids = (out: string) => (JSON.parse(out) as { spiffeId: string }[]).map((e) => e.spiffeId);
      const whole = await cli(['entry', 'list', '--output', 'json'], env);
      assert.equal(whole.code, 0, whole.err);
      assert.ok(ids(whole.out).length >= 6);
      for (const size of ['1', '2', '5']) {
        const paged = await cli(['entry', 'list', '--page-size', size, '--output', 'json'], env);
        assert.equal(paged.code, 0, paged.err);
        assert.deepEqual(ids(paged.out), ids(whole.out), `pages of ${size}`);
      }
      const jobs = await cli(['entry', 'list', '--kind', 'job', '--page-size', '2', '--output', 'json'], env);
      assert.deepEqual(
        ids(jobs.out).filter((id) => id.includes('/batch/')),
        [0, 1, 2, 3, 4].map((i) => `spiffe://acme.corp/ns/batch/sa/job-${i}`),
        'a filter holds on every page',
      );
      for (const bad of ['0', '1001', 'two']) {
        const r = await cli(['entry', 'list', '--page-size', bad], env);
        assert.equal(r.code, 3, `--page-size ${bad}`);
        assert.match(r.err, /--page-size/);
      }
    });
  },
);
