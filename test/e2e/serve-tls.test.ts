/**
 * `gatehouse serve --tls-cert --tls-key`: the control plane over HTTPS, and
 * gRPC ext_authz over TLS, with a real server process. Clients that trust
 * the certificate (here through NODE_EXTRA_CA_CERTS, as an operator would
 * give the CLI and the proxy a private CA) reach it; plaintext and clients
 * that do not trust it do not; a workload may authenticate with its
 * X.509-SVID as client certificate; a wrong pair of files is a usage error.
 */
import assert from 'node:assert/strict';
import {
  createPublicKey,
  generateKeyPairSync,
  X509Certificate,
  type webcrypto as NodeWebCrypto,
} from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, get as httpGet, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent, get as httpsGet, request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { credentials, type Client, type ServiceError } from '@grpc/grpc-js';
import { webcrypto, x509 } from '../../src/core/identity/x509-library.js';
import { loadAuthorizationService } from '../../src/server/grpc/external-auth-proto.js';
import type { CheckResponse } from '../../src/server/grpc/ext-authz-grpc-server.js';
import {
  built,
  runGatehouse,
  spawnGatehouse,
  startServer,
  type ServerProcess,
} from '../support/server-process.js';
import { csrFor } from '../support/csr.js';

type Check = (request: unknown, callback: (err: ServiceError | null, res: CheckResponse) => void) => void;

/** A self-signed certificate for 127.0.0.1 (or with a URI name) and its key, PEM. */
async function selfSigned(uri?: string): Promise<{ cert: string; key: string }> {
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = (await webcrypto.subtle.generateKey(alg, true, [
    'sign',
    'verify',
  ])) as NodeWebCrypto.CryptoKeyPair;
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: '01',
      name: 'CN=gatehouse test',
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + 3_600_000),
      keys,
      signingAlgorithm: alg,
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(
          x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.digitalSignature,
          true,
        ),
        new x509.SubjectAlternativeNameExtension([
          uri ? { type: 'url', value: uri } : { type: 'ip', value: '127.0.0.1' },
        ]),
      ],
    },
    webcrypto,
  );
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  const key = `-----BEGIN PRIVATE KEY-----\n${pkcs8.toString('base64').replace(/(.{64})/g, '$1\n')}\n-----END PRIVATE KEY-----\n`;
  return { cert: cert.toString('pem'), key };
}

/** A new P-256 private key, PEM. */
const newKey = () =>
  generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({
    type: 'pkcs8',
    format: 'pem',
  }) as string;

/** The public key of a certificate or a private key, SPKI DER in base64, to compare keys by. */
const spkiOf = (pem: string) =>
  (pem.includes('CERTIFICATE') ? new X509Certificate(pem).publicKey : createPublicKey(pem))
    .export({ type: 'spki', format: 'der' })
    .toString('base64');

function status(get: typeof httpsGet, url: string, ca?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = get(url, ca ? { ca } : {}, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.setTimeout(5000, () => req.destroy(new Error('timeout')));
  });
}

interface Call {
  token?: string;
  body?: unknown;
  /** A client certificate chain and its key, PEM. */
  client?: { cert: string; key: string };
  /** Connections to reuse; by default each call has a connection of its own. */
  agent?: Agent;
}

/** One HTTPS request on a connection of its own, trusting `ca`: the status and the JSON body. */
function call(
  url: string,
  ca: string,
  method: string,
  path: string,
  { token, body, client, agent }: Call = {},
): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      url + path,
      {
        method,
        ca,
        agent: agent ?? false,
        ...(client ?? {}),
        headers: {
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined }),
        );
      },
    );
    req.on('error', reject);
    req.setTimeout(5000, () => req.destroy(new Error('timeout')));
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

