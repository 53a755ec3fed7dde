import { GatehouseError } from '../errors.js';

/**
 * Segment-aware globs, shared by SPIFFE ID paths and HTTP paths so that one
 * pattern means the same thing in both places:
 *
 * - a literal segment matches itself (case-sensitive);
 * - `*` alone, or a template variable such as `{id}`, matches exactly one
 *   non-empty segment;
 * - `*` inside a segment (`v*.json`) matches any run of characters within
 *   that segment, never a `/`;
 * - `**` as a whole segment matches zero or more segments, so `/orders/**`
 *   matches `/orders`, `/orders/` and everything below, but not `/orders-x`.
 */
export interface PathGlob {
  readonly pattern: string;
  /** True when the pattern has no wildcard: it matches only itself. */
  readonly literal: boolean;
  /** The pattern up to (not including) its first wildcard segment, without a trailing `/`. */
  readonly literalPrefix: string;
  matches(path: string): boolean;
}

const REGEX_SPECIAL = /[.*+?^${}()|[\]\\]/g;
const escape = (s: string): string => s.replace(REGEX_SPECIAL, '\\$&');
const TEMPLATE = /^\{[A-Za-z_][A-Za-z0-9_]*\}$/;

/** True when `pattern` uses any wildcard (`*`, `**` or `{var}`). */
export function hasWildcard(pattern: string): boolean {
  return pattern.includes('*') || pattern.includes('{');
}

/**
 * Compiles a path pattern that starts with `/` (or is empty, for a SPIFFE ID
 * with no path).
 * @throws GatehouseError `policy_invalid` on a malformed pattern
 */
export function compilePathGlob(pattern: string): PathGlob {
  let glob = cache.get(pattern);
  if (!glob) {
    glob = compile(pattern);
    // Bounded: patterns come from policies, but a pure cache must not grow without limit.
    if (cache.size >= 10_000) cache.clear();
    cache.set(pattern, glob);
  }
  return glob;
}

const cache = new Map<string, PathGlob>();

function compile(pattern: string): PathGlob {
  if (pattern !== '' && !pattern.startsWith('/')) {
    throw new GatehouseError('policy_invalid', `invalid path pattern \`${pattern}\`: must start with \`/\``);
  }
  if (!hasWildcard(pattern)) {
    return { pattern, literal: true, literalPrefix: pattern, matches: (p) => p === pattern };
  }
  const segments = pattern.slice(1).split('/');
  let regex = '^';
  const literalSegments: string[] = [];
  let sawWildcard = false;
  for (const segment of segments) {
    if (segment === '**') {
      regex += '(?:/[^/]*)*';
      sawWildcard = true;
      continue;
    }
    if (segment.includes('**')) {
      throw new GatehouseError(
        'policy_invalid',
        `invalid path pattern \`${pattern}\`: \`**\` must be a whole segment`,
      );
    }
    if (segment === '*' || TEMPLATE.test(segment)) {
      regex += '/[^/]+';
      sawWildcard = true;
      continue;
    }
    if (segment.includes('{') || segment.includes('}')) {
      throw new GatehouseError(
        'policy_invalid',
        `invalid path pattern \`${pattern}\`: a template variable such as \`{id}\` must be a whole segment`,
      );
    }
    if (segment.includes('*')) {
      regex += '/' + segment.split('*').map(escape).join('[^/]*');
      sawWildcard = true;
      continue;
    }
    regex += '/' + escape(segment);
    if (!sawWildcard) literalSegments.push(segment);
  }
  regex += '$';
  const re = new RegExp(regex);
  const literalPrefix = literalSegments.length ? '/' + literalSegments.join('/') : '';
  // A trailing `/**` after literal segments is by far the most common pattern:
  // answer it without the regex.
  const subtree = segments.length === literalSegments.length + 1 && segments[segments.length - 1] === '**';
  if (subtree) {
    const withSlash = literalPrefix + '/';
    return {
      pattern,
      literal: false,
      literalPrefix,
      matches: (p) => p === literalPrefix || p.startsWith(withSlash),
    };
  }
  return { pattern, literal: false, literalPrefix, matches: (p) => re.test(p) };
}
