/**
 * Compiled forms of the pieces of a rule. Each is built once per policy and
 * called on the hot path, so each answers with plain comparisons.
 */
import { compilePathGlob, hasWildcard } from '../policy/glob.js';
import type {
  ActionMatch,
  HttpActionMatch,
  PortSpec,
  Selector,
  SelectorTerm,
  Service,
} from '../policy/model.js';

/** What selectors look at: the caller's identity and where it calls from. */
export interface SourceFacts {
  spiffeId: string;
  trustDomain: string;
  path: string;
  labels: Readonly<Record<string, string>>;
  zone: string;
}

export type SourceMatcher = (source: SourceFacts) => boolean;

function spiffeMatcher(pattern: string): SourceMatcher {
  if (!hasWildcard(pattern)) return (s) => s.spiffeId === pattern;
  const m = /^spiffe:\/\/([^/]+)(\/.*)?$/.exec(pattern)!;
  const trustDomain = m[1]!;
  const glob = compilePathGlob(m[2] ?? '');
  return (s) => s.trustDomain === trustDomain && glob.matches(s.path);
}

function termMatcher(term: SelectorTerm): SourceMatcher {
  const checks: SourceMatcher[] = [];
  if (term.spiffeId !== undefined) checks.push(spiffeMatcher(term.spiffeId));
  if (term.labels) {
    const pairs = Object.entries(term.labels);
    checks.push((s) => {
      for (const [k, v] of pairs) if (s.labels[k] !== v) return false;
      return true;
    });
  }
  if (term.zones) {
    const zones = new Set(term.zones);
    checks.push((s) => zones.has(s.zone));
  }
  if (term.not) {
    const inner = termMatcher(term.not);
    checks.push((s) => !inner(s));
  }
  if (checks.length === 1) return checks[0]!;
  return (s) => {
    for (const check of checks) if (!check(s)) return false;
    return true;
  };
}

/** Any term may match (OR); within a term every field must hold (AND). */
export function compileSelector(selector: Selector): SourceMatcher {
  if (selector === '*') return () => true;
  const terms = selector.map(termMatcher);
  if (terms.length === 1) return terms[0]!;
  return (s) => {
    for (const t of terms) if (t(s)) return true;
    return false;
  };
}

export type PortMatcher = (port: number | undefined) => boolean;

/** `undefined` spec: the ports the service declares. A request without a port matches only `"*"`. */
export function compilePorts(spec: PortSpec | undefined, service: Service | undefined): PortMatcher {
  const effective = spec ?? service?.ports ?? '*';
  if (effective === '*') return () => true;
  if (effective.length === 1 && effective[0]!.from === effective[0]!.to) {
    const only = effective[0]!.from;
    return (p) => p === only;
  }
  return (p) => {
    if (p === undefined) return false;
    for (const r of effective) if (p >= r.from && p <= r.to) return true;
    return false;
  };
}

/** The action of a request as matched: method, normalized path, operation. */
export interface ActionFacts {
  method: string | undefined;
  path: string | undefined;
  operation: string | undefined;
}

export type ActionMatcher = (a: ActionFacts) => boolean;

function httpMatcher(m: HttpActionMatch): ActionMatcher {
  const methods = m.methods === '*' ? undefined : new Set(m.methods);
  const globs = m.paths.map((p) => compilePathGlob(p));
  const prefixes = m.prefixes;
  const anyPath = globs.length === 0 && prefixes.length === 0;
  return (a) => {
    if (methods && (a.method === undefined || !methods.has(a.method))) return false;
    if (anyPath) return true;
    const path = a.path;
    if (path === undefined) return false;
    for (const g of globs) if (g.matches(path)) return true;
    for (const p of prefixes) if (path.startsWith(p)) return true;
    return false;
  };
}

/**
 * Any action may match; an empty list matches every action. A named operation
 * matches a request naming it, or a request whose method and path match the
 * operation's definition on that service.
 */
export function compileActions(actions: readonly ActionMatch[], service: Service | undefined): ActionMatcher {
  if (actions.length === 0) return () => true;
  const alternatives: ActionMatcher[] = [];
  for (const action of actions) {
    if (action.operations.length) {
      for (const op of action.operations) {
        const defs = (service?.operations.get(op) ?? []).map(httpMatcher);
        alternatives.push((a) => {
          if (a.operation === op) return true;
          if (a.method === undefined && a.path === undefined) return false;
          for (const d of defs) if (d(a)) return true;
          return false;
        });
      }
    } else {
      alternatives.push(httpMatcher(action));
    }
  }
  if (alternatives.length === 1) return alternatives[0]!;
  return (a) => {
    for (const alt of alternatives) if (alt(a)) return true;
    return false;
  };
}
