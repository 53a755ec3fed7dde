/**
 * Loads the decision cases in test/cases/ (data, not code): each file has a
 * `policy`, an optional `now`, and `cases` of `request` and `want`. The same
 * cases run against the compiled engine and the reference evaluator, and are
 * meant to run against every other decision surface as it appears.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parse } from 'yaml';
import type { DecisionRequest } from '../../src/core/decision/index.js';

export interface DecisionCase {
  file: string;
  note: string;
  policy: Record<string, unknown>;
  now: number;
  request: DecisionRequest;
  want: Record<string, unknown>;
}

const root = new URL('.', import.meta.url).pathname;

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    // test/cases/exposure holds audit cases of another shape (test/unit/analysis/exposure).
    if (statSync(p).isDirectory()) return n === 'exposure' ? [] : walk(p);
    return n.endsWith('.yaml') ? [p] : [];
  });
}

export function loadCases(): DecisionCase[] {
  const out: DecisionCase[] = [];
  for (const path of walk(root).sort()) {
    const doc = parse(readFileSync(path, 'utf8'), { merge: true }) as {
      note: string;
      now?: string;
      policy: Record<string, unknown>;
      cases: { note: string; now?: string; request: DecisionRequest; want: Record<string, unknown> }[];
    };
    for (const c of doc.cases) {
      const now = Date.parse(c.now ?? doc.now ?? '2026-06-15T10:00:00Z');
      out.push({
        file: relative(root, path),
        note: `${doc.note} — ${c.note}`,
        policy: doc.policy,
        now,
        request: c.request,
        want: c.want,
      });
    }
  }
  return out;
}

/** Checks the fields `want` names (rules compared as sets, errors by rule and outcome). */
export function mismatches(got: Record<string, unknown>, want: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const sameSet = (a: unknown, b: unknown) =>
    Array.isArray(a) && Array.isArray(b) && JSON.stringify([...a].sort()) === JSON.stringify([...b].sort());
  for (const [key, expected] of Object.entries(want)) {
    const actual = got[key];
    if (key === 'rules') {
      if (!sameSet(actual, expected))
        problems.push(`rules: got ${JSON.stringify(actual)}, want ${JSON.stringify(expected)}`);
    } else if (key === 'errors') {
      const a = ((actual as { ruleId: string; outcome: string }[]) ?? []).map(
        (e) => `${e.ruleId}:${e.outcome}`,
      );
      const b = (expected as { ruleId: string; outcome: string }[]).map((e) => `${e.ruleId}:${e.outcome}`);
      if (!sameSet(a, b)) problems.push(`errors: got ${JSON.stringify(a)}, want ${JSON.stringify(b)}`);
    } else if (key === 'layers') {
      for (const [layer, lw] of Object.entries(expected as Record<string, Record<string, unknown>>)) {
        const lg = (actual as Record<string, Record<string, unknown>>)[layer] ?? {};
        for (const [k, v] of Object.entries(lw)) {
          const ok = k === 'rules' ? sameSet(lg[k], v) : lg[k] === v;
          if (!ok)
            problems.push(`layers.${layer}.${k}: got ${JSON.stringify(lg[k])}, want ${JSON.stringify(v)}`);
        }
      }
    } else if (actual !== expected) {
      problems.push(`${key}: got ${JSON.stringify(actual)}, want ${JSON.stringify(expected)}`);
    }
  }
  return problems;
}
