/**
 * The identity store over any {@link SqlDriver}: every query of the port,
 * written once in the SQL that SQLite and PostgreSQL share (`?`
 * placeholders, `ON CONFLICT`, `RETURNING`). Adapters supply the driver and
 * the schema.
 */
import { GatehouseError } from '../../core/errors.js';
import type { CredentialFilter, EntryFilter, IdentityStore } from '../../core/ports.js';
import {
  adminCredentialFromRow,
  adminCredentialRow,
  credentialFromRow,
  credentialRow,
  entryFromRow,
  entryRow,
  grantFromRow,
  grantRow,
  integer,
  joinTokenFromRow,
  joinTokenRow,
  oidcIssuerFromRow,
  oidcIssuerRow,
  policyActivationFromRow,
  policyVersionFromRow,
  policyVersionRow,
  revocationFromRow,
  revocationRow,
  signingKeyFromRow,
  signingKeyRow,
  type RowValues,
} from './records.js';
import type { SqlDriver, SqlRow, SqlValue } from './sql-driver.js';
import { storeFailure } from './store-failure.js';
import { storedTime } from './stored-time.js';

/**
 * Lists are ordered by time, then key, so every adapter answers in the same
 * order: entries by `createdAt`, credentials by `issuedAt`, grants by
 * `startedAt`, signing keys and OIDC issuers by `createdAt`, revocations by
 * `revokedAt`. Timestamps are stored and returned in canonical form (see
 * stored-time.ts). `deleteSigningKey` of an unknown kid does nothing;
 * `touchEntry` and `updateEntry` of an unknown id fail with `store_not_found`.
 * After `close` (which may be called again) every method fails with `store_error`.
 * References (an entry of a credential, grant or join token; the grant of a
 * credential) must name stored records, else `store_conflict`.
 */
