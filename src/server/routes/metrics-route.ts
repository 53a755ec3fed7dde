/**
 * Prometheus metrics at `/metrics` (text exposition format 0.0.4): decisions
 * by verdict, layer and mode; decision latency; verification cache size; the
 * decision log's queue depth and write counters; what the lean HTTP path
 * served and handed to Node's server; the revocations held and pruned; on
 * a shared PostgreSQL store, what this server took up from the others.
 */
import type { DecisionLogPruner } from '../decision-log-pruner.js';
import type { DecisionLogWriter } from '../../core/log/decision-log-writer.js';
import { LATENCY_BUCKETS_MICROS, type DecisionService } from '../decision-service.js';
import type { LeanPathCounters } from '../http1-lean-path.js';
import type { Router } from '../router.js';
import type { StoreFollower } from '../store-follower.js';

/** What the server knows of its revocations. */
export interface RevocationCounts {
  /** Revocations enforced, held in memory. */
  held: number;
  /** Revocations past their expiry deleted from the store by this server. */
  pruned: number;
}

export function metricsRoute(
  router: Router,
  service: DecisionService,
  writer: DecisionLogWriter,
  lean: LeanPathCounters,
  pruner: DecisionLogPruner,
  revocations: () => RevocationCounts,
  follower?: StoreFollower,
): void {
  router.add('GET', '/metrics', () => {
    const lines: string[] = [];
    lines.push(
      '# HELP gatehouse_decisions_total Decisions made, by verdict, deciding layer and rollout mode.',
    );
    lines.push('# TYPE gatehouse_decisions_total counter');
    for (const [key, n] of service.counters) {
      const [verdict, layer, mode] = key.split('|');
      lines.push(`gatehouse_decisions_total{verdict="${verdict}",layer="${layer}",mode="${mode}"} ${n}`);
    }
    lines.push(
      '# HELP gatehouse_decision_duration_seconds Time to decide, credential verification included.',
    );
    lines.push('# TYPE gatehouse_decision_duration_seconds histogram');
    let cumulative = 0;
    LATENCY_BUCKETS_MICROS.forEach((le, i) => {
      cumulative += service.latencyBuckets[i]!;
      lines.push(`gatehouse_decision_duration_seconds_bucket{le="${le / 1e6}"} ${cumulative}`);
    });
    cumulative += service.latencyBuckets[LATENCY_BUCKETS_MICROS.length]!;
    lines.push(`gatehouse_decision_duration_seconds_bucket{le="+Inf"} ${cumulative}`);
    lines.push(`gatehouse_decision_duration_seconds_sum ${service.latencySumMicros / 1e6}`);
    lines.push(`gatehouse_decision_duration_seconds_count ${service.latencyCount}`);
    const s = writer.stats();
    const gauge = (name: string, help: string, value: number, type = 'gauge') =>
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, `${name} ${value}`);
    gauge(
      'gatehouse_decision_log_queue_depth',
      'Decision records accepted but not yet durable.',
      s.queueDepth,
    );
    gauge('gatehouse_decision_log_waiting', 'Callers waiting for room in the decision log queue.', s.waiting);
    const p = pruner.stats();
    gauge(
      'gatehouse_decision_log_pruned_total',
      'Decision records pruned by this server (retention, or on request).',
      p.pruned,
      'counter',
    );
    gauge(
      'gatehouse_decision_log_prune_failures_total',
      'Prunes of the decision log that failed.',
      p.failures,
      'counter',
    );
    gauge('gatehouse_decision_log_written_total', 'Decision records written durably.', s.written, 'counter');
    gauge(
      'gatehouse_decision_log_batches_total',
      'Decision log transactions committed.',
      s.batches,
      'counter',
    );
    gauge(
      'gatehouse_decision_log_write_errors_total',
      'Decision log appends that failed.',
      s.writeErrors,
      'counter',
    );
    gauge(
      'gatehouse_decision_log_conflicts_total',
      'Decision log batches chained again because another server of the same log appended first.',
      s.conflicts,
      'counter',
    );
    gauge(
      'gatehouse_decision_log_already_logged_total',
      'Shipped decision records not written again: the log already held them (sent twice, or to two servers).',
      s.alreadyLogged,
      'counter',
    );
    const r = revocations();
    gauge('gatehouse_revocations_held', 'Revocations enforced, held in memory.', r.held);
    gauge(
      'gatehouse_revocations_pruned_total',
      'Revocations past their expiry deleted from the store by this server.',
      r.pruned,
      'counter',
    );
    if (follower) {
      const f = follower.stats();
      gauge(
        'gatehouse_store_follow_rounds_total',
        'Rounds that took up what other servers of the PostgreSQL store changed.',
        f.rounds,
        'counter',
      );
      gauge(
        'gatehouse_store_follow_failures_total',
        'Rounds that failed to read the store; what was known before stays enforced.',
        f.failures,
        'counter',
      );
      gauge(
        'gatehouse_store_followed_revocations_total',
        'Revocations taken up from other servers.',
        f.revocations,
        'counter',
      );
      gauge('gatehouse_store_followed_key_changes_total', 'Key rotations taken up.', f.keyChanges, 'counter');
      gauge(
        'gatehouse_store_followed_policies_total',
        'Policy activations taken up from other servers.',
        f.policies,
        'counter',
      );
    }
    gauge(
      'gatehouse_http_lean_requests_total',
      'Requests read and answered by the lean HTTP/1.1 path of the enforcement routes.',
      lean.served,
      'counter',
    );
    gauge(
      'gatehouse_http_lean_handoffs_total',
      "Connections handed from the lean path to Node's HTTP server (a request not plain, or to another route).",
      lean.handedOff,
      'counter',
    );
    return {
      status: 200,
      body: lines.join('\n') + '\n',
      headers: { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' },
    };
  });
}
