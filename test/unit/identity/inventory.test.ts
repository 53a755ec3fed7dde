import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { inventoryFromObject } from '../../../src/core/identity/inventory.js';

const base = { apiVersion: 'gatehouse.dev/v1', kind: 'Inventory', generatedAt: '2026-11-22T11:00:00Z' };
const entry = (spiffeId: string, extra: Record<string, unknown> = {}) => ({
  spiffeId,
  kind: 'service',
  owner: 'o',
  ...extra,
});
const problems = (doc: Record<string, unknown>) =>
  inventoryFromObject({ ...base, ...doc }).problems.map((p) => `${p.path}: ${p.message}`);

describe('inventory snapshot validation', () => {
  test('an entry id that is not a non-empty string is an error, not replaced silently', () => {
    assert.deepEqual(problems({ entries: [entry('spiffe://t.org/a', { id: 5 })] }), [
      'entries[0].id: must be a non-empty string',
    ]);
    assert.deepEqual(problems({ entries: [entry('spiffe://t.org/a', { id: '' })] }), [
      'entries[0].id: must be a non-empty string',
    ]);
  });

  test('two entries with one id are an error: credentials and targets name entries by id', () => {
    assert.deepEqual(
      problems({
        entries: [entry('spiffe://t.org/a', { id: 'e1' }), entry('spiffe://t.org/b', { id: 'e1' })],
      }),
      ['entries[1].id: `e1` is already held by entries[0]'],
    );
  });

  test('a JIT grant scope of the wrong type is an error', () => {
    const grant = {
      id: 'g1',
      entryId: 'e1',
      spiffeId: 'spiffe://t.org/a',
      task: 't',
      startedAt: '2026-11-22T10:00:00Z',
      expiresAt: '2026-11-22T12:00:00Z',
    };
    assert.deepEqual(
      problems({
        grants: [
          { ...grant, scope: { service: 's', methods: 'GET', paths: [5] } },
          { ...grant, id: 'g2', scope: { service: 's' }, endedAt: 'yesterday' },
        ],
      }),
      [
        'grants[0].scope.methods: must be a list of strings',
        'grants[0].scope.paths: must be a list of strings',
        'grants[1].endedAt: must be an RFC 3339 date-time',
      ],
    );
  });

  test('a valid snapshot has no problems', () => {
    const r = inventoryFromObject({
      ...base,
      entries: [entry('spiffe://t.org/a', { id: 'e1' }), entry('spiffe://t.org/b')],
      grants: [
        {
          id: 'g1',
          entryId: 'e1',
          spiffeId: 'spiffe://t.org/a',
          task: 't',
          scope: { service: 's', methods: ['GET'] },
          startedAt: '2026-11-22T10:00:00Z',
          expiresAt: '2026-11-22T12:00:00Z',
          endedAt: '2026-11-22T11:00:00Z',
        },
      ],
    });
    assert.deepEqual(r.problems, []);
    assert.deepEqual(r.inventory!.grants[0]!.scope, {
      service: 's',
      methods: ['GET'],
      paths: [],
      operations: [],
    });
  });
});
