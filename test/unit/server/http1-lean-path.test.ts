/**
 * The lean path on real sockets: lean routes are answered as Node's server
 * answers them, a connection moves to Node's server at its first request
 * that is not lean (pipelined bytes included), and the limits, timeouts and
 * graceful close hold on lean connections too.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { after, test } from 'node:test';
import fc from 'fast-check';
import { createHttpServer, type HttpLimits } from '../../../src/server/http-server.js';
import { leanPathCounters, type LeanPathCounters } from '../../../src/server/http1-lean-path.js';
import type { Logger } from '../../../src/server/logger.js';
import { Router } from '../../../src/server/router.js';

const logged: string[] = [];
const logger: Logger = { log: (_level, event) => void logged.push(event) };

let slowRelease: (() => void) | undefined;
const router = new Router()
  .add(
    'POST',
    '/lean',
    async (req) => ({
      status: 200,
      body: { got: await req.body(), q: req.query.get('q') },
      headers: { 'x-a': 'b' },
    }),
    { lean: true },
  )
  .add('POST', '/node', async (req) => ({ status: 200, body: { node: await req.body() } }))
  .add('POST', '/node-refuses', () => ({ status: 403, body: { refused: true } }))
  .add('GET', '/lean-get', () => ({ status: 200, body: { ok: true } }), { lean: true })
  .add(
    'GET',
    '/lean-throws',
    () => {
      throw new Error('boom');
    },
    { lean: true },
  )
  .add(
    'GET',
    '/lean-bad-field',
    () => ({ status: 200, body: {}, headers: { 'x-a': 'b\r\nx-injected: 1' } }),
    {
      lean: true,
    },
  )
  .add('GET', '/lean-big', () => ({ status: 200, body: 'b'.repeat(512 * 1024) }), { lean: true })
  .add(
    'GET',
    '/lean-slow',
    () =>
      new Promise((resolve) => {
        slowRelease = () => resolve({ status: 200, body: { slow: true } });
      }),
    { lean: true },
  );

const servers: Server[] = [];
after(() => {
  for (const s of servers) {
    s.closeAllConnections();
    s.close();
  }
});

async function start(
  limits: Partial<HttpLimits> = {},
  leanCounters?: LeanPathCounters,
): Promise<{ server: Server; port: number }> {
  const server = createHttpServer({ router, logger, limits, ...(leanCounters ? { leanCounters } : {}) });
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as AddressInfo).port };
}

function post(path: string, body: string, extra = ''): string {
  return (
    `POST ${path} HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`
  );
}

/** A connection and the answers read from it, split into whole HTTP answers. */
function client(port: number): {
  socket: Socket;
  answers(n: number, timeoutMs?: number): Promise<{ head: string; body: string }[]>;
  closed: Promise<unknown>;
} {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => {});
  let data = '';
  socket.setEncoding('latin1');
  socket.on('data', (d: string) => (data += d));
  const closed = once(socket, 'close');
  const parse = () => {
    const out: { head: string; body: string }[] = [];
    let rest = data;
    for (;;) {
      const end = rest.indexOf('\r\n\r\n');
      if (end < 0) break;
      const head = rest.slice(0, end);
      const length = Number(/\r\ncontent-length: (\d+)/i.exec(head)?.[1] ?? 0);
      if (rest.length < end + 4 + length) break;
      out.push({ head, body: rest.slice(end + 4, end + 4 + length) });
      rest = rest.slice(end + 4 + length);
    }
    return out;
  };
  return {
    socket,
    closed,
    async answers(n, timeoutMs = 3000) {
      const deadline = Date.now() + timeoutMs;
      while (parse().length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      return parse();
    },
  };
}

test('a lean route is answered with the fields Node would send', async () => {
  const { port } = await start();
  const c = client(port);
  c.socket.write(post('/lean?q=1', '{"a":1}'));
  const [answer] = await c.answers(1);
  assert.ok(answer);
  assert.match(answer.head, /^HTTP\/1\.1 200 OK\r\n/);
  assert.match(answer.head, /\r\ncache-control: no-store\r\n/);
  assert.match(answer.head, /\r\nx-a: b\r\n/);
  assert.match(answer.head, /\r\ncontent-type: application\/json\r\n/);
  assert.match(answer.head, /\r\nDate: \w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT\r\n/);
  assert.match(answer.head, /\r\nConnection: keep-alive\r\nKeep-Alive: timeout=65$/);
  assert.deepEqual(JSON.parse(answer.body), { got: { a: 1 }, q: '1' });
  c.socket.destroy();
});

