/**
 * The identity API under `/v1` (docs/identity.md, schemas/openapi.v1.yaml):
 * entries, join tokens, attestation, SVIDs, verification, revocation, JIT
 * grants, OIDC issuers, keys, and the trust bundle at
 * `/.well-known/spiffe-bundle`.
 */
import type { IdentityAuthority } from '../../core/identity/authority.js';
import type { RevocationTarget } from '../../core/identity/credential.js';
import { ENTRY_KINDS, ENTRY_STATUSES, type EntryKind, type EntryStatus } from '../../core/identity/entry.js';
import type { GrantScope } from '../../core/identity/grant.js';
import { forbidden, requireAdmin, requireCaller } from '../auth.js';
import { bearerToken } from '../bearer-token.js';
import { HttpError } from '../http-error.js';
import type { RouteRequest, Router } from '../router.js';
import { parseRfc3339 } from '../../core/dates.js';
import { countParam, enumParam, invalid, timeParam } from './params.js';

type Body = Record<string, unknown>;

/** The JSON body as an object; `{}` when absent. */
export async function objectBody(req: RouteRequest): Promise<Body> {
  const body = await req.body();
  if (body === undefined) return {};
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new HttpError(400, 'body_invalid', 'request body must be a JSON object');
  }
  return body as Body;
}

function optString(body: Body, key: string): string | undefined {
  const v = body[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v.length === 0)
    throw new HttpError(400, 'body_invalid', `\`${key}\` must be a non-empty string`);
  return v;
}

function reqString(body: Body, key: string): string {
  const v = optString(body, key);
  if (v === undefined) throw new HttpError(400, 'body_invalid', `\`${key}\` is required`);
  return v;
}

function optInt(body: Body, key: string): number | undefined {
  const v = body[key];
  if (v === undefined) return undefined;
  if (!Number.isInteger(v)) throw new HttpError(400, 'body_invalid', `\`${key}\` must be a whole number`);
  return v as number;
}

function optStrings(body: Body, key: string): string[] | undefined {
  const v = body[key];
  if (v === undefined) return undefined;
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list) || !list.every((x) => typeof x === 'string' && x.length > 0)) {
    throw new HttpError(400, 'body_invalid', `\`${key}\` must be a string or a list of strings`);
  }
  return list as string[];
}

