/**
 * The audit: every finding family over the policy, an inventory snapshot and
 * a decision log, as of one instant. Records stream through `add` in log
 * order with memory bounded per identity, so a log of millions of records
 * needs no more memory than its identities do.
 */
import type { InventorySnapshot } from '../../identity/inventory.js';
import { ChainVerifier, type ChainStatus } from '../../log/hash-chain.js';
import type { Policy } from '../../policy/model.js';
import { ActivityCollector, type ActivitySummary, type ObservedRecord } from './activity.js';
import type { ActivityBatch } from './activity-batch.js';
import { RecordLineScanner } from './record-line.js';
import {
  DEFAULT_THRESHOLDS,
  type AuditContext,
  type AuditThresholds,
  type SeenIdentity,
} from './audit-context.js';
import { findCrossZone } from './cross-zone.js';
import { Estate } from './estate.js';
import { findFederation } from './federation.js';
import { compareFindings, SEVERITIES, type Finding, type Severity } from './finding.js';
import { isoTime } from './format.js';
import { findHumanUse } from './human-use.js';
import { OWASP_NHI, type FindingType, type OwaspNhiId } from './mappings.js';
import { findOffboarding } from './offboarding.js';
import { findOverPrivilege } from './over-privilege.js';
import { findOwnership } from './ownership.js';
import { policyRiskChecks } from './risk-checks.js';
import { findSecrets } from './secrets.js';
import { findSharing } from './sharing.js';
import { findStale } from './stale.js';
import { findThirdParty } from './third-party.js';
import { parseUtcTime } from '../../utc-time.js';

export const AUDIT_REPORT_KIND = 'AuditReport';

export interface AuditOptions extends Partial<AuditThresholds> {
  /** The instant the audit judges against (ms). */
  now: number;
  /** Only records at or after this instant count. */
  since?: number;
  /** Only records before this instant count; default `now`. */
  until?: number;
  /** Zone → environment (see {@link Estate}). */
  environments?: Readonly<Record<string, string>>;
  /** Check the log's hash chain as records stream through. Default true. */
  verifyChain?: boolean;
}

export interface AuditReport {
  apiVersion: 'gatehouse.dev/v1';
  kind: typeof AUDIT_REPORT_KIND;
  /** The instant judged against. */
  now: string;
  policyRevision: string;
  trustDomain: string;
  log: {
    given: boolean;
    records: number;
    /** Outside the window or with an unreadable time. */
    skipped: number;
    since?: string;
    until?: string;
    first?: string;
    last?: string;
    chain: 'intact' | 'broken' | 'not checked';
    chainBreak?: ChainStatus['firstBreak'];
  };
  thresholds: AuditThresholds;
  summary: {
    identities: number;
    findings: number;
    bySeverity: Record<Severity, number>;
    byType: Partial<Record<FindingType, number>>;
    byOwasp: Partial<Record<OwaspNhiId, number>>;
  };
  findings: readonly Finding[];
}

/** One audit run: feed it the log, then finish it. */
export class Audit {
  readonly estate: Estate;
  private readonly activity: ActivityCollector;
  private readonly chain: ChainVerifier | undefined;
  private readonly options: AuditOptions;
  private readonly thresholds: AuditThresholds;
  private readonly lines = new RecordLineScanner();
  private prepared: { summary: ActivitySummary; findings: Finding[] } | undefined;
  private given = false;

  constructor(policy: Policy, inventory: InventorySnapshot, options: AuditOptions) {
    this.options = options;
    const estateOptions = options.environments
      ? { now: options.now, environments: options.environments }
      : { now: options.now };
    this.estate = new Estate(policy, inventory, estateOptions);
    const thresholds = { ...DEFAULT_THRESHOLDS };
    for (const k of Object.keys(DEFAULT_THRESHOLDS) as (keyof AuditThresholds)[]) {
      const v = options[k];
      if (v !== undefined) (thresholds as Record<string, unknown>)[k] = v;
    }
    this.thresholds = thresholds;
    const until = options.until ?? options.now;
    const offboarded = new Map(
      inventory.entries
        .filter((e) => e.status !== 'active')
        .map((e) => [e.spiffeId, parseUtcTime(e.updatedAt)]),
    );
    this.activity = new ActivityCollector({
      ...(options.since !== undefined ? { since: options.since } : {}),
      until,
      offboardedAt: (id) => offboarded.get(id),
    });
    this.chain = options.verifyChain === false ? undefined : new ChainVerifier();
  }

  /** Marks that a decision log was given, even an empty one. */
  withLog(): this {
    this.given = true;
    return this;
  }

  add(record: ObservedRecord): void {
    this.given = true;
    this.chain?.push(record);
    this.activity.add(record);
  }

