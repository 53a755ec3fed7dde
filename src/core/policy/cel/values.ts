/**
 * CEL values as the closures see them, and the operations on them, each a
 * transcription of what cel-js 8 does for the same values (the comments name
 * the cel-js function mirrored). Values are cel-js's own: `bigint` for int,
 * `number` for double, `UnsignedInt`, `Date`, `Duration`, arrays, plain
 * objects, and the `CelIp`/`CelCidr` of net-functions.ts.
 *
 * Errors are returned, not thrown: a `CelFault` is a value that every
 * operation passes on. The only thing ever thrown is {@link FALL_BACK}, for a
 * value outside this model (a `Map`, a `Uint8Array`, an invalid `Date`, a
 * class instance…): the caller then asks cel-js, which knows what to do.
 */
import { Duration, UnsignedInt } from '@marcbachmann/cel-js/evaluator';
import { CelCidr, CelIp, cidrEquals, cidrToString, ipEquals, ipToString } from './net-functions.js';
import type { ConditionError } from './condition.js';

/** An evaluation error as a value. Immutable, so one instance may serve every evaluation. */
export class CelFault implements ConditionError {
  readonly error: string;
  constructor(error: string) {
    this.error = error;
    Object.freeze(this);
  }
}

/**
 * The first line of what a thrown value says, lower-cased in Gatehouse's
 * voice (cel-js's `summary` when there is one, never its highlighted source).
 * Never throws, whatever was thrown.
 */
export function thrownMessage(e: unknown): string {
  try {
    const summary = (e as { summary?: unknown } | null)?.summary;
    const text = typeof summary === 'string' ? summary : e instanceof Error ? e.message : String(e);
    const line = text.split('\n')[0] ?? '';
    return line.length > 1 && /[a-z]/.test(line[1]!)
      ? line[0]!.toLowerCase() + line.slice(1)
      : line || 'evaluation failed';
  } catch {
    return 'evaluation failed';
  }
}

/** Thrown to hand an evaluation over to cel-js; see the module comment. */
export const FALL_BACK: unique symbol = Symbol('fall back to cel-js');

// Value kinds: what cel-js's `debugType` tells apart, as small integers.
export const K_OTHER = 0;
export const K_BOOL = 1;
export const K_INT = 2;
export const K_UINT = 3;
export const K_DOUBLE = 4;
export const K_STRING = 5;
export const K_NULL = 6;
export const K_LIST = 7;
export const K_MAP = 8;
export const K_TIMESTAMP = 9;
export const K_DURATION = 10;
export const K_IP = 11;
export const K_CIDR = 12;

const KIND_NAMES = [
  'unsupported value',
  'bool',
  'int',
  'uint',
  'double',
  'string',
  'null',
  'list',
  'map',
  'timestamp',
  'duration',
  'net.IP',
  'net.CIDR',
];

export function kindName(kind: number): string {
  return KIND_NAMES[kind] ?? 'unsupported value';
}

/**
 * The kind of `v`, reading `v.constructor` exactly as cel-js's `debugType`
 * does (so an object with an own `constructor` key is as unsupported here as
 * there). An invalid `Date` is `K_OTHER`: the closures never compute with it.
 */
export function kindOf(v: unknown): number {
  switch (typeof v) {
    case 'string':
      return K_STRING;
    case 'number':
      return K_DOUBLE;
    case 'boolean':
      return K_BOOL;
    case 'bigint':
      return K_INT;
    case 'object': {
      if (v === null) return K_NULL;
      const c = (v as { constructor?: unknown }).constructor;
      if (c === Object || c === undefined) return K_MAP;
      if (c === Array) return K_LIST;
      if (c === Date) return v instanceof Date && !Number.isNaN(v.getTime()) ? K_TIMESTAMP : K_OTHER;
      if (c === UnsignedInt) return K_UINT;
      if (c === Duration) return K_DURATION;
      if (c === CelIp) return K_IP;
      if (c === CelCidr) return K_CIDR;
      return K_OTHER;
    }
    default:
      return K_OTHER;
  }
}

