/**
 * The JSON Schemas in schemas/ against the code they describe. The policy
 * schema and `validatePolicy`, and the request schema and
 * `checkDecisionRequest`, must reject the same broken inputs and accept the
 * same valid ones; decisions the engine and the CLI produce must fit the
 * decision schema. Either side changing alone fails here.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { parse } from 'yaml';
import { main } from '../../src/cli/main.js';
import type { CliIo } from '../../src/cli/io.js';
import { fixedClock } from '../../src/core/ports.js';
import { parsePolicyDocument, validatePolicy, type PolicySourceText } from '../../src/core/policy/index.js';
import {
  checkDecisionRequest,
  compilePolicy,
  parsePolicy,
  type Decision,
  type DecisionRequest,
} from '../../src/index.js';

const root = new URL('../..', import.meta.url).pathname;
const read = (path: string): string => readFileSync(join(root, path), 'utf8');
const NOW = Date.parse('2026-11-20T10:00:00Z');

// Strict mode catches misspelt keywords; `oneOf` of `required` branches is
// what strictRequired flags, and union types are intended (`["array", "null"]`).
const ajv = new Ajv2020.default({
  allErrors: true,
  strict: true,
  strictRequired: false,
  allowUnionTypes: true,
});
addFormats.default(ajv);
const schemas = {
  policy: JSON.parse(read('schemas/policy.v1.json')) as Record<string, unknown>,
  request: JSON.parse(read('schemas/decision-request.v1.json')) as Record<string, unknown>,
  decision: JSON.parse(read('schemas/decision.v1.json')) as Record<string, unknown>,
};
const policySchema = ajv.compile(schemas.policy);
const requestSchema = ajv.compile(schemas.request);
const decisionSchema = ajv.compile(schemas.decision);

function schemaErrors(validate: typeof policySchema, value: unknown): string {
  return validate(value) ? '' : ajv.errorsText(validate.errors, { separator: '\n' });
}

const examplePolicyDir = 'examples/acme/policy';
const exampleFiles: PolicySourceText[] = readdirSync(join(root, examplePolicyDir))
  .filter((f) => /\.ya?ml$/.test(f))
  .sort()
  .map((f) => ({ file: `${examplePolicyDir}/${f}`, text: read(`${examplePolicyDir}/${f}`) }));
const exampleRequests: { note: string; request: DecisionRequest }[] = read('examples/acme/requests.jsonl')
  .split('\n')
  .filter((l) => l.trim() !== '')
  .map((l) => JSON.parse(l) as { note: string; request: DecisionRequest });

// Subschemas that only constrain properties declared elsewhere: nothing there to describe.
const CONSTRAINTS = new Set(['if', 'then', 'else', 'not', 'dependentSchemas']);

/** Every `properties` entry that declares a property, with its JSON pointer. */
function* propertySchemas(node: unknown, pointer = '#'): Generator<[string, unknown]> {
  if (Array.isArray(node)) {
    for (const [i, item] of node.entries()) yield* propertySchemas(item, `${pointer}/${i}`);
    return;
  }
  if (node === null || typeof node !== 'object') return;
  for (const [key, value] of Object.entries(node)) {
    if (CONSTRAINTS.has(key)) continue;
    if (key === 'properties' && value && typeof value === 'object') {
      for (const [name, sub] of Object.entries(value)) yield [`${pointer}/properties/${name}`, sub];
    }
    yield* propertySchemas(value, `${pointer}/${key}`);
  }
}

describe('the schemas themselves', () => {
  for (const [name, schema] of Object.entries(schemas)) {
    test(`${name}: draft 2020-12, and every property has a description for editors`, () => {
      assert.equal(schema.$schema, 'https://json-schema.org/draft/2020-12/schema');
      const missing: string[] = [];
      for (const [pointer, sub] of propertySchemas(schema)) {
        if (typeof (sub as { description?: unknown }).description !== 'string') missing.push(pointer);
      }
      assert.deepEqual(missing, []);
    });
  }
});

// ---- policy: the schema and validatePolicy agree ---------------------------

