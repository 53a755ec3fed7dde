/**
 * Reading the activation as cel-js does: variables, map fields, list
 * elements, and paths such as `source.labels.env` read in one call. Each
 * read answers the value, a `CelFault` where cel-js throws (a missing key, a
 * variable of the wrong type), or throws `FALL_BACK` for values cel-js knows
 * and these functions do not.
 */
import { CelFault, checked, FALL_BACK, hasOwnKey, kindName, kindOf, thrownMessage } from './values.js';

/** The activation as the closures read it. */
export type Activation = Readonly<Record<string, unknown>>;

/** A thrown exception as the error value cel-js's `tryEval` makes of it; `FALL_BACK` passes through. */
export function caught(e: unknown): CelFault {
  if (e === FALL_BACK) throw e;
  return new CelFault(thrownMessage(e));
}

function keyText(key: unknown): string {
  try {
    return String(key);
  } catch {
    // A null-prototype object has no string form.
    return kindName(kindOf(key));
  }
}

export function noSuchKey(key: unknown): CelFault {
  return new CelFault(`no such key: ${keyText(key)}`);
}

const INDEX_OUT_OF_BOUNDS = new CelFault('no such key: list index out of bounds');

/**
 * `o[key]` when `key` is an own key of `o`, else undefined: cel-js's map
 * lookup (`hasOwn(o, key) ? o[key] : undefined`), so that a polluted
 * `Object.prototype` never answers for a request.
 */
export function ownValue(o: object, key: string): unknown {
  return hasOwnKey.call(o, key) ? (o as Record<string, unknown>)[key] : undefined;
}

/**
 * `hasOwn(o, key)` for a key of any type, or a fault where coercing it to a
 * property key throws (a null-prototype object), where cel-js throws too.
 */
export function hasOwnCoerced(o: object, key: unknown): boolean | CelFault {
  try {
    return hasOwnKey.call(o, key);
  } catch (e) {
    return caught(e);
  }
}

/** Reads `key` of a plain object as cel-js's map field access does: own keys only. */
export function mapEntry(o: object, key: unknown, missing: CelFault): unknown {
  if (typeof key === 'string') {
    const v = ownValue(o, key);
    return v === undefined ? missing : checked(v);
  }
  // Any other key is coerced to a property key, as by cel-js's `Object.hasOwn`.
  const own = hasOwnCoerced(o, key);
  if (own instanceof CelFault) return own;
  if (own) {
    const v = (o as Record<string, unknown>)[key as string];
    if (v !== undefined) return checked(v);
  }
  return missing;
}

/** cel-js's list field access: an int or double index (`l[0.0]` works there), an error otherwise. */
export function listElement(list: readonly unknown[], key: unknown): unknown {
  let pos: number;
  if (typeof key === 'bigint') pos = Number(key);
  else if (typeof key === 'number') pos = key;
  else return noSuchKey(key);
  const v = list[pos];
  return v === undefined ? INDEX_OUT_OF_BOUNDS : checked(v);
}

/** cel-js's `fieldAccess` on a value of dynamic type. */
export function dynamicAccess(o: unknown, key: unknown, missing: CelFault | undefined): unknown {
  if (typeof o === 'object') {
    if (o === null) return missing ?? noSuchKey(key);
    const c = o.constructor;
    if (c === Object || c === undefined) return mapEntry(o, key, missing ?? noSuchKey(key));
    if (c === Array) return listElement(o as unknown[], key);
    // Map, Date, net values and the like: cel-js knows best.
    throw FALL_BACK;
  }
  return missing ?? noSuchKey(key);
}

// ---------------------------------------------------------------------------
// Variables

const SOURCE = 0;
const CREDENTIAL = 1;
const DESTINATION = 2;
const ACTION = 3;
const CONTEXT = 4;
const TIME = 5;

const VARIABLE_IDS: Readonly<Record<string, number>> = {
  source: SOURCE,
  credential: CREDENTIAL,
  destination: DESTINATION,
  action: ACTION,
  context: CONTEXT,
  time: TIME,
};

/**
 * The value of a variable. A switch of named loads rather than `a[name]`:
 * every site then sees one property name, which keeps V8's caches monomorphic
 * however many conditions share this code.
 */
