/**
 * `gatehouse decisions verify` against a real server whose database is
 * altered behind its back: the copies of a record's fields that the queries
 * filter by, and the record's stored text, are checked as well as the hash
 * chain, and a mismatch is a break (exit 1) naming the record and the column.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { decideAcmeOrders } from '../support/acme-decision.js';
import { built, cli, startServer, type ServerProcess } from '../support/server-process.js';

describe(
  'decision log tampered in the database',
  { skip: built ? false : 'run `npm run build` first' },
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-tamper-'));
    let server: ServerProcess | undefined;
    after(async () => {
      await server?.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    /** Runs one statement on the server's database, as someone with write access to it would. */
    const exec = (sql: string) => {
      const db = new Database(join(dir, 'gatehouse.db'));
      try {
        db.exec(sql);
      } finally {
        db.close();
      }
    };

    test('decisions verify names a column altered to hide a deny, and a stored text not canonical', async () => {
      server = await startServer(dir);
      const env = { GATEHOUSE_SERVER: server.url, GATEHOUSE_TOKEN: server.adminToken };
      await decideAcmeOrders(server.url, server.adminToken, '/orders/1');
      // Without mTLS: denied.
      await decideAcmeOrders(server.url, server.adminToken, '/orders/2', false);
      await decideAcmeOrders(server.url, server.adminToken, '/orders/3');
      const denies = async () => {
        const r = await cli(['decisions', '--verdict', 'deny', '--output', 'json'], env);
        assert.equal(r.code, 0, r.err);
        return r.out
          .trim()
          .split('\n')
          .filter(Boolean)
          .map((l) => (JSON.parse(l) as { seq: number }).seq);
      };
      assert.deepEqual(await denies(), [2]);
      const intact = await cli(['decisions', 'verify'], env);
      assert.equal(intact.code, 0, intact.out + intact.err);
      assert.match(intact.out, /^ok: 3 record\(s\), hash chain intact\n/);

      exec(
        `UPDATE decision_log SET verdict = 'allow', source_spiffe_id = 'spiffe://x/nobody', service = 'nothing' WHERE seq = 2`,
      );
      // The deny is gone from the queries, which read the columns …
      assert.deepEqual(await denies(), []);
      // … and verify says so.
      const broken = await cli(['decisions', 'verify'], env);
      assert.equal(broken.code, 1, broken.out + broken.err);
      assert.equal(
        broken.out,
        'BROKEN at seq 2: record 2 was altered in the store: ' +
          "column `source_spiffe_id` says `spiffe://x/nobody`, the record's `source.spiffeId` is `spiffe://acme.corp/ns/shop/sa/web`; " +
          "column `service` says `nothing`, the record's `destination.service` is `orders`; " +
          "column `verdict` says `allow`, the record's `decision` is `deny` (2 record(s) checked)\n",
      );
      const res = await fetch(`${server.url}/v1/decisions/verify`, {
        headers: { authorization: `Bearer ${server.adminToken}` },
      });
      assert.equal(res.status, 200);
      const status = (await res.json()) as { checked: number; firstBreak: Record<string, unknown> };
      assert.equal(status.checked, 2);
      assert.equal(status.firstBreak['reason'], 'column_mismatch');
      assert.deepEqual(status.firstBreak['columns'], [
        {
          column: 'source_spiffe_id',
          field: 'source.spiffeId',
          stored: 'spiffe://x/nobody',
          recorded: 'spiffe://acme.corp/ns/shop/sa/web',
        },
        { column: 'service', field: 'destination.service', stored: 'nothing', recorded: 'orders' },
        { column: 'verdict', field: 'decision', stored: 'allow', recorded: 'deny' },
      ]);

      // Put back, the log verifies again; a text that parses to the same record, with its hash, does not.
      exec(
        `UPDATE decision_log SET verdict = 'deny', source_spiffe_id = 'spiffe://acme.corp/ns/shop/sa/web', service = 'orders' WHERE seq = 2`,
      );
      assert.equal((await cli(['decisions', 'verify'], env)).code, 0);
      exec(`UPDATE decision_log SET record_json = ' ' || record_json WHERE seq = 3`);
      const spaced = await cli(['decisions', 'verify'], env);
      assert.equal(spaced.code, 1, spaced.out + spaced.err);
      assert.equal(
        spaced.out,
        'BROKEN at seq 3: record 3 was altered in the store: its stored text is not the canonical JSON ' +
          'its hash covers (they differ from character 1) (3 record(s) checked)\n',
      );
    });
  },
);
