export { openSqliteIdentityStore } from './sqlite/sqlite-identity-store.js';
export type { SqliteIdentityStoreOptions } from './sqlite/sqlite-identity-store.js';
export { openPostgresIdentityStore } from './postgres/postgres-identity-store.js';
export type { PostgresIdentityStoreOptions } from './postgres/postgres-identity-store.js';
export { openSqliteDecisionLog } from './sqlite/sqlite-decision-log.js';
export type { SqliteDecisionLogOptions } from './sqlite/sqlite-decision-log.js';
export { openPostgresDecisionLog } from './postgres/postgres-decision-log.js';
export type { PostgresDecisionLogOptions } from './postgres/postgres-decision-log.js';
