import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse } from 'yaml';
import { GatehouseError } from '../core/errors.js';
import { loadInventory, type InventorySnapshot } from '../core/identity/inventory.js';
import { fileProblem } from './file-problem.js';

/**
 * Reads an inventory snapshot (docs/inventory.md) from a YAML or JSON file.
 * @throws GatehouseError `entry_invalid` for a file that cannot be read or is not a valid inventory
 */
export function readInventoryFile(path: string, cwd: string): InventorySnapshot {
  let text: string;
  try {
    text = readFileSync(resolve(cwd, path), 'utf8');
  } catch (e) {
    throw new GatehouseError('entry_invalid', `cannot read inventory \`${path}\`: ${fileProblem(e)}`);
  }
  let value: unknown;
  try {
    value = parse(text, { prettyErrors: false });
  } catch (e) {
    throw new GatehouseError(
      'entry_invalid',
      `${path}: cannot parse inventory: ${(e as Error).message.split('\n')[0]}`,
    );
  }
  return loadInventory(value, path);
}
