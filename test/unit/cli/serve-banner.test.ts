/** How `gatehouse serve` shows its database in the banner, which ends up in logs. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { shownDatabase } from '../../../src/cli/commands/serve.js';

test('a PostgreSQL URL is shown without its password, and as shared', () => {
  assert.equal(shownDatabase('gatehouse.db'), 'gatehouse.db');
  const shown = shownDatabase('postgres://gatehouse:s3cr3t@db.internal:5432/gatehouse?sslmode=require');
  assert.ok(!shown.includes('s3cr3t'), shown);
  assert.match(
    shown,
    /^postgres:\/\/gatehouse:\*\*\*@db\.internal:5432\/gatehouse\?sslmode=require \(shared: /,
  );
  assert.match(
    shownDatabase('postgresql://db.internal/gatehouse'),
    /^postgresql:\/\/db\.internal\/gatehouse \(shared: /,
  );
});
