/**
 * The small estate of the proxy tests that run real processes: a control
 * plane on the proxy fixture's policy, the entries of the client `web` and
 * the service `hello`, a JWT-SVID of `web` for `hello`, and a bare upstream
 * for `hello` answering `hello`.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { cli, startServer, type ServerProcess } from './server-process.js';

export const HELLO_POLICY = 'test/fixtures/proxy/policy.yaml';
export const WEB = 'spiffe://example.org/client/web';
export const HELLO = 'spiffe://example.org/svc/hello';

export interface HelloEstate {
  server: ServerProcess;
  /** GATEHOUSE_SERVER and GATEHOUSE_TOKEN (the admin's) for the CLI. */
  env: { GATEHOUSE_SERVER: string; GATEHOUSE_TOKEN: string };
  /** A JWT-SVID of `web` for `hello`. */
  token: string;
  upstream: http.Server;
  upstreamUrl: string;
  /** Stops the upstream (the server is the caller's to stop: a test may have restarted it). */
  closeUpstream(): void;
}

/** Starts the estate with its server's files in `dir`. */
export async function startHelloEstate(dir: string): Promise<HelloEstate> {
  const server = await startServer(dir, ['--policy', HELLO_POLICY]);
  const env = { GATEHOUSE_SERVER: server.url, GATEHOUSE_TOKEN: server.adminToken };
  for (const id of [WEB, HELLO]) {
    const e = await cli(
      ['entry', 'create', '--spiffe-id', id, '--kind', 'service', '--owner', 'team-demo'],
      env,
    );
    assert.equal(e.code, 0, e.err);
  }
  const jwt = await cli(['svid', 'jwt', '--spiffe-id', WEB, '--audience', HELLO], env);
  assert.equal(jwt.code, 0, jwt.err);
  const upstream = http.createServer((_req, res) => res.end('hello'));
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  return {
    server,
    env,
    token: jwt.out.trim(),
    upstream,
    upstreamUrl: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`,
    closeUpstream() {
      upstream.closeAllConnections();
      upstream.close();
    },
  };
}
