import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { GatehouseError } from '../../../src/core/errors.js';
import {
  compileCondition,
  conditionEnvironment,
  type ConditionActivation,
} from '../../../src/core/policy/cel/index.js';
import { activation, expression } from './grammar.js';
import { outcome, reference } from './outcome.js';

/** Whether cel-js accepts the expression as a condition (it parses, checks, and may be a bool). */
function referenceAccepts(source: string): boolean {
  try {
    const checked = conditionEnvironment.check(source);
    return checked.valid && (checked.type === 'bool' || checked.type === 'dyn');
  } catch {
    return false;
  }
}

const ACTIVATIONS_PER_EXPRESSION = 6;

describe('closures against cel-js', () => {
  test('same answer on random conditions and activations, and always through the fast path', () => {
    let accepted = 0;
    let errors = 0;
    fc.assert(
      fc.property(
        expression,
        fc.array(activation, {
          minLength: ACTIVATIONS_PER_EXPRESSION,
          maxLength: ACTIVATIONS_PER_EXPRESSION,
        }),
        (source, acts) => {
          if (!referenceAccepts(source)) {
            assert.throws(
              () => compileCondition(source),
              (e: unknown) => e instanceof GatehouseError && e.code === 'cel_parse_error',
              `cel-js rejects \`${source}\` but compileCondition accepted it`,
            );
            return;
          }
          accepted++;
          const condition = compileCondition(source);
          assert.equal(condition.fastPath, true, `\`${source}\` fell back to cel-js`);
          for (const act of acts) {
            const want = reference(source, act);
            const got = outcome(condition.evaluate(act));
            if (got === 'error') errors++;
            assert.equal(got, want, `\`${source}\` on ${show(act)}`);
          }
        },
      ),
      { numRuns: 2500 },
    );
    // The grammar must mostly produce conditions cel-js accepts, and some that fail at run time.
    assert.ok(accepted > 1000, `only ${accepted} accepted conditions`);
    assert.ok(errors > 100, `only ${errors} evaluation errors`);
  });

  test('the error absorption of && and || holds for every combination', () => {
    const operands = ['true', 'false', 'context.missing', 'context.n', '(1 / 0 == 1)'];
    const act = { ...baseActivation(), context: { n: 1.5 } };
    for (const op of ['&&', '||']) {
      for (const l of operands) {
        for (const r of operands) {
          const source = `${l} ${op} ${r}`;
          const condition = compileCondition(source);
          assert.equal(outcome(condition.evaluate(act)), reference(source, act), source);
        }
      }
    }
  });
});

function baseActivation(): ConditionActivation {
  return {
    source: {
      spiffeId: 'spiffe://acme/x',
      trustDomain: 'acme',
      path: '/x',
      labels: {},
      zone: 'z',
      ip: '10.0.0.1',
    },
    credential: {
      type: 'jwt-svid',
      id: 'c',
      ageSeconds: 1,
      ttlSeconds: 1,
      issuedAt: new Date(0),
      expiresAt: new Date(1000),
    },
    destination: { service: 's', port: 443, zone: 'z' },
    action: { method: 'GET', path: '/', operation: 'read' },
    context: {},
    time: new Date(0),
  };
}

function show(act: ConditionActivation): string {
  return JSON.stringify(act, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));
}
