/**
 * Policy activations on a store shared by two servers (two policy managers
 * on one store): every activation is numbered by the store, a server takes
 * up only a later one than its own, and servers activating at once end on
 * the same policy, the last activation's, telling proxies its number.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { readPolicySources } from '../../../src/cli/policy-files.js';
import type { Clock } from '../../../src/core/ports.js';
import { parsePolicy, type PolicySourceText } from '../../../src/core/policy/index.js';
import type { DecisionService } from '../../../src/server/decision-service.js';
import { PolicyManager } from '../../../src/server/policy-manager.js';
import { openSqliteIdentityStore } from '../../../src/store/index.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const clock: Clock = { now: () => Date.parse('2026-12-07T12:00:00.000Z') };

/** The example policy with the description of the database zone changed to `text`. */
function variant(sources: PolicySourceText[], text: string): PolicySourceText[] {
  return sources.map((f) =>
    f.file.endsWith('00-estate.yaml') ? { ...f, text: f.text.replace('Production databases', text) } : f,
  );
}

test('servers activating at once end on the last activation, and take up only a later one than their own', async () => {
  const store = await openSqliteIdentityStore(':memory:');
  const sources = readPolicySources(['examples/acme/policy'], root);
  const events: string[] = [];
  const open = () =>
    PolicyManager.open({
      store,
      decisions: { swapPolicy() {} } as unknown as DecisionService,
      clock,
      ids: { id: () => 'id' },
      logger: { log: (_level, event) => events.push(event) },
      sources,
      policy: parsePolicy(sources),
    });
  const one = await open();
  const other = await open();
  assert.equal(one.published().activation, 1);
  assert.equal(other.published().activation, 2);
  // The same revision, activated again: nothing to swap, the number taken up.
  assert.equal(await one.follow(), undefined);
  assert.equal(one.published().activation, 2);
  assert.equal(await other.follow(), undefined, "its own activation is not another server's");

  for (let round = 0; round < 5; round++) {
    await Promise.all([
      one.upload(variant(sources, `Databases ${round} a`)),
      other.upload(variant(sources, `Databases ${round} b`)),
    ]);
    await Promise.all([one.follow(), other.follow()]);
    const latest = (await store.latestPolicyActivation())!;
    for (const server of [one, other]) {
      assert.equal(server.current().revision, latest.revision);
      assert.deepEqual(server.published(), { active: server.current(), activation: latest.n });
    }
  }
  assert.ok(events.includes('policy_followed'));
  await store.close();
});
