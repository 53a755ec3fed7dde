/**
 * Who is calling the control plane. An admin presents its bearer secret
 * (`gha_...`); a workload presents a JWT-SVID whose audience is the control
 * plane. Anything else is anonymous, and every protected route answers an
 * anonymous call with a bare 401: no hint of what was wrong.
 */
import type { IdentityAuthority, VerifiedJwtSvid } from '../core/identity/authority.js';
import { bearerToken } from './bearer-token.js';
import { HttpError } from './http-error.js';
import type { RouteRequest } from './router.js';

export type Caller = { kind: 'admin' } | { kind: 'workload'; svid: VerifiedJwtSvid } | { kind: 'anonymous' };

export async function identifyCaller(authority: IdentityAuthority, req: RouteRequest): Promise<Caller> {
  // A malformed bearer field reads as '': anonymous, as no field at all.
  const token = bearerToken(req.headers.authorization);
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
