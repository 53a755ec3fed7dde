/**
 * The proxy's decision shipper against a real control plane (in process,
 * in-memory SQLite): a malformed record is dropped alone and counted, the
 * rest of its batch is written; with a spool, what one shipper could not
 * ship the next one does.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createApp, type App } from '../../../src/app.js';
import type { UnchainedRecord } from '../../../src/core/log/hash-chain.js';
import { controlPlaneClient } from '../../../src/proxy/control-plane-client.js';
import { DecisionShipper } from '../../../src/proxy/decision-shipper.js';
import type { Logger } from '../../../src/server/logger.js';
import { decisionBody } from '../../contract/decision-log.contract.js';
import { inProcessApp } from '../../support/in-process-app.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
let app: App;

before(async () => {
  app = await inProcessApp();
});
after(async () => {
  await app?.close();
});

/** A decision of the contract suite's made-up workload, as the orders proxy ships it (even `n`: orders, allowed). */
const record = (n: number, fields: Record<string, unknown> = {}): UnchainedRecord =>
  decisionBody(n, { via: 'proxy:orders', ...fields } as Partial<UnchainedRecord>);

test('a malformed record is dropped alone; the others of its batch are logged', async () => {
  const events: { event: string; fields: Record<string, unknown> }[] = [];
  const logger: Logger = { log: (_level, event, fields = {}) => events.push({ event, fields }) };
  const client = controlPlaneClient({ server: app.url, credential: () => app.createdAdminSecret });
  const shipper = new DecisionShipper({ client, logger });
  shipper.push(record(2));
  shipper.push(record(6, { decision: 'maybe' }));
  shipper.push(record(10));
  assert.equal(await shipper.stop(5000), 0, 'nothing left unsent');
  assert.deepEqual(shipper.stats(), { buffered: 0, shipped: 2, dropped: 1, unspooled: 0, recovered: 0 });
  const refused = events.find((e) => e.event === 'decision_records_refused');
  assert.equal(refused?.fields.records, 1);
  assert.match(String(refused?.fields.error), /invalid record 1: decision/);

  const res = await fetch(`${app.url}/v1/decisions?service=orders&limit=10`, {
    headers: { authorization: `Bearer ${app.createdAdminSecret}` },
  });
  const { decisions } = (await res.json()) as { decisions: { decisionId: string }[] };
  assert.deepEqual(decisions.map((d) => d.decisionId).sort(), ['dec_10', 'dec_2']);
});

