/** The walk-through of docs/exposure.md: what the example estate's audit finds. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FINDING_CATALOGUE, runAudit } from '../../../../src/core/analysis/exposure/index.js';
import { acmeInventory, acmeNow, acmePolicy, acmeRecords } from './acme.js';

test('the example estate shows each planted exposure', () => {
  const report = runAudit(acmePolicy, acmeInventory, acmeRecords(), { now: acmeNow });
  const has = (type: string, subject: string) =>
    report.findings.some((f) => f.type === type && f.subject.id.endsWith(subject));
  assert.equal(report.log.chain, 'intact');
  assert.equal(report.log.records, 2973);
  for (const [type, subject] of [
    ['offboarded_live_credentials', '/ns/shop/sa/recommendations'],
    ['offboarded_still_used', '/ns/shop/sa/recommendations'],
    ['human_use', '/ci/deployer'],
    ['cross_environment_use', '/ns/shop-dev/sa/load-tester'],
    ['identity_reuse', '/keys/legacy-reporting'],
    ['missing_owner', '/keys/legacy-reporting'],
    ['never_rotated_secret', 'legacy-reporting-key'],
    ['long_lived_credential', 'jwt-deployer-7c1e'],
    ['loose_oidc_federation', '/ci/github/acme/shop/feature'],
    ['third_party_broad_access', '/apps/crm-sync'],
    ['stale_identity', '/ns/shop/sa/invoice-cron'],
    ['denied_cross_zone', '/ns/plant/sa/plc-gateway'],
    ['unregistered_identity', '/ns/shop/sa/web-canary'],
    ['over_privileged', '/agents/support-copilot'],
  ] as const)
    assert.ok(has(type, subject), `${type} ${subject}`);
  // The strict federation and the narrow partner are not findings.
  assert.ok(!has('loose_oidc_federation', '/ci/github/acme/shop/main'));
  assert.ok(
    !report.findings.some(
      (f) => f.subject.id.startsWith('spiffe://partner.example') && f.type === 'third_party_broad_access',
    ),
  );
  for (const f of report.findings) assert.deepEqual(f.mappings.owasp, FINDING_CATALOGUE[f.type].owasp);
});
