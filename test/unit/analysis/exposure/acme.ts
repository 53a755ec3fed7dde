/** The example estate (examples/acme/), loaded once for the exposure tests. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { ObservedRecord } from '../../../../src/core/analysis/exposure/index.js';
import { loadInventory } from '../../../../src/core/identity/inventory.js';
import { parsePolicy } from '../../../../src/core/policy/index.js';
import { root } from './exposure-cases.js';

const dir = join(root, 'examples/acme/policy');
export const acmeSources = readdirSync(dir)
  .filter((f) => f.endsWith('.yaml'))
  .sort()
  .map((f) => ({ file: `examples/acme/policy/${f}`, text: readFileSync(join(dir, f), 'utf8') }));
export const acmePolicy = parsePolicy(acmeSources);
export const acmeInventory = loadInventory(
  parse(readFileSync(join(root, 'examples/acme/inventory.yaml'), 'utf8')),
);
export const acmeNow = Date.parse(acmeInventory.generatedAt!);
export const acmeRecords = (): ObservedRecord[] =>
  readFileSync(join(root, 'examples/acme/decisions.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as ObservedRecord);
