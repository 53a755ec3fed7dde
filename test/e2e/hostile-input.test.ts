/**
 * Hostile input on every route of the real server process: malformed and
 * oversized requests, bad tokens, path tricks, odd methods, slow clients.
 * Each must get a clear 4xx with a JSON error (or, on the decision routes, a
 * deny), never a 5xx, never a crash, and never an allow. The routes come from
 * the server itself (its `routes_registered` debug event), so a new route is
 * swept without touching this file.
 *
 * Requests go over raw sockets: Node's own client would normalise most of
 * what is sent here.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { built, startServer, type ServerProcess } from '../support/server-process.js';

const WEB = 'spiffe://acme.corp/ns/shop/sa/web';

/** Routes that answer without a caller credential; every other route must answer 401 to one. */
const PUBLIC = new Set([
  'GET /.well-known/spiffe-bundle',
  'GET /v1/bundle',
  'GET /healthz',
  'GET /readyz',
  'GET /metrics',
  'POST /v1/attest',
]);
const isExtAuthz = (pattern: string) => pattern.startsWith('/v1/ext_authz/');
const isDecide = (pattern: string) => pattern === '/v1/decide' || pattern === '/v1/decide/batch';

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

interface Route {
  method: string;
  pattern: string;
  /** The pattern with its parameters filled in. */
  path: string;
}

/** One request as bytes, and what its answer must be. */
interface Case {
  name: string;
  route?: Route;
  data: string | Buffer;
  /** An exact status or `4xx`; by default anything but a 5xx. */
  want?: number | '4xx';
  /** The error code a 4xx must carry. */
  code?: string;
}

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const ALG_NONE = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: WEB, aud: ['orders'], exp: 9e9 })}.`;
const FORGED_ES256 = `${b64({ alg: 'ES256', kid: 'k1', typ: 'JWT' })}.${b64({ sub: WEB, exp: 9e9 })}.${'A'.repeat(86)}`;

function nested(depth: number): string {
  return '['.repeat(depth) + ']'.repeat(depth);
}

/** A well-formed v1 decision request whose credential is only claimed. */
const CLAIMED = {
  source: { spiffeId: WEB, ip: '10.10.1.20' },
  credential: { type: 'jwt-svid', verified: true },
  destination: { service: 'orders', port: 8443 },
  action: { method: 'POST', path: '/orders' },
  context: { mtls: true },
};

const BODIES: [string, string | Buffer][] = [
  ['truncated JSON', '{"source": '],
  ['not JSON', 'hello'],
  ['JSON with a BOM', '\ufeff{}'],
  ['invalid UTF-8', Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d])],
  ['an array', '[]'],
  ['null', 'null'],
  ['a string', '"x"'],
  ['a number', '1e999'],
  ['true', 'true'],
  ['an empty object', '{}'],
  ['a prototype key', '{"__proto__": {"admin": true}, "constructor": {"prototype": {"x": 1}}}'],
  ['deep nesting', nested(50_000)],
  ['deep nesting in a field', `{"source": ${nested(20_000)}, "records": ${nested(20_000)}}`],
  [
    'deep context',
    JSON.stringify({ ...CLAIMED, credential: undefined }).replace('true}', `${nested(20_000)}}`),
  ],
  ['many keys', JSON.stringify(Object.fromEntries(Array.from({ length: 20_000 }, (_, i) => [`k${i}`, i])))],
  ['a long string', JSON.stringify({ spiffeId: 'x'.repeat(900_000) })],
  ['a forged JWT as credential', JSON.stringify({ ...CLAIMED, credential: { jwtSvid: FORGED_ES256 } })],
  ['an alg none JWT as credential', JSON.stringify({ ...CLAIMED, credential: { jwtSvid: ALG_NONE } })],
  [
    'an oversized JWT as credential',
    JSON.stringify({ ...CLAIMED, credential: { jwtSvid: 'e'.repeat(70_000) } }),
  ],
  [
    'garbage PEM as credential',
    JSON.stringify({
      ...CLAIMED,
      credential: { x509Chain: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----' },
    }),
  ],
  ['both credentials', JSON.stringify({ ...CLAIMED, credential: { jwtSvid: 'a', x509Chain: 'b' } })],
  ['a join token', JSON.stringify({ method: 'join-token', token: 'gjt_forged', csr: 'x' })],
  ['an oversized join token', JSON.stringify({ method: 'join-token', token: 'gjt_' + 'x'.repeat(500_000) })],
  ['an OIDC token', JSON.stringify({ method: 'oidc', token: FORGED_ES256, spiffeId: WEB })],
  ['a token to verify', JSON.stringify({ token: ALG_NONE, audience: 'orders', chain: 'x' })],
  ['an X.509 renewal', JSON.stringify({ x509Svid: 'garbage', csr: 'garbage' })],
  [
    'a batch of garbage',
    JSON.stringify({ requests: [null, 1, 'x', [], {}, { ...CLAIMED, credential: { jwtSvid: ALG_NONE } }] }),
  ],
  ['a too large batch', JSON.stringify({ requests: Array.from({ length: 1001 }, () => ({})) })],
  [
    'records of garbage',
    JSON.stringify({ records: [null, { v: 1 }, { v: 1, decision: 'allow', allowed: true }] }),
  ],
  ['policy sources of garbage', JSON.stringify({ sources: [{ file: '../../etc/passwd', text: 1 }, null] })],
  ['a grant of garbage', JSON.stringify({ entry: 'x', task: 'x', ttlSeconds: 1e300, scope: { methods: 1 } })],
];

/** Wrong types for every field a route may read. */
const MISTYPED: [string, string][] = [];
const FIELDS = [
  'spiffeId',
  'entryId',
  'kind',
  'owner',
  'status',
  'method',
  'token',
  'csr',
  'x509',
  'x509Svid',
  'audience',
  'ttlSeconds',
  'chain',
  'target',
  'value',
  'reason',
  'entry',
  'task',
  'scope',
  'requestedBy',
  'issuer',
  'force',
  'sources',
  'activate',
  'comment',
  'requests',
  'records',
  'source',
  'destination',
  'action',
  'context',
  'credential',
  'time',
  'apiVersion',
  'flows',
  'format',
];
const WRONG = [null, -1, '', {}, [], true, 'x'.repeat(70_000)];
for (const field of FIELDS)
  for (const v of WRONG)
    MISTYPED.push([`\`${field}\` as ${JSON.stringify(v).slice(0, 12)}`, JSON.stringify({ [field]: v })]);