test('pipelined requests are answered in order; the connection moves to Node at the first that is not lean', async () => {
  const { port } = await start();
  const c = client(port);
  // One write: lean, not lean (Node's server from here on), lean again, then a chunked body Node de-chunks.
  c.socket.write(
    post('/lean', '{"n":1}') +
      post('/node', '{"n":2}') +
      post('/lean', '{"n":3}') +
      'POST /lean HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n' +
      '7\r\n{"n":4}\r\n0\r\n\r\n',
  );
  const answers = await c.answers(4);
  assert.deepEqual(
    answers.map((a) => JSON.parse(a.body) as unknown),
    [{ got: { n: 1 }, q: null }, { node: { n: 2 } }, { got: { n: 3 }, q: null }, { got: { n: 4 }, q: null }],
  );
  c.socket.destroy();
});

test('the lean path counts the requests it serves and the connections it hands off', async () => {
  const counters = leanPathCounters();
  const { port } = await start({}, counters);
  const c = client(port);
  c.socket.write(post('/lean', '{}') + post('/lean', '{}') + post('/node', '{}') + post('/lean', '{}'));
  await c.answers(4);
  // The third request moved the connection to Node's server, which read the fourth too.
  assert.deepEqual(counters, { served: 2, handedOff: 1 });
  c.socket.destroy();
});

test("on Node's path, a route's own 4xx over a body still arriving keeps the connection", async () => {
  const { port } = await start();
  const c = client(port);
  const head = (path: string) =>
    `POST ${path} HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`;
  // The route answers before its body has all come: the rest is read and dropped, and the
  // connection stays open for the next request (a route's answer is not a failure).
  c.socket.write(head('/node-refuses') + '2\r\n{}\r\n');
  await new Promise((r) => setTimeout(r, 50));
  c.socket.write('0\r\n\r\n' + head('/node') + '2\r\n{}\r\n0\r\n\r\n');
  const answers = await c.answers(2);
  assert.match(answers[0]!.head, /^HTTP\/1\.1 403 /);
  assert.match(answers[0]!.head, /\r\nConnection: keep-alive/i);
  assert.deepEqual(JSON.parse(answers[1]!.body), { node: {} });
  c.socket.destroy();
});

test('a client that does not read its answers is not served more until it does, however its requests arrive', async () => {
  const counters = leanPathCounters();
  const { port } = await start({}, counters);
  const c = client(port);
  c.socket.pause();
  await once(c.socket, 'connect');
  // One request at a time, each after the answers before have filled the socket's buffers.
  const n = 30;
  for (let i = 0; i < n; i++) {
    c.socket.write('GET /lean-big HTTP/1.1\r\nHost: t\r\n\r\n');
    await new Promise((r) => setTimeout(r, 10));
  }
  await new Promise((r) => setTimeout(r, 200));
  const servedWhilePaused = counters.served;
  assert.ok(servedWhilePaused < n / 2, `served ${servedWhilePaused} of ${n} to a client reading nothing`);
  c.socket.resume();
  const answers = await c.answers(n, 10_000);
  assert.equal(answers.length, n);
  assert.ok(answers.every((a) => a.body.length === 512 * 1024));
  assert.equal(counters.served, n);
  c.socket.destroy();
});

