/**
 * Verifies a caller's SVIDs inside the proxy, with the synced trust bundle
 * and revocations, and says what the decision request should carry: the
 * source SPIFFE ID, the credential, and whether the connection is mTLS.
 *
 * - A bearer token is read as a JWT-SVID whose audience must include the
 *   service's SPIFFE ID or its name; it is the request's credential.
 * - A client certificate is verified as an X.509-SVID once per connection
 *   (again when the bundle changes); validity is checked by the decision
 *   engine from `notBefore`/`expiresAt`.
 * - With both, they must name the same SPIFFE ID, or the credential counts as
 *   unverified.
 * Revocation is checked on every request, verified credentials remembered or
 * not. A credential that fails keeps the SPIFFE ID it claims (unverified: only
 * a name for the log) and is shaped so that the credential layer says why.
 *
 * The answer is synchronous when both credentials were verified before with
 * the current bundle (the common case on the per-request path), a promise
 * otherwise.
 */
import type { TLSSocket } from 'node:tls';
import type { RequestCredential } from '../core/decision/request.js';
import { GRANT_CLAIM } from '../core/identity/authority.js';
import type { SpiffeBundles } from '../core/identity/bundle.js';
import { decodeCompactJws } from '../core/identity/compact-jws.js';
import type { GrantScope } from '../core/identity/grant.js';
import {
  DEFAULT_CLOCK_SKEW_SECONDS,
  JwtSvidVerifier,
  MAX_JWT_SVID_BYTES,
  type JwtSvidClaims,
} from '../core/identity/jwt-svid.js';
import type { RevocableCredential, RevocationSet } from '../core/identity/revocation-set.js';
import { verifyX509Svid, X509_SVID_BACKDATE_SECONDS } from '../core/identity/x509-svid.js';
import type { Clock } from '../core/ports.js';
import { chainFromPeer } from '../server/peer-certificate-chain.js';

export interface CallerIdentity {
  /** The SPIFFE ID the caller presents; empty when it presents nothing. */
  spiffeId: string;
  credential?: RequestCredential;
  /** The connection carries a client X.509-SVID that verified and is not revoked. */
  mtls: boolean;
}

/** What the verifier reads from the synced state on every call. */
export interface TrustSource {
  readonly bundles: SpiffeBundles;
  readonly revocations: RevocationSet;
}

/** A credential as verified once: what the request carries, and what revocation is asked about. */
interface Verified {
  /** The bundles it was verified against; other bundles mean verifying again. */
  bundles: SpiffeBundles;
  spiffeId: string;
  /** Frozen: shared by every request presenting it. */
  credential: RequestCredential;
  /** Undefined for a credential that did not verify. */
  revocable?: RevocableCredential;
  /** A client certificate's `notAfter` (ms). */
  validUntil?: number;
}

interface VerifiedBearer extends Verified {
  /** The audience list it was checked against (one per synced policy). */
  audiences: readonly string[];
  /** First instant (ms) at which it no longer verifies. */
  rejectAt: number;
}

const EPOCH = new Date(0).toISOString();
const REVOKED = {
  'jwt-svid': Object.freeze<RequestCredential>({ type: 'jwt-svid', verified: true, revoked: true }),
  grant: Object.freeze<RequestCredential>({ type: 'grant', verified: true, revoked: true }),
  'x509-svid': Object.freeze<RequestCredential>({ type: 'x509-svid', verified: true, revoked: true }),
} as Readonly<Record<string, RequestCredential>>;
const NO_CALLER: CallerIdentity = Object.freeze({ spiffeId: '', mtls: false });
// Remembered bearer verifications, at most; the oldest is forgotten first.
const MAX_BEARERS = 10_000;

export class LocalVerifier {
  private readonly jwt: JwtSvidVerifier;
  /** Per connection: its verified client certificate, or null when it presented none. */
  private readonly peers = new WeakMap<TLSSocket, Verified | null>();
  private readonly bearers = new Map<string, VerifiedBearer>();

