/**
 * Random CEL conditions and activations for the differential tests: a grammar
 * over the closure compiler's subset, well-typed or not (cel-js accepts many
 * ill-typed expressions at check time because fields of maps are `dyn`), and
 * activations shaped like the engine's, with missing keys, mixed numbers and
 * values of every JSON kind.
 */
import fc from 'fast-check';
import type { ConditionActivation } from '../../../src/core/policy/cel/index.js';

const KEYS = ['a', 'b', 'risk', 'mtls', 'l', 'm', 's', 'n'] as const;
const STRINGS = [
  '',
  'a',
  'ab',
  'prod',
  'dev',
  '10.1.2.3',
  '10.3.0.9',
  '::1',
  '2001:db8::1',
  '::ffff:10.1.2.3',
  '10.0.0.0/8',
  'x',
];
const IPS = [
  '10.3.4.5',
  '10.4.0.1',
  '192.168.1.1',
  '2001:db8::1',
  '::ffff:10.3.0.1',
  '::1',
  '10.3.4.256',
  'not an ip',
  '010.3.0.1',
];

const key = fc.constantFrom(...KEYS);
const str = (s: string): string => JSON.stringify(s);

/** References into the activation: all of static type `dyn`. */
const reference: fc.Arbitrary<string> = fc.oneof(
  key.map((k) => `context.${k}`),
  key.map((k) => `context[${str(k)}]`),
  fc.tuple(key, key).map(([a, b]) => `context.${a}.${b}`),
  fc.tuple(key, fc.integer({ min: -1, max: 3 })).map(([k, i]) => `context.${k}[${i}]`),
  fc.constantFrom(
    'source.labels.env',
    'source.labels["team"]',
    'source.ip',
    'source.zone',
    'destination.port',
    'credential.ageSeconds',
    'credential.issuedAt',
    'action.method',
  ),
);

const intLiteral = fc.integer({ min: -3, max: 12 }).map(String);
const doubleLiteral = fc.constantFrom('0.0', '1.5', '-2.5', '3.0', '1e3', '0.5');
const uintLiteral = fc.constantFrom('0u', '1u', '7u');
const stringLiteral = fc.constantFrom(...STRINGS).map(str);
const boolLiteral = fc.constantFrom('true', 'false');

const literal = fc.oneof(
  intLiteral,
  doubleLiteral,
  uintLiteral,
  stringLiteral,
  boolLiteral,
  fc.constant('null'),
);

const listLiteral = fc
  .oneof(
    fc.array(intLiteral, { maxLength: 4 }),
    fc.array(stringLiteral, { maxLength: 3 }),
    fc.array(doubleLiteral, { maxLength: 3 }),
    fc.array(reference, { minLength: 1, maxLength: 2 }),
  )
  .map((items) => `[${items.join(', ')}]`);

const nonEmptyList = fc
  .oneof(
    fc.array(intLiteral, { minLength: 1, maxLength: 3 }),
    fc.array(stringLiteral, { minLength: 1, maxLength: 3 }),
    fc.array(reference, { minLength: 1, maxLength: 2 }),
  )
  .map((items) => `[${items.join(', ')}]`);

const paren = (s: string): string => `(${s})`;

// Literal arguments of ip() and containsIP() are checked at compile time: the grammar keeps them valid.
const ipArgument = fc.oneof(
  reference,
  fc.constantFrom('10.3.4.5', '2001:db8::1', '::ffff:10.3.0.1', '10.4.0.1').map(str),
  intLiteral,
);
const depth = { maxDepth: 3, depthIdentifier: 'cel' } as const;

// A type alias, not an interface: fc.letrec's typed overload wants a Record.
type Grammar = {
  any: string;
  map: string;
  num: string;
  str: string;
  bool: string;
  list: string;
};

