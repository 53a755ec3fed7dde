/** Small text helpers shared by findings and reports: dates, durations, short lists. */

const MS_PER_DAY = 86_400_000;

/** `2026-11-15` */
export function isoDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** `2026-11-15T10:00:00Z` */
export function isoTime(ms: number): string {
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}

/** Whole days, rounded down. */
export function days(ms: number): number {
  return Math.floor(ms / MS_PER_DAY);
}

/** `45s`, `12m`, `5h 10m`, `18d 3h`, `2y 41d`. */
export function duration(ms: number): string {
  if (ms < 0) return `-${duration(-ms)}`;
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 ? `${h}h ${m % 60}m` : `${h}h`;
  const d = Math.floor(h / 24);
  if (d < 365) return h % 24 ? `${d}d ${h % 24}h` : `${d}d`;
  const y = Math.floor(d / 365);
  return d % 365 ? `${y}y ${d % 365}d` : `${y}y`;
}

/** Items in backticks, joined, at most `max` of them (`a`, `b` and 3 more). */
export function codeList(items: Iterable<string>, max = 6): string {
  const all = [...items];
  const shown = all.slice(0, max).map((i) => `\`${i}\``);
  const more = all.length > max ? ` and ${all.length - max} more` : '';
  return shown.join(', ') + more;
}

/** The SPIFFE ID without `spiffe://<trust domain>` when it is the estate's own. */
export function shortId(spiffeId: string, trustDomain: string): string {
  const own = `spiffe://${trustDomain}/`;
  return spiffeId.startsWith(own) ? spiffeId.slice(own.length - 1) : spiffeId;
}

export const plural = (n: number, word: string, many = `${word}s`) => `${n} ${n === 1 ? word : many}`;