const HEAD = 'apiVersion: gatehouse.dev/v1\ntrustDomain: acme.corp\n';
const ESTATE =
  HEAD +
  'zones: { prod: { cidrs: [10.0.0.0/16] } }\n' +
  'services: { api: { zone: prod, ports: [8443], operations: { read: [{ methods: [GET], paths: ["/items/{id}"] }] } } }\n';
const permission = (fields: string) =>
  `${ESTATE}permissions:\n  - { id: p, effect: allow, owner: o, to: { service: api }, ${fields} }\n`;
const flow = (fields: string) => `${ESTATE}flows:\n  - { id: f, effect: allow, owner: o, ${fields} }\n`;
const segmentation = (fields: string) =>
  `${ESTATE}segmentation:\n  - { id: s, effect: allow, owner: o, ${fields} }\n`;

function validate(text: string) {
  return validatePolicy(parsePolicyDocument([{ file: 'snippet.yaml', text }]));
}

describe('policy schema', () => {
  for (const { file, text } of exampleFiles) {
    test(`example file ${file} validates`, () => {
      assert.equal(schemaErrors(policySchema, parse(text)), '');
    });
  }

  test('example files that name a schema for editors name this one', () => {
    const named = exampleFiles.filter(({ text }) => text.includes('yaml-language-server'));
    assert.ok(named.length > 0);
    for (const { file, text } of named) {
      const m = /^# yaml-language-server: \$schema=(\S+)$/m.exec(text);
      assert.ok(m, file);
      assert.equal(join(root, file, '..', m[1]!), join(root, 'schemas/policy.v1.json'), file);
    }
  });

  test('the merged example policy is valid for the validator too', () => {
    const result = validatePolicy(parsePolicyDocument(exampleFiles));
    assert.deepEqual(result.errors, []);
  });

  test('a file without trustDomain fits the schema (a folder splits sections); the merged policy needs one', () => {
    const text =
      'apiVersion: gatehouse.dev/v1\nsegmentation:\n  - { id: s, effect: allow, from: "*", to: "*" }\n';
    assert.equal(schemaErrors(policySchema, parse(text)), '');
    assert.deepEqual(
      validate(text).errors.map((e) => e.code),
      ['missing_field'],
    );
  });

  // Valid policies, some with warnings: the schema must not reject what `gatehouse check` accepts.
  const accepted: { note: string; text: string; warnings?: string[] }[] = [
    {
      note: 'a bare SPIFFE ID as the whole selector',
      text: flow('from: spiffe://acme.corp/web, to: { service: api }'),
    },
    {
      note: 'one term, not in a list',
      text: flow('from: { labels: { app: web }, zones: prod }, to: { services: api }'),
    },
    {
      note: 'globs in SPIFFE ID paths',
      text: flow(
        'from: [spiffe://acme.corp/ns/*/sa/web, "spiffe://acme.corp/ci/**", "spiffe://acme.corp/u/{id}/x*"], to: { service: [api] }',
      ),
    },
    {
      note: '`not` holding a bare SPIFFE ID',
      text: flow('from: [{ zones: [prod], not: spiffe://acme.corp/bad }], to: { service: api }'),
    },
    {
      note: 'label values that are numbers and booleans are read as text',
      text: `${ESTATE}workloads:\n  - { spiffeId: spiffe://acme.corp/web, kind: service, labels: { replicas: 3, canary: true, acme.corp/tier: web } }\n`,
    },
    { note: 'zones as one name, `"*"` and `unknown`', text: segmentation('from: [unknown, prod], to: "*"') },
    {
      note: 'ports as `"*"` and as ranges',
      text: flow('from: "*", to: { service: api, ports: [8443, "9000-9100"] }'),
    },
    { note: 'actions `"*"`', text: permission('from: "*", actions: "*"') },
    {
      note: 'methods `"*"`, in and out of a list',
      text: permission('from: "*", actions: [{ methods: "*" }, { methods: [GET, "*"] }]'),
    },
    {
      note: 'paths, prefixes and an operation',
      text: permission(
        'from: "*", actions: [{ methods: [GET], paths: ["/a/**", "/b/*.json", "/c/{id}"], prefixes: [/d/] }, { operations: [read] }]',
      ),
    },
    { note: 'an empty action matches everything', text: permission('from: "*", actions: [{}]') },
    { note: 'a CEL condition', text: permission('from: "*", when: "context.mtls == true"') },
    {
      note: 'dates and date-times',
      text: permission('from: "*", reviewBy: 2027-01-31, expires: "2027-01-31T18:00+02:00"'),
    },
    {
      note: 'IPv6 and IPv4-mapped CIDRs, a zone with no CIDR',
      text: `${HEAD}zones: { v6: { cidrs: ["2001:db8::/32", "::ffff:10.0.0.0/104", "::/0"] }, empty: { cidrs: [] } }\n`,
    },
    {
      note: 'empty sections',
      text: `${HEAD}zones:\nservices:\nworkloads:\nsegmentation:\nflows:\npermissions:\n`,
    },
    {
      note: 'a reference to an undeclared zone is a warning',
      text: segmentation('from: [nowhere], to: [prod]'),
      warnings: ['unknown_reference'],
    },
    {
      note: 'a reference to an undeclared service is a warning',
      text: flow('from: "*", to: { services: [api, nosuch] }'),
      warnings: ['unknown_reference'],
    },
  ];
  for (const c of accepted) {
    test(`accepted by both: ${c.note}`, () => {
      assert.equal(schemaErrors(policySchema, parse(c.text)), '');
      const result = validate(c.text);
      assert.deepEqual(result.errors, []);
      assert.deepEqual(
        result.warnings.map((w) => w.code),
        c.warnings ?? [],
      );
    });
  }

  // Broken policies: rejected by the schema and by the validator, with this error code.
  const rejected: { note: string; text: string; code: string; message?: RegExp }[] = [
    {
      note: 'an unknown top-level field',
      text: `${HEAD}permisions: []\n`,
      code: 'unknown_field',
      message: /did you mean `permissions`/,
    },
    {
      note: 'another apiVersion',
      text: 'apiVersion: gatehouse.dev/v2\ntrustDomain: acme.corp\n',
      code: 'unsupported_version',
    },
    { note: 'no apiVersion', text: 'trustDomain: acme.corp\n', code: 'missing_field' },
    { note: 'another kind', text: `${HEAD}kind: Policies\n`, code: 'invalid_value' },
    {
      note: 'an unknown metadata field',
      text: `${HEAD}metadata: { name: x, team: y }\n`,
      code: 'unknown_field',
    },
    {
      note: 'an upper-case trust domain',
      text: 'apiVersion: gatehouse.dev/v1\ntrustDomain: Acme.corp\n',
      code: 'invalid_value',
    },
    {
      note: 'a port in a federated trust domain',
      text: `${HEAD}federatedTrustDomains: ["partner.example:443"]\n`,
      code: 'invalid_value',
    },
    {
      note: 'an upper-case zone name',
      text: `${HEAD}zones: { Prod: { cidrs: [10.0.0.0/16] } }\n`,
      code: 'invalid_name',
    },
    {
      note: 'a zone named `unknown`',
      text: `${HEAD}zones: { unknown: { cidrs: [10.0.0.0/16] } }\n`,
      code: 'invalid_name',
    },
    {
      note: 'a zone without cidrs',
      text: `${HEAD}zones: { prod: { description: x } }\n`,
      code: 'invalid_type',
    },
    {
      note: 'a CIDR without a prefix length',
      text: `${HEAD}zones: { prod: { cidrs: [10.0.0.1] } }\n`,
      code: 'invalid_cidr',
    },
    {
      note: 'an IPv4 prefix longer than 32',
      text: `${HEAD}zones: { prod: { cidrs: [10.0.0.0/33] } }\n`,
      code: 'invalid_cidr',
    },
    {
      note: 'an unknown service mode',
      text: `${ESTATE.replace('ports: [8443]', 'ports: [8443], mode: audit')}`,
      code: 'invalid_value',
    },
    {
      note: 'a misspelt service field',
      text: `${HEAD}zones: { prod: { cidrs: [10.0.0.0/16] } }\nservices: { api: { zone: prod, port: 8443 } }\n`,
      code: 'unknown_field',
      message: /did you mean `ports`/,
    },
    {
      note: 'a service without a zone',
      text: `${HEAD}services: { api: { ports: [443] } }\n`,
      code: 'missing_field',
    },
    {
      note: 'a port written as a string',
      text: flow('from: "*", to: { service: api, ports: ["8443"] }'),
      code: 'invalid_port',
    },
    {
      note: 'a port out of range',
      text: flow('from: "*", to: { service: api, ports: [70000] }'),
      code: 'invalid_port',
    },
    {
      note: 'an empty port list',
      text: flow('from: "*", to: { service: api, ports: [] }'),
      code: 'invalid_port',
    },
    {
      note: 'a port given as a bare number',
      text: flow('from: "*", to: { service: api, ports: 8443 }'),
      code: 'invalid_type',
    },
    {
      note: 'an unknown workload kind',
      text: `${HEAD}workloads: [{ spiffeId: spiffe://acme.corp/bot, kind: robot }]\n`,
      code: 'invalid_value',
    },
    {
      note: 'a workload SPIFFE ID with a dot segment',
      text: `${HEAD}workloads: [{ spiffeId: spiffe://acme.corp/a/../b }]\n`,
      code: 'invalid_spiffe_id',
    },
    {
      note: 'a workload without a SPIFFE ID',
      text: `${HEAD}workloads: [{ owner: team }]\n`,
      code: 'invalid_type',
    },
    {
      note: 'a workload SPIFFE ID with a wildcard',
      text: `${HEAD}workloads: [{ spiffeId: "spiffe://acme.corp/ns/*" }]\n`,
      code: 'invalid_spiffe_id',
    },
    {
      note: 'an invalid label key',
      text: `${HEAD}workloads: [{ spiffeId: spiffe://acme.corp/a, labels: { -bad: x } }]\n`,
      code: 'invalid_label',
    },
    {
      note: 'a rule without an id',
      text: `${ESTATE}flows: [{ effect: allow, from: "*", to: { service: api } }]\n`,
      code: 'missing_field',
    },
    {
      note: 'a rule id with a space',
      text: `${ESTATE}flows: [{ id: "my rule", effect: allow, from: "*", to: { service: api } }]\n`,
      code: 'invalid_value',
    },
    {
      note: 'a rule without an effect',
      text: `${ESTATE}flows: [{ id: f, from: "*", to: { service: api } }]\n`,
      code: 'missing_field',
    },
    {
      note: 'an unknown effect',
      text: `${ESTATE}flows: [{ id: f, effect: permit, from: "*", to: { service: api } }]\n`,
      code: 'invalid_value',
    },
    {
      note: 'a reviewBy that is not a date',
      text: flow('from: "*", to: { service: api }, reviewBy: next-year'),
      code: 'invalid_date',
    },
    {
      note: 'a date-time without a zone',
      text: flow('from: "*", to: { service: api }, expires: "2027-01-01T10:00"'),
      code: 'invalid_date',
    },
    { note: 'an empty zone list', text: segmentation('from: [], to: [prod]'), code: 'invalid_value' },
    {
      note: '`"*"` inside a zone list',
      text: segmentation('from: ["*", prod], to: [prod]'),
      code: 'invalid_value',
    },
    { note: 'a segmentation rule without `to`', text: segmentation('from: [prod]'), code: 'missing_field' },
    { note: 'an empty selector', text: flow('from: {}, to: { service: api }'), code: 'invalid_value' },
    { note: 'an empty selector list', text: flow('from: [], to: { service: api }'), code: 'invalid_value' },
    {
      note: '`"*"` inside a selector list',
      text: flow('from: ["*", spiffe://acme.corp/a], to: { service: api }'),
      code: 'invalid_value',
    },
    {
      note: '`not` inside `not`',
      text: flow('from: [{ not: { not: { labels: { a: b } } } }], to: { service: api }'),
      code: 'invalid_value',
    },
    {
      note: 'an empty label selector',
      text: flow('from: [{ labels: {} }], to: { service: api }'),
      code: 'invalid_value',
    },
    {
      note: '`zones: "*"` in a selector',
      text: flow('from: [{ zones: "*" }], to: { service: api }'),
      code: 'invalid_value',
    },
    {
      note: 'a misspelt selector field',
      text: flow('from: [{ label: { app: web } }], to: { service: api }'),
      code: 'unknown_field',
      message: /did you mean `labels`/,
    },
    {
      note: 'a wildcard in the trust domain of a SPIFFE ID pattern',
      text: flow('from: ["spiffe://*.acme.corp/web"], to: { service: api }'),
      code: 'invalid_spiffe_id',
    },
    {
      note: 'a selector that is not a SPIFFE ID',
      text: flow('from: [web], to: { service: api }'),
      code: 'invalid_spiffe_id',
    },
    {
      note: 'both `service` and `services`',
      text: flow('from: "*", to: { service: api, services: [api] }'),
      code: 'invalid_value',
    },
    {
      note: 'a target without a service',
      text: flow('from: "*", to: { ports: [8443] }'),
      code: 'missing_field',
    },
    { note: 'a flow rule without `to`', text: flow('from: "*"'), code: 'missing_field' },
    {
      note: 'a lower-case method',
      text: permission('from: "*", actions: [{ methods: [get] }]'),
      code: 'invalid_method',
    },
    {
      note: 'a path without a leading slash',
      text: permission('from: "*", actions: [{ paths: [items/*] }]'),
      code: 'invalid_path',
    },
    {
      note: '`**` inside a segment',
      text: permission('from: "*", actions: [{ paths: ["/items**"] }]'),
      code: 'invalid_path',
    },
    {
      note: 'a template inside a segment',
      text: permission('from: "*", actions: [{ paths: ["/items/x{id}"] }]'),
      code: 'invalid_path',
    },
    {
      note: 'a prefix without a leading slash',
      text: permission('from: "*", actions: [{ prefixes: [admin] }]'),
      code: 'invalid_path',
    },
    {
      note: 'an action mixing operations and methods',
      text: permission('from: "*", actions: [{ operations: [read], methods: [GET] }]'),
      code: 'invalid_value',
    },
    { note: 'an empty condition', text: permission('from: "*", when: "  "'), code: 'invalid_type' },
    {
      note: 'a misspelt permission field',
      text: permission('from: "*", action: [{ methods: [GET] }]'),
      code: 'unknown_field',
      message: /did you mean `actions`/,
    },
    { note: 'a permission without `from`', text: permission('actions: "*"'), code: 'missing_field' },
    // Empty lists would silently mean "nothing" or "everything".
    {
      note: 'an empty `services` list',
      text: flow('from: "*", to: { services: [] }'),
      code: 'invalid_value',
    },
    { note: 'an empty `actions` list', text: permission('from: "*", actions: []'), code: 'invalid_value' },
    {
      note: 'an empty `methods` list',
      text: permission('from: "*", actions: [{ methods: [] }]'),
      code: 'invalid_value',
    },
    {
      note: 'an empty `paths` list',
      text: permission('from: "*", actions: [{ paths: [] }]'),
      code: 'invalid_value',
    },
    {
      note: 'an empty `prefixes` list',
      text: permission('from: "*", actions: [{ prefixes: [] }]'),
      code: 'invalid_value',
    },
    {
      note: 'an empty `operations` list',
      text: permission('from: "*", actions: [{ operations: [] }]'),
      code: 'invalid_value',
    },
    {
      note: 'an empty path list in a service operation',
      text: ESTATE.replace('paths: ["/items/{id}"]', 'paths: []'),
      code: 'invalid_value',
    },
  ];
  for (const c of rejected) {
    test(`rejected by both: ${c.note}`, () => {
      assert.notEqual(schemaErrors(policySchema, parse(c.text)), '', 'the schema accepts it');
      const result = validate(c.text);
      assert.ok(result.errors.length > 0, 'validatePolicy accepts it');
      assert.ok(
        result.errors.some((e) => e.code === c.code),
        `expected ${c.code}, got ${result.errors.map((e) => `${e.code}: ${e.message}`).join('; ')}`,
      );
      if (c.message)
        assert.ok(
          result.errors.some((e) => c.message!.test(e.message)),
          `no message matches ${c.message}`,
        );
    });
  }

  test('the tables are not trivially small', () => {
    assert.ok(rejected.length >= 15 && accepted.length >= 10);
  });
});

