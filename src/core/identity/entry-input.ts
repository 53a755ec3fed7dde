/**
 * Checks untrusted entry input (HTTP bodies, inventory files) and turns it
 * into the fields of a {@link RegistrationEntry}. Every problem is reported
 * with the JSON path of the offending value; unknown fields are rejected so a
 * misspelt field is never silently ignored.
 */
import { isRealDate } from '../dates.js';
import { parseCidr } from '../net/index.js';
import { parseSpiffeId } from './spiffe-id.js';
import {
  ENTRY_KINDS,
  ENTRY_STATUSES,
  type AttestationRule,
  type ClaimCondition,
  type EntryKind,
  type EntryStatus,
  type StaticSecret,
} from './entry.js';

export interface EntryProblem {
  path: string;
  message: string;
}

/** The fields a caller may set; ids, status history and timestamps belong to the control plane. */
export interface EntryInput {
  spiffeId: string;
  kind: EntryKind;
  owner?: string;
  description?: string;
  labels: Record<string, string>;
  zone?: string;
  addresses?: string[];
  attestation: AttestationRule[];
  jwtSvidTtlSeconds?: number;
  x509SvidTtlSeconds?: number;
  expiresAt?: string;
  status?: EntryStatus;
  holdsCredentialsOf?: string[];
  staticSecrets?: StaticSecret[];
}

const ENTRY_FIELDS = new Set([
  'spiffeId',
  'kind',
  'owner',
  'description',
  'labels',
  'zone',
  'addresses',
  'attestation',
  'jwtSvidTtlSeconds',
  'x509SvidTtlSeconds',
  'expiresAt',
  'status',
  'holdsCredentialsOf',
  'staticSecrets',
]);
/** Fields an inventory snapshot may carry besides the input fields. */
const SNAPSHOT_FIELDS = new Set(['id', 'createdAt', 'updatedAt', 'lastSeenAt']);
const LABEL_KEY = /^[A-Za-z0-9]([A-Za-z0-9._/-]{0,252}[A-Za-z0-9])?$/;
const SHA256 = /^sha256:[0-9a-f]{64}$/;
const MAX_TTL_SECONDS = 366 * 24 * 3600;

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function isTime(v: unknown): v is string {
  return typeof v === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(v) && isRealDate(v);
}

/**
 * Validates entry input. With `allowSnapshotFields`, `id`, `createdAt`,
 * `updatedAt` and `lastSeenAt` are accepted too (inventory files).
 */
export function checkEntryInput(
  value: unknown,
  at = '',
  options: { allowSnapshotFields?: boolean; partial?: boolean } = {},
): { input?: EntryInput; problems: EntryProblem[] } {
  const problems: EntryProblem[] = [];
  const p = (path: string) => (at ? `${at}.${path}` : path);
  const add = (path: string, message: string) => problems.push({ path: p(path), message });
  if (!isObject(value)) return { problems: [{ path: at || '$', message: 'an entry must be an object' }] };

  for (const key of Object.keys(value)) {
    if (ENTRY_FIELDS.has(key)) continue;
    if (options.allowSnapshotFields && SNAPSHOT_FIELDS.has(key)) continue;
    add(key, `unknown field \`${key}\``);
  }

  const required = !options.partial;
  if (value.spiffeId === undefined) {
    if (required) add('spiffeId', 'required');
  } else if (typeof value.spiffeId !== 'string') add('spiffeId', 'must be a string');
  else {
    const why = spiffeIdProblem(value.spiffeId);
    if (why) add('spiffeId', why);
  }

  if (value.kind === undefined) {
    if (required) add('kind', `required: one of ${ENTRY_KINDS.join(', ')}`);
  } else if (!ENTRY_KINDS.includes(value.kind as EntryKind)) {
    add('kind', `must be one of ${ENTRY_KINDS.join(', ')}`);
  }
  if (value.status !== undefined && !ENTRY_STATUSES.includes(value.status as EntryStatus)) {
    add('status', `must be one of ${ENTRY_STATUSES.join(', ')}`);
  }
  for (const key of ['owner', 'description', 'zone'] as const) {
    const v = value[key];
    if (v !== undefined && (typeof v !== 'string' || v.length === 0 || v.length > 1024)) {
      add(key, 'must be a non-empty string of at most 1024 characters');
    }
  }
  if (value.labels !== undefined) {
    if (!isObject(value.labels)) add('labels', 'must be a map of strings');
    else {
      for (const [k, v] of Object.entries(value.labels)) {
        if (!LABEL_KEY.test(k)) add(`labels.${k}`, `invalid label key \`${k}\``);
        if (typeof v !== 'string' || v.length > 256)
          add(`labels.${k}`, 'must be a string of at most 256 characters');
      }
    }
  }
  if (value.addresses !== undefined) {
    if (!Array.isArray(value.addresses)) add('addresses', 'must be a list of IP addresses or CIDRs');
    else {
      value.addresses.forEach((a, i) => {
        if (typeof a !== 'string') return add(`addresses[${i}]`, 'must be a string');
        try {
          parseCidr(a.includes('/') ? a : a.includes(':') ? `${a}/128` : `${a}/32`);
        } catch (err) {
          add(`addresses[${i}]`, (err as Error).message);
        }
      });
    }
  }
  for (const key of ['jwtSvidTtlSeconds', 'x509SvidTtlSeconds'] as const) {
    const v = value[key];
    if (v !== undefined && (!Number.isInteger(v) || (v as number) < 1 || (v as number) > MAX_TTL_SECONDS)) {
      add(key, `must be a whole number of seconds between 1 and ${MAX_TTL_SECONDS}`);
    }
  }
  for (const key of ['expiresAt', 'createdAt', 'updatedAt', 'lastSeenAt'] as const) {
    if (value[key] !== undefined && !isTime(value[key])) add(key, 'must be an RFC 3339 date-time');
  }
  if (value.holdsCredentialsOf !== undefined) {
    if (!Array.isArray(value.holdsCredentialsOf)) add('holdsCredentialsOf', 'must be a list of SPIFFE IDs');
    else
      value.holdsCredentialsOf.forEach((s, i) => {
        const why = typeof s === 'string' ? spiffeIdProblem(s) : 'must be a string';
        if (why) add(`holdsCredentialsOf[${i}]`, why);
      });
  }
  if (value.attestation !== undefined) {
    if (!Array.isArray(value.attestation)) add('attestation', 'must be a list of attestation rules');
    else value.attestation.forEach((r, i) => checkAttestationRule(r, `attestation[${i}]`, add));
  }
  if (value.staticSecrets !== undefined) {
    if (!Array.isArray(value.staticSecrets)) add('staticSecrets', 'must be a list');
    else value.staticSecrets.forEach((s, i) => checkStaticSecret(s, `staticSecrets[${i}]`, add));
  }

  if (problems.length) return { problems };
  const v = value as Record<string, unknown> & Partial<EntryInput>;
  const input: EntryInput = {
    spiffeId: v.spiffeId as string,
    kind: v.kind as EntryKind,
    labels: { ...((v.labels as Record<string, string> | undefined) ?? {}) },
    attestation: (v.attestation as AttestationRule[] | undefined) ?? [],
  };
  for (const key of [
    'owner',
    'description',
    'zone',
    'addresses',
    'jwtSvidTtlSeconds',
    'x509SvidTtlSeconds',
    'expiresAt',
    'status',
    'holdsCredentialsOf',
    'staticSecrets',
  ] as const) {
    if (v[key] !== undefined) (input as unknown as Record<string, unknown>)[key] = v[key];
  }
  return { input, problems };
}

