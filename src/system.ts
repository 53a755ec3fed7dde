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
  // `<prefix>-<counter in base 36, 8 digits or more>`. Formatting a number in base 36 is slow
  // (a third of an id's cost in the engine's benchmark), so the text of all but the last two
  // digits is made once per 1,296 ids and the last two come from a table.
  let head = '';
  let headOf = -1;
  return {
    id: () => {
      const n = ++counter;
      const high = Math.floor(n / 1296);
      if (high !== headOf) {
        headOf = high;
        head = `${prefix}-${high.toString(36).padStart(6, '0')}`;
      }
      return head + LAST_TWO_DIGITS[n - high * 1296]!;
    },
  };
}

/** `00` … `zz`: the numbers below 36² in base 36. */
const LAST_TWO_DIGITS = Array.from({ length: 1296 }, (_, i) => i.toString(36).padStart(2, '0'));