const QUERIES = [
  'limit=1&limit=1000',
  'limit=abc',
  'limit=-1',
  'limit=1e3',
  'limit=99999999999999999999',
  'fromSeq=0',
  'fromSeq=x',
  'since=garbage&until=2024-13-45T99:99:99Z',
  'verdict=maybe',
  'afterSeq=-1&beforeSeq=1.5',
  'revocationCursor=-1',
  'revocationCursor=1e400',
  'bundleSequence=x&bundleSequence=y',
  'from=&to=%00',
  'activeAt=garbage&entryId=%zz',
  'status=weird&kind=%00&owner[]=1',
  'a=%&b=%%&c=%G0',
  '%00=%00',
  '&&&==&=',
];

function head(method: string, target: string, headers: Record<string, string> = {}): string {
  const lines = [`${method} ${target} HTTP/1.1`, 'host: 127.0.0.1', 'connection: close'];
  for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
  return lines.join('\r\n') + '\r\n\r\n';
}

function withBody(
  method: string,
  target: string,
  headers: Record<string, string>,
  body: string | Buffer,
): Buffer {
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body);
  return Buffer.concat([
    Buffer.from(head(method, target, { ...headers, 'content-length': String(bytes.length) })),
    bytes,
  ]);
}

/**
 * Sends bytes on a fresh connection and reads one answer until the server
 * closes. `feed` keeps writing after the first bytes (slow clients).
 */