/**
 * `v` itself when cel-js would accept it as the value of a map entry or list
 * element (its `dyn` matcher, then `debugType`); falls back otherwise.
 */
export function checked(v: unknown): unknown {
  // Primitives first: the hot path reads numbers, strings and booleans.
  const t = typeof v;
  if (t === 'string' || t === 'number' || t === 'boolean' || t === 'bigint') return v;
  if (kindOf(v) === K_OTHER) throw FALL_BACK;
  return v;
}

/**
 * The kind of a value whose static type is dynamic. cel-js reads the type of
 * a list or a map from its first element, recursively (`debugTypeDeep`), and
 * fails on an unsupported value there: so does this, by falling back.
 */
export function deepKind(v: unknown): number {
  const kind = kindOf(v);
  if (kind === K_OTHER) throw FALL_BACK;
  let k = kind;
  let x = v;
  while (k === K_LIST || k === K_MAP) {
    let first: unknown;
    if (k === K_LIST) {
      first = (x as unknown[])[0];
      if (first === undefined) break;
    } else {
      let found = false;
      // for…in, not Object.keys: cel-js's `#firstMapElement` sees inherited enumerable keys too.
      for (const key in x as object) {
        first = (x as Record<string, unknown>)[key];
        found = true;
        break;
      }
      if (!found) break;
    }
    k = kindOf(first);
    if (k === K_OTHER) throw FALL_BACK;
    x = first;
  }
  return kind;
}

/**
 * `Object.prototype.hasOwnProperty`, called as `hasOwnKey.call(o, key)`: it
 * coerces `key` as cel-js's `Object.hasOwn` calls do, and V8 runs it faster.
 */
export const hasOwnKey = Object.prototype.hasOwnProperty as (this: object, key: unknown) => boolean;

// ---------------------------------------------------------------------------
// Equality

/**
 * cel-js's `isEqual`: equality of list elements, map values and `in`
 * members. Unlike `==` between dynamic values, an int equals a double here but
 * never a uint.
 */
export function isEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  switch (typeof a) {
    case 'undefined':
    case 'string':
    case 'boolean':
      return false;
    case 'bigint':
      // Loose equality compares a bigint and a double exactly, as cel-js does.
      return typeof b === 'number' ? (a as unknown as number) == b : false;
    case 'number':
      return typeof b === 'bigint' ? a == (b as unknown as number) : false;
    case 'object': {
      if (typeof b !== 'object') return false;
      const ka = kindOf(a);
      const kb = kindOf(b);
      if (ka === K_OTHER || kb === K_OTHER) throw FALL_BACK;
      return ka === kb && sameKindEquals(ka, a, b);
    }
  }
  throw FALL_BACK;
}

/** The `==` overload cel-js registers for two values of one kind. */
function sameKindEquals(kind: number, a: unknown, b: unknown): boolean {
  switch (kind) {
    case K_LIST:
      return listEquals(a as unknown[], b as unknown[]);
    case K_MAP:
      return mapEquals(a as Record<string, unknown>, b as Record<string, unknown>);
    case K_TIMESTAMP:
      return (a as Date).getTime() === (b as Date).getTime();
    case K_DURATION:
      return (
        (a as Duration).seconds === (b as Duration).seconds && (a as Duration).nanos === (b as Duration).nanos
      );
    case K_UINT:
      return (a as UnsignedInt).valueOf() === (b as UnsignedInt).valueOf();
    case K_IP:
      return ipEquals(a as CelIp, b as CelIp);
    case K_CIDR:
      return cidrEquals(a as CelCidr, b as CelCidr);
    default:
      return a === b;
  }
}

function listEquals(a: unknown[], b: unknown[]): boolean {
  if (a === b) return true;
  const n = a.length;
  if (n !== b.length) return false;
  for (let i = 0; i < n; i++) if (!isEqual(a[i], b[i])) return false;
  return true;
}

function mapEquals(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  if (a === b) return true;
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  // `in`, not hasOwn: cel-js's map overload looks keys up that way.
  for (const key of keys) if (!(key in b && isEqual(a[key], b[key]))) return false;
  return true;
}

