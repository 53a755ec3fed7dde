/**
 * Runs the real `gatehouse proxy` process (the built bin) on a random
 * loopback port, for integration tests.
 */
import { spawnGatehouse } from './server-process.js';

export interface ProxyProcess {
  url: string;
  /** Where `/metrics` is served, when started with `--metrics-listen`. */
  metrics: string | undefined;
  stderr(): string;
  stop(): Promise<number | null>;
}

/**
 * Starts `gatehouse proxy --listen 127.0.0.1:0 ARGS` and waits until it
 * listens and, when `synced`, until it has its first policy.
 */
export async function startProxy(args: string[], options: { synced: boolean }): Promise<ProxyProcess> {
  const p = await spawnGatehouse(
    'proxy',
    ['proxy', '--listen', '127.0.0.1:0', ...args],
    { GATEHOUSE_TOKEN: '', GATEHOUSE_SERVER: '' },
    (out, err) => {
      const m = /listening\s+(https?:\/\/\S+)/.exec(out);
      return m && (!options.synced || err.includes('"proxy_synced"')) ? m[1] : undefined;
    },
  );
  const metrics = /metrics\s+(http:\/\/\S+)\/metrics/.exec(p.stdout())?.[1];
  return { url: p.found, metrics, stderr: p.stderr, stop: p.stop };
}
