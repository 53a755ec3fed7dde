/**
 * The PostgreSQL schema, one migration per released change; the same tables
 * and columns as the SQLite schema, in native types: timestamps are
 * `timestamptz`; structured fields are `json`, not `jsonb`, so they come back
 * exactly as written (label order included), as from SQLite; nothing queries
 * inside them. Keys compare with the "C" collation so that lists order by
 * bytes, as SQLite orders them, whatever the database's locale.
 */
import type { MigrationSet } from '../sql/migrate.js';

export const POSTGRES_MIGRATIONS: MigrationSet = {
  ledger: `CREATE TABLE IF NOT EXISTS schema_migrations (
    version integer PRIMARY KEY,
    name text NOT NULL,
    applied_at timestamptz NOT NULL
  )`,
  migrations: [
    {
      version: 1,
      name: 'identity_plane',
      statements: [
        `CREATE TABLE entries (
          id text COLLATE "C" PRIMARY KEY,
          spiffe_id text COLLATE "C" NOT NULL UNIQUE,
          kind text NOT NULL,
          owner text,
          description text,
          labels json NOT NULL,
          zone text,
          addresses json,
          attestation json NOT NULL,
          jwt_svid_ttl_seconds integer,
          x509_svid_ttl_seconds integer,
          expires_at timestamptz,
          status text NOT NULL,
          holds_credentials_of json,
          static_secrets json,
          created_at timestamptz NOT NULL,
          updated_at timestamptz NOT NULL,
          last_seen_at timestamptz
        )`,
        'CREATE INDEX entries_created_at ON entries (created_at, id)',
        'CREATE INDEX entries_owner ON entries (owner)',

        `CREATE TABLE signing_keys (
          kid text COLLATE "C" PRIMARY KEY,
          key_use text NOT NULL,
          alg text NOT NULL,
          state text NOT NULL,
          public_jwk json NOT NULL,
          private_key text NOT NULL,
          certificate_pem text,
          created_at timestamptz NOT NULL,
          activated_at timestamptz,
          retired_at timestamptz,
          signed_until timestamptz
        )`,

        `CREATE TABLE grants (
          id text COLLATE "C" PRIMARY KEY,
          entry_id text COLLATE "C" NOT NULL REFERENCES entries (id),
          spiffe_id text COLLATE "C" NOT NULL,
          task text NOT NULL,
          scope json NOT NULL,
          started_at timestamptz NOT NULL,
          expires_at timestamptz NOT NULL,
          ended_at timestamptz,
          requested_by text
        )`,
        'CREATE INDEX grants_entry_id ON grants (entry_id)',
        'CREATE INDEX grants_started_at ON grants (started_at, id)',

        `CREATE TABLE credentials (
          id text COLLATE "C" PRIMARY KEY,
          type text NOT NULL,
          spiffe_id text COLLATE "C" NOT NULL,
          entry_id text COLLATE "C" NOT NULL REFERENCES entries (id),
          kid text NOT NULL,
          audience json,
          grant_id text COLLATE "C" REFERENCES grants (id),
          via text NOT NULL,
          issued_at timestamptz NOT NULL,
          expires_at timestamptz NOT NULL
        )`,
        'CREATE INDEX credentials_issued_at ON credentials (issued_at, id)',
        'CREATE INDEX credentials_spiffe_id ON credentials (spiffe_id)',
        'CREATE INDEX credentials_entry_id ON credentials (entry_id)',
        'CREATE INDEX credentials_grant_id ON credentials (grant_id)',

        `CREATE TABLE revocations (
          target text COLLATE "C" NOT NULL,
          value text COLLATE "C" NOT NULL,
          revoked_at timestamptz NOT NULL,
          reason text,
          expires_at timestamptz,
          PRIMARY KEY (target, value)
        )`,

        `CREATE TABLE join_tokens (
          hash text COLLATE "C" PRIMARY KEY,
          entry_id text COLLATE "C" NOT NULL REFERENCES entries (id),
          created_at timestamptz NOT NULL,
          expires_at timestamptz NOT NULL,
          used_at timestamptz
        )`,
        'CREATE INDEX join_tokens_entry_id ON join_tokens (entry_id)',

        `CREATE TABLE oidc_issuers (
          issuer text COLLATE "C" PRIMARY KEY,
          jwks json,
          jwks_uri text,
          clock_skew_seconds integer,
          created_at timestamptz NOT NULL
        )`,

        `CREATE TABLE admin_credentials (
          id text COLLATE "C" PRIMARY KEY,
          hash text COLLATE "C" NOT NULL UNIQUE,
          created_at timestamptz NOT NULL,
          last_used_at timestamptz
        )`,

        `CREATE TABLE meta (
          name text COLLATE "C" PRIMARY KEY,
          value text NOT NULL
        )`,
      ],
    },
    {
      version: 2,
      name: 'policy_versions',
      statements: [
        `CREATE TABLE policy_versions (
          revision text COLLATE "C" PRIMARY KEY,
          sources json NOT NULL,
          comment text,
          created_at timestamptz NOT NULL,
          activated_at timestamptz
        )`,
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
        'ALTER TABLE revocations ADD COLUMN change_seq bigint NOT NULL DEFAULT 0',
        `UPDATE revocations SET change_seq = numbered.n
          FROM (SELECT target, value, row_number() OVER (ORDER BY revoked_at, target, value) AS n
                FROM revocations) AS numbered
          WHERE revocations.target = numbered.target AND revocations.value = numbered.value`,
        'CREATE UNIQUE INDEX revocations_change_seq ON revocations (change_seq)',
        // A server of an earlier version still running on the store cannot then record a
        // revocation without a number, which the others would never read: it fails instead.
        'ALTER TABLE revocations ALTER COLUMN change_seq DROP DEFAULT',
      ],
    },
    {
      // Every activation of a policy version, numbered in the order it was made by any server
      // of the store: the active policy is the last one, and proxies can tell an older answer.
      version: 4,
      name: 'policy_activations',
      statements: [
        `CREATE TABLE policy_activations (
          n bigint PRIMARY KEY,
          revision text COLLATE "C" NOT NULL,
          activated_at timestamptz NOT NULL
        )`,
        `INSERT INTO policy_activations (n, revision, activated_at)
          SELECT 1, meta.value, COALESCE(v.activated_at, v.created_at)
          FROM meta JOIN policy_versions AS v ON v.revision = meta.value
          WHERE meta.name = 'active_policy_revision'`,
      ],
    },
  ],
};
