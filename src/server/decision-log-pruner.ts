/**
 * Pruning of the server's decision log (docs/decision-log.md, "Retention"):
 * on request (`POST /v1/decisions/prune`) and, with a retention span, on its
 * own, now and then every tenth of the span (1 s to 1 h). Counts what it
 * pruned and its failures for `/metrics`.
 */
import type { Clock, DecisionLogAnchor, DecisionLogStore } from '../core/ports.js';
import { isoTime } from '../core/utc-time.js';
import type { Logger } from './logger.js';

export interface PrunerStats {
  /** Records pruned by this process, on request or on its own. */
  pruned: number;
  /** Prunes that failed. */
  failures: number;
}

export class DecisionLogPruner {
  private readonly counters: PrunerStats = { pruned: 0, failures: 0 };
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private readonly stopping = new AbortController();

  constructor(
    private readonly log: Pick<DecisionLogStore, 'prune'>,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  /** Prunes the records decided before `before` (canonical time): see {@link DecisionLogStore.prune}. */
  async prune(before: string): Promise<{ pruned: number; anchor: DecisionLogAnchor | undefined }> {
    try {
      const result = await this.log.prune(before, {
        at: isoTime(this.clock.now()),
        signal: this.stopping.signal,
      });
      this.counters.pruned += result.pruned;
      if (result.pruned > 0)
        this.logger.log('info', 'decision_log_pruned', {
          pruned: result.pruned,
          before,
          throughSeq: result.anchor?.seq,
        });
      return result;
    } catch (error) {
      this.counters.failures++;
      throw error;
    }
  }

  /** Prunes what is older than `retentionMs`, now and periodically, until {@link stop}. */
  retain(retentionMs: number): void {
    const run = () => {
      if (this.running) return;
      const before = isoTime(this.clock.now() - retentionMs);
      this.running = this.prune(before)
        .then(() => undefined)
        .catch((error: unknown) => {
          if (!this.stopping.signal.aborted)
            this.logger.log('error', 'decision_log_prune_failed', { error: String(error), before });
        })
        .finally(() => (this.running = undefined));
    };
    run();
    this.timer = setInterval(run, Math.min(3_600_000, Math.max(1000, retentionMs / 10)));
    this.timer.unref();
  }

  stats(): PrunerStats {
    return { ...this.counters };
  }

  /** Stops pruning after the current step (the rest is pruned by the next start); resolves when it has. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.stopping.abort();
    await this.running;
  }
}
