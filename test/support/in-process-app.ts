/**
 * A control plane in the test's own process: an in-memory SQLite store and
 * the example policy, on a free loopback port. For tests that talk to its
 * routes and need its authority or clock at hand.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { createApp, type App, type AppDeps } from '../../src/app.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** Starts it; silent unless `deps` gives a logger. Close it with `app.close()`. */
export function inProcessApp(deps: Partial<AppDeps> = {}): Promise<App> {
  return createApp(
    { host: '127.0.0.1', port: 0, db: ':memory:', policy: ['examples/acme/policy'], cwd: root },
    { logger: { log() {} }, ...deps },
  );
}

/** `GET path` with the admin credential the app created; the answer's JSON, after checking it is a 200. */
export async function adminGet<T>(app: App, path: string): Promise<T> {
  const res = await fetch(`${app.url}${path}`, {
    headers: { authorization: `Bearer ${app.createdAdminSecret}` },
  });
  assert.equal(res.status, 200, path);
  return (await res.json()) as T;
}
