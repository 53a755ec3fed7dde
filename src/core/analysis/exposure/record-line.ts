/**
 * Decision-log lines read without building the record. A line is JSON, and
 * most lines are written the way JSON.stringify writes: strings without
 * escapes, integers, no white space. For such a line two things follow from
 * its text alone: the fields analysis reads, and the canonical JSON of the
 * record without `hash` that the hash chain covers — every value's text is
 * already canonical, so only object members need putting in key order.
 *
 * A line outside that plain subset (an escape, a fraction or exponent, a
 * duplicate key, a field of an unexpected type, anything JSON.parse would
 * reject) is not read here: {@link RecordLineScanner.scan} answers
 * `undefined` and the caller parses the line as JSON, which decides the same
 * things the general way.
 */
import type { DecisionRecord } from '../../log/decision-record.js';
import type { RecordFields } from './activity.js';

/** A line read by {@link RecordLineScanner}. */
export interface RecordLine {
  fields: RecordFields;
  /** What the hash chain checks; present when asked for. */
  chain?: {
    record: Pick<DecisionRecord, 'seq' | 'prevHash' | 'hash'>;
    /** The canonical JSON of the record without `hash`, as `canonicalRecordJson` writes it. */
    body: string;
  };
}

const STRING = 0;
const NUMBER = 1;
const LITERAL = 2;
const OBJECT = 3;
const ARRAY = 4;

const QUOTE = 0x22;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const MINUS = 0x2d;
const ZERO = 0x30;
const NINE = 0x39;

/** Line layouts remembered; a log written by one program has a few. */
const MAX_TEMPLATES = 16;
/** Deeper lines are left to JSON.parse. */
const MAX_DEPTH = 64;
/** Integers of up to 15 digits read back exactly and print as written. */
const MAX_DIGITS = 15;

/** The members of one object (or items of one array) being read; one per depth, reused line after line. */
class Level {
  n = 0;
  keys: string[] = [];
  /** Canonical text of each value. */
  texts: string[] = [];
  kinds: number[] = [];
  /** The value as written: `s.slice(starts[k], ends[k])`. */
  starts: number[] = [];
  ends: number[] = [];
}

interface Shape {
  keys: readonly string[];
  /** Member positions in key order. */
  order: readonly number[];
}

type Scratch = { -readonly [K in keyof RecordFields]?: RecordFields[K] | null };

/**
 * What keeps a line off the plain path: an escape; a control character (raw
 * in a string it is invalid JSON, and outside one only white space, which
 * plain lines have little of); a surrogate (JSON.stringify escapes a lone
 * one).
 */
// eslint-disable-next-line no-control-regex -- control characters are exactly what this looks for
const NOT_PLAIN = /[\u0000-\u001f\\\ud800-\udfff]/;
const SPACE = 0x20;

/**
 * Reads decision-log lines one after the other. Keeps the key orders it has
 * seen, so lines of the same shape are put in key order without sorting.
 */
export class RecordLineScanner {
  private s = '';
  private i = 0;
  /** Kind, extent and whether the text of the last value read is its own canonical form. */
  private kind = STRING;
  private start = 0;
  private plain = true;
  private readonly levels: Level[] = [];
  private readonly shapes = new Map<string, Shape>();
  /** The fields found so far; `null` marks one of an unexpected kind. */
  private fields: Scratch = {};
  private seq: number | undefined;
  private prevHash: string | undefined;
  private hash: string | undefined;
  private hashAt = -1;

  /** Line layouts seen, the last one matched first. */
  private readonly templates: Template[] = [];

