/**
 * A policy file written as JSON, read by `JSON.parse` rather than by the YAML parser.
 *
 * Why: JSON is YAML, and the YAML parser reads it to the same value, but it builds a syntax
 * tree of every node on the way, which for a machine-written policy of tens of thousands of
 * rules takes about a second per megabyte (12 s for the peer workload's 10 MB policy), against
 * a fraction of a second for `JSON.parse`. The tree is needed only for locations: those of every
 * zone, service, workload and rule come from one scan of the text ({@link jsonPositions}), and
 * the caller makes the tree only when a deeper one is asked for (a problem inside a rule).
 *
 * Same answers: a text is taken here only when it is one JSON object that `JSON.parse`
 * accepts and that gives no key twice in one object. Anything else (YAML, JSON with a comment,
 * a repeated key, which the YAML parser refuses and locates, a carriage return alone) goes to
 * the YAML parser as before.
 */

/** The object a JSON text holds, or undefined when the YAML parser should read the text. */
export function parseJsonObject(text: string): Record<string, unknown> | undefined {
  // A carriage return alone is white space to JSON but not to the YAML parser, which then reads
  // another value: such a text is left to it, to keep its answer.
  if (!/^\s*\{/.test(text) || /\r(?!\n)/.test(text)) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  if (hasRepeatedKey(text)) return undefined;
  return value as Record<string, unknown>;
}

const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const COMMA = 0x2c;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * Whether some object of `text`, a text `JSON.parse` accepts, gives a key twice. Keys are
 * compared as `JSON.parse` reads them (`"a"` and `"\u0061"` are one key).
 */
export function hasRepeatedKey(text: string): boolean {
  // The keys of each open object, innermost last; null for an open array.
  const open: (Set<string> | null)[] = [];
  let keys: Set<string> | null = null;
  let expectKey = false;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      const end = stringEnd(text, i);
      if (expectKey && keys !== null) {
        const key = stringAt(text, i, end);
        if (keys.has(key)) return true;
        keys.add(key);
        expectKey = false;
      }
      i = end;
    } else if (c === OPEN_OBJECT) {
      open.push(keys);
      keys = new Set();
      expectKey = true;
    } else if (c === OPEN_ARRAY) {
      open.push(keys);
      keys = null;
      expectKey = false;
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      keys = open.pop() ?? null;
      expectKey = false;
    } else if (c === COMMA) expectKey = keys !== null;
  }
  return false;
}

/** Where a value starts in a JSON text, and for a member of an object, where its key starts. */
export interface JsonPosition {
  value: number;
  key: number;
}

/**
 * The positions of the root object (`''`), of its members, and of their members one level
 * down, by the name {@link positionName} gives their path: what a policy's validation asks
 * for every zone, service, workload and rule. `text` must be one JSON object that
 * `JSON.parse` accepts.
 */
export function jsonPositions(text: string): Map<string, JsonPosition> {
  const out = new Map<string, JsonPosition>();
  const root = skipSpace(text, 0);
  out.set('', { value: root, key: root });
  members(text, root, '', 2, out);
  return out;
}

/** The name of a path of at most two segments in {@link jsonPositions}; undefined for a longer one. */
export function positionName(path: readonly (string | number)[]): string | undefined {
  if (path.length > 2) return undefined;
  let name = '';
  for (const seg of path) name += typeof seg === 'number' ? `\u0000#${seg}` : `\u0000=${seg}`;
  return name;
}

/** Records the members of the object or array that starts at `i`, and theirs to `levels` levels. */
function members(t: string, i: number, prefix: string, levels: number, out: Map<string, JsonPosition>): void {
  const c = t.charCodeAt(i);
  if (c !== OPEN_OBJECT && c !== OPEN_ARRAY) return;
  const object = c === OPEN_OBJECT;
  let j = skipSpace(t, i + 1);
  if (t.charCodeAt(j) === (object ? CLOSE_OBJECT : CLOSE_ARRAY)) return;
  for (let index = 0; ; index++) {
    let name: string;
    const keyAt = j;
    if (object) {
      const keyEnd = stringEnd(t, j);
      name = `${prefix}\u0000=${stringAt(t, j, keyEnd)}`;
      j = skipSpace(t, skipSpace(t, keyEnd + 1) + 1); // past the colon
    } else name = `${prefix}\u0000#${index}`;
    out.set(name, { value: j, key: keyAt });
    if (levels > 1) members(t, j, name, levels - 1, out);
    j = skipSpace(t, valueEnd(t, j));
    if (t.charCodeAt(j) !== COMMA) return;
    j = skipSpace(t, j + 1);
  }
}

function skipSpace(t: string, i: number): number {
  for (;;) {
    const c = t.charCodeAt(i);
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return i;
    i++;
  }
}

/** The closing quote of the string whose opening quote is at `i`: the first after an even run of backslashes. */
function stringEnd(t: string, i: number): number {
  let end = t.indexOf('"', i + 1);
  for (;;) {
    let b = end - 1;
    while (t.charCodeAt(b) === BACKSLASH) b--;
    if ((end - 1 - b) % 2 === 0) return end;
    end = t.indexOf('"', end + 1);
  }
}

/** The string whose quotes are at `open` and `close`, as `JSON.parse` reads it. */
function stringAt(t: string, open: number, close: number): string {
  const raw = t.slice(open + 1, close);
  return raw.includes('\\') ? (JSON.parse(t.slice(open, close + 1)) as string) : raw;
}

/** Just past the value that starts at `i`. */
function valueEnd(t: string, i: number): number {
  const c = t.charCodeAt(i);
  if (c === QUOTE) return stringEnd(t, i) + 1;
  if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
    let depth = 0;
    for (let j = i; ; j++) {
      const d = t.charCodeAt(j);
      if (d === QUOTE) j = stringEnd(t, j);
      else if (d === OPEN_OBJECT || d === OPEN_ARRAY) depth++;
      else if ((d === CLOSE_OBJECT || d === CLOSE_ARRAY) && --depth === 0) return j + 1;
    }
  }
  // A number, true, false or null.
  let j = i;
  for (;;) {
    const d = t.charCodeAt(j);
    if (Number.isNaN(d) || d === COMMA || d === CLOSE_OBJECT || d === CLOSE_ARRAY) return j;
    if (d === 0x20 || d === 0x0a || d === 0x0d || d === 0x09) return j;
    j++;
  }
}
