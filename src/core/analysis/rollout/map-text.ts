/**
 * Small text pieces shared by the renderers of rollout reports.
 */
import type { DependencyAction, DependencyEdge } from './dependency-map.js';

/** A whole number with thousands separators: `12,345`. */
export function countText(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** A share as a percentage with one decimal, never rounded up to 100 %: `99.9 %`. */
export function percentText(part: number, whole: number): string {
  if (whole === 0) return '-';
  const p = Math.floor((part / whole) * 1000) / 10;
  return `${p.toFixed(1)} %`;
}

/** An action as one short text: `GET /orders/{id}`, `op orders.read`, or `any` for L4. */
export function actionText(a: { method?: string; path?: string; operation?: string }): string {
  if (a.operation !== undefined && a.path === undefined) return `op ${a.operation}`;
  const parts = [a.method, a.path].filter((x): x is string => x !== undefined);
  return parts.length ? parts.join(' ') : 'any';
}

/** The most frequent actions of an edge, and how many more there are. */
export function edgeActionsText(e: DependencyEdge, max: number): string {
  const shown = e.actions.slice(0, max).map((a: DependencyAction) => actionText(a));
  const more = e.actions.length - shown.length;
  return shown.join(', ') + (more > 0 ? ` +${more}` : '');
}
