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
  // `<prefix>-<counter in base 36, 8 digits or more>`, the counter kept as `high` × 1296 + `low`.
  // Formatting a number in base 36 is slow (a third of an id's cost in the engine's benchmark),
  // so the text of all but the last two digits is made once per 1,296 ids, when `high` moves,
  // and the last two come from a table.
  let high = 0;
  let low = 0;
  let head = `${prefix}-000000`;
  return {
    id: () => {
      if (++low === 1296) {
        low = 0;
        head = `${prefix}-${(++high).toString(36).padStart(6, '0')}`;
      }
      return head + LAST_TWO_DIGITS[low]!;
    },
  };
}

/** `00` … `zz`: the numbers below 36² in base 36. */
const LAST_TWO_DIGITS = Array.from({ length: 1296 }, (_, i) => i.toString(36).padStart(2, '0'));