function optBool(body: Body, key: string): boolean | undefined {
  const v = body[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') throw new HttpError(400, 'body_invalid', `\`${key}\` must be true or false`);
  return v;
}

const json = (status: number, body: unknown) => ({ status, body });

export function identityRoutes(router: Router, authority: IdentityAuthority): void {
  const bundle = () => ({
    status: 200,
    body: authority.bundle(),
    headers: { 'cache-control': `public, max-age=${authority.settings.bundleRefreshHintSeconds}` },
  });
  router.add('GET', '/.well-known/spiffe-bundle', bundle);
  router.add('GET', '/v1/bundle', bundle);

  // ---- entries (admin) ----
  router.add('POST', '/v1/entries', async (req) => {
    await requireAdmin(authority, req);
    return json(201, await authority.createEntry(await req.body()));
  });
  router.add('GET', '/v1/entries', async (req) => {
    await requireAdmin(authority, req);
    const filter: { status?: EntryStatus; kind?: EntryKind; owner?: string; spiffeId?: string } = {};
    const status = enumParam(req.query, 'status', ENTRY_STATUSES);
    const kind = enumParam(req.query, 'kind', ENTRY_KINDS);
    if (status !== undefined) filter.status = status;
    if (kind !== undefined) filter.kind = kind;
    for (const k of ['owner', 'spiffeId'] as const) {
      const v = req.query.get(k);
      if (v) filter[k] = v;
    }
    // Without `limit`, every entry in one answer, as before pages existed.
    const limit = countParam(req.query, 'limit', 1, MAX_ENTRY_PAGE);
    if (limit === undefined) {
      if (req.query.has('pageToken')) throw invalid('`pageToken` goes with `limit`');
      return json(200, { entries: await authority.listEntries(filter) });
    }
    const token = req.query.get('pageToken');
    const after = token === null ? undefined : readPageToken(token);
    // One more than asked tells whether another page follows, without a count.
    const found = await authority.listEntries({ ...filter, ...(after ? { after } : {}), limit: limit + 1 });
    const entries = found.slice(0, limit);
    const last = entries[entries.length - 1];
    return json(
      200,
      found.length > limit && last ? { entries, nextPageToken: pageToken(last) } : { entries },
    );
  });
  router.add('GET', '/v1/entries/:id', async (req) => {
    await requireAdmin(authority, req);
    const entry = await authority.getEntry(req.params.id!);
    if (!entry) throw new HttpError(404, 'store_not_found', `no entry \`${req.params.id}\``);
    return json(200, entry);
  });
  router.add('PATCH', '/v1/entries/:id', async (req) => {
    await requireAdmin(authority, req);
    return json(200, await authority.updateEntry(req.params.id!, await req.body()));
  });
  for (const [verb, status] of [
    ['disable', 'disabled'],
    ['enable', 'active'],
    ['offboard', 'offboarded'],
  ] as const) {
    router.add('POST', `/v1/entries/:id/${verb}`, async (req) => {
      await requireAdmin(authority, req);
      return json(200, await authority.setEntryStatus(req.params.id!, status));
    });
  }
  router.add('POST', '/v1/entries/:id/join-tokens', async (req) => {
    await requireAdmin(authority, req);
    const body = await objectBody(req);
    return json(201, await authority.createJoinToken(req.params.id!, optInt(body, 'ttlSeconds')));
  });

  // ---- attestation (the token is the credential) ----
  router.add('POST', '/v1/attest', async (req) => {
    const body = await objectBody(req);
    const method = reqString(body, 'method');
    const token = reqString(body, 'token');
    const options = attestOptions(body);
    // The authority checks the options before the token is used (checkAttestOptions).
    if (method === 'join-token') return json(200, await authority.attestJoinToken(token, options));
    if (method === 'oidc') {
      const spiffeId = optString(body, 'spiffeId');
      return json(200, await authority.attestOidc(token, { ...options, ...(spiffeId ? { spiffeId } : {}) }));
    }
    throw new HttpError(400, 'body_invalid', '`method` must be `join-token` or `oidc`');
  });
  router.add('POST', '/v1/renew', async (req) => {
    const body = await objectBody(req);
    // A chain in the body proves nothing: it is public, and a CSR signed with its key has no nonce
    // or time to keep it from being replayed. Refused by name, so that an old client learns why.
    if (body.x509Svid !== undefined)
      throw new HttpError(
        400,
        'body_invalid',
        '`x509Svid` is not taken: X.509 renewal needs the X.509-SVID as the TLS client certificate',
      );
    const options = attestOptions(body);
    const caller = await requireCaller(authority, req);
    if (caller.kind !== 'workload') throw forbidden('renewal needs the workload’s own SVID');
    // INVARIANT: an X.509-SVID caller's chain comes from the TLS handshake, which proved its key.
    if (caller.credential === 'x509-svid')
      return json(200, await authority.renewWithX509(req.peerCertificates(), options));
    // A workload with a JWT-SVID credential: the field held it.
    const token = bearerToken(req.headers.authorization)!;
    return json(200, await authority.renewWithJwt(token, options));
  });

  // ---- SVIDs: a workload for itself, or an admin for any entry ----
  const subject = async (req: RouteRequest, body: Body): Promise<{ id: string; via: string }> => {
    const caller = await requireCaller(authority, req);
    const named = optString(body, 'spiffeId') ?? optString(body, 'entryId');
    if (caller.kind === 'admin') {
      if (!named) throw new HttpError(400, 'body_invalid', '`spiffeId` or `entryId` is required');
      return { id: named, via: 'admin' };
    }
    if (named !== undefined && named !== caller.spiffeId)
      throw forbidden('a workload can obtain SVIDs only for itself');
    return { id: caller.spiffeId, via: 'workload' };
  };
  router.add('POST', '/v1/svid/jwt', async (req) => {
    const body = await objectBody(req);
    const who = await subject(req, body);
    const audience = optStrings(body, 'audience');
    if (!audience?.length) throw new HttpError(400, 'body_invalid', '`audience` is required');
    const ttlSeconds = optInt(body, 'ttlSeconds');
    return json(
      200,
      await authority.issueJwtSvid(who.id, audience, { via: who.via, ...(ttlSeconds ? { ttlSeconds } : {}) }),
    );
  });
  router.add('POST', '/v1/svid/x509', async (req) => {
    const body = await objectBody(req);
    const who = await subject(req, body);
    const csrPem = optString(body, 'csr');
    const ttlSeconds = optInt(body, 'ttlSeconds');
    return json(
      200,
      await authority.issueX509Svid(who.id, {
        via: who.via,
        ...(csrPem ? { csrPem } : {}),
        ...(ttlSeconds ? { ttlSeconds } : {}),
      }),
    );
  });

  // ---- verification (any authenticated caller) ----
  router.add('POST', '/v1/verify/jwt', async (req) => {
    await requireCaller(authority, req);
    const body = await objectBody(req);
    const token = reqString(body, 'token');
    const audience = reqString(body, 'audience');
    try {
      const v = await authority.verifyJwtSvid(token, audience);
      return json(200, {
        valid: true,
        spiffeId: v.spiffeId,
        claims: v.claims,
        ...(v.grant ? { grant: v.grant } : {}),
      });
    } catch (err) {
      return json(200, invalidResult(err));
    }
  });
  router.add('POST', '/v1/verify/x509', async (req) => {
    await requireCaller(authority, req);
    const body = await objectBody(req);
    try {
      return json(200, { valid: true, ...(await authority.verifyX509Svid(reqString(body, 'chain'))) });
    } catch (err) {
      if (err instanceof HttpError) throw err;
      return json(200, invalidResult(err));
    }
  });

  // ---- revocation (admin) ----
  router.add('POST', '/v1/revocations', async (req) => {
    await requireAdmin(authority, req);
    const body = await objectBody(req);
    const target = reqString(body, 'target') as RevocationTarget;
    const reason = optString(body, 'reason');
    return json(
      201,
      await authority.revoke({ target, value: reqString(body, 'value'), ...(reason ? { reason } : {}) }),
    );
  });
  router.add('GET', '/v1/revocations', async (req) => {
    await requireAdmin(authority, req);
    return json(200, { revocations: await authority.listRevocations() });
  });

  // ---- JIT grants (admin: the orchestrator that runs the task) ----
  router.add('POST', '/v1/grants', async (req) => {
    await requireAdmin(authority, req);
    const body = await objectBody(req);
    const ttlSeconds = optInt(body, 'ttlSeconds');
    if (ttlSeconds === undefined) throw new HttpError(400, 'body_invalid', '`ttlSeconds` is required');
    const audience = optStrings(body, 'audience');
    const requestedBy = optString(body, 'requestedBy');
    const result = await authority.startGrant({
      entry: reqString(body, 'entry'),
      task: reqString(body, 'task'),
      scope: body.scope as GrantScope,
      ttlSeconds,
      ...(audience ? { audience } : {}),
      ...(requestedBy ? { requestedBy } : {}),
    });
    return json(201, result);
  });
  router.add('GET', '/v1/grants', async (req) => {
    await requireAdmin(authority, req);
    const entryId = req.query.get('entryId');
    const activeAt = timeParam(req.query, 'activeAt');
    return json(200, {
      grants: await authority.listGrants({
        ...(entryId ? { entryId } : {}),
        ...(activeAt !== undefined ? { activeAt: new Date(activeAt).toISOString() } : {}),
      }),
    });
  });
  router.add('GET', '/v1/grants/:id', async (req) => {
    await requireAdmin(authority, req);
    const grant = await authority.getGrant(req.params.id!);
    if (!grant) throw new HttpError(404, 'store_not_found', `no grant \`${req.params.id}\``);
    return json(200, grant);
  });
  router.add('POST', '/v1/grants/:id/end', async (req) => {
    await requireAdmin(authority, req);
    return json(200, await authority.endGrant(req.params.id!));
  });

  // ---- OIDC federation (admin) ----
  router.add('POST', '/v1/oidc-issuers', async (req) => {
    await requireAdmin(authority, req);
    const body = await objectBody(req);
    return json(
      201,
      await authority.trustOidcIssuer(body as Parameters<IdentityAuthority['trustOidcIssuer']>[0]),
    );
  });
  router.add('GET', '/v1/oidc-issuers', async (req) => {
    await requireAdmin(authority, req);
    return json(200, { issuers: await authority.listOidcIssuers() });
  });

  // ---- keys (admin) ----
  router.add('GET', '/v1/keys', async (req) => {
    await requireAdmin(authority, req);
    return json(200, {
      keys: authority.signingKeys().map((k) => ({
        kid: k.kid,
        use: k.use,
        alg: k.alg,
        state: k.state,
        createdAt: k.createdAt,
        ...(k.activatedAt ? { activatedAt: k.activatedAt } : {}),
        ...(k.retiredAt ? { retiredAt: k.retiredAt } : {}),
        ...(k.signedUntil ? { signedUntil: k.signedUntil } : {}),
      })),
    });
  });
  router.add('POST', '/v1/keys/rotate', async (req) => {
    await requireAdmin(authority, req);
    const body = await objectBody(req);
    const changed = await authority.rotateKeys({ force: optBool(body, 'force') === true });
    return json(200, { changed, sequence: authority.bundle().spiffe_sequence });
  });

  router.add('GET', '/v1/inventory', async (req) => {
    await requireAdmin(authority, req);
    return json(200, { apiVersion: 'gatehouse.dev/v1', kind: 'Inventory', ...(await authority.inventory()) });
  });
}

function attestOptions(body: Body): { csrPem?: string; audience?: string[]; x509?: boolean } {
  const csrPem = optString(body, 'csr');
  const audience = optStrings(body, 'audience');
  const x509 = optBool(body, 'x509');
  return {
    ...(csrPem ? { csrPem } : {}),
    ...(audience ? { audience } : {}),
    ...(x509 !== undefined ? { x509 } : {}),
  };
}

function invalidResult(err: unknown): { valid: false; error: { code: string; message: string } } {
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && (code.startsWith('svid_') || code === 'csr_invalid')) {
    return { valid: false, error: { code, message: (err as Error).message } };
  }
  throw err;
}

/** Most entries one page of `GET /v1/entries` holds. */
const MAX_ENTRY_PAGE = 1000;

/** Where a page of entries ends: opaque to clients, the last entry's place in the listing's order. */
function pageToken(entry: { createdAt: string; id: string }): string {
  return Buffer.from(JSON.stringify([entry.createdAt, entry.id])).toString('base64url');
}

function readPageToken(token: string): { createdAt: string; id: string } {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    value = undefined;
  }
  if (
    !Array.isArray(value) ||
    value.length !== 2 ||
    typeof value[0] !== 'string' ||
    parseRfc3339(value[0]) === undefined ||
    typeof value[1] !== 'string'
  )
    throw invalid('`pageToken` is not one this server gave: ask for the first page again');
  return { createdAt: value[0], id: value[1] };
}