const grammar = fc.letrec<Grammar>((tie) => ({
  any: fc.oneof(
    depth,
    fc.oneof(reference, literal),
    tie('num'),
    tie('str'),
    tie('bool'),
    tie('list'),
    tie('map'),
  ),
  map: fc.oneof(
    depth,
    fc.constantFrom('context', 'source.labels', 'context.m'),
    fc
      .array(fc.tuple(key, tie('any')), { minLength: 1, maxLength: 2 })
      .map((entries) => `{${entries.map(([k, v]) => `${str(k)}: ${v}`).join(', ')}}`),
  ),
  num: fc.oneof(
    depth,
    fc.oneof(reference, intLiteral, doubleLiteral),
    fc
      .tuple(tie('num'), fc.constantFrom('+', '-', '*', '/', '%'), tie('num'))
      .map(([a, op, b]) => paren(`${a} ${op} ${b}`)),
    tie('any').map((x) => `size(${x})`),
    tie('str').map((x) => `${paren(x)}.size()`),
    fc.constantFrom('int', 'double', 'uint', 'dyn').chain((f) => tie('any').map((x) => `${f}(${x})`)),
    tie('map').map((m) => `${m}.size()`),
    // Not an element of `[]`: cel-js types it with a type parameter, which the closures leave to cel-js.
    fc
      .tuple(fc.oneof(nonEmptyList, reference), fc.integer({ min: -1, max: 2 }))
      .map(([l, i]) => `${paren(l)}[${i}]`),
    fc
      .constantFrom('getHours', 'getMinutes', 'getDayOfWeek', 'getFullYear', 'getDayOfMonth')
      .map((m) => `time.${m}()`),
    fc.constantFrom('getHours', 'getMinutes').map((m) => `credential.issuedAt.${m}()`),
    tie('num').map((x) => `-${paren(x)}`),
    fc.constantFrom('cidr("10.0.0.0/8").prefixLength()', 'ip("::1").family()'),
  ),
  str: fc.oneof(
    depth,
    fc.oneof(reference, stringLiteral),
    tie('any').map((x) => `string(${x})`),
    fc.tuple(tie('str'), tie('str')).map(([a, b]) => paren(`${a} + ${b}`)),
  ),
  bool: fc.oneof(
    depth,
    fc.oneof(reference, boolLiteral),
    fc
      .tuple(tie('num'), fc.constantFrom('<', '<=', '>', '>=', '==', '!='), tie('num'))
      .map(([a, op, b]) => paren(`${a} ${op} ${b}`)),
    fc
      .tuple(tie('any'), fc.constantFrom('==', '!=', '<', '>='), tie('any'))
      .map(([a, op, b]) => paren(`${a} ${op} ${b}`)),
    fc
      .tuple(tie('bool'), fc.constantFrom('&&', '||'), tie('bool'))
      .map(([a, op, b]) => paren(`${a} ${op} ${b}`)),
    tie('bool').map((x) => `!${paren(x)}`),
    fc.tuple(tie('bool'), tie('any'), tie('any')).map(([c, t, f]) => paren(`${c} ? ${t} : ${f}`)),
    fc.tuple(tie('any'), tie('list')).map(([x, l]) => paren(`${x} in ${l}`)),
    fc
      .tuple(tie('any'), fc.constantFrom('context', 'source.labels', 'context.m', 'context.a'))
      .map(([x, m]) => paren(`${x} in ${m}`)),
    fc
      .constantFrom('context', 'source', 'source.labels', 'credential')
      .chain((v) =>
        fc.array(key, { minLength: 1, maxLength: 2 }).map((ks) => `has(${[v, ...ks].join('.')})`),
      ),
    fc
      .tuple(tie('str'), fc.constantFrom('startsWith', 'endsWith', 'contains'), tie('str'))
      .map(([s, m, p]) => `${paren(s)}.${m}(${p})`),
    fc
      .tuple(tie('str'), fc.constantFrom('^a', 'b$', '^[a-z]+$', '10\\\\.', 'a|b', '^(ab)+$', '.*'))
      .map(([s, re]) => `${paren(s)}.matches("${re}")`),
    fc
      .tuple(fc.constantFrom('10.3.0.0/16', '10.0.0.0/8', '2001:db8::/32', '0.0.0.0/0', '::/0'), ipArgument)
      .map(([c, x]) => `cidr(${str(c)}).containsIP(${x})`),
    fc.tuple(fc.constantFrom('isIP', 'isCIDR', 'bool'), tie('any')).map(([f, x]) => `${f}(${x})`),
    reference.map((x) => `cidr(${x}).containsIP("10.3.4.5")`),
    fc
      .tuple(tie('map'), fc.constantFrom('a', 'env', 'risk'))
      .map(([m, k]) => paren(`${m}.${k} == ${m}[${str(k)}]`)),
    ipArgument.map((x) => `ip(${x}) == ip("10.3.4.5")`),
    fc.constantFrom(
      'time < timestamp("2025-06-01T00:00:00Z")',
      'time - credential.issuedAt > duration("1h")',
      'credential.issuedAt + duration("30m") < time',
      'time.getDayOfWeek() in [1, 2, 3, 4, 5]',
      'cidr("10.0.0.0/8").containsCIDR("10.3.0.0/16")',
    ),
  ),
  list: fc.oneof(
    depth,
    fc.oneof(listLiteral, reference),
    fc.tuple(tie('any'), tie('any')).map(([a, b]) => `[${a}, ${b}]`),
    fc.tuple(tie('list'), tie('list')).map(([a, b]) => paren(`${a} + ${b}`)),
  ),
}));