  /**
   * The fields of `line` and, with `chain`, what the hash chain checks; or
   * `undefined` when the line is not in the plain subset, is not valid JSON,
   * or is not a decision record with the fields analysis needs (then parse it
   * as JSON and take the general path).
   */
  scan(line: string, chain: boolean): RecordLine | undefined {
    const templates = this.templates;
    for (let k = 0; k < templates.length; k++) {
      const t = templates[k]!;
      const read = t.read(line, chain);
      if (read === null) continue;
      if (k > 0) {
        templates.splice(k, 1);
        templates.unshift(t);
      }
      return read;
    }
    if (NOT_PLAIN.test(line)) return undefined;
    const read = this.generic(line, chain);
    if (read) {
      const t = learnTemplate(line);
      if (t) {
        templates.unshift(t);
        if (templates.length > MAX_TEMPLATES) templates.pop();
      }
    }
    return read;
  }

  /**
   * What the hash chain checks of `line`, as {@link scan} with `chain`
   * gives it, without building the fields when the line has a known layout.
   */
  scanChain(line: string): RecordLine['chain'] | undefined {
    const templates = this.templates;
    for (let k = 0; k < templates.length; k++) {
      const t = templates[k]!;
      const read = t.readChain(line);
      if (read === null) continue;
      if (k > 0) {
        templates.splice(k, 1);
        templates.unshift(t);
      }
      return read;
    }
    return this.scan(line, true)?.chain;
  }

  /** Reads a line of any layout in the plain subset, member by member. */
  private generic(line: string, chain: boolean): RecordLine | undefined {
    this.s = line;
    this.i = 0;
    this.fields = {};
    this.seq = undefined;
    this.prevHash = undefined;
    this.hash = undefined;
    this.hashAt = -1;
    this.space();
    if (this.s.charCodeAt(this.i) !== OPEN_BRACE) return undefined;
    if (this.object(0, '') === undefined) return undefined;
    this.space();
    if (this.i !== line.length) return undefined;
    const f = this.fields;
    // Each is a string here unless absent: capture gave up on a value of another kind.
    if (
      f.time == null ||
      f.spiffeId == null ||
      f.sourceZone == null ||
      f.service == null ||
      f.destinationZone == null ||
      f.decision == null ||
      f.layer == null ||
      f.rules == null
    )
      return undefined;
    const fields: RecordFields = {
      time: f.time,
      spiffeId: f.spiffeId,
      ip: f.ip ?? undefined,
      sourceZone: f.sourceZone,
      credential: f.credential ?? false,
      credentialType: f.credentialType ?? undefined,
      credentialId: f.credentialId ?? undefined,
      service: f.service,
      port: f.port ?? undefined,
      destinationZone: f.destinationZone,
      method: f.method ?? undefined,
      path: f.path ?? undefined,
      decision: f.decision,
      layer: f.layer,
      rules: f.rules,
      wouldDeny: f.wouldDeny ?? false,
      userAgent: f.userAgent,
    };
    if (!chain) return { fields };
    if (this.seq === undefined || this.prevHash === undefined || this.hash === undefined) return undefined;
    return {
      fields,
      chain: { record: { seq: this.seq, prevHash: this.prevHash, hash: this.hash }, body: this.body() },
    };
  }

  private level(depth: number): Level {
    let l = this.levels[depth];
    if (!l) this.levels[depth] = l = new Level();
    return l;
  }

  private space(): boolean {
    const s = this.s;
    const start = this.i;
    let i = start;
    // Bounds first: reading past the end gives NaN, which optimized code handles poorly.
    while (i < s.length && s.charCodeAt(i) === SPACE) i++;
    this.i = i;
    return i !== start;
  }

  /** The canonical text of the value at `i`, leaving `i` after it; `undefined` outside the plain subset. */
  private value(depth: number, key: string): string | undefined {
    const s = this.s;
    const start = this.i;
    const c = s.charCodeAt(start);
    this.start = start;
    this.plain = true;
    if (c === QUOTE) {
      if (!this.string()) return undefined;
      this.kind = STRING;
    } else if (c === OPEN_BRACE) {
      if (depth >= MAX_DEPTH) return undefined;
      const text = this.object(depth, key);
      this.start = start;
      this.kind = OBJECT;
      return text;
    } else if (c === OPEN_BRACKET) {
      if (depth >= MAX_DEPTH) return undefined;
      const text = this.array(depth);
      this.start = start;
      this.kind = ARRAY;
      return text;
    } else if (c === MINUS || (c >= ZERO && c <= NINE)) {
      if (!this.number()) return undefined;
      this.kind = NUMBER;
    } else {
      const word = s.startsWith('true', start)
        ? 4
        : s.startsWith('null', start)
          ? 4
          : s.startsWith('false', start)
            ? 5
            : 0;
      if (!word) return undefined;
      this.i = start + word;
      this.kind = LITERAL;
    }
    return s.slice(start, this.i);
  }

