/**
 * Retention of the decision log against real server processes:
 * `gatehouse decisions prune --before` deletes the oldest records and
 * `decisions verify` checks the rest from the anchor; `serve
 * --decision-retention` prunes on its own, and says so in its log.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { decideAcmeOrders } from '../support/acme-decision.js';
import { built, cli, startServer, type ServerProcess } from '../support/server-process.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const exported = async (env: Record<string, string>) => {
  const r = await cli(['decisions', 'export'], env);
  assert.equal(r.code, 0, r.err);
  return r.out
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { seq: number; decisionId: string; hash: string });
};

describe('decision log retention', { skip: built ? false : 'run `npm run build` first' }, () => {
  const dirs: string[] = [];
  const servers: ServerProcess[] = [];
  const start = async (args: string[] = []) => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-retention-'));
    dirs.push(dir);
    const server = await startServer(dir, args);
    servers.push(server);
    return { server, env: { GATEHOUSE_SERVER: server.url, GATEHOUSE_TOKEN: server.adminToken } };
  };
  after(async () => {
    for (const s of servers) await s.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  test('decisions prune --before deletes the oldest records; verify checks the rest from the anchor', async () => {
    const { server, env } = await start();
    for (let i = 1; i <= 5; i++) await decideAcmeOrders(server.url, server.adminToken, `/orders/${i}`);
    const first = await exported(env);
    await sleep(20);
    const cut = new Date().toISOString();
    await sleep(20);
    for (let i = 6; i <= 8; i++) await decideAcmeOrders(server.url, server.adminToken, `/orders/${i}`);

    const bad = await cli(['decisions', 'prune', '--before', 'last week'], env);
    assert.equal(bad.code, 3);
    assert.match(bad.err, /--before must be an RFC 3339 date-time/);
    const missing = await cli(['decisions', 'prune'], env);
    assert.equal(missing.code, 3);
    const both = await cli(['decisions', 'prune', '--before', cut, '--older-than', '1d'], env);
    assert.equal(both.code, 3);
    assert.match(both.err, /one of --before TIME and --older-than SPAN/);
    const nothingYet = await cli(['decisions', 'prune', '--older-than', '1d'], env);
    assert.match(nothingYet.out, /^nothing to prune: /);
    const badSpan = await cli(['decisions', 'prune', '--older-than', '90 days'], env);
    assert.equal(badSpan.code, 3);
    assert.match(badSpan.err, /--older-than must be a whole number of days, hours, minutes or seconds/);

    // An archive of what is about to go, checked offline.
    const archive = join(dirs[0]!, 'archive.jsonl');
    const exportedText = await cli(['decisions', 'export'], env);
    writeFileSync(archive, exportedText.out);
    const offline = await cli(['decisions', 'verify', '--file', archive], {});
    assert.equal(offline.code, 0, offline.out + offline.err);
    assert.match(
      offline.out,
      /^ok: 8 record\(s\), records 1 to 8, hash chain intact from the genesis hash; the last has hash sha256:/,
    );
    for (const junk of ['42', 'null', '{"seq":"1"}', '{not json']) {
      writeFileSync(join(dirs[0]!, 'junk.jsonl'), `${exportedText.out}${junk}\n`);
      const r = await cli(['decisions', 'verify', '--file', join(dirs[0]!, 'junk.jsonl')], {});
      assert.equal(r.code, 1, `${junk}: ${r.out}${r.err}`);
      assert.match(r.out, /^BROKEN at line 9 of .*junk\.jsonl: not a decision record\n$/);
    }
    const forged = exportedText.out.replace('/orders/3', '/orders/33');
    writeFileSync(join(dirs[0]!, 'forged.jsonl'), forged);
    const broken = await cli(['decisions', 'verify', '--file', join(dirs[0]!, 'forged.jsonl')], {});
    assert.equal(broken.code, 1);
    assert.match(broken.out, /^BROKEN at seq 3 \(line 3 of .*forged\.jsonl\): record 3 was altered/);
    // The same record, hash and all, rewritten to parse the same (a space, or a key twice whose last
    // copy is the record's): not the text the log hashed.
    const lines = exportedText.out.split('\n');
    for (const rewrite of [
      (l: string) => l.replace('"decision":', '"decision": '),
      (l: string) => l.replace('{', '{"decision":"allow",'),
    ]) {
      writeFileSync(
        join(dirs[0]!, 'rewritten.jsonl'),
        [lines[0], rewrite(lines[1]!), ...lines.slice(2)].join('\n'),
      );
      const r = await cli(['decisions', 'verify', '--file', join(dirs[0]!, 'rewritten.jsonl')], {});
      assert.equal(r.code, 1, r.out);
      assert.match(
        r.out,
        /^BROKEN at seq 2 \(line 2 of .*rewritten\.jsonl\): the line is not the record's canonical JSON/,
      );
    }

    const pruned = await cli(['decisions', 'prune', '--before', cut], env);
    assert.equal(pruned.code, 0, pruned.err);
    const last = first.at(-1)!;
    assert.match(
      pruned.out,
      new RegExp(
        `^pruned 5 record\\(s\\) decided before .*; the log starts after record ${last.seq} \\(sha256:[0-9a-f]{64}\\); 3 record\\(s\\) left\\n$`,
      ),
    );
    const left = await exported(env);
    assert.deepEqual(
      left.map((r) => r.seq),
      [6, 7, 8],
    );
    const verify = await cli(['decisions', 'verify'], env);
    assert.equal(verify.code, 0, verify.out);
    assert.match(
      verify.out,
      /^ok: 3 record\(s\), hash chain intact from record 6, which links to the last pruned record 5 \(5 pruned in all/,
    );
    // The newest record, to keep elsewhere: records cut from the end would leave no break.
    assert.ok(
      verify.out.endsWith(
        `\nnewest: record 8, hash ${left[2]!.hash} (keep it elsewhere: a later log must hold it)\n`,
      ),
      verify.out,
    );
    // The archive and the log join into one chain: the anchor is the archive's record 5.
    assert.ok(pruned.out.includes(`(${last.hash})`), pruned.out);

    // A checkpoint kept from that verify: the log holds it, and a wrong one is a break.
    const newest = `8:${left[2]!.hash}`;
    const holds = await cli(['decisions', 'verify', '--holds', newest], env);
    assert.equal(holds.code, 0, holds.out);
    assert.match(holds.out, new RegExp(`\nholds record 8 with hash ${left[2]!.hash}\n`));
    const wrong = await cli(['decisions', 'verify', '--holds', `8:sha256:${'0'.repeat(64)}`], env);
    assert.equal(wrong.code, 1);
    assert.match(wrong.out, /BROKEN: record 8 has hash sha256:[0-9a-f]{64}, not sha256:0{64}/);
    const pruned5 = await cli(['decisions', 'verify', '--holds', `5:${last.hash}`], env);
    assert.equal(pruned5.code, 0, pruned5.out);
    const pruned3 = await cli(['decisions', 'verify', '--holds', `3:${first[2]!.hash}`], env);
    assert.equal(pruned3.code, 1);
    assert.match(
      pruned3.out,
      /UNCHECKED: record 3 was pruned \(the log starts after record 5\): check it in the archive/,
    );
    const badHolds = await cli(['decisions', 'verify', '--holds', '8'], env);
    assert.equal(badHolds.code, 3);

    const again = await cli(['decisions', 'prune', '--before', cut], env);
    assert.match(again.out, /^nothing to prune: .*; the log starts after record 5 .*; 3 record\(s\) left/);
    // The newest record always stays: the next decision continues the chain.
    const all = await cli(['decisions', 'prune', '--before', '2999-01-01'], env);
    assert.match(all.out, /^pruned 2 record\(s\).*; 1 record\(s\) left/);
    await decideAcmeOrders(server.url, server.adminToken, '/orders/9');
    const after = await cli(['decisions', 'verify'], env);
    assert.match(after.out, /^ok: 2 record\(s\), hash chain intact from record 8/);

    // Records cut from the end leave the chain intact; the checkpoint shows them.
    const checkpoint = /newest: record (\d+), hash (\S+)/.exec(after.out)!;
    const db = new Database(join(dirs[0]!, 'gatehouse.db'));
    db.prepare('DELETE FROM decision_log WHERE seq = ?').run(Number(checkpoint[1]));
    db.close();
    const cutShort = await cli(['decisions', 'verify', '--holds', `${checkpoint[1]}:${checkpoint[2]}`], env);
    assert.equal(cutShort.code, 1, cutShort.out);
    assert.match(
      cutShort.out,
      /^ok: 1 record\(s\)[^\n]*\nBROKEN: the log does not hold record 9: records were cut from its end\n$/,
    );

    // Only the admin prunes.
    const res = await fetch(`${server.url}/v1/decisions/prune`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ before: cut }),
    });
    assert.equal(res.status, 401);
    const noBefore = await fetch(`${server.url}/v1/decisions/prune`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${server.adminToken}` },
      body: '{}',
    });
    assert.equal(noBefore.status, 400);
  });

  test('serve --decision-retention prunes what is older, on its own', async () => {
    const { server, env } = await start(['--decision-retention', '2s', '--log-level', 'info']);
    for (let i = 1; i <= 4; i++) await decideAcmeOrders(server.url, server.adminToken, `/orders/${i}`);
    await sleep(2200);
    const kept = await decideAcmeOrders(server.url, server.adminToken, '/orders/kept');
    let left: { decisionId: string }[] = [];
    for (let i = 0; i < 40; i++) {
      left = await exported(env);
      if (left.length === 1) break;
      await sleep(100);
    }
    assert.deepEqual(
      left.map((r) => r.decisionId),
      [kept],
    );
    // In one prune or two (the first may run before the kept decision, and keep the newest then).
    // The prune commits before the server logs it, so the export can see it first: wait for the line.
    const prunedLogged = () =>
      server
        .stderr()
        .split('\n')
        .filter((l) => l.includes('"event":"decision_log_pruned"'))
        .reduce((n, l) => n + (JSON.parse(l) as { pruned: number }).pruned, 0);
    for (let i = 0; i < 40 && prunedLogged() < 4; i++) await sleep(100);
    assert.equal(prunedLogged(), 4, server.stderr());
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    assert.match(metrics, /^gatehouse_decision_log_pruned_total 4$/m);
    assert.match(metrics, /^gatehouse_decision_log_prune_failures_total 0$/m);
    const verify = await cli(['decisions', 'verify'], env);
    assert.equal(verify.code, 0, verify.out);
  });
});