/** A condition: mostly bool-ish, sometimes anything (to cover non-bool results and type errors). */
export const expression: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: grammar.bool, weight: 4 },
  { arbitrary: grammar.any, weight: 1 },
);

const scalar = fc.oneof(
  fc.integer({ min: -2, max: 12 }),
  fc.constantFrom(0.5, 1.5, -2.5, 3, -0, 1e21, 4294967296),
  fc.constantFrom(...STRINGS),
  fc.boolean(),
  fc.constant(null),
);

const { json } = fc.letrec<{ json: unknown }>((tie) => ({
  json: fc.oneof(
    { maxDepth: 2, depthIdentifier: 'json' },
    scalar,
    fc.array(tie('json'), { maxLength: 3 }),
    fc.dictionary(key, tie('json'), { maxKeys: 3 }),
  ),
}));

/** Rare values that JSON cannot carry but an activation built in code can. */
const exotic = fc.constantFrom<unknown>(Number.NaN, Number.POSITIVE_INFINITY, { constructor: 'x' }, [
  undefined,
]);

const date = fc.date({
  min: new Date('2020-01-01T00:00:00Z'),
  max: new Date('2030-12-31T23:59:59Z'),
  noInvalidDate: true,
});

export const activation: fc.Arbitrary<ConditionActivation> = fc
  .record({
    context: fc.record(
      Object.fromEntries(
        KEYS.map((k) => [
          k,
          fc.oneof(
            { arbitrary: scalar, weight: 10 },
            { arbitrary: json, weight: 10 },
            { arbitrary: exotic, weight: 1 },
          ),
        ]),
      ) as Record<(typeof KEYS)[number], fc.Arbitrary<unknown>>,
      { requiredKeys: [] },
    ),
    labels: fc.dictionary(fc.constantFrom('env', 'team'), fc.constantFrom(...STRINGS), { maxKeys: 2 }),
    ip: fc.option(fc.constantFrom(...IPS), { nil: undefined }),
    port: fc.option(fc.oneof(fc.constantFrom(443, 8080), fc.integer({ min: 0, max: 12 })), {
      nil: undefined,
    }),
    issuedAt: fc.option(date, { nil: undefined }),
    ageSeconds: fc.option(fc.double({ min: 0, max: 1e5, noNaN: true }), { nil: undefined }),
    time: date,
  })
  .map(({ context, labels, ip, port, issuedAt, ageSeconds, time }) => {
    const source: Record<string, unknown> = {
      spiffeId: 'spiffe://acme/ns/prod/sa/web',
      trustDomain: 'acme',
      path: '/ns/prod/sa/web',
      labels,
      zone: 'prod',
    };
    if (ip !== undefined) source.ip = ip;
    const credential: Record<string, unknown> = { type: 'jwt-svid' };
    if (issuedAt !== undefined) credential.issuedAt = issuedAt;
    if (ageSeconds !== undefined) credential.ageSeconds = ageSeconds;
    const destination: Record<string, unknown> = { service: 'orders', zone: 'prod' };
    if (port !== undefined) destination.port = port;
    return {
      source,
      credential,
      destination,
      action: { method: 'GET', path: '/orders', operation: 'read' },
      context,
      time,
    } as unknown as ConditionActivation;
  });