function spiffeIdProblem(text: string): string | undefined {
  try {
    parseSpiffeId(text);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

function checkAttestationRule(r: unknown, at: string, add: (path: string, message: string) => void): void {
  if (!isObject(r)) return add(at, 'must be an object with a `type`');
  if (r.type === 'join-token') {
    for (const k of Object.keys(r)) if (k !== 'type') add(`${at}.${k}`, `unknown field \`${k}\``);
    return;
  }
  if (r.type !== 'oidc') return add(`${at}.type`, 'must be `join-token` or `oidc`');
  for (const k of Object.keys(r)) {
    if (!['type', 'issuer', 'audience', 'claims'].includes(k)) add(`${at}.${k}`, `unknown field \`${k}\``);
  }
  if (typeof r.issuer !== 'string' || !/^https:\/\/[^\s]+$/.test(r.issuer)) {
    add(`${at}.issuer`, 'must be an https issuer URL');
  }
  if (typeof r.audience !== 'string' || r.audience.length === 0) add(`${at}.audience`, 'required');
  // Federation without claim conditions would let every token of the issuer in (OWASP NHI6).
  if (!isObject(r.claims) || Object.keys(r.claims).length === 0) {
    return add(`${at}.claims`, 'at least one claim condition is required');
  }
  for (const [name, cond] of Object.entries(r.claims)) {
    if (!isClaimCondition(cond)) add(`${at}.claims.${name}`, 'must be a non-empty string or list of strings');
  }
}

function isClaimCondition(v: unknown): v is ClaimCondition {
  if (typeof v === 'string') return v.length > 0;
  return Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string' && x.length > 0);
}

function checkStaticSecret(s: unknown, at: string, add: (path: string, message: string) => void): void {
  if (!isObject(s)) return add(at, 'must be an object');
  for (const k of Object.keys(s)) {
    if (!['id', 'hash', 'createdAt', 'rotatedAt', 'expiresAt', 'lastUsedAt'].includes(k)) {
      add(
        `${at}.${k}`,
        k === 'secret' ? 'secrets are never stored: give `hash` (sha256:<hex>)' : `unknown field \`${k}\``,
      );
    }
  }
  if (typeof s.id !== 'string' || s.id.length === 0) add(`${at}.id`, 'required');
  if (typeof s.hash !== 'string' || !SHA256.test(s.hash))
    add(`${at}.hash`, 'must be `sha256:` and 64 hex digits');
  if (!isTime(s.createdAt)) add(`${at}.createdAt`, 'required: an RFC 3339 date-time');
  for (const k of ['rotatedAt', 'expiresAt', 'lastUsedAt']) {
    if (s[k] !== undefined && !isTime(s[k])) add(`${at}.${k}`, 'must be an RFC 3339 date-time');
  }
}
