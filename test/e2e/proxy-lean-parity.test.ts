/**
 * The proxy's two readers (lean-proxy-service.ts) behave as one: each
 * request is sent on a fresh connection, where the lean path reads it, and
 * on a connection already handed to Node's server (by a first request with
 * a field given twice, which the lean path leaves to Node). The upstream
 * must see the same request and the client the same answer, but for the
 * decision id and the date; the proxy's metrics say which reader took it.
 * Real processes: `gatehouse serve`, two `gatehouse proxy` (enforce and
 * simulate), and an upstream in this test answering in every framing.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startProxy, type ProxyProcess } from '../support/proxy-process.js';
import { built, cli, startServer, type ServerProcess } from '../support/server-process.js';

const POLICY = 'test/fixtures/proxy/policy.yaml';
const WEB = 'spiffe://example.org/client/web';

interface Seen {
  method: string;
  url: string;
  rawHeaders: string[];
  body: string;
}

interface Exchange {
  status: number;
  rawHeaders: string[];
  body: string;
}

interface Sent {
  method: string;
  path: string;
  headers?: Record<string, string | string[]>;
  body?: string;
}

/** Sends `requests` in turn on one keep-alive connection; the answers, in order. */
async function onOneConnection(url: string, requests: Sent[]): Promise<Exchange[]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const answers: Exchange[] = [];
  try {
    for (const r of requests) {
      answers.push(
        await new Promise<Exchange>((resolve, reject) => {
          const headers: Record<string, string | string[]> = { ...r.headers };
          if (r.body !== undefined) headers['content-length'] = String(Buffer.byteLength(r.body));
          const req = http.request(`${url}${r.path}`, { method: r.method, agent, headers }, (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () =>
              resolve({
                status: res.statusCode!,
                rawHeaders: res.rawHeaders,
                body: Buffer.concat(chunks).toString('latin1'),
              }),
            );
            res.on('error', reject);
          });
          req.on('error', reject);
          req.end(r.body);
        }),
      );
    }
  } finally {
    agent.destroy();
  }
  return answers;
}

/** Writes `text` (requests, the last asking to close) on one connection; every byte answered until it closes. */
function pipelined(url: string, text: string): Promise<string> {
  const { port } = new URL(url);
  return new Promise<string>((resolve, reject) => {
    const socket = net.connect(Number(port), '127.0.0.1', () => socket.write(text));
    let data = '';
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => (data += d));
    socket.on('close', () => resolve(data));
    socket.on('error', reject);
  });
}

/** An answer without what differs by design: the date and the decision id (also in a JSON body). */
function comparable(a: Exchange): Exchange {
  const rawHeaders: string[] = [];
  for (let i = 0; i < a.rawHeaders.length; i += 2) {
    const name = a.rawHeaders[i]!.toLowerCase();
    if (name === 'date' || name === 'x-gatehouse-decision-id') continue;
    rawHeaders.push(a.rawHeaders[i]!, a.rawHeaders[i + 1]!);
  }
  let body = a.body;
  if (body.startsWith('{')) {
    const json = JSON.parse(body) as Record<string, unknown>;
    delete json['decisionId'];
    body = JSON.stringify(json);
  }
  return { status: a.status, rawHeaders, body };
}

function comparableSeen(s: Seen): Seen {
  const rawHeaders: string[] = [];
  for (let i = 0; i < s.rawHeaders.length; i += 2) {
    if (s.rawHeaders[i] === 'x-gatehouse-decision-id') continue;
    rawHeaders.push(s.rawHeaders[i]!, s.rawHeaders[i + 1]!);
  }
  return { ...s, rawHeaders };
}

async function leanCounters(metrics: string): Promise<{ served: number; handedOff: number }> {
  const text = await (await fetch(`${metrics}/metrics`)).text();
  const read = (name: string) => Number(new RegExp(`^${name}\\{[^}]*\\} (\\d+)$`, 'm').exec(text)?.[1]);
  return {
    served: read('gatehouse_proxy_lean_requests_total'),
    handedOff: read('gatehouse_proxy_lean_handoffs_total'),
  };
}

