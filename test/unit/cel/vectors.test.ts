import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { GatehouseError } from '../../../src/core/errors.js';
import {
  compileCondition,
  conditionEnvironment,
  isConditionError,
  type ConditionActivation,
} from '../../../src/core/policy/cel/index.js';

/**
 * A vector: an expression and what it gives on the default activation below,
 * changed by `source`, `credential`, `destination`, `action` (merged),
 * `context` (replacing) and `time`, minus the `absent` paths. Or the message
 * that compiling it must fail with.
 */
interface Vector {
  title: string;
  expr: string;
  source?: Record<string, unknown>;
  credential?: Record<string, unknown>;
  destination?: Record<string, unknown>;
  action?: Record<string, unknown>;
  context?: Record<string, unknown>;
  time?: string;
  absent?: string[];
  want?: boolean | 'error';
  /** A part of the evaluation error's message. */
  error?: string;
  /** Whether the closures run it (checked only when given). */
  fastPath?: boolean;
  /** A part of the compile error's message. */
  compileError?: string;
}

const dir = new URL('../../vectors/cel/', import.meta.url);

// Monday 15 January 2024, 14:30:45 UTC; the credential was issued two minutes before.
function activation(v: Vector): ConditionActivation {
  const act = {
    source: {
      spiffeId: 'spiffe://acme.example/ns/prod/sa/web',
      trustDomain: 'acme.example',
      path: '/ns/prod/sa/web',
      labels: { env: 'prod', team: 'payments' },
      zone: 'prod',
      ip: '10.3.4.5',
      ...v.source,
    },
    credential: {
      type: 'jwt-svid',
      id: 'c-1',
      ageSeconds: 120,
      ttlSeconds: 3480,
      issuedAt: new Date('2024-01-15T14:28:45Z'),
      expiresAt: new Date('2024-01-15T15:28:45Z'),
      ...v.credential,
    },
    destination: { service: 'orders', port: 443, zone: 'prod', ...v.destination },
    action: { method: 'GET', path: '/orders/7', operation: 'orders.read', ...v.action },
    context: v.context ?? {},
    time: new Date(v.time ?? '2024-01-15T14:30:45Z'),
  };
  for (const path of v.absent ?? []) {
    const [variable, key] = path.split('.') as [keyof typeof act, string];
    delete (act[variable] as Record<string, unknown>)[key];
  }
  return act as ConditionActivation;
}

function reference(source: string, act: ConditionActivation): boolean | 'error' {
  try {
    const r: unknown = conditionEnvironment.evaluate(source, act as unknown as Record<string, unknown>);
    return typeof r === 'boolean' ? r : 'error';
  } catch {
    return 'error';
  }
}

for (const file of readdirSync(dir)
  .filter((f) => f.endsWith('.json'))
  .sort()) {
  const vectors = JSON.parse(readFileSync(new URL(file, dir), 'utf8')) as Vector[];
  describe(`CEL vectors: ${file}`, () => {
    for (const v of vectors) {
      test(v.title, () => {
        if (v.compileError !== undefined) {
          assert.throws(
            () => compileCondition(v.expr),
            (e: unknown) =>
              e instanceof GatehouseError &&
              e.code === 'cel_parse_error' &&
              e.message.includes(v.compileError!) &&
              !e.message.includes('\n'),
          );
          return;
        }
        const condition = compileCondition(v.expr);
        if (v.fastPath !== undefined) assert.equal(condition.fastPath, v.fastPath, 'fastPath');
        const act = activation(v);
        const result = condition.evaluate(act);
        const got = isConditionError(result) ? 'error' : result;
        assert.equal(got, v.want, isConditionError(result) ? result.error : undefined);
        // The vector must say what cel-js says.
        assert.equal(reference(v.expr, act), v.want, 'cel-js disagrees with the vector');
        if (v.error !== undefined)
          assert.ok(isConditionError(result) && result.error.includes(v.error), JSON.stringify(result));
      });
    }
  });
}
