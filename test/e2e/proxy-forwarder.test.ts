/**
 * The proxy's upstream side on real sockets: the forwarder's own HTTP/1.1
 * client against upstreams that answer with every body framing, interim
 * responses, large streamed bodies, stale pooled connections, silence and
 * malformed responses, with requests read by Node's server and by the
 * proxy's lean path; and the response parser fed byte by byte.
 */
import assert from 'node:assert/strict';
import http, { type IncomingHttpHeaders, type Server } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Forwarder, type ForwardOptions } from '../../src/proxy/forwarder.js';
import {
  Http1ResponseParser,
  ResponseParseError,
  type ResponseHead,
} from '../../src/proxy/http1-response-parser.js';
import { leanProxyPath } from '../../src/proxy/lean-proxy-service.js';
import type { ProxyRequest, ProxyResponse } from '../../src/proxy/proxy-exchange.js';
import { sendJson } from '../../src/proxy/proxy-handler.js';
import { leadWithLeanPath, leanPathCounters } from '../../src/server/http1-lean-path.js';

const OPTIONS: ForwardOptions = {
  path: '/',
  clientIp: '127.0.0.1',
  stripAuthorization: true,
  proto: 'http',
  upstreamHeaders: ['x-gatehouse-decision-id', 'd-1'],
  responseHeaders: ['x-gatehouse-decision-id', 'd-1'],
};

const listen = async (server: Server | net.Server) => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
};

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

