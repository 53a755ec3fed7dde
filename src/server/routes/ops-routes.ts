/**
 * Liveness and readiness. `/healthz` answers while the process runs;
 * `/readyz` only while every check passes (store reachable, keys loaded,
 * the decision log able to take records, not shutting down).
 */
import type { Router } from '../router.js';

export type ReadinessCheck = () => Promise<string | undefined> | string | undefined;

export function opsRoutes(router: Router, checks: Record<string, ReadinessCheck>): void {
  router.add('GET', '/healthz', () => ({ status: 200, body: { status: 'ok' } }));
  router.add('GET', '/readyz', async () => {
    const failed: Record<string, string> = {};
    for (const [name, check] of Object.entries(checks)) {
      try {
        const why = await check();
        if (why) failed[name] = why;
      } catch (err) {
        failed[name] = (err as Error).message;
      }
    }
    return Object.keys(failed).length
      ? { status: 503, body: { status: 'unavailable', failed } }
      : { status: 200, body: { status: 'ready' } };
  });
}