  constructor(
    private readonly trust: TrustSource,
    private readonly clock: Clock,
  ) {
    this.jwt = new JwtSvidVerifier({
      bundles: () => trust.bundles,
      clock,
      isRevoked: (claims) => trust.revocations.isRevoked(revocableJwt(claims)),
    });
  }

  /**
   * Who the caller is. `audiences` are the names the service answers to (its
   * SPIFFE ID, its name), tried in order. Never rejects.
   */
  identify(
    bearer: string | undefined,
    socket: TLSSocket | undefined,
    audiences: readonly string[],
  ): CallerIdentity | Promise<CallerIdentity> {
    const bundles = this.trust.bundles;
    let peer: Verified | null | undefined = null;
    if (socket) {
      peer = this.peers.get(socket);
      if (peer !== undefined && peer !== null && peer.bundles !== bundles) peer = undefined;
    }
    let token: VerifiedBearer | undefined;
    if (bearer !== undefined) {
      token = this.bearers.get(bearer);
      if (
        token &&
        (token.bundles !== bundles || token.audiences !== audiences || this.clock.now() >= token.rejectAt)
      ) {
        this.bearers.delete(bearer);
        token = undefined;
      }
    }
    if (peer === undefined || (bearer !== undefined && token === undefined))
      return this.identifySlowly(bearer, socket, audiences);
    return this.combine(bearer === undefined ? undefined : token!, peer);
  }

  private async identifySlowly(
    bearer: string | undefined,
    socket: TLSSocket | undefined,
    audiences: readonly string[],
  ): Promise<CallerIdentity> {
    const peer = socket ? await this.verifyPeer(socket) : null;
    const token = bearer === undefined ? undefined : await this.verifyBearer(bearer, audiences);
    return this.combine(token, peer);
  }

  private combine(token: Verified | undefined, peer: Verified | null): CallerIdentity {
    const peerCredential = peer ? this.current(peer) : undefined;
    const mtls =
      peer?.revocable !== undefined &&
      peerCredential!.revoked !== true &&
      this.clock.now() <= (peer.validUntil ?? Number.POSITIVE_INFINITY);
    if (token) {
      let credential = this.current(token);
      // Two credentials naming two identities vouch for neither.
      if (peer?.revocable && credential.verified && peer.spiffeId !== token.spiffeId)
        credential = { type: credential.type, verified: false };
      return { spiffeId: token.spiffeId, credential, mtls };
    }
    if (peer) return { spiffeId: peer.spiffeId, credential: peerCredential!, mtls };
    return NO_CALLER;
  }

  /** The credential as of now: revocations are asked on every request. */
  private current(v: Verified): RequestCredential {
    return v.revocable && this.trust.revocations.isRevoked(v.revocable)
      ? REVOKED[v.credential.type]!
      : v.credential;
  }

  private async verifyBearer(token: string, audiences: readonly string[]): Promise<Verified> {
    const bundles = this.trust.bundles;
    let lastError: unknown;
    for (const audience of audiences) {
      try {
        const { spiffeId, claims } = await this.jwt.verify(token, { audience });
        const verified: VerifiedBearer = {
          bundles,
          audiences,
          rejectAt: (claims.exp + DEFAULT_CLOCK_SKEW_SECONDS) * 1000,
          spiffeId,
          credential: jwtCredential(claims),
          revocable: revocableJwt(claims),
        };
        if (this.bearers.size >= MAX_BEARERS) this.bearers.delete(this.bearers.keys().next().value!);
        this.bearers.set(token, verified);
        return verified;
      } catch (err) {
        lastError = err;
        if ((err as { code?: string }).code !== 'svid_bad_audience') break;
      }
    }
    return { bundles, spiffeId: claimedSubject(token), credential: failedCredential('jwt-svid', lastError) };
  }

