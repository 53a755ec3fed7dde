/**
 * The PostgreSQL server the contract tests run against: where it is, a
 * schema name of a test's own, and whether it answers. An unreachable server
 * fails the run: CI starts one, and a silent skip would hide that an adapter
 * went untested.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const TEST_PG_URL = process.env['GATEHOUSE_TEST_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A schema name no other run uses: `<prefix>_<pid>_<random>`. */
export function testSchemaName(prefix: string): string {
  return `${prefix}_${process.pid}_${randomBytes(4).toString('hex')}`;
}

/** The URL without its password, for messages. */
function shown(text: string): string {
  try {
    const u = new URL(text);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return text;
  }
}

/** Why the server cannot be used, with how to start it; undefined when it answers. */
export async function postgresUnreachable(): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: TEST_PG_URL, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return undefined;
  } catch (error) {
    return (
      `PostgreSQL is not reachable at ${shown(TEST_PG_URL)}: ${(error as Error).message || String(error)}. ` +
      'Start the local server with `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start` ' +
      '(trust auth, user postgres, database test), or point GATEHOUSE_TEST_PG_URL at another server'
    );
  } finally {
    await client.end().catch(() => undefined);
  }
}
