import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { planKeyRotation, type RotationAction } from '../../../src/core/identity/index.js';
import type { StoredSigningKey } from '../../../src/core/identity/signing-key.js';

const HOUR = 3600;
const DAY = 24 * HOUR;
const T0 = Date.parse('2026-01-01T00:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();
const OPTIONS = {
  use: 'jwt-svid' as const,
  alg: 'ES256' as const,
  activeLifetimeSeconds: DAY,
  prepublishSeconds: HOUR,
};

function key(kid: string, fields: Partial<StoredSigningKey>): StoredSigningKey {
  return {
    kid,
    use: 'jwt-svid',
    alg: 'ES256',
    state: 'next',
    publicJwk: {},
    privateKey: '',
    createdAt: iso(T0),
    ...fields,
  };
}

/**
 * A tiny control plane on a fake clock: plans, applies the actions the way
 * the store would, and lets "issuance" extend the active key's signedUntil.
 */
class Simulation {
  keys: StoredSigningKey[] = [];
  now = T0;
  private counter = 0;
  readonly log: string[] = [];

  step(options: Partial<typeof OPTIONS> & { force?: boolean } = {}): RotationAction[] {
    const actions = planKeyRotation(this.keys, { ...OPTIONS, ...options, now: this.now });
    for (const a of actions) {
      this.log.push(`${iso(this.now)} ${a.type}${'kid' in a ? ` ${a.kid}` : ''}`);
      if (a.type === 'create-next') {
        this.keys.push(key(`k${++this.counter}`, { createdAt: iso(this.now), alg: a.alg, use: a.use }));
      } else if (a.type === 'activate') {
        this.update(a.kid, { state: 'active', activatedAt: iso(this.now) });
      } else if (a.type === 'retire') {
        this.update(a.kid, { state: 'retired', retiredAt: iso(this.now) });
      } else {
        this.keys = this.keys.filter((k) => k.kid !== a.kid);
      }
    }
    return actions;
  }

  /** The active key signs a credential living `ttl` seconds. */
  issue(ttl: number): void {
    const active = this.keys.find((k) => k.state === 'active');
    assert.ok(active, 'an active key signs');
    this.update(active.kid, { signedUntil: iso(this.now + ttl * 1000) });
  }

  private update(kid: string, fields: Partial<StoredSigningKey>): void {
    this.keys = this.keys.map((k) => (k.kid === kid ? { ...k, ...fields } : k));
  }

  state(): string {
    return this.keys.map((k) => `${k.kid}:${k.state}`).join(' ');
  }
}

describe('planKeyRotation', () => {
  test('bootstrap: create a key, then activate it at once (nothing could sign otherwise)', () => {
    const sim = new Simulation();
    assert.deepEqual(
      sim.step().map((a) => a.type),
      ['create-next'],
    );
    assert.deepEqual(sim.step(), [{ type: 'activate', kid: 'k1', reason: 'no key is active' }]);
    assert.equal(sim.state(), 'k1:active');
    assert.deepEqual(sim.step(), []);
  });

  test('a full rotation with overlap on a fake clock', () => {
    const sim = new Simulation();
    sim.step();
    sim.step();
    // Nothing to do until prepublishSeconds before the end of the lifetime.
    sim.now = T0 + (DAY - HOUR) * 1000 - 1;
    assert.deepEqual(sim.step(), []);
    sim.now += 1;
    assert.deepEqual(
      sim.step().map((a) => a.type),
      ['create-next'],
    );
    assert.equal(sim.state(), 'k1:active k2:next');
    // The next key is published, but k1 keeps signing until its lifetime ends.
    sim.now = T0 + DAY * 1000 - 1;
    assert.deepEqual(sim.step(), []);
    sim.issue(300);
    sim.now += 1;
    const actions = sim.step();
    assert.deepEqual(
      actions.map((a) => [a.type, 'kid' in a ? a.kid : '']),
      [
        ['activate', 'k2'],
        ['retire', 'k1'],
      ],
    );
    assert.equal(sim.state(), 'k1:retired k2:active');
    // k1 stays published while what it signed is valid: issued 5 minutes before retirement.
    sim.now += 299_000;
    assert.deepEqual(sim.step(), []);
    sim.now += 1000;
    assert.deepEqual(
      sim.step().map((a) => [a.type, 'kid' in a ? a.kid : '']),
      [['delete', 'k1']],
    );
    assert.equal(sim.state(), 'k2:active');
  });

  test('INVARIANT: over a month of hourly runs a key is published prepublishSeconds before it signs', () => {
    const sim = new Simulation();
    sim.step();
    sim.step();
    for (let hour = 1; hour < 30 * 24; hour++) {
      sim.now = T0 + hour * HOUR * 1000 + 17_000;
      const before = new Map(sim.keys.map((k) => [k.kid, k]));
      for (const a of sim.step()) {
        if (a.type === 'activate') {
          const published = Date.parse(before.get(a.kid)!.createdAt);
          assert.ok(sim.now - published >= HOUR * 1000, `${a.kid} activated too early`);
        }
        if (a.type === 'delete') {
          // Deleted only once everything it signed expired.
          assert.ok(sim.now >= Date.parse(before.get(a.kid)!.signedUntil!), `${a.kid} deleted too early`);
        }
      }
      assert.equal(sim.keys.filter((k) => k.state === 'active').length, 1);
      assert.ok(sim.keys.length <= 3);
      sim.issue(600);
    }
    // 30 days of daily rotation, each key signing about a day.
    assert.ok(sim.log.filter((l) => l.includes('activate')).length >= 30, sim.log.join('\n'));
  });

  test('a late next key delays activation until it has been published long enough', () => {
    const keys = [
      key('old', { state: 'active', activatedAt: iso(T0) }),
      key('new', { createdAt: iso(T0 + (DAY + 10) * 1000) }),
    ];
    const at = (s: number) => planKeyRotation(keys, { ...OPTIONS, now: T0 + s * 1000 });
    assert.deepEqual(at(DAY + 20), []);
    assert.deepEqual(
      at(DAY + 10 + HOUR).map((a) => a.type),
      ['activate', 'retire'],
    );
  });

  test('force rotates now, creating a next key first when there is none', () => {
    const sim = new Simulation();
    sim.step();
    sim.step();
    sim.now += 60_000;
    assert.deepEqual(
      sim.step({ force: true }).map((a) => a.type),
      ['create-next'],
    );
    sim.now += 1000;
    assert.deepEqual(
      sim.step({ force: true }).map((a) => a.type),
      ['activate', 'retire'],
    );
    assert.equal(sim.state(), 'k1:retired k2:active');
  });

  test('half-applied rotations and foreign keys', () => {
    const keys = [
      key('a', { state: 'active', activatedAt: iso(T0) }),
      key('b', { state: 'active', activatedAt: iso(T0 + 1000) }),
      key('x', { use: 'x509-svid', state: 'retired' }),
      key('r', { state: 'retired', signedUntil: 'not a date' }),
    ];
    const actions = planKeyRotation(keys, { ...OPTIONS, now: T0 + 2000 });
    // The older of two active keys is retired; keys of the other use are left alone;
    // an unreadable signedUntil keeps a key published (the safe side).
    assert.deepEqual(
      actions.map((a) => [a.type, 'kid' in a ? a.kid : '']),
      [['retire', 'a']],
    );
  });

  test('retired keys that never signed are deleted', () => {
    const keys = [key('a', { state: 'active', activatedAt: iso(T0) }), key('r', { state: 'retired' })];
    assert.deepEqual(
      planKeyRotation(keys, { ...OPTIONS, now: T0 }).map((a) => [a.type, 'kid' in a ? a.kid : '']),
      [['delete', 'r']],
    );
  });

  test('the new key gets the requested algorithm and use', () => {
    const [action] = planKeyRotation([], { ...OPTIONS, use: 'x509-svid', alg: 'RS256', now: T0 });
    assert.deepEqual(action, {
      type: 'create-next',
      use: 'x509-svid',
      alg: 'RS256',
      reason: 'no key is active or waiting',
    });
  });

  test('refuses impossible settings', () => {
    assert.throws(() => planKeyRotation([], { ...OPTIONS, activeLifetimeSeconds: 0, now: T0 }), {
      code: 'request_invalid',
    });
    assert.throws(() => planKeyRotation([], { ...OPTIONS, prepublishSeconds: -1, now: T0 }), {
      code: 'request_invalid',
    });
  });
});