  /** A string (the line holds no escape, control character or surrogate); `i` after its closing quote. */
  private string(): boolean {
    const end = this.s.indexOf('"', this.i + 1);
    if (end === -1) return false;
    this.i = end + 1;
    return true;
  }

  /** An integer JSON.stringify writes the same way: no `-0`, no leading zero, at most 15 digits. */
  private number(): boolean {
    const s = this.s;
    let i = this.i;
    if (s.charCodeAt(i) === MINUS) i++;
    const first = i;
    let c = s.charCodeAt(i);
    if (c === ZERO) {
      if (first !== this.i) return false;
      i++;
    } else {
      while (c >= ZERO && c <= NINE) c = s.charCodeAt(++i);
      if (i === first || i - first > MAX_DIGITS) return false;
    }
    c = s.charCodeAt(i);
    // A fraction, an exponent or more digits after a leading zero.
    if (c === 0x2e || c === 0x65 || c === 0x45 || (c >= ZERO && c <= NINE)) return false;
    this.i = i;
    return true;
  }

  private object(depth: number, path: string): string | undefined {
    const s = this.s;
    const level = this.level(depth);
    const open = this.i;
    this.i++;
    let plain = !this.space();
    let n = 0;
    if (s.charCodeAt(this.i) === CLOSE_BRACE) {
      this.i++;
      level.n = 0;
      this.plain = plain;
      return '{}';
    }
    for (;;) {
      if (s.charCodeAt(this.i) !== QUOTE) return undefined;
      const keyStart = this.i + 1;
      if (!this.string()) return undefined;
      const key = s.slice(keyStart, this.i - 1);
      if (this.space()) plain = false;
      if (s.charCodeAt(this.i) !== COLON) return undefined;
      this.i++;
      if (this.space()) plain = false;
      const text = this.value(depth + 1, key);
      if (text === undefined) return undefined;
      if (!this.plain) plain = false;
      if (n > 0 && !(level.keys[n - 1]! < key)) plain = false;
      level.keys[n] = key;
      level.texts[n] = text;
      level.kinds[n] = this.kind;
      level.starts[n] = this.start;
      level.ends[n] = this.i;
      n++;
      level.n = n;
      if (depth === 0 && !this.capture(key, n - 1)) return undefined;
      if (this.space()) plain = false;
      const c = s.charCodeAt(this.i);
      this.i++;
      if (c === CLOSE_BRACE) break;
      if (c !== COMMA) return undefined;
      if (this.space()) plain = false;
    }
    level.n = n;
    this.plain = plain;
    // In key order without white space: the text as written is canonical.
    if (plain) return depth === 0 ? '' : s.slice(open, this.i);
    const order = this.order(level, path);
    if (!order) return undefined;
    if (depth === 0) return '';
    let out = '{';
    for (let k = 0; k < n; k++) {
      const m = order[k]!;
      out += `${k ? ',' : ''}"${level.keys[m]!}":${level.texts[m]!}`;
    }
    return out + '}';
  }

  /** Member positions in key order; `undefined` when a key repeats. */
  private order(level: Level, path: string): readonly number[] | undefined {
    const n = level.n;
    const known = this.shapes.get(path);
    if (known && known.keys.length === n) {
      let same = true;
      for (let k = 0; k < n && same; k++) same = known.keys[k] === level.keys[k];
      if (same) return known.order;
    }
    const keys = level.keys.slice(0, n);
    const order = keys
      .map((_, k) => k)
      .sort((a, b) => (keys[a]! < keys[b]! ? -1 : keys[a]! > keys[b]! ? 1 : 0));
    for (let k = 1; k < n; k++) if (keys[order[k - 1]!] === keys[order[k]!]) return undefined;
    this.shapes.set(path, { keys, order });
    return order;
  }

