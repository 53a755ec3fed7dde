import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { checkPolicy } from '../../../src/core/policy/index.js';

const file = 'test/fixtures/lint/policy.yaml';
const text = readFileSync(new URL(`../../../${file}`, import.meta.url), 'utf8');
const result = checkPolicy([{ file, text }], { now: Date.parse('2026-06-15T00:00:00Z') });
const by = (code: string) => result.warnings.filter((w) => w.code === code).map((w) => w.ruleId ?? w.path);

test('the lint fixture is valid', () => assert.deepEqual(result.errors, []));

test('duplicate rules', () => assert.deepEqual(by('duplicate_rule'), ['flow-orders-again']));
test('allow rules shadowed by an unconditional deny', () =>
  assert.deepEqual(by('shadowed_rule'), ['seg-dev-prod', 'perm-orders-delete']));
test('allow rules wider than one service', () =>
  assert.deepEqual(by('wide_allow'), ['seg-everything', 'flow-any']));
test('references to unknown zones and services', () =>
  assert.deepEqual(by('unknown_reference'), ['segmentation[2].to[1]', 'perm-unowned']));
test('permissions that no flow lets through', () => {
  // In the fixture a flow to "*" reaches every service, so no permission is dead there.
  assert.deepEqual(by('dead_permission'), []);
  const dead = checkPolicy(
    [
      {
        file: 'dead.yaml',
        text: [
          'apiVersion: gatehouse.dev/v1',
          'trustDomain: acme.corp',
          'zones: { prod: { cidrs: [10.0.0.0/16] } }',
          'services: { billing: { zone: prod }, orders: { zone: prod } }',
          'flows: [{ id: f, effect: allow, from: "*", to: { service: orders }, owner: o }]',
          'permissions:',
          '  - { id: perm-billing, effect: allow, from: "*", to: { service: billing }, owner: o }',
          '  - { id: perm-orders, effect: allow, from: "*", to: { service: orders }, owner: o }',
        ].join('\n'),
      },
    ],
    { now: 0 },
  );
  assert.deepEqual(
    dead.warnings.filter((w) => w.code === 'dead_permission').map((w) => [w.ruleId, w.location?.line]),
    [['perm-billing', 7]],
  );
});
test('flows that no permission uses', () => assert.deepEqual(by('unused_flow'), ['flow-reports']));
test('rules past reviewBy', () => assert.deepEqual(by('review_overdue'), ['perm-orders']));
test('expired rules', () => assert.deepEqual(by('expired_rule'), ['perm-old']));
test('rules without an owner', () => assert.deepEqual(by('missing_owner'), ['perm-unowned']));
test('Envoy-style prefixes that cross segment boundaries', () =>
  assert.deepEqual(by('loose_prefix'), ['perm-legacy']));
test('every warning carries a file:line:col', () => {
  for (const w of result.warnings) assert.ok(w.location && w.location.line > 1, JSON.stringify(w));
});

test('`matches` patterns outside the portable subset, or not literals', () => {
  const checked = checkPolicy(
    [
      {
        file: 'regex.yaml',
        text: [
          'apiVersion: gatehouse.dev/v1',
          'trustDomain: acme.corp',
          'zones: { prod: { cidrs: [10.0.0.0/16] } }',
          'services: { orders: { zone: prod } }',
          'flows: [{ id: f, effect: allow, from: "*", to: { service: orders }, owner: o }]',
          'permissions:',
          '  - id: nested',
          '    effect: deny',
          '    from: "*"',
          '    to: { service: orders }',
          '    owner: o',
          '    when: \'action.path.matches("^(/[a-z]+)+$")\'',
          '  - id: portable',
          '    effect: allow',
          '    from: "*"',
          '    to: { service: orders }',
          '    owner: o',
          '    when: \'action.path.matches("^/orders/[0-9]+$")\'',
          '  - id: computed',
          '    effect: allow',
          '    from: "*"',
          '    to: { service: orders }',
          '    owner: o',
          '    when: \'action.path.matches(context.pattern) && action.path.matches("(?<id>x)")\'',
        ].join('\n'),
      },
    ],
    { now: 0 },
  );
  assert.deepEqual(checked.errors, []);
  const warnings = checked.warnings.filter((w) => w.code === 'regex_not_portable');
  assert.deepEqual(
    warnings.map((w) => [w.ruleId, w.location?.line]),
    [
      ['nested', 7],
      ['computed', 19],
      ['computed', 19],
    ],
  );
  assert.match(warnings[0]!.message, /pattern `\^\(\/\[a-z\]\+\)\+\$` is outside the subset/);
  assert.match(warnings[1]!.message, /not a literal/);
});

test('a deny shadows an allow only for the same ports, or for any port', () => {
  const cases: [deny: string, allow: string, shadowed: boolean][] = [
    ['', '', true],
    ['', ', ports: [8443]', false],
    [', ports: [8443]', '', false],
    [', ports: [8443]', ', ports: [8443]', true],
    [', ports: [8443]', ', ports: [9000]', false],
    [', ports: "*"', ', ports: [8443]', true],
    [', ports: [8443]', ', ports: "*"', false],
  ];
  for (const [deny, allow, shadowed] of cases) {
    const policy = [
      'apiVersion: gatehouse.dev/v1',
      'trustDomain: acme.corp',
      'zones: { prod: { cidrs: [10.0.0.0/8] } }',
      'services: { orders: { zone: prod, ports: [8443, 9000] } }',
      'flows:',
      `  - { id: deny, effect: deny, from: "*", to: { service: orders${deny} }, owner: o }`,
      `  - { id: allow, effect: allow, from: [spiffe://acme.corp/web], to: { service: orders${allow} }, owner: o }`,
    ].join('\n');
    const r = checkPolicy([{ file: 'p.yaml', text: policy }], { now: 0 });
    assert.deepEqual(r.errors, [], policy);
    const got = r.warnings.filter((w) => w.code === 'shadowed_rule').map((w) => w.ruleId);
    assert.deepEqual(got, shadowed ? ['allow'] : [], `deny${deny} / allow${allow}`);
  }
});
