import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse } from 'yaml';
import { ownStrings } from '../core/own-strings.js';
import { GatehouseError } from '../core/errors.js';
import { loadInventory, type InventorySnapshot } from '../core/identity/inventory.js';
import { fileProblem } from './file-problem.js';

/**
 * The value of a JSON document; undefined when the text is not JSON. An
 * inventory of a hundred thousand entries is tens of megabytes: JSON.parse
 * reads it in a second, a YAML parser in tens of seconds and gigabytes.
 */
function parseJson(text: string): unknown {
  if (!/^\s*[{[]/.test(text)) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    // Not JSON after all (YAML flow style, or a mistake): the YAML parser says where.
    return undefined;
  }
}

/**
 * Reads an inventory snapshot (docs/inventory.md) from a YAML or JSON file
 * (a JSON file as JSON: of a key given twice, the last counts).
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
    // Strings of their own, not slices of the text: see ownStrings().
    value = parseJson(text) ?? ownStrings(parse(text, { prettyErrors: false }) as unknown);
  } catch (e) {
    throw new GatehouseError(
      'entry_invalid',
      `${path}${where(text, e)}: cannot parse inventory: ${(e as Error).message.split('\n')[0]}`,
    );
  }
  return loadInventory(value, path);
}

/** `:line:col` of a YAML parse error (its `pos` is a character offset), else nothing. */
function where(text: string, e: unknown): string {
  const pos = (e as { pos?: unknown }).pos;
  if (!Array.isArray(pos) || typeof pos[0] !== 'number') return '';
  const before = text.slice(0, pos[0]);
  const line = before.split('\n').length;
  return `:${line}:${pos[0] - before.lastIndexOf('\n')}`;
}