describe('serve over TLS', { skip: built ? false : 'run `npm run build` first' }, () => {
  let dir: string;
  let server: ServerProcess;
  let pem: { cert: string; key: string };
  let certFile: string;
  let keyFile: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-tls-'));
    pem = await selfSigned();
    certFile = join(dir, 'cert.pem');
    keyFile = join(dir, 'key.pem');
    writeFileSync(certFile, pem.cert);
    writeFileSync(keyFile, pem.key);
    server = await startServer(dir, [
      '--tls-cert',
      certFile,
      '--tls-key',
      keyFile,
      '--grpc-listen',
      '127.0.0.1:0',
    ]);
  });
  after(async () => {
    assert.equal(await server?.stop(), 0);
    rmSync(dir, { recursive: true, force: true });
  });

  test('the banner and the API are HTTPS; plaintext and untrusting clients get nothing', async () => {
    assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(await status(httpsGet, `${server.url}/healthz`, pem.cert), 200);
    await assert.rejects(status(httpsGet, `${server.url}/healthz`), /self-signed|certificate/i);
    await assert.rejects(
      status(httpGet as typeof httpsGet, server.url.replace('https:', 'http:') + '/healthz'),
    );
  });

  test('the CLI reaches it when told to trust the certificate, and refuses it otherwise', async () => {
    const env = { GATEHOUSE_SERVER: server.url, GATEHOUSE_TOKEN: server.adminToken };
    const trusted = await runGatehouse(['decisions', 'verify'], { ...env, NODE_EXTRA_CA_CERTS: certFile });
    assert.equal(trusted.code, 0, trusted.out + trusted.err);
    assert.match(trusted.out, /hash chain intact/);
    const untrusted = await runGatehouse(['decisions', 'verify'], { ...env, NODE_EXTRA_CA_CERTS: '' });
    assert.notEqual(untrusted.code, 0, untrusted.out);
  });

  /** The API over HTTPS, trusting the server's certificate. */
  const api = (method: string, path: string, options?: Call) =>
    call(server.url, pem.cert, method, path, options);

  /** Registers `spiffeId` and has the server issue it an X.509-SVID with a new key. */
  async function issuedSvid(
    spiffeId: string,
  ): Promise<{ chainPem: string; privateKeyPem: string; serial: string }> {
    const token = server.adminToken;
    const entry = await api('POST', '/v1/entries', {
      token,
      body: { spiffeId, kind: 'service', owner: 'team-test', attestation: [{ type: 'join-token' }] },
    });
    // Registered by an earlier test, it is the same workload.
    assert.ok(entry.status === 201 || entry.status === 409, JSON.stringify(entry.body));
    const issued = await api('POST', '/v1/svid/x509', { token, body: { spiffeId } });
    assert.equal(issued.status, 200, JSON.stringify(issued.body));
    return issued.body as { chainPem: string; privateKeyPem: string; serial: string };
  }

  test('a workload authenticates with its X.509-SVID as client certificate, until it is revoked', async () => {
    const admin = server.adminToken;
    // The orders service's own enforcement point: a workload asks only about services it guards.
    const spiffeId = 'spiffe://acme.corp/ns/shop/sa/orders';
    const svid = await issuedSvid(spiffeId);
    const client = { cert: svid.chainPem, key: svid.privateKeyPem };
    const decide = {
      source: { spiffeId: 'spiffe://acme.corp/ns/shop/sa/web', ip: '10.10.1.20' },
      credential: { type: 'x509-svid', verified: true },
      destination: { service: 'orders', port: 8443 },
      action: { method: 'GET', path: '/orders/42' },
      context: { mtls: true },
    };

    // The certificate alone authenticates a workload: it may decide, and obtain SVIDs for itself only.
    const decided = await api('POST', '/v1/decide', { client, body: decide });
    assert.equal(decided.status, 200, JSON.stringify(decided.body));
    assert.equal((decided.body as { decision: string }).decision, 'allow');
    const jwt = await api('POST', '/v1/svid/jwt', { client, body: { audience: ['orders'] } });
    assert.equal(jwt.status, 200, JSON.stringify(jwt.body));
    assert.equal((jwt.body as { spiffeId: string }).spiffeId, spiffeId);
    const other = await api('POST', '/v1/svid/jwt', {
      client,
      body: { spiffeId: 'spiffe://acme.corp/ns/shop/sa/web', audience: ['orders'] },
    });
    assert.equal(other.status, 403);
    // A workload is not an admin.
    assert.equal((await api('GET', '/v1/decisions', { client })).status, 401);

    // No certificate and no token; a certificate of the same name that the trust domain did not
    // issue; a bearer field that does not verify, next to a good certificate: all anonymous.
    assert.equal((await api('POST', '/v1/decide', { body: decide })).status, 401);
    const forged = await selfSigned(spiffeId);
    assert.equal((await api('POST', '/v1/decide', { client: forged, body: decide })).status, 401);
    assert.equal((await api('POST', '/v1/decide', { client, token: 'garbage', body: decide })).status, 401);

    // One kept-alive connection: its certificate is verified once, and revocation still counts on it.
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      for (let i = 0; i < 3; i++)
        assert.equal((await api('POST', '/v1/decide', { client, agent, body: decide })).status, 200);
      // Revoked: refused from the next request on, on the same connection and on new ones.
      const revoked = await api('POST', '/v1/revocations', {
        token: admin,
        body: { target: 'credential', value: svid.serial },
      });
      assert.equal(revoked.status, 201, JSON.stringify(revoked.body));
      assert.equal((await api('POST', '/v1/decide', { client, agent, body: decide })).status, 401);
      assert.equal(
        Object.values(agent.sockets).flat().length + Object.values(agent.freeSockets).flat().length,
        1,
      );
      assert.equal((await api('POST', '/v1/decide', { client, body: decide })).status, 401);
    } finally {
      agent.destroy();
    }
  });

  interface Renewed {
    spiffeId: string;
    via: string;
    x509Svid: {
      spiffeId: string;
      serial: string;
      certificatePem: string;
      chainPem: string;
      privateKeyPem?: string;
    };
    jwtSvid: { token: string; audience: string[] };
    audienceJwtSvid?: { token: string; audience: string[] };
  }

  /** How many credentials renewal has issued to `spiffeId`, as the inventory lists them. */
  async function renewals(spiffeId: string): Promise<number> {
    const inventory = await api('GET', '/v1/inventory', { token: server.adminToken });
    assert.equal(inventory.status, 200, JSON.stringify(inventory.body));
    return (inventory.body as { credentials: { spiffeId: string; via: string }[] }).credentials.filter(
      (c) => c.spiffeId === spiffeId && c.via === 'renewal',
    ).length;
  }

  test('a workload renews with its X.509-SVID as client certificate, for a generated key or its own new one', async () => {
    const spiffeId = 'spiffe://acme.corp/ns/shop/sa/mtls-renew';
    const svid = await issuedSvid(spiffeId);

    const first = await api('POST', '/v1/renew', {
      client: { cert: svid.chainPem, key: svid.privateKeyPem },
      body: { audience: ['spiffe://acme.corp/ns/shop/sa/orders'] },
    });
    assert.equal(first.status, 200, JSON.stringify(first.body));
    const renewed = first.body as Renewed;
    assert.equal(renewed.spiffeId, spiffeId);
    assert.equal(renewed.via, 'renewal');
    assert.equal(renewed.x509Svid.spiffeId, spiffeId);
    assert.notEqual(renewed.x509Svid.serial, svid.serial);
    assert.ok(renewed.x509Svid.privateKeyPem, 'no CSR: the server generated the new key');
    assert.deepEqual(renewed.jwtSvid.audience, ['spiffe://acme.corp/gatehouse']);
    assert.deepEqual(renewed.audienceJwtSvid?.audience, ['spiffe://acme.corp/ns/shop/sa/orders']);

    // The renewed SVID renews in its turn; with a CSR, for the key the workload made.
    const nextKey = newKey();
    const second = await api('POST', '/v1/renew', {
      client: { cert: renewed.x509Svid.chainPem, key: renewed.x509Svid.privateKeyPem! },
      body: { csr: await csrFor(nextKey) },
    });
    assert.equal(second.status, 200, JSON.stringify(second.body));
    const moved = (second.body as Renewed).x509Svid;
    assert.equal(moved.spiffeId, spiffeId);
    assert.equal(moved.privateKeyPem, undefined, 'the key stays with the workload');
    assert.equal(spkiOf(moved.certificatePem), spkiOf(nextKey));
    const self = await api('POST', '/v1/svid/jwt', {
      client: { cert: moved.chainPem, key: nextKey },
      body: { audience: ['orders'] },
    });
    assert.equal(self.status, 200, JSON.stringify(self.body));
    assert.equal(
      await renewals(spiffeId),
      5,
      'per renewal an X.509-SVID and a JWT-SVID for the control plane, and one for the audience asked',
    );
  });

  test('X.509 renewal needs the SVID in the handshake: a chain and CSR in the body, or a refused certificate, get nothing', async () => {
    const admin = server.adminToken;
    const spiffeId = 'spiffe://acme.corp/ns/shop/sa/mtls-refused';
    const svid = await issuedSvid(spiffeId);
    const client = { cert: svid.chainPem, key: svid.privateKeyPem };
    // A CSR signed with the SVID's key, as an earlier request in the old body form carried it:
    // with the public chain, all someone without the key needs to replay that request.
    const csr = await csrFor(svid.privateKeyPem);

    // The chain and the CSR in the body, and no client certificate: refused, and by name.
    const replayed = await api('POST', '/v1/renew', { body: { x509Svid: svid.chainPem, csr } });
    assert.equal(replayed.status, 400, JSON.stringify(replayed.body));
    const error = (replayed.body as { error: { code: string; message: string } }).error;
    assert.equal(error.code, 'body_invalid');
    assert.match(error.message, /`x509Svid` is not taken: .*TLS client certificate/);
    // Even next to the right certificate, a chain in the body is refused rather than ignored.
    const both = await api('POST', '/v1/renew', { client, body: { x509Svid: svid.chainPem } });
    assert.equal(both.status, 400, JSON.stringify(both.body));
    assert.equal((await api('POST', '/v1/renew', { body: { csr } })).status, 401);

    // Certificates that are not a current X.509-SVID of this trust domain: a bare 401.
    const shortLived = await api('POST', '/v1/svid/x509', {
      token: admin,
      body: { spiffeId, ttlSeconds: 1 },
    });
    assert.equal(shortLived.status, 200, JSON.stringify(shortLived.body));
    const expiring = shortLived.body as { chainPem: string; privateKeyPem: string; expiresAt: string };
    const revokable = await api('POST', '/v1/svid/x509', { token: admin, body: { spiffeId } });
    const revoked = revokable.body as { chainPem: string; privateKeyPem: string; serial: string };
    const revocation = await api('POST', '/v1/revocations', {
      token: admin,
      body: { target: 'credential', value: revoked.serial },
    });
    assert.equal(revocation.status, 201, JSON.stringify(revocation.body));
    await new Promise((r) => setTimeout(r, Math.max(0, Date.parse(expiring.expiresAt) - Date.now() + 100)));
    const refused: [string, { cert: string; key: string }][] = [
      ['expired', { cert: expiring.chainPem, key: expiring.privateKeyPem }],
      ['revoked', { cert: revoked.chainPem, key: revoked.privateKeyPem }],
      ['of another trust domain', await selfSigned('spiffe://other.example/ns/shop/sa/mtls-refused')],
      ['of the same name, not issued by the trust domain', await selfSigned(spiffeId)],
      ['not an SVID', pem],
    ];
    for (const [what, certificate] of refused) {
      const answer = await api('POST', '/v1/renew', { client: certificate, body: {} });
      assert.equal(answer.status, 401, `${what}: ${JSON.stringify(answer.body)}`);
      assert.deepEqual(answer.body, { error: { code: 'unauthorized', message: 'unauthorized' } }, what);
    }
    assert.equal(await renewals(spiffeId), 0, 'nothing was issued');
  });

  test('gatehouse attest --renew --x509 --key renews over mTLS; usage errors are exit 3', async () => {
    const spiffeId = 'spiffe://acme.corp/ns/shop/sa/cli-renew';
    const svid = await issuedSvid(spiffeId);
    const svidFile = join(dir, 'cli-renew.pem');
    const keyFile = join(dir, 'cli-renew.key');
    writeFileSync(svidFile, svid.chainPem);
    writeFileSync(keyFile, svid.privateKeyPem);
    const env = { GATEHOUSE_SERVER: server.url, GATEHOUSE_TOKEN: '', NODE_EXTRA_CA_CERTS: certFile };
    const out = join(dir, 'cli-renewed');

    const renewed = await runGatehouse(
      ['attest', '--renew', '--x509', svidFile, '--key', keyFile, '--out-dir', out, '--output', 'json'],
      env,
    );
    assert.equal(renewed.code, 0, renewed.out + renewed.err);
    const result = JSON.parse(renewed.out) as Renewed;
    assert.equal(result.spiffeId, spiffeId);
    assert.equal(result.via, 'renewal');
    assert.notEqual(result.x509Svid.serial, svid.serial);
    assert.equal(readFileSync(join(out, 'svid.pem'), 'utf8'), result.x509Svid.chainPem);
    // The files written renew again, this time with a CSR for a key of the workload's own.
    const nextKey = newKey();
    const csrFile = join(dir, 'cli-renew.csr');
    writeFileSync(csrFile, await csrFor(nextKey));
    const again = await runGatehouse(
      [
        'attest',
        '--renew',
        '--x509',
        join(out, 'svid.pem'),
        '--key',
        join(out, 'svid.key'),
        '--csr',
        csrFile,
        '--output',
        'json',
      ],
      env,
    );
    assert.equal(again.code, 0, again.out + again.err);
    const moved = (JSON.parse(again.out) as Renewed).x509Svid;
    assert.equal(moved.spiffeId, spiffeId);
    assert.equal(spkiOf(moved.certificatePem), spkiOf(nextKey));

    // The server's certificate is trusted only as the other verbs trust it.
    const untrusted = await runGatehouse(['attest', '--renew', '--x509', svidFile, '--key', keyFile], {
      ...env,
      NODE_EXTRA_CA_CERTS: '',
    });
    assert.equal(untrusted.code, 1, untrusted.out);
    assert.match(untrusted.err, /cannot reach https:\/\/127\.0\.0\.1:\d+: \S*CERT/);
    // A revoked SVID: refused, with a message that says which credential.
    const revoked = await api('POST', '/v1/revocations', {
      token: server.adminToken,
      body: { target: 'credential', value: svid.serial },
    });
    assert.equal(revoked.status, 201);
    const refused = await runGatehouse(['attest', '--renew', '--x509', svidFile, '--key', keyFile], env);
    assert.equal(refused.code, 1, refused.out);
    assert.match(refused.err, /did not take the X\.509-SVID of --x509/);

    const otherKey = join(dir, 'cli-renew-other.key');
    writeFileSync(otherKey, nextKey);
    for (const [args, message] of [
      [['--x509', svidFile], /--renew --x509 needs --key/],
      [['--x509', svidFile, '--csr', csrFile], /--renew --x509 needs --key/],
      [['--key', keyFile, '--svid-token', keyFile], /--key goes with --renew --x509/],
      [['--x509', svidFile, '--key', keyFile, '--svid-token', keyFile], /one of --svid-token or --x509/],
      [
        ['--x509', svidFile, '--key', otherKey],
        /--x509 and --key: not a certificate chain and its private key/,
      ],
      [
        ['--x509', svidFile, '--key', keyFile, '--server', server.url.replace('https:', 'http:')],
        /needs an https:\/\/ server/,
      ],
    ] as const) {
      const r = await runGatehouse(['attest', '--renew', ...args], env);
      assert.equal(r.code, 3, `${args.join(' ')}: ${r.out}${r.err}`);
      assert.match(r.err, message);
    }
  });

  test('a proxy given its X.509-SVID and no token syncs from the server and ships its records over mTLS', async () => {
    const admin = server.adminToken;
    const svid = await issuedSvid('spiffe://acme.corp/ns/shop/sa/orders');
    const svidFile = join(dir, 'orders.pem');
    const svidKey = join(dir, 'orders.key');
    writeFileSync(svidFile, svid.chainPem);
    writeFileSync(svidKey, svid.privateKeyPem);
    const upstream: Server = createServer((_req, res) => res.end('{"ok":true}'));
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    const proxyArgs = [
      'proxy',
      '--service',
      'orders',
      '--listen',
      '127.0.0.1:0',
      '--upstream',
      upstreamUrl,
      '--decision-spool',
      join(dir, 'orders.spool'),
    ];
    const env = { GATEHOUSE_TOKEN: '', GATEHOUSE_SERVER: '', NODE_EXTRA_CA_CERTS: certFile };

    // Without a token and without mTLS to the server there is no credential: a usage error.
    const plain = await runGatehouse([...proxyArgs, '--server', server.url], env);
    assert.equal(plain.code, 3, plain.err);
    assert.match(plain.err, /give the proxy a credential/);

    let proxy: Awaited<ReturnType<typeof spawnGatehouse>> | undefined;
    try {
      const running = await spawnGatehouse(
        'proxy',
        [
          ...proxyArgs,
          '--server',
          server.url,
          '--tls-cert',
          svidFile,
          '--tls-key',
          svidKey,
          '--sync-interval',
          '200ms',
        ],
        env,
        (out, err) =>
          err.includes('"proxy_synced"') ? /listening\s+(https:\/\/\S+)/.exec(out)?.[1] : undefined,
      );
      proxy = running;
      // A caller without a certificate is denied by the synced policy; the record reaches the log.
      const status = await new Promise<number>((resolve, reject) => {
        const req = httpsRequest(
          `${running.found}/orders/42`,
          { rejectUnauthorized: false, agent: false },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        req.on('error', reject);
        req.end();
      });
      assert.equal(status, 403);
      let shipped = 0;
      for (let i = 0; i < 50 && shipped === 0; i++) {
        await new Promise((r) => setTimeout(r, 100));
        const listed = await api('GET', '/v1/decisions?service=orders', { token: admin });
        shipped = (listed.body as { decisions: { via: string }[] }).decisions.filter(
          (d) => d.via === 'proxy:orders',
        ).length;
      }
      assert.ok(shipped >= 1, `the proxy's record never reached the log: ${running.stderr()}`);
      assert.doesNotMatch(running.stderr(), /unauthorized/);
    } finally {
      const stopped = proxy === undefined ? 0 : await proxy.stop();
      await new Promise((resolve) => upstream.close(resolve));
      assert.equal(stopped, 0);
    }
  });

  test('gRPC ext_authz is over TLS with the same certificate', async () => {
    const address = /ext_authz gRPC\s+(\S+)/.exec(server.stdout())?.[1];
    assert.ok(address, server.stdout());
    const Authorization = loadAuthorizationService();
    const secure = new Authorization(
      address,
      credentials.createSsl(Buffer.from(pem.cert)),
    ) as unknown as Client & {
      Check: Check;
    };
    const plain = new Authorization(address, credentials.createInsecure()) as unknown as Client & {
      Check: Check;
    };
    const call = (c: Client & { Check: Check }) =>
      new Promise<CheckResponse>((resolve, reject) =>
        c.Check(
          {
            source: { address: { socket_address: { address: '10.10.1.20', port_value: 51000 } } },
            request: { http: { method: 'GET', path: '/orders/1', headers: {} } },
            context_extensions: { service: 'orders' },
          },
          (err, res) => (err ? reject(err) : resolve(res)),
        ),
      );
    try {
      const res = await call(secure);
      // No credential: a deny, answered over TLS.
      assert.equal(res.denied_response?.status.code, 403, JSON.stringify(res));
      await assert.rejects(call(plain));
    } finally {
      secure.close();
      plain.close();
    }
  });

  test('one file without the other, or a key of another certificate, is a usage error', async () => {
    const lone = await runGatehouse(
      ['serve', '--listen', '127.0.0.1:0', '--db', ':memory:', '--tls-cert', certFile],
      {},
    );
    assert.equal(lone.code, 3, lone.err);
    assert.match(lone.err, /--tls-cert and --tls-key go together/);
    const other = await selfSigned();
    const otherKey = join(dir, 'other.key');
    writeFileSync(otherKey, other.key);
    const mismatched = await runGatehouse(
      ['serve', '--listen', '127.0.0.1:0', '--db', ':memory:', '--tls-cert', certFile, '--tls-key', otherKey],
      {},
    );
    assert.equal(mismatched.code, 3, mismatched.err);
    assert.match(mismatched.err, /not a certificate chain and its private key/);
  });
});
