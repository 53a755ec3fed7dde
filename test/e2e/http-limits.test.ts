/**
 * The server's request limits are the operator's to set:
 * `--max-body-bytes` and `--body-timeout` on `gatehouse serve`.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCli } from '../support/cli-run.js';
import { built, startServer, type ServerProcess } from '../support/server-process.js';

describe('HTTP limits set on the command line', { skip: built ? false : 'run `npm run build` first' }, () => {
  let dir: string;
  let server: ServerProcess;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-limits-'));
    server = await startServer(dir, ['--max-body-bytes', '2048', '--body-timeout', '300ms']);
  });
  after(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a body over --max-body-bytes is 413, naming the limit', async () => {
    const res = await fetch(`${server.url}/v1/decide`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${server.adminToken}` },
      body: JSON.stringify({ pad: 'x'.repeat(3000) }),
    });
    assert.equal(res.status, 413);
    const body = (await res.json()) as { error: { code: string; message: string } };
    assert.equal(body.error.code, 'body_too_large');
    assert.match(body.error.message, /2048 bytes/);
  });

  test('a body not sent within --body-timeout is 408', async () => {
    const { port } = new URL(server.url);
    const started = Date.now();
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), '127.0.0.1');
      let text = '';
      socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
      socket.on('close', () => resolve(text));
      socket.on('error', reject);
      socket.write(
        'POST /v1/decide HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n' +
          `authorization: Bearer ${server.adminToken}\r\ncontent-type: application/json\r\n` +
          'content-length: 100\r\n\r\n{"a":',
      );
    });
    assert.match(answer, /^HTTP\/1\.1 408 /);
    assert.match(answer, /"body_timeout"/);
    assert.ok(Date.now() - started < 5000, 'answered after the configured timeout, not the default');
  });

  test('bad values are usage errors', async () => {
    for (const [flag, value, message] of [
      ['--max-body-bytes', 'lots', /--max-body-bytes must be a whole number/],
      ['--max-body-bytes', '10', /from 1024/],
      ['--body-timeout', 'forever', /--body-timeout must be a duration/],
    ] as const) {
      const r = await runCli(['serve', flag, value, '--db', ':memory:']);
      assert.equal(r.code, 3, `${flag} ${value}`);
      assert.match(r.err, message);
    }
  });
});
