/**
 * The rollout API against the real server process, on the example estate:
 * requests decided by the server become flows in its decision log, and
 * `/v1/map`, `/v1/simulate`, `/v1/suggest` and `/v1/assess` read them back;
 * `/v1/flows/import` resolves posted flow lines and reports bad ones with
 * their line numbers. Admin only; malformed requests are 400s, large bodies
 * 413.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { built, root, startServer, type ServerProcess } from '../support/server-process.js';

const TD = 'spiffe://northwind.example';
const CHECKOUT = { spiffeId: `${TD}/ns/shop/sa/checkout`, ip: '10.10.1.12' };
const ORDERS = { spiffeId: `${TD}/ns/shop/sa/orders`, ip: '10.10.1.10' };
const REFUNDS = { spiffeId: `${TD}/ns/pay/sa/refund-worker`, ip: '10.10.1.36' };
const AGENT = { spiffeId: `${TD}/agents/pricing-agent`, ip: '10.10.1.38' };
const TO_PAYMENTS = { service: 'payments', port: 8443 };

/** The policy files of a folder as an upload's `sources`. */
function sources(folder: string, extra: string[] = []): { file: string; text: string }[] {
  const dir = join(root, folder);
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => join(dir, f));
  return [...files, ...extra.map((f) => join(root, f))].map((f) => ({
    file: f.slice(root.length),
    text: readFileSync(f, 'utf8'),
  }));
}

interface Reply {
  status: number;
  text: string;
  json: Record<string, unknown>;
  headers: Headers;
}

