/**
 * Streamed answers (`StreamBody`) on a real socket: chunks go out as they
 * come, a failure before the first chunk is an ordinary JSON error, a
 * failure after it cuts the connection (never a complete-looking answer),
 * and a client that leaves stops the producer.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { GatehouseError } from '../../../src/core/errors.js';
import { createHttpServer } from '../../../src/server/http-server.js';
import type { Logger } from '../../../src/server/logger.js';
import { Router, StreamBody } from '../../../src/server/router.js';

const logged: string[] = [];
const logger: Logger = { log: (_level, event) => void logged.push(event) };
let stopped = false;

async function* lines(n: number, failAt?: number): AsyncGenerator<string> {
  try {
    for (let i = 1; i <= n; i++) {
      if (i === failAt) throw new Error('the store went away');
      yield `{"seq":${i}}\n`;
      await new Promise((r) => setImmediate(r));
    }
  } finally {
    stopped = true;
  }
}

const router = new Router()
  .add('GET', '/ok', () => ({
    status: 200,
    body: new StreamBody(lines(5)),
    headers: { 'content-type': 'application/x-ndjson' },
  }))
  .add('GET', '/fails-first', () => ({ status: 200, body: new StreamBody(lines(5, 1)) }))
  .add('GET', '/fails-later', () => ({ status: 200, body: new StreamBody(lines(5, 3)) }))
  .add('GET', '/refused', () => ({
    status: 200,
    body: new StreamBody(
      (async function* () {
        yield* [];
        throw new GatehouseError('request_invalid', 'no such record');
      })(),
    ),
  }))
  .add('GET', '/endless', () => ({ status: 200, body: new StreamBody(lines(Number.MAX_SAFE_INTEGER)) }));

const server = createHttpServer({ router, logger });
let base = '';
before(async () => {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => server.close());

test('chunks go out as they come, chunked, with the route headers', async () => {
  const res = await fetch(`${base}/ok`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('transfer-encoding'), 'chunked');
  assert.equal(res.headers.get('content-type'), 'application/x-ndjson');
  assert.equal(res.headers.get('cache-control'), 'no-store');
  assert.equal(await res.text(), [1, 2, 3, 4, 5].map((i) => `{"seq":${i}}\n`).join(''));
});

test('HEAD gets the head only', async () => {
  const res = await fetch(`${base}/ok`, { method: 'HEAD' });
  assert.equal(res.status, 200);
  assert.equal(await res.text(), '');
});

test('a failure before the first chunk is an ordinary error answer', async () => {
  const internal = await fetch(`${base}/fails-first`);
  assert.equal(internal.status, 500);
  assert.deepEqual(await internal.json(), { error: { code: 'internal_error', message: 'internal error' } });
  assert.ok(logged.includes('response_failed'));
  const refused = await fetch(`${base}/refused`);
  assert.equal(refused.status, 400);
  assert.equal(((await refused.json()) as { error: { code: string } }).error.code, 'request_invalid');
});

test('a failure after the first chunk cuts the connection: the answer never looks complete', async () => {
  const res = await fetch(`${base}/fails-later`);
  assert.equal(res.status, 200);
  await assert.rejects(res.text());
});

test('a client that leaves stops the producer', async () => {
  stopped = false;
  await new Promise<void>((resolve, reject) => {
    const req = request(`${base}/endless`, (res) => {
      res.once('data', () => {
        req.destroy();
        resolve();
      });
    });
    req.on('error', (e) => ((e as NodeJS.ErrnoException).code === 'ECONNRESET' ? resolve() : reject(e)));
    req.end();
  });
  for (let i = 0; i < 100 && !stopped; i++) await new Promise((r) => setTimeout(r, 20));
  assert.ok(stopped, 'the generator was closed');
});
