/**
 * The PostgreSQL schema of the decision log: the same table and columns as
 * the SQLite schema, in native types, versioned in its own ledger
 * (`decision_log_migrations`) so that it can share a schema with the
 * identity store. The record is `text`, not `json`: it must come back byte
 * for byte as it was hashed.
 */
import type { MigrationSet } from '../sql/migrate.js';

export const POSTGRES_DECISION_LOG_MIGRATIONS: MigrationSet = {
  table: 'decision_log_migrations',
  ledger: `CREATE TABLE IF NOT EXISTS decision_log_migrations (
    version integer PRIMARY KEY,
    name text NOT NULL,
    applied_at timestamptz NOT NULL
  )`,
  migrations: [
    {
      version: 1,
      name: 'decision_log',
      statements: [
        `CREATE TABLE decision_log (
          seq bigint PRIMARY KEY,
          decided_at timestamptz NOT NULL,
          decision_id text NOT NULL,
          source_spiffe_id text NOT NULL,
          service text NOT NULL,
          verdict text NOT NULL,
          hash text NOT NULL,
          record_json text NOT NULL
        )`,
        'CREATE INDEX decision_log_decided_at ON decision_log (decided_at)',
        'CREATE INDEX decision_log_source ON decision_log (source_spiffe_id, seq)',
        'CREATE INDEX decision_log_service ON decision_log (service, seq)',
        'CREATE INDEX decision_log_verdict ON decision_log (verdict, seq)',
      ],
    },
    {
      version: 2,
      name: 'decision_log_anchor',
      statements: [
        // The last record pruned (docs/decision-log.md, "Retention"): the stored log continues it.
        `CREATE TABLE decision_log_anchor (
          id integer PRIMARY KEY CHECK (id = 1),
          seq bigint NOT NULL,
          hash text NOT NULL,
          pruned_at timestamptz NOT NULL,
          pruned bigint NOT NULL
        )`,
      ],
    },
    {
      version: 3,
      name: 'decision_log_decided_at_id',
      statements: [
        // A shipped record is looked for by its time and decision id in its append's own
        // transaction (docs/decision-log.md): with the id in the time index that is one seek
        // instead of a read of every record of the same millisecond. Time ranges read it as before.
        'CREATE INDEX decision_log_decided_at_id ON decision_log (decided_at, decision_id)',
        'DROP INDEX decision_log_decided_at',
      ],
    },
  ],
};
