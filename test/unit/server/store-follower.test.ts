/**
 * The store follower's rounds with stand-ins for the authority and the
 * policy manager: what it counts, that a failure of one half neither stops
 * the other nor the rounds after it, and that a stopped follower looks no more.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GatehouseError } from '../../../src/core/errors.js';
import { StoreFollower } from '../../../src/server/store-follower.js';

function logger() {
  const lines: { level: string; msg: string; fields: Record<string, unknown> }[] = [];
  return {
    lines,
    log(level: string, msg: string, fields: Record<string, unknown> = {}) {
      lines.push({ level, msg, fields });
    },
  };
}

test('counts what each round took up, and a failing half neither stops the other nor later rounds', async () => {
  const answers: ({ revocations: number; keys: boolean } | Error)[] = [
    { revocations: 2, keys: false },
    new GatehouseError('store_error', 'cannot list revocations: connection refused'),
    { revocations: 0, keys: true },
  ];
  const policies: (string | undefined | Error)[] = [undefined, 'sha256:abc', new Error('no policy version')];
  const log = logger();
  const follower = new StoreFollower(
    {
      refreshFromStore: async () => {
        const next = answers.shift()!;
        if (next instanceof Error) throw next;
        return next;
      },
    },
    {
      follow: async () => {
        const next = policies.shift();
        if (next instanceof Error) throw next;
        return next;
      },
    },
    log,
    { now: () => Date.now() },
  );
  for (let i = 0; i < 3; i++) await follower.round();
  assert.deepEqual(follower.stats(), { rounds: 3, failures: 2, revocations: 2, keyChanges: 1, policies: 1 });
  assert.deepEqual(
    log.lines.map((l) => [l.level, l.msg, l.fields['what']]),
    [
      ['info', 'store_followed', undefined],
      ['error', 'store_follow_failed', 'identity'],
      ['info', 'store_followed', undefined],
      ['error', 'store_follow_failed', 'policy'],
    ],
  );
});

test('runs rounds on its interval until stopped, never two at once', async () => {
  let running = 0;
  let most = 0;
  let rounds = 0;
  const follower = new StoreFollower(
    {
      refreshFromStore: async () => {
        running++;
        most = Math.max(most, running);
        rounds++;
        await new Promise((resolve) => setTimeout(resolve, 30));
        running--;
        return { revocations: 0, keys: false };
      },
    },
    { follow: async () => undefined },
    logger(),
    { now: () => Date.now() },
  );
  follower.start(5);
  await new Promise((resolve) => setTimeout(resolve, 200));
  await follower.stop();
  const after = rounds;
  assert.ok(after >= 2, `${after} rounds`);
  assert.equal(most, 1);
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(rounds, after);
});

test("tells /readyz when it has not taken up the others' changes for ten intervals, at least 10 s", async () => {
  let now = 1_000_000;
  let failing = false;
  const follower = new StoreFollower(
    {
      refreshFromStore: async () => {
        if (failing) throw new Error('connection refused');
        return { revocations: 0, keys: false };
      },
    },
    { follow: async () => undefined },
    logger(),
    { now: () => now },
  );
  assert.equal(follower.problem(), undefined, 'not started: nothing to say');
  follower.start(60_000);
  now += 10_000;
  assert.equal(follower.problem(), undefined);
  failing = true;
  await follower.round();
  now += 590_001;
  assert.match(follower.problem() ?? '', /not taken up for 600 s/);
  failing = false;
  await follower.round();
  assert.equal(follower.problem(), undefined);
  await follower.stop();
});
