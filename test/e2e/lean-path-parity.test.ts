/**
 * One behaviour, two readers: every request to the enforcement routes is
 * sent to a real server twice, once plain (read by the lean path) and once
 * with its body sent chunked (which only Node's parser reads), and the two
 * answers must be the same: status, header fields and body, but for the
 * `Date` and the decision id. Fixed cases for each kind of answer, then
 * random JSON bodies.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { built, startServer, type ServerProcess } from '../support/server-process.js';

const WEB = 'spiffe://acme.corp/ns/shop/sa/web';

interface Case {
  method: string;
  target: string;
  headers: Record<string, string>;
  body?: string;
}

/** The answer's status line, fields and body, with what differs by nature (date, decision id) masked. */
function normalized(answer: string): { head: string[]; body: string } {
  const end = answer.indexOf('\r\n\r\n');
  const head = answer
    .slice(0, end)
    .split('\r\n')
    .filter((line) => !/^date:/i.test(line))
    .map((line) => line.replace(/[0-9a-f]{16}-[0-9a-f]{8}/g, 'ID'))
    .map((line) =>
      /^[a-z-]+:/i.test(line) ? line.replace(/^([^:]+):/, (_, n: string) => `${n.toLowerCase()}:`) : line,
    )
    .sort();
  const body = answer.slice(end + 4).replace(/[0-9a-f]{16}-[0-9a-f]{8}/g, 'ID');
  return { head, body };
}

function exchange(url: string, bytes: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let answer = '';
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => (answer += d));
    socket.on('error', reject);
    socket.on('close', () => resolve(answer));
    // Not half-closed: Node's server drops an answer under way when the client ends its side.
    socket.write(bytes);
  });
}

function plain(c: Case): string {
  const fields = Object.entries(c.headers).map(([k, v]) => `${k}: ${v}\r\n`);
  const length = c.body === undefined ? '' : `content-length: ${Buffer.byteLength(c.body)}\r\n`;
  return `${c.method} ${c.target} HTTP/1.1\r\nhost: t\r\n${fields.join('')}${length}connection: close\r\n\r\n${c.body ?? ''}`;
}

function chunked(c: Case): string {
  const fields = Object.entries(c.headers).map(([k, v]) => `${k}: ${v}\r\n`);
  const body = c.body ?? '';
  const chunks =
    body === '' ? '0\r\n\r\n' : `${Buffer.byteLength(body).toString(16)}\r\n${body}\r\n0\r\n\r\n`;
  return `${c.method} ${c.target} HTTP/1.1\r\nhost: t\r\n${fields.join('')}transfer-encoding: chunked\r\nconnection: close\r\n\r\n${chunks}`;
}

describe(
  'lean path and Node path answer alike',
  { skip: built ? false : 'run `npm run build` first' },
  () => {
    let dir: string;
    let server: ServerProcess;
    let admin: Record<string, string>;
    const json = { 'content-type': 'application/json' };

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'gatehouse-lean-'));
      server = await startServer(dir);
      admin = { ...json, authorization: `Bearer ${server.adminToken}` };
    });
    after(async () => {
      await server?.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    async function same(c: Case): Promise<void> {
      const lean = normalized(await exchange(server.url, plain(c)));
      const node = normalized(await exchange(server.url, chunked(c)));
      assert.deepEqual(lean, node, `${c.method} ${c.target} ${c.body ?? ''}`);
    }

    const decision = (method: string, path: string) =>
      JSON.stringify({
        source: { spiffeId: WEB, ip: '10.10.1.20' },
        credential: { type: 'x509-svid', verified: true },
        destination: { service: 'orders', port: 8443 },
        action: { method, path },
        context: { mtls: true },
      });

    const cases: [string, () => Case][] = [
      [
        'an allow',
        () => ({ method: 'POST', target: '/v1/decide', headers: admin, body: decision('GET', '/orders/42') }),
      ],
      [
        'a deny',
        () => ({
          method: 'POST',
          target: '/v1/decide',
          headers: admin,
          body: decision('DELETE', '/orders/42'),
        }),
      ],
      [
        'a request that is not JSON',
        () => ({ method: 'POST', target: '/v1/decide', headers: admin, body: '{"source":' }),
      ],
      [
        'a request of the wrong shape',
        () => ({ method: 'POST', target: '/v1/decide', headers: admin, body: '[1,2]' }),
      ],
      ['no body', () => ({ method: 'POST', target: '/v1/decide', headers: admin })],
      [
        'a body that is not declared JSON',
        () => ({
          method: 'POST',
          target: '/v1/decide',
          headers: { ...admin, 'content-type': 'text/plain' },
          body: decision('GET', '/'),
        }),
      ],
      [
        'no credential',
        () => ({ method: 'POST', target: '/v1/decide', headers: json, body: decision('GET', '/') }),
      ],
      [
        'a credential that does not verify',
        () => ({
          method: 'POST',
          target: '/v1/decide',
          headers: { ...json, authorization: 'Bearer not-a-token' },
          body: decision('GET', '/'),
        }),
      ],
      [
        'a batch',
        () => ({
          method: 'POST',
          target: '/v1/decide/batch',
          headers: admin,
          body: `{"requests":[${decision('GET', '/orders/1')},{"source":1}]}`,
        }),
      ],
      [
        'an empty batch',
        () => ({ method: 'POST', target: '/v1/decide/batch', headers: admin, body: '{"requests":[]}' }),
      ],
      [
        'ext_authz, allowed',
        () => ({
          method: 'GET',
          target: '/v1/ext_authz/orders/orders/42',
          headers: { 'x-gatehouse-source': WEB, 'x-forwarded-for': '10.10.1.20' },
        }),
      ],
      [
        'ext_authz, denied',
        () => ({
          method: 'DELETE',
          target: '/v1/ext_authz/orders/orders/42?x=1',
          headers: { 'x-forwarded-for': '10.10.1.20' },
        }),
      ],
      [
        'ext_authz, an unknown service',
        () => ({ method: 'POST', target: '/v1/ext_authz/nope', headers: {}, body: 'abc' }),
      ],
    ];

    for (const [what, make] of cases) test(what, () => same(make()));

    test('random JSON bodies', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(fc.json({ maxDepth: 3 }), fc.string({ maxLength: 40 })),
          fc.constantFrom('/v1/decide', '/v1/decide/batch'),
          async (body, target) => same({ method: 'POST', target, headers: admin, body }),
        ),
        { numRuns: Number(process.env.GATEHOUSE_FUZZ_RUNS ?? 60) },
      );
    });
  },
);
