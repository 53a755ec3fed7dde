/**
 * Path generalisation that stays tight: observed request paths become
 * templates the policy glob language reads (`/orders/{id}`, never `/orders/*`
 * or `/**`). A template variable matches exactly one non-empty segment
 * (src/core/policy/glob.ts), so `/orders/{id}` admits `/orders/42` and not
 * `/orders/42/cancel`.
 *
 * A segment becomes a variable when it looks like a value — a number, a UUID,
 * a long hex string, an opaque token with digits (`sku-1042`, `2026-11-20`,
 * `ord_8f3k29`) — or when one position holds too many distinct literals to be
 * names (more than `maxLiterals`, usernames or slugs). Names that merely hold
 * a digit (`v1`, `sha256`, `oauth2`) stay literal.
 */

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const HEX = /^[0-9a-f]{8,}$/i;
const VERSION = /^v\d+(\.\d+)*$/i;
const WORD_NUMBER = /^[a-z]{2,}\d{1,3}$/i;
const LONG_TOKEN = /^[A-Za-z0-9_-]{20,}$/;
/** A variable as generalisation writes it: `{id}`, `{id2}`, … */
const VARIABLE = /^\{id\d*\}$/;

/** Whether a path segment looks like a value rather than a name. */
export function isIdSegment(segment: string): boolean {
  const n = segment.length;
  if (n === 0) return false;
  // One pass over the characters first: most segments are plain names, decided here.
  let digits = 0;
  let upper = false;
  let lower = false;
  for (let i = 0; i < n; i++) {
    const c = segment.charCodeAt(i);
    if (c >= 48 && c <= 57) digits++;
    else if (c >= 97 && c <= 122) lower = true;
    else if (c >= 65 && c <= 90) upper = true;
    else if (c === 42 || c === 123 || c === 125) return true; // `*`, `{`, `}`: glob syntax
  }
  if (digits === 0) return n >= 20 && upper === lower && LONG_TOKEN.test(segment);
  if (digits === n || UUID.test(segment)) return true;
  if (HEX.test(segment)) return true;
  if (VERSION.test(segment) || WORD_NUMBER.test(segment)) return false;
  if (digits >= 2 && n >= 4) return true;
  return n >= 20 && LONG_TOKEN.test(segment);
}

/** Names variables left to right: `{id}`, `{id2}`, `{id3}`… */
function nameVariables(segments: string[]): string {
  let n = 0;
  for (let i = 0; i < segments.length; i++) {
    if (segments[i] === VAR) segments[i] = ++n === 1 ? '{id}' : `{id${n}}`;
  }
  return '/' + segments.join('/');
}

const VAR = '\u0000';

/**
 * A path with every value-like segment made a variable. The path should be
 * normalized first (`normalizeRequestPath`), as decisions normalize it.
 */
export function templatePath(path: string): string {
  const segments = path.slice(1).split('/');
  let changed = false;
  for (let i = 0; i < segments.length; i++) {
    if (isIdSegment(segments[i]!)) {
      segments[i] = VAR;
      changed = true;
    }
  }
  return changed ? nameVariables(segments) : path;
}

interface Node {
  literals: Map<string, Node> | undefined;
  variable: Node | undefined;
  /** Too many distinct literals here: every segment at this position is a value. */
  merged: boolean;
}

const newNode = (): Node => ({ literals: undefined, variable: undefined, merged: false });

function mergeInto(target: Node, from: Node): void {
  if (from.merged) target.merged = true;
  if (from.variable) mergeInto((target.variable ??= newNode()), from.variable);
  if (from.literals) {
    for (const [segment, child] of from.literals) {
      if (target.merged) {
        mergeInto((target.variable ??= newNode()), child);
      } else {
        const own = (target.literals ??= new Map()).get(segment);
        if (own) mergeInto(own, child);
        else target.literals.set(segment, child);
      }
    }
  }
}

/**
 * The templates of one service's paths: add every (templated) path seen, then
 * ask for the final template of each. Memory is bounded by the distinct
 * names, not by the values: a position with more than `maxLiterals` distinct
 * literals is merged into one variable as soon as it overflows.
 */
export class PathTemplates {
  private readonly root = newNode();
  private readonly maxLiterals: number;

  constructor(options: { maxLiterals?: number } = {}) {
    this.maxLiterals = options.maxLiterals ?? 32;
  }

  /** Adds a path, already passed through {@link templatePath}. */
  add(template: string): void {
    let node = this.root;
    const segments = template.slice(1).split('/');
    for (const segment of segments) {
      if (VARIABLE.test(segment) || node.merged) {
        node = node.variable ??= newNode();
        continue;
      }
      const literals = (node.literals ??= new Map());
      let child = literals.get(segment);
      if (!child) {
        child = newNode();
        literals.set(segment, child);
        if (literals.size > this.maxLiterals) {
          // Too many names at one position: they are values. Fold them into the variable.
          node.merged = true;
          const variable = (node.variable ??= newNode());
          for (const sub of literals.values()) mergeInto(variable, sub);
          node.literals = undefined;
          node = variable;
          continue;
        }
      }
      node = child;
    }
  }

  /** The final template of a path added before (or of any path: unknown segments stay as they are). */
  templateOf(template: string): string {
    const segments = template.slice(1).split('/');
    let node: Node | undefined = this.root;
    let changed = false;
    for (let i = 0; i < segments.length; i++) {
      const segment = segments[i]!;
      if (VARIABLE.test(segment)) {
        segments[i] = VAR;
        node = node?.variable;
        continue;
      }
      if (node?.merged) {
        segments[i] = VAR;
        changed = true;
        node = node.variable;
        continue;
      }
      node = node?.literals?.get(segment);
    }
    if (!changed && !segments.includes(VAR)) return template;
    return nameVariables(segments);
  }
}