function raw(
  port: number,
  data: string | Buffer,
  options: { timeoutMs?: number; feed?: (write: (s: string) => void) => () => void } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let stopFeed = () => {};
    const timer = setTimeout(() => {
      stopFeed();
      socket.destroy();
      reject(new Error(`no answer within ${options.timeoutMs ?? 10_000} ms`));
    }, options.timeoutMs ?? 10_000);
    const finish = () => {
      clearTimeout(timer);
      stopFeed();
      const all = Buffer.concat(chunks).toString('latin1');
      // Skip interim answers (100 Continue).
      const text = all.replace(/^(HTTP\/1\.1 1\d\d [^\r]*\r\n(?:[^\r]+\r\n)*\r\n)+/, '');
      const end = text.indexOf('\r\n\r\n');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      if (!m || end < 0) {
        reject(new Error(`no HTTP answer: ${JSON.stringify(all.slice(0, 200))}`));
        return;
      }
      const headers: Record<string, string> = {};
      for (const line of text.slice(0, end).split('\r\n').slice(1)) {
        const i = line.indexOf(':');
        headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
      }
      resolve({ status: Number(m[1]), headers, body: text.slice(end + 4) });
    };
    socket.on('connect', () => {
      socket.write(data);
      if (options.feed) stopFeed = options.feed((s) => socket.writable && socket.write(s));
    });
    socket.on('data', (d: Buffer) => chunks.push(d));
    // A reset after the answer (the server closed with our body unread) still counts.
    socket.on('error', () => undefined);
    socket.on('close', finish);
  });
}

/** Runs `work` on every item, `width` at a time. */
async function pool<T>(items: T[], width: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}

function fill(pattern: string): string {
  return pattern
    .split('/')
    .map((s) => (s === '*' ? 'orders/x' : s === ':service' ? 'orders' : s.startsWith(':') ? 'x1' : s))
    .join('/');
}

