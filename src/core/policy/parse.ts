import { ownStrings } from '../own-strings.js';
import { LineCounter, parseDocument, isMap, isSeq, isScalar, isPair, type Document, type Node } from 'yaml';
import { GatehouseError, type SourceLocation } from '../errors.js';
import { jsonPositions, parseJsonObject, positionName, type JsonPosition } from './json-object.js';

/** One policy source: a file name (for messages) and its YAML or JSON text. */
export interface PolicySourceText {
  file: string;
  text: string;
}

export type PathSegment = string | number;

/**
 * A policy document as written, merged from one or more files, with a way back
 * from any path in the merged document to `file:line:col`.
 */
export interface PolicyDocument {
  /** The merged plain-JSON document. */
  readonly value: Record<string, unknown>;
  readonly files: readonly string[];
  /**
   * Location of the deepest existing node on `path` (its value, or with `key`
   * the key of its last segment); undefined when unknown.
   */
  locate(path: readonly PathSegment[], options?: { key?: boolean }): SourceLocation | undefined;
}

/** Sections whose entries are keyed by name and merged across files. */
const KEYED_SECTIONS = ['zones', 'services'] as const;
/** Sections that are lists, concatenated across files in file order. */
const LIST_SECTIONS = ['workloads', 'segmentation', 'flows', 'permissions'] as const;
/** Scalars every file may repeat, but only with the same value. */
const SHARED_SCALARS = ['apiVersion', 'kind', 'trustDomain'] as const;

interface ParsedFile {
  file: string;
  value: unknown;
  /** The syntax tree and line table, for locations: made on first need for a JSON file. */
  tree(): SyntaxTree;
  /** For a JSON file, the line and column of a path of up to two segments, found without the tree. */
  position?: (path: readonly PathSegment[], key: boolean) => { line: number; col: number } | undefined;
}

interface SyntaxTree {
  doc: Document.Parsed;
  lines: LineCounter;
}

// Large policies are machine-written; still, a text this big is a mistake or an attack.
const MAX_POLICY_BYTES = 64 * 1024 * 1024;

function parseOne(src: PolicySourceText, json: boolean): ParsedFile {
  if (src.text.length > MAX_POLICY_BYTES) {
    throw new GatehouseError('policy_parse_error', `${src.file}: policy file is larger than 64 MiB`);
  }
  const object = json ? parseJsonObject(src.text) : undefined;
  if (object !== undefined) {
    let tree: SyntaxTree | undefined;
    return {
      file: src.file,
      value: object,
      tree: () => (tree ??= syntaxTree(src.text)),
      position: jsonLocator(src.text),
    };
  }
  const tree = syntaxTree(src.text);
  const { doc, lines } = tree;
  const first = doc.errors[0];
  if (first) {
    const pos = lines.linePos(first.pos[0]);
    const location = { file: src.file, line: pos.line, column: pos.col };
    const why = first.message.split('\n')[0]!.replace(/\.$/, '');
    throw new GatehouseError(
      'policy_parse_error',
      `${location.file}:${location.line}:${location.column}: cannot parse policy: ${lowerFirst(why)}`,
      { location },
    );
  }
  // Strings of their own, not slices of the text: see ownStrings().
  const value = ownStrings(doc.toJS({ maxAliasCount: 100 }) as unknown);
  return { file: src.file, value, tree: () => tree };
}

/**
 * Lines and columns of the members a validation locates (every zone, service, workload and
 * rule) in a JSON text, from one scan of it made on the first question, as the syntax tree
 * would give them; undefined for other paths, which the tree answers.
 */
function jsonLocator(text: string): ParsedFile['position'] {
  let positions: Map<string, JsonPosition> | undefined;
  let lines: LineCounter | undefined;
  return (path, key) => {
    const name = positionName(path);
    if (name === undefined) return undefined;
    positions ??= jsonPositions(text);
    const found = positions.get(name);
    if (!found) return undefined;
    if (!lines) {
      // The line table the YAML parser fills as it reads, filled here from the text's newlines.
      lines = new LineCounter();
      lines.addNewLine(0);
      for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) lines.addNewLine(i + 1);
    }
    return lines.linePos(key && path.length > 0 ? found.key : found.value);
  };
}

function syntaxTree(text: string): SyntaxTree {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  return { doc, lines };
}

function lowerFirst(s: string): string {
  return s.length && /[A-Z][a-z]/.test(s.slice(0, 2)) ? s[0]!.toLowerCase() + s.slice(1) : s;
}

function nodeAt(
  doc: Document.Parsed,
  path: readonly PathSegment[],
  key = false,
): { node: Node; exact: boolean } | undefined {
  let node: unknown = doc.contents;
  let best: Node | undefined = (doc.contents as Node | null) ?? undefined;
  for (let i = 0; i < path.length; i++) {
    const seg = path[i]!;
    if (isMap(node)) {
      const pair = node.items.find(
        (p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg),
      );
      if (!pair) return best ? { node: best, exact: false } : undefined;
      // Point at the value when it exists, else at the key.
      node = pair.value ?? pair.key;
      best =
        key && i === path.length - 1
          ? (pair.key as Node)
          : ((pair.value as Node | null) ?? (pair.key as Node));
    } else if (isSeq(node) && typeof seg === 'number') {
      const item = node.items[seg];
      if (item === undefined) return best ? { node: best, exact: false } : undefined;
      node = item;
      best = item as Node;
    } else {
      return best ? { node: best, exact: false } : undefined;
    }
  }
  return best ? { node: best, exact: true } : undefined;
}

