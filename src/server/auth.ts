/**
 * Who is calling the control plane. An admin presents its bearer secret
 * (`gha_...`); a workload presents a JWT-SVID whose audience is the control
 * plane. Anything else is anonymous, and every protected route answers an
 * anonymous call with a bare 401: no hint of what was wrong.
 */
import type { IdentityAuthority, VerifiedJwtSvid } from '../core/identity/authority.js';
import { HttpError } from './http-error.js';
import type { RouteRequest } from './router.js';

export type Caller = { kind: 'admin' } | { kind: 'workload'; svid: VerifiedJwtSvid } | { kind: 'anonymous' };

export function bearerToken(req: Pick<RouteRequest, 'headers'>): string | undefined {
  const h = req.headers.authorization;
  if (typeof h !== 'string') return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
  return m ? m[1] : undefined;
}

export async function identifyCaller(authority: IdentityAuthority, req: RouteRequest): Promise<Caller> {
  const token = bearerToken(req);
  if (!token) return { kind: 'anonymous' };
  if (token.startsWith('gha_'))
    return (await authority.authenticateAdmin(token)) ? { kind: 'admin' } : { kind: 'anonymous' };
  try {
    return { kind: 'workload', svid: await authority.verifyJwtSvid(token, authority.controlPlaneAudience) };
  } catch {
    return { kind: 'anonymous' };
  }
}

export const unauthorized = (): HttpError =>
  new HttpError(401, 'unauthorized', 'unauthorized', { 'www-authenticate': 'Bearer' });

export const forbidden = (why: string): HttpError => new HttpError(403, 'forbidden', why);

export async function requireAdmin(authority: IdentityAuthority, req: RouteRequest): Promise<void> {
  const caller = await identifyCaller(authority, req);
  if (caller.kind !== 'admin') throw unauthorized();
}

/** An admin or a workload holding a current SVID; grant credentials are not accepted here. */
export async function requireCaller(
  authority: IdentityAuthority,
  req: RouteRequest,
): Promise<Exclude<Caller, { kind: 'anonymous' }>> {
  const caller = await identifyCaller(authority, req);
  if (caller.kind === 'anonymous' || (caller.kind === 'workload' && caller.svid.grant)) throw unauthorized();
  return caller;
}
