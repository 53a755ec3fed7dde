/**
 * The exposure routes against the real server process: audit, granted vs
 * used and blast radius over the server's own inventory, active policy and
 * decision log — admin only, bad parameters answered 400.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { built, startServer, type ServerProcess } from '../support/server-process.js';

const WEB = 'spiffe://acme.corp/ns/shop/sa/web';

describe('exposure routes', { skip: built ? false : 'run `npm run build` first' }, () => {
  let dir: string;
  let server: ServerProcess;

  const get = async (path: string, token: string | null = server.adminToken) => {
    const res = await fetch(`${server.url}${path}`, {
      headers: token ? { authorization: `Bearer ${token}` } : {},
    });
    const text = await res.text();
    const type = res.headers.get('content-type') ?? '';
    return {
      status: res.status,
      type,
      text,
      json: type.includes('json') ? (JSON.parse(text) as Record<string, unknown>) : undefined,
    };
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-exposure-'));
    server = await startServer(dir, [
      '--policy',
      'examples/acme/policy',
      '--seed',
      'examples/acme/inventory.yaml',
    ]);
    // A few decisions in the log: one allowed, one denied at the flow layer.
    for (const [service, port, method, path] of [
      ['orders', 8443, 'POST', '/orders'],
      ['payments', 8443, 'POST', '/refunds'],
    ] as const) {
      const res = await fetch(`${server.url}/v1/decide`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${server.adminToken}` },
        body: JSON.stringify({
          source: { spiffeId: WEB, ip: '10.10.1.20' },
          credential: { type: 'jwt-svid', id: 'c1', verified: true },
          destination: { service, port },
          action: { method, path },
          context: { mtls: true, risk: 10 },
        }),
      });
      assert.equal(res.status, 200, await res.text());
    }
  });
  after(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('every exposure route needs the admin credential', async () => {
    for (const path of ['/v1/audit', '/v1/privileges', `/v1/blast-radius?target=${WEB}`]) {
      assert.equal((await get(path, null)).status, 401, path);
      assert.equal((await get(path, 'not-a-token')).status, 401, path);
    }
  });

  test('GET /v1/audit: findings over the live inventory, policy and log, as JSON or HTML', async () => {
    const r = await get('/v1/audit');
    assert.equal(r.status, 200, r.text);
    const report = r.json!;
    assert.equal(report.kind, 'AuditReport');
    const log = report.log as { given: boolean; records: number; chain: string };
    assert.equal(log.given, true);
    assert.equal(log.records, 2);
    assert.equal(log.chain, 'intact');
    const findings = report.findings as { type: string; mappings: { owasp: string[] } }[];
    assert.ok(findings.length > 0, 'the demo estate has findings');
    for (const f of findings) assert.ok(Array.isArray(f.mappings.owasp));
    const html = await get('/v1/audit?format=html');
    assert.equal(html.status, 200);
    assert.match(html.type, /^text\/html/);
    assert.match(html.text, /^<!doctype html>/i);
  });

  test('GET /v1/privileges: granted vs used per identity, with a tightened policy that passes check', async () => {
    const r = await get(`/v1/privileges?identity=${encodeURIComponent(WEB)}`);
    assert.equal(r.status, 200, r.text);
    const identities = r.json!.identities as { spiffeId: string; records: number }[];
    assert.deepEqual(
      identities.map((i) => i.spiffeId),
      [WEB],
    );
    assert.equal(identities[0]!.records, 2);
    const proposal = r.json!.proposal as { check: { errors: unknown[] }; yaml: string };
    assert.deepEqual(proposal.check.errors, []);
    assert.match(proposal.yaml, /apiVersion: gatehouse.dev\/v1/);
  });

  test('GET /v1/blast-radius: what the identity reaches, as JSON or DOT', async () => {
    const r = await get(`/v1/blast-radius?target=${encodeURIComponent('/ns/shop/sa/web')}`);
    assert.equal(r.status, 200, r.text);
    const result = r.json! as { start: { spiffeId: string }; totals: { services: number } };
    assert.equal(result.start.spiffeId, WEB);
    assert.ok(result.totals.services > 0);
    const dot = await get(`/v1/blast-radius?target=${encodeURIComponent(WEB)}&format=dot`);
    assert.equal(dot.status, 200);
    assert.match(dot.text, /^digraph /);
  });

  test('bad parameters are 400 with the parameter named; an unknown target is 404', async () => {
    const cases: [string, RegExp][] = [
      ['/v1/audit?format=pdf', /`format`/],
      ['/v1/audit?since=yesterday', /`since`/],
      ['/v1/audit?staleDays=0', /`staleDays`/],
      ['/v1/audit?staleDays=1e3', /`staleDays`/],
      ['/v1/privileges?until=2026-13-45', /`until`/],
      ['/v1/privileges?since=2026-11-01', /`since` must be an RFC 3339 date-time/],
      ['/v1/audit?since=', /`since`/],
      ['/v1/audit?since=2026-11-23T00:00:00Z&until=2026-11-20T00:00:00Z', /`since` must be before `until`/],
      ['/v1/privileges?since=2999-01-01T00:00:00Z', /`since` must be before `until`/],
      ['/v1/audit?skipChain=yes', /`skipChain` must be true or false/],
      ['/v1/audit?format=JSON', /`format` must be json or html/],
      ['/v1/blast-radius', /`target`/],
      [`/v1/blast-radius?target=${WEB}&maxHops=-1`, /`maxHops`/],
      [`/v1/blast-radius?target=${WEB}&fromZone=moon`, /moon/],
      [`/v1/blast-radius?target=${WEB}&format=png`, /`format`/],
    ];
    for (const [path, message] of cases) {
      const r = await get(path);
      assert.equal(r.status, 400, `${path}: ${r.text}`);
      assert.match((r.json!.error as { message: string }).message, message, path);
    }
    const unknown = await get('/v1/blast-radius?target=no-such-credential');
    assert.equal(unknown.status, 404, unknown.text);
  });
});
