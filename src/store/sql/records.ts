/**
 * Conversion between the port's records and table rows, shared by both
 * adapters. Column names are snake_case; structured fields are bound as JSON
 * text; an absent optional field is SQL NULL, so "absent" and "empty list"
 * stay distinct.
 */
import { GatehouseError } from '../../core/errors.js';
import type { AdminCredential, JoinToken, OidcIssuer } from '../../core/identity/attestation-records.js';
import type { IssuedCredential, Revocation } from '../../core/identity/credential.js';
import type { RegistrationEntry } from '../../core/identity/entry.js';
import type { Grant } from '../../core/identity/grant.js';
import type { StoredSigningKey } from '../../core/identity/signing-key.js';
import type { PolicyActivation } from '../../core/ports.js';
import type { PolicyVersion } from '../../core/policy/policy-version.js';
import type { SqlRow, SqlValue } from './sql-driver.js';
import { storedTime, storedTimeOrNull } from './stored-time.js';

/** Column name to bound value, in the table's column order. */
export type RowValues = Readonly<Record<string, SqlValue>>;

export function entryRow(e: RegistrationEntry): RowValues {
  const at = (field: string) => `entry \`${e.id}\` ${field}`;
  return {
    id: e.id,
    spiffe_id: e.spiffeId,
    kind: e.kind,
    owner: e.owner ?? null,
    description: e.description ?? null,
    labels: JSON.stringify(e.labels),
    zone: e.zone ?? null,
    addresses: jsonOrNull(e.addresses),
    attestation: JSON.stringify(e.attestation),
    jwt_svid_ttl_seconds: e.jwtSvidTtlSeconds ?? null,
    x509_svid_ttl_seconds: e.x509SvidTtlSeconds ?? null,
    expires_at: storedTimeOrNull(e.expiresAt, at('expiresAt')),
    status: e.status,
    holds_credentials_of: jsonOrNull(e.holdsCredentialsOf),
    static_secrets: jsonOrNull(e.staticSecrets),
    created_at: storedTime(e.createdAt, at('createdAt')),
    updated_at: storedTime(e.updatedAt, at('updatedAt')),
    last_seen_at: storedTimeOrNull(e.lastSeenAt, at('lastSeenAt')),
  };
}

export function entryFromRow(row: SqlRow): RegistrationEntry {
  return withoutAbsent({
    id: text(row, 'id'),
    spiffeId: text(row, 'spiffe_id'),
    kind: text(row, 'kind') as RegistrationEntry['kind'],
    owner: optText(row, 'owner'),
    description: optText(row, 'description'),
    labels: json(row, 'labels') as RegistrationEntry['labels'],
    zone: optText(row, 'zone'),
    addresses: optJson(row, 'addresses') as RegistrationEntry['addresses'],
    attestation: json(row, 'attestation') as RegistrationEntry['attestation'],
    jwtSvidTtlSeconds: optInteger(row, 'jwt_svid_ttl_seconds'),
    x509SvidTtlSeconds: optInteger(row, 'x509_svid_ttl_seconds'),
    expiresAt: optText(row, 'expires_at'),
    status: text(row, 'status') as RegistrationEntry['status'],
    holdsCredentialsOf: optJson(row, 'holds_credentials_of') as RegistrationEntry['holdsCredentialsOf'],
    staticSecrets: optJson(row, 'static_secrets') as RegistrationEntry['staticSecrets'],
    createdAt: text(row, 'created_at'),
    updatedAt: text(row, 'updated_at'),
    lastSeenAt: optText(row, 'last_seen_at'),
  });
}

export function signingKeyRow(k: StoredSigningKey): RowValues {
  const at = (field: string) => `signing key \`${k.kid}\` ${field}`;
  return {
    kid: k.kid,
    key_use: k.use,
    alg: k.alg,
    state: k.state,
    public_jwk: JSON.stringify(k.publicJwk),
    private_key: k.privateKey,
    certificate_pem: k.certificatePem ?? null,
    created_at: storedTime(k.createdAt, at('createdAt')),
    activated_at: storedTimeOrNull(k.activatedAt, at('activatedAt')),
    retired_at: storedTimeOrNull(k.retiredAt, at('retiredAt')),
    signed_until: storedTimeOrNull(k.signedUntil, at('signedUntil')),
  };
}

