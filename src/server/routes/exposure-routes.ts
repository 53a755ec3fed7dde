/**
 * Exposure analysis over what the server holds (docs/exposure.md): the live
 * inventory (entries, credentials, grants, revocations), the active policy and
 * the decision log. The same core as `gatehouse audit`, `privileges` and
 * `blast-radius`, which read files instead.
 *
 * `GET /v1/audit`, `GET /v1/privileges` and `GET /v1/blast-radius` — admin
 * only: each reveals the whole estate's weak points.
 */
import {
  ActivityCollector,
  Audit,
  blastRadius,
  blastRadiusDot,
  buildEstate,
  emptyWindowProblem,
  grantedVsUsed,
  renderAuditHtml,
  resolveBlastTarget,
  type ActivityOptions,
  type AuditOptions,
  type BlastRadiusOptions,
  type ObservedRecord,
} from '../../core/analysis/exposure/index.js';
import type { IdentityAuthority } from '../../core/identity/authority.js';
import { loadInventory, type InventorySnapshot } from '../../core/identity/inventory.js';
import type { Clock, DecisionLogStore } from '../../core/ports.js';
import type { Policy } from '../../core/policy/index.js';
import { requireAdmin } from '../auth.js';
import { HttpError } from '../http-error.js';
import type { Router } from '../router.js';
import { countParam, enumParam, timeParam } from './params.js';

/** Records read from the store per batch while analysing the log (bounded memory). */
const SCAN_BATCH = 5000;

export interface ExposureRouteDeps {
  authority: IdentityAuthority;
  log: DecisionLogStore;
  policies: { current(): { policy: Policy } };
  clock: Clock;
}

export function exposureRoutes(router: Router, deps: ExposureRouteDeps): void {
  const { authority, log, policies, clock } = deps;

  /** The live inventory as a snapshot, read through the same loader as an inventory file. */
  async function inventory(): Promise<InventorySnapshot> {
    const snapshot = { apiVersion: 'gatehouse.dev/v1', kind: 'Inventory', ...(await authority.inventory()) };
    return loadInventory(JSON.parse(JSON.stringify(snapshot)) as unknown, 'inventory');
  }

  /**
   * Gives the sink every stored record, oldest first. A stored text that is
   * not JSON is left out: the chain check then reports the gap it leaves.
   */
  async function feed(sink: {
    add(record: ObservedRecord): void;
    addLine?(line: string): boolean;
  }): Promise<void> {
    for await (const batch of log.scan(1, SCAN_BATCH))
      for (const { json } of batch) {
        if (sink.addLine?.(json)) continue;
        let record: ObservedRecord;
        try {
          record = JSON.parse(json) as ObservedRecord;
        } catch {
          continue;
        }
        sink.add(record);
      }
  }

  router.add('GET', '/v1/audit', async (req) => {
    await requireAdmin(authority, req);
    const q = req.query;
    const format = enumParam(q, 'format', ['json', 'html']) ?? 'json';
    const now = clock.now();
    const options: AuditOptions = {
      now,
      verifyChain: enumParam(q, 'skipChain', ['true', 'false']) !== 'true',
    };
    const since = timeParam(q, 'since');
    const until = timeParam(q, 'until');
    const staleDays = countParam(q, 'staleDays', 1);
    checkWindow(since, until ?? now);
    if (since !== undefined) options.since = since;
    if (until !== undefined) options.until = until;
    if (staleDays !== undefined) options.staleDays = staleDays;
    const audit = new Audit(policies.current().policy, await inventory(), options).withLog();
    await feed(audit);
    const report = audit.finish();
    return format === 'html'
      ? {
          status: 200,
          body: renderAuditHtml(report),
          headers: { 'content-type': 'text/html; charset=utf-8' },
        }
      : { status: 200, body: report };
  });

  router.add('GET', '/v1/privileges', async (req) => {
    await requireAdmin(authority, req);
    const q = req.query;
    const now = clock.now();
    const policy = policies.current().policy;
    const estate = buildEstate(policy, await inventory(), { now });
    const until = timeParam(q, 'until') ?? now;
    const options: ActivityOptions = { until };
    const since = timeParam(q, 'since');
    checkWindow(since, until);
    if (since !== undefined) options.since = since;
    const activity = new ActivityCollector(options);
    await feed(activity);
    const report = grantedVsUsed(estate, activity);
    const wanted = q
      .getAll('identity')
      .map((i) => (i.startsWith('/') ? `spiffe://${policy.trustDomain}${i}` : i));
    if (wanted.length) {
      const set = new Set(wanted);
      report.identities = report.identities.filter((p) => set.has(p.spiffeId));
    }
    const { document: _document, ...proposal } = report.proposal;
    return { status: 200, body: { ...report, proposal } };
  });

  router.add('GET', '/v1/blast-radius', async (req) => {
    await requireAdmin(authority, req);
    const q = req.query;
    const target = q.get('target');
    if (!target)
      throw new HttpError(
        400,
        'request_invalid',
        '`target` (a SPIFFE ID, entry id or credential id) is required',
      );
    const format = enumParam(q, 'format', ['json', 'dot']) ?? 'json';
    const policy = policies.current().policy;
    const estate = buildEstate(policy, await inventory(), { now: clock.now() });
    const options: BlastRadiusOptions = {};
    const maxHops = countParam(q, 'maxHops', 0);
    const maxPaths = countParam(q, 'maxPaths', 1);
    if (maxHops !== undefined) options.maxHops = maxHops;
    if (maxPaths !== undefined) options.maxPaths = maxPaths;
    const fromZones = q.getAll('fromZone');
    if (fromZones.length) {
      const known = new Set([...policy.zones.map((z) => z.name), 'unknown']);
      for (const z of fromZones)
        if (!known.has(z))
          throw new HttpError(400, 'request_invalid', `unknown zone \`${z}\` in \`fromZone\``);
      options.fromZones = fromZones;
    }
    const start = resolveBlastTarget(estate, target);
    if (!start.start) throw new HttpError(404, 'store_not_found', start.problem);
    const result = blastRadius(estate, start.start, options);
    return format === 'dot'
      ? {
          status: 200,
          body: blastRadiusDot(result),
          headers: { 'content-type': 'text/vnd.graphviz; charset=utf-8' },
        }
      : { status: 200, body: result };
  });
}

/** Refuses an empty log window: `since` at or after `until`, which defaults to now. */
function checkWindow(since: number | undefined, until: number): void {
  const problem = emptyWindowProblem(since, until, { since: '`since`', until: '`until` (default: now)' });
  if (problem) throw new HttpError(400, 'request_invalid', problem);
}
