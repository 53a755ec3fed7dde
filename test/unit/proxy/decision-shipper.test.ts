/**
 * The proxy's decision shipper against a real control plane (in process,
 * in-memory SQLite): a malformed record is dropped alone and counted, the
 * rest of its batch is written.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createApp, type App } from '../../../src/app.js';
import type { UnchainedRecord } from '../../../src/core/log/hash-chain.js';
import { controlPlaneClient } from '../../../src/proxy/control-plane-client.js';
import { DecisionShipper } from '../../../src/proxy/decision-shipper.js';
import type { Logger } from '../../../src/server/logger.js';
import { decisionBody } from '../../contract/decision-log.contract.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
let app: App;

before(async () => {
  app = await createApp(
    { host: '127.0.0.1', port: 0, db: ':memory:', policy: ['examples/acme/policy'], cwd: root },
    { logger: { log() {} } },
  );
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
  assert.deepEqual(shipper.stats(), { buffered: 0, shipped: 2, dropped: 1 });
  const refused = events.find((e) => e.event === 'decision_records_refused');
  assert.equal(refused?.fields.records, 1);
  assert.match(String(refused?.fields.error), /invalid record 1: decision/);

  const res = await fetch(`${app.url}/v1/decisions?service=orders&limit=10`, {
    headers: { authorization: `Bearer ${app.createdAdminSecret}` },
  });
  const { decisions } = (await res.json()) as { decisions: { decisionId: string }[] };
  assert.deepEqual(decisions.map((d) => d.decisionId).sort(), ['dec_10', 'dec_2']);
});
