// The CPU time a process has used, for the benchmarks that put a server under
// load: on a shared, noisy machine the CPU a request costs the server moves
// far less than the requests per second it answers.
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim()) || 100;

/** CPU seconds (user + system, all threads) the process has used so far; undefined where /proc is missing. */
export function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The fields after the command name, which is in parentheses and may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}

/** Microseconds of CPU per request between two `cpuSeconds` readings; null when either is missing. */
export function cpuMicrosPerRequest(before, after, requests) {
  if (before === undefined || after === undefined || !(requests > 0)) return null;
  return Math.round(((after - before) * 1e6) / requests);
}
