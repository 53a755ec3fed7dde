/**
 * Runs the real `gatehouse proxy` process (the built bin) on a random
 * loopback port, for integration tests.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnGatehouse } from './server-process.js';

export interface ProxyProcess {
  url: string;
  /** Where `/metrics` is served, when started with `--metrics-listen`. */
  metrics: string | undefined;
  stdout(): string;
  stderr(): string;
  /** SIGTERM and wait for exit; returns the exit code. */
  stop(): Promise<number | null>;
  child: ChildProcess;
}

/**
 * Starts `gatehouse proxy --listen 127.0.0.1:0 ARGS` and waits until it
 * listens and, when `synced`, until it has its first policy. Without
 * `--decision-spool` in `args`, the proxy spools into a directory of its
 * own, removed when it is stopped.
 */
export async function startProxy(args: string[], options: { synced: boolean }): Promise<ProxyProcess> {
  const own = args.includes('--decision-spool') ? undefined : mkdtempSync(join(tmpdir(), 'gatehouse-spool-'));
  const spool = own === undefined ? [] : ['--decision-spool', own];
  const p = await spawnGatehouse(
    'proxy',
    ['proxy', '--listen', '127.0.0.1:0', ...spool, ...args],
    { GATEHOUSE_TOKEN: '', GATEHOUSE_SERVER: '' },
    (out, err) => {
      const m = /listening\s+(https?:\/\/\S+)/.exec(out);
      return m && (!options.synced || err.includes('"proxy_synced"')) ? m[1] : undefined;
    },
  ).catch((e: unknown) => {
    if (own !== undefined) rmSync(own, { recursive: true, force: true });
    throw e;
  });
  const metrics = /metrics\s+(http:\/\/\S+)\/metrics/.exec(p.stdout())?.[1];
  return {
    url: p.found,
    metrics,
    stdout: p.stdout,
    stderr: p.stderr,
    child: p.child,
    stop: async () => {
      const code = await p.stop();
      if (own !== undefined) rmSync(own, { recursive: true, force: true });
      return code;
    },
  };
}
