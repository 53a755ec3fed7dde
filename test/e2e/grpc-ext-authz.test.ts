/**
 * Envoy's gRPC ext_authz (`envoy.service.auth.v3.Authorization/Check`)
 * against the real server process started with `--grpc-listen`, called by a
 * grpc-js client built from the same proto: OK only for an allow, a non-OK
 * status with a 403 denied_response otherwise, and every check in the
 * decision log.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { credentials, type Client, type ServiceError } from '@grpc/grpc-js';
import { loadAuthorizationService } from '../../src/server/grpc/external-auth-proto.js';
import type { CheckResponse } from '../../src/server/grpc/ext-authz-grpc-server.js';
import { built, cli, startServer, type ServerProcess } from '../support/server-process.js';

const WEB = 'spiffe://acme.corp/ns/shop/sa/web';
const ORDERS = 'spiffe://acme.corp/ns/shop/sa/orders';

type Check = (request: unknown, callback: (err: ServiceError | null, res: CheckResponse) => void) => void;

describe('gRPC ext_authz', { skip: built ? false : 'run `npm run build` first' }, () => {
  let dir: string;
  let server: ServerProcess;
  let env: Record<string, string>;
  let client: Client & { Check: Check };
  let token: string;
  let chain: string;

  const check = (request: unknown) =>
    new Promise<CheckResponse>((resolve, reject) =>
      client.Check(request, (err, res) => (err ? reject(err) : resolve(res))),
    );
  const attributes = (over: { headers?: Record<string, string>; ext?: Record<string, string> } = {}) => ({
    source: {
      address: { socket_address: { address: '10.10.1.20', port_value: 51000 } },
      principal: WEB,
      certificate: encodeURIComponent(chain),
    },
    destination: { address: { socket_address: { address: '10.20.0.5', port_value: 8443 } } },
    request: { http: { method: 'POST', path: '/orders', headers: over.headers ?? {} } },
    context_extensions: over.ext ?? { service: 'orders' },
  });
  const header = (res: CheckResponse, key: string) =>
    [...(res.ok_response?.headers ?? []), ...(res.denied_response?.headers ?? [])].find(
      (h) => h.header.key === key,
    )?.header.value;
  const assertDenied = (res: CheckResponse) => {
    assert.notEqual(res.status?.code ?? 0, 0, JSON.stringify(res));
    assert.equal(res.ok_response, undefined);
    assert.equal(res.denied_response?.status.code, 403);
    return JSON.parse(res.denied_response.body) as { decision: string; reason: string; decisionId?: string };
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-grpc-'));
    server = await startServer(dir, ['--grpc-listen', '127.0.0.1:0']);
    env = { GATEHOUSE_SERVER: server.url, GATEHOUSE_TOKEN: server.adminToken };
    const address = /ext_authz gRPC\s+(\S+)/.exec(server.stdout())?.[1];
    assert.ok(address, server.stdout());
    const Authorization = loadAuthorizationService();
    client = new Authorization(address, credentials.createInsecure()) as unknown as Client & { Check: Check };
    const e = await cli(
      ['entry', 'create', '--spiffe-id', WEB, '--kind', 'service', '--owner', 'team-shop'],
      env,
    );
    assert.equal(e.code, 0, e.err);
    const t = await cli(['svid', 'jwt', '--spiffe-id', WEB, '--audience', ORDERS], env);
    assert.equal(t.code, 0, t.err);
    token = t.out.trim();
    const x = await cli(['svid', 'x509', '--spiffe-id', WEB, '--output', 'json'], env);
    assert.equal(x.code, 0, x.err);
    chain = (JSON.parse(x.out) as { chainPem: string }).chainPem;
  });
  after(async () => {
    client?.close();
    const code = await server?.stop();
    assert.equal(code, 0, 'the server shuts down cleanly with the gRPC listener open');
    rmSync(dir, { recursive: true, force: true });
  });

  test('a verified JWT-SVID over mTLS is allowed: OK with the decision id', async () => {
    const res = await check({ attributes: attributes({ headers: { authorization: `Bearer ${token}` } }) });
    assert.equal(res.status.code, 0, JSON.stringify(res));
    assert.equal(res.denied_response, undefined);
    assert.match(header(res, 'x-gatehouse-decision-id') ?? '', /.+/);
  });

  test('a peer certificate of another identity beside the bearer: neither counts', async () => {
    const search = 'spiffe://acme.corp/ns/shop/sa/search';
    await cli(['entry', 'create', '--spiffe-id', search, '--kind', 'service', '--owner', 'team-shop'], env);
    const x = await cli(['svid', 'x509', '--spiffe-id', search, '--output', 'json'], env);
    assert.equal(x.code, 0, x.err);
    const a = attributes({ headers: { authorization: `Bearer ${token}` } });
    const res = await check({
      attributes: {
        ...a,
        source: {
          ...a.source,
          certificate: encodeURIComponent((JSON.parse(x.out) as { chainPem: string }).chainPem),
        },
      },
    });
    assert.equal(assertDenied(res).reason, 'credential_unverified');
  });

  test('the source address is the one Envoy gives, whatever x-forwarded-for says', async () => {
    const a = attributes({ headers: { 'x-forwarded-for': '10.10.1.20' } });
    const res = await check({
      attributes: {
        ...a,
        source: { ...a.source, address: { socket_address: { address: '203.0.113.9', port_value: 51000 } } },
      },
    });
    assert.equal(assertDenied(res).reason, 'default_deny');
    assert.equal((await check({ attributes: a })).status.code, 0, 'from 10.10.1.20 itself');
  });

  test('the peer certificate alone is an X.509-SVID credential', async () => {
    const res = await check({ attributes: attributes() });
    assert.equal(res.status.code, 0, JSON.stringify(res));
  });

  test('no credential is PERMISSION_DENIED with a 403 and the decision id', async () => {
    const a = attributes();
    const { certificate: _c, ...source } = a.source;
    const res = await check({ attributes: { ...a, source } });
    assert.equal(res.status.code, 7);
    const body = assertDenied(res);
    assert.equal(body.decision, 'deny');
    assert.equal(body.reason, 'credential_missing');
    assert.equal(header(res, 'x-gatehouse-decision-id'), body.decisionId);
    const forged = await check({
      attributes: attributes({ headers: { authorization: `Bearer ${token.slice(0, -4)}AAAA` } }),
    });
    assert.equal(assertDenied(forged).reason, 'credential_unverified');
  });

  test('a Bearer field that does not parse is a deny, even beside a valid certificate', async () => {
    // The certificate alone is an allow: a malformed bearer credential must not fall back to it.
    for (const authorization of [
      `Bearer ${token} `,
      `Bearer\t${token}`,
      ` Bearer ${token}`,
      `Bearer ${token} x`,
      `Bearer ${token}%`,
      'Bearer',
      'Bearer,x',
    ]) {
      const res = await check({ attributes: attributes({ headers: { authorization } }) });
      const body = assertDenied(res);
      assert.equal(body.reason, 'request_invalid', JSON.stringify(authorization));
      assert.equal(res.status.code, 7);
    }
    // The scheme in any case and a run of spaces are well-formed; another scheme is not a bearer credential.
    for (const authorization of [`bearer  ${token}`, `BEARER ${token}`, 'Basic dXNlcjpwYXNz']) {
      const res = await check({ attributes: attributes({ headers: { authorization } }) });
      assert.equal(res.status.code, 0, `${authorization}: ${JSON.stringify(res)}`);
    }
  });

  test('the service comes from context_extensions, else the destination principal, else a deny', async () => {
    const unknown = await check({ attributes: attributes({ ext: { service: 'no-such-service' } }) });
    assert.equal(assertDenied(unknown).decision, 'deny');
    const missing = await check({ attributes: attributes({ ext: {} }) });
    const body = assertDenied(missing);
    assert.equal(body.reason, 'request_invalid');
    assert.equal(missing.status.code, 7);
    const noExt = attributes({ ext: {} });
    const byPrincipal = await check({
      attributes: { ...noExt, destination: { ...noExt.destination, principal: ORDERS } },
    });
    assert.equal(byPrincipal.status.code, 0, JSON.stringify(byPrincipal));
    const strangerPrincipal = await check({
      attributes: { ...attributes({ ext: {} }), destination: { principal: 'spiffe://acme.corp/nobody' } },
    });
    assertDenied(strangerPrincipal);
    assertDenied(await check({}));
  });

  test('garbage fields are a deny, never a crash', async () => {
    const a = attributes();
    for (const attrs of [
      { ...a, request: { http: { method: 'get ', path: 'x' } } },
      { ...a, request: { http: { method: 'POST', path: '/orders/%2e%2e/admin' } } },
      { ...a, request: {} },
      { ...a, source: { ...a.source, address: { socket_address: { address: 'not-an-ip' } } } },
      { ...a, source: { ...a.source, certificate: '%E0%A4%A' } },
      { ...a, source: { principal: 'spiffe://' + 'x'.repeat(5000) } },
      { ...a, context_extensions: { service: '../\u0000' } },
      attributes({ headers: { authorization: 'Bearer x.y.z', 'x-forwarded-client-cert': 'Cert="%"' } }),
    ]) {
      assertDenied(await check({ attributes: attrs }));
    }
    // Bytes that are no CheckRequest at all: a gRPC error, not OK, and the server keeps serving.
    const raw = await new Promise<ServiceError | null>((resolve) =>
      client.makeUnaryRequest(
        '/envoy.service.auth.v3.Authorization/Check',
        (b: Buffer) => b,
        (b: Buffer) => b,
        Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]),
        (err) => resolve(err),
      ),
    );
    assert.ok(raw && raw.code !== 0, 'undecodable bytes are an error status');
    assert.equal((await check({ attributes: attributes() })).status.code, 0);
  });

  test('checks are in the decision log, via ext_authz_grpc', async () => {
    const res = await check({ attributes: attributes({ headers: { authorization: `Bearer ${token}` } }) });
    const id = header(res, 'x-gatehouse-decision-id');
    const list = await fetch(`${server.url}/v1/decisions?limit=1000`, {
      headers: { authorization: `Bearer ${server.adminToken}` },
    });
    assert.equal(list.status, 200);
    const { decisions } = (await list.json()) as {
      decisions: { decisionId: string; via: string; decision: string; destination: { service: string } }[];
    };
    const record = decisions.find((d) => d.decisionId === id);
    assert.ok(record, `decision ${id} is logged`);
    assert.equal(record.via, 'ext_authz_grpc');
    assert.equal(record.decision, 'allow');
    assert.equal(record.destination.service, 'orders');
  });
});
