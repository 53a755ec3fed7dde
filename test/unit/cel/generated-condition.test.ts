/**
 * Conditions of the common shapes run as one generated function each
 * (src/core/policy/cel/generated-condition.ts). They must answer exactly as
 * the closures they stand for, which the differential test holds to cel-js:
 * the same result, error messages included, on random activations and on
 * objects no JSON body makes (maps, getters, proxies, inherited keys).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  compileCondition,
  isConditionError,
  type ConditionActivation,
} from '../../../src/core/policy/cel/index.js';
import { activation } from './grammar.js';
import { outcome, reference } from './outcome.js';

const KEYS = ['a', 'b', 'risk', 'mtls', 'l', 'm', 's', 'n'];
const path = fc.oneof(
  fc.constantFrom(...KEYS).map((k) => `context.${k}`),
  fc.constantFrom(...KEYS).map((k) => `context["${k}"]`),
  fc.constantFrom('source.ip', 'source.zone', 'destination.port', 'action.method', 'credential.ageSeconds'),
  fc.tuple(fc.constantFrom(...KEYS), fc.constantFrom(...KEYS)).map(([a, b]) => `context.${a}.${b}`),
  fc.tuple(fc.constantFrom(...KEYS), fc.constantFrom(...KEYS)).map(([a, b]) => `context["${a}"].${b}`),
  fc.constantFrom('source.labels.env', 'source.labels["team"]'),
);
const number = fc.oneof(
  fc.integer({ min: -3, max: 12 }).map(String),
  fc.constantFrom('0.0', '1.5', '-2.5', '1e3'),
);
const literal = fc.constantFrom('"prod"', '""', '"10.3.4.5"', '"GET"', 'true', 'false', 'null');
const list = fc.oneof(
  fc.array(fc.integer({ min: -1, max: 6 }), { minLength: 1, maxLength: 4 }).map((l) => `[${l.join(', ')}]`),
  fc
    .array(fc.constantFrom('"a"', '"prod"', '"GET"', '"x"'), { minLength: 1, maxLength: 3 })
    .map((l) => `[${l.join(', ')}]`),
);
const leaf = fc.oneof(
  fc.tuple(path, fc.constantFrom('<', '<=', '>', '>='), number).map(([p, op, n]) => `${p} ${op} ${n}`),
  fc.tuple(number, fc.constantFrom('<', '>='), path).map(([n, op, p]) => `${n} ${op} ${p}`),
  fc.tuple(path, fc.constantFrom('==', '!='), literal).map(([p, op, v]) => `${p} ${op} ${v}`),
  fc.tuple(literal, path).map(([v, p]) => `${v} == ${p}`),
  fc.tuple(path, list).map(([p, l]) => `${p} in ${l}`),
  fc
    .tuple(fc.constantFrom('10.0.0.0/8', '10.3.0.0/16', '::/0', '2001:db8::/32'), path)
    .map(([c, p]) => `cidr("${c}").containsIP(${p})`),
);
const condition = fc.oneof(
  leaf,
  fc
    .tuple(fc.constantFrom(' && ', ' || '), fc.array(leaf, { minLength: 2, maxLength: 5 }))
    .map(([op, ls]) => ls.join(op)),
);

/** Objects an activation built in code may hold where JSON would give a plain object. */
function unusualContexts(): unknown[] {
  const withGetter = {};
  Object.defineProperty(withGetter, 'risk', { get: () => 3, enumerable: true });
  const nullPrototype = Object.assign(Object.create(null) as object, { risk: 3, mtls: true, s: 'prod' });
  return [
    new Map([['risk', 3]]),
    withGetter,
    nullPrototype,
    { constructor: 'x', risk: 3 },
    Object.create({ risk: 3, mtls: true, a: { b: 3, s: 'prod' } }) as object,
    { a: Object.create({ b: 3, s: 'prod' }) as object },
    new Proxy(
      { risk: 3 },
      {
        get: () => {
          throw new Error('a trap');
        },
      },
    ),
    [3],
    'a string',
    null,
    undefined,
    { risk: 3n, mtls: new Date(0), s: ['prod'], n: { a: 1 }, m: Number.NaN, l: Number.POSITIVE_INFINITY },
  ];
}

function agree(source: string, act: ConditionActivation): void {
  const generated = compileCondition(source);
  const closures = compileCondition(source, { generate: false });
  assert.equal(generated.generated, true, `\`${source}\` got no generated function`);
  assert.equal(closures.generated, false);
  const want = closures.evaluate(act);
  assert.deepEqual(generated.evaluate(act), want, `\`${source}\``);
}

describe('generated condition functions', () => {
  test('answer as the closures and cel-js on random conditions and activations', () => {
    fc.assert(
      fc.property(condition, fc.array(activation, { minLength: 4, maxLength: 4 }), (source, acts) => {
        for (const act of acts) {
          agree(source, act);
          assert.equal(outcome(compileCondition(source).evaluate(act)), reference(source, act), source);
        }
      }),
      { numRuns: 1500 },
    );
  });

  test('answer as the closures on maps, getters, proxies, inherited and exotic values', () => {
    const contexts = unusualContexts();
    fc.assert(
      fc.property(condition, activation, fc.constantFrom(...contexts.keys()), (source, act, i) => {
        agree(source, { ...act, context: contexts[i] } as unknown as ConditionActivation);
      }),
      { numRuns: 1500 },
    );
  });

  test('a key on a polluted Object.prototype is not read as the request’s', () => {
    const proto = Object.prototype as Record<string, unknown>;
    proto.risk = 1;
    try {
      for (const source of ['context.risk < 5', 'context.mtls == true && context.risk < 5']) {
        const act = { context: { mtls: true } } as unknown as ConditionActivation;
        agree(source, act);
        assert.equal(isConditionError(compileCondition(source).evaluate(act)), true, source);
      }
    } finally {
      delete proto.risk;
    }
  });

  test('other shapes keep the closures', () => {
    for (const source of [
      'context.a.b == 1',
      'context.a.b.c.d.e == "x"',
      'destination.port == 443',
      'context.risk < 5 && (context.mtls || context.n > 1)',
      'size(context.s) > 1',
      'context.__proto__ == "x"',
    ]) {
      assert.equal(compileCondition(source).generated, false, source);
    }
  });
});