  private array(depth: number): string | undefined {
    const s = this.s;
    const level = this.level(depth);
    const open = this.i;
    this.i++;
    let plain = !this.space();
    let n = 0;
    if (s.charCodeAt(this.i) === CLOSE_BRACKET) {
      this.i++;
      level.n = 0;
      this.plain = plain;
      return '[]';
    }
    for (;;) {
      const text = this.value(depth + 1, '[]');
      if (text === undefined) return undefined;
      if (!this.plain) plain = false;
      level.texts[n] = text;
      level.kinds[n] = this.kind;
      level.starts[n] = this.start;
      level.ends[n] = this.i;
      n++;
      if (this.space()) plain = false;
      const c = s.charCodeAt(this.i);
      this.i++;
      if (c === CLOSE_BRACKET) break;
      if (c !== COMMA) return undefined;
      if (this.space()) plain = false;
    }
    level.n = n;
    this.plain = plain;
    if (plain) return s.slice(open, this.i);
    let out = '[';
    for (let k = 0; k < n; k++) out += (k ? ',' : '') + level.texts[k]!;
    return out + ']';
  }

  /** The value of top-level member `m` just read, for the fields it carries; false to give up on the line. */
  private capture(key: string, m: number): boolean {
    const top = this.levels[0]!;
    const kind = top.kinds[m]!;
    const f = this.fields;
    switch (key) {
      case 'time':
        return (f.time = this.text(top, m)) !== undefined;
      case 'decision':
        f.decision = this.text(top, m) as RecordFields['decision'];
        return f.decision === 'allow' || f.decision === 'deny';
      case 'layer':
        return (f.layer = this.text(top, m) as RecordFields['layer']) !== undefined;
      case 'userAgent':
        return (f.userAgent = this.text(top, m)) !== undefined;
      case 'wouldDeny':
        if (kind !== LITERAL || this.s.charCodeAt(top.starts[m]!) === 0x6e) return false;
        f.wouldDeny = this.s.charCodeAt(top.starts[m]!) === 0x74;
        return true;
      case 'rules': {
        if (kind !== ARRAY) return false;
        const items = this.levels[1]!;
        const rules: string[] = [];
        for (let k = 0; k < items.n; k++) {
          const r = this.text(items, k);
          if (r === undefined) return false;
          rules.push(r);
        }
        f.rules = rules;
        return true;
      }
      case 'source': {
        const o = this.member(kind);
        if (!o) return false;
        f.spiffeId = this.field(o, 'spiffeId');
        f.sourceZone = this.field(o, 'zone');
        f.ip = this.field(o, 'ip');
        return f.spiffeId !== undefined && f.sourceZone !== undefined && f.ip !== null;
      }
      case 'destination': {
        const o = this.member(kind);
        if (!o) return false;
        f.service = this.field(o, 'service');
        f.destinationZone = this.field(o, 'zone');
        const port = this.numberField(o, 'port');
        if (port !== undefined) f.port = port;
        return f.service !== undefined && f.destinationZone !== undefined && port !== null;
      }
      case 'credential': {
        const o = this.member(kind);
        if (!o) return false;
        f.credential = true;
        f.credentialType = this.field(o, 'type') as RecordFields['credentialType'];
        f.credentialId = this.field(o, 'id');
        return f.credentialType !== undefined && f.credentialId !== null;
      }
      case 'action': {
        const o = this.member(kind);
        if (!o) return false;
        f.method = this.field(o, 'method');
        f.path = this.field(o, 'path');
        return f.method !== null && f.path !== null;
      }
      case 'seq': {
        if (kind !== NUMBER) return false;
        this.seq = Number(this.s.slice(top.starts[m]!, top.ends[m]!));
        return true;
      }
      case 'prevHash':
        return (this.prevHash = this.text(top, m)) !== undefined;
      case 'hash':
        this.hashAt = m;
        return (this.hash = this.text(top, m)) !== undefined;
      default:
        return true;
    }
  }

