/**
 * A policy file written as JSON is read by `JSON.parse` and located by a scan of its text
 * (src/core/policy/json-object.ts), not by the YAML parser. It must give what the YAML parser
 * gave: the same value, the same `file:line:col` for every path, the same errors.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { parsePolicyDocument, type PathSegment } from '../../../src/core/policy/parse.js';
import { hasRepeatedKey, parseJsonObject } from '../../../src/core/policy/json-object.js';
import { formatProblem, validatePolicy } from '../../../src/core/policy/index.js';
import { GatehouseError } from '../../../src/core/errors.js';

const key = fc.oneof(
  fc.constantFrom('a', 'b', 'zones', 'id', '__proto__', 'constructor', '0', '', 'é', 'a"b', 'a\\b', '\u2028'),
  fc.string({ maxLength: 6 }),
);
const leaf = fc.oneof(
  fc.string({ maxLength: 8 }),
  fc.constantFrom('"', '\\', '\\"', 'x\ny', '—', '\ud83d\ude00', '\u0085', '\t'),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.boolean(),
  fc.constant(null),
);
const { tree } = fc.letrec((tie) => ({
  tree: fc.oneof({ depthSize: 'small' }, leaf, tie('array'), tie('object')),
  array: fc.array(tie('tree'), { maxLength: 4 }),
  object: fc.dictionary(key, tie('tree'), { maxKeys: 4 }),
}));
const root = fc.dictionary(key, tree, { maxKeys: 5 });
/** How a writer lays the JSON out: compact, indented, with CRLF line ends. */
const layout = fc.constantFrom<[string | number, boolean]>([0, false], [2, false], ['\t', false], [1, true]);

function text(value: unknown, [indent, crlf]: [string | number, boolean]): string {
  const t = JSON.stringify(value, null, indent);
  return crlf ? t.replace(/\n/g, '\r\n') : t;
}

/** Every path of up to three segments in `value`, as validation asks them, with some that are not there. */
function paths(value: unknown): PathSegment[][] {
  const out: PathSegment[][] = [[], ['missing'], ['missing', 0]];
  const walk = (v: unknown, at: PathSegment[]): void => {
    if (at.length >= 3 || v === null || typeof v !== 'object') return;
    const entries: [PathSegment, unknown][] = Array.isArray(v)
      ? v.map((x, i) => [i, x])
      : Object.keys(v).map((k) => [k, (v as Record<string, unknown>)[k]]);
    for (const [k, x] of entries) {
      out.push([...at, k]);
      walk(x, [...at, k]);
    }
    out.push([...at, Array.isArray(v) ? 99 : 'absent']);
  };
  walk(value, []);
  return out;
}

function parseBoth(t: string) {
  const file = 'policy.json';
  return {
    fast: parsePolicyDocument([{ file, text: t }]),
    tree: parsePolicyDocument([{ file, text: t }], { json: false }),
  };
}