// ---- requests: the schema and checkDecisionRequest agree -------------------

describe('decision request schema', () => {
  test('every request in examples/acme/requests.jsonl validates', () => {
    for (const { note, request } of exampleRequests) {
      assert.equal(schemaErrors(requestSchema, request), '', note);
      assert.deepEqual(checkDecisionRequest(request), [], note);
    }
  });

  const base = {
    source: { spiffeId: 'spiffe://acme.corp/web', ip: '10.0.0.1', labels: { app: 'web' } },
    credential: { type: 'x509-svid', verified: true, expiresAt: '2026-11-20T11:00:00Z' },
    destination: { service: 'orders', port: 8443 },
    action: { method: 'GET', path: '/orders/1' },
    context: { mtls: true },
    time: '2026-11-20T10:00:00Z',
  };
  const accepted: { note: string; request: unknown }[] = [
    {
      note: 'the smallest request',
      request: { source: { spiffeId: 'x' }, destination: { service: 'orders' } },
    },
    { note: 'a full request with apiVersion', request: { apiVersion: 'gatehouse.dev/v1', ...base } },
    {
      note: 'a string that is not a SPIFFE ID (denied later, not rejected)',
      request: { ...base, source: { spiffeId: 'web' } },
    },
    { note: 'lower-case `t` and `z` in a time', request: { ...base, time: '2026-11-20t10:00:00.123z' } },
    { note: 'an operation and no method', request: { ...base, action: { operation: 'orders.read' } } },
  ];
  for (const c of accepted) {
    test(`accepted by both: ${c.note}`, () => {
      assert.equal(schemaErrors(requestSchema, c.request), '');
      assert.deepEqual(checkDecisionRequest(c.request), []);
    });
  }

  const rejected: { note: string; request: unknown }[] = [
    { note: 'not an object', request: [base] },
    { note: 'an unknown top-level field', request: { ...base, subject: 'x' } },
    { note: 'another apiVersion', request: { ...base, apiVersion: 'gatehouse.dev/v2' } },
    { note: 'no source', request: { destination: base.destination } },
    { note: 'an empty SPIFFE ID', request: { ...base, source: { spiffeId: '' } } },
    {
      note: 'a label that is not a string',
      request: { ...base, source: { spiffeId: 'x', labels: { tier: 1 } } },
    },
    { note: 'an unknown source field', request: { ...base, source: { spiffeId: 'x', zone: 'prod' } } },
    {
      note: 'an unknown credential type',
      request: { ...base, credential: { type: 'password', verified: true } },
    },
    { note: 'a credential without `verified`', request: { ...base, credential: { type: 'jwt-svid' } } },
    {
      note: '`revoked` as a string',
      request: { ...base, credential: { type: 'jwt-svid', verified: true, revoked: 'no' } },
    },
    {
      note: 'a time without seconds',
      request: { ...base, credential: { type: 'jwt-svid', verified: true, expiresAt: '2026-11-20T11:00Z' } },
    },
    { note: 'a time with a space', request: { ...base, time: '2026-11-20 10:00:00Z' } },
    { note: 'no destination', request: { source: base.source } },
    { note: 'port 0', request: { ...base, destination: { service: 'orders', port: 0 } } },
    { note: 'a fractional port', request: { ...base, destination: { service: 'orders', port: 8443.5 } } },
    { note: 'a port as a string', request: { ...base, destination: { service: 'orders', port: '8443' } } },
    { note: 'a method that is not a token', request: { ...base, action: { method: 'GET /' } } },
    { note: 'a relative path', request: { ...base, action: { path: 'orders/1' } } },
    { note: 'an unknown action field', request: { ...base, action: { verb: 'GET' } } },
    { note: 'context as a list', request: { ...base, context: [] } },
    { note: 'an over-long service name', request: { ...base, destination: { service: 'x'.repeat(8193) } } },
  ];
  for (const c of rejected) {
    test(`rejected by both: ${c.note}`, () => {
      assert.notEqual(schemaErrors(requestSchema, c.request), '', 'the schema accepts it');
      assert.ok(checkDecisionRequest(c.request).length > 0, 'checkDecisionRequest accepts it');
    });
  }
});