test('a request arriving a byte at a time, or a large body in many pieces, is served on the lean path', async () => {
  const counters = leanPathCounters();
  const { port } = await start({}, counters);
  const dripped = client(port);
  const bytes = Buffer.from(post('/lean', '{"slow":"drip"}'));
  for (const byte of bytes) {
    dripped.socket.write(Buffer.from([byte]));
    await new Promise((r) => setImmediate(r));
  }
  const [answer] = await dripped.answers(1);
  assert.deepEqual(JSON.parse(answer!.body), { got: { slow: 'drip' }, q: null });
  assert.deepEqual(counters, { served: 1, handedOff: 0 });
  dripped.socket.destroy();

  const large = client(port);
  const body = JSON.stringify({ a: 'x'.repeat(200_000) });
  const whole = Buffer.from(post('/lean', body));
  const headEnd = whole.indexOf('\r\n\r\n') + 4;
  large.socket.write(whole.subarray(0, headEnd));
  for (let at = headEnd; at < whole.length; at += 1000) {
    large.socket.write(whole.subarray(at, at + 1000));
    await new Promise((r) => setImmediate(r));
  }
  const [echo] = await large.answers(1);
  assert.deepEqual(JSON.parse(echo!.body), { got: JSON.parse(body) as unknown, q: null });
  assert.deepEqual(counters, { served: 2, handedOff: 0 });
  large.socket.destroy();
});

test('Connection: close is answered, then the connection closes', async () => {
  const { port } = await start();
  const c = client(port);
  c.socket.write(post('/lean', '{}', 'Connection: close\r\n'));
  await c.closed;
  const [answer] = await c.answers(1, 100);
  assert.match(answer!.head, /\r\nConnection: close$/);
});

test('a client that half-closes gets the answer under way, then the connection closes; a cut request gets 400', async () => {
  const { port } = await start();
  const whole = client(port);
  whole.socket.write('GET /lean-slow HTTP/1.1\r\nHost: t\r\n\r\n');
  while (!slowRelease) await new Promise((r) => setTimeout(r, 5));
  whole.socket.end();
  await new Promise((r) => setTimeout(r, 20));
  slowRelease();
  slowRelease = undefined;
  await whole.closed;
  const [answer] = await whole.answers(1, 100);
  assert.deepEqual(JSON.parse(answer!.body), { slow: true });
  assert.match(answer!.head, /\r\nConnection: close$/);

  const cut = client(port);
  cut.socket.end('POST /lean HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n{"a"');
  await cut.closed;
  const [refused] = await cut.answers(1, 100);
  assert.match(refused!.head, /^HTTP\/1\.1 400 /);
  assert.equal(JSON.parse(refused!.body).error.code, 'request_malformed');

  const idle = client(port);
  idle.socket.write(post('/lean', '{}'));
  await idle.answers(1);
  idle.socket.end();
  await idle.closed;
});

test('HEAD of a lean GET route gets the head only', async () => {
  const { port } = await start();
  // The HEAD answer announces a length it does not send: both answers are read from the raw text.
  const raw = await new Promise<string>((resolve) => {
    let text = '';
    const s = connect(port, '127.0.0.1');
    s.setEncoding('latin1');
    s.on('data', (d: string) => (text += d));
    s.write(
      'HEAD /lean-get HTTP/1.1\r\nHost: t\r\n\r\nGET /lean-get HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n',
    );
    s.on('close', () => resolve(text));
  });
  const [first, second] = raw.split(/(?=HTTP\/1\.1 )/);
  assert.match(first!, /content-length: 11\r\n/);
  assert.ok(first!.endsWith('\r\n\r\n'), 'no body after the HEAD answer');
  assert.ok(second!.endsWith('{"ok":true}'));
});

test('a failing route is a JSON 500, logged; a field with CR LF from a route is never written', async () => {
  const { port } = await start();
  const c = client(port);
  c.socket.write(
    'GET /lean-throws HTTP/1.1\r\nHost: t\r\n\r\nGET /lean-bad-field HTTP/1.1\r\nHost: t\r\n\r\n',
  );
  const answers = await c.answers(2);
  assert.match(answers[0]!.head, /^HTTP\/1\.1 500 /);
  assert.equal(JSON.parse(answers[0]!.body).error.code, 'internal_error');
  assert.ok(logged.includes('request_failed'));
  // Every answer of 500 or more is logged with its time, whichever reader took the request.
  assert.ok(logged.includes('request_served'));
  assert.match(answers[1]!.head, /^HTTP\/1\.1 500 /);
  assert.doesNotMatch(answers[1]!.head, /x-injected/);
  assert.ok(logged.includes('response_failed'));
  await c.closed;
});

