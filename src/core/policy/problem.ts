import type { SourceLocation } from '../errors.js';

/** What `validatePolicy` and `lintPolicy` report; errors block compilation, warnings do not. */
export interface PolicyProblem {
  severity: 'error' | 'warning';
  /** Stable code, e.g. `unknown_field`, `invalid_reference`, `shadowed_rule`. */
  code: string;
  /** One line, lower case, no final period. */
  message: string;
  /** JSON path inside the merged document, e.g. `permissions[3].when`. */
  path: string;
  location?: SourceLocation;
  ruleId?: string;
}

export function formatPath(path: readonly (string | number)[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(seg)) out += out ? `.${seg}` : seg;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

/** `file:line:col: message` (or `path: message` when the location is unknown). */
export function formatProblem(p: PolicyProblem): string {
  const where = p.location
    ? `${p.location.file}:${p.location.line}:${p.location.column}`
    : p.path || '<policy>';
  return `${where}: ${p.severity}: ${p.message}`;
}

/** Problems in reading order: by file, line and column; unlocated ones last. */
export function sortProblems<T extends PolicyProblem>(problems: readonly T[]): T[] {
  const key = (p: PolicyProblem) =>
    p.location ? [p.location.file, p.location.line, p.location.column] : ['\uffff', 0, 0];
  return [...problems].sort((a, b) => {
    const [fa, la, ca] = key(a) as [string, number, number];
    const [fb, lb, cb] = key(b) as [string, number, number];
    return fa < fb ? -1 : fa > fb ? 1 : la - lb || ca - cb;
  });
}
