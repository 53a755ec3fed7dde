/**
 * The activity collector gathers records in batches: whatever is read of it,
 * and whenever, must count every record added before the read, as if each
 * had been gathered on its own.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ActivityCollector } from '../../../../src/core/analysis/exposure/index.js';
import { acmeNow, acmeRecords } from './acme.js';

/** What a collector holds, as plain values. */
function snapshot(c: ActivityCollector) {
  const identities = [...c.identities.values()].map((a) => ({
    spiffeId: a.spiffeId,
    records: a.records,
    allowed: a.allowed,
    first: a.first,
    last: a.last,
    gaps: { ...a.gaps },
    hours: [...a.hours],
    services: [...a.services].map(([s, u]) => [s, u.requests, u.allowed, [...u.allowedAt]]),
    rules: [...a.permissionRules].map(([r, u]) => [
      r,
      u.count,
      [...u.services].map(([s, x]) => [s, [...x.methods].sort(), [...x.zones]]),
    ]),
  }));
  return { summary: c.summary(), identities };
}

test('reads in the middle of a log count every record added so far', () => {
  const records = acmeRecords();
  assert.ok(records.length > 100, 'enough records to fill several batches');
  const whole = new ActivityCollector({ until: acmeNow });
  const stepwise = new ActivityCollector({ until: acmeNow });
  for (let i = 0; i < records.length; i++) {
    whole.add(records[i]!);
    stepwise.add(records[i]!);
    // Reads at uneven points: one record in, in mid-batch, at a batch's end, and so on.
    if (i % 7 === 0 || i % 32 === 31) {
      const now = snapshot(stepwise);
      const counted = now.identities.reduce((n, a) => n + a.records, 0);
      assert.equal(counted + now.summary.skipped, i + 1, `every record is counted after record ${i + 1}`);
      const one = new ActivityCollector({ until: acmeNow });
      for (let k = 0; k <= i; k++) one.add(records[k]!);
      assert.deepEqual(now, snapshot(one), `after record ${i + 1}`);
    }
  }
  assert.deepEqual(snapshot(stepwise), snapshot(whole));
  assert.equal(whole.summary().records, records.length - whole.summary().skipped);
});
