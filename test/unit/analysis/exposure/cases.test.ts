/**
 * Every finding type on data files: each case in test/cases/exposure/ names
 * the finding types it is about, and the findings of those types must be
 * exactly the ones it wants (type, subject and severity).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FINDING_TYPES, runAudit, type Finding } from '../../../../src/core/analysis/exposure/index.js';
import { verifyChain } from '../../../../src/core/log/hash-chain.js';
import { loadExposureCases } from './exposure-cases.js';

const cases = loadExposureCases();
const key = (f: { type: string; subject: string; severity: string }) =>
  `${f.type} ${f.subject} ${f.severity}`;

describe('exposure cases', () => {
  for (const c of cases) {
    test(`${c.file}: ${c.note}`, () => {
      assert.equal(verifyChain(c.records).firstBreak, undefined, 'the case log is a valid chain');
      const report = runAudit(c.policy, c.inventory, c.records, { now: c.now, ...(c.options ?? {}) });
      const got = report.findings
        .filter((f: Finding) => c.check.includes(f.type))
        .map((f) => key({ type: f.type, subject: f.subject.id, severity: f.severity }))
        .sort();
      assert.deepEqual(
        got,
        c.want.map(key).sort(),
        report.findings
          .filter((f) => c.check.includes(f.type))
          .map((f) => `${f.title}\n  ${f.evidence.join('\n  ')}`)
          .join('\n'),
      );
      for (const f of report.findings) {
        assert.ok(f.evidence.length > 0, `${f.type} has evidence`);
        assert.ok(f.fix.length > 0, `${f.type} has a fix`);
        assert.match(f.id, /^nhf_[0-9a-f]{12}$/);
      }
    });
  }

  test('every finding type is wanted by at least one case', () => {
    const covered = new Set(cases.flatMap((c) => c.want.map((w) => w.type)));
    assert.deepEqual(
      FINDING_TYPES.filter((t) => !covered.has(t)),
      [],
    );
  });

  test('every case checks only what it wants and wants only what it checks', () => {
    for (const c of cases)
      for (const w of c.want) assert.ok(c.check.includes(w.type), `${c.file}: ${w.type} is not in check`);
  });
});
