/**
 * For servers sharing one PostgreSQL store: each takes up, every interval,
 * what the others changed in it. Revocations and key rotations are in the
 * store as soon as one server makes them, but each server enforces its own
 * copy in memory; without this, a credential revoked through one server
 * stayed valid at the others' `/v1/decide` until they restarted, a policy
 * activated on one was not enforced by the others, and a rotation on one
 * left the others verifying with the old keys.
 */
import type { IdentityAuthority } from '../core/identity/authority.js';
import type { Clock } from '../core/ports.js';
import type { Logger } from './logger.js';
import type { PolicyManager } from './policy-manager.js';

export interface FollowerStats {
  /** Rounds that read the store. */
  rounds: number;
  /** Rounds that failed; what was known before stays enforced. */
  failures: number;
  /** Revocations taken up from other servers. */
  revocations: number;
  /** Key rotations taken up. */
  keyChanges: number;
  /** Policy activations taken up. */
  policies: number;
}

export class StoreFollower {
  private readonly counters: FollowerStats = {
    rounds: 0,
    failures: 0,
    revocations: 0,
    keyChanges: 0,
    policies: 0,
  };
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  /** When the last round that failed in nothing ended; set by {@link start}. */
  private lastSuccess: number | undefined;
  private staleAfterMs = 10_000;

  constructor(
    private readonly authority: Pick<IdentityAuthority, 'refreshFromStore'>,
    private readonly policies: Pick<PolicyManager, 'follow'>,
    private readonly logger: Logger,
    private readonly clock: Clock,
  ) {}

  /** One round: revocations and keys, then the active policy; each failure logged apart. */
  async round(): Promise<void> {
    this.counters.rounds++;
    let failed = false;
    try {
      const { revocations, keys } = await this.authority.refreshFromStore();
      this.counters.revocations += revocations;
      if (keys) this.counters.keyChanges++;
      if (revocations > 0 || keys)
        this.logger.log('info', 'store_followed', { revocations, keysChanged: keys });
    } catch (error) {
      failed = true;
      this.logger.log('error', 'store_follow_failed', { what: 'identity', error: String(error) });
    }
    try {
      if ((await this.policies.follow()) !== undefined) this.counters.policies++;
    } catch (error) {
      failed = true;
      this.logger.log('error', 'store_follow_failed', { what: 'policy', error: String(error) });
    }
    if (failed) this.counters.failures++;
    else this.lastSuccess = this.clock.now();
  }

  /**
   * Why this server should not take requests: it has not taken up the
   * others' changes for ten intervals (at least 10 s), so it may accept a
   * credential revoked elsewhere. For `/readyz`, so that a load balancer
   * sends the requests to servers that are current.
   */
  problem(): string | undefined {
    if (this.lastSuccess === undefined) return undefined;
    const stale = this.clock.now() - this.lastSuccess;
    if (stale <= this.staleAfterMs) return undefined;
    return `other servers' revocations, keys and policy not taken up for ${Math.round(stale / 1000)} s (store_follow_failed in the log)`;
  }

  /** Runs a round every `intervalMs`, never two at once, until {@link stop}. */
  start(intervalMs: number): void {
    this.lastSuccess = this.clock.now();
    this.staleAfterMs = Math.max(10_000, 10 * intervalMs);
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = this.round().finally(() => (this.running = undefined));
    }, intervalMs);
    this.timer.unref();
  }

  /** Stops the rounds; resolves once the one under way, if any, is done. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  stats(): FollowerStats {
    return { ...this.counters };
  }
}
