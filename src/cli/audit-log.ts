import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { Audit, type AuditOptions, type AuditReport } from '../core/analysis/exposure/index.js';
import type { InventorySnapshot } from '../core/identity/inventory.js';
import type { Policy } from '../core/policy/index.js';
import type { ActivityBatch } from '../core/analysis/exposure/activity-batch.js';
import { readDecisionLog, type DecisionLogSink } from './decision-log-file.js';
import { readDecisionLogOnThread } from './decision-log-reader.js';

/**
 * Decision log files at least this large are read on a second thread, which
 * also checks their hash chain, while the first gathers what the records say
 * (see decision-log-reader.ts): reading and hashing are half the work.
 * Smaller ones are read in one pass, sparing the thread's start.
 */
export const PARALLEL_READ_BYTES = 32 * 1024 * 1024;

export interface AuditLogSource {
  /** A JSON-lines decision log, or `-` for standard input. */
  path: string;
  cwd: string;
  stdin?: () => Promise<string>;
  /** Files from this size on are read on a second thread (default {@link PARALLEL_READ_BYTES}). */
  parallelFromBytes?: number;
}

/** `gatehouse audit`: the audit of the policy and inventory, with the decision log when given. */
export async function auditWithLog(
  policy: Policy,
  inventory: InventorySnapshot,
  options: AuditOptions,
  log: AuditLogSource | undefined,
): Promise<AuditReport> {
  if (!log) return new Audit(policy, inventory, options).finish();
  const verifyChain = options.verifyChain !== false;
  if (!readsOnThread(log)) {
    const audit = new Audit(policy, inventory, options).withLog();
    await readDecisionLog(log.path, log.cwd, audit, log.stdin);
    return audit.finish();
  }
  // The reading thread checks the chain, and goes on once it has handed over the records, while
  // the findings are worked out here; then this thread takes a share of what is left.
  const audit = new Audit(policy, inventory, { ...options, verifyChain: false }).withLog();
  const reading = readDecisionLogOnThread(log.path, log.cwd, audit, { verifyChain });
  await reading.read;
  audit.prepare();
  return audit.finish(await reading.chain());
}

/**
 * Reads a decision log into an activity collector (or anything that takes
 * records the same three ways): a file of {@link PARALLEL_READ_BYTES} or
 * more on a second thread, as the audit reads it, without the chain check.
 */
export async function gatherDecisionLog(
  log: AuditLogSource,
  sink: DecisionLogSink & { addBatch(batch: ActivityBatch): void },
): Promise<void> {
  if (!readsOnThread(log)) return readDecisionLog(log.path, log.cwd, sink, log.stdin);
  const reading = readDecisionLogOnThread(log.path, log.cwd, sink, { verifyChain: false });
  await reading.read;
  await reading.chain();
}

function readsOnThread(log: AuditLogSource): boolean {
  return (
    log.path !== '-' && fileSize(resolve(log.cwd, log.path)) >= (log.parallelFromBytes ?? PARALLEL_READ_BYTES)
  );
}

function fileSize(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}
