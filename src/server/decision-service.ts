/**
 * The decision point as a service: it verifies the credential the caller
 * presented (JWT-SVID or X.509-SVID, revocation and grant scope included),
 * decides with the compiled policy, writes the decision log and answers only
 * once the record is durable. Every failure on this path is a deny.
 */
import type { Decision } from '../core/decision/decision.js';
import { failedDecision } from '../core/decision/index.js';
import type { DecisionRequest, RequestCredential } from '../core/decision/request.js';
import { checkDecisionRequest } from '../core/decision/request.js';
import type { IdentityAuthority } from '../core/identity/authority.js';
import type { DecisionLogWriter } from '../core/log/decision-log-writer.js';
import type { DecisionRecord } from '../core/log/decision-record.js';
import { recordFromDecision } from '../core/log/record-from-decision.js';
import type { Clock, Random } from '../core/ports.js';
import type { CompiledPolicy } from '../core/policy/index.js';
import { isoTime } from '../core/utc-time.js';
import { HttpError } from './http-error.js';

/** What an enforcement point may send besides a v1 request: the raw credential to verify here. */
export interface PresentedCredential {
  /** A JWT-SVID (bearer). Its audience must include the destination service's SPIFFE ID or name. */
  jwtSvid?: string;
  /** An X.509-SVID chain, PEM, leaf first (the peer certificate of an mTLS connection). */
  x509Chain?: string;
}

/** Upper bounds (µs) of the latency histogram buckets exported as metrics. */
export const LATENCY_BUCKETS_MICROS = [25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 50000];

export class DecisionService {
  private compiled: CompiledPolicy;
  /** decisions by verdict/layer/mode, for /metrics. */
  readonly counters = new Map<string, number>();
  readonly latencyBuckets = new Array<number>(LATENCY_BUCKETS_MICROS.length + 1).fill(0);
  latencySumMicros = 0;
  latencyCount = 0;

  constructor(
    compiled: CompiledPolicy,
    private readonly authority: IdentityAuthority,
    private readonly log: DecisionLogWriter,
    private readonly clock: Clock,
    private readonly ids: Random,
  ) {
    this.compiled = compiled;
  }

  get policy(): CompiledPolicy {
    return this.compiled;
  }

  /** Swaps the policy atomically: a decision in flight finishes with the one it started with. */
  swapPolicy(next: CompiledPolicy): void {
    this.compiled = next;
  }

  /**
   * Decides one request. Throws `HttpError` 400 for a request that is not
   * JSON of the right shape, so the caller can say why; once the request is
   * well-formed, the answer is a decision (a deny on any failure), which is
   * logged before it is returned.
   *
   * `peerChain` is the X.509-SVID of the connection's mTLS peer, given by an
   * enforcement point beside a presented bearer JWT-SVID: the request is mTLS
   * (`context.mtls`) only when it verifies for the bearer's identity, and
   * when it does not, neither credential counts, as at the proxy. A
   * certificate that merely came along must not open rules that ask for mTLS.
   */
  async decide(
    input: unknown,
    via: string,
    peerChain?: string,
  ): Promise<{ decision: Decision; record: DecisionRecord }> {
    const started = process.hrtime.bigint();
    const { request, presented } = splitPresented(input);
    const problems = checkDecisionRequest(request);
    if (problems.length) {
      const first = problems[0]!;
      throw new HttpError(
        400,
        'request_invalid',
        `invalid decision request: ${first.path ? `${first.path}: ` : ''}${first.message}` +
          (problems.length > 1 ? ` (and ${problems.length - 1} more)` : ''),
      );
    }
    const req = request as DecisionRequest;
    const policy = this.compiled;
    let decision: Decision;
    try {
      if (presented) req.credential = await this.verifyPresented(presented, req, peerChain);
      decision = policy.decide(req);
    } catch (err) {
      // Fail closed: the verifier or the engine failed; the answer is a deny, and it is logged.
      decision = failedDecision(
        'internal_error',
        `decision failed: ${(err as Error).message}`,
        policy.revision,
        req.destination.service,
      );
    }
    // A policy compiled with ids (the server's) has given one already: no copy then.
    if (decision.decisionId === undefined) decision = { ...decision, decisionId: this.ids.id() };
    const latencyMicros = Number((process.hrtime.bigint() - started) / 1000n);
    this.count(decision, latencyMicros);
    const record = await this.log.record(
      recordFromDecision(req, decision, {
        decisionId: decision.decisionId!,
        time: isoTime(this.clock.now()),
        via,
        latencyMicros,
      }),
    );
    return { decision, record };
  }