/**
 * `==` resolved at run time (at least one side statically `dyn`), given both
 * kinds from {@link deepKind}. cel-js registers int == double, int == uint
 * and uint == double for such operands only, and answers any other pair of
 * different kinds with identity, that is `false`.
 */
export function dynEquals(a: unknown, b: unknown, ka: number, kb: number): boolean {
  if (ka === kb) return sameKindEquals(ka, a, b);
  switch (ka) {
    case K_INT:
      if (kb === K_DOUBLE) return (a as number) == (b as number);
      if (kb === K_UINT) return (a as bigint) == (b as UnsignedInt).valueOf();
      return false;
    case K_DOUBLE:
      if (kb === K_INT) return (a as number) == (b as number);
      if (kb === K_UINT) return (b as UnsignedInt).valueOf() == (a as unknown as bigint);
      return false;
    case K_UINT:
      if (kb === K_INT) return (a as UnsignedInt).valueOf() == (b as bigint);
      if (kb === K_DOUBLE) return (a as UnsignedInt).valueOf() == (b as unknown as bigint);
      return false;
    default:
      return false;
  }
}

// ---------------------------------------------------------------------------
// Ordering

/** Whether cel-js has `<` (and `<=`, `>`, `>=`) for these kinds: any two numbers, or two of a kind. */
export function isOrdered(ka: number, kb: number): boolean {
  if (ka === K_INT || ka === K_UINT || ka === K_DOUBLE)
    return kb === K_INT || kb === K_UINT || kb === K_DOUBLE;
  return ka === kb && (ka === K_BOOL || ka === K_STRING || ka === K_TIMESTAMP || ka === K_DURATION);
}

export type RelationalOperator = '<' | '<=' | '>' | '>=';

/**
 * `a op b` with JavaScript's operator, as cel-js's overloads do: numbers of
 * any kinds compare exactly, strings by UTF-16 code units, timestamps and
 * durations by their `valueOf()`.
 */
export function compareValues(op: RelationalOperator, a: unknown, b: unknown): boolean {
  const x = a as number;
  const y = b as number;
  switch (op) {
    case '<':
      return x < y;
    case '<=':
      return x <= y;
    case '>':
      return x > y;
    case '>=':
      return x >= y;
  }
}

// ---------------------------------------------------------------------------
// Arithmetic

const MIN_INT = -9223372036854775808n;
const MAX_INT = 9223372036854775807n;
const MAX_UINT = 18446744073709551615n;

export type ArithmeticOperator = '+' | '-' | '*' | '/' | '%';

const INTEGER_OVERFLOW = new CelFault('integer overflow');
const UINT_OVERFLOW = new CelFault('unsigned integer overflow');
const DIVISION_BY_ZERO = new CelFault('division by zero');
const MODULO_BY_ZERO = new CelFault('modulo by zero');

function int(v: bigint): bigint | CelFault {
  return v <= MAX_INT && v >= MIN_INT ? v : INTEGER_OVERFLOW;
}

function uint(v: bigint): UnsignedInt | CelFault {
  return v >= 0n && v <= MAX_UINT ? new UnsignedInt(v) : UINT_OVERFLOW;
}

/**
 * `a op b` for the overloads cel-js registers (there is no int + double:
 * mixing numeric kinds in arithmetic is an error), or a fault.
 */
