/**
 * `value` with each string in it, in plain objects and arrays, replaced by a
 * copy of its own; objects and arrays are changed in place.
 *
 * Why: a YAML parser slices a document's strings from its text, and V8 keeps
 * such a slice as a pointer into that text, in the text's width. One
 * character outside Latin-1 anywhere in the file (a `—` in a comment will do)
 * makes every slice a two-byte string: rule ids, service names and path
 * prefixes then carry that width into each decision, log record and response
 * made from them, and each is written out and hashed by the slower UTF-16
 * path, while every slice keeps the whole text alive. `JSON.parse` makes flat
 * strings of the narrowest width their own characters allow.
 */
export function ownStrings<T>(value: T): T {
  return copy(value, 0) as T;
}

/** Deeper documents are refused by the parsers long before this. */
const MAX_DEPTH = 256;

function copy(v: unknown, depth: number): unknown {
  if (typeof v === 'string') return v.length === 0 ? v : (JSON.parse(JSON.stringify(v)) as string);
  if (typeof v !== 'object' || v === null || depth > MAX_DEPTH) return v;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) v[i] = copy(v[i], depth + 1);
    return v;
  }
  const proto = Object.getPrototypeOf(v) as unknown;
  if (proto !== Object.prototype && proto !== null) return v;
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) o[k] = copy(o[k], depth + 1);
  return v;
}
