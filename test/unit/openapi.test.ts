/**
 * The OpenAPI document (schemas/openapi.v1.yaml) against the server it
 * describes. It must be a well-formed OpenAPI 3.1 document whose references
 * all resolve and whose schemas compile under strict JSON Schema 2020-12; it
 * must list exactly the routes the server registers, so that a route added
 * without documentation fails here; it must name every error code the server
 * sends; and real answers of an in-process server must fit the schemas it
 * gives for them.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { parse } from 'yaml';
import { createApp, type App } from '../../src/app.js';
import type { Logger } from '../../src/server/logger.js';
import { ChainWriter } from '../../src/core/log/hash-chain.js';
import { verifyDecisionLog } from '../../src/core/log/verify-decision-log.js';
import type { StoredDecisionRecord } from '../../src/core/ports.js';
import { decisionBody } from '../contract/decision-log.contract.js';

const root = new URL('../..', import.meta.url).pathname;
const read = (path: string): string => readFileSync(join(root, path), 'utf8');

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);

const doc = parse(read('schemas/openapi.v1.yaml'), { maxAliasCount: 1000 }) as Json;
const paths = doc.paths as Record<string, Json>;
const components = doc.components as Record<string, Record<string, Json>>;
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

interface Operation {
  method: string;
  path: string;
  item: Json;
  op: Json;
}

const operations: Operation[] = Object.entries(paths).flatMap(([path, item]) =>
  METHODS.filter((m) => item[m] !== undefined).map((m) => ({ method: m, path, item, op: item[m] as Json })),
);

/** RFC 6901: the value at `pointer` (without `#`) in `value`, or undefined. */
function atPointer(value: unknown, pointer: string): unknown {
  if (pointer === '') return value;
  let node = value;
  for (const raw of pointer.slice(1).split('/')) {
    const key = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    if (!isObject(node) && !Array.isArray(node)) return undefined;
    node = (node as Json)[key];
    if (node === undefined) return undefined;
  }
  return node;
}

/** An OpenAPI object, or the component its local `$ref` names. */
function deref<T = Json>(value: unknown): T {
  if (isObject(value) && typeof value.$ref === 'string' && value.$ref.startsWith('#/')) {
    const target = atPointer(doc, value.$ref.slice(1));
    assert.ok(target !== undefined, `unresolved reference ${value.$ref}`);
    return deref<T>(target);
  }
  return value as T;
}

/** Every `$ref` in the document, with where it is. */
function* refs(node: unknown, at = ''): Generator<[string, string]> {
  if (Array.isArray(node)) {
    for (const [i, v] of node.entries()) yield* refs(v, `${at}/${i}`);
    return;
  }
  if (!isObject(node)) return;
  for (const [k, v] of Object.entries(node)) {
    if (k === '$ref' && typeof v === 'string') yield [at, v];
    else yield* refs(v, `${at}/${k}`);
  }
}

/** A router pattern as an OpenAPI path: `:name` is `{name}`, a final `*` is `{path}`. */
function openApiPath(pattern: string): string {
  return pattern
    .split('/')
    .map((s) => (s === '*' ? '{path}' : s.startsWith(':') ? `{${s.slice(1)}}` : s))
    .join('/');
}

// ---- the schemas, compiled strictly -------------------------------------------------

const BASE = 'https://gatehouse.dev/schemas/';
const ajv = new Ajv2020.default({
  allErrors: true,
  strict: true,
  strictRequired: false,
  allowUnionTypes: true,
});
addFormats.default(ajv);
for (const file of readdirSync(join(root, 'schemas')).filter((f) => f.endsWith('.json'))) {
  ajv.addSchema(JSON.parse(read(`schemas/${file}`)) as Json);
}

/**
 * Every schema of the document as one JSON Schema: component schemas under
 * their names, the others (parameters, bodies, headers) under generated keys.
 * References between components become references into `$defs`.
 */
