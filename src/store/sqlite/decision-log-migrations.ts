/**
 * The SQLite schema of the decision log. It is versioned in a ledger of its
 * own (`decision_log_migrations`), apart from the identity store's
 * `schema_migrations`, so that both stores can live in one file and each
 * evolve on its own. The record is kept as the canonical JSON text it was
 * hashed from; the other columns are copies of its fields for the filters.
 */
import type { MigrationSet } from '../sql/migrate.js';

export const SQLITE_DECISION_LOG_MIGRATIONS: MigrationSet = {
  table: 'decision_log_migrations',
  ledger: `CREATE TABLE IF NOT EXISTS decision_log_migrations (
    version INTEGER PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    applied_at TEXT NOT NULL
  ) STRICT`,
  migrations: [
    {
      version: 1,
      name: 'decision_log',
      statements: [
        // INTEGER PRIMARY KEY is the rowid: records are stored in sequence order.
        `CREATE TABLE decision_log (
          seq INTEGER PRIMARY KEY NOT NULL,
          decided_at TEXT NOT NULL,
          decision_id TEXT NOT NULL,
          source_spiffe_id TEXT NOT NULL,
          service TEXT NOT NULL,
          verdict TEXT NOT NULL,
          hash TEXT NOT NULL,
          record_json TEXT NOT NULL
        ) STRICT`,
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
          id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
          seq INTEGER NOT NULL,
          hash TEXT NOT NULL,
          pruned_at TEXT NOT NULL,
          pruned INTEGER NOT NULL
        ) STRICT`,
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
