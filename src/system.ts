/**
 * Real implementations of the core's ports, for the edges (CLI, server, the
 * library entry point). The core itself never touches these.
 */
import { randomBytes } from 'node:crypto';
import type { Clock, Random } from './core/ports.js';

export const systemClock: Clock = { now: () => Date.now() };

/**
 * Decision ids: a random 64-bit process prefix and a counter, so ids are
 * unique across processes with overwhelming probability, ordered within one,
 * and cost no syscall per decision.
 */
export function decisionIds(): Random {
  const prefix = randomBytes(8).toString('hex');
  let counter = 0;
  return { id: () => `${prefix}-${(++counter).toString(36).padStart(8, '0')}` };
}
