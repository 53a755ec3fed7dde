export { openSqliteIdentityStore } from './sqlite/sqlite-identity-store.js';
export type { SqliteIdentityStoreOptions } from './sqlite/sqlite-identity-store.js';
export { openPostgresIdentityStore } from './postgres/postgres-identity-store.js';
export type { PostgresIdentityStoreOptions } from './postgres/postgres-identity-store.js';
