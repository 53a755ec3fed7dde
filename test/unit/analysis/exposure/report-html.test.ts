import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  escapeHtml,
  makeFinding,
  renderAuditHtml,
  runAudit,
  type AuditReport,
} from '../../../../src/core/analysis/exposure/index.js';
import { acmeInventory, acmeNow, acmePolicy, acmeRecords } from './acme.js';

describe('HTML report', () => {
  const report = runAudit(acmePolicy, acmeInventory, acmeRecords(), { now: acmeNow });
  const html = renderAuditHtml(report);

  test('is one self-contained document: inline CSS, no scripts, no external assets', () => {
    assert.match(html, /^<!DOCTYPE html>\n<html lang="en">/);
    assert.match(html, /<style>[^<]+<\/style>/);
    assert.doesNotMatch(html, /<script|<link|<img|<iframe|src=|@import|url\(/i);
    assert.doesNotMatch(html, /href="(?!#)/, 'links only point inside the page');
  });

  test('shows every finding with its evidence, fix and mappings', () => {
    for (const f of report.findings) assert.ok(html.includes(`id="${f.id}"`), f.id);
    assert.match(html, /NHI10:2025 Human Use of NHI/);
    assert.match(html, /CSF PR\.AA-05/);
    assert.match(html, /SP 800-207 tenet 3/);
    assert.match(html, /hash chain intact/);
  });

  test('escapes everything that comes from the inputs', () => {
    const evil = '<img src=x onerror=alert(1)>"\'&';
    const f = makeFinding('missing_owner', {
      severity: 'high',
      subject: { kind: 'identity', id: evil },
      title: `identity \`${evil}\` has no owner`,
      evidence: [evil],
      fix: evil,
    });
    const r: AuditReport = { ...report, trustDomain: evil, findings: [f] };
    const out = renderAuditHtml(r);
    assert.ok(!out.includes('<img'), 'no raw tag');
    assert.ok(out.includes(escapeHtml(evil)));
    assert.equal(escapeHtml(evil), '&lt;img src=x onerror=alert(1)&gt;&quot;&#39;&amp;');
  });
});

describe('exposure schemas', () => {
  test('the example inventory and the audit findings fit their schemas', async () => {
    const { readFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { parse } = await import('yaml');
    const Ajv2020 = (await import('ajv/dist/2020.js')).default;
    const ajv = new Ajv2020.default({ allErrors: true, strict: false });
    const { root } = await import('./exposure-cases.js');
    const inventory = ajv.compile(JSON.parse(readFileSync(join(root, 'schemas/inventory.v1.json'), 'utf8')));
    assert.ok(
      inventory(parse(readFileSync(join(root, 'examples/acme/inventory.yaml'), 'utf8'))),
      ajv.errorsText(inventory.errors),
    );
    const finding = ajv.compile(JSON.parse(readFileSync(join(root, 'schemas/finding.v1.json'), 'utf8')));
    const report = runAudit(acmePolicy, acmeInventory, acmeRecords(), { now: acmeNow });
    for (const f of JSON.parse(JSON.stringify(report.findings)) as unknown[])
      assert.ok(finding(f), ajv.errorsText(finding.errors));
  });
});
