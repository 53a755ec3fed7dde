/**
 * Differential test: what the proxy sends its upstream when the lean path
 * read the request, against what it sends when Node's server read it. Two
 * fronts forward to one upstream (a raw socket server that keeps every byte
 * it receives): one reads with Node's server only, one leads with the lean
 * path. Random requests, plain and not (fields the proxy drops, adds to or
 * must not pass, a field given twice, values with spaces and tabs around
 * them, bodies with a length), each on a fresh connection to either front:
 * the upstream must receive the same bytes, and the client the same answer
 * but for its date.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http, { type Server } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { Forwarder, type ForwardOptions } from '../../src/proxy/forwarder.js';
import { leanProxyPath } from '../../src/proxy/lean-proxy-service.js';
import type { ProxyRequest, ProxyResponse } from '../../src/proxy/proxy-exchange.js';
import { sendJson } from '../../src/proxy/proxy-handler.js';
import { leadWithLeanPath, leanPathCounters } from '../../src/server/http1-lean-path.js';

const OPTIONS: Omit<ForwardOptions, 'path'> = {
  clientIp: '127.0.0.1',
  stripAuthorization: true,
  proto: 'http',
  upstreamHeaders: ['x-gatehouse-decision-id', 'd-1'],
  responseHeaders: ['x-gatehouse-decision-id', 'd-1'],
};

/** Every byte the upstream received, per connection, in order; it answers each head with a fixed answer. */
let received: string[] = [];
const upstream = net.createServer((socket) => {
  let buffered = '';
  socket.setEncoding('latin1');
  socket.on('error', () => {});
  socket.on('data', (d: string) => {
    received.push(d);
    buffered += d;
    // Heads only: each request's body is short and arrives with its head, and is answered with it.
    for (let at = buffered.indexOf('\r\n\r\n'); at >= 0; at = buffered.indexOf('\r\n\r\n')) {
      const head = buffered.slice(0, at);
      const length = Number(/\r\ncontent-length: (\d+)/i.exec(head)?.[1] ?? 0);
      buffered = buffered.slice(at + 4 + length);
      socket.write(
        head.startsWith('HEAD ')
          ? 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\nx-up: 1\r\n\r\n'
          : 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\nx-up: 1\r\n\r\nok',
      );
    }
  });
});

const fronts: { server: Server; forwarder: Forwarder; port: number }[] = [];
const lean = leanPathCounters();

before(async () => {
  upstream.listen(0, '127.0.0.1');
  await once(upstream, 'listening');
  const upstreamUrl = new URL(`http://127.0.0.1:${(upstream.address() as AddressInfo).port}`);
  for (const leads of [false, true]) {
    const forwarder = new Forwarder({
      upstream: upstreamUrl,
      // One connection upstream at a time: each request is sent alone, on one connection or another.
      maxIdle: 1,
      fail: (res, status, message, headers) => sendJson(res, status, { error: { message } }, headers, false),
    });
    const handler = (req: ProxyRequest, res: ProxyResponse) =>
      forwarder.forward(req, res, { ...OPTIONS, path: req.url! });
    const server = http.createServer(handler);
    // As `gatehouse proxy` sets them (start-proxy.ts).
    server.keepAliveTimeout = 65_000;
    server.headersTimeout = 20_000;
    if (leads)
      leadWithLeanPath(server, 'connection', {
        ...leanProxyPath(handler, 20_000, 65_000),
        counters: lean,
      });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    fronts.push({ server, forwarder, port: (server.address() as AddressInfo).port });
  }
});

after(() => {
  for (const f of fronts) {
    f.forwarder.close();
    f.server.closeAllConnections();
    f.server.close();
  }
  upstream.close();
});

/** Sends `bytes` on a fresh connection, which it closes after the answer (or 2 s); the answer's bytes. */
async function send(port: number, bytes: string, head: boolean): Promise<string> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  socket.setEncoding('latin1');
  let got = '';
  socket.on('data', (d: string) => (got += d));
  let ended = false;
  const closed = once(socket, 'close').then(() => (ended = true));
  socket.write(bytes, 'latin1');
  const deadline = Date.now() + 2000;
  // The answer is whole when its body (2 bytes, or a JSON error with a length) has come.
  while (Date.now() < deadline && !ended && !whole(got, head)) await new Promise((r) => setTimeout(r, 2));
  socket.destroy();
  await closed;
  return got.replace(/^Date: [^\r]*\r\n/gim, 'Date: *\r\n');
}

function whole(answer: string, head: boolean): boolean {
  const at = answer.indexOf('\r\n\r\n');
  if (at < 0) return false;
  if (head) return true;
  const length = Number(/\r\ncontent-length: (\d+)/i.exec(answer.slice(0, at))?.[1] ?? -1);
  return length >= 0 && answer.length >= at + 4 + length;
}

const text = (min: number, max: number, chars: string) =>
  fc.array(fc.constantFrom(...chars), { minLength: min, maxLength: max }).map((a) => a.join(''));
const VISIBLE = 'abcXYZ019-_.~!$&\'()*+,;=:@/?"{}[]<>\\^`|%#';
const name = fc.constantFrom(
  'accept',
  'X-Request-Id',
  'x-forwarded-for',
  'X-Forwarded-Proto',
  'x-gatehouse-spiffe-id',
  'x-forwarded-client-cert',
  'authorization',
  'te',
  'keep-alive',
  'proxy-connection',
  'trailer',
  'x-drop',
  'content-type',
  'Cookie',
);
const value = fc
  .tuple(text(0, 2, ' \t'), text(0, 12, VISIBLE + ' '), text(0, 2, ' \t'))
  .map((p) => p.join(''));
const request = fc.record({
  method: fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH'),
  path: text(0, 12, 'abz09-._~/%?=&'),
  fields: fc.array(fc.tuple(name, value), { maxLength: 6 }),
  host: fc.constantFrom('Host: h', 'host:  example.test:8080 ', ''),
  connection: fc.constantFrom('', 'Connection: keep-alive', 'Connection: close', 'Connection: x-drop'),
  body: fc.option(text(0, 40, VISIBLE), { nil: undefined }),
});

test('the upstream receives the same request whichever reader took it', { timeout: 600_000 }, async () => {
  const runs = Number(process.env.GATEHOUSE_FUZZ_RUNS ?? 300);
  await fc.assert(
    fc.asyncProperty(request, async (r) => {
      const lines = [`${r.method} /${r.path} HTTP/1.1`];
      if (r.host) lines.push(r.host);
      for (const [n, v] of r.fields) lines.push(`${n}:${v}`);
      if (r.connection) lines.push(r.connection);
      if (r.body !== undefined) lines.push(`Content-Length: ${r.body.length}`);
      const bytes = `${lines.join('\r\n')}\r\n\r\n${r.body ?? ''}`;
      const seen: { upstream: string; answer: string }[] = [];
      for (const front of fronts) {
        received = [];
        const answer = await send(front.port, bytes, r.method === 'HEAD');
        seen.push({ upstream: received.join(''), answer });
      }
      assert.deepEqual(seen[1], seen[0], JSON.stringify(bytes));
    }),
    { numRuns: runs },
  );
  // Not a test of Node against itself: a good share of the requests was read by the lean path.
  assert.ok(lean.served > runs / 5, `the lean path read ${lean.served} of ${runs} requests`);
  assert.ok(lean.handedOff > runs / 5, `the lean path handed off ${lean.handedOff} of ${runs} requests`);
});