describe('JSON policy files', () => {
  test('give the value and the locations the YAML parser gives', () => {
    fc.assert(
      fc.property(root, layout, (value, how) => {
        const t = text(value, how);
        assert.notEqual(parseJsonObject(t), undefined);
        const { fast, tree } = parseBoth(t);
        assert.deepEqual(fast.value, tree.value);
        for (const p of paths(value)) {
          for (const k of [false, true]) {
            assert.deepEqual(
              fast.locate(p, { key: k }),
              tree.locate(p, { key: k }),
              `${JSON.stringify(p)} ${k}`,
            );
          }
        }
      }),
      { numRuns: 400 },
    );
  });

  test('a key given twice is refused where the YAML parser refuses it', () => {
    fc.assert(
      fc.property(root, layout, key, (value, how, k) => {
        const inner = text({ ...value, x: 1 }, how);
        // The same key twice in the innermost object, the second spelled with escapes.
        const escaped = JSON.stringify(k).replace(/[a-z]/, (c) => `\\u00${c.charCodeAt(0).toString(16)}`);
        const t = `{"zones": {"w": {${JSON.stringify(k)}: 1, ${escaped}: 2}}, "rest": ${inner}}`;
        assert.equal(hasRepeatedKey(t), true);
        assert.equal(parseJsonObject(t), undefined);
        const failure = (json: boolean): string => {
          try {
            parsePolicyDocument([{ file: 'p.json', text: t }], { json });
          } catch (e) {
            assert.ok(e instanceof GatehouseError);
            return e.message;
          }
          return 'parsed';
        };
        assert.match(failure(true), /p\.json:1:\d+: cannot parse policy/);
        assert.equal(failure(true), failure(false));
      }),
      { numRuns: 200 },
    );
  });

  test('no repeated key is found where there is none', () => {
    fc.assert(
      fc.property(root, layout, (value, how) => assert.equal(hasRepeatedKey(text(value, how)), false)),
      { numRuns: 400 },
    );
  });

  test('texts that are not one JSON object go to the YAML parser', () => {
    for (const t of [
      '[1]',
      '"x"',
      '{"a": 1} // c',
      '{"a": 1}\n---\n{}',
      'a: 1',
      '\ufeff{"a": 1}',
      '{a: 1}',
    ]) {
      assert.equal(parseJsonObject(t), undefined, t);
    }
  });

  test('a validation error deep in a JSON policy has its line, and a lone CR keeps the count right', () => {
    const policy = {
      apiVersion: 'gatehouse.dev/v1',
      trustDomain: 'acme.corp',
      zones: { prod: { cidrs: ['10.0.0.0/8'] } },
      services: { orders: { zone: 'prod' } },
      permissions: [
        { id: 'ok', effect: 'allow', from: '*', to: { service: 'orders' }, owner: 'o' },
        { id: 'bad', effect: 'allow', from: '*', to: { service: 'orders' }, owner: 'o', when: 'context.' },
      ],
    };
    for (const t of [JSON.stringify(policy, null, 2), JSON.stringify(policy, null, 2).replace('\n', '\r')]) {
      const messages = (json: boolean): string[] =>
        validatePolicy(parsePolicyDocument([{ file: 'policy.json', text: t }], { json })).errors.map(
          formatProblem,
        );
      const fast = messages(true);
      assert.ok(
        fast.some((m) => /policy\.json:\d+:\d+/.test(m)),
        fast.join('\n'),
      );
      assert.deepEqual(fast, messages(false));
    }
  });
});

describe('JSON and YAML files merged', () => {
  const yaml = 'apiVersion: gatehouse.dev/v1\ntrustDomain: acme.corp\nservices:\n  orders: { zone: prod }\n';
  const json = JSON.stringify(
    {
      apiVersion: 'gatehouse.dev/v1',
      zones: { prod: { cidrs: ['10.0.0.0/8'] } },
      services: { billing: { zone: 'prod' }, orders: { zone: 'prod' } },
    },
    null,
    2,
  );
  const failure = (json: boolean, files: { file: string; text: string }[]): string => {
    try {
      parsePolicyDocument(files, { json });
    } catch (e) {
      assert.ok(e instanceof GatehouseError);
      return e.message;
    }
    return 'parsed';
  };

  test('a name defined in both is reported at both places, as the YAML parser located them', () => {
    for (const files of [
      [
        { file: 'a.yaml', text: yaml },
        { file: 'b.json', text: json },
      ],
      [
        { file: 'b.json', text: json },
        { file: 'a.yaml', text: yaml },
      ],
    ]) {
      const message = failure(true, files);
      assert.match(message, /service `orders` is defined twice \(first defined at .+:\d+:\d+\)/);
      assert.equal(message, failure(false, files));
    }
  });

  test('every member of the merged policy is located as the YAML parser locates it', () => {
    const files = [
      { file: 'a.yaml', text: yaml.replace('orders', 'shipping') },
      { file: 'b.json', text: json },
    ];
    const fast = parsePolicyDocument(files);
    const tree = parsePolicyDocument(files, { json: false });
    assert.deepEqual(fast.value, tree.value);
    for (const path of [
      [],
      ['zones'],
      ['zones', 'prod'],
      ['services', 'billing'],
      ['services', 'shipping'],
      ['services', 'orders', 'zone'],
    ]) {
      for (const key of [false, true])
        assert.deepEqual(fast.locate(path, { key }), tree.locate(path, { key }), JSON.stringify(path));
    }
  });
});