export function createSqlIdentityStore(driver: SqlDriver): IdentityStore {
  let closed = false;
  async function attempt<T>(action: string, work: () => Promise<T>): Promise<T> {
    if (closed) throw new GatehouseError('store_error', `cannot ${action}: the store is closed`);
    try {
      return await work();
    } catch (error) {
      throw storeFailure(action, error, driver.describeFailure(error));
    }
  }

  async function one<T>(sql: string, params: readonly SqlValue[], read: (row: SqlRow) => T) {
    const [row] = await driver.rows(sql, params);
    return row === undefined ? undefined : read(row);
  }

  const store: IdentityStore = {
    createEntry: (entry) =>
      attempt(`create entry \`${entry.id}\``, async () => {
        await driver.run(...insert('entries', entryRow(entry)));
      }),

    updateEntry: (entry) =>
      attempt(`update entry \`${entry.id}\``, async () => {
        const { id: _id, ...rest } = entryRow(entry);
        const columns = Object.keys(rest);
        const changed = await driver.run(
          `UPDATE entries SET ${columns.map((c) => `${c} = ?`).join(', ')} WHERE id = ?`,
          [...Object.values(rest), entry.id],
        );
        if (changed === 0) throw notFound('entry', entry.id);
      }),

    getEntry: (id) =>
      attempt(`read entry \`${id}\``, () => one('SELECT * FROM entries WHERE id = ?', [id], entryFromRow)),

    getEntryBySpiffeId: (spiffeId) =>
      attempt(`read entry of \`${spiffeId}\``, () =>
        one('SELECT * FROM entries WHERE spiffe_id = ?', [spiffeId], entryFromRow),
      ),

    listEntries: (filter: EntryFilter = {}) =>
      attempt('list entries', async () => {
        const where = conditions({
          status: filter.status,
          kind: filter.kind,
          owner: filter.owner,
          spiffe_id: filter.spiffeId,
        });
        if (filter.oidcIssuer !== undefined)
          // In the database: an attestation needs only the entries that federate with its issuer.
          where.add(driver.jsonArrayHolds('attestation', ['type', 'issuer']), 'oidc', filter.oidcIssuer);
        if (filter.after !== undefined) {
          // The listing's order is (created_at, id): strictly after the given entry in it.
          const at = storedTime(filter.after.createdAt, 'after.createdAt');
          where.add('(created_at > ? OR (created_at = ? AND id > ?))', at, at, filter.after.id);
        }
        let limit = '';
        if (filter.limit !== undefined) {
          if (!Number.isSafeInteger(filter.limit) || filter.limit < 1)
            throw new GatehouseError(
              'store_error',
              `invalid entry limit \`${filter.limit}\`: want a whole number of 1 or more`,
            );
          limit = ` LIMIT ${filter.limit}`;
        }
        const rows = await driver.rows(
          `SELECT * FROM entries${where.sql} ORDER BY created_at, id${limit}`,
          where.params,
        );
        return rows.map(entryFromRow);
      }),

    touchEntry: (id, seenAt) =>
      attempt(`touch entry \`${id}\``, async () => {
        const at = storedTime(seenAt, 'lastSeenAt');
        const changed = await driver.run(
          'UPDATE entries SET last_seen_at = ? WHERE id = ? AND (last_seen_at IS NULL OR last_seen_at < ?)',
          [at, id, at],
        );
        if (changed > 0) return;
        const [found] = await driver.rows('SELECT id FROM entries WHERE id = ?', [id]);
        if (!found) throw notFound('entry', id);
      }),

    putSigningKey: (key) =>
      attempt(`store signing key \`${key.kid}\``, async () => {
        await driver.run(
          ...upsert('signing_keys', ['kid'], signingKeyRow(key), {
            // Never moves back (canonical times in SQLite: text order is time order).
            signed_until: `CASE WHEN signing_keys.signed_until IS NOT NULL AND (excluded.signed_until IS NULL
              OR signing_keys.signed_until > excluded.signed_until) THEN signing_keys.signed_until
              ELSE excluded.signed_until END`,
          }),
        );
      }),

    withLock: async (name, work) => {
      if (closed)
        throw new GatehouseError('store_error', `cannot take the lock ${name}: the store is closed`);
      // The work's own errors pass through as they are; the lock's are the store's.
      let inWork = false;
      try {
        return await driver.withLock(name, () => {
          inWork = true;
          return work();
        });
      } catch (error) {
        if (inWork) throw error;
        throw storeFailure(`take the lock ${name}`, error, driver.describeFailure(error));
      }
    },

    reserveSigningKey: (kid, signedUntil) =>
      attempt(`reserve signing key \`${kid}\``, async () => {
        const until = storedTime(signedUntil, `signing key \`${kid}\` signedUntil`);
        await driver.run(
          'UPDATE signing_keys SET signed_until = ? WHERE kid = ? AND (signed_until IS NULL OR signed_until < ?)',
          [until, kid, until],
        );
        const [row] = await driver.rows('SELECT * FROM signing_keys WHERE kid = ?', [kid]);
        return row === undefined ? undefined : signingKeyFromRow(row);
      }),

    listSigningKeys: () =>
      attempt('list signing keys', async () =>
        (await driver.rows('SELECT * FROM signing_keys ORDER BY created_at, kid')).map(signingKeyFromRow),
      ),

    deleteSigningKey: (kid) =>
      attempt(`delete signing key \`${kid}\``, async () => {
        await driver.run('DELETE FROM signing_keys WHERE kid = ?', [kid]);
      }),

    recordCredential: (credential) =>
      attempt(`record credential \`${credential.id}\``, async () => {
        await driver.run(...insert('credentials', credentialRow(credential)));
      }),

    getCredential: (id) =>
      attempt(`read credential \`${id}\``, () =>
        one('SELECT * FROM credentials WHERE id = ?', [id], credentialFromRow),
      ),

    listCredentials: (filter: CredentialFilter = {}) =>
      attempt('list credentials', async () => {
        const where = conditions({
          spiffe_id: filter.spiffeId,
          entry_id: filter.entryId,
          grant_id: filter.grantId,
        });
        if (filter.liveAt !== undefined) where.add('expires_at > ?', storedTime(filter.liveAt, 'liveAt'));
        const rows = await driver.rows(
          `SELECT * FROM credentials${where.sql} ORDER BY issued_at, id`,
          where.params,
        );
        return rows.map(credentialFromRow);
      }),

    addRevocation: (revocation) =>
      attempt(`revoke ${revocation.target} \`${revocation.value}\``, async () => {
        // A repeat may only move `revokedAt` forward: that widens what it covers (an entry
        // disabled, re-enabled and disabled again); moving it back would un-revoke credentials.
        // Each change takes the next number, in turn with every other writer, so changes commit
        // in their numbers' order and a reader never sees one without those before it.
        // INVARIANT: the last change is never deleted (pruneRevocations), so the largest number only grows.
        const [sql, params] = insert('revocations', revocationRow(revocation), {
          change_seq: '(SELECT COALESCE(MAX(change_seq), 0) + 1 FROM revocations)',
        });
        await driver.runInTurn(
          'revocation-changes',
          `${sql} ON CONFLICT (target, value) DO UPDATE SET revoked_at = excluded.revoked_at,` +
            ' reason = excluded.reason, expires_at = excluded.expires_at, change_seq = excluded.change_seq' +
            ' WHERE excluded.revoked_at > revocations.revoked_at',
          params,
        );
      }),

    listRevocations: () =>
      attempt('list revocations', async () =>
        (await driver.rows('SELECT * FROM revocations ORDER BY revoked_at, target, value')).map(
          revocationFromRow,
        ),
      ),

    pruneRevocations: (before) =>
      attempt('prune revocations', () =>
        driver.runInTurn(
          'revocation-changes',
          'DELETE FROM revocations WHERE expires_at < ?' +
            ' AND change_seq < (SELECT MAX(change_seq) FROM revocations)',
          [storedTime(before, 'before')],
        ),
      ),

    listRevocationChanges: (after) =>
      attempt(`list revocation changes after ${after}`, async () => {
        const changes = (rows: SqlRow[], since: number, at?: SqlRow) => ({
          revocations: rows.map(revocationFromRow),
          through: rows.length ? integer(rows.at(-1)!, 'change_seq') : since,
          ...(at ? { at: revocationFromRow(at) } : {}),
        });
        // Change `after` and those after it, or else the last change: one read tells what is new,
        // whether `after` is a number this store gave, and what it names. Each half is a seek of
        // the change index (a bound the planner can see, where a computed one made PostgreSQL
        // scan the table).
        const rows = await driver.rows(
          'SELECT * FROM revocations WHERE change_seq >= ? UNION ALL' +
            ' SELECT * FROM (SELECT * FROM revocations ORDER BY change_seq DESC LIMIT 1) AS last' +
            ' WHERE last.change_seq < ? ORDER BY change_seq',
          [after, after],
        );
        if (rows.length === 0) return changes([], 0);
        const first = integer(rows[0]!, 'change_seq');
        if (first > after) return changes(rows, after);
        if (first === after) return changes(rows.slice(1), after, rows[0]);
        // Beyond the last change: every revocation.
        return changes(await driver.rows('SELECT * FROM revocations ORDER BY change_seq'), 0);
      }),

    createJoinToken: (token) =>
      attempt(`create join token for entry \`${token.entryId}\``, async () => {
        await driver.run(...insert('join_tokens', joinTokenRow(token)));
      }),

    consumeJoinToken: (hash, now) =>
      attempt('consume join token', async () => {
        const at = storedTime(now, 'now');
        // INVARIANT: single use. One conditional UPDATE decides; of concurrent
        // callers only the first to write sees `used_at IS NULL` and gets the row.
        return one(
          'UPDATE join_tokens SET used_at = ? WHERE hash = ? AND used_at IS NULL AND expires_at > ? RETURNING *',
          [at, hash, at],
          joinTokenFromRow,
        );
      }),

    putOidcIssuer: (issuer) =>
      attempt(`store OIDC issuer \`${issuer.issuer}\``, async () => {
        await driver.run(...upsert('oidc_issuers', ['issuer'], oidcIssuerRow(issuer)));
      }),

    listOidcIssuers: () =>
      attempt('list OIDC issuers', async () =>
        (await driver.rows('SELECT * FROM oidc_issuers ORDER BY created_at, issuer')).map(oidcIssuerFromRow),
      ),

    deleteOidcIssuer: (issuer) =>
      attempt(`delete OIDC issuer \`${issuer}\``, async () => {
        return (await driver.run('DELETE FROM oidc_issuers WHERE issuer = ?', [issuer])) > 0;
      }),

    createGrant: (grant) =>
      attempt(`create grant \`${grant.id}\``, async () => {
        await driver.run(...insert('grants', grantRow(grant)));
      }),

    getGrant: (id) =>
      attempt(`read grant \`${id}\``, () => one('SELECT * FROM grants WHERE id = ?', [id], grantFromRow)),

    endGrant: (id, endedAt) =>
      attempt(`end grant \`${id}\``, () =>
        // A grant ends once; ending it again keeps the first `endedAt`.
        one(
          'UPDATE grants SET ended_at = COALESCE(ended_at, ?) WHERE id = ? RETURNING *',
          [storedTime(endedAt, 'endedAt'), id],
          grantFromRow,
        ),
      ),

    listGrants: (filter = {}) =>
      attempt('list grants', async () => {
        const where = conditions({ entry_id: filter.entryId });
        if (filter.activeAt !== undefined) {
          const at = storedTime(filter.activeAt, 'activeAt');
          where.add('started_at <= ?', at);
          where.add('expires_at > ?', at);
          where.add('(ended_at IS NULL OR ended_at > ?)', at);
        }
        const rows = await driver.rows(
          `SELECT * FROM grants${where.sql} ORDER BY started_at, id`,
          where.params,
        );
        return rows.map(grantFromRow);
      }),

    createAdminCredential: (credential) =>
      attempt(`create admin credential \`${credential.id}\``, async () => {
        await driver.run(...insert('admin_credentials', adminCredentialRow(credential)));
      }),

    getAdminCredentialByHash: (hash) =>
      attempt('read admin credential by hash', () =>
        one('SELECT * FROM admin_credentials WHERE hash = ?', [hash], adminCredentialFromRow),
      ),

    countAdminCredentials: () =>
      attempt('count admin credentials', async () => {
        const [row] = await driver.rows('SELECT COUNT(*) AS n FROM admin_credentials');
        return Number(row?.['n'] ?? 0);
      }),

    putPolicyVersion: (version) =>
      attempt(`store policy version \`${version.revision}\``, async () => {
        const [sql, params] = insert('policy_versions', policyVersionRow(version));
        await driver.run(`${sql} ON CONFLICT (revision) DO NOTHING`, params);
      }),

    getPolicyVersion: (revision) =>
      attempt(`read policy version \`${revision}\``, () =>
        one('SELECT * FROM policy_versions WHERE revision = ?', [revision], policyVersionFromRow),
      ),

    listPolicyVersions: () =>
      attempt('list policy versions', async () =>
        (await driver.rows('SELECT * FROM policy_versions ORDER BY created_at DESC, revision DESC')).map(
          policyVersionFromRow,
        ),
      ),

    markPolicyActivated: (revision, at) =>
      attempt(`activate policy version \`${revision}\``, async () => {
        const when = storedTime(at, 'activation time');
        const [row] = await driver.rows(
          'UPDATE policy_versions SET activated_at = ? WHERE revision = ? RETURNING revision',
          [when, revision],
        );
        if (!row) throw notFound('policy version', revision);
        // Numbered in turn with every server's activations: the last number is the active policy.
        const [sql, params] = insert(
          'policy_activations',
          { revision, activated_at: when },
          { n: '(SELECT COALESCE(MAX(n), 0) + 1 FROM policy_activations)' },
        );
        const [activation] = await driver.rowsInTurn('policy-activations', `${sql} RETURNING n`, params);
        return integer(activation!, 'n');
      }),

    latestPolicyActivation: () =>
      attempt('read the latest policy activation', () =>
        one('SELECT * FROM policy_activations ORDER BY n DESC LIMIT 1', [], policyActivationFromRow),
      ),

    getMeta: (key) =>
      attempt(`read meta \`${key}\``, async () => {
        const [row] = await driver.rows('SELECT value FROM meta WHERE name = ?', [key]);
        return row === undefined ? undefined : String(row['value']);
      }),

    setMeta: (key, value) =>
      attempt(`write meta \`${key}\``, async () => {
        await driver.run(...upsert('meta', ['name'], { name: key, value }));
      }),

    close: async () => {
      if (closed) return;
      closed = true;
      await driver.close().catch((error: unknown) => {
        throw storeFailure('close the store', error, driver.describeFailure(error));
      });
    },
  };
  return store;
}