function call(
  port: number,
  path: string,
  options: { method?: string; body?: Buffer | string[]; headers?: Record<string, string> } = {},
) {
  return new Promise<Answer>((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: options.method ?? 'GET',
        headers: options.headers ?? {},
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('end', () =>
          resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (Array.isArray(options.body)) {
      // Sent chunked, piece by piece.
      for (const piece of options.body) req.write(piece);
      req.end();
    } else req.end(options.body);
  });
}

/** A GET whose client reads one chunk, then pauses, as a slow reader does: the proxy meets back-pressure throughout. */
function slowCall(port: number, path: string) {
  return new Promise<{ status: number; length: number }>((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let length = 0;
      res.on('data', (d: Buffer) => {
        length += d.length;
        res.pause();
        setTimeout(() => res.resume(), 1);
      });
      res.on('end', () => resolve({ status: res.statusCode!, length }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

/**
 * A front proxying every request to `upstream` with the forwarder, its
 * requests read by Node's server or first by the proxy's lean path (which
 * hands a connection to Node's server at a request it does not read).
 */
async function frontOf(reader: Reader, upstream: number, timeoutMs = 60_000) {
  const forwarder = new Forwarder({
    upstream: new URL(`http://127.0.0.1:${upstream}`),
    timeoutMs,
    fail: (res, status, message, headers) => sendJson(res, status, { error: { message } }, headers, false),
  });
  const handler = (req: ProxyRequest, res: ProxyResponse) =>
    forwarder.forward(req, res, { ...OPTIONS, path: req.url! });
  const server = http.createServer(handler);
  const lean = leanPathCounters();
  if (reader === 'lean')
    leadWithLeanPath(server, 'connection', { ...leanProxyPath(handler, 20_000, 65_000), counters: lean });
  const port = await listen(server);
  return {
    port,
    lean,
    forwarder,
    close: () => {
      forwarder.close();
      server.closeAllConnections();
      server.close();
    },
  };
}

/** An upstream that answers each request with the next raw response in `script`. */
async function scripted(script: (string | ((socket: net.Socket) => void))[]) {
  let connections = 0;
  const server = net.createServer((socket) => {
    connections++;
    let buffered = '';
    socket.on('data', (d) => {
      buffered += d.toString('latin1');
      while (buffered.includes('\r\n\r\n')) {
        buffered = buffered.slice(buffered.indexOf('\r\n\r\n') + 4);
        const next = script.shift();
        if (next === undefined) socket.destroy();
        else if (typeof next === 'string') socket.write(next);
        else next(socket);
      }
    });
    socket.on('error', () => undefined);
  });
  const port = await listen(server);
  return { port, connections: () => connections, close: () => server.close() };
}

type Reader = 'node' | 'lean';

for (const reader of ['node', 'lean'] as const) {
  describe(`proxy forwarder, requests read by ${reader === 'node' ? "Node's server" : 'the lean path'}`, () => {
    const front = (upstream: number, timeoutMs?: number) => frontOf(reader, upstream, timeoutMs);
    let upstream: Server;
    let upstreamPort: number;
    let upstreamConnections = 0;
    const seen: { method: string; url: string; headers: IncomingHttpHeaders; length: number }[] = [];

    before(async () => {
      upstream = http.createServer((req, res) => {
        let length = 0;
        req.on('data', (d: Buffer) => (length += d.length));
        req.on('end', () => {
          seen.push({ method: req.method!, url: req.url!, headers: req.headers, length });
          if (req.url === '/big') {
            // 8 MiB, streamed in 64 KiB writes, chunked.
            const piece = Buffer.alloc(64 * 1024, 'x');
            res.writeHead(200, { 'content-type': 'application/octet-stream' });
            for (let i = 0; i < 128; i++) res.write(piece);
            res.end();
            return;
          }
          res.writeHead(200, {
            'content-type': 'text/plain',
            connection: 'x-drop-me',
            'x-drop-me': 'yes',
            'x-gatehouse-decision-id': 'forged',
            'x-kept': 'kept',
          });
          res.end(`${req.method} ${req.url} ${length}`);
        });
      });
      upstream.on('connection', () => upstreamConnections++);
      upstreamPort = await listen(upstream);
    });
    after(() => {
      upstream.closeAllConnections();
      upstream.close();
    });

    test('forwards over pooled keep-alive connections and filters fields both ways', async () => {
      const f = await front(upstreamPort);
      try {
        upstreamConnections = 0;
        seen.length = 0;
        for (let i = 0; i < 5; i++) {
          const res = await call(f.port, `/a?i=${i}`, {
            headers: {
              authorization: 'Bearer x',
              'x-gatehouse-spiffe-id': 'spiffe://forged',
              connection: 'keep-alive, x-hop',
              'x-hop': '1',
              te: 'trailers',
            },
          });
          assert.equal(res.status, 200);
          assert.equal(res.body.toString(), `GET /a?i=${i} 0`);
          assert.equal(res.headers['x-gatehouse-decision-id'], 'd-1', 'the upstream cannot forge it');
          assert.equal(res.headers['x-drop-me'], undefined);
          assert.equal(res.headers['x-kept'], 'kept');
        }
        assert.equal(upstreamConnections, 1, 'one pooled connection carried every request');
        const h = seen[0]!.headers;
        assert.equal(h.authorization, undefined);
        assert.equal(h['x-gatehouse-spiffe-id'], undefined);
        assert.equal(h['x-gatehouse-decision-id'], 'd-1');
        assert.equal(h['x-hop'], undefined);
        assert.equal(h.te, undefined);
        assert.equal(h['x-forwarded-for'], '127.0.0.1');
        assert.equal(h['x-forwarded-proto'], 'http');
        assert.match(String(h.host), /^127\.0\.0\.1:\d+$/);
        assert.equal(f.forwarder.inFlight, 0, 'answered exchanges are no longer in flight');
      } finally {
        f.close();
      }
    });

    test('a Connection token cannot take the framing away: a body never reaches the upstream as a request', async () => {
      const f = await front(upstreamPort);
      try {
        seen.length = 0;
        const smuggled =
          'POST /admin HTTP/1.1\r\nHost: h\r\nx-gatehouse-spiffe-id: spiffe://forged\r\nContent-Length: 0\r\n\r\n';
        for (const [connection, length] of [
          ['content-length', smuggled.length],
          ['Content-Length, host', smuggled.length],
          ['content-length', 0],
        ] as const) {
          const answer = await new Promise<string>((resolve, reject) => {
            const socket = net.connect(f.port, '127.0.0.1');
            let text = '';
            socket.on('data', (d) => {
              text += d.toString('latin1');
              // One answer, whole: its body, chunked, is `GET /a <length>`.
              if (text.endsWith('\r\n0\r\n\r\n')) socket.end();
            });
            socket.on('end', () => resolve(text));
            socket.on('error', reject);
            socket.write(
              `GET /a HTTP/1.1\r\nHost: h\r\nConnection: ${connection}\r\nContent-Length: ${length}\r\n\r\n` +
                (length ? smuggled : ''),
            );
          });
          assert.match(answer, /^HTTP\/1\.1 200 /);
          assert.ok(
            answer.includes(`\r\nGET /a ${length}\r\n`),
            `the body reached the upstream as a body: ${answer}`,
          );
        }
        await new Promise((r) => setTimeout(r, 100));
        assert.deepEqual(
          seen.map((r) => `${r.method} ${r.url} ${r.length} ${r.headers['content-length']}`),
          [
            `GET /a ${smuggled.length} ${smuggled.length}`,
            `GET /a ${smuggled.length} ${smuggled.length}`,
            'GET /a 0 0',
          ],
          'one request each, none smuggled',
        );
      } finally {
        f.close();
      }
    });

    test('a body that arrives slowly is streamed, not held (the lean path hands it to Node)', async () => {
      const f = await front(upstreamPort);
      try {
        seen.length = 0;
        const answer = await new Promise<string>((resolve, reject) => {
          const socket = net.connect(f.port, '127.0.0.1', () =>
            socket.write(
              'POST /slow HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\nConnection: close\r\n\r\nabcde',
            ),
          );
          let got = '';
          socket.setEncoding('latin1');
          socket.on('data', (d: string) => (got += d));
          socket.on('close', () => resolve(got));
          socket.on('error', reject);
          setTimeout(() => socket.write('fghij'), 2300);
        });
        assert.match(answer, /^HTTP\/1\.1 200 /);
        assert.match(answer, /\r\nPOST \/slow 10\r\n/);
        assert.equal(seen[0]!.length, 10);
        if (reader === 'lean') assert.deepEqual(f.lean, { served: 0, handedOff: 1 });
      } finally {
        f.close();
      }
    });

    test('streams large bodies both ways, with a length or chunked', async () => {
      const f = await front(upstreamPort);
      try {
        seen.length = 0;
        const big = Buffer.alloc(5 * 1024 * 1024, 'y');
        const withLength = await call(f.port, '/upload', { method: 'POST', body: big });
        assert.equal(withLength.body.toString(), `POST /upload ${big.length}`);
        assert.equal(seen[0]!.headers['content-length'], String(big.length));
        const pieces = Array.from({ length: 50 }, (_, i) => 'z'.repeat(1000 + i));
        const chunked = await call(f.port, '/upload', { method: 'PUT', body: pieces });
        const total = pieces.reduce((n, p) => n + p.length, 0);
        assert.equal(chunked.body.toString(), `PUT /upload ${total}`);
        assert.equal(seen[1]!.headers['transfer-encoding'], 'chunked');
        const down = await call(f.port, '/big');
        assert.equal(down.status, 200);
        assert.equal(down.body.length, 8 * 1024 * 1024);
        const head = await call(f.port, '/a', { method: 'HEAD' });
        assert.equal(head.status, 200);
        assert.equal(head.body.length, 0);
        const after = await call(f.port, '/after-head');
        assert.equal(
          after.body.toString(),
          'GET /after-head 0',
          'the connection is still in step after HEAD',
        );
      } finally {
        f.close();
      }
    });

    test('a response that ends while the client reads slowly leaves its pooled connection readable', async () => {
      // When the last body bytes meet back-pressure, the upstream socket is paused
      // until the client drains; an ended response never emits `drain`, so the
      // connection must be resumed when the exchange completes, or the next
      // request on it waits for an answer it never reads.
      const f = await front(upstreamPort, 2000);
      try {
        for (let round = 0; round < 3; round++) {
          const down = await slowCall(f.port, '/big');
          assert.equal(down.status, 200);
          assert.equal(down.length, 8 * 1024 * 1024);
          const next = await call(f.port, `/after-slow?round=${round}`);
          assert.equal(next.status, 200, 'the pooled connection still reads its answers');
          assert.equal(next.body.toString(), `GET /after-slow?round=${round} 0`);
        }
      } finally {
        f.close();
      }
    });

    test('reads every response framing, interim responses, and stale pooled connections', async () => {
      const up = await scripted([
        'HTTP/1.1 103 Early Hints\r\nlink: </s.css>\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello',
        (s) => {
          // Chunked, with an extension and a trailer, split across writes.
          s.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5;ext=1\r\nchun');
          setTimeout(() => s.write('k\r\n3\r\ned!\r\n0\r\ntrailer: x\r\n\r\n'), 20);
        },
        'HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n',
        'HTTP/1.1 304 Not Modified\r\netag: "x"\r\n\r\n',
        (s) => {
          // Keep-alive promised, then the connection is closed while idle.
          s.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
          setTimeout(() => s.end(), 10);
        },
        'HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nfresh',
        // A pooled connection the upstream drops as the next request arrives.
        (s) => s.destroy(),
        'HTTP/1.1 200 OK\r\ncontent-length: 7\r\n\r\nretried',
        (s) => s.end('HTTP/1.0 200 OK\r\ncontent-type: text/plain\r\n\r\nuntil the close'),
      ]);
      const f = await front(up.port);
      try {
        assert.equal((await call(f.port, '/1')).body.toString(), 'hello');
        const chunked = await call(f.port, '/2');
        assert.equal(chunked.body.toString(), 'chunked!');
        assert.equal(chunked.headers['transfer-encoding'], 'chunked', 're-chunked for the client');
        assert.equal((await call(f.port, '/3')).status, 204);
        assert.equal((await call(f.port, '/4')).status, 304);
        assert.equal((await call(f.port, '/5')).body.toString(), 'ok');
        await new Promise((r) => setTimeout(r, 50));
        assert.equal(
          (await call(f.port, '/6')).body.toString(),
          'fresh',
          'the closed idle connection is not used',
        );
        assert.equal((await call(f.port, '/7')).body.toString(), 'retried', 'sent again on a new connection');
        assert.equal((await call(f.port, '/8')).body.toString(), 'until the close');
        assert.equal(up.connections(), 3);
      } finally {
        f.close();
        up.close();
      }
    });

    test('malformed, silent or absent upstreams: 502 or 504 with the decision id, never a mixed-up answer', async () => {
      const malformed = [
        'HTTP/1.1 200 OK\r\ncontent-length: 3\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n',
        'HTTP/1.1 200 OK\r\ncontent-length: 3\r\ncontent-length: 4\r\n\r\nabcd',
        'HTTP/1.1 200 OK\r\nx: a\r\n folded\r\ncontent-length: 0\r\n\r\n',
        'HTTP/2 200\r\ncontent-length: 0\r\n\r\n',
        'SMTP ready\r\n\r\n',
        'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n',
        'HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\n\r\nxx',
        'HTTP/1.1 101 Switching Protocols\r\nupgrade: x\r\n\r\n',
        'HTTP/1.1 200 OK\r\nbad\u0001value: x\r\n\r\n',
        // A value no HTTP server may send (DEL), whoever is to write it to the client.
        'HTTP/1.1 200 OK\r\nx: a\u007fb\r\ncontent-length: 0\r\n\r\n',
      ];
      for (const response of malformed) {
        const up = await scripted([response]);
        const f = await front(up.port);
        try {
          const res = await call(f.port, '/');
          assert.equal(res.status, 502, JSON.stringify(response));
          assert.equal(res.headers['x-gatehouse-decision-id'], 'd-1');
          assert.equal(f.forwarder.inFlight, 0, 'a failed exchange is no longer in flight');
        } finally {
          f.close();
          up.close();
        }
      }
      const cut = await scripted([(s) => s.end('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly part')]);
      const f1 = await front(cut.port);
      await assert.rejects(call(f1.port, '/'), 'a body cut short is not passed off as complete');
      f1.close();
      cut.close();

      const silent = await scripted([() => undefined]);
      const f2 = await front(silent.port, 300);
      const timedOut = await call(f2.port, '/');
      assert.equal(timedOut.status, 504);
      assert.equal(f2.forwarder.inFlight, 0);
      f2.close();
      silent.close();

      // A caller that goes away (a reset: the lean path answers a caller that only half-closes)
      // while the upstream is silent takes its exchange with it.
      const mute = await scripted([() => undefined]);
      const f4 = await front(mute.port);
      const caller = net.connect(f4.port, '127.0.0.1', () =>
        caller.write('GET / HTTP/1.1\r\nhost: x\r\n\r\n'),
      );
      caller.on('error', () => undefined);
      for (let i = 0; i < 100 && f4.forwarder.inFlight === 0; i++)
        await new Promise((r) => setTimeout(r, 10));
      assert.equal(f4.forwarder.inFlight, 1, 'forwarded and waiting');
      caller.resetAndDestroy();
      for (let i = 0; i < 100 && f4.forwarder.inFlight > 0; i++) await new Promise((r) => setTimeout(r, 10));
      assert.equal(f4.forwarder.inFlight, 0, 'abandoned');
      f4.close();
      mute.close();

      const gone = net.createServer();
      const port = await listen(gone);
      gone.close();
      const f3 = await front(port);
      const refused = await call(f3.port, '/');
      assert.equal(refused.status, 502);
      assert.equal(f3.forwarder.inFlight, 0);
      assert.match(
        String((JSON.parse(refused.body.toString()) as { error: { message: string } }).error.message),
        /ECONNREFUSED/,
      );
      f3.close();
    });
  });
}

describe('proxy response parser', () => {
  test('the response parser gives the same result however the bytes are split', () => {
    const wire =
      'HTTP/1.1 100 Continue\r\n\r\n' +
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\n\r\n' +
      '5\r\nhello\r\n1;x=y\r\n \r\nA\r\n0123456789\r\n0\r\nT: v\r\n\r\n';
    const bytes = Buffer.from(wire, 'latin1');
    for (const size of [1, 2, 3, 7, 16, bytes.length]) {
      const heads: ResponseHead[] = [];
      let body = '';
      const done: boolean[] = [];
      const parser = new Http1ResponseParser({
        head: (h) => heads.push(h),
        body: (c) => (body += c.toString('latin1')),
        done: (reusable) => done.push(reusable),
      });
      parser.expect('GET');
      for (let i = 0; i < bytes.length; i += size) parser.feed(bytes.subarray(i, i + size));
      assert.equal(heads.length, 1, `split ${size}`);
      assert.equal(heads[0]!.status, 200);
      assert.deepEqual(heads[0]!.headers, ['Transfer-Encoding', 'chunked', 'X-A', '1']);
      assert.equal(body, 'hello 0123456789');
      assert.deepEqual(done, [true]);
    }
    const parser = new Http1ResponseParser({
      head: () => undefined,
      body: () => undefined,
      done: () => undefined,
    });
    assert.throws(
      () => parser.feed(Buffer.from('HTTP/1.1 200 OK\r\n\r\n')),
      ResponseParseError,
      'nothing expected',
    );
    parser.expect('GET');
    assert.throws(() => parser.feed(Buffer.alloc(70 * 1024, 'a')), /head too large/);
  });
});