  /** The members of the object just read at depth 1; `undefined` for any other kind of value. */
  private member(kind: number): Level | undefined {
    return kind === OBJECT ? this.levels[1] : undefined;
  }

  /** The string value of member `k`; `undefined` when it is not a string. */
  private text(level: Level, k: number): string | undefined {
    return level.kinds[k] === STRING ? this.s.slice(level.starts[k]! + 1, level.ends[k]! - 1) : undefined;
  }

  /** A string member: its value, `undefined` when absent, `null` when of another kind (or repeated). */
  private field(level: Level, key: string): string | undefined | null {
    let found: string | undefined | null;
    for (let k = 0; k < level.n; k++) {
      if (level.keys[k] !== key) continue;
      if (found !== undefined) return null;
      found = this.text(level, k) ?? null;
    }
    return found;
  }

  /** An integer member, like {@link field}. */
  private numberField(level: Level, key: string): number | undefined | null {
    let found: number | undefined | null;
    for (let k = 0; k < level.n; k++) {
      if (level.keys[k] !== key) continue;
      if (found !== undefined) return null;
      found = level.kinds[k] === NUMBER ? Number(this.s.slice(level.starts[k]!, level.ends[k]!)) : null;
    }
    return found;
  }

  /** The canonical JSON of the record just read, without `hash`. */
  private body(): string {
    const top = this.levels[0]!;
    const order = this.order(top, '')!;
    let out = '{';
    let first = true;
    for (let k = 0; k < top.n; k++) {
      const m = order[k]!;
      if (m === this.hashAt) continue;
      out += `${first ? '' : ','}"${top.keys[m]!}":${top.texts[m]!}`;
      first = false;
    }
    return out + '}';
  }
}

// ---- templates -------------------------------------------------------------------
// A template is the layout of one kind of line: its text with the values cut
// out, as one regular expression. A line of that layout is matched in one go;
// the expression admits only plain values, so a match is a plain line, and its
// fields and canonical JSON are the groups, put together in an order worked
// out once.

const STRING_HOLE = 1;
const NUMBER_HOLE = 2;
const WORD_HOLE = 3;
/** An array of strings, possibly empty. */
const STRINGS_HOLE = 4;

/** Plain string contents: no quote, escape, control character or surrogate. */
const PLAIN_CHARS = '[^"\\\\\\u0000-\\u001f\\ud800-\\udfff]*';
/** Each hole's pattern as the text around its value and the value itself, which a group may capture. */
const HOLES: Record<number, { before: string; value: string; after: string }> = {
  [STRING_HOLE]: { before: '"', value: PLAIN_CHARS, after: '"' },
  // As {@link RecordLineScanner} reads integers: no `-0`, no leading zero, at most 15 digits.
  [NUMBER_HOLE]: { before: '', value: '0|-?[1-9][0-9]{0,14}', after: '(?![.eE0-9])' },
  [WORD_HOLE]: { before: '', value: 'true|false|null', after: '' },
  [STRINGS_HOLE]: { before: '', value: `\\[(?:"${PLAIN_CHARS}"(?:,"${PLAIN_CHARS}")*)?\\]`, after: '' },
};