export function arithmetic(op: ArithmeticOperator, a: unknown, b: unknown, ka: number, kb: number): unknown {
  if (ka === kb) {
    switch (ka) {
      case K_INT: {
        const x = a as bigint;
        const y = b as bigint;
        switch (op) {
          case '+':
            return int(x + y);
          case '-':
            return int(x - y);
          case '*':
            return int(x * y);
          // cel-js checks the divisor only, so MIN_INT / -1 overflows silently there too.
          case '/':
            return y === 0n ? DIVISION_BY_ZERO : x / y;
          case '%':
            return y === 0n ? MODULO_BY_ZERO : x % y;
        }
        break;
      }
      case K_UINT: {
        const x = (a as UnsignedInt).valueOf();
        const y = (b as UnsignedInt).valueOf();
        switch (op) {
          case '+':
            return uint(x + y);
          case '-':
            return uint(x - y);
          case '*':
            return uint(x * y);
          case '/':
            return y === 0n ? DIVISION_BY_ZERO : uint(x / y);
          case '%':
            return y === 0n ? MODULO_BY_ZERO : uint(x % y);
        }
        break;
      }
      case K_DOUBLE: {
        const x = a as number;
        const y = b as number;
        switch (op) {
          case '+':
            return x + y;
          case '-':
            return x - y;
          case '*':
            return x * y;
          case '/':
            return x / y;
        }
        break;
      }
      case K_STRING:
        if (op === '+') return (a as string) + (b as string);
        break;
      case K_LIST:
        if (op === '+') return [...(a as unknown[]), ...(b as unknown[])];
        break;
      case K_DURATION:
        if (op === '+') return (a as Duration).addDuration(b as Duration);
        if (op === '-') return (a as Duration).subtractDuration(b as Duration);
        break;
      case K_TIMESTAMP:
        if (op === '-') return Duration.fromMilliseconds((a as Date).getTime() - (b as Date).getTime());
        break;
    }
  } else if (ka === K_TIMESTAMP && kb === K_DURATION) {
    if (op === '+') return (b as Duration).extendTimestamp(a as Date);
    if (op === '-') return (b as Duration).subtractTimestamp(a as Date);
  } else if (ka === K_DURATION && kb === K_TIMESTAMP && op === '+') {
    return (a as Duration).extendTimestamp(b as Date);
  }
  return new CelFault(`no such overload: ${kindName(ka)} ${op} ${kindName(kb)}`);
}

/** Unary minus: int and double only (cel-js does not check int overflow here). */
export function negate(v: unknown): unknown {
  if (typeof v === 'bigint') return -v;
  if (typeof v === 'number') return -v;
  return v instanceof CelFault ? v : new CelFault(`no such overload: -${kindName(kindOf(v))}`);
}

// ---------------------------------------------------------------------------
// Functions

/** Unicode code points, as cel-js's `size(string)` counts them (a lone surrogate counts one). */
function codePointCount(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length - 1; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n--;
        i++;
      }
    }
  }
  return n;
}

/** `size(v)` for a value of kind `k`. */
export function size(v: unknown, k: number): unknown {
  switch (k) {
    case K_STRING:
      return BigInt(codePointCount(v as string));
    case K_LIST:
      return BigInt((v as unknown[]).length);
    case K_MAP:
      return BigInt(Object.keys(v as object).length);
    default:
      return new CelFault(`found no matching overload for 'size(${kindName(k)})'`);
  }
}

function noOverload(name: string, v: unknown): CelFault {
  return new CelFault(`found no matching overload for '${name}(${kindName(kindOf(v))})'`);
}

const INT_CONVERSION = new CelFault('int() type error: cannot convert to int');
const INT_OVERFLOW = new CelFault('int() type error: integer overflow');
const UINT_CONVERSION = new CelFault('uint() type error: cannot convert to uint');
const UINT_DOUBLE_OVERFLOW = new CelFault('uint() type error: unsigned integer overflow');
const DOUBLE_CONVERSION = new CelFault('double() type error: cannot convert to double');

/** Parses like `BigInt(text)` without throwing. */
function bigintOf(text: string): bigint | undefined {
  try {
    return BigInt(text);
  } catch {
    return undefined;
  }
}

/** `int(v)`: cel-js's `int(int)`, `int(double)` (truncating, unbounded) and `int(string)`. */
export function toInt(v: unknown): unknown {
  switch (typeof v) {
    case 'bigint':
      return v;
    case 'number':
      return Number.isFinite(v) ? BigInt(Math.trunc(v)) : INT_OVERFLOW;
    case 'string': {
      // cel-js's checks, kept as they are: `BigInt('')` is 0 and `0X1F` passes.
      if (v !== v.trim() || v.length > 20 || v.includes('0x')) return INT_CONVERSION;
      const n = bigintOf(v);
      return n !== undefined && n <= MAX_INT && n >= MIN_INT ? n : INT_CONVERSION;
    }
    default:
      return v instanceof CelFault ? v : noOverload('int', v);
  }
}