  /** The connection's client certificate, verified (or not) as an X.509-SVID; null when none. */
  private async verifyPeer(socket: TLSSocket): Promise<Verified | null> {
    const bundles = this.trust.bundles;
    const known = this.peers.get(socket);
    if (known === null || (known && known.bundles === bundles)) return known;
    const leaf = socket.getPeerCertificate(true);
    if (!leaf || !leaf.raw) {
      this.peers.set(socket, null);
      return null;
    }
    const chain = chainFromPeer(leaf);
    let verified: Verified;
    try {
      const v = await verifyX509Svid(chain, bundles, { now: this.clock.now() });
      const notBefore = Date.parse(v.notBefore);
      // The issuer backdates notBefore, except when that would precede its own CA's
      // notBefore; then the issue time is unknown and the earliest one is assumed.
      const clamped = Date.parse(leaf.issuerCertificate?.valid_from ?? '') === notBefore;
      verified = {
        bundles,
        spiffeId: v.spiffeId,
        credential: Object.freeze<RequestCredential>({
          type: 'x509-svid',
          id: v.serial,
          verified: true,
          notBefore: v.notBefore,
          expiresAt: v.notAfter,
        }),
        revocable: Object.freeze({
          id: v.serial,
          spiffeId: v.spiffeId,
          issuedAt: clamped ? notBefore : notBefore + X509_SVID_BACKDATE_SECONDS * 1000,
        }),
        validUntil: Date.parse(v.notAfter),
      };
    } catch (err) {
      verified = {
        bundles,
        spiffeId: /URI:(spiffe:\/\/[^,\s]+)/.exec(leaf.subjectaltname ?? '')?.[1] ?? '',
        credential: failedCredential('x509-svid', err),
      };
      // A certificate that is not valid yet may become so on the same connection.
      if ((err as { code?: string }).code === 'svid_not_yet_valid') return verified;
    }
    this.peers.set(socket, verified);
    return verified;
  }
}

function revocableJwt(claims: JwtSvidClaims): RevocableCredential {
  const grant = claims[GRANT_CLAIM] as { id?: unknown } | undefined;
  const c: RevocableCredential = { spiffeId: claims.sub };
  if (typeof claims.jti === 'string') c.id = claims.jti;
  if (typeof claims.iat === 'number') c.issuedAt = claims.iat * 1000;
  if (typeof grant?.id === 'string') c.grantId = grant.id;
  return Object.freeze(c);
}

function jwtCredential(claims: JwtSvidClaims): RequestCredential {
  const grant = claims[GRANT_CLAIM] as { id?: unknown; scope?: GrantScope } | undefined;
  const c: RequestCredential = {
    type: grant && typeof grant.id === 'string' ? 'grant' : 'jwt-svid',
    verified: true,
    expiresAt: new Date(claims.exp * 1000).toISOString(),
  };
  if (typeof claims.jti === 'string') c.id = claims.jti;
  if (typeof claims.iat === 'number') c.issuedAt = new Date(claims.iat * 1000).toISOString();
  if (c.type === 'grant') {
    const s = grant!.scope;
    c.scope = {
      service: String(s?.service ?? ''),
      methods: [...(s?.methods ?? [])],
      paths: [...(s?.paths ?? [])],
      operations: [...(s?.operations ?? [])],
    };
  }
  return Object.freeze(c);
}

/** A credential that did not verify, shaped so the credential layer names the reason. */
function failedCredential(type: 'jwt-svid' | 'x509-svid', err: unknown): RequestCredential {
  const code = (err as { code?: string } | undefined)?.code;
  if (code === 'svid_revoked') return REVOKED[type]!;
  if (code === 'svid_expired') return { type, verified: true, expiresAt: EPOCH };
  return { type, verified: false };
}

/** The `sub` of a token, unverified: a name for the log, never trusted. */
function claimedSubject(token: string): string {
  if (token.length > MAX_JWT_SVID_BYTES) return '';
  const decoded = decodeCompactJws(token);
  const sub = decoded.ok ? decoded.payload.sub : undefined;
  return typeof sub === 'string' && sub.length <= 2048 ? sub : '';
}
