/**
 * An inventory snapshot: the registration entries of a trust domain with the
 * credentials issued to them, their JIT grants and revocations. The server
 * exports one at `GET /v1/inventory`; analysis (audit, blast radius, flow
 * mapping) reads one from there or from a file (docs/inventory.md).
 */
import { createHash } from 'node:crypto';
import { isRealDate, toIsoString } from '../dates.js';
import { GatehouseError } from '../errors.js';
import type { IssuedCredential, Revocation } from './credential.js';
import type { RegistrationEntry } from './entry.js';
import { checkEntryInput, type EntryProblem } from './entry-input.js';
import type { Grant } from './grant.js';

export const INVENTORY_KIND = 'Inventory';

export interface InventorySnapshot {
  trustDomain?: string;
  /** When the snapshot was taken (RFC 3339). */
  generatedAt?: string;
  entries: RegistrationEntry[];
  credentials: IssuedCredential[];
  grants: Grant[];
  revocations: Revocation[];
}

const TOP_FIELDS = new Set([
  'apiVersion',
  'kind',
  'trustDomain',
  'generatedAt',
  'entries',
  'credentials',
  'grants',
  'revocations',
]);

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function isTime(v: unknown): v is string {
  return typeof v === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(v) && isRealDate(v);
}

/** A stable entry id for an inventory entry written without one. */
export function entryIdFor(spiffeId: string): string {
  return `ent_${createHash('sha256').update(spiffeId).digest('hex').slice(0, 20)}`;
}

/**
 * Validates a parsed inventory document (YAML or JSON already turned into a
 * value). Entries without `id` get one derived from their SPIFFE ID; entries
 * without `createdAt`/`updatedAt` take `generatedAt`.
 */