function readVariable(a: Activation, id: number): unknown {
  switch (id) {
    case SOURCE:
      return a.source;
    case CREDENTIAL:
      return a.credential;
    case DESTINATION:
      return a.destination;
    case ACTION:
      return a.action;
    case CONTEXT:
      return a.context;
    default:
      return a.time;
  }
}

/** What a variable reads, and the errors cel-js raises when it is absent or of the wrong type. */
export interface Variable {
  readonly id: number;
  readonly name: string;
  readonly missing: CelFault;
  readonly mistyped: CelFault;
}

/** The variable `name`, or undefined when it is not one of the condition variables. */
export function variable(name: string): Variable | undefined {
  const id = VARIABLE_IDS[name];
  if (id === undefined) return undefined;
  const type = id === TIME ? 'a timestamp' : 'a map';
  return {
    id,
    name,
    missing: new CelFault(`unknown variable: ${name}`),
    mistyped: new CelFault(`variable ${name} is not ${type}`),
  };
}

/**
 * A map variable's value that is not a plain object: the error cel-js raises
 * for it, or a fall-back for a `Map` (a CEL map to cel-js, not read here).
 */
function notPlainMap(v: unknown, variable: Variable): CelFault {
  if (typeof v === 'object' && v !== null && v.constructor === Map) throw FALL_BACK;
  return v === undefined ? variable.missing : variable.mistyped;
}

/** A map variable: a plain object, or the error cel-js raises for anything else. */
export function readMapVariable(a: Activation, variable: Variable): unknown {
  const v = readVariable(a, variable.id);
  if (typeof v === 'object' && v !== null) {
    const c = v.constructor;
    if (c === Object || c === undefined) return v;
  }
  return notPlainMap(v, variable);
}

/** The timestamp variable: a valid `Date`, or the error cel-js raises for anything else. */
export function readTimestampVariable(a: Activation, variable: Variable): unknown {
  const v = readVariable(a, variable.id);
  if (v instanceof Date) {
    if (v.constructor === Date && !Number.isNaN(v.getTime())) return v;
    // A subclass or an invalid date: cel-js decides.
    throw FALL_BACK;
  }
  if (typeof v === 'object' && v !== null && v.constructor === Date) throw FALL_BACK;
  return v === undefined ? variable.missing : variable.mistyped;
}

// ---------------------------------------------------------------------------
// Paths

/** `context.a.b`, `source.labels["env"]`: string keys read from a map variable. */
export interface Path {
  readonly variable: Variable;
  readonly keys: readonly string[];
  /** `no such key: …` for each key, made once. */
  readonly missing: readonly CelFault[];
}

export function path(variable: Variable, keys: readonly string[]): Path {
  return { variable, keys, missing: keys.map(noSuchKey) };
}

/**
 * The value at the end of a path, as cel-js's field accesses one after the
 * other give it. Kept small, the deeper keys in another function, so that V8
 * inlines it into the closures that call it.
 */
export function readPath(a: Activation, p: Path): unknown {
  const variable = p.variable;
  const o = readVariable(a, variable.id);
  if (typeof o !== 'object' || o === null) return o === undefined ? variable.missing : variable.mistyped;
  const c = o.constructor;
  if (c !== Object && c !== undefined) return notPlainMap(o, variable);
  const key = p.keys[0]!;
  // ownValue(), written out: this is the hottest line of every condition.
  const v = hasOwnKey.call(o, key) ? (o as Record<string, unknown>)[key] : undefined;
  if (p.keys.length > 1) return readDeeper(v, p);
  if (v === undefined) return p.missing[0];
  // Primitives first: the common values need no further look.
  const t = typeof v;
  return t === 'number' || t === 'string' || t === 'boolean' ? v : checked(v);
}

/** The keys of a path after the first, from `v`, the value of the first. */
function readDeeper(v: unknown, p: Path): unknown {
  const keys = p.keys;
  for (let i = 1; i < keys.length; i++) {
    if (v === undefined) return p.missing[i - 1];
    // Anything but a plain object has no string keys: a primitive, null or a
    // list answers "no such key", others (a Map, a Date…) are cel-js's.
    if (typeof v !== 'object' || v === null) return p.missing[i];
    const c = v.constructor;
    if (c === Array) return p.missing[i];
    if (c !== Object && c !== undefined) throw FALL_BACK;
    v = ownValue(v, keys[i]!);
  }
  if (v === undefined) return p.missing[keys.length - 1];
  return checked(v);
}