function locateIn(pf: ParsedFile, path: readonly PathSegment[], key = false): SourceLocation {
  const fast = pf.position?.(path, key);
  if (fast) return { file: pf.file, line: fast.line, column: fast.col };
  const { doc, lines } = pf.tree();
  const found = nodeAt(doc, path, key);
  const offset = found?.node.range?.[0] ?? 0;
  const pos = lines.linePos(offset);
  return { file: pf.file, line: pos.line, column: pos.col };
}

/**
 * Parses one or more YAML/JSON policy texts and merges them: `zones` and
 * `services` entries by name (a name defined twice is an error), list
 * sections concatenated in the order given, `apiVersion`, `kind` and
 * `trustDomain` must agree where repeated. Structure is not validated here;
 * see {@link validatePolicy}.
 * @throws GatehouseError `policy_parse_error` with `file:line:col`
 */
export function parsePolicyDocument(
  sources: readonly PolicySourceText[],
  /** @internal `json: false` reads JSON files with the YAML parser too, as a reference for tests. */
  options: { json?: boolean } = {},
): PolicyDocument {
  if (sources.length === 0) throw new GatehouseError('policy_parse_error', 'no policy files given');
  const parsed = sources.map((src) => parseOne(src, options.json !== false));
  const merged: Record<string, unknown> = {};
  // For each merged path prefix [section, key|index], where it came from.
  const origin = new Map<string, { pf: ParsedFile; path: PathSegment[] }>();
  const topOrigin = new Map<string, ParsedFile>();

  for (const pf of parsed) {
    const v = pf.value;
    if (v === null || v === undefined) continue; // an empty file contributes nothing
    if (typeof v !== 'object' || Array.isArray(v)) {
      const loc = locateIn(pf, []);
      throw new GatehouseError(
        'policy_parse_error',
        `${loc.file}:${loc.line}:${loc.column}: a policy file must be a mapping at the top level`,
        { location: loc },
      );
    }
    for (const [key, val] of Object.entries(v as Record<string, unknown>)) {
      const sectionIsKeyed = (KEYED_SECTIONS as readonly string[]).includes(key);
      const sectionIsList = (LIST_SECTIONS as readonly string[]).includes(key);
      if (sectionIsKeyed && val && typeof val === 'object' && !Array.isArray(val)) {
        const target = (merged[key] ??= {}) as Record<string, unknown>;
        if (typeof target !== 'object' || Array.isArray(target)) continue;
        for (const [name, entry] of Object.entries(val as Record<string, unknown>)) {
          if (Object.prototype.hasOwnProperty.call(target, name)) {
            const loc = locateIn(pf, [key, name]);
            const prev = origin.get(`${key}\u0000${name}`);
            const where = prev ? ` (first defined at ${fmt(locateIn(prev.pf, prev.path))})` : '';
            throw new GatehouseError(
              'policy_parse_error',
              `${fmt(loc)}: ${singular(key)} \`${name}\` is defined twice${where}`,
              { location: loc },
            );
          }
          setOwn(target, name, entry);
          origin.set(`${key}\u0000${name}`, { pf, path: [key, name] });
        }
        topOrigin.set(key, topOrigin.get(key) ?? pf);
      } else if (sectionIsList && Array.isArray(val)) {
        const target = (merged[key] ??= []) as unknown[];
        if (!Array.isArray(target)) continue;
        val.forEach((item, i) => {
          origin.set(`${key}\u0000${target.length}`, { pf, path: [key, i] });
          target.push(item);
        });
        topOrigin.set(key, topOrigin.get(key) ?? pf);
      } else if ((SHARED_SCALARS as readonly string[]).includes(key) && Object.hasOwn(merged, key)) {
        if (merged[key] !== val) {
          const loc = locateIn(pf, [key]);
          throw new GatehouseError(
            'policy_parse_error',
            `${fmt(loc)}: \`${key}\` is \`${String(val)}\` here but \`${String(merged[key])}\` in ${topOrigin.get(key)?.file ?? 'another file'}`,
            { location: loc },
          );
        }
      } else if (Object.hasOwn(merged, key) && !(SHARED_SCALARS as readonly string[]).includes(key)) {
        const loc = locateIn(pf, [key]);
        throw new GatehouseError(
          'policy_parse_error',
          `${fmt(loc)}: \`${key}\` is defined in more than one file (also in ${topOrigin.get(key)?.file ?? 'another file'})`,
          { location: loc },
        );
      } else {
        setOwn(merged, key, val);
        topOrigin.set(key, pf);
      }
    }
  }

  const locate = (
    path: readonly PathSegment[],
    options: { key?: boolean } = {},
  ): SourceLocation | undefined => {
    const key = options.key === true;
    if (path.length === 0) return parsed[0] ? locateIn(parsed[0], []) : undefined;
    const [section, second, ...rest] = path;
    if (second !== undefined) {
      const o = origin.get(`${String(section)}\u0000${String(second)}`);
      if (o) return locateIn(o.pf, [...o.path, ...rest], key);
    }
    const pf = topOrigin.get(String(section));
    return pf ? locateIn(pf, path, key) : parsed[0] ? locateIn(parsed[0], []) : undefined;
  };
  return { value: merged, files: sources.map((s) => s.file), locate };
}

/**
 * `o[key] = value` as an own property whatever the key: `__proto__` set by assignment would
 * replace the object's prototype, and the keys under it would be read as fields nobody wrote
 * while no check saw a key of that name.
 */
function setOwn(o: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__')
    Object.defineProperty(o, key, { value, writable: true, enumerable: true, configurable: true });
  else o[key] = value;
}

function fmt(l: SourceLocation): string {
  return `${l.file}:${l.line}:${l.column}`;
}

function singular(section: string): string {
  return section === 'services' ? 'service' : section === 'zones' ? 'zone' : section;
}