const schemaKeys = new Map<unknown, string>();
function collectSchemas(): Json {
  const defs: Json = {};
  const rewrite = (v: unknown): unknown =>
    JSON.parse(JSON.stringify(v).replace(/"#\/components\/schemas\//g, '"#/$defs/')) as unknown;
  for (const [name, schema] of Object.entries(components.schemas ?? {})) {
    defs[name] = rewrite(schema);
    schemaKeys.set(schema, name);
  }
  let n = 0;
  // A `schema` member is a schema wherever it appears outside the component schemas.
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(visit);
    if (!isObject(node)) return;
    for (const [k, v] of Object.entries(node)) {
      if (k === 'schema' && isObject(v)) {
        if (schemaKeys.has(v)) continue;
        const key = `inline${n++}`;
        defs[key] = rewrite(v);
        schemaKeys.set(v, key);
      } else if (!(k === 'schemas' && node === components)) visit(v);
    }
  };
  visit(paths);
  visit(components);
  return { $id: `${BASE}openapi.v1.yaml`, $defs: defs };
}
ajv.addSchema(collectSchemas());

function validator(schema: unknown) {
  const key = schemaKeys.get(schema);
  assert.ok(key, 'every schema of the document is collected');
  const validate = ajv.getSchema(`${BASE}openapi.v1.yaml#/$defs/${key}`);
  assert.ok(validate, `schema ${key} compiles`);
  return validate;
}

// ---- the document itself ------------------------------------------------------------

describe('the OpenAPI document', () => {
  test('is OpenAPI 3.1 in the JSON Schema 2020-12 dialect, versioned as the package', () => {
    assert.match(String(doc.openapi), /^3\.1\.\d+$/);
    assert.equal(doc.jsonSchemaDialect, 'https://json-schema.org/draft/2020-12/schema');
    const info = doc.info as Json;
    assert.equal(typeof info.title, 'string');
    assert.equal(info.version, (JSON.parse(read('package.json')) as { version: string }).version);
    assert.ok(isObject(doc.paths) && isObject(doc.components));
    for (const path of Object.keys(paths)) assert.match(path, /^\/[^?#]*$/, path);
  });

  test('every operation has a unique operationId, a summary, tags, security and responses', () => {
    const ids = new Map<string, string>();
    const schemes = Object.keys(components.securitySchemes ?? {});
    const tags = new Set((doc.tags as { name: string }[]).map((t) => t.name));
    for (const { method, path, op } of operations) {
      const where = `${method.toUpperCase()} ${path}`;
      const id = op.operationId;
      assert.ok(typeof id === 'string' && /^[a-zA-Z][a-zA-Z0-9]*$/.test(id), `${where}: operationId`);
      assert.ok(!ids.has(id), `${where}: operationId \`${id}\` is also ${ids.get(id)}`);
      ids.set(id, where);
      assert.ok(typeof op.summary === 'string' && op.summary.length > 0, `${where}: summary`);
      assert.ok(Array.isArray(op.tags) && op.tags.every((t) => tags.has(t as string)), `${where}: tags`);
      // Security is stated on every operation: no route is public by omission.
      assert.ok(Array.isArray(op.security), `${where}: security`);
      for (const requirement of op.security as Json[])
        for (const name of Object.keys(requirement)) assert.ok(schemes.includes(name), `${where}: ${name}`);
      assert.ok(isObject(op.responses) && Object.keys(op.responses).length > 0, `${where}: responses`);
      for (const [status, response] of Object.entries(op.responses)) {
        assert.match(status, /^([1-5]\d\d|default)$/, `${where}: status ${status}`);
        assert.equal(typeof deref(response).description, 'string', `${where} ${status}: description`);
      }
    }
  });

  test('every path parameter is declared, required, and in the path', () => {
    for (const { method, path, item, op } of operations) {
      const declared = [...((item.parameters as unknown[]) ?? []), ...((op.parameters as unknown[]) ?? [])]
        .map((p) => deref(p))
        .filter((p) => p.in === 'path');
      const inPath = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
      assert.deepEqual(declared.map((p) => p.name).sort(), inPath.sort(), `${method} ${path}`);
      for (const p of declared) assert.equal(p.required, true, `${method} ${path}: ${String(p.name)}`);
    }
  });

  test('every reference resolves, in the document or in a schema file beside it', () => {
    for (const [at, ref] of refs(doc)) {
      const hash = ref.indexOf('#');
      const file = hash < 0 ? ref : ref.slice(0, hash);
      const pointer = hash < 0 ? '' : ref.slice(hash + 1);
      if (file === '') {
        assert.ok(atPointer(doc, pointer) !== undefined, `${at}: ${ref}`);
        continue;
      }
      assert.ok(!/^[a-z]+:/.test(file) && !file.startsWith('/'), `${at}: ${ref} must be relative`);
      const path = join(root, 'schemas', file);
      assert.ok(existsSync(path), `${at}: ${ref}: no file schemas/${file}`);
      assert.ok(atPointer(JSON.parse(readFileSync(path, 'utf8')), pointer) !== undefined, `${at}: ${ref}`);
    }
  });

  test('every schema compiles under strict JSON Schema 2020-12', () => {
    for (const schema of schemaKeys.keys()) validator(schema);
  });

  test('every break the decision log verify reports fits ChainStatus', async () => {
    const validate = validator(components.schemas!.ChainStatus);
    const writer = new ChainWriter();
    const sealed = [1, 2, 3].map((n) => writer.seal(decisionBody(n)));
    const row = ({ record, text }: (typeof sealed)[number]): StoredDecisionRecord => ({
      seq: record.seq,
      json: text,
      columns: {
        decidedAt: record.time,
        decisionId: record.decisionId,
        sourceSpiffeId: record.source.spiffeId,
        service: record.destination.service,
        verdict: record.decision,
        hash: record.hash,
      },
    });
    const intact = sealed.map(row);
    const logs: Record<string, StoredDecisionRecord[]> = {
      intact,
      seq_gap: [intact[0]!, intact[2]!],
      hash_mismatch: [
        intact[0]!,
        { ...intact[1]!, json: intact[1]!.json.replace('"latencyMicros":42', '"latencyMicros":1') },
      ],
      text_not_canonical: [intact[0]!, { ...intact[1]!, json: ` ${intact[1]!.json}` }],
      column_mismatch: [
        intact[0]!,
        { ...intact[1]!, seq: 9, columns: { ...intact[1]!.columns, verdict: 'deny' } },
      ],
    };
    for (const [reason, rows] of Object.entries(logs)) {
      const status = await verifyDecisionLog({
        anchor: async () => undefined,
        scan: () => ({
          async *[Symbol.asyncIterator]() {
            yield rows;
          },
        }),
      });
      assert.equal(status.firstBreak?.reason, reason === 'intact' ? undefined : reason);
      assert.ok(validate(status), `${reason}: ${ajv.errorsText(validate.errors)}`);
    }
  });

  test('names every error code the server can send', () => {
    const codes = new Set(deref<{ enum: string[] }>(components.schemas!.ErrorCode).enum);
    const sent = new Set<string>(['internal_error']);
    const serverDir = join(root, 'src/server');
    const files = [
      ...readdirSync(serverDir)
        .filter((f) => f.endsWith('.ts'))
        .map((f) => join(serverDir, f)),
      ...readdirSync(join(serverDir, 'routes')).map((f) => join(serverDir, 'routes', f)),
    ];
    for (const file of files) {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/new HttpError\(\s*\d{3},\s*'([a-z_]+)'/g)) sent.add(m[1]!);
    }
    // The mapped codes of the core: the keys of the STATUS table.
    const table = /const STATUS[^{]*\{([^}]*)\}/.exec(read('src/server/http-error.ts'))![1]!;
    for (const m of table.matchAll(/^\s*([a-z_]+): \d{3},$/gm)) sent.add(m[1]!);
    assert.deepEqual([...sent].filter((c) => !codes.has(c)).sort(), [], 'codes the document does not name');
    assert.deepEqual([...codes].filter((c) => !sent.has(c)).sort(), [], 'codes the server never sends');
  });
});

// ---- against the server -------------------------------------------------------------

const WEB = 'spiffe://acme.corp/ns/shop/sa/web';
const REQUEST = (JSON.parse(read('examples/acme/requests.jsonl').split('\n')[0]!) as { request: Json })
  .request;

interface Answer {
  status: number;
  headers: Headers;
  body: unknown;
}

describe('the OpenAPI document and the server', () => {
  let app: App;
  let admin: string;
  const events: { event: string; fields: Json }[] = [];

  before(async () => {
    const logger: Logger = { log: (_level, event, fields = {}) => events.push({ event, fields }) };
    app = await createApp(
      {
        host: '127.0.0.1',
        port: 0,
        db: ':memory:',
        policy: ['examples/acme/policy'],
        cwd: root,
        seedInventory: 'examples/acme/inventory.yaml',
      },
      { logger },
    );
    admin = app.createdAdminSecret!;
  });
  after(async () => {
    await app?.close();
  });

  test('documents exactly the routes the server registers', () => {
    const event = events.find((e) => e.event === 'routes_registered');
    assert.ok(Array.isArray(event?.fields.routes), 'the server lists its routes');
    const registered = new Set(
      (event.fields.routes as string[]).map((r) => {
        const [method, pattern] = r.split(' ') as [string, string];
        return `${method} ${openApiPath(pattern)}`;
      }),
    );
    const documented = new Set(operations.map((o) => `${o.method.toUpperCase()} ${o.path}`));
    assert.deepEqual(
      [...registered].filter((r) => !documented.has(r)).sort(),
      [],
      'routes the server registers without documentation in schemas/openapi.v1.yaml',
    );
    assert.deepEqual(
      [...documented].filter((r) => !registered.has(r)).sort(),
      [],
      'documented routes the server does not register',
    );
  });

  /**
   * Calls one documented operation and checks the answer against the
   * document: the status is listed (or covered by `default`), and a JSON body
   * fits its schema. A JSON request body is checked against the document too.
   */
  async function call(
    method: string,
    template: string,
    options: {
      params?: Record<string, string>;
      query?: string;
      token?: string;
      body?: unknown;
      raw?: string;
      /** The body is meant to be refused: not checked against the document. */
      invalid?: boolean;
    } = {},
  ): Promise<Answer> {
    const found = operations.find((o) => o.method === method.toLowerCase() && o.path === template);
    assert.ok(found, `${method} ${template} is documented`);
    const where = `${method} ${template}`;
    const path = template.replace(/\{([^}]+)\}/g, (_, name: string) =>
      encodeURIComponent(options.params![name]!),
    );
    const headers: Record<string, string> = {};
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    let body: string | undefined;
    if (options.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(options.body);
      const content = deref<Json>(found.op.requestBody).content as Record<string, Json>;
      const validate = validator(content['application/json']!.schema);
      if (!options.invalid)
        assert.ok(validate(options.body), `${where}: request: ${ajv.errorsText(validate.errors)}`);
    } else if (options.raw !== undefined) {
      headers['content-type'] = 'text/plain';
      body = options.raw;
    }
    const res = await fetch(`${app.url}${path}${options.query ? `?${options.query}` : ''}`, {
      method,
      headers,
      ...(body !== undefined ? { body } : {}),
    });
    const text = await res.text();
    const type = res.headers.get('content-type') ?? '';
    const answer: Answer = {
      status: res.status,
      headers: res.headers,
      body: type.startsWith('application/json') ? (JSON.parse(text) as unknown) : text,
    };
    const responses = found.op.responses as Json;
    const response = deref<Json>(responses[String(res.status)] ?? responses.default);
    assert.ok(response, `${where}: status ${res.status} is documented: ${text.slice(0, 300)}`);
    const content = response.content as Record<string, Json> | undefined;
    if (text === '') assert.ok(!content || method === 'HEAD', `${where}: ${res.status} has a body`);
    else {
      const media = type.split(';')[0]!.trim();
      assert.ok(content?.[media], `${where}: ${res.status} answers ${media}, which is not documented`);
      if (media === 'application/json') {
        const validate = validator(content[media].schema);
        assert.ok(
          validate(answer.body),
          `${where}: ${res.status}: ${ajv.errorsText(validate.errors)}\n${text.slice(0, 500)}`,
        );
      }
    }
    return answer;
  }

  test('answers of the identity API fit the document', async () => {
    await call('GET', '/healthz');
    await call('GET', '/readyz');
    await call('GET', '/metrics');
    await call('GET', '/.well-known/spiffe-bundle');
    await call('GET', '/v1/bundle');
    await call('GET', '/v1/entries', { token: admin, query: 'kind=service' });
    const first = (await call('GET', '/v1/entries', { token: admin, query: 'limit=1' })).body as {
      nextPageToken?: string;
    };
    assert.ok(first.nextPageToken, 'a page of one, with more to come, says where it ended');
    await call('GET', '/v1/entries', {
      token: admin,
      query: `limit=1000&pageToken=${encodeURIComponent(first.nextPageToken)}`,
    });
    const badToken = await call('GET', '/v1/entries', { token: admin, query: 'limit=5&pageToken=nonsense' });
    assert.equal(badToken.status, 400);
    const tokenAlone = await call('GET', '/v1/entries', { token: admin, query: 'pageToken=x' });
    assert.equal(tokenAlone.status, 400);
    const spiffeId = 'spiffe://acme.corp/ns/test/sa/openapi';
    const created = await call('POST', '/v1/entries', {
      token: admin,
      body: { spiffeId, kind: 'service', owner: 'team-test', attestation: [{ type: 'join-token' }] },
    });
    assert.equal(created.status, 201);
    const id = (created.body as { id: string }).id;
    await call('GET', '/v1/entries/{id}', { token: admin, params: { id } });
    await call('PATCH', '/v1/entries/{id}', {
      token: admin,
      params: { id },
      body: { description: 'a test' },
    });
    const join = await call('POST', '/v1/entries/{id}/join-tokens', {
      token: admin,
      params: { id },
      body: {},
    });
    const joinToken = (join.body as { token: string }).token;
    // Mixing the control plane's audience with others is refused before the join token is used.
    const mixedAttest = await call('POST', '/v1/attest', {
      body: { method: 'join-token', token: joinToken, audience: ['orders', 'spiffe://acme.corp/gatehouse'] },
    });
    assert.equal(mixedAttest.status, 400);
    assert.equal((mixedAttest.body as { error: { code: string } }).error.code, 'request_invalid');
    const attested = await call('POST', '/v1/attest', {
      body: { method: 'join-token', token: joinToken, audience: 'orders' },
    });
    assert.equal(attested.status, 200);
    const { jwtSvid, audienceJwtSvid, x509Svid } = attested.body as {
      jwtSvid: { token: string; jti: string; audience: string[] };
      audienceJwtSvid: { token: string; audience: string[] };
      x509Svid: { chainPem: string };
    };
    assert.deepEqual(jwtSvid.audience, ['spiffe://acme.corp/gatehouse']);
    assert.deepEqual(audienceJwtSvid.audience, ['orders']);
    const ok = await call('POST', '/v1/verify/jwt', {
      token: admin,
      body: { token: audienceJwtSvid.token, audience: 'orders' },
    });
    assert.equal((ok.body as { valid: boolean }).valid, true);
    const bad = await call('POST', '/v1/verify/jwt', {
      token: admin,
      body: { token: audienceJwtSvid.token, audience: 'x' },
    });
    assert.equal((bad.body as { valid: boolean }).valid, false);
    await call('POST', '/v1/verify/x509', { token: admin, body: { chain: x509Svid.chainPem } });
    // The token for services is no caller credential.
    const asService = await call('POST', '/v1/svid/jwt', {
      token: audienceJwtSvid.token,
      body: { audience: ['orders'] },
    });
    assert.equal(asService.status, 401);
    const mixedSvid = await call('POST', '/v1/svid/jwt', {
      token: jwtSvid.token,
      body: { audience: ['spiffe://acme.corp/gatehouse', 'orders'] },
    });
    assert.equal(mixedSvid.status, 400);
    assert.match(
      (mixedSvid.body as { error: { message: string } }).error.message,
      /mixes the control plane `spiffe:\/\/acme\.corp\/gatehouse`/,
    );
    await call('POST', '/v1/svid/jwt', { token: jwtSvid.token, body: { audience: ['orders'] } });
    await call('POST', '/v1/svid/x509', { token: admin, body: { spiffeId } });
    const renewedAsService = await call('POST', '/v1/renew', {
      token: audienceJwtSvid.token,
      body: { x509: false },
    });
    assert.equal(renewedAsService.status, 401);
    await call('POST', '/v1/renew', { token: jwtSvid.token, body: { x509: false, audience: ['orders'] } });
    const chainInBody = await call('POST', '/v1/renew', {
      body: { x509Svid: x509Svid.chainPem, csr: 'x' },
      invalid: true,
    });
    assert.equal(chainInBody.status, 400);
    await call('POST', '/v1/revocations', {
      token: admin,
      body: { target: 'credential', value: jwtSvid.jti },
    });
    await call('GET', '/v1/revocations', { token: admin });
    const grant = await call('POST', '/v1/grants', {
      token: admin,
      body: {
        entry: spiffeId,
        task: 'INC-1',
        scope: { service: 'orders', methods: ['GET'] },
        ttlSeconds: 60,
      },
    });
    assert.equal(grant.status, 201);
    const grantId = (grant.body as { grant: { id: string } }).grant.id;
    await call('GET', '/v1/grants', { token: admin, query: `activeAt=${new Date().toISOString()}` });
    await call('GET', '/v1/grants/{id}', { token: admin, params: { id: grantId } });
    await call('POST', '/v1/grants/{id}/end', { token: admin, params: { id: grantId } });
    await call('GET', '/v1/oidc-issuers', { token: admin });
    await call('GET', '/v1/keys', { token: admin });
    await call('POST', '/v1/keys/rotate', { token: admin, body: {} });
    await call('GET', '/v1/inventory', { token: admin });
    await call('POST', '/v1/entries/{id}/disable', { token: admin, params: { id } });
    await call('POST', '/v1/entries/{id}/enable', { token: admin, params: { id } });
    await call('POST', '/v1/entries/{id}/offboard', { token: admin, params: { id } });
  });

  test('answers of the decision, log, sync and policy APIs fit the document', async () => {
    const decided = await call('POST', '/v1/decide', { token: admin, body: REQUEST });
    assert.equal(decided.status, 200);
    const batch = await call('POST', '/v1/decide/batch', {
      token: admin,
      body: { requests: [REQUEST, REQUEST] },
    });
    assert.equal((batch.body as { decisions: unknown[] }).decisions.length, 2);
    const denied = await call('GET', '/v1/ext_authz/{service}/{path}', {
      params: { service: 'orders', path: 'x' },
    });
    assert.equal(denied.status, 403);
    await call('POST', '/v1/ext_authz/{service}', { params: { service: 'orders' } });
    await call('GET', '/v1/decisions', { token: admin, query: 'limit=5&order=desc' });
    await call('GET', '/v1/decisions/export', { token: admin });
    await call('GET', '/v1/decisions/verify', { token: admin });
    const policy = await call('GET', '/v1/policy', { token: admin });
    const revision = (policy.body as { revision: string }).revision;
    await call('GET', '/v1/sync', { token: admin });
    const record = {
      v: 1,
      decisionId: 'openapi-test-00000001',
      time: new Date().toISOString(),
      policyRevision: revision,
      via: 'proxy:orders',
      source: { spiffeId: WEB, ip: '10.10.1.20', zone: 'prod' },
      destination: { service: 'orders', port: 8443, zone: 'prod' },
      action: { method: 'GET', path: '/orders/42' },
      decision: 'allow',
      allowed: true,
      enforced: true,
      mode: 'enforce',
      wouldDeny: false,
      layer: 'permission',
      reason: 'allow_rule',
      rules: [],
      layers: { credential: 'allow', zone: 'allow', flow: 'allow', permission: 'allow' },
      latencyMicros: 12,
    };
    const shipped = await call('POST', '/v1/decisions/records', {
      token: admin,
      body: { records: [record] },
    });
    assert.deepEqual(shipped.body, { written: 1, failed: [], refused: [] });
    const partly = await call('POST', '/v1/decisions/records', {
      token: admin,
      invalid: true,
      body: {
        records: [
          { ...record, decisionId: 'dec-openapi-2' },
          { ...record, decision: 'maybe' },
        ],
      },
    });
    assert.deepEqual((partly.body as { written: number }).written, 1);
    assert.deepEqual(
      (partly.body as { refused: { index: number }[] }).refused.map((r) => r.index),
      [1],
    );
    await call('GET', '/v1/policies', { token: admin });
    await call('GET', '/v1/policies/{revision}', { token: admin, params: { revision } });
    await call('GET', '/v1/policies/diff', { token: admin, query: `from=${revision}` });
    await call('POST', '/v1/policies/{revision}/activate', { token: admin, params: { revision } });
  });

  test('answers of the exposure and rollout APIs fit the document', async () => {
    await call('GET', '/v1/audit', { token: admin });
    await call('GET', '/v1/privileges', { token: admin, query: 'identity=/ns/shop/sa/web' });
    await call('GET', '/v1/blast-radius', { token: admin, query: 'target=/ns/shop/sa/web' });
    await call('GET', '/v1/map', { token: admin });
    await call('GET', '/v1/map', { token: admin, query: 'format=mermaid' });
    await call('POST', '/v1/assess', { token: admin, body: { service: 'orders' } });
    await call('GET', '/v1/suggest', { token: admin, query: 'service=orders' });
    const revision = (await call('GET', '/v1/policy', { token: admin })).body as { revision: string };
    await call('POST', '/v1/simulate', { token: admin, body: { revision: revision.revision } });
    await call('POST', '/v1/flows/import', { token: admin, raw: 'not a flow\n' });
  });

  test('refusals carry the documented error body', async () => {
    const anonymous = await call('GET', '/v1/entries');
    assert.equal(anonymous.status, 401);
    const missing = await call('GET', '/v1/entries/{id}', { token: admin, params: { id: 'ent_missing' } });
    assert.equal(missing.status, 404);
    const invalid = await call('POST', '/v1/decide', { token: admin, body: { source: {} }, invalid: true });
    assert.equal(invalid.status, 400);
    const query = await call('GET', '/v1/decisions', { token: admin, query: 'limit=0' });
    assert.equal(query.status, 400);
  });
});