test('with a spool, records a stopped shipper could not ship are shipped by the next, once', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-shipper-spool-'));
  const events: string[] = [];
  const logger: Logger = { log: (_level, event) => events.push(event) };
  try {
    // Nothing listens on port 9 of loopback: the control plane is away.
    const away = controlPlaneClient({ server: 'http://127.0.0.1:9', credential: () => 'x', timeoutMs: 500 });
    const first = new DecisionShipper({ client: away, logger, spoolDir: dir });
    for (const n of [12, 14, 16]) first.push(record(n));
    first.settle();
    assert.equal(await first.stop(300), 3, 'three left unsent');
    assert.deepEqual(readdirSync(dir).sort(), ['0000000000000000.jsonl'], 'kept on file, the lock released');

    const client = controlPlaneClient({ server: app.url, credential: () => app.createdAdminSecret });
    const second = new DecisionShipper({ client, logger, spoolDir: dir });
    assert.equal(second.stats().recovered, 3);
    assert.ok(events.includes('decision_spool_recovered'));
    second.push(record(18));
    assert.equal(await second.stop(5000), 0, 'all shipped');
    assert.deepEqual(second.stats(), { buffered: 0, shipped: 4, dropped: 0, unspooled: 0, recovered: 3 });

    const third = new DecisionShipper({ client, logger, spoolDir: dir });
    assert.equal(third.stats().recovered, 0, 'what was shipped is not shipped again');
    assert.equal(await third.stop(1000), 0);

    const res = await fetch(`${app.url}/v1/decisions?service=orders&limit=100`, {
      headers: { authorization: `Bearer ${app.createdAdminSecret}` },
    });
    const { decisions } = (await res.json()) as { decisions: { decisionId: string }[] };
    const ids = decisions.map((d) => d.decisionId);
    for (const id of ['dec_12', 'dec_14', 'dec_16', 'dec_18'])
      assert.equal(ids.filter((x) => x === id).length, 1, `${id} logged once`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('records sent again after a server restart are logged once: the server looks for a resent batch in its log', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-shipper-resend-'));
  const logger: Logger = { log() {} };
  const config = {
    host: '127.0.0.1',
    port: 0,
    db: join(dir, 'gatehouse.db'),
    policy: ['examples/acme/policy'],
    cwd: root,
  };
  let server: App | undefined;
  try {
    // Records a proxy could not ship, on file.
    const away = controlPlaneClient({ server: 'http://127.0.0.1:9', credential: () => 'x', timeoutMs: 500 });
    const first = new DecisionShipper({ client: away, logger, spoolDir: join(dir, 'spool') });
    for (const n of [20, 22, 24]) first.push(record(n));
    first.settle();
    assert.equal(await first.stop(300), 3);
    // The spool as it was before they were shipped: as a proxy killed before its cursor moved leaves it.
    cpSync(join(dir, 'spool'), join(dir, 'spool-before'), { recursive: true });

    server = await createApp(config, { logger });
    const secret = server.createdAdminSecret!;
    const client = () => controlPlaneClient({ server: server!.url, credential: () => secret });
    const second = new DecisionShipper({ client: client(), logger, spoolDir: join(dir, 'spool') });
    assert.equal(await second.stop(5000), 0, 'shipped');

    // The server restarts: it remembers no decision id; the spool from before is shipped again.
    await server.close();
    server = await createApp(config, { logger });
    const third = new DecisionShipper({ client: client(), logger, spoolDir: join(dir, 'spool-before') });
    assert.equal(third.stats().recovered, 3);
    third.push(record(26));
    assert.equal(await third.stop(5000), 0, 'shipped again');

    const res = await fetch(`${server.url}/v1/decisions?service=orders&limit=100`, {
      headers: { authorization: `Bearer ${secret}` },
    });
    const { decisions } = (await res.json()) as { decisions: { decisionId: string }[] };
    assert.deepEqual(decisions.map((d) => d.decisionId).sort(), ['dec_20', 'dec_22', 'dec_24', 'dec_26']);
  } finally {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('batches are cut by size under the server body limit; a record too large for it alone is dropped and counted', async () => {
  const events: { event: string; fields: Record<string, unknown> }[] = [];
  const logger: Logger = { log: (_level, event, fields = {}) => events.push({ event, fields }) };
  const client = controlPlaneClient({ server: app.url, credential: () => app.createdAdminSecret });
  // Records of about 7 KB (a long path): 500 of them, the count limit, are 3.5 MB, past the
  // server's 1 MiB. Sized by count, the first batch was refused (413) for ever, and all behind it.
  const shipper = new DecisionShipper({ client, logger });
  const long = (n: number) =>
    record(n, { action: { method: 'GET', path: `/orders/${'a'.repeat(7000)}${n}` } });
  for (let i = 0; i < 300; i++) shipper.push(long(1000 + 2 * i));
  // One record of 1.6 MB (many long rule ids) that no request under the limit can carry.
  shipper.push(record(2000, { rules: Array.from({ length: 200 }, (_, i) => `${'r'.repeat(8000)}${i}`) }));
  shipper.push(long(2002));
  assert.equal(await shipper.stop(20_000), 0, 'nothing left unsent');
  assert.deepEqual(shipper.stats(), { buffered: 0, shipped: 301, dropped: 1, unspooled: 0, recovered: 0 });
  const refused = events.find((e) => e.event === 'decision_records_refused');
  assert.equal(refused?.fields.records, 1);

  // A server that takes less than the batches are cut for: they are halved until they fit.
  const small = new DecisionShipper({ client, logger, maxBatchChars: 4 * 1024 * 1024 });
  for (let i = 0; i < 300; i++) small.push(long(3000 + 2 * i));
  assert.equal(await small.stop(20_000), 0);
  assert.equal(small.stats().shipped, 300);
  assert.ok(events.some((e) => e.event === 'decision_batch_too_large'));
});