export function signingKeyFromRow(row: SqlRow): StoredSigningKey {
  return withoutAbsent({
    kid: text(row, 'kid'),
    use: text(row, 'key_use') as StoredSigningKey['use'],
    alg: text(row, 'alg') as StoredSigningKey['alg'],
    state: text(row, 'state') as StoredSigningKey['state'],
    publicJwk: json(row, 'public_jwk') as StoredSigningKey['publicJwk'],
    privateKey: text(row, 'private_key'),
    certificatePem: optText(row, 'certificate_pem'),
    createdAt: text(row, 'created_at'),
    activatedAt: optText(row, 'activated_at'),
    retiredAt: optText(row, 'retired_at'),
    signedUntil: optText(row, 'signed_until'),
  });
}

export function credentialRow(c: IssuedCredential): RowValues {
  const at = (field: string) => `credential \`${c.id}\` ${field}`;
  return {
    id: c.id,
    type: c.type,
    spiffe_id: c.spiffeId,
    entry_id: c.entryId,
    kid: c.kid,
    audience: jsonOrNull(c.audience),
    grant_id: c.grantId ?? null,
    via: c.via,
    issued_at: storedTime(c.issuedAt, at('issuedAt')),
    expires_at: storedTime(c.expiresAt, at('expiresAt')),
  };
}

export function credentialFromRow(row: SqlRow): IssuedCredential {
  return withoutAbsent({
    id: text(row, 'id'),
    type: text(row, 'type') as IssuedCredential['type'],
    spiffeId: text(row, 'spiffe_id'),
    entryId: text(row, 'entry_id'),
    kid: text(row, 'kid'),
    audience: optJson(row, 'audience') as IssuedCredential['audience'],
    grantId: optText(row, 'grant_id'),
    via: text(row, 'via'),
    issuedAt: text(row, 'issued_at'),
    expiresAt: text(row, 'expires_at'),
  });
}

export function revocationRow(r: Revocation): RowValues {
  const at = (field: string) => `revocation of ${r.target} \`${r.value}\` ${field}`;
  return {
    target: r.target,
    value: r.value,
    revoked_at: storedTime(r.revokedAt, at('revokedAt')),
    reason: r.reason ?? null,
    expires_at: storedTimeOrNull(r.expiresAt, at('expiresAt')),
  };
}

export function revocationFromRow(row: SqlRow): Revocation {
  return withoutAbsent({
    target: text(row, 'target') as Revocation['target'],
    value: text(row, 'value'),
    revokedAt: text(row, 'revoked_at'),
    reason: optText(row, 'reason'),
    expiresAt: optText(row, 'expires_at'),
  });
}

export function joinTokenRow(t: JoinToken): RowValues {
  const at = (field: string) => `join token of entry \`${t.entryId}\` ${field}`;
  return {
    hash: t.hash,
    entry_id: t.entryId,
    created_at: storedTime(t.createdAt, at('createdAt')),
    expires_at: storedTime(t.expiresAt, at('expiresAt')),
    used_at: storedTimeOrNull(t.usedAt, at('usedAt')),
  };
}

export function joinTokenFromRow(row: SqlRow): JoinToken {
  return withoutAbsent({
    hash: text(row, 'hash'),
    entryId: text(row, 'entry_id'),
    createdAt: text(row, 'created_at'),
    expiresAt: text(row, 'expires_at'),
    usedAt: optText(row, 'used_at'),
  });
}

export function oidcIssuerRow(i: OidcIssuer): RowValues {
  return {
    issuer: i.issuer,
    jwks: jsonOrNull(i.jwks),
    jwks_uri: i.jwksUri ?? null,
    clock_skew_seconds: i.clockSkewSeconds ?? null,
    created_at: storedTime(i.createdAt, `OIDC issuer \`${i.issuer}\` createdAt`),
  };
}

export function oidcIssuerFromRow(row: SqlRow): OidcIssuer {
  return withoutAbsent({
    issuer: text(row, 'issuer'),
    jwks: optJson(row, 'jwks') as OidcIssuer['jwks'],
    jwksUri: optText(row, 'jwks_uri'),
    clockSkewSeconds: optInteger(row, 'clock_skew_seconds'),
    createdAt: text(row, 'created_at'),
  });
}

