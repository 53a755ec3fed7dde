import type { CredentialReason, LayerVerdict } from '../decision.js';
import { compilePathGlob, type PathGlob } from '../../policy/glob.js';
import type { DecisionRequest, GrantScopeClaim } from '../request.js';

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

/** Made once: every allowed request ends with it, and a map lookup by reason per decision shows in profiles. */
const CREDENTIAL_VALID = verdict('credential_valid');

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
  action: GrantAction,
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
  // A grant narrows: whatever the rules allow, a grant credential reaches only its task scope.
  if (c.type === 'grant' && !grantScopeAllows(c.scope, request.destination.service, action)) {
    return verdict('grant_out_of_scope');
  }
  return CREDENTIAL_VALID;
}

/** The action as the engine matched it (path already normalized). */
export interface GrantAction {
  method: string | undefined;
  path: string | undefined;
  operation: string | undefined;
}

function isStringList(v: unknown): v is string[] | undefined {
  return v === undefined || (Array.isArray(v) && v.every((x) => typeof x === 'string'));
}

function globOf(pattern: string): PathGlob | undefined {
  try {
    return compilePathGlob(pattern);
  } catch {
    return undefined;
  }
}

/**
 * Whether a grant's scope covers the request. Empty lists constrain nothing;
 * a scope with only `operations` admits only requests naming one of them.
 * Anything malformed admits nothing (fail closed).
 */
export function grantScopeAllows(
  scope: GrantScopeClaim | undefined,
  service: string,
  action: GrantAction,
): boolean {
  if (scope === null || typeof scope !== 'object' || scope.service !== service) return false;
  const { methods = [], paths = [], operations = [] } = scope;
  if (!isStringList(methods) || !isStringList(paths) || !isStringList(operations)) return false;
  if (methods.length === 0 && paths.length === 0 && operations.length === 0) return true;
  if (action.operation !== undefined && operations.includes(action.operation)) return true;
  if (methods.length === 0 && paths.length === 0) return false;
  if (methods.length > 0 && (action.method === undefined || !methods.includes(action.method))) return false;
  if (paths.length > 0) {
    const path = action.path;
    if (path === undefined || !paths.some((p) => globOf(p)?.matches(path) === true)) return false;
  }
  return true;
}
