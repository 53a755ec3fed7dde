/**
 * `gatehouse decisions --follow` against a real server process: the backlog
 * oldest first, then each new matching decision once, through a restart of
 * the server, until interrupted.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { decideAcmeOrders } from '../support/acme-decision.js';
import { built, spawnGatehouse, startServer, type ServerProcess } from '../support/server-process.js';

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-follow-'));
let server: ServerProcess | undefined;
after(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function until(what: string, check: () => boolean): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`timed out waiting for ${what}`);
}

test(
  'follows the log: backlog, new decisions once, filters, a server restart',
  { skip: !built },
  async () => {
    const policy = ['--policy', 'examples/acme/policy', '--seed', 'examples/acme/inventory.yaml'];
    server = await startServer(dir, policy);
    const { url, adminToken } = server;
    // Without mTLS the orders permission does not hold: a deny the filter leaves out.
    for (let i = 1; i <= 3; i++) await decideAcmeOrders(url, adminToken, `/orders/${i}`, true);
    await decideAcmeOrders(url, adminToken, '/orders/denied-1', false);

    const watch = await spawnGatehouse(
      'decisions --follow',
      [
        'decisions',
        '--follow',
        '--verdict',
        'allow',
        '--limit',
        '2',
        '--interval',
        '100ms',
        '--output',
        'json',
      ],
      { GATEHOUSE_SERVER: url, GATEHOUSE_TOKEN: adminToken },
      (out) => (out.split('\n').length > 2 ? 'ready' : undefined),
    );
    const paths = () =>
      watch
        .stdout()
        .split('\n')
        .filter(Boolean)
        .map((l) => (JSON.parse(l) as { action: { path: string } }).action.path);
    try {
      assert.deepEqual(paths(), ['/orders/2', '/orders/3'], 'the last two allows, oldest first');
      await decideAcmeOrders(url, adminToken, '/orders/4', true);
      await decideAcmeOrders(url, adminToken, '/orders/denied-2', false);
      await decideAcmeOrders(url, adminToken, '/orders/5', true);
      await until('two new decisions', () => paths().length === 4);

      // The server goes away and comes back on the same address: the watch waits, then goes on.
      const port = new URL(url).port;
      await server.stop();
      server = undefined;
      await until('the watch to notice', () => /still trying/.test(watch.stderr()));
      server = await startServer(dir, [...policy, '--listen', `127.0.0.1:${port}`]);
      await decideAcmeOrders(server.url, adminToken, '/orders/6', true);
      await until('the decision after the restart', () => paths().length === 5);
      assert.match(watch.stderr(), /is back/);
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(
        paths(),
        ['/orders/2', '/orders/3', '/orders/4', '/orders/5', '/orders/6'],
        'each once',
      );
    } finally {
      watch.child.kill('SIGINT');
    }
    const code = await new Promise<number | null>((resolve) =>
      watch.child.exitCode !== null ? resolve(watch.child.exitCode) : watch.child.once('exit', resolve),
    );
    assert.equal(code, 0, 'Ctrl-C ends the watch cleanly');
  },
);

test('--follow refuses --until and --oldest-first', { skip: !built }, async () => {
  const { runGatehouse } = await import('../support/server-process.js');
  const a = await runGatehouse(['decisions', '--follow', '--until', '2026-01-01'], {});
  assert.equal(a.code, 3);
  assert.match(a.err, /--follow and --until do not go together/);
  const b = await runGatehouse(['decisions', '--follow', '--interval', '1ms'], {});
  assert.equal(b.code, 3);
  assert.match(b.err, /--interval must be a duration/);
});