export function grantRow(g: Grant): RowValues {
  const at = (field: string) => `grant \`${g.id}\` ${field}`;
  return {
    id: g.id,
    entry_id: g.entryId,
    spiffe_id: g.spiffeId,
    task: g.task,
    scope: JSON.stringify(g.scope),
    started_at: storedTime(g.startedAt, at('startedAt')),
    expires_at: storedTime(g.expiresAt, at('expiresAt')),
    ended_at: storedTimeOrNull(g.endedAt, at('endedAt')),
    requested_by: g.requestedBy ?? null,
  };
}

export function grantFromRow(row: SqlRow): Grant {
  return withoutAbsent({
    id: text(row, 'id'),
    entryId: text(row, 'entry_id'),
    spiffeId: text(row, 'spiffe_id'),
    task: text(row, 'task'),
    scope: json(row, 'scope') as Grant['scope'],
    startedAt: text(row, 'started_at'),
    expiresAt: text(row, 'expires_at'),
    endedAt: optText(row, 'ended_at'),
    requestedBy: optText(row, 'requested_by'),
  });
}

export function adminCredentialRow(a: AdminCredential): RowValues {
  const at = (field: string) => `admin credential \`${a.id}\` ${field}`;
  return {
    id: a.id,
    hash: a.hash,
    created_at: storedTime(a.createdAt, at('createdAt')),
    last_used_at: storedTimeOrNull(a.lastUsedAt, at('lastUsedAt')),
  };
}

export function adminCredentialFromRow(row: SqlRow): AdminCredential {
  return withoutAbsent({
    id: text(row, 'id'),
    hash: text(row, 'hash'),
    createdAt: text(row, 'created_at'),
    lastUsedAt: optText(row, 'last_used_at'),
  });
}

export function policyVersionRow(v: PolicyVersion): RowValues {
  const at = (field: string) => `policy version \`${v.revision}\` ${field}`;
  return {
    revision: v.revision,
    sources: JSON.stringify(v.sources),
    comment: v.comment ?? null,
    created_at: storedTime(v.createdAt, at('createdAt')),
    activated_at: storedTimeOrNull(v.activatedAt, at('activatedAt')),
  };
}

export function policyVersionFromRow(row: SqlRow): PolicyVersion {
  return withoutAbsent({
    revision: text(row, 'revision'),
    sources: json(row, 'sources') as PolicyVersion['sources'],
    comment: optText(row, 'comment'),
    createdAt: text(row, 'created_at'),
    activatedAt: optText(row, 'activated_at'),
  });
}

export function policyActivationFromRow(row: SqlRow): PolicyActivation {
  return { n: integer(row, 'n'), revision: text(row, 'revision'), activatedAt: text(row, 'activated_at') };
}

/** A stored change or activation number (`change_seq`, `n`). */
export function integer(row: SqlRow, column: string): number {
  const value = optInteger(row, column);
  if (value === undefined) throw unreadable(column);
  return value;
}

function jsonOrNull(value: unknown): string | null {
  return value === undefined ? null : JSON.stringify(value);
}

/** Drops the keys whose value is undefined: an optional field NULL in its row is absent, not `undefined`. */
function withoutAbsent<T extends object>(record: T): T {
  for (const key of Object.keys(record) as (keyof T)[]) {
    if (record[key] === undefined) delete record[key];
  }
  return record;
}

function unreadable(column: string): GatehouseError {
  return new GatehouseError('store_error', `stored column \`${column}\` holds an unexpected value`);
}

function text(row: SqlRow, column: string): string {
  const value = row[column];
  if (typeof value !== 'string') throw unreadable(column);
  return value;
}

function optText(row: SqlRow, column: string): string | undefined {
  return row[column] === null || row[column] === undefined ? undefined : text(row, column);
}

function optInteger(row: SqlRow, column: string): number | undefined {
  const value = row[column];
  if (value === null || value === undefined) return undefined;
  if (typeof value !== 'number') throw unreadable(column);
  return value;
}

function json(row: SqlRow, column: string): unknown {
  try {
    return JSON.parse(text(row, column)) as unknown;
  } catch {
    throw unreadable(column);
  }
}

function optJson(row: SqlRow, column: string): unknown {
  return row[column] === null || row[column] === undefined ? undefined : json(row, column);
}
