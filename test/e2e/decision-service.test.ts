/**
 * The decision service as enforcement points use it, against the real server
 * process: `/v1/decide` with a presented JWT-SVID (verified, revocation
 * included), Envoy's HTTP ext_authz contract, the durable decision log with
 * its hash chain across a restart, and metrics.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { legacyMixedJwtSvid } from '../support/legacy-jwt-svid.js';
import { built, cli, startServer, type ServerProcess } from '../support/server-process.js';

const WEB = 'spiffe://acme.corp/ns/shop/sa/web';
const ORDERS = 'spiffe://acme.corp/ns/shop/sa/orders';

describe('decision service', { skip: built ? false : 'run `npm run build` first' }, () => {
  let dir: string;
  let server: ServerProcess;
  let env: Record<string, string>;
  let token: string;
  const ids: string[] = [];

  const decide = async (body: unknown, auth = env.GATEHOUSE_TOKEN) => {
    const res = await fetch(`${server.url}/v1/decide`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${auth}` },
      body: JSON.stringify(body),
    });
    const json = (await res.json()) as Record<string, unknown>;
    if (res.ok) ids.push(json.decisionId as string);
    return { status: res.status, json, header: res.headers.get('x-gatehouse-decision-id') };
  };
  const request = (credential?: unknown) => ({
    source: { spiffeId: WEB, ip: '10.10.1.20' },
    ...(credential ? { credential } : {}),
    destination: { service: 'orders', port: 8443 },
    action: { method: 'POST', path: '/orders' },
    context: { mtls: true, risk: 10 },
  });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-decide-'));
    server = await startServer(dir);
    env = { GATEHOUSE_SERVER: server.url, GATEHOUSE_TOKEN: server.adminToken };
    const e = await cli(
      ['entry', 'create', '--spiffe-id', WEB, '--kind', 'service', '--owner', 'team-shop'],
      env,
    );
    assert.equal(e.code, 0, e.err);
    const t = await cli(['svid', 'jwt', '--spiffe-id', WEB, '--audience', ORDERS], env);
    assert.equal(t.code, 0, t.err);
    token = t.out.trim();
  });
  after(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the decision API needs a caller credential', async () => {
    const res = await fetch(`${server.url}/v1/decide`, { method: 'POST', body: '{}' });
    assert.equal(res.status, 401);
  });

  test('a presented JWT-SVID is verified by the decision point', async () => {
    const ok = await decide(request({ jwtSvid: token }));
    assert.equal(ok.status, 200);
    assert.equal(ok.json.decision, 'allow', JSON.stringify(ok.json));
    assert.equal(ok.header, ok.json.decisionId);
    const missing = await decide(request());
    assert.equal(missing.json.decision, 'deny');
    assert.equal(missing.json.reason, 'credential_missing');
    const forged = await decide(request({ jwtSvid: token.slice(0, -4) + 'AAAA' }));
    assert.equal(forged.json.reason, 'credential_unverified');
    const other = await decide({
      ...request({ jwtSvid: token }),
      source: { spiffeId: 'spiffe://acme.corp/ns/x', ip: '10.10.1.20' },
    });
    assert.equal(other.json.decision, 'deny', 'a token for another identity does not vouch for this one');
  });

  test('a JWT-SVID that names the control plane beside the service, as attestation once gave, is refused', async () => {
    const legacy = await legacyMixedJwtSvid(join(dir, 'gatehouse.db'), WEB, ORDERS);
    const d = await decide(request({ jwtSvid: legacy }));
    assert.equal(d.status, 200);
    assert.equal(d.json.decision, 'deny', JSON.stringify(d.json));
    assert.equal(d.json.layer, 'credential');
    assert.equal(d.json.reason, 'credential_unverified');
    // Nor is it a caller credential: orders, holding it, cannot use the decision API as web.
    assert.equal((await decide(request({ jwtSvid: token }), legacy)).status, 401);
    const verified = await fetch(`${server.url}/v1/verify/jwt`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${env.GATEHOUSE_TOKEN}` },
      body: JSON.stringify({ token: legacy, audience: ORDERS }),
    });
    const body = (await verified.json()) as { valid: boolean; error: { code: string; message: string } };
    assert.equal(body.valid, false);
    assert.equal(body.error.code, 'svid_bad_audience');
    assert.match(body.error.message, /a control-plane JWT-SVID is not for services/);
  });

  test('Envoy ext_authz: 200 allows, 403 denies, with the decision id', async () => {
    const call = (path: string, headers: Record<string, string>) =>
      fetch(`${server.url}/v1/ext_authz/orders${path}`, {
        method: 'POST',
        headers: { 'x-forwarded-port': '8443', ...headers },
      });
    // The peer certificate as Envoy forwards it: mTLS, which the orders permission requires.
    const x = await cli(['svid', 'x509', '--spiffe-id', WEB, '--output', 'json'], env);
    assert.equal(x.code, 0, x.err);
    const chain = (JSON.parse(x.out) as { chainPem: string }).chainPem;
    const xfcc = `By=${ORDERS};Cert="${encodeURIComponent(chain)}";URI=${WEB}`;
    const allowed = await call('/orders', {
      'x-forwarded-client-cert': xfcc,
      'x-forwarded-for': '10.10.1.20',
    });
    assert.equal(allowed.status, 200, await allowed.text());
    assert.match(allowed.headers.get('x-gatehouse-decision-id') ?? '', /.+/);
    const bearer = await call('/orders', {
      authorization: `Bearer ${token}`,
      'x-forwarded-for': '10.10.1.20',
    });
    assert.equal(bearer.status, 403, 'a verified bearer token without mTLS fails `context.mtls == true`');
    assert.equal(((await bearer.json()) as { reason: string }).reason, 'default_deny');
    const denied = await call('/orders', { 'x-forwarded-for': '10.10.1.20' });
    assert.equal(denied.status, 403);
    const tricky = await call('/orders/%2e%2e/admin', {
      'x-forwarded-client-cert': xfcc,
      'x-forwarded-for': '10.10.1.20',
    });
    assert.equal(tricky.status, 403);
    // A Bearer field that does not parse is refused, not passed over for the certificate.
    for (const authorization of [`Bearer ${token} x`, `Bearer ${token}%`, `Bearer\t${token}`, 'Bearer']) {
      const malformed = await call('/orders', {
        authorization,
        'x-forwarded-client-cert': xfcc,
        'x-forwarded-for': '10.10.1.20',
      });
      assert.equal(malformed.status, 403, JSON.stringify(authorization));
      assert.equal(((await malformed.json()) as { reason: string }).reason, 'request_invalid');
    }
    const basic = await call('/orders', {
      authorization: 'Basic dXNlcjpwYXNz',
      'x-forwarded-client-cert': xfcc,
      'x-forwarded-for': '10.10.1.20',
    });
    assert.equal(basic.status, 200, 'another scheme is not a bearer credential: the certificate decides');
    const bad = await fetch(`${server.url}/v1/ext_authz/orders/orders`, {
      method: 'POST',
      headers: { authorization: 'Bearer x.y.z', 'x-forwarded-for': '10.10.1.20' },
    });
    assert.equal(bad.status, 403);
  });

  test('ext_authz: a certificate beside a bearer makes the request mTLS only when it verifies for the same identity', async () => {
    const call = async (headers: Record<string, string>) => {
      const res = await fetch(`${server.url}/v1/ext_authz/orders/orders`, {
        method: 'POST',
        headers: { 'x-forwarded-port': '8443', 'x-forwarded-for': '10.10.1.20', ...headers },
      });
      return {
        status: res.status,
        reason: res.ok ? 'allow' : ((await res.json()) as { reason: string }).reason,
      };
    };
    const svid = async (spiffeId: string) => {
      const x = await cli(['svid', 'x509', '--spiffe-id', spiffeId, '--output', 'json'], env);
      assert.equal(x.code, 0, x.err);
      return encodeURIComponent((JSON.parse(x.out) as { chainPem: string }).chainPem);
    };
    const bearer = { authorization: `Bearer ${token}` };
    // `perm-web-orders` asks for mTLS: a bearer alone is not enough.
    assert.deepEqual(await call(bearer), { status: 403, reason: 'default_deny' });
    assert.deepEqual(await call({ ...bearer, 'x-forwarded-client-cert': 'Cert=junk' }), {
      status: 403,
      reason: 'credential_unverified',
    });
    const own = await svid(WEB);
    assert.deepEqual(await call({ ...bearer, 'x-forwarded-client-cert': `Cert="${own}";URI=${WEB}` }), {
      status: 200,
      reason: 'allow',
    });
    const otherId = 'spiffe://acme.corp/ns/shop/sa/search';
    await cli(['entry', 'create', '--spiffe-id', otherId, '--kind', 'service', '--owner', 'team-shop'], env);
    const other = await svid(otherId);
    assert.deepEqual(await call({ ...bearer, 'x-forwarded-client-cert': `Cert="${other}";URI=${otherId}` }), {
      status: 403,
      reason: 'credential_unverified',
    });
  });

  test('ext_authz: a port in the path prefix (`orders:8443`) is the destination port, whatever the headers say', async () => {
    const x = await cli(['svid', 'x509', '--spiffe-id', WEB, '--output', 'json'], env);
    const xfcc = `Cert="${encodeURIComponent((JSON.parse(x.out) as { chainPem: string }).chainPem)}";URI=${WEB}`;
    const call = (service: string, port: string) =>
      fetch(`${server.url}/v1/ext_authz/${service}/orders`, {
        method: 'POST',
        headers: {
          'x-forwarded-port': port,
          host: `orders:${port}`,
          'x-forwarded-client-cert': xfcc,
          'x-forwarded-for': '10.10.1.20',
        },
      });
    assert.equal((await call('orders', '8443')).status, 200);
    assert.equal((await call('orders:8443', '9999')).status, 200);
    const other = await call('orders:9999', '8443');
    assert.equal(other.status, 403);
    assert.equal(((await other.json()) as { layer: string }).layer, 'flow');
    for (const bad of ['orders:0', 'orders:65536', 'orders:x', 'orders:', 'orders:08443']) {
      const res = await call(bad, '8443');
      assert.equal(res.status, 400, bad);
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'request_invalid');
    }
  });

  test('ext_authz: the source address is the last x-forwarded-for entry, the one the proxy added', async () => {
    const x = await cli(['svid', 'x509', '--spiffe-id', WEB, '--output', 'json'], env);
    const xfcc = `Cert="${encodeURIComponent((JSON.parse(x.out) as { chainPem: string }).chainPem)}";URI=${WEB}`;
    const call = (forwardedFor: string) =>
      fetch(`${server.url}/v1/ext_authz/orders/orders`, {
        method: 'POST',
        headers: {
          'x-forwarded-port': '8443',
          'x-forwarded-client-cert': xfcc,
          'x-forwarded-for': forwardedFor,
        },
      });
    assert.equal((await call('10.10.1.20')).status, 200);
    assert.equal((await call('203.0.113.9, 10.10.1.20')).status, 200);
    // The client wrote the first entry; the proxy appended its real address.
    const spoofed = await call('10.10.1.20, 203.0.113.9');
    assert.equal(spoofed.status, 403);
    assert.equal(((await spoofed.json()) as { layer: string }).layer, 'zone');
  });

  test('hostile input gets a clear 4xx, never an allow', async () => {
    for (const body of [
      '{',
      '[]',
      '"x"',
      JSON.stringify({ source: 1 }),
      JSON.stringify({ ...request(), action: { method: 'get ', path: 'x' } }),
    ]) {
      const res = await fetch(`${server.url}/v1/decide`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${env.GATEHOUSE_TOKEN}` },
        body,
      });
      assert.ok(res.status >= 400 && res.status < 500, `${body} → ${res.status}`);
    }
    const huge = await fetch(`${server.url}/v1/decide`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${env.GATEHOUSE_TOKEN}` },
      body: JSON.stringify({ pad: 'x'.repeat(2 * 1024 * 1024) }),
    });
    assert.equal(huge.status, 413);
  });

  test('revoking the credential denies at once', async () => {
    const jti = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).jti as string;
    assert.equal((await cli(['revoke', '--credential', jti], env)).code, 0);
    const d = await decide(request({ jwtSvid: token }));
    assert.equal(d.json.reason, 'credential_revoked');
  });

  test('every answered decision is in the log, the chain verifies, and both survive a restart', async () => {
    const list = await cli(['decisions', '--limit', '100', '--output', 'json'], env);
    assert.equal(list.code, 0, list.err);
    const logged = list.out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { decisionId: string });
    for (const id of ids)
      assert.ok(
        logged.some((r) => r.decisionId === id),
        `decision ${id} is logged`,
      );
    const table = await cli(['decisions', '--service', 'orders', '--verdict', 'allow'], env);
    assert.match(
      table.out,
      /spiffe:\/\/acme\.corp\/ns\/shop\/sa\/web\s+10\.10\.1\.20 \(prod\)\s+orders:8443\s+POST \/orders\s+allow/,
    );
    // A date alone is the start of that day, UTC, as for the other verbs; a bad time is a usage error.
    const day = list.out
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { time: string }).time.slice(0, 10))
      .sort()[0]!;
    const sinceToday = await cli(['decisions', '--since', day, '--output', 'json'], env);
    assert.equal(sinceToday.code, 0, sinceToday.err);
    assert.equal(sinceToday.out.trim().split('\n').length, Math.min(logged.length, 50));
    const future = await cli(['decisions', '--since', '2999-01-01', '--output', 'json'], env);
    assert.equal(future.code, 0, future.err);
    assert.equal(future.out, '');
    const bad = await cli(['decisions', '--since', 'yesterday'], env);
    assert.notEqual(bad.code, 0);
    assert.match(bad.err, /--since must be an RFC 3339 date-time/);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    assert.match(
      metrics,
      /gatehouse_decisions_total\{verdict="allow",layer="permission",mode="enforce"\} \d+/,
    );
    assert.match(metrics, /gatehouse_decision_log_queue_depth 0/);
    // fetch's plain requests to /v1/decide took the lean path; its GETs elsewhere went to Node's server.
    assert.match(metrics, /gatehouse_http_lean_requests_total [1-9]\d*/);
    assert.match(metrics, /gatehouse_http_lean_handoffs_total [1-9]\d*/);
    assert.equal(await server.stop(), 0);
    server = await startServer(dir);
    env.GATEHOUSE_SERVER = server.url;
    const v = await cli(['decisions', 'verify'], env);
    assert.equal(v.code, 0, v.out + v.err);
    assert.match(v.out, new RegExp(`ok: ${logged.length} record\\(s\\), hash chain intact`));
    const exported = await cli(['decisions', 'export'], env);
    assert.equal(exported.out.trim().split('\n').length, logged.length);
  });

  test('the log exports as a stream: chunked, in order, from a sequence number', async () => {
    // More records than one read of the store (1,000), so the answer comes in several chunks.
    const batch = { requests: Array.from({ length: 1000 }, () => request()) };
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${server.url}/v1/decide/batch`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${env.GATEHOUSE_TOKEN}` },
        body: JSON.stringify(batch),
      });
      assert.equal(res.status, 200);
      await res.arrayBuffer();
    }
    const res = await fetch(`${server.url}/v1/decisions/export?fromSeq=2`, {
      headers: { authorization: `Bearer ${env.GATEHOUSE_TOKEN}` },
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('transfer-encoding'), 'chunked');
    assert.equal(res.headers.get('content-length'), null);
    assert.equal(res.headers.get('content-type'), 'application/x-ndjson');
    const seqs = (await res.text())
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { seq: number }).seq);
    assert.ok(seqs.length > 3000, `${seqs.length} records exported`);
    seqs.forEach((seq, i) => assert.equal(seq, i + 2));

    // The CLI streams it too, with the credential from --token-file.
    const tokenFile = join(dir, 'admin.token.copy');
    writeFileSync(tokenFile, `${env.GATEHOUSE_TOKEN}\n`);
    const viaFile = await cli(['decisions', 'export', '--from-seq', '3000', '--token-file', tokenFile], {
      GATEHOUSE_SERVER: server.url,
    });
    assert.equal(viaFile.code, 0, viaFile.err);
    const lines = viaFile.out.trim().split('\n');
    assert.equal(lines.length, seqs.length + 2 - 3000);
    assert.equal((JSON.parse(lines[0]!) as { seq: number }).seq, 3000);
    const badSeq = await cli(['decisions', 'export', '--from-seq', '0'], env);
    assert.equal(badSeq.code, 3);
    assert.match(badSeq.err, /--from-seq must be a whole number of 1 or more/);

    // A client that goes away half way through does not hurt the server.
    await new Promise<void>((resolve, reject) => {
      const req = httpRequest(
        `${server.url}/v1/decisions/export`,
        { headers: { authorization: `Bearer ${env.GATEHOUSE_TOKEN}` } },
        (r) => {
          r.once('data', () => {
            req.destroy();
            resolve();
          });
        },
      );
      req.on('error', (e) => ((e as NodeJS.ErrnoException).code === 'ECONNRESET' ? resolve() : reject(e)));
      req.end();
    });
    const health = await fetch(`${server.url}/healthz`);
    assert.equal(health.status, 200);
    const verified = await cli(['decisions', 'verify'], env);
    assert.equal(verified.code, 0, verified.err);
  });
});
