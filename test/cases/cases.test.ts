import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compilePolicy } from '../../src/index.js';
import { policyDocumentFromObject, validatePolicy } from '../../src/core/policy/index.js';
import { fixedClock } from '../../src/core/ports.js';
import { referenceDecide } from '../reference/evaluate.js';
import { loadCases, mismatches } from './load-cases.js';

const cases = loadCases();

describe('decision cases (test/cases)', () => {
  test('there are cases for every semantic rule', () => {
    assert.ok(cases.length >= 60, `only ${cases.length} cases`);
  });
  for (const c of cases) {
    test(`${c.file}: ${c.note}`, () => {
      const result = validatePolicy(policyDocumentFromObject(c.policy));
      assert.deepEqual(
        result.errors.map((e) => `${e.path}: ${e.message}`),
        [],
      );
      const engine = compilePolicy(result.policy!, { clock: fixedClock(c.now), ids: false });
      const got = engine.decide(c.request) as unknown as Record<string, unknown>;
      assert.deepEqual(mismatches(got, c.want), [], `engine: ${JSON.stringify(got)}`);
      const ref = referenceDecide(result.policy!, c.request, { now: c.now }) as unknown as Record<
        string,
        unknown
      >;
      assert.deepEqual(mismatches(ref, c.want), [], `reference: ${JSON.stringify(ref)}`);
    });
  }
});
