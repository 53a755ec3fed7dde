/**
 * The answer of a decision log's append when it already holds some of the
 * records that were to be stored only once (`DecisionLogAppendOptions.onlyNew`):
 * nothing was stored, and the writer chains the batch again without them.
 */
import { GatehouseError } from '../errors.js';

export class RecordsAlreadyLogged extends GatehouseError {
  /** Where the held records are among the append's records, in order. */
  readonly indexes: readonly number[];

  /** `held`: each held record's index among the append's records and its decision id. */
  constructor(action: string, held: readonly { index: number; decisionId: string }[]) {
    const ids = [...new Set(held.map((h) => h.decisionId))];
    const shown = ids.slice(0, 3).map((id) => `\`${id}\``);
    const more = ids.length > 3 ? ` and ${ids.length - 3} more` : '';
    super('store_conflict', `cannot ${action}: the log already holds decision ${shown.join(', ')}${more}`);
    this.name = 'RecordsAlreadyLogged';
    this.indexes = held.map((h) => h.index).sort((a, b) => a - b);
  }
}

export function isRecordsAlreadyLogged(error: unknown): error is RecordsAlreadyLogged {
  return error instanceof RecordsAlreadyLogged;
}
