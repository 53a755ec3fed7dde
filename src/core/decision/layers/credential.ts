import type { CredentialReason, LayerVerdict } from '../decision.js';
import type { DecisionRequest } from '../request.js';

const verdicts = new Map<CredentialReason, LayerVerdict>();
function verdict(reason: CredentialReason): LayerVerdict {
  let v = verdicts.get(reason);
  if (!v) {
    v = Object.freeze({
      verdict: reason === 'credential_valid' ? 'allow' : 'deny',
      reason,
      rules: Object.freeze([]),
    });
    verdicts.set(reason, v);
  }
  return v;
}

/**
 * The credential layer: the caller must present a verified credential for a
 * valid SPIFFE ID of an accepted trust domain, not revoked, within its
 * validity period. Verifying signatures is the enforcement point's job; this
 * layer refuses whatever the enforcement point could not vouch for.
 */
export function checkCredential(
  request: DecisionRequest,
  identityValid: boolean,
  trustDomainAccepted: boolean,
  clock: { now(): number },
): LayerVerdict {
  if (!request.source.spiffeId) return verdict('identity_missing');
  if (!identityValid) return verdict('identity_invalid');
  if (!trustDomainAccepted) return verdict('foreign_trust_domain');
  const c = request.credential;
  if (!c) return verdict('credential_missing');
  if (c.verified !== true) return verdict('credential_unverified');
  if (c.revoked === true) return verdict('credential_revoked');
  if (c.expiresAt !== undefined || c.notBefore !== undefined) {
    const t = clock.now();
    if (c.expiresAt !== undefined && !(t < Date.parse(c.expiresAt))) return verdict('credential_expired');
    if (c.notBefore !== undefined && !(t >= Date.parse(c.notBefore)))
      return verdict('credential_not_yet_valid');
  }
  return verdict('credential_valid');
}
