/**
 * What a running proxy tells its operators, on a listener of its own
 * (`--metrics-listen`), apart from the traffic it guards, as Envoy keeps its
 * admin port apart: `/metrics` in the Prometheus text format (0.0.4),
 * `/healthz` (the process answers) and `/readyz` (a policy is synced, so
 * requests are decided rather than refused).
 */
import http, { type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { UnchainedRecord } from '../core/log/hash-chain.js';
import type { Clock } from '../core/ports.js';
import { leanPathCounters, type LeanPathCounters } from '../server/http1-lean-path.js';
import type { DecisionShipper } from './decision-shipper.js';
import type { SyncClient } from './sync-client.js';

/** Counts the decisions a proxy makes, as their records go by. */
export class ProxyMetrics {
  /** By `<verdict>|<layer>|<mode>|<enforced>`. */
  private readonly decisions = new Map<string, number>();
  /** What the lean path served and handed to Node's server (start-proxy.ts counts into it). */
  readonly lean: LeanPathCounters = leanPathCounters();

  constructor(
    private readonly service: string,
    private readonly sync: SyncClient,
    private readonly shipper: DecisionShipper,
    private readonly clock: Clock,
  ) {}

  /** Counts the decision of `record`; the record then goes on to the shipper. */
  count(record: UnchainedRecord): void {
    const key = `${record.decision}|${record.layer}|${record.mode}|${record.enforced}`;
    this.decisions.set(key, (this.decisions.get(key) ?? 0) + 1);
  }

  render(): string {
    const service = JSON.stringify(this.service);
    const lines = [
      '# HELP gatehouse_proxy_decisions_total Decisions made by the proxy, by verdict, deciding layer, rollout mode and whether enforced.',
      '# TYPE gatehouse_proxy_decisions_total counter',
    ];
    for (const [key, n] of this.decisions) {
      const [verdict, layer, mode, enforced] = key.split('|');
      lines.push(
        `gatehouse_proxy_decisions_total{service=${service},verdict="${verdict}",layer="${layer}",mode="${mode}",enforced="${enforced}"} ${n}`,
      );
    }
    const s = this.shipper.stats();
    const metric = (name: string, type: string, help: string, value: number) =>
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, `${name}{service=${service}} ${value}`);
    metric(
      'gatehouse_proxy_decision_records_buffered',
      'gauge',
      'Decision records not yet shipped to the control plane.',
      s.buffered,
    );
    metric(
      'gatehouse_proxy_decision_records_shipped_total',
      'counter',
      'Decision records the control plane has written durably.',
      s.shipped,
    );
    metric(
      'gatehouse_proxy_decision_records_dropped_total',
      'counter',
      'Decision records dropped because the buffer was full while the control plane was unreachable, or refused by it as malformed.',
      s.dropped,
    );
    metric(
      'gatehouse_proxy_decision_records_unspooled_total',
      'counter',
      'Decision records the spool could not write to its file (shipped from memory all the same).',
      s.unspooled,
    );
    metric(
      'gatehouse_proxy_decision_records_recovered_total',
      'counter',
      'Decision records an earlier run of the proxy left in the spool, taken up at start.',
      s.recovered,
    );
    metric(
      'gatehouse_proxy_lean_requests_total',
      'counter',
      "Requests read and answered on the lean path, without Node's HTTP request and response objects.",
      this.lean.served,
    );
    metric(
      'gatehouse_proxy_lean_handoffs_total',
      'counter',
      "Connections handed to Node's HTTP server at a request the lean path does not read (a body over 64 KiB or arriving slowly, chunked, Expect, Upgrade, a field given twice, ...).",
      this.lean.handedOff,
    );
    const policy = this.sync.policy;
    metric(
      'gatehouse_proxy_policy_synced',
      'gauge',
      '1 once the proxy holds a policy (it decides), 0 before (it refuses every request).',
      policy ? 1 : 0,
    );
    metric(
      'gatehouse_proxy_policy_restored',
      'gauge',
      '1 while the proxy enforces the state it kept on file, not yet synced with the control plane since it started.',
      this.sync.restoredOnly ? 1 : 0,
    );
    if (policy)
      lines.push(
        '# HELP gatehouse_proxy_policy_info The revision of the policy the proxy enforces.',
        '# TYPE gatehouse_proxy_policy_info gauge',
        `gatehouse_proxy_policy_info{service=${service},revision="${policy.revision}"} 1`,
      );
    metric(
      'gatehouse_proxy_revocations_held',
      'gauge',
      'Revocations the proxy enforces, synced and not yet past their expiry.',
      this.sync.revocations.size,
    );
    const sequence = this.sync.bundleSequence;
    if (sequence !== undefined)
      metric(
        'gatehouse_proxy_bundle_sequence',
        'gauge',
        'The spiffe_sequence of the trust bundle the proxy verifies with.',
        sequence,
      );
    const last = this.sync.lastSyncAt;
    if (last !== undefined)
      metric(
        'gatehouse_proxy_last_sync_age_seconds',
        'gauge',
        'Seconds since the last successful sync with the control plane.',
        Math.max(0, (this.clock.now() - last) / 1000),
      );
    return lines.join('\n') + '\n';
  }
}

/** Serves `/metrics`, `/healthz` and `/readyz`; resolves once listening, with the server and its URL. */
export async function serveProxyMetrics(
  metrics: ProxyMetrics,
  sync: SyncClient,
  host: string,
  port: number,
): Promise<{ server: Server; url: string }> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const answer = (status: number, type: string, body: string) => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD')
      return answer(405, 'application/json', '{"error":{"code":"method_not_allowed","message":"GET only"}}');
    if (path === '/metrics') return answer(200, 'text/plain; version=0.0.4', metrics.render());
    if (path === '/healthz') return answer(200, 'application/json', '{"status":"ok"}');
    if (path === '/readyz')
      return sync.policy
        ? answer(
            200,
            'application/json',
            sync.restoredOnly
              ? '{"status":"ready","policy":"restored from file, not yet synced"}'
              : '{"status":"ready"}',
          )
        : answer(503, 'application/json', '{"status":"no policy synced yet"}');
    answer(404, 'application/json', '{"error":{"code":"not_found","message":"no such path"}}');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return { server, url: `http://${shown}:${address.port}` };
}