/** A hole's pattern; without `capture`, for values a reader without the chain check does not look at. */
function holePattern(kind: number, capture: boolean): string {
  const h = HOLES[kind]!;
  return `${h.before}(${capture ? '' : '?:'}${h.value})${h.after}`;
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

type TemplateNode =
  { kind: 'object'; keys: string[]; values: TemplateNode[] } | { kind: 'value'; group: number; hole: number };

/** The group of each field, or -1 when the layout has no such member. */
interface FieldGroups {
  time: number;
  spiffeId: number;
  ip: number;
  sourceZone: number;
  credential: boolean;
  credentialType: number;
  credentialId: number;
  service: number;
  port: number;
  destinationZone: number;
  method: number;
  path: number;
  decision: number;
  layer: number;
  rules: number;
  wouldDeny: number;
  userAgent: number;
  seq: number;
  prevHash: number;
  hash: number;
}

class Template {
  constructor(
    /** Every value captured: what the chain check needs. */
    private readonly pattern: RegExp,
    private readonly at: FieldGroups,
    /** Only the fields' values captured: a match builds a third of the strings. */
    private readonly fieldsPattern: RegExp,
    private readonly fieldsAt: FieldGroups,
    /** The canonical JSON without `hash`: `parts[0]`, group `order[0]`, `parts[1]`, … */
    private readonly parts: readonly string[],
    private readonly order: readonly number[],
  ) {}

  /** The line read, `null` when it does not have this layout, `undefined` when a value is not one analysis takes. */
  read(s: string, chain: boolean): RecordLine | undefined | null {
    const m = chain ? this.pattern.exec(s) : this.fieldsPattern.exec(s);
    if (!m) return null;
    const at = chain ? this.at : this.fieldsAt;
    const decision = m[at.decision];
    if (decision !== 'allow' && decision !== 'deny') return undefined;
    const wouldDeny = at.wouldDeny === -1 ? 'false' : m[at.wouldDeny];
    if (wouldDeny === 'null') return undefined;
    const rules = m[at.rules]!;
    const fields: RecordFields = {
      time: m[at.time]!,
      spiffeId: m[at.spiffeId]!,
      ip: m[at.ip],
      sourceZone: m[at.sourceZone]!,
      credential: at.credential,
      credentialType: m[at.credentialType] as RecordFields['credentialType'],
      credentialId: m[at.credentialId],
      service: m[at.service]!,
      port: at.port === -1 ? undefined : Number(m[at.port]),
      destinationZone: m[at.destinationZone]!,
      method: m[at.method],
      path: m[at.path],
      decision,
      layer: m[at.layer] as RecordFields['layer'],
      // Plain strings hold no quote: the items are what lies between `","`.
      rules: rules === '[]' ? [] : rules.slice(2, -2).split('","'),
      wouldDeny: wouldDeny === 'true',
      userAgent: m[at.userAgent],
    };
    if (!chain) return { fields };
    const linked = this.chainOf(m);
    return linked && { fields, chain: linked };
  }

  /** {@link read} with `chain`, for what the chain checks only: the same lines taken, no fields built. */
  readChain(s: string): RecordLine['chain'] | undefined | null {
    const m = this.pattern.exec(s);
    if (!m) return null;
    const at = this.at;
    const decision = m[at.decision];
    if (decision !== 'allow' && decision !== 'deny') return undefined;
    if (at.wouldDeny !== -1 && m[at.wouldDeny] === 'null') return undefined;
    return this.chainOf(m);
  }

  private chainOf(m: RegExpExecArray): RecordLine['chain'] | undefined {
    const at = this.at;
    if (at.seq === -1 || at.prevHash === -1 || at.hash === -1) return undefined;
    const parts = this.parts;
    const order = this.order;
    let body = parts[0]!;
    for (let k = 0; k < order.length; k++) body += m[order[k]!]! + parts[k + 1]!;
    return { record: { seq: Number(m[at.seq]), prevHash: m[at.prevHash]!, hash: m[at.hash]! }, body };
  }
}

/** Where the integer at `i` ends, read as {@link holePattern} does; -1 if there is none. */
function integerEnd(s: string, i: number): number {
  const m = /(0|-?[1-9][0-9]{0,14})(?![.eE0-9])/y;
  m.lastIndex = i;
  return m.test(s) ? m.lastIndex : -1;
}

/** Where `true`, `false` or `null` at `i` ends; -1 if none. */
function wordEnd(s: string, i: number): number {
  if (s.startsWith('true', i) || s.startsWith('null', i)) return i + 4;
  return s.startsWith('false', i) ? i + 5 : -1;
}

/** Where the array of strings at `i` ends; -1 if there is none. */
function stringsEnd(s: string, i: number): number {
  if (s.charCodeAt(i) !== OPEN_BRACKET) return -1;
  i++;
  if (s.charCodeAt(i) === CLOSE_BRACKET) return i + 1;
  for (;;) {
    if (s.charCodeAt(i) !== QUOTE) return -1;
    const close = s.indexOf('"', i + 1);
    if (close === -1) return -1;
    const c = s.charCodeAt(close + 1);
    i = close + 2;
    if (c === CLOSE_BRACKET) return i;
    if (c !== COMMA) return -1;
  }
}

/**
 * The template of a line the general reader has taken (so it is plain JSON
 * with every field analysis needs); `undefined` when its layout does not fit
 * one (white space, arrays of anything but strings).
 */
function learnTemplate(s: string): Template | undefined {
  let source = '^';
  let groups = 0;
  let i = 0;
  /** The source up to each hole, and the hole's kind: the patterns are put together from them. */
  const texts: string[] = [];
  const kinds: number[] = [];
  const hole = (kind: number, end: number): TemplateNode | undefined => {
    if (end === -1) return undefined;
    texts.push(source);
    kinds.push(kind);
    source = '';
    i = end;
    return { kind: 'value', group: ++groups, hole: kind };
  };
  const value = (): TemplateNode | undefined => {
    const c = s.charCodeAt(i);
    if (c === QUOTE) return hole(STRING_HOLE, s.indexOf('"', i + 1) + 1 || -1);
    if (c === OPEN_BRACKET) return hole(STRINGS_HOLE, stringsEnd(s, i));
    if (c === MINUS || (c >= ZERO && c <= NINE)) return hole(NUMBER_HOLE, integerEnd(s, i));
    if (c !== OPEN_BRACE) return hole(WORD_HOLE, wordEnd(s, i));
    const node: TemplateNode = { kind: 'object', keys: [], values: [] };
    source += '\\{';
    i++;
    if (s.charCodeAt(i) === CLOSE_BRACE) {
      source += '\\}';
      i++;
      return node;
    }
    for (;;) {
      if (s.charCodeAt(i) !== QUOTE) return undefined;
      const close = s.indexOf('"', i + 1);
      if (close === -1 || s.charCodeAt(close + 1) !== COLON) return undefined;
      node.keys.push(s.slice(i + 1, close));
      source += escapeRegExp(s.slice(i, close + 2));
      i = close + 2;
      const v = value();
      if (!v) return undefined;
      node.values.push(v);
      const c = s.charCodeAt(i);
      i++;
      if (c === CLOSE_BRACE) {
        source += '\\}';
        return node;
      }
      if (c !== COMMA) return undefined;
      source += ',';
    }
  };
  if (s.charCodeAt(0) !== OPEN_BRACE) return undefined;
  const top = value();
  if (!top || top.kind !== 'object' || i !== s.length) return undefined;

  const member = (node: TemplateNode | undefined, key: string) =>
    node?.kind === 'object' ? node.values[node.keys.indexOf(key)] : undefined;
  /** The group of a value of the kind expected, -1 when absent, `undefined` when of another kind. */
  const groupOf = (node: TemplateNode | undefined, hole: number) =>
    node === undefined ? -1 : node.kind === 'value' && node.hole === hole ? node.group : undefined;
  const source_ = member(top, 'source');
  const destination = member(top, 'destination');
  const credential = member(top, 'credential');
  const action = member(top, 'action');
  if (action !== undefined && action.kind !== 'object') return undefined;
  if (credential !== undefined && credential.kind !== 'object') return undefined;
  const at = {
    time: groupOf(member(top, 'time'), STRING_HOLE),
    spiffeId: groupOf(member(source_, 'spiffeId'), STRING_HOLE),
    ip: groupOf(member(source_, 'ip'), STRING_HOLE),
    sourceZone: groupOf(member(source_, 'zone'), STRING_HOLE),
    credential: credential !== undefined,
    credentialType: groupOf(member(credential, 'type'), STRING_HOLE),
    credentialId: groupOf(member(credential, 'id'), STRING_HOLE),
    service: groupOf(member(destination, 'service'), STRING_HOLE),
    port: groupOf(member(destination, 'port'), NUMBER_HOLE),
    destinationZone: groupOf(member(destination, 'zone'), STRING_HOLE),
    method: groupOf(member(action, 'method'), STRING_HOLE),
    path: groupOf(member(action, 'path'), STRING_HOLE),
    decision: groupOf(member(top, 'decision'), STRING_HOLE),
    layer: groupOf(member(top, 'layer'), STRING_HOLE),
    rules: groupOf(member(top, 'rules'), STRINGS_HOLE),
    wouldDeny: groupOf(member(top, 'wouldDeny'), WORD_HOLE),
    userAgent: groupOf(member(top, 'userAgent'), STRING_HOLE),
    seq: groupOf(member(top, 'seq'), NUMBER_HOLE),
    prevHash: groupOf(member(top, 'prevHash'), STRING_HOLE),
    hash: groupOf(member(top, 'hash'), STRING_HOLE),
  };
  for (const [k, g] of Object.entries(at))
    if (g === undefined || (g === -1 && REQUIRED.has(k))) return undefined;
  if (at.credential && at.credentialType === -1) return undefined;

  // The canonical JSON: members in key order at every level, `hash` left out at the top.
  const parts: string[] = [''];
  const order: number[] = [];
  const emit = (node: TemplateNode, topLevel: boolean) => {
    if (node.kind === 'value') {
      // A string's group holds what is between its quotes.
      const quote = node.hole === STRING_HOLE ? '"' : '';
      parts[parts.length - 1] += quote;
      order.push(node.group);
      parts.push(quote);
      return;
    }
    parts[parts.length - 1] += '{';
    const members = node.keys
      .map((key, k) => ({ key, k }))
      .filter((m) => !(topLevel && m.key === 'hash'))
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    members.forEach((m, n) => {
      parts[parts.length - 1] += `${n ? ',' : ''}"${m.key}":`;
      emit(node.values[m.k]!, false);
    });
    parts[parts.length - 1] += '}';
  };
  emit(top, true);

  // Group g is hole g - 1. The fields pattern captures only the fields' holes, renumbered.
  const fieldGroups = new Set(
    Object.entries(at)
      .filter(([k, g]) => typeof g === 'number' && g > 0 && k !== 'seq' && k !== 'prevHash' && k !== 'hash')
      .map(([, g]) => g as number),
  );
  const renumbered = new Map<number, number>();
  let all = '';
  let fieldsOnly = '';
  for (let h = 0; h < kinds.length; h++) {
    all += texts[h]! + holePattern(kinds[h]!, true);
    const kept = fieldGroups.has(h + 1);
    if (kept) renumbered.set(h + 1, renumbered.size + 1);
    fieldsOnly += texts[h]! + holePattern(kinds[h]!, kept);
  }
  const fieldsAt = Object.fromEntries(
    Object.entries(at).map(([k, g]) => [
      k,
      typeof g !== 'number' || g === -1 ? g : (renumbered.get(g) ?? -1),
    ]),
  ) as unknown as FieldGroups;
  return new Template(
    new RegExp(`${all}${source}$`),
    at as FieldGroups,
    new RegExp(`${fieldsOnly}${source}$`),
    fieldsAt,
    parts,
    order,
  );
}

/** Fields every record has (see the general reader). */
const REQUIRED = new Set([
  'time',
  'spiffeId',
  'sourceZone',
  'service',
  'destinationZone',
  'decision',
  'layer',
  'rules',
]);
