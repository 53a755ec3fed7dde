/**
 * Flow ingest: the Gatehouse flow format checked strictly, the importers on
 * lines in their real formats (AWS VPC Flow Logs v2 to v5, `hubble observe -o
 * json`, the decision log), bad lines counted with their numbers, and the
 * resolution of addresses to identities, services and zones.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import fc from 'fast-check';
import { parse } from 'yaml';
import {
  checkFlowRecord,
  createDecisionLogParser,
  createFlowFormatParser,
  createHubbleParser,
  createVpcFlowLogParser,
  declaredServiceNames,
  declaredServiceOf,
  EndpointResolver,
  formatFlowRecord,
  formatIngestProblems,
  ingestFlowLines,
  parseVpcLogFormat,
  type FlowLineOutcome,
  type FlowRecord,
} from '../../../src/core/analysis/flows/index.js';
import { parseUtcTime } from '../../../src/core/utc-time.js';
import type { InventorySnapshot } from '../../../src/core/identity/inventory.js';
import { parsePolicy } from '../../../src/core/policy/index.js';

const root = new URL('../../..', import.meta.url).pathname;

function record(o: FlowLineOutcome): FlowRecord {
  assert.equal(o.kind, 'record', JSON.stringify(o));
  return (o as { record: FlowRecord }).record;
}

function problemOf(o: FlowLineOutcome): string {
  assert.equal(o.kind, 'problem', JSON.stringify(o));
  return (o as { message: string }).message;
}

const POLICY = parsePolicy(`
apiVersion: gatehouse.dev/v1
trustDomain: shop.example
zones:
  prod: { cidrs: [10.10.0.0/16] }
  data: { cidrs: [10.11.0.0/16] }
  dev: { cidrs: [10.30.0.0/16, '2001:db8:30::/48'] }
services:
  orders: { zone: prod, ports: [8443], spiffeId: spiffe://shop.example/ns/shop/sa/orders }
  orders-admin: { zone: prod, ports: [9443], spiffeId: spiffe://shop.example/ns/shop/sa/orders }
  orders-db: { zone: data, ports: [5432], spiffeId: spiffe://shop.example/ns/data/sa/orders-db }
`);

const INVENTORY: InventorySnapshot = {
  entries: [
    entry('spiffe://shop.example/ns/shop/sa/web', ['10.10.1.10', '10.10.1.11'], 'prod'),
    entry('spiffe://shop.example/ns/shop/sa/orders', ['10.10.2.0/28'], 'prod'),
    entry('spiffe://shop.example/ns/data/sa/orders-db', ['10.11.0.5'], 'data'),
    entry('spiffe://shop.example/ns/ops/sa/cron', [], 'prod'),
    // Two entries claim one address: it belongs to neither.
    entry('spiffe://shop.example/ns/ops/sa/nat-a', ['10.10.9.1'], 'prod'),
    entry('spiffe://shop.example/ns/ops/sa/nat-b', ['10.10.9.1/32'], 'prod'),
    { ...entry('spiffe://shop.example/ns/old/sa/gone', ['10.10.7.7'], 'prod'), status: 'offboarded' },
  ],
  credentials: [],
  grants: [],
  revocations: [],
};

function entry(spiffeId: string, addresses: string[], zone: string): InventorySnapshot['entries'][number] {
  const at = '2026-01-01T00:00:00.000Z';
  return {
    id: spiffeId,
    spiffeId,
    kind: 'service',
    labels: {},
    zone,
    addresses,
    attestation: [],
    status: 'active',
    createdAt: at,
    updatedAt: at,
  };
}

describe('the Gatehouse flow format v1', () => {
  const parser = createFlowFormatParser();
  const base = {
    v: 1,
    time: '2026-11-20T10:00:00Z',
    source: { ip: '10.10.1.10' },
    destination: { service: 'orders', port: 8443 },
    protocol: 'tcp',
  };
  const line = (patch: Record<string, unknown>) => JSON.stringify({ ...base, ...patch });

  test('a minimal record reads, with origin gatehouse; formatting round-trips', () => {
    const r = record(parser.parse(line({})));
    assert.equal(r.origin, 'gatehouse');
    assert.deepEqual(record(parser.parse(formatFlowRecord(r))), r);
  });

  test('a file saved with a byte order mark reads from its first line', () => {
    const { records, report } = ingestFlowLines(['\uFEFF' + line({}), line({})], parser);
    assert.equal(report.problems, 0, formatIngestProblems(report).join('\n'));
    assert.equal(records.length, 2);
    // The other JSON formats read their lines the same way.
    assert.match(
      problemOf(createDecisionLogParser().parse('\uFEFF{"v":2}')),
      /unsupported decision record version `2`/,
    );
  });

  test('every field is checked, and unknown fields are refused', () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ v: 2 }, /unsupported version `2`: use 1/],
      [{ v: undefined }, /`v` is required/],
      [{ time: '2026-02-30T10:00:00Z' }, /`time` must be an RFC 3339 date-time/],
      [{ time: '2026-11-20 10:00:00' }, /`time` must be an RFC 3339/],
      [{ source: { ip: '10.10.1.300' } }, /`source.ip` must be an IPv4 or IPv6 address/],
      [{ source: { spiffeId: 'spiffe://Shop/x' } }, /`source.spiffeId` must be a SPIFFE ID/],
      [{ source: { zone: 'prod' } }, /`source` needs `ip` or `spiffeId`/],
      [{ source: { ip: '10.10.1.10', host: 'x' } }, /unknown field `source.host`/],
      [{ destination: { port: 8443 } }, /`destination` needs `ip`, `spiffeId` or `service`/],
      [{ destination: { service: 'orders', port: 0 } }, /`destination.port` must be an integer in 1..65535/],
      [{ destination: { service: 'orders', port: '8443' } }, /`destination.port` must be an integer/],
      [{ protocol: 'TCP' }, /`protocol` must be a lower-case protocol name/],
      [{ action: { path: 'orders' } }, /`action.path` must be a path starting with `\/`/],
      [{ action: {} }, /`action` must name a `method`, a `path` or an `operation`/],
      [{ action: { method: 'GET /' } }, /`action.method` must be an HTTP method token/],
      [{ verdict: 'ALLOW' }, /`verdict` must be allow or deny/],
      [{ count: 0 }, /`count` must be a whole number of at least 1/],
      [{ bytes: -1 }, /`bytes` must be a whole number of at least 0/],
      [{ origin: 'netflow' }, /`origin` must be one of gatehouse, vpc-flow-logs, hubble, decision-log/],
      [{ extra: true }, /unknown field `extra`/],
    ];
    for (const [patch, want] of cases)
      assert.match(problemOf(parser.parse(line(patch))), want, JSON.stringify(patch));
    assert.match(problemOf(parser.parse('{"v":1,')), /^not valid JSON: /);
    assert.match(problemOf(parser.parse('[1]')), /a flow record must be a JSON object/);
    assert.equal(parser.parse('   ').kind, 'blank');
  });

  test('schemas/flow.v1.json accepts what the checker accepts and refuses what it refuses', () => {
    const ajv = new Ajv2020.default({
      allErrors: true,
      strict: true,
      strictRequired: false,
      allowUnionTypes: true,
    });
    addFormats.default(ajv);
    const validate = ajv.compile(JSON.parse(readFileSync(join(root, 'schemas/flow.v1.json'), 'utf8')));
    const samples: unknown[] = [
      base,
      { ...base, source: { ip: '2001:db8:30::1', spiffeId: 'spiffe://shop.example/ns/a/sa/b', zone: 'dev' } },
      {
        ...base,
        action: { method: 'GET', path: '/orders/1' },
        verdict: 'deny',
        count: 3,
        bytes: 10,
        origin: 'hubble',
      },
      { ...base, v: 2 },
      { ...base, extra: 1 },
      { ...base, source: { zone: 'prod' } },
      { ...base, destination: { port: 1 } },
      { ...base, destination: { service: 'orders', port: 70000 } },
      { ...base, protocol: 'TCP' },
      { ...base, action: {} },
      { ...base, count: 0 },
      { ...base, verdict: 'maybe' },
    ];
    for (const s of samples) {
      const ours = 'record' in checkFlowRecord(s);
      assert.equal(validate(s), ours, `${JSON.stringify(s)}: ${ajv.errorsText(validate.errors)}`);
    }
    const week = readFileSync(join(root, 'examples/estate/flows/week.jsonl'), 'utf8')
      .split('\n')
      .slice(0, 200);
    for (const l of week.filter(Boolean)) assert.ok(validate(JSON.parse(l)), ajv.errorsText(validate.errors));
  });

  test('the schema is draft 2020-12 and every property has a description for editors', () => {
    const schema = JSON.parse(readFileSync(join(root, 'schemas/flow.v1.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    assert.equal(schema.$schema, 'https://json-schema.org/draft/2020-12/schema');
    const missing: string[] = [];
    const walk = (node: unknown, pointer: string): void => {
      if (node === null || typeof node !== 'object') return;
      for (const [key, value] of Object.entries(node)) {
        if (key === 'properties' && value && typeof value === 'object')
          for (const [name, sub] of Object.entries(value))
            if (typeof (sub as { description?: unknown }).description !== 'string')
              missing.push(`${pointer}/properties/${name}`);
        walk(value, `${pointer}/${key}`);
      }
    };
    walk(schema, '#');
    assert.deepEqual(missing, []);
  });

  test('the example estate fits the policy and inventory schemas', () => {
    const ajv = new Ajv2020.default({
      allErrors: true,
      strict: true,
      strictRequired: false,
      allowUnionTypes: true,
    });
    addFormats.default(ajv);
    const policySchema = ajv.compile(JSON.parse(readFileSync(join(root, 'schemas/policy.v1.json'), 'utf8')));
    const inventorySchema = ajv.compile(
      JSON.parse(readFileSync(join(root, 'schemas/inventory.v1.json'), 'utf8')),
    );
    for (const dir of ['policy', 'candidate', 'fixes']) {
      for (const f of readdirSync(join(root, 'examples/estate', dir))) {
        const value = parse(readFileSync(join(root, 'examples/estate', dir, f), 'utf8')) as unknown;
        assert.ok(policySchema(value), `${dir}/${f}: ${ajv.errorsText(policySchema.errors)}`);
      }
    }
    const inventory = parse(readFileSync(join(root, 'examples/estate/inventory.yaml'), 'utf8')) as unknown;
    assert.ok(inventorySchema(inventory), ajv.errorsText(inventorySchema.errors));
  });
});

describe('flow times', () => {
  test('parseUtcTime answers what Date.parse answers, on every form and on edge days', () => {
    const pad = (n: number, w: number) => String(n).padStart(w, '0');
    fc.assert(
      fc.property(
        fc.record({
          y: fc.integer({ min: 0, max: 9999 }),
          mo: fc.integer({ min: 0, max: 13 }),
          d: fc.integer({ min: 0, max: 32 }),
          h: fc.integer({ min: 0, max: 24 }),
          mi: fc.integer({ min: 0, max: 60 }),
          s: fc.integer({ min: 0, max: 60 }),
          ms: fc.integer({ min: 0, max: 999 }),
          form: fc.constantFrom('Z', 'msZ', 'offset', 'lower'),
        }),
        ({ y, mo, d, h, mi, s, ms, form }) => {
          const base = `${pad(y, 4)}-${pad(mo, 2)}-${pad(d, 2)}T${pad(h, 2)}:${pad(mi, 2)}:${pad(s, 2)}`;
          const v =
            form === 'Z'
              ? `${base}Z`
              : form === 'msZ'
                ? `${base}.${pad(ms, 3)}Z`
                : form === 'offset'
                  ? `${base}+02:00`
                  : `${base}z`;
          assert.ok(Object.is(parseUtcTime(v), Date.parse(v)), v);
        },
      ),
      { numRuns: 5000 },
    );
    for (const v of ['2026-02-29T00:00:00Z', '2024-02-29T23:59:59.999Z', '2026-11-2aT00:00:00Z', 'x'])
      assert.ok(Object.is(parseUtcTime(v), Date.parse(v)), v);
  });
});

describe('AWS VPC Flow Logs', () => {
  test('default format (version 2): a record, a reply, NODATA and SKIPDATA with `-` fields', () => {
    const p = createVpcFlowLogParser();
    const r = record(
      p.parse(
        '2 123456789010 eni-1235b8ca123456789 10.10.1.10 10.11.0.5 49761 5432 6 20 4249 1418530010 1418530070 ACCEPT OK',
      ),
    );
    assert.deepEqual(r, {
      v: 1,
      time: '2014-12-14T04:06:50.000Z',
      source: { ip: '10.10.1.10' },
      destination: { ip: '10.11.0.5', port: 5432 },
      protocol: 'tcp',
      verdict: 'allow',
      bytes: 4249,
      packets: 20,
      origin: 'vpc-flow-logs',
    });
    const reply = p.parse(
      '2 123456789010 eni-1235b8ca123456789 10.11.0.5 10.10.1.10 5432 49761 6 20 880 1418530010 1418530070 ACCEPT OK',
    );
    assert.deepEqual(reply, { kind: 'skip', reason: 'reply' });
    const nodata = '2 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280876 1431280934 - NODATA';
    const skipdata = '2 123456789010 eni-11111111aaaaaaaaa - - - - - - - 1431280876 1431280934 - SKIPDATA';
    assert.deepEqual(p.parse(nodata), { kind: 'skip', reason: 'nodata' });
    assert.deepEqual(p.parse(skipdata), { kind: 'skip', reason: 'skipdata' });
    const reject = record(
      p.parse('2 123456789010 eni-1 10.99.4.17 10.11.0.5 40000 22 6 1 44 1418530010 1418530070 REJECT OK'),
    );
    assert.equal(reject.verdict, 'deny');
    const icmp = record(
      p.parse('2 1 eni-1 10.10.1.10 10.11.0.5 0 0 1 4 336 1418530010 1418530070 ACCEPT OK'),
    );
    assert.equal(icmp.protocol, 'icmp');
    assert.equal(icmp.destination.port, undefined);
  });

  test('a header line (v3 to v5 custom formats) sets the field order; pkt-srcaddr wins over srcaddr', () => {
    const p = createVpcFlowLogParser();
    const header =
      'version vpc-id subnet-id instance-id interface-id account-id type srcaddr dstaddr srcport dstport pkt-srcaddr pkt-dstaddr protocol bytes packets start end action tcp-flags log-status region az-id sublocation-type sublocation-id pkt-src-aws-service pkt-dst-aws-service flow-direction traffic-path';
    assert.equal(p.parse(header).kind, 'blank');
    const r = record(
      p.parse(
        '5 vpc-0a1b2c3d subnet-0f1e2d3c i-01234567890abcdef eni-0123 123456789012 IPv4 10.11.0.9 10.11.0.5 43210 5432 10.10.1.10 10.11.0.5 6 5000 12 1763719200 1763719260 ACCEPT 19 OK eu-west-1 euw1-az2 - - - - ingress -',
      ),
    );
    assert.equal(r.source.ip, '10.10.1.10');
    assert.equal(r.destination.port, 5432);
    assert.equal(r.bytes, 5000);
    // v3: a shorter custom order, given as a LogFormat.
    const format = parseVpcLogFormat(
      '${version} ${srcaddr} ${dstaddr} ${dstport} ${protocol} ${start} ${action}',
    );
    assert.ok('fields' in format);
    const v3 = createVpcFlowLogParser({ fields: format.fields });
    assert.equal(
      record(v3.parse('3 10.10.1.10 10.11.0.5 5432 6 1763719200 ACCEPT')).destination.ip,
      '10.11.0.5',
    );
    assert.match(
      (parseVpcLogFormat('${version} ${srcaddr}') as { problem: string }).problem,
      /the format lacks `dstaddr`, `dstport`, `protocol`, `start`/,
    );
  });

  test('bad lines are problems with a reason, never thrown', () => {
    const p = createVpcFlowLogParser();
    assert.match(
      problemOf(p.parse('2 1 eni-1 10.10.1.10 10.11.0.5 49152')),
      /expected 14 space-separated fields/,
    );
    assert.match(
      problemOf(p.parse('2 1 eni-1 10.10.1.300 10.11.0.5 4 5432 6 1 1 1418530010 1418530070 ACCEPT OK')),
      /`srcaddr` must be an IP address, got `10\.10\.1\.300`/,
    );
    assert.match(
      problemOf(p.parse('1 1 eni-1 10.10.1.1 10.11.0.5 4 5432 6 1 1 1418530010 1418530070 ACCEPT OK')),
      /unsupported version `1`/,
    );
    assert.match(
      problemOf(p.parse('2 1 eni-1 10.10.1.1 10.11.0.5 4 5432 6 1 1 1418530010 1418530070 MAYBE OK')),
      /unknown action `MAYBE`/,
    );
  });
});

describe('Hubble', () => {
  const flow = (patch: Record<string, unknown>) =>
    JSON.stringify({
      flow: {
        time: '2026-11-20T14:00:00.917456789Z',
        verdict: 'FORWARDED',
        IP: { source: '10.10.1.10', destination: '10.10.2.3', ipVersion: 'IPv4' },
        l4: { TCP: { source_port: 40000, destination_port: 8443 } },
        source: {
          namespace: 'shop',
          labels: [
            'k8s:app=web',
            'k8s:io.cilium.k8s.policy.serviceaccount=web',
            'k8s:io.kubernetes.pod.namespace=shop',
          ],
          pod_name: 'web-7d9c-abcde',
          workloads: [{ name: 'web', kind: 'Deployment' }],
        },
        destination: {
          namespace: 'shop',
          labels: ['k8s:io.cilium.k8s.policy.serviceaccount=orders'],
          pod_name: 'orders-1',
        },
        traffic_direction: 'INGRESS',
        Type: 'L7',
        l7: {
          type: 'REQUEST',
          http: {
            method: 'get',
            url: 'http://orders.shop.svc.cluster.local:8443/orders/42?expand=items',
            protocol: 'HTTP/1.1',
          },
        },
        ...patch,
      },
      node_name: 'node-1',
      time: '2026-11-20T14:00:00.917456789Z',
    });

  test('an L7 HTTP request: method, path without query, SPIFFE IDs from namespace and service account', () => {
    const r = record(createHubbleParser({ trustDomain: 'shop.example' }).parse(flow({})));
    assert.deepEqual(r.action, { method: 'GET', path: '/orders/42' });
    assert.equal(r.source.spiffeId, 'spiffe://shop.example/ns/shop/sa/web');
    assert.equal(r.source.workload, 'shop/web');
    assert.equal(r.destination.spiffeId, 'spiffe://shop.example/ns/shop/sa/orders');
    assert.equal(r.destination.port, 8443);
    assert.equal(r.verdict, 'allow');
    assert.equal(r.time, '2026-11-20T14:00:00.917456789Z');
    // Without a trust domain, no SPIFFE ID is made up.
    assert.equal(record(createHubbleParser().parse(flow({}))).source.spiffeId, undefined);
  });

  test('replies, repeats and non-flow events are skipped; drops are a deny', () => {
    const p = createHubbleParser();
    assert.deepEqual(p.parse(flow({ is_reply: true })), { kind: 'skip', reason: 'reply' });
    assert.deepEqual(p.parse(flow({ l7: { type: 'RESPONSE', http: { code: 200 } } })), {
      kind: 'skip',
      reason: 'reply',
    });
    const l4 = (flags: Record<string, boolean>, direction = 'INGRESS') =>
      flow({
        Type: 'L3_L4',
        l7: undefined,
        traffic_direction: direction,
        l4: { TCP: { source_port: 40000, destination_port: 8443, flags } },
      });
    assert.equal(p.parse(l4({ SYN: true })).kind, 'record');
    assert.deepEqual(p.parse(l4({ SYN: true, ACK: true })), { kind: 'skip', reason: 'reply' });
    assert.deepEqual(p.parse(l4({ ACK: true, FIN: true })), { kind: 'skip', reason: 'repeat' });
    assert.deepEqual(p.parse(l4({ SYN: true }, 'EGRESS')), { kind: 'skip', reason: 'repeat' });
    assert.deepEqual(p.parse('{"node_status":{"state_change":"NODE_CONNECTED"}}'), {
      kind: 'skip',
      reason: 'not-a-flow',
    });
    assert.equal(record(p.parse(flow({ verdict: 'DROPPED' }))).verdict, 'deny');
    // A bare flow object (older CLIs) reads too.
    const bare = JSON.parse(flow({})) as { flow: unknown };
    assert.equal(p.parse(JSON.stringify(bare.flow)).kind, 'record');
    const udp = record(
      p.parse(flow({ l7: undefined, l4: { UDP: { source_port: 5000, destination_port: 53 } } })),
    );
    assert.equal(udp.protocol, 'udp');
  });

  test('bad lines', () => {
    const p = createHubbleParser();
    assert.match(problemOf(p.parse('{"flow":{"time":"x"')), /^not valid JSON/);
    assert.match(
      problemOf(p.parse(flow({ time: 'yesterday' }))),
      /`flow.time` must be an RFC 3339 date-time/,
    );
    assert.match(
      problemOf(p.parse(flow({ IP: { source: 'nope', destination: '10.0.0.1' } }))),
      /`flow.IP.source` must be an IP address, got `nope`/,
    );
  });

  test('what it reads is a record of the flow format: a URL without a path the format holds is a bad line', () => {
    const p = createHubbleParser();
    const request = (url: string) => p.parse(flow({ l7: { type: 'REQUEST', http: { method: 'GET', url } } }));
    for (const url of ['x:y', 'mailto:admin', `http://h/${'a'.repeat(9000)}`])
      assert.match(problemOf(request(url)), /`l7.http.url` must be a URL or a path/, url);
    for (const url of ['http://h', 'http://h/a/../b?q=1', '/a%2fb']) {
      const r = record(request(url));
      assert.ok('record' in checkFlowRecord(JSON.parse(formatFlowRecord(r))), url);
    }
  });
});

describe('the decision log', () => {
  test('records of examples/acme/decisions.jsonl read as flows with their zones and verdicts', () => {
    const lines = readFileSync(join(root, 'examples/acme/decisions.jsonl'), 'utf8').split('\n').slice(0, 50);
    const { records, report } = ingestFlowLines(lines, createDecisionLogParser());
    assert.equal(report.problems, 0, formatIngestProblems(report).join('\n'));
    assert.ok(records.length >= 40);
    const r = records[0]!;
    assert.equal(r.origin, 'decision-log');
    assert.ok(r.destination.service && r.source.zone && r.destination.zone);
    assert.ok(records.some((x) => x.action?.path !== undefined));
    assert.ok(records.some((x) => x.verdict === 'deny'));
  });

  test('a caller whose SPIFFE ID did not parse stays, without identity', () => {
    const p = createDecisionLogParser();
    const line = JSON.stringify({
      v: 1,
      time: '2026-11-20T10:00:00.000Z',
      source: { spiffeId: 'not-an-id', ip: '10.0.0.1', zone: 'prod' },
      destination: { service: 'orders', port: 8443, zone: 'prod' },
      allowed: false,
    });
    const r = record(p.parse(line));
    assert.equal(r.source.spiffeId, undefined);
    assert.equal(r.source.ip, '10.0.0.1');
    assert.match(
      problemOf(p.parse(line.replace('"v":1', '"v":2'))),
      /unsupported decision record version `2`/,
    );
  });
});

describe('ingest', () => {
  test('bad lines are counted and reported with their line numbers, never fatal', () => {
    const lines = [
      '2 1 eni-1 10.10.1.10 10.11.0.5 40000 5432 6 1 1 1418530010 1418530070 ACCEPT OK',
      'garbage',
      '',
      '2 1 eni-1 - - - - - - - 1418530010 1418530070 - NODATA',
      '2 1 eni-1 10.10.1.10 10.11.0.5 40000 5432 6 1 1 1418530010 1418530070 ACCEPT',
      '2 1 eni-1 10.10.1.11 10.11.0.5 40001 5432 6 1 1 1418530010 1418530070 ACCEPT OK',
    ];
    const { records, report } = ingestFlowLines(lines, createVpcFlowLogParser(), {
      file: 'vpc.log',
      maxProblems: 1,
      resolver: new EndpointResolver(POLICY, INVENTORY),
    });
    assert.equal(records.length, 2);
    assert.equal(report.lines, 6);
    assert.equal(report.problems, 2);
    assert.equal(report.skipped.nodata, 1);
    assert.deepEqual(formatIngestProblems(report), [
      'vpc.log:2: expected 14 space-separated fields (version … log-status), found 1: `garbage`',
      '… and 1 more bad line(s)',
    ]);
    assert.equal(records[0]!.destination.service, 'orders-db');
  });
});

describe('endpoint resolution', () => {
  const resolver = new EndpointResolver(POLICY, INVENTORY);
  const resolve = (source: FlowRecord['source'], destination: FlowRecord['destination']) =>
    resolver.resolve({
      v: 1,
      time: '2026-11-20T10:00:00Z',
      source,
      destination,
      protocol: 'tcp',
      origin: 'gatehouse',
    });

  test('addresses to identities (exact and CIDR), services by SPIFFE ID and port, zones by CIDR', () => {
    const r = resolve({ ip: '10.10.1.11' }, { ip: '10.10.2.3', port: 8443 });
    assert.equal(r.source.spiffeId, 'spiffe://shop.example/ns/shop/sa/web');
    assert.equal(r.source.zone, 'prod');
    assert.equal(r.destination.spiffeId, 'spiffe://shop.example/ns/shop/sa/orders');
    assert.equal(r.destination.service, 'orders');
    assert.equal(r.destination.zone, 'prod');
    // One identity serves two services: the port picks.
    assert.equal(
      resolve({ ip: '10.10.1.11' }, { ip: '10.10.2.3', port: 9443 }).destination.service,
      'orders-admin',
    );
    assert.equal(resolve({ ip: '2001:db8:30::7' }, { ip: '10.10.2.3', port: 8443 }).source.zone, 'dev');
  });

  test('unknown endpoints stay visible: no identity, no service, zone unknown', () => {
    const r = resolve({ ip: '10.99.4.17' }, { ip: '10.99.0.1', port: 22 });
    assert.equal(r.source.spiffeId, undefined);
    assert.equal(r.source.zone, 'unknown');
    assert.equal(r.destination.service, undefined);
    assert.equal(r.destination.zone, 'unknown');
    // A zone, but no inventory entry.
    assert.equal(resolve({ ip: '10.10.5.5' }, { service: 'orders' }).source.spiffeId, undefined);
  });

  test('ambiguous and offboarded addresses resolve to nobody; what the record says wins', () => {
    assert.deepEqual(resolver.ambiguousAddresses, ['10.10.9.1/32']);
    assert.equal(resolve({ ip: '10.10.9.1' }, { service: 'orders' }).source.spiffeId, undefined);
    assert.equal(resolve({ ip: '10.10.7.7' }, { service: 'orders' }).source.spiffeId, undefined);
    const r = resolve({ ip: '10.10.1.10', zone: 'dev' }, { service: 'orders-db', zone: 'prod' });
    assert.equal(r.source.zone, 'dev');
    assert.equal(r.destination.zone, 'prod');
    // Without an address, the inventory entry's zone places the caller.
    assert.equal(
      resolve({ spiffeId: 'spiffe://shop.example/ns/ops/sa/cron' }, { service: 'orders' }).source.zone,
      'prod',
    );
  });

  test('a service name the policy does not declare is kept, but the destination is an undeclared endpoint', () => {
    const ghost = resolve({ ip: '10.10.1.10' }, { ip: '10.11.0.9', service: 'ghost', port: 8443 });
    assert.equal(ghost.destination.service, 'ghost');
    // Placed by its address, as any undeclared endpoint, not in a zone of its own.
    assert.equal(ghost.destination.zone, 'data');
    assert.equal(declaredServiceOf(ghost, resolver.declaredServices), undefined);
    assert.equal(resolve({ ip: '10.10.1.10' }, { service: 'ghost' }).destination.zone, 'unknown');
    const orders = resolve({ ip: '10.10.1.10' }, { service: 'orders' });
    assert.equal(declaredServiceOf(orders, resolver.declaredServices), 'orders');
    assert.deepEqual([...declaredServiceNames([POLICY])].sort(), ['orders', 'orders-admin', 'orders-db']);
  });

  test('ingest counts a destination naming an undeclared service among those that are no declared service', () => {
    const line = (destination: string) =>
      `{"v":1,"time":"2026-11-20T10:00:00Z","source":{"ip":"10.10.1.10"},"destination":${destination},"protocol":"tcp"}`;
    const lines = [
      line('{"service":"orders","port":8443}'),
      line('{"service":"ghost","port":8443}'),
      line('{"ip":"10.99.0.1","port":53}'),
    ];
    const resolved = ingestFlowLines(lines, createFlowFormatParser(), {
      resolver: new EndpointResolver(POLICY, INVENTORY),
    });
    assert.equal(resolved.report.unknownDestinations, 2);
    assert.equal(resolved.records[1]!.destination.service, 'ghost');
    // Without a policy nothing says what is declared: a named service is taken at its word.
    assert.equal(ingestFlowLines(lines, createFlowFormatParser()).report.unknownDestinations, 1);
  });
});