/** `uint(v)`: cel-js's `uint(uint)`, `uint(int)`, `uint(double)` and `uint(string)`. */
export function toUint(v: unknown): unknown {
  switch (typeof v) {
    case 'bigint':
      return v >= 0n && v <= MAX_UINT ? new UnsignedInt(v) : UINT_CONVERSION;
    case 'number': {
      if (!Number.isFinite(v)) return UINT_DOUBLE_OVERFLOW;
      const n = BigInt(Math.trunc(v));
      return n >= 0n && n <= MAX_UINT ? new UnsignedInt(n) : UINT_DOUBLE_OVERFLOW;
    }
    case 'string': {
      if (v !== v.trim() || v.length > 20 || v.includes('0x')) return UINT_CONVERSION;
      const n = bigintOf(v);
      return n !== undefined && n >= 0n && n <= MAX_UINT ? new UnsignedInt(n) : UINT_CONVERSION;
    }
    default:
      if (kindOf(v) === K_UINT) return v;
      return v instanceof CelFault ? v : noOverload('uint', v);
  }
}

/** `double(v)`: cel-js's `double(double)`, `double(int)`, `double(uint)` and `double(string)`. */
export function toDouble(v: unknown): unknown {
  switch (typeof v) {
    case 'number':
      return v;
    case 'bigint':
      return Number(v);
    case 'string': {
      if (!v || v !== v.trim()) return DOUBLE_CONVERSION;
      switch (v.toLowerCase()) {
        case 'inf':
        case '+inf':
        case 'infinity':
        case '+infinity':
          return Number.POSITIVE_INFINITY;
        case '-inf':
        case '-infinity':
          return Number.NEGATIVE_INFINITY;
        case 'nan':
          return Number.NaN;
        default: {
          const parsed = Number(v);
          return Number.isNaN(parsed) ? DOUBLE_CONVERSION : parsed;
        }
      }
    }
    default:
      if (kindOf(v) === K_UINT) return Number((v as UnsignedInt).valueOf());
      return v instanceof CelFault ? v : noOverload('double', v);
  }
}

/** `string(v)`: cel-js's overloads for string, bool, int, uint, double, plus net.IP and net.CIDR. */
export function toStringValue(v: unknown): unknown {
  switch (typeof v) {
    case 'string':
      return v;
    case 'boolean':
    case 'bigint':
      return `${v}`;
    case 'number':
      if (v === Number.POSITIVE_INFINITY) return '+Inf';
      if (v === Number.NEGATIVE_INFINITY) return '-Inf';
      return `${v}`;
    default:
      switch (kindOf(v)) {
        case K_UINT:
          return `${(v as UnsignedInt).valueOf()}`;
        case K_IP:
          return ipToString(v as CelIp);
        case K_CIDR:
          return cidrToString(v as CelCidr);
        case K_OTHER:
          if (v instanceof CelFault) return v;
          // bytes and the like: cel-js knows them, the closures do not.
          throw FALL_BACK;
        default:
          return noOverload('string', v);
      }
  }
}

const BOOL_CONVERSION = (v: string): CelFault =>
  new CelFault(`bool() conversion error: invalid string value "${v}"`);

/** `bool(v)`: cel-js's `bool(bool)` and `bool(string)`. */
export function toBool(v: unknown): unknown {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string') {
    switch (v) {
      case '1':
      case 't':
      case 'true':
      case 'TRUE':
      case 'True':
        return true;
      case '0':
      case 'f':
      case 'false':
      case 'FALSE':
      case 'False':
        return false;
      default:
        return BOOL_CONVERSION(v);
    }
  }
  return v instanceof CelFault ? v : noOverload('bool', v);
}
