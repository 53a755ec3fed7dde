import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { GatehouseError } from '../../../src/core/errors.js';
import {
  compileCondition,
  conditionEnvironment,
  isConditionError,
  type ConditionActivation,
  type ConditionResult,
} from '../../../src/core/policy/cel/index.js';

function activation(
  overrides: Partial<Record<keyof ConditionActivation, unknown>> = {},
): ConditionActivation {
  return {
    source: {
      spiffeId: 'spiffe://acme/x',
      trustDomain: 'acme',
      path: '/x',
      labels: { env: 'prod' },
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
    time: new Date('2024-01-15T14:30:45Z'),
    ...overrides,
  } as ConditionActivation;
}

/** cel-js's answer, in the same shape. */
function reference(source: string, act: unknown): boolean | 'error' {
  try {
    const r: unknown = conditionEnvironment.evaluate(source, act as Record<string, unknown>);
    return typeof r === 'boolean' ? r : 'error';
  } catch {
    return 'error';
  }
}

function plain(r: ConditionResult): boolean | 'error' {
  return isConditionError(r) ? 'error' : r;
}

describe('compileCondition', () => {
  test('keeps the source and reports the variables it reads', () => {
    const c = compileCondition('context.risk < 30 && time.getHours() >= 9');
    assert.equal(c.source, 'context.risk < 30 && time.getHours() >= 9');
    assert.equal(c.fastPath, true);
    assert.deepEqual([...c.variables].sort(), ['context', 'time']);
  });

  test('a macro variable that shadows a declared one is not a read of it', () => {
    assert.deepEqual([...compileCondition('[1, 2].all(context, context > 0)').variables], []);
    assert.deepEqual([...compileCondition('context.l.exists(x, x > time.getHours())').variables].sort(), [
      'context',
      'time',
    ]);
  });

  test('reports the keys of `source` it reads, when it reads it only by literal keys', () => {
    const keys = (e: string) => {
      const k = compileCondition(e).sourceKeys;
      return k === undefined ? undefined : [...k].sort();
    };
    assert.deepEqual(keys('context.risk < 30'), []);
    assert.deepEqual(keys('cidr("10.0.0.0/8").containsIP(source.ip) && source.zone == "prod"'), [
      'ip',
      'zone',
    ]);
    assert.deepEqual(keys('source["labels"]["team"] == "a" || has(source.path)'), ['labels', 'path']);
    assert.deepEqual(keys('source.labels.team == "a"'), ['labels']);
    assert.deepEqual(keys('[1].all(source, source > 0) && source.ip == "10.0.0.1"'), ['ip']);
    // Other reads of `source`: any key may be read.
    assert.equal(keys('size(source) > 2'), undefined);
    assert.equal(keys('source[context.key] == "x"'), undefined);
    assert.equal(keys('"spiffeId" in source'), undefined);
    assert.equal(keys('source.exists(k, k == "path")'), undefined);
    assert.equal(keys('source == {} || source.ip == "x"'), undefined);
  });

  test('a macro runs on cel-js with the same answers', () => {
    const c = compileCondition('[1, 2].all(x, x > 0) && context.l.exists(x, x == "b")');
    assert.equal(c.fastPath, false);
    assert.equal(c.evaluate(activation({ context: { l: ['a', 'b'] } })), true);
    assert.equal(c.evaluate(activation({ context: { l: ['a'] } })), false);
    assert.ok(isConditionError(c.evaluate(activation())));
  });

  test('errors are one-line values naming the problem', () => {
    const cases: [string, ConditionActivation, string][] = [
      ['context.mtls == true', activation(), 'no such key: mtls'],
      ['context.n', activation({ context: { n: 3 } }), 'condition returned double, not bool'],
      // The same through cel-js.
      ['context.l.map(x, x)[0]', activation({ context: { l: [1] } }), 'condition returned double, not bool'],
      ['context.l.exists(x, x)', activation(), 'no such key: l'],
    ];
    for (const [source, act, error] of cases) {
      const r = compileCondition(source).evaluate(act);
      assert.ok(isConditionError(r), source);
      assert.equal(r.error, error, source);
    }
  });

  test('rejects what does not parse, check or return a bool, in one line with the column', () => {
    const cases: [string, string][] = [
      ['context.risk <', 'invalid condition `context.risk <`: unexpected end of input at column 15'],
      ['contxt.risk < 30', 'unknown variable `contxt`'],
      ['context.risk + 1', 'invalid condition `context.risk + 1`: returns int, not bool'],
      ['"a" + 1 == "a1"', 'no such overload: string + int at column 1'],
      [
        'cidr("10.0.0.0/8").containsIP(source.ip) &&\n  cidr("10.0.0.0/40").containsIP(source.ip)',
        'at line 2, column 8',
      ],
    ];
    for (const [source, message] of cases) {
      assert.throws(
        () => compileCondition(source),
        (e: unknown) =>
          e instanceof GatehouseError &&
          e.code === 'cel_parse_error' &&
          e.message.includes(message) &&
          !e.message.includes('\n') &&
          !/[A-Z]/.test(e.message[0]!) &&
          !e.message.endsWith('.'),
        source,
      );
    }
  });

  test('rejects a non-string', () => {
    assert.throws(() => compileCondition(42 as unknown as string), GatehouseError);
  });

  test('never throws, whatever the activation holds', () => {
    const throwing = Object.defineProperty(activation(), 'context', {
      get() {
        throw new Error('boom');
      },
    });
    // A thrown value with no string form, on both sides of an absorbing ||.
    const strange = Object.defineProperty(activation(), 'source', {
      get() {
        throw Object.create(null) as object;
      },
    });
    for (const source of ['source.ip == "x" || context.x', 'context.x || source.ip == "x"']) {
      assert.equal(plain(compileCondition(source).evaluate(strange)), reference(source, strange), source);
    }
    const { evaluate } = compileCondition('context.risk < 30');
    assert.equal(plain(evaluate(activation({ context: { risk: 1 } }))), true, 'detached evaluate');
    for (const source of [
      'context.risk < 30',
      'context.l.all(x, x)',
      'context.x || true',
      'true || context.x',
    ]) {
      const c = compileCondition(source);
      assert.equal(plain(c.evaluate(throwing)), reference(source, throwing), source);
      const nothing = undefined as unknown as ConditionActivation;
      assert.equal(plain(c.evaluate(nothing)), reference(source, nothing), source);
    }
  });

  test('values outside the closures are handed to cel-js, which gives the answer', () => {
    const cases: [string, unknown][] = [
      // A Map is a CEL map to cel-js.
      ['context.risk < 30', activation({ context: new Map([['risk', 10]]) })],
      ['context.m.risk < 30', activation({ context: { m: new Map([['risk', 10]]) } })],
      // An own `constructor` key makes a map unsupported to cel-js.
      ['context.risk < 30', activation({ context: { constructor: 'x', risk: 10 } })],
      ['context.a.risk < 30', activation({ context: { a: { constructor: 1, risk: 10 } } })],
      // An invalid date.
      ['time < timestamp("2030-01-01T00:00:00Z")', activation({ time: new Date(Number.NaN) })],
      ['time.getHours() == 0 || true', activation({ time: new Date(Number.NaN) })],
      // A uint from code, not JSON.
      ['context.u == 1', activation({ context: { u: conditionEnvironment.evaluate('1u') } })],
      // Bytes.
      ['size(context.b) == 2', activation({ context: { b: new Uint8Array(2) } })],
      // A list whose first element cel-js cannot type.
      ['context.l == [1]', activation({ context: { l: [{ constructor: 1 }] } })],
      ['size(context.l) == 1', activation({ context: { l: [() => 1] } })],
      // A null-prototype object as a map key.
      ['context.k in context || true', activation({ context: { k: Object.create(null) as object } })],
    ];
    for (const [source, act] of cases) {
      const c = compileCondition(source);
      assert.equal(c.fastPath, true, source);
      assert.equal(plain(c.evaluate(act as ConditionActivation)), reference(source, act), source);
    }
  });

  test('a polluted Object.prototype does not answer for a request', () => {
    const proto = Object.prototype as Record<string, unknown>;
    proto.isAdmin = true;
    try {
      for (const source of ['context.isAdmin == true', 'has(context.isAdmin)', '"isAdmin" in context']) {
        const c = compileCondition(source);
        const act = activation({ context: {} });
        assert.equal(plain(c.evaluate(act)), reference(source, act), source);
        assert.notEqual(c.evaluate(act), true, source);
      }
    } finally {
      delete proto.isAdmin;
    }
  });
});
