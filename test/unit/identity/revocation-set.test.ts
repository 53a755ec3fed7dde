import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Revocation } from '../../../src/core/identity/credential.js';
import { RevocationSet } from '../../../src/core/identity/index.js';
import { REVOCATION_EXPIRY_MARGIN_MS } from '../../../src/core/identity/revocation-set.js';

const at = (s: string) => `2026-01-01T00:${s}.000Z`;
const ID = 'spiffe://example.org/web';

describe('RevocationSet', () => {
  test('credential revocations cover that id only', () => {
    const set = new RevocationSet([{ target: 'credential', value: 'jti-1', revokedAt: at('00:00') }]);
    assert.ok(set.isRevoked({ id: 'jti-1', spiffeId: ID, issuedAt: at('10:00') }));
    assert.ok(!set.isRevoked({ id: 'jti-2', spiffeId: ID, issuedAt: at('00:00') }));
  });

  test('identity revocations cover credentials issued at or before revokedAt', () => {
    const set = new RevocationSet([{ target: 'identity', value: ID, revokedAt: at('05:00') }]);
    assert.ok(set.isRevoked({ id: 'a', spiffeId: ID, issuedAt: at('04:59') }));
    assert.ok(set.isRevoked({ id: 'b', spiffeId: ID, issuedAt: at('05:00') }));
    assert.ok(!set.isRevoked({ id: 'c', spiffeId: ID, issuedAt: at('05:01') }));
    assert.ok(!set.isRevoked({ id: 'd', spiffeId: 'spiffe://example.org/db', issuedAt: at('00:00') }));
    // Epoch milliseconds and Dates work as well as RFC 3339.
    assert.ok(set.isRevoked({ spiffeId: ID, issuedAt: Date.parse(at('04:00')) }));
    assert.ok(!set.isRevoked({ spiffeId: ID, issuedAt: new Date(at('06:00')) }));
    // An unknown or unreadable issue time cannot prove the credential is newer.
    assert.ok(set.isRevoked({ spiffeId: ID }));
    assert.ok(set.isRevoked({ spiffeId: ID, issuedAt: 'yesterday' }));
  });

  test('entry revocations cover the entry credentials issued before them', () => {
    const set = new RevocationSet([{ target: 'entry', value: 'ent_1', revokedAt: at('05:00') }]);
    assert.ok(set.isRevoked({ id: 'a', spiffeId: ID, entryId: 'ent_1', issuedAt: at('01:00') }));
    assert.ok(!set.isRevoked({ id: 'a', spiffeId: ID, entryId: 'ent_1', issuedAt: at('06:00') }));
    assert.ok(!set.isRevoked({ id: 'a', spiffeId: ID, issuedAt: at('01:00') }));
  });

  test('grant revocations cover every credential of the grant', () => {
    const set = new RevocationSet([{ target: 'grant', value: 'grt_1', revokedAt: at('05:00') }]);
    assert.ok(set.isRevoked({ id: 'a', spiffeId: ID, grantId: 'grt_1', issuedAt: at('09:00') }));
    assert.ok(!set.isRevoked({ id: 'a', spiffeId: ID, grantId: 'grt_2', issuedAt: at('01:00') }));
  });

  test('add takes effect at once; repeats fold; the later identity revocation wins', () => {
    const set = new RevocationSet();
    const c = { id: 'jti', spiffeId: ID, issuedAt: at('07:00') };
    assert.ok(!set.isRevoked(c));
    // `add` answers whether the set covers more than before.
    assert.equal(set.add({ target: 'identity', value: ID, revokedAt: at('05:00') }), true);
    assert.ok(!set.isRevoked(c));
    assert.equal(
      set.add({ target: 'identity', value: ID, revokedAt: at('08:00'), reason: 'compromised' }),
      true,
    );
    assert.equal(set.find(c)?.reason, 'compromised');
    assert.equal(set.add({ target: 'identity', value: ID, revokedAt: at('06:00') }), false);
    assert.equal(set.add({ target: 'identity', value: ID, revokedAt: at('08:00') }), false);
    assert.ok(set.isRevoked(c));
    assert.equal(
      set.add({ target: 'credential', value: 'x', revokedAt: at('00:00'), reason: 'first' }),
      true,
    );
    assert.equal(
      set.add({ target: 'credential', value: 'x', revokedAt: at('01:00'), reason: 'second' }),
      false,
    );
    assert.equal(set.find({ id: 'x', spiffeId: 'spiffe://example.org/other' })?.reason, 'first');
    assert.equal(set.size, 2);
  });

  test('refuses bad revocations', () => {
    const set = new RevocationSet();
    assert.throws(() => set.add({ target: 'identity', value: ID, revokedAt: 'soon' }), {
      code: 'request_invalid',
    });
    assert.throws(
      () => set.add({ target: 'token', value: 'x', revokedAt: at('00:00') } as unknown as Revocation),
      {
        code: 'request_invalid',
      },
    );
    assert.throws(() => set.add({ target: 'credential', value: '', revokedAt: at('00:00') }), {
      code: 'request_invalid',
    });
  });

  test('answers in constant time for many revocations', () => {
    const set = new RevocationSet();
    for (let i = 0; i < 100_000; i++)
      set.add({ target: 'credential', value: `jti-${i}`, revokedAt: at('00:00') });
    const start = performance.now();
    for (let i = 0; i < 100_000; i++)
      set.isRevoked({ id: `other-${i}`, spiffeId: ID, issuedAt: at('01:00') });
    assert.ok(performance.now() - start < 1000);
    assert.ok(set.isRevoked({ id: 'jti-99999', spiffeId: ID }));
  });

  test('prune forgets the revocations past their expiry and the margin for clocks', () => {
    const expiring = (target: Revocation['target'], value: string, expiresAt: string): Revocation => ({
      target,
      value,
      revokedAt: at('00:00'),
      expiresAt,
    });
    const set = new RevocationSet([
      expiring('credential', 'jti-1', at('10:00')),
      expiring('grant', 'g1', at('20:00')),
      expiring('identity', ID, at('10:00')),
      expiring('entry', 'e1', at('30:00')),
      { target: 'credential', value: 'jti-forever', revokedAt: at('00:00') },
    ]);
    const margin = REVOCATION_EXPIRY_MARGIN_MS;
    assert.equal(set.prune(Date.parse(at('10:00')) + margin), 0, 'not before the margin has passed');
    assert.equal(set.prune(Date.parse(at('10:00')) + margin + 1), 2);
    assert.equal(set.size, 3);
    assert.ok(!set.isRevoked({ id: 'jti-1', spiffeId: 'spiffe://example.org/x' }));
    assert.ok(!set.isRevoked({ spiffeId: ID, issuedAt: at('00:00') }));
    assert.ok(set.isRevoked({ spiffeId: 'spiffe://example.org/x', grantId: 'g1' }));
    assert.equal(set.prune(Date.parse(at('59:00')) + margin), 2);
    assert.ok(set.isRevoked({ id: 'jti-forever', spiffeId: ID }));
    assert.equal(set.size, 1);
  });
});
