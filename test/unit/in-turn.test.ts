import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InTurn } from '../../src/core/in-turn.js';

test('runs one call at a time in call order, a failure not stopping the next', async () => {
  const turn = new InTurn();
  const events: string[] = [];
  const call = (name: string, ms: number, fail = false) =>
    turn.run(async () => {
      events.push(`start ${name}`);
      await new Promise((resolve) => setTimeout(resolve, ms));
      events.push(`end ${name}`);
      if (fail) throw new Error(name);
      return name;
    });
  const results = await Promise.allSettled([call('a', 20), call('b', 5, true), call('c', 1)]);
  assert.deepEqual(events, ['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
  assert.deepEqual(
    results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message)),
    ['a', 'b', 'c'],
  );
});

test('idle settles once every call so far has settled, and never rejects', async () => {
  const turn = new InTurn();
  let done = false;
  void turn
    .run(async () => {
      await new Promise((resolve) => setTimeout(resolve, 10));
      done = true;
      throw new Error('failed');
    })
    .catch(() => undefined);
  await turn.idle();
  assert.equal(done, true);
});
