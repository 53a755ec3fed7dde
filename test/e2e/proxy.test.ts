/**
 * docs/enforce.md against real processes: the real `gatehouse serve`, the
 * real `gatehouse proxy` (TLS with client X.509-SVIDs, and plain HTTP for a
 * service in simulate mode) and a small upstream in this test. Allowed with
 * an SVID (bearer and mTLS), denied without, would-deny passed and marked,
 * the credential stripped, hostile input refused, revocation enforced within
 * a second, the last policy enforced while the server is away, a proxy that
 * never synced denying everything, and every decision in `gatehouse decisions`.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http, { type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { call, type Answer } from '../support/http-call.js';
import { legacyMixedJwtSvid } from '../support/legacy-jwt-svid.js';
import { startProxy, type ProxyProcess } from '../support/proxy-process.js';
import { built, cli, startServer, type ServerProcess } from '../support/server-process.js';

const POLICY = 'test/fixtures/proxy/policy.yaml';
const WEB = 'spiffe://example.org/client/web';
const REPORT = 'spiffe://example.org/client/report';
const HELLO = 'spiffe://example.org/svc/hello';
const PREVIEW = 'spiffe://example.org/svc/hello-preview';
const CONTROL_PLANE = 'spiffe://example.org/gatehouse';

/** Writes raw bytes on a TLS connection (with a client SVID) and returns the status code the proxy answers. */
function raw(url: string, text: string, cert: { chain: string; key: string }): Promise<number> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = tls.connect(
      { host: u.hostname, port: Number(u.port), rejectUnauthorized: false, cert: cert.chain, key: cert.key },
      () => socket.write(text),
    );
    let got = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      got += d;
      const m = /^HTTP\/1\.1 (\d{3})/.exec(got);
      if (m) {
        socket.destroy();
        resolve(Number(m[1]));
      }
    });
    socket.on('error', reject);
    socket.on('close', () =>
      reject(new Error(`connection closed without an answer: ${JSON.stringify(got)}`)),
    );
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('gatehouse proxy (docs/enforce.md)', { skip: built ? false : 'run `npm run build` first' }, () => {
  let dir: string;
  let server: ServerProcess;
  let serverPort: string;
  let env: Record<string, string>;
  let upstream: http.Server;
  let upstreamUrl: string;
  let seen: { method: string; url: string; headers: IncomingHttpHeaders; body: string }[] = [];
  let enforcing: ProxyProcess;
  let preview: ProxyProcess;
  let webCert: { chain: string; key: string };
  let webToken: string;
  /** For the preview service: a JWT-SVID names the service it is for. */
  let previewToken: string;
  const proxyArgs = () => ['--server', server.url, '--token-file', join(dir, 'admin.token')];

  const issueX509 = async (spiffeId: string) => {
    const r = await cli(['svid', 'x509', '--spiffe-id', spiffeId, '--output', 'json'], env);
    assert.equal(r.code, 0, r.err);
    const s = JSON.parse(r.out) as { chainPem: string; privateKeyPem: string; serial: string };
    return { chain: s.chainPem, key: s.privateKeyPem, serial: s.serial };
  };
  const issueJwt = async (spiffeId: string, audience: string) => {
    const r = await cli(['svid', 'jwt', '--spiffe-id', spiffeId, '--audience', audience], env);
    assert.equal(r.code, 0, r.err);
    return r.out.trim();
  };
  const jtiOf = (token: string) =>
    (JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { jti: string }).jti;
  const logged = async (filter: string[], want: (records: Record<string, unknown>[]) => boolean) => {
    for (let i = 0; i < 100; i++) {
      const r = await cli(['decisions', ...filter, '--limit', '1000', '--output', 'json'], env);
      assert.equal(r.code, 0, r.err);
      const records = r.out
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      if (want(records)) return records;
      await sleep(50);
    }
    assert.fail(`the decision log never showed what was expected for ${filter.join(' ')}`);
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-proxy-'));
    server = await startServer(dir, ['--policy', POLICY]);
    serverPort = new URL(server.url).port;
    env = { GATEHOUSE_SERVER: server.url, GATEHOUSE_TOKEN: server.adminToken };
    for (const id of [WEB, REPORT, HELLO]) {
      const e = await cli(
        ['entry', 'create', '--spiffe-id', id, '--kind', 'service', '--owner', 'team-demo'],
        env,
      );
      assert.equal(e.code, 0, e.err);
    }
    webCert = await issueX509(WEB);
    webToken = await issueJwt(WEB, HELLO);
    previewToken = await issueJwt(WEB, PREVIEW);
    const own = await issueX509(HELLO);
    writeFileSync(join(dir, 'hello.pem'), own.chain);
    writeFileSync(join(dir, 'hello.key'), own.key);
    const b = await cli(['bundle', '--output', 'pem'], env);
    writeFileSync(join(dir, 'bundle.pem'), b.out);

    upstream = http.createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (d: string) => (body += d));
      req.on('end', () => {
        seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
        res.writeHead(200, { 'content-type': 'text/plain', 'x-upstream': 'yes', connection: 'keep-alive' });
        res.end(`upstream saw ${req.method} ${req.url} (${body.length} bytes)`);
      });
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;

    enforcing = await startProxy(
      [
        '--service',
        'hello',
        '--upstream',
        upstreamUrl,
        ...proxyArgs(),
        '--tls-cert',
        join(dir, 'hello.pem'),
        '--tls-key',
        join(dir, 'hello.key'),
        '--tls-ca',
        join(dir, 'bundle.pem'),
        '--sync-interval',
        '200ms',
      ],
      { synced: true },
    );
    preview = await startProxy(
      [
        '--service',
        'hello-preview',
        '--upstream',
        upstreamUrl,
        ...proxyArgs(),
        '--keep-credential',
        '--metrics-listen',
        '127.0.0.1:0',
      ],
      { synced: true },
    );
  });

  after(async () => {
    await enforcing?.stop();
    await preview?.stop();
    await server?.stop();
    upstream?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a proxy that never synced denies everything, with a clear reason', async () => {
    const lonely = await startProxy(
      [
        '--service',
        'hello',
        '--upstream',
        upstreamUrl,
        '--server',
        'http://127.0.0.1:9',
        '--token',
        'gha_x',
        '--metrics-listen',
        '127.0.0.1:0',
      ],
      { synced: false },
    );
    try {
      // Alive, not ready: it has no policy to decide with.
      assert.equal((await fetch(`${lonely.metrics!}/healthz`)).status, 200);
      assert.equal((await fetch(`${lonely.metrics!}/readyz`)).status, 503);
      assert.match(
        await (await fetch(`${lonely.metrics!}/metrics`)).text(),
        /^gatehouse_proxy_policy_synced\{service="hello"\} 0$/m,
      );
      seen = [];
      for (const headers of [{}, { authorization: `Bearer ${webToken}` }] as Record<string, string>[]) {
        for (const path of ['/hello/', '/admin', '/']) {
          const res = await call(lonely.url + path, { headers });
          assert.equal(res.status, 503);
          assert.equal(res.json().reason, 'policy_unavailable');
          assert.match(String(res.json().message), /not synced/);
          assert.equal(res.headers['x-gatehouse-decision-id'], res.json().decisionId);
        }
      }
      assert.equal(seen.length, 0, 'nothing reached the upstream');
      assert.match(lonely.stderr(), /"event":"sync_failed".*"enforcing":"nothing: every request is denied"/);
    } finally {
      await lonely.stop();
    }
  });

  test('allowed with a valid SVID over mTLS or as a bearer JWT-SVID; denied without one', async () => {
    seen = [];
    const mtls = await call(`${enforcing.url}/hello/world?x=1`, { cert: webCert });
    assert.equal(mtls.status, 200, mtls.body);
    assert.equal(mtls.body, 'upstream saw GET /hello/world?x=1 (0 bytes)');
    assert.equal(mtls.headers['x-upstream'], 'yes');
    const id = mtls.headers['x-gatehouse-decision-id'];
    assert.match(String(id), /.+/);
    const got = seen.at(-1)!;
    assert.equal(got.headers['x-gatehouse-decision-id'], id);
    assert.equal(got.headers['x-gatehouse-spiffe-id'], WEB);
    assert.equal(got.headers['x-forwarded-for'], '127.0.0.1');
    assert.equal(got.headers['x-forwarded-proto'], 'https');

    const bearer = await call(`${enforcing.url}/hello/world`, {
      headers: { authorization: `Bearer ${webToken}` },
    });
    assert.equal(bearer.status, 200, bearer.body);

    const none = await call(`${enforcing.url}/hello/world`);
    assert.equal(none.status, 403);
    assert.deepEqual(none.json(), {
      decision: 'deny',
      decisionId: none.headers['x-gatehouse-decision-id'],
      layer: 'credential',
      reason: 'identity_missing',
    });
    const other = await call(`${enforcing.url}/hello/world`, { cert: await issueX509(REPORT) });
    assert.equal(other.status, 403, 'a valid SVID of an identity the policy does not let in');
    assert.equal(other.json().layer, 'flow');

    // Writes need mTLS (`context.mtls == true`): the bearer alone is not enough.
    const post = { method: 'POST', body: 'x'.repeat(100_000), headers: { 'content-type': 'text/plain' } };
    const bearerPost = await call(`${enforcing.url}/hello/items`, {
      ...post,
      headers: { ...post.headers, authorization: `Bearer ${webToken}` },
    });
    assert.equal(bearerPost.status, 403);
    assert.equal(bearerPost.json().reason, 'default_deny');
    const mtlsPost = await call(`${enforcing.url}/hello/items`, { ...post, cert: webCert });
    assert.equal(mtlsPost.status, 200);
    assert.equal(mtlsPost.body, 'upstream saw POST /hello/items (100000 bytes)', 'the body streamed through');
    assert.equal(seen.length, 3, 'denied requests never reach the upstream');
  });

  test('the credential is stripped before forwarding, and client headers cannot pose as the proxy', async () => {
    seen = [];
    const res = await call(`${enforcing.url}/hello/`, {
      headers: {
        authorization: `Bearer ${webToken}`,
        'x-gatehouse-spiffe-id': 'spiffe://example.org/admin',
        'x-gatehouse-would-deny': 'false',
        'x-forwarded-for': '10.9.9.9',
        'x-forwarded-client-cert': 'URI=spiffe://example.org/admin',
        connection: 'keep-alive, x-drop-me',
        'x-drop-me': '1',
        'x-kept': 'kept',
      },
    });
    assert.equal(res.status, 200, res.body);
    const h = seen[0]!.headers;
    assert.equal(h.authorization, undefined, 'the JWT-SVID is stripped');
    assert.equal(h['x-gatehouse-spiffe-id'], WEB);
    assert.equal(h['x-gatehouse-would-deny'], undefined);
    assert.equal(h['x-forwarded-client-cert'], undefined);
    assert.equal(h['x-forwarded-for'], '10.9.9.9, 127.0.0.1', 'appended, never trusted for the decision');
    assert.equal(h['x-drop-me'], undefined, 'hop-by-hop headers named in Connection are dropped');
    assert.equal(h['x-kept'], 'kept');

    seen = [];
    const kept = await call(`${preview.url}/hello/`, {
      headers: { authorization: `Bearer ${previewToken}` },
    });
    assert.equal(kept.status, 200);
    assert.equal(kept.headers['x-gatehouse-would-deny'], undefined);
    assert.equal(seen[0]!.headers.authorization, `Bearer ${previewToken}`, '--keep-credential forwards it');
  });

  test('a service in simulate mode passes a would-deny and marks it both ways', async () => {
    seen = [];
    const res = await call(`${preview.url}/admin/settings`, {
      headers: { authorization: `Bearer ${previewToken}` },
    });
    assert.equal(res.status, 200, res.body);
    assert.equal(res.headers['x-gatehouse-would-deny'], 'true');
    assert.equal(seen[0]!.headers['x-gatehouse-would-deny'], 'true');
    const anonymous = await call(`${preview.url}/hello/`);
    assert.equal(anonymous.status, 200, 'simulate mode: even a missing credential is only a would-deny');
    assert.equal(anonymous.headers['x-gatehouse-would-deny'], 'true');
    const allowed = await call(`${preview.url}/hello/`, {
      headers: { authorization: `Bearer ${previewToken}` },
    });
    assert.equal(allowed.headers['x-gatehouse-would-deny'], undefined);
    const invalid = await call(`${preview.url}/hello/%2e%2e/%2e%2e/admin`);
    assert.equal(invalid.status, 400, 'a request that cannot be evaluated is denied in every mode');
  });

  test('the metrics listener counts decisions by verdict and mode, and says the proxy is synced', async () => {
    const base = preview.metrics!;
    assert.equal((await fetch(`${base}/readyz`)).status, 200);
    const before = await (await fetch(`${base}/metrics`)).text();
    const count = (text: string, verdict: string) =>
      [...text.matchAll(/^gatehouse_proxy_decisions_total\{([^}]*)\} (\d+)$/gm)]
        .filter((m) => m[1]!.includes(`verdict="${verdict}"`))
        .reduce((n, m) => n + Number(m[2]), 0);
    await call(`${preview.url}/preview/`, { headers: { authorization: `Bearer ${previewToken}` } });
    await call(`${preview.url}/preview/`, {});
    const after = await (await fetch(`${base}/metrics`)).text();
    assert.equal(
      count(after, 'allow') + count(after, 'deny'),
      count(before, 'allow') + count(before, 'deny') + 2,
    );
    assert.match(after, /^# TYPE gatehouse_proxy_decisions_total counter$/m);
    assert.match(after, /^gatehouse_proxy_policy_synced\{service="hello-preview"\} 1$/m);
    assert.match(
      after,
      /^gatehouse_proxy_policy_info\{service="hello-preview",revision="sha256:[0-9a-f]{64}"\} 1$/m,
    );
    assert.match(after, /^gatehouse_proxy_last_sync_age_seconds\{service="hello-preview"\} [0-9.]+$/m);
    assert.match(after, /^gatehouse_proxy_revocations_held\{service="hello-preview"\} \d+$/m);
    assert.match(after, /^gatehouse_proxy_bundle_sequence\{service="hello-preview"\} [1-9]\d*$/m);
    assert.match(after, /^gatehouse_proxy_decision_records_dropped_total\{service="hello-preview"\} 0$/m);
    assert.equal((await fetch(`${base}/nope`)).status, 404);
    assert.equal((await fetch(`${base}/metrics`, { method: 'POST' })).status, 405);
  });

  test('hostile input gets a clear 4xx, never an allow, and the proxy keeps serving', async () => {
    seen = [];
    const cases: [string, string][] = [
      ['lower-case method', 'get /hello/ HTTP/1.1\r\nhost: x\r\n\r\n'],
      ['mixed-case method', 'GeT /hello/ HTTP/1.1\r\nhost: x\r\n\r\n'],
      ['garbage', 'HELLO THERE\r\n\r\n'],
      ['encoded dot segments', 'GET /hello/%2e%2e/%2e%2e/admin/x HTTP/1.1\r\nhost: x\r\n\r\n'],
      ['encoded slash', 'GET /hello/..%2f..%2fadmin HTTP/1.1\r\nhost: x\r\n\r\n'],
      ['dot segment with parameters', 'GET /hello/..;/admin/x HTTP/1.1\r\nhost: x\r\n\r\n'],
      ['double slash to a denied path', 'GET //admin//x HTTP/1.1\r\nhost: x\r\n\r\n'],
      ['dot segments to a denied path', 'GET /hello/../admin/x HTTP/1.1\r\nhost: x\r\n\r\n'],
      ['above the root', 'GET /../../etc/passwd HTTP/1.1\r\nhost: x\r\n\r\n'],
      ['backslash', 'GET /hello\\..\\admin HTTP/1.1\r\nhost: x\r\n\r\n'],
      ['absolute form', 'GET http://evil.example/hello/ HTTP/1.1\r\nhost: x\r\n\r\n'],
      ['asterisk form', 'OPTIONS * HTTP/1.1\r\nhost: x\r\n\r\n'],
      ['NUL', 'GET /hello/%00 HTTP/1.1\r\nhost: x\r\n\r\n'],
      [
        'oversized headers',
        `GET /hello/ HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${'a'.repeat(20_000)}\r\n\r\n`,
      ],
      ['CONNECT', 'CONNECT example.org:443 HTTP/1.1\r\nhost: example.org:443\r\n\r\n'],
      ['upgrade', 'GET /hello/ HTTP/1.1\r\nhost: x\r\nconnection: upgrade\r\nupgrade: websocket\r\n\r\n'],
      [
        'two Authorization fields',
        'GET /hello/ HTTP/1.1\r\nhost: x\r\nauthorization: Basic Zm9vOmJhcg==\r\nAuthorization: Bearer x.y.z\r\n\r\n',
      ],
      [
        'both length and chunked',
        'POST /hello/ HTTP/1.1\r\nhost: x\r\ncontent-length: 3\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n',
      ],
    ];
    for (const [what, text] of cases) {
      const status = await raw(enforcing.url, text, webCert);
      assert.ok(status >= 400 && status < 500, `${what}: ${status}`);
    }
    for (const token of ['x', 'a.b.c', 'e30.e30.', `${'a'.repeat(9000)}.b.c`, 'Bearer', '']) {
      const res = await call(`${enforcing.url}/hello/`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(res.status, 403, `token ${token.slice(0, 20)}`);
      assert.equal(res.json().layer, 'credential');
    }
    const forged = await call(`${enforcing.url}/hello/`, {
      headers: { authorization: `Bearer ${webToken.slice(0, -6)}AAAAAA` },
    });
    assert.equal(forged.status, 403);
    // A JWT-SVID for another identity than the connection's X.509-SVID vouches for neither.
    const report = await issueJwt(REPORT, HELLO);
    const mixed = await call(`${enforcing.url}/hello/`, {
      cert: webCert,
      headers: { authorization: `Bearer ${report}` },
    });
    assert.equal(mixed.status, 403);
    assert.equal(mixed.json().reason, 'credential_unverified');
    assert.equal(seen.length, 0, 'nothing hostile reached the upstream');
    const ok = await call(`${enforcing.url}/hello/`, { cert: webCert });
    assert.equal(ok.status, 200, 'still serving');
    assert.equal(seen[0]!.url, '/hello/');
    const normalized = await call(`${enforcing.url}/hello//a/./b/%7Ec`, { cert: webCert });
    assert.equal(normalized.status, 200);
    assert.equal(seen[1]!.url, '/hello/a/b/~c', 'the upstream gets the path the policy decided on');
  });

  test('a JWT-SVID that names the control plane beside the service, as attestation once gave, is denied', async () => {
    seen = [];
    const legacy = await legacyMixedJwtSvid(join(dir, 'gatehouse.db'), WEB, HELLO);
    const res = await call(`${enforcing.url}/hello/world`, {
      headers: { authorization: `Bearer ${legacy}` },
    });
    assert.equal(res.status, 403, res.body);
    assert.equal(res.json().layer, 'credential');
    assert.equal(res.json().reason, 'credential_unverified');
    assert.equal(seen.length, 0, 'the upstream, which could have used it at the control plane, never saw it');
    const ok = await call(`${enforcing.url}/hello/world`, {
      headers: { authorization: `Bearer ${webToken}` },
    });
    assert.equal(ok.status, 200, 'a JWT-SVID for the service alone is let in');
  });

  test('a revoked credential is denied within a second, JWT-SVID and X.509-SVID alike', async () => {
    const token = await issueJwt(WEB, HELLO);
    const cert = await issueX509(WEB);
    assert.equal(
      (await call(`${enforcing.url}/hello/`, { headers: { authorization: `Bearer ${token}` } })).status,
      200,
    );
    assert.equal((await call(`${enforcing.url}/hello/`, { cert })).status, 200);
    for (const [value, present] of [
      [jtiOf(token), { headers: { authorization: `Bearer ${token}` } }],
      [cert.serial, { cert }],
    ] as const) {
      const started = Date.now();
      const r = await cli(['revoke', '--credential', value], env);
      assert.equal(r.code, 0, r.err);
      let res: Answer;
      do res = await call(`${enforcing.url}/hello/`, present);
      while (res.status === 200 && Date.now() - started < 3000);
      const elapsed = Date.now() - started;
      assert.equal(res.status, 403);
      assert.equal(res.json().reason, 'credential_revoked');
      assert.ok(elapsed < 1000, `denied ${elapsed} ms after the revocation`);
    }
    assert.equal((await call(`${enforcing.url}/hello/`, { cert: webCert })).status, 200, 'others unaffected');
  });

  test('every decision is in the log: allow, deny and would-deny, via the proxy', async () => {
    const hello = await logged(['--service', 'hello'], (rs) =>
      rs.some((r) => r.reason === 'credential_revoked'),
    );
    assert.ok(hello.every((r) => r.via === 'proxy:hello'));
    assert.ok(
      hello.some((r) => r.decision === 'allow' && (r.source as { spiffeId: string }).spiffeId === WEB),
    );
    assert.ok(hello.some((r) => r.decision === 'deny' && r.reason === 'identity_missing'));
    const previewed = await logged(['--service', 'hello-preview'], (rs) =>
      rs.some((r) => r.wouldDeny === true),
    );
    assert.ok(previewed.some((r) => r.decision === 'deny' && r.allowed === true && r.mode === 'simulate'));
    const table = await cli(['decisions', '--service', 'hello-preview'], env);
    assert.match(
      table.out,
      /hello-preview:\d+\s+GET \/admin\/settings\s+would-deny\s+permission\/deny_rule\s+perm-deny-admin/,
    );
    const all = await cli(['decisions', '--identity', WEB], env);
    assert.match(
      all.out,
      /127\.0\.0\.1 \(local\)\s+hello:\d+\s+GET \/hello\/\s+allow\s+permission\/allow_rule/,
    );
    const verify = await cli(['decisions', 'verify'], env);
    assert.equal(verify.code, 0, verify.out);
  });

  test('only the admin or the service itself ships records; sync needs a caller credential', async () => {
    assert.equal((await fetch(`${server.url}/v1/sync`)).status, 401);
    assert.equal((await fetch(`${server.url}/v1/policy`)).status, 401);
    const record = {
      v: 1,
      decisionId: 'test-record-1',
      time: new Date().toISOString(),
      policyRevision: 'sha256:x',
      via: 'proxy:hello',
      source: { spiffeId: WEB, zone: 'local' },
      destination: { service: 'hello', zone: 'local' },
      decision: 'allow',
      allowed: true,
      enforced: true,
      mode: 'enforce',
      wouldDeny: false,
      layer: 'permission',
      reason: 'allow_rule',
      rules: [],
      layers: { credential: 'allow', zone: 'allow', flow: 'allow', permission: 'allow' },
      latencyMicros: 1,
    };
    const ship = (token: string, body: unknown) =>
      fetch(`${server.url}/v1/decisions/records`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const asWeb = await ship(await issueJwt(WEB, CONTROL_PLANE), { records: [record] });
    assert.equal(asWeb.status, 403);
    // Nor does a workload ask for decisions, which are logged, on a service it does not guard.
    const decide = async (token: string, service: string) =>
      (
        await fetch(`${server.url}/v1/decide`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({
            source: { spiffeId: WEB },
            credential: { type: 'jwt-svid', verified: true },
            destination: { service },
            action: { method: 'GET', path: '/' },
          }),
        })
      ).status;
    assert.equal(await decide(await issueJwt(WEB, CONTROL_PLANE), 'hello'), 403);
    assert.equal(await decide(await issueJwt(HELLO, CONTROL_PLANE), 'hello'), 200);
    assert.equal(await decide(server.adminToken, 'hello'), 200);
    const asHello = await ship(await issueJwt(HELLO, CONTROL_PLANE), { records: [record, record] });
    assert.equal(asHello.status, 200);
    assert.deepEqual(await asHello.json(), { written: 2, failed: [], refused: [] });
    const again = await ship(server.adminToken, { records: [record] });
    assert.deepEqual(await again.json(), { written: 1, failed: [], refused: [] });
    // Marked as sent before, it is also looked for in the log; a new record of the batch is written.
    const resent = await ship(server.adminToken, {
      records: [record, { ...record, decisionId: 'test-record-3' }],
      resend: true,
    });
    assert.deepEqual(await resent.json(), { written: 2, failed: [], refused: [] });
    const badFlag = await ship(server.adminToken, { records: [record], resend: 'yes' });
    assert.equal(badFlag.status, 400);
    assert.match(((await badFlag.json()) as { error: { message: string } }).error.message, /`resend`/);
    const copies = await logged(['--service', 'hello'], (rs) =>
      rs.some((r) => r.decisionId === 'test-record-3'),
    );
    assert.equal(
      copies.filter((r) => r.decisionId === 'test-record-1').length,
      1,
      'a record sent again is logged once',
    );
    // A malformed record is refused alone; the others of its batch are written.
    const mixed = await ship(server.adminToken, {
      records: [
        { ...record, decisionId: 'test-record-4' },
        { ...record, decisionId: 'test-record-5', via: 'proxy:web' },
        // What toISOString writes after the year 9999, which the log does not keep.
        { ...record, decisionId: 'test-record-6', time: '+012026-01-01T00:00:00.000Z' },
        { ...record, decisionId: 'test-record-7' },
      ],
    });
    assert.equal(mixed.status, 200);
    const answer = (await mixed.json()) as {
      written: number;
      failed: number[];
      refused: { index: number; message: string }[];
    };
    assert.equal(answer.written, 2);
    assert.deepEqual(answer.failed, []);
    assert.deepEqual(
      answer.refused.map((r) => r.index),
      [1, 2],
    );
    assert.match(answer.refused[0]!.message, /invalid record 1: via/);
    assert.match(answer.refused[1]!.message, /invalid record 2: time: .*years 0000 to 9999/);
    const kept = await logged(['--service', 'hello'], (rs) =>
      rs.some((r) => r.decisionId === 'test-record-7'),
    );
    assert.deepEqual(
      kept
        .map((r) => String(r.decisionId))
        .filter((id) => /^test-record-[4-7]$/.test(id))
        .sort(),
      ['test-record-4', 'test-record-7'],
    );
    const notAList = await ship(server.adminToken, { records: 'all of them' });
    assert.equal(notAList.status, 400);
    const extra = await ship(server.adminToken, {
      records: [{ ...record, decisionId: 'test-record-2', note: 'x' }],
    });
    assert.equal(extra.status, 200);
    const stored = await logged(['--service', 'hello'], (rs) =>
      rs.some((r) => r.decisionId === 'test-record-2'),
    );
    assert.equal(
      stored.find((r) => r.decisionId === 'test-record-2')!.note,
      undefined,
      'unknown fields are not logged',
    );
  });

  test('with the server stopped the proxy keeps enforcing the last policy and revocations', async () => {
    const revoked = await issueJwt(WEB, HELLO);
    assert.equal((await cli(['revoke', '--credential', jtiOf(revoked)], env)).code, 0);
    await sleep(600);
    assert.equal(await server.stop(), 0);
    await sleep(600);
    assert.match(enforcing.stderr(), /"event":"sync_failed"/);
    seen = [];
    const ok = await call(`${enforcing.url}/hello/offline`, { cert: webCert });
    assert.equal(ok.status, 200, 'the last policy still allows what it allowed');
    const offlineId = String(ok.headers['x-gatehouse-decision-id']);
    const bearer = await call(`${enforcing.url}/hello/`, {
      headers: { authorization: `Bearer ${webToken}` },
    });
    assert.equal(bearer.status, 200);
    assert.equal((await call(`${enforcing.url}/hello/`)).status, 403, 'and denies what it denied');
    assert.equal((await call(`${enforcing.url}/admin/`, { cert: webCert })).json().reason, 'deny_rule');
    const gone = await call(`${enforcing.url}/hello/`, { headers: { authorization: `Bearer ${revoked}` } });
    assert.equal(gone.json().reason, 'credential_revoked', 'revocations are kept too');
    assert.equal(seen.length, 2);

    // Back on the same address: the decisions made meanwhile reach the log.
    server = await startServer(dir, ['--policy', POLICY, '--listen', `127.0.0.1:${serverPort}`]);
    const records = await logged(['--service', 'hello'], (rs) => rs.some((r) => r.decisionId === offlineId));
    assert.equal(records.find((r) => r.decisionId === offlineId)!.decision, 'allow');
    // The next poll may come after the shipped records: wait for it.
    for (let i = 0; i < 50 && !enforcing.stderr().includes('"event":"sync_restored"'); i++) await sleep(50);
    assert.match(enforcing.stderr(), /"event":"sync_restored"/);
  });
});
