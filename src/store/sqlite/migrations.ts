/**
 * The SQLite schema, one migration per released change. Tables are STRICT so
 * a value of the wrong type is refused as PostgreSQL would refuse it.
 * Timestamps are TEXT in canonical RFC 3339 form (UTC, milliseconds), so text
 * order is time order; structured fields are JSON TEXT.
 */
import type { MigrationSet } from '../sql/migrate.js';

export const SQLITE_MIGRATIONS: MigrationSet = {
  ledger: `CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    applied_at TEXT NOT NULL
  ) STRICT`,
  migrations: [
    {
      version: 1,
      name: 'identity_plane',
      statements: [
        `CREATE TABLE entries (
          id TEXT PRIMARY KEY NOT NULL,
          spiffe_id TEXT NOT NULL UNIQUE,
          kind TEXT NOT NULL,
          owner TEXT,
          description TEXT,
          labels TEXT NOT NULL,
          zone TEXT,
          addresses TEXT,
          attestation TEXT NOT NULL,
          jwt_svid_ttl_seconds INTEGER,
          x509_svid_ttl_seconds INTEGER,
          expires_at TEXT,
          status TEXT NOT NULL,
          holds_credentials_of TEXT,
          static_secrets TEXT,
          created_at TEXT NOT NULL,
          updated_at TEXT NOT NULL,
          last_seen_at TEXT
        ) STRICT`,
        'CREATE INDEX entries_created_at ON entries (created_at, id)',
        'CREATE INDEX entries_owner ON entries (owner)',

        `CREATE TABLE signing_keys (
          kid TEXT PRIMARY KEY NOT NULL,
          key_use TEXT NOT NULL,
          alg TEXT NOT NULL,
          state TEXT NOT NULL,
          public_jwk TEXT NOT NULL,
          private_key TEXT NOT NULL,
          certificate_pem TEXT,
          created_at TEXT NOT NULL,
          activated_at TEXT,
          retired_at TEXT,
          signed_until TEXT
        ) STRICT`,

        `CREATE TABLE grants (
          id TEXT PRIMARY KEY NOT NULL,
          entry_id TEXT NOT NULL REFERENCES entries (id),
          spiffe_id TEXT NOT NULL,
          task TEXT NOT NULL,
          scope TEXT NOT NULL,
          started_at TEXT NOT NULL,
          expires_at TEXT NOT NULL,
          ended_at TEXT,
          requested_by TEXT
        ) STRICT`,
        'CREATE INDEX grants_entry_id ON grants (entry_id)',
        'CREATE INDEX grants_started_at ON grants (started_at, id)',

        `CREATE TABLE credentials (
          id TEXT PRIMARY KEY NOT NULL,
          type TEXT NOT NULL,
          spiffe_id TEXT NOT NULL,
          entry_id TEXT NOT NULL REFERENCES entries (id),
          kid TEXT NOT NULL,
          audience TEXT,
          grant_id TEXT REFERENCES grants (id),
          via TEXT NOT NULL,
          issued_at TEXT NOT NULL,
          expires_at TEXT NOT NULL
        ) STRICT`,
        'CREATE INDEX credentials_issued_at ON credentials (issued_at, id)',
        'CREATE INDEX credentials_spiffe_id ON credentials (spiffe_id)',
        'CREATE INDEX credentials_entry_id ON credentials (entry_id)',
        'CREATE INDEX credentials_grant_id ON credentials (grant_id)',

        `CREATE TABLE revocations (
          target TEXT NOT NULL,
          value TEXT NOT NULL,
          revoked_at TEXT NOT NULL,
          reason TEXT,
          expires_at TEXT,
          PRIMARY KEY (target, value)
        ) STRICT`,

        `CREATE TABLE join_tokens (
          hash TEXT PRIMARY KEY NOT NULL,
          entry_id TEXT NOT NULL REFERENCES entries (id),
          created_at TEXT NOT NULL,
          expires_at TEXT NOT NULL,
          used_at TEXT
        ) STRICT`,
        'CREATE INDEX join_tokens_entry_id ON join_tokens (entry_id)',

        `CREATE TABLE oidc_issuers (
          issuer TEXT PRIMARY KEY NOT NULL,
          jwks TEXT,
          jwks_uri TEXT,
          clock_skew_seconds INTEGER,
          created_at TEXT NOT NULL
        ) STRICT`,

        `CREATE TABLE admin_credentials (
          id TEXT PRIMARY KEY NOT NULL,
          hash TEXT NOT NULL UNIQUE,
          created_at TEXT NOT NULL,
          last_used_at TEXT
        ) STRICT`,

        `CREATE TABLE meta (
          name TEXT PRIMARY KEY NOT NULL,
          value TEXT NOT NULL
        ) STRICT`,
      ],
    },
    {
      version: 2,
      name: 'policy_versions',
      statements: [
        `CREATE TABLE policy_versions (
          revision TEXT PRIMARY KEY NOT NULL,
          sources TEXT NOT NULL,
          comment TEXT,
          created_at TEXT NOT NULL,
          activated_at TEXT
        ) STRICT`,
        'CREATE INDEX policy_versions_created_at ON policy_versions (created_at, revision)',
      ],
    },
    {
      // Each revocation numbered in the order it was recorded (or replaced), so that proxies and
      // other servers read what is new after a number, not after a time that a clock set back,
      // or another server's slower clock, could place before what they already read.
      version: 3,
      name: 'revocation_changes',
      statements: [
        'ALTER TABLE revocations ADD COLUMN change_seq INTEGER NOT NULL DEFAULT 0',
        `UPDATE revocations SET change_seq = numbered.n
          FROM (SELECT target, value, row_number() OVER (ORDER BY revoked_at, target, value) AS n
                FROM revocations) AS numbered
          WHERE revocations.target = numbered.target AND revocations.value = numbered.value`,
        'CREATE UNIQUE INDEX revocations_change_seq ON revocations (change_seq)',
      ],
    },
    {
      // Every activation of a policy version, numbered in the order it was made by any server
      // of the store: the active policy is the last one, and proxies can tell an older answer.
      version: 4,
      name: 'policy_activations',
      statements: [
        `CREATE TABLE policy_activations (
          n INTEGER PRIMARY KEY NOT NULL,
          revision TEXT NOT NULL,
          activated_at TEXT NOT NULL
        ) STRICT`,
        `INSERT INTO policy_activations (n, revision, activated_at)
          SELECT 1, meta.value, COALESCE(v.activated_at, v.created_at)
          FROM meta JOIN policy_versions AS v ON v.revision = meta.value
          WHERE meta.name = 'active_policy_revision'`,
      ],
    },
  ],
};
