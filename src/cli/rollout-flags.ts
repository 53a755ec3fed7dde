import { declaredServiceNames } from '../core/analysis/flows/index.js';
import type { InventorySnapshot } from '../core/identity/inventory.js';
import { parsePolicy, type Policy } from '../core/policy/index.js';
import { readInventoryFile } from './inventory-file.js';
import { readPolicySources } from './policy-files.js';
import { parseTimeFlag } from './time-flag.js';
import { UsageError } from './usage-error.js';

/** The flag options of the estate a rollout verb reads: policy, inventory, services in scope. */
export const ESTATE_OPTIONS = {
  policy: { type: 'string', multiple: true },
  inventory: { type: 'string' },
  service: { type: 'string', multiple: true },
} as const;

/** The instant a rollout verb judges at: `--now`, else the inventory's `generatedAt`, else the clock. */
export function rolloutNow(
  flag: string | undefined,
  inventory: InventorySnapshot | undefined,
  clock: () => number,
): number {
  if (flag !== undefined) return parseTimeFlag(flag, '--now');
  if (inventory?.generatedAt) return Date.parse(inventory.generatedAt);
  return clock();
}

/** `--context JSON`: the request context replayed flows carry. */
export function contextFlag(text: string | undefined): Record<string, unknown> | undefined {
  if (text === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`--context must be a JSON object: ${(e as Error).message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new UsageError('--context must be a JSON object such as {"mtls": true}');
  return value as Record<string, unknown>;
}

/** The policy (merged from every `--policy` path) and the inventory, when given. */
export function readEstate(
  policyPaths: readonly string[] | undefined,
  inventoryPath: string | undefined,
  cwd: string,
  flag = '--policy',
): { policy: Policy; inventory?: InventorySnapshot } {
  if (!policyPaths?.length) throw new UsageError(`${flag} is required`);
  const policy = parsePolicy(readPolicySources(policyPaths, cwd));
  return inventoryPath === undefined
    ? { policy }
    : { policy, inventory: readInventoryFile(inventoryPath, cwd) };
}

/** `--service NAME`, repeatable: every name must be a declared service. */
export function serviceFlag(
  names: readonly string[] | undefined,
  policies: readonly Policy[],
): string[] | undefined {
  if (!names?.length) return undefined;
  const known = declaredServiceNames(policies);
  for (const n of names) if (!known.has(n)) throw new UsageError(`unknown service \`${n}\` in --service`);
  return [...new Set(names)];
}
