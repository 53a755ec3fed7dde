/**
 * Turns a driver error into the port's error codes, once, for both
 * adapters. Messages name the operation and the record, never SQL; the
 * driver's error stays attached as `cause` for the log.
 */
import { GatehouseError } from '../../core/errors.js';
import type { SqlFailure } from './sql-driver.js';

/**
 * `action` says what was attempted, in the words of a message
 * (``create entry `ent_1` ``). A `GatehouseError` passes through unchanged.
 */
export function storeFailure(action: string, error: unknown, failure: SqlFailure): GatehouseError {
  if (error instanceof GatehouseError) return error;
  const fields = failure.columns?.map(fieldName).join(', ');
  switch (failure.kind) {
    case 'unique':
      return new GatehouseError(
        'store_conflict',
        `cannot ${action}: ${fields ? `${fields} already taken by a stored record` : 'a stored record has the same key'}`,
        { cause: error },
      );
    case 'foreign_key':
      return new GatehouseError(
        'store_conflict',
        `cannot ${action}: ${fields ? `${fields} names no stored record` : 'a record it refers to does not exist'}`,
        { cause: error },
      );
    case 'constraint':
      return new GatehouseError('store_conflict', `cannot ${action}: a store constraint does not hold`, {
        cause: error,
      });
    case 'other':
      return new GatehouseError(
        'store_error',
        `cannot ${action}: database error${failure.code ? ` ${failure.code}` : ''}`,
        { cause: error },
      );
  }
}

/** `spiffe_id` → `spiffeId`: the port's name for a column. */
function fieldName(column: string): string {
  return column.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}
