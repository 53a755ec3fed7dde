/**
 * `gatehouse proxy --decision-spool-sync`, traced (strace): no answer leaves
 * before the records of its decision are synced to the disk, for requests
 * one at a time, many at once, and the proxy's own denies.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { startHelloEstate, type HelloEstate } from '../support/hello-estate.js';
import { bin, built, cli, root } from '../support/server-process.js';
import { checkSyncs, straceAvailable, tracedNode } from '../support/sync-trace.js';

const skip = !built ? 'run `npm run build` first' : !straceAvailable ? 'strace is not installed' : false;

describe('proxy spool synced to disk', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-spool-sync-'));
  let estate: HelloEstate | undefined;
  after(async () => {
    await estate?.server.stop();
    estate?.closeUpstream();
    rmSync(dir, { recursive: true, force: true });
  });

  test('every answer, allow or deny, leaves after its record is synced', async () => {
    estate = await startHelloEstate(dir);
    const { server, env, upstreamUrl } = estate;
    const nothingToSync = await cli(
      [
        'proxy',
        '--service',
        'hello',
        '--upstream',
        upstreamUrl,
        '--decision-spool',
        'none',
        '--decision-spool-sync',
      ],
      env,
    );
    assert.equal(nothingToSync.code, 3);
    assert.match(nothingToSync.err, /--decision-spool-sync needs a spool/);

    const spool = join(dir, 'hello.spool');
    const trace = join(dir, 'trace');
    const strace = spawn(
      'strace',
      tracedNode(trace, [
        bin,
        'proxy',
        '--listen',
        '127.0.0.1:0',
        '--service',
        'hello',
        '--upstream',
        upstreamUrl,
        '--server',
        server.url,
        '--token-file',
        join(dir, 'admin.token'),
        '--decision-spool',
        spool,
        '--decision-spool-sync',
      ]),
      { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    strace.stdout.on('data', (d: Buffer) => (out += d.toString()));
    strace.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise((r) => strace.once('exit', r));
    for (let i = 0; i < 300 && !(/listening/.test(out) && err.includes('"proxy_synced"')); i++)
      await new Promise((r) => setTimeout(r, 50));
    const url = /listening\s+(http:\/\/\S+)/.exec(out)?.[1];
    assert.ok(url && err.includes('"proxy_synced"'), `the proxy started:\n${out}\n${err}`);
    assert.match(out, /spool\s+\S+hello\.spool\s+\(synced to disk before answers\)/);

    const call = async (path: string, token?: string) => {
      const res = await fetch(`${url}${path}`, {
        headers: token ? { authorization: `Bearer ${token}` } : {},
      });
      await res.arrayBuffer();
      return res.status;
    };
    const { token } = estate;
    // One at a time: each record is written while the upstream works.
    for (let i = 0; i < 10; i++) assert.equal(await call(`/hello/one/${i}`, token), 200);
    // Many at once: the first answer to leave writes the records of all decided since.
    const many = await Promise.all(Array.from({ length: 40 }, (_, i) => call(`/hello/many/${i}`, token)));
    assert.deepEqual(new Set(many), new Set([200]));
    // The proxy's own answers: denied without a credential.
    for (let i = 0; i < 5; i++) assert.equal(await call(`/hello/deny/${i}`), 403);

    const pid = Number(/^(\d+)\s/.exec(readFileSync(trace, 'utf8'))?.[1]);
    process.kill(pid, 'SIGTERM');
    await exited;
    const check = checkSyncs(readFileSync(trace, 'utf8'), spool, (_fd, args) =>
      /^, (\[\{iov_base=)?"HTTP\/1\.1 /.test(args),
    );
    assert.deepEqual(check.problems, []);
    assert.ok(check.checkpoints >= 55, `${check.checkpoints} answers seen in the trace`);
    assert.ok(check.writes >= 1, `${check.writes} spool writes seen in the trace`);
  });
});
