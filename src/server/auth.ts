/**
 * Who is calling the control plane. An admin presents its bearer secret
 * (`gha_...`); a workload presents a JWT-SVID whose audience is the control
 * plane alone (the verifier refuses one that names services too), or, over
 * HTTPS, its X.509-SVID as the TLS client certificate (mTLS).
 * A bearer field, when there is one, decides alone: a caller that sends a
 * token that does not verify is anonymous even with a good certificate.
 * Anything else is anonymous, and every protected route answers an
 * anonymous call with a bare 401: no hint of what was wrong.
 */
import type { IdentityAuthority, VerifiedJwtSvid } from '../core/identity/authority.js';
import { bearerToken } from './bearer-token.js';
import { HttpError } from './http-error.js';
import type { RouteRequest } from './router.js';

/** A workload caller: its SPIFFE ID, the credential it authenticated with, and the grant a JWT-SVID carried. */
export interface WorkloadCaller {
  kind: 'workload';
  spiffeId: string;
  credential: 'jwt-svid' | 'x509-svid';
  grant?: VerifiedJwtSvid['grant'];
}

export type Caller = { kind: 'admin' } | WorkloadCaller | { kind: 'anonymous' };

export async function identifyCaller(authority: IdentityAuthority, req: RouteRequest): Promise<Caller> {
  // A malformed bearer field reads as '': anonymous, as no field at all.
  const field = req.headers.authorization;
  if (field === undefined) return certificateCaller(authority, req.peerCertificates());
  const token = bearerToken(field);
  if (!token) return { kind: 'anonymous' };
  if (token.startsWith('gha_'))
    return (await authority.authenticateAdmin(token)) ? { kind: 'admin' } : { kind: 'anonymous' };
  try {
    const svid = await authority.verifyJwtSvid(token, authority.controlPlaneAudience);
    return {
      kind: 'workload',
      spiffeId: svid.spiffeId,
      credential: 'jwt-svid',
      ...(svid.grant ? { grant: svid.grant } : {}),
    };
  } catch {
    return { kind: 'anonymous' };
  }
}

/** The caller a TLS client certificate makes: a workload when it is a valid, unrevoked X.509-SVID. */
async function certificateCaller(authority: IdentityAuthority, chain: readonly Buffer[]): Promise<Caller> {
  if (chain.length === 0) return { kind: 'anonymous' };
  try {
    const { spiffeId } = await authority.verifyX509Svid(chain);
    return { kind: 'workload', spiffeId, credential: 'x509-svid' };
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
  if (caller.kind === 'anonymous' || (caller.kind === 'workload' && caller.grant)) throw unauthorized();
  return caller;
}