  /**
   * Adds one line of a JSON-lines decision log, read without building the
   * record when it is plain (see {@link RecordLineScanner}). False when the
   * line was not taken: parse it and {@link add} the record, which decides
   * the same things the general way (and finds what is wrong with it).
   */
  addLine(line: string): boolean {
    const read = this.lines.scan(line, this.chain !== undefined);
    if (!read) return false;
    this.given = true;
    if (read.chain) this.chain!.pushCanonical(read.chain.record, read.chain.body);
    this.activity.addFields(read.fields);
    return true;
  }

  /**
   * Adds a batch of records another thread read and reduced (see
   * {@link ActivityBatchWriter}); that reader checks the chain, if any.
   */
  addBatch(batch: ActivityBatch): void {
    this.given = true;
    this.activity.addBatch(batch);
  }

  /** The activity gathered so far (for granted-vs-used over the same pass). */
  get collector(): ActivityCollector {
    return this.activity;
  }

  /**
   * Works out the findings from what was added so far, ahead of
   * {@link finish}: a chain check made elsewhere can end meanwhile. Add
   * nothing after it.
   */
  prepare(): void {
    this.prepared ??= this.findings();
  }

  /**
   * The report. `chain` is the status of a chain check made elsewhere over
   * the same records (on another thread, say) for an audit built with
   * `verifyChain: false`.
   */
  finish(chain?: ChainStatus): AuditReport {
    this.prepare();
    const { summary, findings } = this.prepared!;
    this.prepared = undefined;
    const bySeverity = Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<Severity, number>;
    const byType: Partial<Record<FindingType, number>> = {};
    const byOwasp: Partial<Record<OwaspNhiId, number>> = {};
    for (const f of findings) {
      bySeverity[f.severity]++;
      byType[f.type] = (byType[f.type] ?? 0) + 1;
      for (const o of f.mappings.owasp) byOwasp[o] = (byOwasp[o] ?? 0) + 1;
    }
    const sortedOwasp = Object.fromEntries(
      (Object.keys(OWASP_NHI) as OwaspNhiId[]).filter((k) => byOwasp[k]).map((k) => [k, byOwasp[k]!]),
    );
    chain ??= this.chain?.status();
    const log: AuditReport['log'] = {
      given: this.given,
      records: summary.records,
      skipped: summary.skipped,
      chain: !chain || !this.given ? 'not checked' : chain.firstBreak ? 'broken' : 'intact',
    };
    if (this.options.since !== undefined) log.since = isoTime(this.options.since);
    log.until = isoTime(this.options.until ?? this.options.now);
    if (summary.first !== undefined) log.first = isoTime(summary.first);
    if (summary.last !== undefined) log.last = isoTime(summary.last);
    if (chain?.firstBreak) log.chainBreak = chain.firstBreak;
    return {
      apiVersion: 'gatehouse.dev/v1',
      kind: AUDIT_REPORT_KIND,
      now: isoTime(this.options.now),
      policyRevision: this.estate.policy.revision,
      trustDomain: this.estate.policy.trustDomain,
      log,
      thresholds: this.thresholds,
      summary: {
        identities: this.estate.identities.size,
        findings: findings.length,
        bySeverity,
        byType,
        byOwasp: sortedOwasp,
      },
      findings,
    };
  }

  private findings(): { summary: ActivitySummary; findings: Finding[] } {
    const summary = this.activity.summary();
    const seen: SeenIdentity[] = [];
    for (const id of this.estate.identities.values()) id.activity = undefined;
    for (const a of this.activity.identities.values()) {
      const id = this.estate.identities.get(a.spiffeId);
      if (id) id.activity = a;
      seen.push({ activity: a, identity: id });
    }
    const ctx: AuditContext = {
      estate: this.estate,
      activity: this.activity,
      seen,
      hasLog: this.given,
      log: {
        ...summary,
        ...(this.options.since !== undefined ? { since: this.options.since } : {}),
        until: this.options.until ?? this.options.now,
      },
      thresholds: this.thresholds,
    };
    const findings = [
      ...findStale(ctx),
      ...findSecrets(ctx),
      ...findOwnership(ctx),
      ...findSharing(ctx),
      ...findThirdParty(ctx),
      ...findHumanUse(ctx),
      ...findFederation(ctx),
      ...findOverPrivilege(ctx),
      ...findOffboarding(ctx),
      ...findCrossZone(ctx),
      ...policyRiskChecks(this.estate, this.thresholds),
    ].sort(compareFindings);
    return { summary, findings };
  }
}

/** Audits in one call; `records` omitted means no decision log. */
export function runAudit(
  policy: Policy,
  inventory: InventorySnapshot,
  records: Iterable<ObservedRecord> | undefined,
  options: AuditOptions,
): AuditReport {
  const audit = new Audit(policy, inventory, options);
  if (records) {
    audit.withLog();
    for (const r of records) audit.add(r);
  }
  return audit.finish();
}