type Statement = [sql: string, params: SqlValue[]];

function insert(
  table: string,
  row: RowValues,
  /** Columns whose value is this expression (the next number, under a lock), not a bound one. */
  computed: Record<string, string> = {},
): Statement {
  const columns = [...Object.keys(row), ...Object.keys(computed)];
  const values = [...Object.keys(row).map(() => '?'), ...Object.values(computed)];
  return [`INSERT INTO ${table} (${columns.join(', ')}) VALUES (${values.join(', ')})`, Object.values(row)];
}

/** Inserts, or replaces every other column of the row with the same `key`. */
function upsert(
  table: string,
  key: readonly string[],
  row: RowValues,
  /** Columns whose new value on a conflict is this expression instead of the inserted one. */
  merge: Record<string, string> = {},
): Statement {
  const [sql, params] = insert(table, row);
  const rest = Object.keys(row).filter((c) => !key.includes(c));
  return [
    `${sql} ON CONFLICT (${key.join(', ')}) DO UPDATE SET ${rest.map((c) => `${c} = ${merge[c] ?? `excluded.${c}`}`).join(', ')}`,
    params,
  ];
}

/** A WHERE clause of equalities for the columns given a value, and more conditions added later. */
function conditions(equal: Record<string, string | undefined>) {
  const parts: string[] = [];
  const params: SqlValue[] = [];
  const where = {
    params,
    get sql() {
      return parts.length ? ` WHERE ${parts.join(' AND ')}` : '';
    },
    add(condition: string, ...values: SqlValue[]) {
      parts.push(condition);
      params.push(...values);
    },
  };
  for (const [column, value] of Object.entries(equal)) {
    if (value !== undefined) where.add(`${column} = ?`, value);
  }
  return where;
}

function notFound(kind: string, id: string): GatehouseError {
  return new GatehouseError('store_not_found', `${kind} \`${id}\` not found`);
}