describe('rollout API', { skip: built ? false : 'run `npm run build` first' }, () => {
  let dir: string;
  let server: ServerProcess;

  const call = async (
    method: string,
    path: string,
    body?: unknown,
    options: { auth?: boolean; contentType?: string } = {},
  ): Promise<Reply> => {
    const headers: Record<string, string> = {};
    if (options.auth !== false) headers.authorization = `Bearer ${server.adminToken}`;
    if (body !== undefined) headers['content-type'] = options.contentType ?? 'application/json';
    const res = await fetch(`${server.url}${path}`, {
      method,
      headers,
      ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    let json: Record<string, unknown> = {};
    if ((res.headers.get('content-type') ?? '').startsWith('application/json'))
      json = JSON.parse(text) as Record<string, unknown>;
    return { status: res.status, text, json, headers: res.headers };
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-rollout-api-'));
    server = await startServer(dir, [
      '--policy',
      'examples/estate/policy',
      '--seed',
      'examples/estate/inventory.yaml',
    ]);
    // Traffic to payments, decided (and logged) by the server itself.
    const requests = [
      ...[1001, 1002, 1003].map((id) => ({
        source: CHECKOUT,
        destination: TO_PAYMENTS,
        action: { method: 'GET', path: `/v1/charges/${id}` },
      })),
      { source: CHECKOUT, destination: TO_PAYMENTS, action: { method: 'POST', path: '/v1/charges' } },
      { source: ORDERS, destination: TO_PAYMENTS, action: { method: 'GET', path: '/v1/charges/77/status' } },
      { source: REFUNDS, destination: TO_PAYMENTS, action: { method: 'POST', path: '/v1/refunds' } },
      { source: AGENT, destination: TO_PAYMENTS, action: { method: 'GET', path: '/admin/config' } },
    ];
    const res = await call('POST', '/v1/decide/batch', { requests });
    assert.equal(res.status, 200, res.text);
  });
  after(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('every rollout route is for admins only', async () => {
    for (const [method, path] of [
      ['GET', '/v1/map'],
      ['POST', '/v1/simulate'],
      ['GET', '/v1/suggest'],
      ['GET', '/v1/assess'],
      ['POST', '/v1/flows/import'],
    ] as const) {
      const r = await call(method, path, method === 'POST' ? {} : undefined, { auth: false });
      assert.equal(r.status, 401, `${method} ${path}`);
    }
  });

  test('GET /v1/map: the decision log as a dependency map, in JSON, DOT and Mermaid', async () => {
    const r = await call('GET', '/v1/map?service=payments');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.kind, 'DependencyMap');
    const ingest = r.json.ingest as { records: number; problems: number };
    assert.equal(ingest.records, 7);
    assert.equal(ingest.problems, 0);
    const edges = r.json.edges as { from: string; to: string; actions: { method: string; path: string }[] }[];
    const checkout = edges.find((e) => e.from === 'svc:checkout' && e.to === 'svc:payments')!;
    assert.deepEqual(
      checkout.actions.map((a) => `${a.method} ${a.path}`),
      ['GET /v1/charges/{id}', 'POST /v1/charges'],
    );
    const dot = await call('GET', '/v1/map?service=payments&format=dot');
    assert.equal(dot.status, 200);
    assert.match(dot.headers.get('content-type')!, /^text\/vnd\.graphviz/);
    assert.match(dot.text, /^digraph dependencies \{/);
    const mermaid = await call('GET', '/v1/map?format=mermaid');
    assert.match(mermaid.text, /^flowchart LR/);
    const future = await call('GET', '/v1/map?since=2999-01-01T00:00:00Z');
    assert.equal((future.json.edges as unknown[]).length, 0);
    // A window is read by the store's time index: records outside it are not even read.
    assert.equal((future.json.ingest as { records: number }).records, 0);
    const hour = 3_600_000;
    const since = new Date(Date.now() - hour).toISOString();
    const until = new Date(Date.now() + hour).toISOString();
    const around = await call('GET', `/v1/map?service=payments&since=${since}&until=${until}`);
    assert.equal(around.status, 200, around.text);
    assert.equal((around.json.ingest as { records: number }).records, 7);
    assert.deepEqual(around.json.edges, r.json.edges);
  });

  test('POST /v1/simulate: the candidate breaks the refund worker; with the fix it is ready', async () => {
    const r = await call('POST', '/v1/simulate', {
      sources: sources('examples/estate/candidate'),
      service: 'payments',
    });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.kind, 'SimulationReport');
    const [payments] = r.json.services as { service: string; verdict: string }[];
    assert.equal(payments!.verdict, 'not-ready');
    const breaks = r.json.breaks as { intended: boolean; callers: string[] }[];
    assert.deepEqual(
      breaks.filter((b) => !b.intended).flatMap((b) => b.callers),
      [REFUNDS.spiffeId],
    );
    assert.ok(breaks.some((b) => b.intended && b.callers.includes(AGENT.spiffeId)));

    const fixed = await call('POST', '/v1/simulate', {
      sources: sources('examples/estate/candidate', ['examples/estate/fixes/45-payments-refunds.yaml']),
      service: ['payments'],
    });
    assert.equal(fixed.status, 200, fixed.text);
    assert.equal((fixed.json.services as { verdict: string }[])[0]!.verdict, 'ready');
  });

  test('POST /v1/simulate with posted flows only: the Hubble sample', async () => {
    const r = await call('POST', '/v1/simulate', {
      sources: sources('examples/estate/candidate'),
      decisionLog: false,
      flows: {
        format: 'hubble',
        text: readFileSync(join(root, 'examples/estate/flows/hubble.jsonl'), 'utf8'),
      },
    });
    assert.equal(r.status, 200, r.text);
    const ingest = r.json.ingest as {
      files: number;
      problems: number;
      problemSamples: { file: string; line: number }[];
    };
    assert.equal(ingest.files, 1);
    assert.equal(ingest.problems, 1);
    assert.deepEqual(ingest.problemSamples[0]!.line, 62);
    assert.ok((r.json.totals as { replayed: number }).replayed > 0);
  });

  test('GET /v1/suggest and GET /v1/assess', async () => {
    const s = await call('GET', '/v1/suggest?service=payments');
    assert.equal(s.status, 200, s.text);
    assert.equal(s.json.kind, 'PolicySuggestion');
    assert.equal((s.json.check as { errors: unknown[] }).errors.length, 0);
    assert.equal((s.json.coverage as { coverage: number }).coverage, 1);
    assert.match(s.json.yaml as string, /\/v1\/charges\/\{id\}/);
    const services = s.json.services as { service: string; owner: string; callers: number }[];
    assert.deepEqual(
      services.map((x) => [x.service, x.owner, x.callers]),
      [['payments', 'team-payments', 4]],
    );

    const a = await call('GET', '/v1/assess?service=payments');
    assert.equal(a.status, 200, a.text);
    assert.equal(a.json.kind, 'ReadinessReport');
    const [payments] = a.json.services as { service: string; nextStep: string; reason: string }[];
    assert.equal(payments!.service, 'payments');
    assert.equal(payments!.nextStep, 'tighten-identity');
    assert.ok(payments!.reason.length > 0);
  });

  test('POST /v1/flows/import: resolved records and bad lines with their line numbers', async () => {
    const text = readFileSync(join(root, 'examples/estate/flows/vpc-flow-logs.txt'), 'utf8');
    const r = await call('POST', '/v1/flows/import?format=vpc', text, { contentType: 'text/plain' });
    assert.equal(r.status, 200, r.text);
    const report = r.json.report as { records: number; problems: number; problemSamples: { line: number }[] };
    assert.equal(report.records, 166);
    assert.deepEqual(
      report.problemSamples.map((p) => p.line),
      [41, 91],
    );
    const records = r.json.records as { source: { spiffeId?: string; zone?: string } }[];
    assert.equal(records.length, 166);
    assert.ok(records.some((x) => x.source.spiffeId === ORDERS.spiffeId && x.source.zone === 'prod'));
    assert.ok(
      records.some((x) => x.source.spiffeId === undefined),
      'unknown callers stay visible',
    );
  });

  test('a service the policy does not declare is an undeclared destination for every route', async () => {
    const line = (service: string, second: number) =>
      JSON.stringify({
        v: 1,
        time: `2026-11-16T00:00:0${second}Z`,
        source: CHECKOUT,
        destination: { service, port: 8443 },
        protocol: 'tcp',
      });
    const text = [line('payments', 0), line('ghost', 1)].join('\n');
    const imported = await call('POST', '/v1/flows/import', text, { contentType: 'text/plain' });
    assert.equal(imported.status, 200, imported.text);
    assert.equal((imported.json.report as { unknownDestinations: number }).unknownDestinations, 1);
    const posted = { decisionLog: false, flows: { format: 'gatehouse', text } };
    const map = await call('POST', '/v1/map', posted);
    assert.equal(map.status, 200, map.text);
    const totals = map.json.totals as { services: number; unknownDestinations: number };
    assert.deepEqual([totals.services, totals.unknownDestinations], [1, 1]);
    assert.equal((map.json.ingest as { unknownDestinations: number }).unknownDestinations, 1);
    const nodes = map.json.nodes as { id: string; kind: string }[];
    assert.equal(nodes.find((n) => n.id === 'svc:ghost')?.kind, 'unknown');
    const simulated = await call('POST', '/v1/simulate', {
      ...posted,
      sources: sources('examples/estate/policy'),
    });
    assert.equal(simulated.status, 200, simulated.text);
    assert.equal((simulated.json.totals as { notReplayed: number }).notReplayed, 1);
  });

  test('malformed requests: 400 with a reason; bodies beyond the limit: 413', async () => {
    const bad = async (method: string, path: string, body: unknown, pattern: RegExp) => {
      const r = await call(method, path, body);
      assert.equal(r.status, 400, `${method} ${path}: ${r.text}`);
      assert.match((r.json.error as { message: string }).message, pattern);
    };
    await bad('GET', '/v1/map?format=svg', undefined, /`format` must be json, dot or mermaid/);
    await bad('GET', '/v1/map?service=nope', undefined, /unknown service `nope`/);
    await bad('GET', '/v1/assess?since=yesterday', undefined, /`since` must be an RFC 3339 date-time/);
    await bad('GET', '/v1/assess?now=2026-11-20T10:00', undefined, /`now` must be an RFC 3339 date-time/);
    await bad(
      'GET',
      '/v1/suggest?reviewDays=1e3',
      undefined,
      /`reviewDays` must be a whole number of 1 or more/,
    );
    await bad('POST', '/v1/suggest', { reviewDays: 1.5 }, /`reviewDays` must be a whole number of 1 or more/);
    await bad('POST', '/v1/map', { format: null }, /`format` must be json, dot or mermaid/);
    await bad('POST', '/v1/simulate', {}, /the candidate is `sources`/);
    await bad(
      'POST',
      '/v1/simulate',
      { sources: [{ file: 'bad.yaml', text: 'apiVersion: gatehouse.dev/v1\nzones: [' }] },
      /bad\.yaml/,
    );
    await bad(
      'POST',
      '/v1/flows/import?format=netflow',
      'x',
      /`format` must be gatehouse, vpc, hubble or decision-log/,
    );
    await bad('POST', '/v1/assess', { flows: { format: 'vpc' } }, /`flows` must be \{format, text\}/);
    await bad(
      'POST',
      '/v1/map',
      { flows: { format: 'hubble', text: '', vpcFields: '${srcaddr}' } },
      /vpc format only/,
    );
    const big = await call('POST', '/v1/flows/import', 'x'.repeat(2 * 1024 * 1024), {
      contentType: 'text/plain',
    });
    assert.equal(big.status, 413);
  });
});