describe('hostile input', { skip: built ? false : 'run `npm run build` first' }, () => {
  let dir: string;
  let server: ServerProcess;
  let port: number;
  let admin: string;
  let routes: Route[];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-hostile-'));
    server = await startServer(dir, ['--log-level', 'debug']);
    port = Number(new URL(server.url).port);
    admin = server.adminToken;
    const event = server
      .stderr()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { event: string; routes?: string[] })
      .find((e) => e.event === 'routes_registered');
    assert.ok(event?.routes?.length, 'the server lists its routes at debug level');
    routes = event.routes.map((r) => {
      const [method, pattern] = r.split(' ') as [string, string];
      return { method, pattern, path: fill(pattern) };
    });
  });
  after(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Checks one answer against its case and the rules every answer obeys. */
  function check(c: Case, a: Answer): void {
    const where = `${c.route ? `${c.route.method} ${c.route.pattern}` : ''}: ${c.name} → ${a.status} ${a.body.slice(0, 300)}`;
    assert.ok(a.status >= 200 && a.status < 500, `no 5xx for client faults: ${where}`);
    if (c.want === '4xx') assert.ok(a.status >= 400, `a 4xx: ${where}`);
    else if (c.want !== undefined) assert.equal(a.status, c.want, where);
    const pattern = c.route?.pattern ?? '';
    if (isExtAuthz(pattern)) assert.notEqual(a.status, 200, `ext_authz never allows garbage: ${where}`);
    const headRequest = c.data.slice(0, 5).toString() === 'HEAD ';
    if (a.status >= 400 && !headRequest) {
      const json = JSON.parse(a.body) as {
        error?: { code?: unknown; message?: unknown };
        decision?: unknown;
      };
      if (json.decision !== undefined) assert.equal(json.decision, 'deny', where);
      else {
        assert.match(String(json.error?.code), /^[a-z][a-z0-9_]*$/, `a stable error code: ${where}`);
        assert.equal(typeof json.error?.message, 'string', where);
        if (c.code) assert.equal(json.error?.code, c.code, where);
      }
    }
    if (a.status === 200 && isDecide(pattern) && a.body) {
      const json = JSON.parse(a.body) as { decision?: string; decisions?: { decision?: string }[] };
      for (const d of json.decisions ?? [json])
        assert.notEqual(d.decision, 'allow', `never an allow: ${where}`);
    }
  }

  async function sweep(cases: Case[]): Promise<void> {
    const failures: string[] = [];
    await pool(cases, 24, async (c) => {
      try {
        check(c, await raw(port, c.data));
      } catch (err) {
        failures.push(
          `${c.route ? `${c.route.method} ${c.route.pattern}` : ''}: ${c.name}: ${(err as Error).message}`,
        );
      }
    });
    assert.deepEqual(failures.slice(0, 20), [], `${failures.length} failure(s)`);
  }

  test('the routes are known', () => {
    assert.ok(routes.some((r) => r.method === 'POST' && r.pattern === '/v1/decide'));
    assert.ok(routes.some((r) => isExtAuthz(r.pattern)));
  });

  // Slow clients run alongside the sweeps: the server keeps serving others meanwhile.
  let slow: Promise<void>;
  test('slow clients are started', () => {
    const auth = `Bearer ${admin}`;
    const every = (ms: number, text: string) => (write: (s: string) => void) => {
      const t = setInterval(() => write(text), ms);
      return () => clearInterval(t);
    };
    const wait = { timeoutMs: 15_000 };
    slow = Promise.all([
      // A chunked body that never ends, then one that trickles a byte a second.
      raw(
        port,
        head('POST', '/v1/decide', {
          authorization: auth,
          'content-type': 'application/json',
          'transfer-encoding': 'chunked',
        }) + '1\r\n{\r\n',
        wait,
      ),
      raw(
        port,
        head('POST', '/v1/decide', {
          authorization: auth,
          'content-type': 'application/json',
          'transfer-encoding': 'chunked',
        }),
        {
          ...wait,
          feed: every(1000, '1\r\n \r\n'),
        },
      ),
      // A body shorter than its declared length.
      raw(
        port,
        head('POST', '/v1/entries', {
          authorization: auth,
          'content-type': 'application/json',
          'content-length': '100',
        }) + '{"a":',
        wait,
      ),
      // A head that never ends.
      raw(port, 'POST /v1/decide HTTP/1.1\r\nhost: 127.0.0.1\r\n', {
        ...wait,
        feed: every(1000, 'x-slow: 1\r\n'),
      }),
    ]).then(([chunked, trickle, short, headers]) => {
      for (const a of [chunked, trickle, short]) {
        assert.equal(a.status, 408, a.body);
        assert.equal((JSON.parse(a.body) as { error: { code: string } }).error.code, 'body_timeout');
      }
      assert.equal(headers.status, 408, headers.body);
      assert.equal((JSON.parse(headers.body) as { error: { code: string } }).error.code, 'request_timeout');
    });
    slow.catch(() => undefined);
  });

  test('bad and oversized credentials get 401 on every protected route', async () => {
    const cases: Case[] = [];
    const auths: [string, Record<string, string>][] = [
      ['no credential', {}],
      ['an empty bearer', { authorization: 'Bearer' }],
      ['a bearer of spaces', { authorization: 'Bearer    ' }],
      ['basic auth', { authorization: `Basic ${Buffer.from('admin:admin').toString('base64')}` }],
      ['a garbage bearer', { authorization: 'Bearer garbage' }],
      ['two tokens', { authorization: `Bearer ${admin} ${admin}` }],
      ['a wrong admin secret', { authorization: `Bearer ${admin.slice(0, -2)}xx` }],
      ['a long admin secret', { authorization: `Bearer ${admin}${'x'.repeat(10_000)}` }],
      ['an alg none JWT', { authorization: `Bearer ${ALG_NONE}` }],
      ['a forged JWT', { authorization: `Bearer ${FORGED_ES256}`, 'x-gatehouse-spiffe-id': WEB }],
      ['a JWT of garbage parts', { authorization: `Bearer ${'a'.repeat(4000)}.${'%'.repeat(10)}.b` }],
      ['a 12 KB JWT', { authorization: `Bearer ${b64({ alg: 'ES256' })}.${'e'.repeat(12_000)}.x` }],
      [
        'a forged client certificate',
        {
          'x-forwarded-client-cert': `Cert="${encodeURIComponent('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----')}";URI=${WEB}`,
        },
      ],
      [
        'a bad client certificate encoding',
        { 'x-forwarded-client-cert': 'Cert="%E0%A4%A";URI=x', 'x-forwarded-port': '99999' },
      ],
    ];
    for (const route of routes) {
      const open = PUBLIC.has(`${route.method} ${route.pattern}`) || isExtAuthz(route.pattern);
      for (const [name, headers] of auths) {
        cases.push({
          name,
          route,
          data: head(route.method, route.path, headers),
          ...(open ? {} : { want: 401, code: 'unauthorized' }),
        });
      }
      cases.push({
        name: 'an oversized bearer',
        route,
        data: head(route.method, route.path, { authorization: `Bearer ${'x'.repeat(20_000)}` }),
        want: 431,
        code: 'headers_too_large',
      });
      cases.push({
        name: 'two authorization headers',
        route,
        data: head(route.method, route.path, { authorization: `Bearer ${admin}`, Authorization: 'Bearer x' }),
        want: 400,
        code: 'header_duplicate',
      });
      cases.push({
        name: 'a control character in a token',
        route,
        data: head(route.method, route.path, { authorization: `Bearer ${admin}\u0001` }),
        want: 400,
        code: 'request_malformed',
      });
    }
    await sweep(cases);
  });

  test('malformed, oversized and mistyped bodies get a 4xx', async () => {
    const cases: Case[] = [];
    const json = { authorization: `Bearer ${admin}`, 'content-type': 'application/json' };
    for (const route of routes) {
      // Every method but GET and HEAD may carry a body; ext_authz reads none, so POST stands for it.
      if (['GET', 'HEAD'].includes(route.method)) continue;
      if (isExtAuthz(route.pattern) && route.method !== 'POST') continue;
      // Mistyped fields go only to routes that refuse an empty body: one that takes `{}` (an
      // analysis, say) would mostly redo its whole work for each of them.
      const empty = await raw(port, withBody(route.method, route.path, json, '{}'));
      const bodies = empty.status < 300 ? BODIES : [...BODIES, ...MISTYPED];
      for (const [name, body] of bodies) {
        cases.push({ name, route, data: withBody(route.method, route.path, json, body) });
        if (PUBLIC.has(`${route.method} ${route.pattern}`) || isExtAuthz(route.pattern))
          cases.push({
            name: `${name}, anonymous`,
            route,
            data: withBody(route.method, route.path, { 'content-type': 'application/json' }, body),
          });
      }
      const body = '{"a":1}';
      cases.push({
        name: 'no content type',
        route,
        data: withBody(route.method, route.path, { authorization: `Bearer ${admin}` }, body),
      });
      cases.push({
        name: 'a text content type',
        route,
        data: withBody(route.method, route.path, { ...json, 'content-type': 'text/plain' }, body),
      });
      cases.push({
        name: 'two content types',
        route,
        data: withBody(route.method, route.path, { ...json, 'Content-Type': 'text/plain' }, body),
        want: 400,
        code: 'header_duplicate',
      });
      cases.push({
        name: 'a declared 2 MiB body',
        route,
        data: head(route.method, route.path, { ...json, 'content-length': String(2 * 1024 * 1024) }) + '{}',
      });
      cases.push({
        name: 'a 1.5 MiB chunked body',
        route,
        data:
          head(route.method, route.path, { ...json, 'transfer-encoding': 'chunked' }) +
          `180000\r\n${' '.repeat(0x180000)}\r\n0\r\n\r\n`,
      });
      cases.push({
        name: 'two content lengths',
        route,
        data:
          head(route.method, route.path, { ...json, 'content-length': '2', 'Content-Length': '3' }) + '{}',
        want: 400,
        code: 'request_malformed',
      });
      cases.push({
        name: 'length and chunked',
        route,
        data:
          head(route.method, route.path, { ...json, 'content-length': '2', 'transfer-encoding': 'chunked' }) +
          '{}',
        want: 400,
        code: 'request_malformed',
      });
      cases.push({
        name: 'a bad chunk size',
        route,
        data:
          head(route.method, route.path, { ...json, 'transfer-encoding': 'chunked' }) +
          'zz\r\n{}\r\n0\r\n\r\n',
        want: 400,
      });
    }
    await sweep(cases);
  });

  test('path tricks, odd methods, odd heads and odd queries get a 4xx', async () => {
    const cases: Case[] = [];
    const auth = { authorization: `Bearer ${admin}` };
    for (const route of routes) {
      const { method, path } = route;
      const segments = path.split('/');
      const last = segments.length - 1;
      const ext = isExtAuthz(route.pattern);
      const paths: [string, string][] = [
        ['a leading `//`', `/${path}`],
        ['a doubled `/`', path.replace(/\/([^/]*)$/, '//$1')],
        ['`/../`', `/v1/..${path}`],
        ['`/./`', path.replace('/', '/./')],
        ['`%2e%2e`', `/v1/%2e%2e${path}`],
        ['`%2E%2E/` in place of a segment', `${segments.slice(0, last).join('/')}/%2E%2E/${segments[last]}`],
        ['an encoded slash', `${segments.slice(0, last).join('/')}%2F${segments[last]}`],
        ['an encoded NUL', `${path}%00`],
        ['a backslash', path.replace(/\/([^/]*)$/, '\\$1')],
        ['upper case', path.toUpperCase()],
        ['a bare `%`', `${path}%`],
        ['an absolute URL', `http://127.0.0.1${path}`],
        ['an asterisk', '*'],
      ];
      for (const [name, target] of paths) {
        // Past the service name, ext_authz carries the original path: the policy decides (a deny).
        cases.push({
          name,
          route,
          data: head(method, target, auth),
          ...(ext ? {} : { want: '4xx' as const }),
        });
      }
      if (!route.pattern.endsWith('*'))
        cases.push({
          name: 'a trailing `/`',
          route,
          data: head(method, `${path}/`, auth),
          ...(ext ? {} : { want: 404 }),
        });
      for (const v of ['%2e%2e', '.', '%2F', '%00', '%', '%zz', '%5c', '']) {
        if (!route.pattern.includes('/:')) break;
        cases.push({
          name: `the parameter \`${v}\``,
          route,
          data: head(method, route.pattern.replace(/:[a-z]+/, v).replace('*', 'x'), auth),
          want: '4xx',
        });
      }
      cases.push({
        name: 'a raw NUL',
        route,
        data: head(method, `${path}\u0000x`, auth),
        want: 400,
        code: 'path_invalid',
      });
      cases.push({ name: 'a raw space', route, data: head(method, `${path} x`, auth), want: 400 });
      cases.push({
        name: 'a 10 KB URL',
        route,
        data: head(method, `${path}?q=${'x'.repeat(10_000)}`, auth),
        want: 414,
        code: 'uri_too_long',
      });
      cases.push({
        name: 'a 20 KB URL',
        route,
        data: head(method, `${path}?q=${'x'.repeat(20_000)}`, auth),
        want: 431,
      });
      for (const m of ['pOsT', 'get', 'FOO', 'G\u0000T']) {
        cases.push({ name: `the method ${JSON.stringify(m)}`, route, data: head(m, path, auth), want: 400 });
      }
      for (const m of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE', 'PROPFIND', 'HEAD']) {
        if (m === method || (m === 'HEAD' && method === 'GET')) continue;
        const served = (x: string) => routes.some((r) => r.pattern === route.pattern && r.method === x);
        if (served(m) || (m === 'HEAD' && served('GET'))) continue;
        cases.push({
          name: `the method ${m}`,
          route,
          data: head(m, path, auth),
          want: 405,
          code: 'method_not_allowed',
        });
      }
      cases.push({
        name: 'CONNECT',
        route,
        data: head('CONNECT', path, auth),
        want: 405,
        code: 'method_not_allowed',
      });
      cases.push({ name: 'HTTP/2 preface', route, data: 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', want: 400 });
      cases.push({
        name: 'no host',
        route,
        data: `${method} ${path} HTTP/1.1\r\nconnection: close\r\n\r\n`,
        want: 400,
        code: 'header_missing',
      });
      cases.push({
        name: 'two hosts',
        route,
        data: head(method, path, { ...auth, Host: 'evil' }),
        want: 400,
        code: 'header_duplicate',
      });
      cases.push({
        name: 'bare LF line ends',
        route,
        data: `${method} ${path} HTTP/1.1\nhost: x\nconnection: close\n\n`,
        want: 400,
      });
      cases.push({
        name: 'a space before a colon',
        route,
        data: head(method, path, { ...auth, 'x-a ': 'b' }),
        want: 400,
      });
      cases.push({
        name: 'a folded header',
        route,
        data: head(method, path, { ...auth, 'x-a': 'b\r\n c' }),
        want: 400,
      });
      const many = Object.fromEntries(Array.from({ length: 150 }, (_, i) => [`x-h${i}`, 'v']));
      cases.push({
        name: '150 headers',
        route,
        data: head(method, path, { ...auth, ...many }),
        want: 431,
        code: 'headers_too_many',
      });
      const lots = Object.fromEntries(Array.from({ length: 3000 }, (_, i) => [`x${i}`, '']));
      cases.push({ name: '3000 headers', route, data: head(method, path, { ...auth, ...lots }), want: 431 });
      cases.push({
        name: 'a 20 KB header',
        route,
        data: head(method, path, { ...auth, 'x-big': 'x'.repeat(20_000) }),
        want: 431,
        code: 'headers_too_large',
      });
      for (const q of QUERIES) {
        cases.push({ name: `the query ${q}`, route, data: head(method, `${path}?${q}`, auth) });
      }
    }
    await sweep(cases);
  });

  test('repeated query parameters are refused where they are read', async () => {
    const get = (target: string) => raw(port, head('GET', target, { authorization: `Bearer ${admin}` }));
    for (const target of [
      '/v1/decisions?limit=1&limit=1000',
      '/v1/sync?bundleSequence=1&bundleSequence=2',
      '/v1/entries?status=active&status=disabled',
    ]) {
      const a = await get(target);
      assert.equal(a.status, 400, `${target}: ${a.body}`);
      assert.equal((JSON.parse(a.body) as { error: { code: string } }).error.code, 'query_invalid');
    }
  });

  test('slow clients time out with 408 while others are served', async () => {
    await slow;
  });

  test('after the sweep the server is up, and the log holds no allow', async () => {
    assert.equal(server.child.exitCode, null, 'the process is still running');
    const health = await raw(port, head('GET', '/healthz'));
    assert.equal(health.status, 200);
    const allows = await raw(
      port,
      head('GET', '/v1/decisions?verdict=allow&limit=1000', { authorization: `Bearer ${admin}` }),
    );
    assert.equal(allows.status, 200, allows.body);
    assert.deepEqual(
      (JSON.parse(allows.body) as { decisions: unknown[] }).decisions,
      [],
      'no allow decision was logged',
    );
    const all = await raw(port, head('GET', '/v1/decisions?limit=10', { authorization: `Bearer ${admin}` }));
    assert.ok(
      (JSON.parse(all.body) as { decisions: unknown[] }).decisions.length > 0,
      'the hostile decisions were logged as denies',
    );
    const errors = server
      .stderr()
      .split('\n')
      .filter((l) => l.includes('"level":"error"'));
    assert.deepEqual(errors.slice(0, 5), [], 'no internal error was logged');
  });
});
