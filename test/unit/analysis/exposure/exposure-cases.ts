/**
 * Loads the exposure cases of test/cases/exposure/: a policy, an inventory
 * and traffic that the real engine decides and logs as a hash-chained
 * decision log, as an enforcement point would.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { compilePolicy } from '../../../../src/index.js';
import type { DecisionRequest } from '../../../../src/core/decision/index.js';
import { inventoryFromObject, type InventorySnapshot } from '../../../../src/core/identity/inventory.js';
import { ChainWriter } from '../../../../src/core/log/hash-chain.js';
import { recordFromDecision } from '../../../../src/core/log/record-from-decision.js';
import { parsePolicy, type Policy } from '../../../../src/core/policy/index.js';
import { fixedClock } from '../../../../src/core/ports.js';
import type { ObservedRecord } from '../../../../src/core/analysis/exposure/index.js';

export const root = new URL('../../../..', import.meta.url).pathname;

export interface TrafficItem {
  request: DecisionRequest;
  userAgent?: string;
  at?: string[];
  repeat?: { from: string; everySeconds: number; count: number };
}

export interface ExposureCase {
  file: string;
  note: string;
  policy: Policy;
  inventory: InventorySnapshot;
  now: number;
  options?: Record<string, unknown>;
  records: ObservedRecord[];
  check: string[];
  want: { type: string; subject: string; severity: string }[];
}

const letters = (i: number): string =>
  i < 26 ? String.fromCharCode(97 + i) : letters(Math.floor(i / 26) - 1) + letters(i % 26);

/** `{i}` becomes the repetition number, `{a}` a letter sequence (a, b, …, aa): paths stay distinct shapes. */
function fill<T>(value: T, i: number): T {
  return JSON.parse(JSON.stringify(value).replaceAll('{i}', String(i)).replaceAll('{a}', letters(i))) as T;
}

export function policyFrom(raw: Record<string, unknown>): Policy {
  if (typeof raw.policyRef === 'string') {
    const file = raw.policyRef;
    return parsePolicy([{ file, text: readFileSync(join(root, file), 'utf8') }]);
  }
  return parsePolicy([{ file: '<case>', text: JSON.stringify(raw.policy) }]);
}

/** Decides every request of the traffic, in time order, and logs each decision. */
export function recordsFor(
  policy: Policy,
  now: number,
  traffic: readonly TrafficItem[],
  inventory?: InventorySnapshot,
): ObservedRecord[] {
  // The enforcement point attaches the registry's labels, as docs/policy.md describes.
  const labels = new Map(inventory?.entries.map((e) => [e.spiffeId, e.labels]) ?? []);
  const engine = compilePolicy(policy, { clock: fixedClock(now), ids: false });
  const events: { t: number; request: DecisionRequest; userAgent?: string }[] = [];
  for (const item of traffic) {
    const times: number[] = item.at?.map((t) => Date.parse(t)) ?? [];
    if (item.repeat)
      for (let i = 0; i < item.repeat.count; i++)
        times.push(Date.parse(item.repeat.from) + i * item.repeat.everySeconds * 1000);
    times.forEach((t, i) => {
      const request = fill(item.request, i);
      const registered = labels.get(request.source.spiffeId);
      if (registered) request.source.labels = { ...registered, ...request.source.labels };
      request.time = new Date(t).toISOString();
      request.credential ??= { type: 'x509-svid', verified: true };
      request.context ??= {};
      events.push({ t, request, ...(item.userAgent ? { userAgent: item.userAgent } : {}) });
    });
  }
  events.sort((a, b) => a.t - b.t);
  const chain = new ChainWriter();
  return events.map((e, n) => {
    const body = recordFromDecision(e.request, engine.decide(e.request), {
      decisionId: `d${n}`,
      time: e.request.time!,
      via: 'test',
      latencyMicros: 1,
    });
    return chain.append(e.userAgent ? { ...body, userAgent: e.userAgent } : body);
  });
}

export function inventoryFrom(value: unknown): InventorySnapshot {
  const v = { apiVersion: 'gatehouse.dev/v1', kind: 'Inventory', entries: [], ...(value as object) };
  const { inventory, problems } = inventoryFromObject(v);
  if (!inventory)
    throw new Error(`invalid inventory: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`);
  return inventory;
}

export function loadExposureCases(): ExposureCase[] {
  const dir = join(root, 'test/cases/exposure');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml') && f !== 'estate-policy.yaml')
    .sort()
    .map((f) => {
      const raw = parse(readFileSync(join(dir, f), 'utf8')) as Record<string, unknown>;
      const policy = policyFrom(raw);
      const now = Date.parse(raw.now as string);
      const inventory = inventoryFrom(raw.inventory);
      const c: ExposureCase = {
        file: `test/cases/exposure/${f}`,
        note: raw.note as string,
        policy,
        inventory,
        now,
        records: recordsFor(policy, now, (raw.traffic as TrafficItem[] | undefined) ?? [], inventory),
        check: raw.check as string[],
        want: raw.want as ExposureCase['want'],
      };
      if (raw.options) c.options = raw.options as Record<string, unknown>;
      return c;
    });
}
