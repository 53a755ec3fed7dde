/**
 * Differential test: the proxy's answer writer on the lean path
 * (LeanResponse) against Node's `ServerResponse`, on random answers: status,
 * reason phrase, fields (some beyond ASCII, some that may not be sent, a
 * `Content-Length`, a `Date`, `Connection: close`), body pieces and a closing
 * text, to GET, HEAD and POST requests, on a connection kept alive and on
 * one the client asked to close. One handler writes the answer through
 * either; two real servers answer it, one read by Node's server, one by
 * the lean path. The bytes on the wire must be the same, but for the
 * `Date` that either adds.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { leanProxyPath } from '../../src/proxy/lean-proxy-service.js';
import type { ProxyRequest, ProxyResponse } from '../../src/proxy/proxy-exchange.js';
import { leadWithLeanPath } from '../../src/server/http1-lean-path.js';

interface Script {
  status: number;
  reason: string;
  headers: string[];
  pieces: Buffer[];
  text: string | undefined;
}

/** What the next requests are to be answered with, in order, whichever server reads them. */
let scripts: Script[] = [];

function handler(_req: ProxyRequest, res: ProxyResponse): void {
  const s = scripts.shift()!;
  try {
    res.writeHead(s.status, s.reason, s.headers);
  } catch {
    // As the forwarder does with an upstream answer that cannot be sent.
    res.writeHead(502, 'Bad Gateway', ['content-length', '0']);
    res.end();
    return;
  }
  for (const piece of s.pieces) res.write(piece);
  res.end(s.text);
}

const KEEP_ALIVE_MS = 65_000;
let nodeServer: Server;
let leanServer: Server;
let nodePort = 0;
let leanPort = 0;

async function listen(server: Server): Promise<number> {
  server.keepAliveTimeout = KEEP_ALIVE_MS;
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

before(async () => {
  nodeServer = createServer(handler);
  leanServer = createServer(handler);
  leadWithLeanPath(leanServer, 'connection', leanProxyPath(handler, 20_000, KEEP_ALIVE_MS));
  nodePort = await listen(nodeServer);
  leanPort = await listen(leanServer);
});

after(() => {
  for (const s of [nodeServer, leanServer]) {
    s.closeAllConnections();
    s.close();
  }
});

/**
 * Sends `requests` on one connection, each once the answer before has come
 * (and gone quiet for a moment); the last asks to close. Every byte
 * answered, with each `Date` value blotted out.
 */
async function exchange(port: number, requests: string[]): Promise<string> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => {});
  socket.setEncoding('latin1');
  let got = '';
  let lastData = 0;
  socket.on('data', (d: string) => {
    got += d;
    lastData = Date.now();
  });
  const closed = once(socket, 'close');
  for (let i = 0; i < requests.length; i++) {
    const before = got.length;
    socket.write(requests[i]!);
    if (i === requests.length - 1) break;
    const deadline = Date.now() + 2000;
    while (Date.now() < deadline && (got.length === before || Date.now() - lastData < 20))
      await new Promise((r) => setTimeout(r, 5));
  }
  const timer = setTimeout(() => socket.destroy(), 3000);
  await closed;
  clearTimeout(timer);
  return got.replace(/^Date: [^\r]*\r\n/gim, 'Date: *\r\n');
}

const visible = fc.string({
  unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
  maxLength: 12,
});
const latin1 = fc.string({
  unit: fc.integer({ min: 0x80, max: 0xff }).map((c) => String.fromCharCode(c)),
  minLength: 1,
  maxLength: 3,
});
const badChar = fc.constantFrom('\x7f', '\r', '\n', '\x00', '\x01', 'é\u0100');
const value = fc.oneof(
  { weight: 6, arbitrary: visible },
  { weight: 2, arbitrary: fc.tuple(visible, latin1).map(([a, b]) => a + b) },
  { weight: 1, arbitrary: fc.tuple(visible, badChar).map(([a, b]) => a + b) },
);
const name = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.constantFrom('content-type', 'X-Mixed-Case', 'set-cookie', 'x-a', 'Cache-Control', 'etag'),
  },
  { weight: 1, arbitrary: fc.constantFrom('bad name', 'x:y', '') },
);
const piece = fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a));

const scriptArb = fc
  .record({
    status: fc.constantFrom(200, 201, 204, 206, 299, 301, 304, 400, 404, 500, 503),
    reason: fc.oneof(
      { weight: 8, arbitrary: fc.constantFrom('OK', 'Whatever', '') },
      { weight: 1, arbitrary: value },
    ),
    fields: fc.array(fc.tuple(name, value), { maxLength: 4 }),
    length: fc.constantFrom('none', 'right', 'wrong'),
    date: fc.boolean(),
    // What the proxy's own answers may set (an upstream's `Connection` is never passed on).
    // Node would keep a connection open on `keep-alive` here even when the client asked to close.
    connection: fc.constantFrom(undefined, 'close'),
    pieces: fc.array(piece, { maxLength: 3 }),
    text: fc.option(fc.string({ maxLength: 20 }), { nil: undefined }),
  })
  .map((r): Script => {
    const headers = r.fields.flat();
    const bodyBytes = r.pieces.reduce((n, p) => n + p.length, 0) + Buffer.byteLength(r.text ?? '');
    if (r.length !== 'none')
      headers.push('content-length', String(r.length === 'right' ? bodyBytes : bodyBytes + 5));
    if (r.date) headers.push('date', 'Tue, 01 Jan 2030 00:00:00 GMT');
    if (r.connection) headers.push('connection', r.connection);
    return { status: r.status, reason: r.reason, headers, pieces: r.pieces, text: r.text };
  });

test('LeanResponse writes the bytes Node’s ServerResponse writes', { timeout: 600_000 }, async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom('GET', 'HEAD', 'POST'),
      fc.boolean(),
      scriptArb,
      scriptArb,
      async (method, closeFirst, first, second) => {
        const body = method === 'POST' ? 'abc' : '';
        const request = (close: boolean) =>
          `${method} /x HTTP/1.1\r\nHost: h\r\n` +
          (body ? `Content-Length: ${body.length}\r\n` : '') +
          (close ? 'Connection: close\r\n' : '') +
          `\r\n${body}`;
        const requests = closeFirst ? [request(true)] : [request(false), request(true)];
        const answers: string[] = [];
        for (const port of [nodePort, leanPort]) {
          scripts = [first, second];
          answers.push(await exchange(port, requests));
        }
        assert.equal(answers[1], answers[0]);
      },
    ),
    { numRuns: Number(process.env.GATEHOUSE_FUZZ_RUNS ?? 300) },
  );
});