// ---- decisions: what the engine and the CLI produce fits the schema --------

describe('decision schema', () => {
  const policy = parsePolicy(exampleFiles);
  const compiled = compilePolicy(policy, { clock: fixedClock(NOW) });

  test('the engine decision for every example request validates', () => {
    const decisions: Decision[] = exampleRequests.map(({ request }) => compiled.decide(request));
    for (const [i, d] of decisions.entries()) {
      assert.equal(schemaErrors(decisionSchema, d), '', exampleRequests[i]!.note);
    }
    // The examples exercise every branch of the schema's conditional rules.
    assert.ok(decisions.some((d) => d.decision === 'allow' && d.enforced));
    assert.ok(decisions.some((d) => d.decision === 'deny' && d.enforced));
    assert.ok(decisions.some((d) => d.wouldDeny));
    assert.ok(decisions.some((d) => d.errors.length > 0));
    assert.ok(decisions.every((d) => typeof d.decisionId === 'string'));
  });

  test('denials for requests that cannot be evaluated validate', () => {
    const request = exampleRequests[0]!.request;
    const cases: unknown[] = [
      {},
      { ...request, action: { method: 'GET', path: '/orders%2F1' } },
      { ...request, action: { method: 'GET', path: '/../etc/passwd' } },
      { ...request, time: 'yesterday' },
      {
        ...request,
        destination: { service: 'inventory', port: 8443 },
        action: { method: 'GET', path: '/a/%2e%2e/%2e%2e' },
      },
    ];
    for (const r of cases) {
      const d = compiled.decide(r as DecisionRequest);
      assert.equal(d.reason, 'request_invalid', JSON.stringify(r));
      assert.equal(schemaErrors(decisionSchema, d), '', JSON.stringify(r));
    }
  });

  test('decisions for an undeclared service, a missing port and no action validate', () => {
    const request = exampleRequests[0]!.request;
    const cases: DecisionRequest[] = [
      { ...request, destination: { service: 'nosuch', port: 443 } },
      { ...request, destination: { service: 'orders' } },
      {
        source: request.source,
        credential: request.credential!,
        destination: { service: 'ledger-db', port: 5432 },
      },
    ];
    for (const r of cases)
      assert.equal(schemaErrors(decisionSchema, compiled.decide(r)), '', JSON.stringify(r));
  });

  test('each line of `gatehouse decide` is a decision plus `note`, `line` and `explanation`', async () => {
    let out = '';
    const io: CliIo = {
      stdout: { write: (t: string) => (out += t) },
      stderr: { write: () => true },
      readStdin: async () => '',
      cwd: root,
      env: {},
      isTty: false,
    };
    const code = await main(
      ['decide', '--policy', examplePolicyDir, '--requests', 'examples/acme/requests.jsonl', '--explain'],
      io,
      () => NOW,
    );
    assert.equal(code, 0);
    const lines = out.trim().split('\n');
    assert.equal(lines.length, exampleRequests.length);
    for (const line of lines) {
      const { note, line: n, explanation, ...decision } = JSON.parse(line) as Record<string, unknown>;
      assert.equal(typeof note, 'string');
      assert.equal(typeof n, 'number');
      assert.equal(typeof explanation, 'string');
      assert.equal(schemaErrors(decisionSchema, decision), '', String(note));
    }
  });
});