  private async verifyPresented(
    p: PresentedCredential,
    req: DecisionRequest,
    peerChain: string | undefined,
  ): Promise<RequestCredential> {
    if (p.jwtSvid !== undefined) {
      const svc = this.compiled.policy.services.find((s) => s.name === req.destination.service);
      const audiences = [svc?.spiffeId, req.destination.service].filter((a): a is string => Boolean(a));
      let lastError: unknown;
      for (const audience of audiences) {
        try {
          const v = await this.authority.verifyJwtSvid(p.jwtSvid, audience);
          if (v.spiffeId !== req.source.spiffeId) {
            return { type: 'jwt-svid', verified: false };
          }
          if (peerChain !== undefined) {
            const peer = await this.authority.verifyX509Svid(peerChain).catch(() => undefined);
            if (peer?.spiffeId !== v.spiffeId) return { type: 'jwt-svid', verified: false };
            req.context = { ...req.context, mtls: true };
          }
          const c: RequestCredential = {
            type: v.grant ? 'grant' : 'jwt-svid',
            verified: true,
            ...(v.claims.jti ? { id: v.claims.jti } : {}),
            ...(v.claims.iat ? { issuedAt: new Date(v.claims.iat * 1000).toISOString() } : {}),
            expiresAt: new Date(v.claims.exp * 1000).toISOString(),
          };
          if (v.grant)
            c.scope = {
              ...v.grant.scope,
              methods: [...v.grant.scope.methods],
              paths: [...v.grant.scope.paths],
              operations: [...v.grant.scope.operations],
            };
          return c;
        } catch (err) {
          lastError = err;
          if ((err as { code?: string }).code !== 'svid_bad_audience') break;
        }
      }
      return failedCredential('jwt-svid', lastError);
    }
    try {
      const v = await this.authority.verifyX509Svid(p.x509Chain!);
      if (v.spiffeId !== req.source.spiffeId) return { type: 'x509-svid', verified: false };
      return { type: 'x509-svid', id: v.serial, verified: true, expiresAt: v.expiresAt };
    } catch (err) {
      return failedCredential('x509-svid', err);
    }
  }

  private count(d: Decision, micros: number): void {
    const key = `${d.decision}|${d.layer}|${d.mode}`;
    this.counters.set(key, (this.counters.get(key) ?? 0) + 1);
    let i = 0;
    while (i < LATENCY_BUCKETS_MICROS.length && micros > LATENCY_BUCKETS_MICROS[i]!) i++;
    this.latencyBuckets[i]!++;
    this.latencySumMicros += micros;
    this.latencyCount++;
  }
}

/** A credential that did not verify, shaped so the credential layer names the reason. */
function failedCredential(type: 'jwt-svid' | 'x509-svid', err: unknown): RequestCredential {
  const code = (err as { code?: string } | undefined)?.code;
  if (code === 'svid_revoked') return { type, verified: true, revoked: true };
  if (code === 'svid_expired') return { type, verified: true, expiresAt: new Date(0).toISOString() };
  return { type, verified: false };
}

function splitPresented(input: unknown): { request: unknown; presented?: PresentedCredential } {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) return { request: input };
  const body = input as Record<string, unknown>;
  const c = body.credential as Record<string, unknown> | undefined;
  if (!c || typeof c !== 'object' || (c.jwtSvid === undefined && c.x509Chain === undefined))
    return { request: input };
  if (c.jwtSvid !== undefined && c.x509Chain !== undefined) {
    throw new HttpError(
      400,
      'request_invalid',
      'invalid decision request: credential: give jwtSvid or x509Chain, not both',
    );
  }
  const presented: PresentedCredential = {};
  for (const k of ['jwtSvid', 'x509Chain'] as const) {
    if (c[k] === undefined) continue;
    if (typeof c[k] !== 'string' || (c[k] as string).length === 0 || (c[k] as string).length > 65536) {
      throw new HttpError(
        400,
        'request_invalid',
        `invalid decision request: credential.${k}: must be a non-empty string`,
      );
    }
    presented[k] = c[k] as string;
  }
  for (const k of Object.keys(c)) {
    if (k !== 'jwtSvid' && k !== 'x509Chain') {
      throw new HttpError(
        400,
        'request_invalid',
        `invalid decision request: credential.${k}: not allowed with a presented SVID`,
      );
    }
  }
  // The presented SVID replaces the credential object; verification fills it in.
  return {
    request: { ...body, credential: { type: presented.jwtSvid ? 'jwt-svid' : 'x509-svid', verified: false } },
    presented,
  };
}