describe(
  'the proxy answers alike on the lean path and on Node’s',
  { skip: built ? false : 'run `npm run build` first' },
  () => {
    let dir: string;
    let server: ServerProcess;
    let upstream: http.Server;
    let enforcing: ProxyProcess;
    let simulating: ProxyProcess;
    let token: string;
    let previewToken: string;
    let seen: Seen[] = [];

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'gatehouse-proxy-lean-'));
      server = await startServer(dir, ['--policy', POLICY]);
      const env = { GATEHOUSE_SERVER: server.url, GATEHOUSE_TOKEN: server.adminToken };
      const e = await cli(
        ['entry', 'create', '--spiffe-id', WEB, '--kind', 'service', '--owner', 'team-demo'],
        env,
      );
      assert.equal(e.code, 0, e.err);
      const jwt = async (audience: string) => {
        const r = await cli(['svid', 'jwt', '--spiffe-id', WEB, '--audience', audience], env);
        assert.equal(r.code, 0, r.err);
        return r.out.trim();
      };
      token = await jwt('spiffe://example.org/svc/hello');
      previewToken = await jwt('spiffe://example.org/svc/hello-preview');

      upstream = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          const body = Buffer.concat(chunks).toString('latin1');
          seen.push({ method: req.method!, url: req.url!, rawHeaders: req.rawHeaders, body });
          const path = req.url!.split('?')[0]!;
          if (path.endsWith('/chunked')) {
            res.writeHead(200, { 'content-type': 'text/plain', 'X-Mixed-Case': 'kept as sent' });
            res.write('first, ');
            res.end('second');
          } else if (path.endsWith('/empty')) {
            res.writeHead(204, { 'x-upstream': 'empty' });
            res.end();
          } else if (path.endsWith('/big')) {
            res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': '200000' });
            res.end(Buffer.alloc(200_000, 'b'));
          } else if (path.endsWith('/latin')) {
            // A value beyond ASCII (obs-text), which Node's server sends as Latin-1 bytes.
            res.writeHead(
              200,
              [
                ['x-latin', 'caf\u00e9'],
                ['content-type', 'text/plain'],
              ].flat(),
            );
            res.end('ok');
          } else if (path.endsWith('/dated')) {
            res.writeHead(200, { date: 'Tue, 01 Jan 2030 00:00:00 GMT', 'content-length': '2' });
            res.end('ok');
          } else {
            res.writeHead(200, { 'content-type': 'text/plain', 'x-upstream': 'yes' });
            res.end(`upstream saw ${req.method} ${req.url} (${body.length} bytes)`);
          }
        });
      });
      await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
      const upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
      const proxyArgs = (service: string) => [
        '--service',
        service,
        '--upstream',
        upstreamUrl,
        '--server',
        server.url,
        '--token-file',
        join(dir, 'admin.token'),
        '--metrics-listen',
        '127.0.0.1:0',
      ];
      enforcing = await startProxy(proxyArgs('hello'), { synced: true });
      simulating = await startProxy(proxyArgs('hello-preview'), { synced: true });
    });

    after(async () => {
      await enforcing?.stop();
      await simulating?.stop();
      await server?.stop();
      upstream?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    const cases = (): [string, () => ProxyProcess, Sent][] => {
      const bearer = { authorization: `Bearer ${token}` };
      const preview = { authorization: `Bearer ${previewToken}` };
      return [
        [
          'an allowed GET with a query',
          () => enforcing,
          { method: 'GET', path: '/hello/plain?x=1&y=%20', headers: bearer },
        ],
        ['a chunked answer', () => enforcing, { method: 'GET', path: '/hello/chunked', headers: bearer }],
        ['a 204 answer', () => enforcing, { method: 'GET', path: '/hello/empty', headers: bearer }],
        ['a 200 KB answer', () => enforcing, { method: 'GET', path: '/hello/big', headers: bearer }],
        ['a Latin-1 field value', () => enforcing, { method: 'GET', path: '/hello/latin', headers: bearer }],
        [
          "the upstream's own date",
          () => enforcing,
          { method: 'GET', path: '/hello/dated', headers: bearer },
        ],
        ['HEAD', () => enforcing, { method: 'HEAD', path: '/hello/plain', headers: bearer }],
        [
          'fields passed, filtered and appended',
          () => enforcing,
          {
            method: 'GET',
            path: '/hello/plain',
            headers: {
              ...bearer,
              'X-Request-Id': 'abc',
              'x-forwarded-for': '10.9.9.9',
              'x-gatehouse-spiffe-id': 'spiffe://example.org/admin',
              'x-forwarded-client-cert': 'URI=spiffe://example.org/admin',
              accept: 'text/plain',
            },
          },
        ],
        ['no credential: 403', () => enforcing, { method: 'GET', path: '/hello/plain' }],
        [
          'a write without mTLS: 403 over a body',
          () => enforcing,
          { method: 'POST', path: '/hello/items', headers: bearer, body: 'abc' },
        ],
        [
          'a path that does not normalize: 400',
          () => enforcing,
          { method: 'GET', path: '/hello/%2e%2e/%2e%2e/admin', headers: bearer },
        ],
        ['a denied path', () => enforcing, { method: 'GET', path: '/admin/x', headers: bearer }],
        [
          'a would-deny POST with a body, passed and marked',
          () => simulating,
          {
            method: 'POST',
            path: '/hello/items',
            headers: { ...preview, 'content-type': 'text/plain' },
            body: 'x'.repeat(5000),
          },
        ],
        [
          'an allowed GET in simulate mode',
          () => simulating,
          { method: 'GET', path: '/hello/plain', headers: preview },
        ],
        [
          'an empty body with a length',
          () => simulating,
          { method: 'POST', path: '/hello/echo', headers: preview, body: '' },
        ],
      ];
    };

    test('each request gets the same answer, and the upstream the same request, from either reader', async () => {
      for (const [name, proxyOf, request] of cases()) {
        const proxy = proxyOf();
        const before = await leanCounters(proxy.metrics!);
        seen = [];
        const [lean] = await onOneConnection(proxy.url, [request]);
        const leanSeen = seen.slice();
        const afterLean = await leanCounters(proxy.metrics!);
        assert.equal(afterLean.served, before.served + 1, `${name}: read by the lean path`);

        // A field given twice is not plain: the connection goes to Node's server, which reads what follows.
        const handOff: Sent = {
          method: 'GET',
          path: '/hello/plain',
          headers: { 'x-twice': ['a', 'b'] },
        };
        seen = [];
        const [, node] = await onOneConnection(proxy.url, [handOff, request]);
        const nodeSeen = seen.filter((s) => !s.rawHeaders.includes('x-twice'));
        const afterNode = await leanCounters(proxy.metrics!);
        assert.equal(afterNode.served, afterLean.served, `${name}: not read by the lean path`);
        assert.equal(afterNode.handedOff, afterLean.handedOff + 1, `${name}: the connection was handed off`);

        assert.deepEqual(comparable(lean!), comparable(node!), `${name}: the same answer`);
        assert.deepEqual(
          leanSeen.map(comparableSeen),
          nodeSeen.map(comparableSeen),
          `${name}: the same upstream request`,
        );
      }
    });

    test('pipelined requests on the lean path are answered in order, each once', async () => {
      const bearer = { authorization: `Bearer ${token}` };
      const paths = ['/hello/a', '/hello/chunked', '/hello/empty', '/admin/no'];
      // Enough on one connection that listeners left behind by each answer would be reported.
      for (let i = 0; i < 20; i++) paths.push(`/hello/more-${i}`);
      paths.push('/hello/b');
      // All written at once; the last asks to close, so the connection ends after its answer.
      const text = paths
        .map(
          (p, i) =>
            `GET ${p} HTTP/1.1\r\nHost: x\r\nAuthorization: ${bearer.authorization}\r\n` +
            (i === paths.length - 1 ? 'Connection: close\r\n\r\n' : '\r\n'),
        )
        .join('');
      const got = await pipelined(enforcing.url, text);
      const statuses = [...got.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
      assert.deepEqual(statuses, [200, 200, 204, 403, ...Array<number>(21).fill(200)]);
      assert.doesNotMatch(enforcing.stderr(), /MaxListenersExceeded/);
      assert.match(got, /upstream saw GET \/hello\/a /);
      assert.match(
        got,
        /Transfer-Encoding: chunked\r\n[^]*\r\n0\r\n\r\n/,
        'the chunked answer chunked again',
      );
      assert.ok(got.indexOf('/hello/a') < got.indexOf('/hello/b'));
    });

    test('thousands of pipelined requests answered at once (denied) are served in turn, not in nested calls', async () => {
      // A deny is answered before the handler returns: serving the next request from inside that
      // answer, and so on, would nest one call per request until the stack ran out.
      const n = 1500;
      const text =
        'GET /hello/x HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(n - 1) +
        'GET /hello/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n';
      const got = await pipelined(enforcing.url, text);
      const statuses = [...got.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
      assert.equal(statuses.length, n);
      assert.ok(statuses.every((s) => s === 403));
      assert.doesNotMatch(enforcing.stderr(), /Maximum call stack|proxy_request_failed/);
      const after = await fetch(`${enforcing.url}/hello/x`);
      assert.equal(after.status, 403, 'the proxy still serves');
    });
  },
);
