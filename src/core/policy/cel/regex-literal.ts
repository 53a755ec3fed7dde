/**
 * Literal `matches()` patterns, compiled once. CEL specifies RE2; cel-js
 * (the reference) hands the pattern to JavaScript's `RegExp`, so the compiled
 * closure does exactly that too. It does so only for patterns in a subset
 * where the two syntaxes mean the same thing and backtracking stays
 * polynomial; any other pattern is left to cel-js's evaluator.
 */

const ESCAPED_CLASSES = new Set(['d', 'D', 'w', 'W', 's', 'S']);
const ESCAPED_CONTROLS = new Set(['n', 't', 'r', 'f', 'v']);
const METACHARACTERS = new Set([
  '.',
  '^',
  '$',
  '|',
  '?',
  '*',
  '+',
  '(',
  ')',
  '[',
  ']',
  '{',
  '}',
  '\\',
  '/',
  '-',
]);
/** RE2's largest repetition count. */
const MAX_REPEAT = 1000;
const COUNTED = /^\{(\d+)(?:,(\d*))?\}/;

/**
 * The `RegExp` of a literal pattern, or undefined when the pattern is outside
 * the subset (the closures then leave the whole condition to cel-js).
 * @throws SyntaxError when JavaScript rejects the pattern, as cel-js would on
 *   every evaluation
 */
export function compileRegexLiteral(pattern: string): RegExp | undefined {
  const re = new RegExp(pattern);
  return isPortablePattern(pattern) ? re : undefined;
}

/** Whether an escape outside a character class is one both engines read alike. */
function isPortableEscape(c: string | undefined): boolean {
  return c !== undefined && (ESCAPED_CLASSES.has(c) || ESCAPED_CONTROLS.has(c) || METACHARACTERS.has(c));
}

function isSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdfff;
}

/**
 * Literals, `.`, classes, escapes of class letters and metacharacters, `^`,
 * `$`, `|`, `(…)`, `(?:…)` and the quantifiers `* + ? {n} {n,} {n,m}` (lazy
 * or not). Out: back-references, lookaround, named groups, inline flags,
 * POSIX classes, astral characters (JavaScript sees two code units, RE2 one
 * code point), and a quantified group that holds a quantifier or an
 * alternation (`(a+)+`, `(a|a)*`), the shapes of catastrophic backtracking.
 */
function isPortablePattern(p: string): boolean {
  // Per open group: whether it holds a quantifier or an alternation so far.
  const outer: boolean[] = [];
  let risky = false;
  // What a quantifier would apply to: nothing, an atom, a group (and whether it was risky).
  let last: 'none' | 'atom' | 'group' = 'none';
  let lastGroupRisky = false;
  for (let i = 0; i < p.length; i++) {
    const c = p[i]!;
    if (isSurrogate(c.charCodeAt(0))) return false;
    switch (c) {
      case '\\': {
        const d = p[++i];
        if (d === 'b' || d === 'B') {
          last = 'none';
          break;
        }
        if (!isPortableEscape(d)) return false;
        last = 'atom';
        break;
      }
      case '(': {
        if (p[i + 1] === '?') {
          if (p[i + 2] !== ':') return false;
          i += 2;
        }
        outer.push(risky);
        risky = false;
        last = 'none';
        break;
      }
      case ')': {
        const outerRisky = outer.pop();
        if (outerRisky === undefined) return false;
        lastGroupRisky = risky;
        risky = outerRisky || risky;
        last = 'group';
        break;
      }
      case '[': {
        const end = classEnd(p, i);
        if (end < 0) return false;
        i = end;
        last = 'atom';
        break;
      }
      case '*':
      case '+':
      case '?':
      case '{': {
        if (last === 'none') return false;
        if (last === 'group' && lastGroupRisky) return false;
        if (c === '{') {
          const m = COUNTED.exec(p.slice(i));
          if (!m) return false;
          if (Number(m[1]) > MAX_REPEAT || (m[2] !== undefined && m[2] !== '' && Number(m[2]) > MAX_REPEAT))
            return false;
          i += m[0].length - 1;
        }
        if (p[i + 1] === '?') i++;
        risky = true;
        last = 'none';
        break;
      }
      case '|':
        risky = true;
        last = 'none';
        break;
      case '^':
      case '$':
        last = 'none';
        break;
      case ']':
      case '}':
        // Literal in JavaScript's legacy syntax; not worth the doubt.
        return false;
      default:
        last = 'atom';
    }
  }
  return outer.length === 0;
}

/** Index of the `]` closing the class opened at `start`, or -1 when the class is outside the subset. */
function classEnd(p: string, start: number): number {
  let i = start + 1;
  if (p[i] === '^') i++;
  // `[]` is an empty class to JavaScript and a literal `]` to RE2.
  if (p[i] === ']') return -1;
  for (; i < p.length; i++) {
    const c = p[i]!;
    if (isSurrogate(c.charCodeAt(0))) return -1;
    if (c === ']') return i;
    // `[[:alpha:]]` is a POSIX class to RE2 only.
    if (c === '[') return -1;
    if (c === '\\') {
      const d = p[++i];
      // `\b` is a backspace in a JavaScript class.
      if (d === 'b' || !isPortableEscape(d)) return -1;
    }
  }
  return -1;
}
