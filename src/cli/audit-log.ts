import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { Audit, type AuditOptions, type AuditReport } from '../core/analysis/exposure/index.js';
import type { InventorySnapshot } from '../core/identity/inventory.js';
import type { ChainStatus } from '../core/log/hash-chain.js';
import type { Policy } from '../core/policy/index.js';
import { checkChainInWorker, readDecisionLog } from './decision-log-file.js';

/**
 * Decision log files at least this large have their hash chain checked on a
 * second thread while the first reads them for analysis: hashing every record
 * is a third of the work, and the two passes share nothing but the file.
 */
export const PARALLEL_CHAIN_BYTES = 32 * 1024 * 1024;

export interface AuditLogSource {
  /** A JSON-lines decision log, or `-` for standard input. */
  path: string;
  cwd: string;
  stdin?: () => Promise<string>;
  /** Files from this size on are chain-checked on a second thread (default {@link PARALLEL_CHAIN_BYTES}). */
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
  const parallel =
    verifyChain &&
    log.path !== '-' &&
    fileSize(resolve(log.cwd, log.path)) >= (log.parallelFromBytes ?? PARALLEL_CHAIN_BYTES);
  const audit = new Audit(policy, inventory, { ...options, verifyChain: verifyChain && !parallel }).withLog();
  let chain: Promise<ChainStatus> | undefined;
  if (parallel) {
    chain = checkChainInWorker(resolve(log.cwd, log.path));
    // Read errors are the reader's to report; the thread's failure must not go unhandled meanwhile.
    chain.catch(() => undefined);
  }
  await readDecisionLog(log.path, log.cwd, audit, log.stdin);
  return audit.finish(chain ? await chain : undefined);
}

function fileSize(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}