export function inventoryFromObject(value: unknown): {
  inventory?: InventorySnapshot;
  problems: EntryProblem[];
} {
  const problems: EntryProblem[] = [];
  const add = (path: string, message: string) => problems.push({ path, message });
  if (!isObject(value)) return { problems: [{ path: '$', message: 'an inventory must be an object' }] };
  for (const key of Object.keys(value)) if (!TOP_FIELDS.has(key)) add(key, `unknown field \`${key}\``);
  if (value.apiVersion !== 'gatehouse.dev/v1') add('apiVersion', 'must be `gatehouse.dev/v1`');
  if (value.kind !== INVENTORY_KIND) add('kind', `must be \`${INVENTORY_KIND}\``);
  if (value.generatedAt !== undefined && !isTime(value.generatedAt))
    add('generatedAt', 'must be an RFC 3339 date-time');
  if (value.trustDomain !== undefined && typeof value.trustDomain !== 'string')
    add('trustDomain', 'must be a string');
  const generatedAt = isTime(value.generatedAt) ? toIsoString(value.generatedAt) : undefined;

  const entries: RegistrationEntry[] = [];
  const seenIds = new Map<string, string>();
  // Credentials, grants and blast-radius targets name entries by id: one id, one entry.
  const seenEntryIds = new Map<string, string>();
  const list = (key: string): unknown[] => {
    const v = value[key];
    if (v === undefined) return [];
    if (!Array.isArray(v)) {
      add(key, 'must be a list');
      return [];
    }
    return v;
  };
  list('entries').forEach((raw, i) => {
    const at = `entries[${i}]`;
    const { input, problems: ps } = checkEntryInput(raw, at, { allowSnapshotFields: true });
    problems.push(...ps);
    if (!input) return;
    const r = raw as Record<string, unknown>;
    const createdAt = (r.createdAt as string | undefined) ?? generatedAt;
    if (!createdAt) return add(`${at}.createdAt`, 'required when the inventory has no `generatedAt`');
    if (r.id !== undefined && (typeof r.id !== 'string' || r.id === ''))
      return add(`${at}.id`, 'must be a non-empty string');
    const id = r.id ?? entryIdFor(input.spiffeId);
    const dup = seenIds.get(input.spiffeId);
    if (dup) return add(`${at}.spiffeId`, `\`${input.spiffeId}\` is already held by ${dup}`);
    seenIds.set(input.spiffeId, at);
    const dupId = seenEntryIds.get(id);
    if (dupId) return add(`${at}.id`, `\`${id}\` is already held by ${dupId}`);
    seenEntryIds.set(id, at);
    const { status, ...rest } = input;
    entries.push({
      ...rest,
      id,
      status: status ?? 'active',
      createdAt: toIsoString(createdAt),
      updatedAt: toIsoString((r.updatedAt as string | undefined) ?? createdAt),
      ...(typeof r.lastSeenAt === 'string' ? { lastSeenAt: toIsoString(r.lastSeenAt) } : {}),
    });
  });

  const credentials = list('credentials').flatMap((raw, i) => {
    const at = `credentials[${i}]`;
    if (!isObject(raw)) return (add(at, 'must be an object'), []);
    const bad = requireFields(
      raw,
      at,
      ['id', 'spiffeId', 'entryId', 'kid', 'via'],
      ['issuedAt', 'expiresAt'],
      add,
    );
    if (raw.type !== 'jwt-svid' && raw.type !== 'x509-svid')
      add(`${at}.type`, 'must be `jwt-svid` or `x509-svid`');
    return bad || (raw.type !== 'jwt-svid' && raw.type !== 'x509-svid')
      ? []
      : [raw as unknown as IssuedCredential];
  });
  const grants = list('grants').flatMap((raw, i) => {
    const at = `grants[${i}]`;
    if (!isObject(raw)) return (add(at, 'must be an object'), []);
    const bad = requireFields(
      raw,
      at,
      ['id', 'entryId', 'spiffeId', 'task'],
      ['startedAt', 'expiresAt'],
      add,
    );
    if (!isObject(raw.scope) || typeof raw.scope.service !== 'string') {
      add(`${at}.scope.service`, 'required');
      return [];
    }
    let invalid = false;
    for (const k of ['methods', 'paths', 'operations']) {
      const v = raw.scope[k];
      if (v !== undefined && !(Array.isArray(v) && v.every((x) => typeof x === 'string'))) {
        add(`${at}.scope.${k}`, 'must be a list of strings');
        invalid = true;
      }
    }
    if (raw.endedAt !== undefined && !isTime(raw.endedAt)) {
      add(`${at}.endedAt`, 'must be an RFC 3339 date-time');
      invalid = true;
    }
    if (invalid) return [];
    const scope = {
      service: raw.scope.service,
      methods: (raw.scope.methods as string[] | undefined) ?? [],
      paths: (raw.scope.paths as string[] | undefined) ?? [],
      operations: (raw.scope.operations as string[] | undefined) ?? [],
    };
    return bad ? [] : [{ ...(raw as unknown as Grant), scope }];
  });
  const revocations = list('revocations').flatMap((raw, i) => {
    const at = `revocations[${i}]`;
    if (!isObject(raw)) return (add(at, 'must be an object'), []);
    const bad = requireFields(raw, at, ['value'], ['revokedAt'], add);
    if (!['credential', 'identity', 'entry', 'grant'].includes(raw.target as string)) {
      add(`${at}.target`, 'must be one of credential, identity, entry, grant');
      return [];
    }
    return bad ? [] : [raw as unknown as Revocation];
  });

  if (problems.length) return { problems };
  const inventory: InventorySnapshot = { entries, credentials, grants, revocations };
  if (typeof value.trustDomain === 'string') inventory.trustDomain = value.trustDomain;
  if (generatedAt) inventory.generatedAt = generatedAt;
  return { inventory, problems };
}

function requireFields(
  raw: Record<string, unknown>,
  at: string,
  strings: string[],
  times: string[],
  add: (path: string, message: string) => void,
): boolean {
  let bad = false;
  for (const k of strings) {
    if (typeof raw[k] !== 'string' || raw[k] === '') {
      add(`${at}.${k}`, 'required: a non-empty string');
      bad = true;
    }
  }
  for (const k of times) {
    if (!isTime(raw[k])) {
      add(`${at}.${k}`, 'required: an RFC 3339 date-time');
      bad = true;
    }
  }
  return bad;
}

/**
 * Like {@link inventoryFromObject} but throws one `entry_invalid` error
 * listing every problem.
 */
export function loadInventory(value: unknown, file = '<inventory>'): InventorySnapshot {
  const { inventory, problems } = inventoryFromObject(value);
  if (inventory) return inventory;
  const first = problems[0]!;
  throw new GatehouseError(
    'entry_invalid',
    `${file}: invalid inventory: ${first.path}: ${first.message}` +
      (problems.length > 1 ? ` (and ${problems.length - 1} more)` : ''),
    { problems: problems.map((p) => ({ message: `${p.path}: ${p.message}` })) },
  );
}
