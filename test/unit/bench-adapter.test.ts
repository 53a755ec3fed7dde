/**
 * The peer-harness adapter (bench/peer-adapter.mjs) on a small workload from
 * the shared generator: every decision and every set of deciding rules must
 * be the reference evaluator's, or the benchmark numbers mean nothing.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';

const root = new URL('../..', import.meta.url).pathname;
const shared = process.env.GATEHOUSE_PEER_BENCH ?? `${root}../shared/bench`;
const generator = `${shared}/gen-workload.mjs`;
const built = existsSync(`${root}dist/index.js`);

interface HarnessRequest {
  source: string;
  sourceIp: string;
  service: string;
  port: number;
  method: string;
  path: string;
  context: Record<string, unknown>;
}

interface Expected {
  decision: 'allow' | 'deny';
  rules: string[];
}

interface Workload {
  trustDomain: string;
  namespaces: string[];
  rules: { id: string; source: { type: string } }[];
  requests: HarnessRequest[];
  expected: Expected[];
}

interface Adapter {
  engine: string;
  decide(request: HarnessRequest): boolean;
  explain(request: HarnessRequest): Expected;
  errors(): number;
}

const skip = !existsSync(generator)
  ? `no shared peer harness at ${shared} (set GATEHOUSE_PEER_BENCH to its folder)`
  : !built
    ? 'run `npm run build` first (npm test does): the adapter loads dist/index.js'
    : false;

const sameSet = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && [...a].sort().join('\n') === [...b].sort().join('\n');

describe('bench/peer-adapter.mjs on the shared peer workload', { skip }, () => {
  test('agrees with the reference on every decision and every set of deciding rules', async () => {
    const gen = (await import(pathToFileURL(generator).href)) as {
      generate(o: { size: string; seed: number; requests: number }): Workload;
    };
    const workload = gen.generate({ size: 'small', seed: 7, requests: 2000 });
    const adapterUrl = pathToFileURL(`${root}bench/peer-adapter.mjs`).href;
    const { load } = (await import(adapterUrl)) as { load(w: Workload): Promise<Adapter> };
    const adapter = await load(workload);

    // The namespace translation (`.../ns/<ns>/**`) equals the reference's raw
    // prefix test only for IDs shaped `spiffe://<td>/ns/<ns>/<more>`: the generator's.
    const shape = /^spiffe:\/\/[a-z0-9.-]+\/ns\/[^/]+\/sa\/[^/]+$/;
    for (const r of workload.requests) assert.match(r.source, shape);

    const mismatches: string[] = [];
    let allowed = 0;
    let byRule = 0;
    workload.requests.forEach((r, i) => {
      const want = workload.expected[i]!;
      const got = adapter.explain(r);
      if (got.decision === 'allow') allowed++;
      if (got.rules.length) byRule++;
      if (got.decision !== want.decision || !sameSet(got.rules, want.rules)) {
        mismatches.push(
          `#${i} ${JSON.stringify(r)}: want ${JSON.stringify(want)}, got ${JSON.stringify(got)}`,
        );
      }
      if (adapter.decide(r) !== (want.decision === 'allow')) mismatches.push(`#${i}: decide() disagrees`);
    });
    assert.deepEqual(
      mismatches.slice(0, 5),
      [],
      `${mismatches.length} of ${workload.requests.length} disagree`,
    );
    assert.equal(adapter.errors(), 0);
    // The workload exercises allows, rule denies and default denies, not one answer everywhere.
    assert.ok(allowed > 1000 && allowed < 1900, `allowed ${allowed}`);
    assert.ok(byRule > allowed, `${byRule} decisions with deciding rules`);
  });

  test('refuses a condition it cannot translate rather than dropping it', async () => {
    const { conditionToCel } = (await import(pathToFileURL(`${root}bench/peer-adapter.mjs`).href)) as {
      conditionToCel(c: { attr: string; op: string; value: unknown }): string;
    };
    assert.equal(
      conditionToCel({ attr: 'context.weekday', op: 'in', value: [1, 2] }),
      'context.weekday in [1, 2]',
    );
    assert.equal(
      conditionToCel({ attr: 'sourceIp', op: 'inCidr', value: '10.1.0.0/16' }),
      'cidr("10.1.0.0/16").containsIP(source.ip)',
    );
    assert.throws(() => conditionToCel({ attr: 'context.risk', op: '!=', value: 3 }), /not translated/);
    assert.throws(() => conditionToCel({ attr: 'sourceZone', op: '==', value: 'dmz' }), /unknown condition/);
  });
});
