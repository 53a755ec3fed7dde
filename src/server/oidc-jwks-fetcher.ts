/**
 * Fetches and caches the JWK Sets of OIDC issuers registered by URL. A fetch
 * failure is an attestation failure (fail closed), never a pass; a cached key
 * set is reused for `ttlMs` so that a flapping issuer does not stall
 * attestation.
 */
import { GatehouseError } from '../core/errors.js';
import type { OidcIssuer } from '../core/identity/attestation-records.js';
import type { OidcKeySource } from '../core/identity/authority.js';

type Jwks = { keys: readonly Record<string, unknown>[] };

export function oidcJwksFetcher(options: { ttlMs?: number; timeoutMs?: number } = {}): OidcKeySource {
  const ttl = options.ttlMs ?? 5 * 60_000;
  const timeout = options.timeoutMs ?? 5_000;
  const cache = new Map<string, { at: number; jwks: Jwks }>();
  return {
    async jwksFor(issuer: OidcIssuer): Promise<Jwks> {
      const uri = issuer.jwksUri;
      if (!uri) throw new GatehouseError('attestation_failed', 'attestation failed: issuer has no key set');
      const hit = cache.get(uri);
      if (hit && Date.now() - hit.at < ttl) return hit.jwks;
      let jwks: Jwks;
      try {
        const res = await fetch(uri, { signal: AbortSignal.timeout(timeout), redirect: 'error' });
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        jwks = (await res.json()) as Jwks;
        if (!Array.isArray(jwks?.keys)) throw new Error('not a JWK Set');
      } catch (err) {
        throw new GatehouseError(
          'attestation_failed',
          `attestation failed: cannot fetch the key set of \`${issuer.issuer}\`: ${(err as Error).message}`,
        );
      }
      cache.set(uri, { at: Date.now(), jwks });
      return jwks;
    },
  };
}