test('a head or a body that does not arrive in time gets 408 and the connection closes', async () => {
  const { port } = await start({ headersTimeoutMs: 300, bodyTimeoutMs: 300, requestTimeoutMs: 5000 });
  const head = client(port);
  head.socket.write('POST /lean HTTP/1.1\r\nHost: t\r\n');
  const body = client(port);
  body.socket.write(
    'POST /lean HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 10\r\n\r\n{"a"',
  );
  await Promise.all([head.closed, body.closed]);
  const [h] = await head.answers(1, 100);
  const [b] = await body.answers(1, 100);
  assert.equal(JSON.parse(h!.body).error.code, 'request_timeout');
  assert.match(h!.head, /^HTTP\/1\.1 408 /);
  assert.equal(JSON.parse(b!.body).error.code, 'body_timeout');
});

test('an idle kept-alive connection closes after the keep-alive timeout', async () => {
  const { port } = await start({ keepAliveTimeoutMs: 300 });
  const c = client(port);
  c.socket.write(post('/lean', '{}'));
  const [answer] = await c.answers(1);
  // Node writes the timeout in whole seconds, rounded down.
  assert.match(answer!.head, /\r\nConnection: keep-alive\r\nKeep-Alive: timeout=0$/);
  const started = Date.now();
  await c.closed;
  assert.ok(Date.now() - started < 2500);
});

test('closing the server ends idle lean connections at once and a busy one after its answer', async () => {
  const { server, port } = await start();
  const idle = client(port);
  idle.socket.write(post('/lean', '{}'));
  await idle.answers(1);
  const busy = client(port);
  busy.socket.write('GET /lean-slow HTTP/1.1\r\nHost: t\r\n\r\n');
  while (!slowRelease) await new Promise((r) => setTimeout(r, 5));
  const closed = new Promise((resolve) => server.close(resolve));
  await idle.closed;
  slowRelease();
  const [answer] = await busy.answers(1);
  assert.match(answer!.head, /\r\nConnection: close$/);
  assert.deepEqual(JSON.parse(answer!.body), { slow: true });
  await busy.closed;
  await closed;
});

/** A JSON body as the server sends it back (parsed and written again: `-0` comes back `0`). */
function asSent(body: string): unknown {
  return JSON.parse(JSON.stringify(JSON.parse(body))) as unknown;
}

test('random pipelined requests, cut into random pieces: every answer, in order, whichever reader took it', async () => {
  const { port } = await start();
  const request = fc.record({
    route: fc.constantFrom('/lean', '/node'),
    body: fc.json({ maxDepth: 2 }),
    chunked: fc.boolean(),
    oddField: fc.boolean(),
  });
  await fc.assert(
    fc.asyncProperty(
      fc.array(request, { minLength: 1, maxLength: 6 }),
      fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 20 }),
      async (requests, cuts) => {
        let bytes = '';
        requests.forEach((r, i) => {
          // A field given twice, or a chunked body: only Node's parser reads those.
          const odd = r.oddField ? 'X-A: 1\r\nX-A: 2\r\n' : '';
          const close = i === requests.length - 1 ? 'Connection: close\r\n' : '';
          const framing = r.chunked
            ? `Transfer-Encoding: chunked\r\n\r\n${Buffer.byteLength(r.body).toString(16)}\r\n${r.body}\r\n0\r\n\r\n`
            : `Content-Length: ${Buffer.byteLength(r.body)}\r\n\r\n${r.body}`;
          bytes += `POST ${r.route} HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n${odd}${close}${framing}`;
        });
        const c = client(port);
        const raw = Buffer.from(bytes);
        for (let at = 0, i = 0; at < raw.length; i++) {
          const size = cuts[i % cuts.length]!;
          c.socket.write(raw.subarray(at, at + size));
          at += size;
          await new Promise((r) => setImmediate(r));
        }
        await c.closed;
        const answers = await c.answers(requests.length, 100);
        assert.deepEqual(
          answers.map((a) => JSON.parse(a.body) as unknown),
          requests.map((r) =>
            r.route === '/lean' ? { got: asSent(r.body), q: null } : { node: asSent(r.body) },
          ),
        );
      },
    ),
    { numRuns: Number(process.env.GATEHOUSE_FUZZ_RUNS ?? 100) },
  );
});
