/**
 * Sets of ports as sorted, disjoint, non-adjacent inclusive ranges: what a
 * layer lets through, after its deny rules carve theirs out.
 */
import type { PortRange, PortSpec } from '../../policy/model.js';

export type PortSet = readonly PortRange[];

export const ALL_PORTS: PortSet = Object.freeze([Object.freeze({ from: 1, to: 65535 })]);
export const NO_PORTS: PortSet = Object.freeze([]);

/** The ports of a rule target: explicit ports, else the service's, else any. */
export function portsOf(spec: PortSpec | undefined): PortSet {
  if (spec === undefined || spec === '*') return ALL_PORTS;
  return normalize(spec);
}

export function normalize(ranges: readonly PortRange[]): PortSet {
  const sorted = [...ranges].sort((a, b) => a.from - b.from || a.to - b.to);
  const out: PortRange[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r.from <= last.to + 1) last.to = Math.max(last.to, r.to);
    else out.push({ from: r.from, to: r.to });
  }
  return out;
}

export function union(a: PortSet, b: PortSet): PortSet {
  if (a.length === 0) return b;
  if (b.length === 0) return a;
  return normalize([...a, ...b]);
}

export function intersect(a: PortSet, b: PortSet): PortSet {
  if (a === ALL_PORTS) return b;
  if (b === ALL_PORTS) return a;
  const out: PortRange[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const x = a[i]!;
    const y = b[j]!;
    const from = Math.max(x.from, y.from);
    const to = Math.min(x.to, y.to);
    if (from <= to) out.push({ from, to });
    if (x.to < y.to) i++;
    else j++;
  }
  return out;
}

export function subtract(a: PortSet, b: PortSet): PortSet {
  if (b.length === 0) return a;
  const out: PortRange[] = [];
  for (const r of a) {
    let from = r.from;
    for (const cut of b) {
      if (cut.to < from || cut.from > r.to) continue;
      if (cut.from > from) out.push({ from, to: cut.from - 1 });
      from = Math.max(from, cut.to + 1);
      if (from > r.to) break;
    }
    if (from <= r.to) out.push({ from, to: r.to });
  }
  return out;
}

export function contains(set: PortSet, port: number): boolean {
  for (const r of set) if (port >= r.from && port <= r.to) return true;
  return false;
}

/** `8443`, `9000-9010`, `any` — for tables and explanations. */
export function formatPorts(set: PortSet): string {
  if (set.length === 1 && set[0]!.from === 1 && set[0]!.to === 65535) return 'any';
  if (set.length === 0) return 'none';
  return set.map((r) => (r.from === r.to ? String(r.from) : `${r.from}-${r.to}`)).join(',');
}
