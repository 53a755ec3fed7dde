/**
 * Compiles a type-checked cel-js AST into plain JavaScript closures, for the
 * subset of CEL that policy conditions use. Each closure computes what
 * cel-js's evaluator computes for the same node: the value, or a `CelFault`
 * where cel-js throws. Outside the subset, compilation gives up and the
 * caller keeps cel-js's evaluator for the whole expression.
 *
 * The closures rely on cel-js's type check having run: every node carries its
 * `checkedType`, which decides, as it does in cel-js, whether an operator is
 * resolved at compile time or dispatched on the run-time kinds of its operands.
 */
import { cidrContains, tryParseIpAddress } from '../../net/index.js';
import { CIDR_TYPE, CONDITION_VARIABLES, DURATION_TYPE, IP_TYPE, TIMESTAMP_TYPE } from './environment.js';
import {
  CelCidr,
  celCidr,
  celIp,
  celIsCidr,
  celIsIp,
  CelIp,
  cidrContainsCidr,
  cidrContainsIp,
  cidrIp,
  cidrPrefixLength,
  ipFamily,
} from './net-functions.js';
import { compileRegexLiteral } from './regex-literal.js';
import {
  arithmetic,
  CelFault,
  checked,
  compareValues,
  deepKind,
  dynEquals,
  FALL_BACK,
  hasOwn,
  isEqual,
  isOrdered,
  K_BOOL,
  K_CIDR,
  K_DOUBLE,
  K_DURATION,
  K_INT,
  K_IP,
  K_LIST,
  K_MAP,
  K_NULL,
  K_OTHER,
  K_STRING,
  K_TIMESTAMP,
  K_UINT,
  kindName,
  kindOf,
  negate,
  size,
  toBool,
  toDouble,
  toInt,
  toStringValue,
  toUint,
  type ArithmeticOperator,
  type RelationalOperator,
} from './values.js';

/** The activation as the closures read it. */
export type Activation = Readonly<Record<string, unknown>>;
/** A compiled node: its value or a `CelFault`; throws only `FALL_BACK`. */
export type Closure = (activation: Activation) => unknown;

/** The part of a cel-js type declaration the compiler reads. */
export interface CelType {
  readonly kind: string;
  readonly name: string;
  readonly hasDynType: boolean;
}

/** The part of a cel-js AST node the compiler reads (cel-js's own typings omit `checkedType`). */
export interface CelNode {
  readonly op: string;
  readonly args: unknown;
  readonly checkedType?: CelType;
  readonly meta: { readonly macro?: unknown; readonly alternate?: unknown };
  readonly input: string;
  readonly start: number;
  readonly end: number;
}

/** Compilation outside the closure subset: the reason is for debugging only. */
class Unsupported extends Error {}

function unsupported(what: string): never {
  throw new Unsupported(what);
}

/**
 * Closures for `ast`, or undefined when some node is outside the subset.
 * `evaluateLiteral` evaluates a call with literal arguments (`duration("1h")`)
 * once, at compile time, with cel-js.
 */
export function compileClosure(
  ast: CelNode,
  evaluateLiteral: (node: CelNode) => unknown,
): Closure | undefined {
  try {
    return new ClosureCompiler(evaluateLiteral).compile(ast);
  } catch (e) {
    if (e instanceof Unsupported) return undefined;
    throw e;
  }
}

const VARIABLES: ReadonlySet<string> = new Set(CONDITION_VARIABLES);

/** The kind a statically typed node always has, or undefined when its type has `dyn` in it. */
function staticKind(t: CelType | undefined): number | undefined {
  if (t === undefined) return unsupported('node without a checked type');
  if (t.hasDynType) return undefined;
  if (t.kind === 'list') return K_LIST;
  if (t.kind === 'map') return K_MAP;
  switch (t.name) {
    case 'bool':
      return K_BOOL;
    case 'int':
      return K_INT;
    case 'uint':
      return K_UINT;
    case 'double':
      return K_DOUBLE;
    case 'string':
      return K_STRING;
    case 'null':
      return K_NULL;
    case TIMESTAMP_TYPE:
      return K_TIMESTAMP;
    case DURATION_TYPE:
      return K_DURATION;
    case IP_TYPE:
      return K_IP;
    case CIDR_TYPE:
      return K_CIDR;
    default:
      return K_OTHER;
  }
}

/** A static kind the closures compute with (bytes, types and the like are left to cel-js). */
function knownKind(node: CelNode): number | undefined {
  const k = staticKind(node.checkedType);
  if (k === K_OTHER) unsupported(`values of type ${node.checkedType?.name}`);
  return k;
}

function isNode(x: unknown): x is CelNode {
  return typeof x === 'object' && x !== null && typeof (x as CelNode).op === 'string';
}

// Faults shared by every evaluation.
const NOT_BOOL_OPERAND = new CelFault('logical operator requires bool operands');
const NOT_BOOL_CONDITION = new CelFault('ternary condition must be bool');
const NOT_BOOL_NOT = new CelFault('no such overload: !_ on a value that is not a bool');
const INDEX_OUT_OF_BOUNDS = new CelFault('no such key: list index out of bounds');

function noSuchKey(key: unknown): CelFault {
  return new CelFault(`no such key: ${String(key)}`);
}

function overloadFault(op: string, a: unknown, b: unknown): CelFault {
  return new CelFault(`no such overload: ${kindName(kindOf(a))} ${op} ${kindName(kindOf(b))}`);
}

/** The value behind a constant closure, when it is one. */
const constants = new WeakMap<Closure, { readonly value: unknown }>();

function constant(value: unknown): Closure {
  const f: Closure = () => value;
  constants.set(f, { value });
  return f;
}

/** A map variable: a plain object, or the error cel-js raises for anything else. */
function mapVariable(name: string): Closure {
  const missing = new CelFault(`unknown variable: ${name}`);
  const notMap = new CelFault(`variable ${name} is not a map`);
  return (a) => {
    const v = a[name];
    if (typeof v === 'object' && v !== null) {
      const c = v.constructor;
      if (c === Object || c === undefined) return v;
      // A Map is a valid CEL map that these closures do not read.
      if (c === Map) throw FALL_BACK;
      return notMap;
    }
    return v === undefined ? missing : notMap;
  };
}

function timestampVariable(name: string): Closure {
  const missing = new CelFault(`unknown variable: ${name}`);
  const notTimestamp = new CelFault(`variable ${name} is not a timestamp`);
  return (a) => {
    const v = a[name];
    if (v instanceof Date && v.constructor === Date) {
      if (Number.isNaN(v.getTime())) throw FALL_BACK;
      return v;
    }
    return v === undefined ? missing : notTimestamp;
  };
}

/** Reads `key` of a plain object as cel-js's map field access does: own keys only. */
function mapEntry(o: object, key: unknown, missing: CelFault): unknown {
  if (hasOwn(o, key)) {
    const v = (o as Record<string, unknown>)[key as string];
    if (v !== undefined) return checked(v);
  }
  return missing;
}

/** cel-js's list field access: an int or double index, an error otherwise. */
function listElement(list: readonly unknown[], key: unknown): unknown {
  let pos: number;
  if (typeof key === 'bigint') pos = Number(key);
  else if (typeof key === 'number') pos = key;
  else return noSuchKey(key);
  const v = list[pos];
  return v === undefined ? INDEX_OUT_OF_BOUNDS : checked(v);
}

/** cel-js's `fieldAccess` on a value of dynamic type. */
function dynamicAccess(o: unknown, key: unknown, missing: CelFault | undefined): unknown {
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

/** A method or function overload: the kinds it accepts and what it does. */
interface Overload {
  readonly receiver?: number;
  readonly args: readonly number[];
  readonly call: (...values: never[]) => unknown;
}

function containsIpText(cidr: CelCidr, text: string): unknown {
  const ip = tryParseIpAddress(text);
  if (ip !== undefined) return cidrContains(cidr.cidr, ip);
  try {
    return celIp(text);
  } catch (e) {
    return new CelFault((e as Error).message);
  }
}

function parseOr<T>(parse: (text: string) => T, text: string): T | CelFault {
  try {
    return parse(text);
  } catch (e) {
    return new CelFault((e as Error).message);
  }
}

const TIMESTAMP_GETTERS: Record<string, (d: Date) => number> = {
  getDate: (d) => d.getUTCDate(),
  getDayOfMonth: (d) => d.getUTCDate() - 1,
  getDayOfWeek: (d) => d.getUTCDay(),
  getFullYear: (d) => d.getUTCFullYear(),
  getHours: (d) => d.getUTCHours(),
  getMilliseconds: (d) => d.getUTCMilliseconds(),
  getMinutes: (d) => d.getUTCMinutes(),
  getMonth: (d) => d.getUTCMonth(),
  getSeconds: (d) => d.getUTCSeconds(),
};

const METHODS: Record<string, readonly Overload[]> = {
  startsWith: [{ receiver: K_STRING, args: [K_STRING], call: (s: string, p: string) => s.startsWith(p) }],
  endsWith: [{ receiver: K_STRING, args: [K_STRING], call: (s: string, p: string) => s.endsWith(p) }],
  contains: [{ receiver: K_STRING, args: [K_STRING], call: (s: string, p: string) => s.includes(p) }],
  size: [
    { receiver: K_STRING, args: [], call: (v: string) => size(v, K_STRING) },
    { receiver: K_LIST, args: [], call: (v: unknown[]) => size(v, K_LIST) },
    { receiver: K_MAP, args: [], call: (v: object) => size(v, K_MAP) },
  ],
  containsIP: [
    { receiver: K_CIDR, args: [K_STRING], call: containsIpText },
    { receiver: K_CIDR, args: [K_IP], call: cidrContainsIp },
  ],
  containsCIDR: [
    {
      receiver: K_CIDR,
      args: [K_STRING],
      call: (c: CelCidr, s: string) => {
        const other = parseOr(celCidr, s);
        return other instanceof CelCidr ? cidrContainsCidr(c, other) : other;
      },
    },
    { receiver: K_CIDR, args: [K_CIDR], call: cidrContainsCidr },
  ],
  ip: [{ receiver: K_CIDR, args: [], call: cidrIp }],
  masked: [{ receiver: K_CIDR, args: [], call: (c: CelCidr) => c }],
  prefixLength: [{ receiver: K_CIDR, args: [], call: cidrPrefixLength }],
  family: [{ receiver: K_IP, args: [], call: ipFamily }],
};
for (const [name, getter] of Object.entries(TIMESTAMP_GETTERS)) {
  const overloads: Overload[] = [{ receiver: K_TIMESTAMP, args: [], call: (d: Date) => BigInt(getter(d)) }];
  // cel-js gives durations these four too (whole hours, minutes, …).
  if (name === 'getHours')
    overloads.push({ receiver: K_DURATION, args: [], call: (d: { getHours(): bigint }) => d.getHours() });
  if (name === 'getMinutes')
    overloads.push({ receiver: K_DURATION, args: [], call: (d: { getMinutes(): bigint }) => d.getMinutes() });
  if (name === 'getSeconds')
    overloads.push({ receiver: K_DURATION, args: [], call: (d: { getSeconds(): bigint }) => d.getSeconds() });
  if (name === 'getMilliseconds')
    overloads.push({
      receiver: K_DURATION,
      args: [],
      call: (d: { getMilliseconds(): bigint }) => d.getMilliseconds(),
    });
  METHODS[name] = overloads;
}

const FUNCTIONS: Record<string, readonly Overload[]> = {
  size: [
    { args: [K_STRING], call: (v: string) => size(v, K_STRING) },
    { args: [K_LIST], call: (v: unknown[]) => size(v, K_LIST) },
    { args: [K_MAP], call: (v: object) => size(v, K_MAP) },
  ],
  isIP: [{ args: [K_STRING], call: celIsIp }],
  isCIDR: [{ args: [K_STRING], call: celIsCidr }],
  ip: [{ args: [K_STRING], call: (s: string) => parseOr(celIp, s) }],
  cidr: [{ args: [K_STRING], call: (s: string) => parseOr(celCidr, s) }],
};

/** The conversion functions take any kind and answer a fault for the ones they lack. */
const CONVERSIONS: Record<string, (v: unknown) => unknown> = {
  int: toInt,
  uint: toUint,
  double: toDouble,
  string: toStringValue,
  bool: toBool,
  dyn: (v) => v,
};

/** Calls that cel-js can evaluate once at compile time when their argument is a literal. */
const LITERAL_CALLS: ReadonlySet<string> = new Set(['duration', 'timestamp', 'ip', 'cidr']);

function findOverload(overloads: readonly Overload[], receiver: number | undefined, args: readonly number[]) {
  for (const o of overloads) {
    if (o.receiver !== receiver || o.args.length !== args.length) continue;
    if (o.args.every((k, i) => k === args[i])) return o;
  }
  return undefined;
}

function callFault(name: string, receiver: number | undefined, args: readonly number[]): CelFault {
  const r = receiver === undefined ? '' : `${kindName(receiver)}.`;
  return new CelFault(`found no matching overload for '${r}${name}(${args.map(kindName).join(', ')})'`);
}

class ClosureCompiler {
  constructor(private readonly evaluateLiteral: (node: CelNode) => unknown) {}

  compile(n: CelNode): Closure {
    // A macro other than has() (all, exists, map, …) or a constant (`int`, `google`…) is cel-js's.
    if (n.meta.alternate !== undefined) unsupported('macro or constant');
    switch (n.op) {
      case 'value':
        if (n.args instanceof Uint8Array) unsupported('bytes literal');
        return constant(n.args);
      case 'id':
        return this.variable(n.args as string);
      case '.': {
        const [left, key] = n.args as [CelNode, string];
        return this.access(left, constant(key));
      }
      case '[]': {
        const [left, index] = n.args as [CelNode, CelNode];
        return this.access(left, this.compile(index));
      }
      case '&&':
        return this.and(n.args as [CelNode, CelNode]);
      case '||':
        return this.or(n.args as [CelNode, CelNode]);
      case '!_':
        return this.not(n.args as CelNode);
      case '-_':
        return this.minus(n.args as CelNode);
      case '?:':
        return this.ternary(n.args as [CelNode, CelNode, CelNode]);
      case '==':
      case '!=':
        return this.equality(n.args as [CelNode, CelNode], n.op === '!=');
      case '<':
      case '<=':
      case '>':
      case '>=':
        return this.relational(n.args as [CelNode, CelNode], n.op);
      case 'in':
        return this.membership(n.args as [CelNode, CelNode]);
      case '+':
      case '-':
      case '*':
      case '/':
      case '%':
        return this.arithmetic(n.args as [CelNode, CelNode], n.op);
      case 'list':
        return this.list(n.args as CelNode[]);
      case 'map':
        return this.map(n.args as [CelNode, CelNode][]);
      case 'call':
        return this.call(n);
      case 'rcall':
        return this.method(n);
      default:
        return unsupported(`operator ${n.op}`);
    }
  }

  private variable(name: string): Closure {
    if (!VARIABLES.has(name)) unsupported(`identifier ${name}`);
    return name === 'time' ? timestampVariable(name) : mapVariable(name);
  }

  /** `left.key` and `left[index]`. */
  private access(leftNode: CelNode, index: Closure): Closure {
    const leftType = leftNode.checkedType;
    const left = this.compile(leftNode);
    const key = constants.get(index);
    if (leftType?.kind === 'map') {
      // The left side is a plain object: a map variable or a map literal.
      if (key !== undefined) {
        const k = key.value;
        const missing = noSuchKey(k);
        return (a) => {
          const o = left(a);
          if (o instanceof CelFault) return o;
          return mapEntry(o as object, k, missing);
        };
      }
      return (a) => {
        const o = left(a);
        if (o instanceof CelFault) return o;
        const k = index(a);
        if (k instanceof CelFault) return k;
        return mapEntry(o as object, k, noSuchKey(k));
      };
    }
    if (leftType?.kind === 'list') {
      return (a) => {
        const o = left(a);
        if (o instanceof CelFault) return o;
        const k = index(a);
        if (k instanceof CelFault) return k;
        return listElement(o as unknown[], k);
      };
    }
    if (leftType?.kind !== 'dyn') unsupported(`field of ${leftType?.name}`);
    if (key !== undefined) {
      const k = key.value;
      const missing = noSuchKey(k);
      return (a) => {
        const o = left(a);
        if (o instanceof CelFault) return o;
        return dynamicAccess(o, k, missing);
      };
    }
    return (a) => {
      const o = left(a);
      if (o instanceof CelFault) return o;
      const k = index(a);
      if (k instanceof CelFault) return k;
      return dynamicAccess(o, k, undefined);
    };
  }

  /** cel-js's `has()` macro: a missing last field is false, a missing one before it an error. */
  private has(argument: CelNode): Closure {
    const keys: string[] = [];
    let node = argument;
    while (node.op === '.') {
      const [left, key] = node.args as [CelNode, string];
      keys.unshift(key);
      node = left;
    }
    if (node.op !== 'id') unsupported('has() argument');
    const root = this.variable(node.args as string);
    const faults = keys.map(noSuchKey);
    const last = keys.length - 1;
    return (a) => {
      let o = root(a);
      if (o instanceof CelFault) return o;
      for (let i = 0; i <= last; i++) {
        let next: unknown;
        const k = kindOf(o);
        if (k === K_MAP) {
          const key = keys[i]!;
          next = hasOwn(o as object, key) ? (o as Record<string, unknown>)[key] : undefined;
          if (next !== undefined) checked(next);
        } else if (
          k === K_OTHER ||
          k === K_TIMESTAMP ||
          k === K_DURATION ||
          k === K_UINT ||
          k === K_IP ||
          k === K_CIDR
        ) {
          // Message types look fields up on the object itself in cel-js.
          throw FALL_BACK;
        }
        // Anything else (a list, a string, null…) has no fields.
        if (next === undefined) return i === last ? false : faults[i];
        o = next;
      }
      return true;
    };
  }

  private and([l, r]: [CelNode, CelNode]): Closure {
    const left = this.compile(l);
    const right = this.compile(r);
    // CEL's commutative &&: false wins over an error on either side.
    return (a) => {
      const x = left(a);
      if (x === false) return false;
      const y = right(a);
      if (x === true) return typeof y === 'boolean' || y instanceof CelFault ? y : NOT_BOOL_OPERAND;
      if (y === false) return false;
      return y instanceof CelFault ? y : x instanceof CelFault ? x : NOT_BOOL_OPERAND;
    };
  }

  private or([l, r]: [CelNode, CelNode]): Closure {
    const left = this.compile(l);
    const right = this.compile(r);
    // CEL's commutative ||: true wins over an error on either side.
    return (a) => {
      const x = left(a);
      if (x === true) return true;
      const y = right(a);
      if (x === false) return typeof y === 'boolean' || y instanceof CelFault ? y : NOT_BOOL_OPERAND;
      if (y === true) return true;
      return y instanceof CelFault ? y : x instanceof CelFault ? x : NOT_BOOL_OPERAND;
    };
  }

  private not(node: CelNode): Closure {
    const operand = this.compile(node);
    return (a) => {
      const v = operand(a);
      if (typeof v === 'boolean') return !v;
      return v instanceof CelFault ? v : NOT_BOOL_NOT;
    };
  }

  private minus(node: CelNode): Closure {
    const operand = this.compile(node);
    const c = constants.get(operand);
    if (c !== undefined) return constant(negate(c.value));
    return (a) => negate(operand(a));
  }

  private ternary([c, t, f]: [CelNode, CelNode, CelNode]): Closure {
    const condition = this.compile(c);
    const whenTrue = this.compile(t);
    const whenFalse = this.compile(f);
    return (a) => {
      const v = condition(a);
      if (v === true) return whenTrue(a);
      if (v === false) return whenFalse(a);
      return v instanceof CelFault ? v : NOT_BOOL_CONDITION;
    };
  }

  private equality([l, r]: [CelNode, CelNode], ne: boolean): Closure {
    const lk = knownKind(l);
    const rk = knownKind(r);
    const left = this.compile(l);
    const right = this.compile(r);
    const c = constants.get(right);
    if (lk !== undefined && rk !== undefined) {
      // Resolved at check time: cel-js's overload for two values of one type.
      if (c !== undefined && (rk === K_STRING || rk === K_BOOL || rk === K_INT || rk === K_NULL)) {
        const value = c.value;
        return (a) => {
          const x = left(a);
          if (x instanceof CelFault) return x;
          return (x === value) !== ne;
        };
      }
      return (a) => {
        const x = left(a);
        if (x instanceof CelFault) return x;
        const y = right(a);
        if (y instanceof CelFault) return y;
        return isEqual(x, y) !== ne;
      };
    }
    if (lk === undefined && c !== undefined && (rk === K_STRING || rk === K_BOOL || rk === K_NULL)) {
      // `context.env == "prod"`: a value of another kind is simply unequal.
      const value = c.value;
      return (a) => {
        const x = left(a);
        if (x === value) return !ne;
        if (x instanceof CelFault) return x;
        deepKind(x);
        return ne;
      };
    }
    if (lk === undefined && c !== undefined && rk === K_INT && isSafe(c.value as bigint)) {
      // `context.port == 443`: a JSON double against an int literal.
      const big = c.value as bigint;
      const num = Number(big);
      return (a) => {
        const x = left(a);
        if (typeof x === 'number') return (x === num) !== ne;
        if (x instanceof CelFault) return x;
        return dynEquals(x, big, deepKind(x), K_INT) !== ne;
      };
    }
    return (a) => {
      const x = left(a);
      if (x instanceof CelFault) return x;
      const y = right(a);
      if (y instanceof CelFault) return y;
      return dynEquals(x, y, lk ?? deepKind(x), rk ?? deepKind(y)) !== ne;
    };
  }

  private relational([l, r]: [CelNode, CelNode], op: RelationalOperator): Closure {
    const lk = knownKind(l);
    const rk = knownKind(r);
    const left = this.compile(l);
    const right = this.compile(r);
    if (lk !== undefined && rk !== undefined) {
      if (!isOrdered(lk, rk)) unsupported(`${kindName(lk)} ${op} ${kindName(rk)}`);
      return (a) => {
        const x = left(a);
        if (x instanceof CelFault) return x;
        const y = right(a);
        if (y instanceof CelFault) return y;
        return compareValues(op, x, y);
      };
    }
    const c = constants.get(right);
    if (
      lk === undefined &&
      c !== undefined &&
      (rk === K_DOUBLE || (rk === K_INT && isSafe(c.value as bigint)))
    ) {
      // `context.risk < 30`: a double against a number literal, compared as numbers (exact for safe ints).
      const literal = c.value;
      const num = Number(literal);
      const slow = (x: unknown): unknown => {
        if (x instanceof CelFault) return x;
        const k = kindOf(x);
        if (k === K_OTHER) throw FALL_BACK;
        return isOrdered(k, rk) ? compareValues(op, x, literal) : overloadFault(op, x, literal);
      };
      switch (op) {
        case '<':
          return (a) => {
            const x = left(a);
            return typeof x === 'number' ? x < num : slow(x);
          };
        case '<=':
          return (a) => {
            const x = left(a);
            return typeof x === 'number' ? x <= num : slow(x);
          };
        case '>':
          return (a) => {
            const x = left(a);
            return typeof x === 'number' ? x > num : slow(x);
          };
        case '>=':
          return (a) => {
            const x = left(a);
            return typeof x === 'number' ? x >= num : slow(x);
          };
      }
    }
    return (a) => {
      const x = left(a);
      if (x instanceof CelFault) return x;
      const y = right(a);
      if (y instanceof CelFault) return y;
      const kx = lk ?? kindOf(x);
      const ky = rk ?? kindOf(y);
      if (kx === K_OTHER || ky === K_OTHER) throw FALL_BACK;
      return isOrdered(kx, ky) ? compareValues(op, x, y) : overloadFault(op, x, y);
    };
  }

  private membership([l, r]: [CelNode, CelNode]): Closure {
    const lk = knownKind(l);
    const rk = knownKind(r);
    const left = this.compile(l);
    const right = this.compile(r);
    const c = constants.get(right);
    if (c !== undefined && rk === K_LIST) {
      const fast = literalSet(c.value as unknown[]);
      if (fast !== undefined) {
        const { numbers, strings, list } = fast;
        return (a) => {
          const x = left(a);
          if (typeof x === 'number') return numbers.has(x);
          if (typeof x === 'string') return strings.has(x);
          if (x instanceof CelFault) return x;
          if (lk === undefined) deepKind(x);
          for (const e of list) if (isEqual(x, e)) return true;
          return false;
        };
      }
    }
    return (a) => {
      const x = left(a);
      if (x instanceof CelFault) return x;
      const y = right(a);
      if (y instanceof CelFault) return y;
      if (lk === undefined) deepKind(x);
      const ky = rk ?? deepKind(y);
      if (ky === K_LIST) {
        for (const e of y as unknown[]) if (isEqual(x, e)) return true;
        return false;
      }
      if (ky === K_MAP)
        return hasOwn(y as object, x) ? (y as Record<string, unknown>)[x as string] !== undefined : false;
      return overloadFault('in', x, y);
    };
  }

  private arithmetic([l, r]: [CelNode, CelNode], op: ArithmeticOperator): Closure {
    const lk = knownKind(l);
    const rk = knownKind(r);
    const left = this.compile(l);
    const right = this.compile(r);
    return (a) => {
      const x = left(a);
      if (x instanceof CelFault) return x;
      const y = right(a);
      if (y instanceof CelFault) return y;
      return arithmetic(op, x, y, lk ?? deepKind(x), rk ?? deepKind(y));
    };
  }

  private list(elements: CelNode[]): Closure {
    const items = elements.map((e) => this.compile(e));
    const values = items.map((f) => constants.get(f));
    if (values.every((v) => v !== undefined)) return constant(values.map((v) => v!.value));
    const n = items.length;
    return (a) => {
      const out = new Array<unknown>(n);
      for (let i = 0; i < n; i++) {
        const v = items[i]!(a);
        if (v instanceof CelFault) return v;
        out[i] = v;
      }
      return out;
    };
  }

  private map(entries: [CelNode, CelNode][]): Closure {
    const pairs = entries.map(([k, v]) => [this.compile(k), this.compile(v)] as const);
    return (a) => {
      const out: Record<string, unknown> = {};
      for (const [key, value] of pairs) {
        const k = key(a);
        if (k instanceof CelFault) return k;
        const v = value(a);
        if (v instanceof CelFault) return v;
        // cel-js's safeFromEntries drops these keys rather than touch the prototype.
        if (k === '__proto__' || k === 'constructor' || k === 'prototype') continue;
        out[k as string] = v;
      }
      return out;
    };
  }

  private call(n: CelNode): Closure {
    const [name, argNodes] = n.args as [string, CelNode[]];
    if (n.meta.macro !== undefined) {
      if (name === 'has' && argNodes.length === 1) return this.has(argNodes[0]!);
      unsupported(`macro ${name}`);
    }
    if (LITERAL_CALLS.has(name) && argNodes.length === 1 && argNodes[0]!.op === 'value') {
      return constant(this.evaluateLiteral(n));
    }
    const conversion = CONVERSIONS[name];
    if (conversion !== undefined && argNodes.length === 1) {
      const arg = this.compile(argNodes[0]!);
      knownKind(argNodes[0]!);
      return (a) => {
        const v = arg(a);
        return v instanceof CelFault ? v : conversion(v);
      };
    }
    const overloads = FUNCTIONS[name];
    if (overloads === undefined) return unsupported(`function ${name}`);
    return this.dispatch(name, overloads, undefined, argNodes);
  }

  private method(n: CelNode): Closure {
    const [name, receiverNode, argNodes] = n.args as [string, CelNode, CelNode[]];
    if (n.meta.macro !== undefined) unsupported(`macro ${name}`);
    if (name === 'matches' && argNodes.length === 1) return this.matches(receiverNode, argNodes[0]!);
    const overloads = METHODS[name];
    if (overloads === undefined) return unsupported(`method ${name}`);
    return this.dispatch(name, overloads, receiverNode, argNodes);
  }

  /** A call resolved at compile time when every kind is static, else on the run-time kinds. */
  private dispatch(
    name: string,
    overloads: readonly Overload[],
    receiverNode: CelNode | undefined,
    argNodes: readonly CelNode[],
  ): Closure {
    const nodes = receiverNode === undefined ? argNodes : [receiverNode, ...argNodes];
    const kinds = nodes.map(knownKind);
    const parts = nodes.map((x) => this.compile(x));
    const hasReceiver = receiverNode !== undefined;
    if (kinds.every((k) => k !== undefined)) {
      const ks = kinds as number[];
      const o = hasReceiver
        ? findOverload(overloads, ks[0], ks.slice(1))
        : findOverload(overloads, undefined, ks);
      if (o === undefined) return unsupported(`overload of ${name}`);
      const call = o.call as (...values: unknown[]) => unknown;
      if (parts.length === 1) {
        const [p0] = parts as [Closure];
        return (a) => {
          const v = p0(a);
          return v instanceof CelFault ? v : call(v);
        };
      }
      if (parts.length === 2) {
        const [p0, p1] = parts as [Closure, Closure];
        const c1 = constants.get(p1);
        if (c1 !== undefined) {
          const v1 = c1.value;
          return (a) => {
            const v = p0(a);
            return v instanceof CelFault ? v : call(v, v1);
          };
        }
        return (a) => {
          const v = p0(a);
          if (v instanceof CelFault) return v;
          const w = p1(a);
          return w instanceof CelFault ? w : call(v, w);
        };
      }
      return unsupported(`${name} with ${parts.length} operands`);
    }
    return (a) => {
      const values = new Array<unknown>(parts.length);
      const runtime = new Array<number>(parts.length);
      for (let i = 0; i < parts.length; i++) {
        const v = parts[i]!(a);
        if (v instanceof CelFault) return v;
        values[i] = v;
      }
      for (let i = 0; i < parts.length; i++) runtime[i] = kinds[i] ?? deepKind(values[i]);
      const receiver = hasReceiver ? runtime[0] : undefined;
      const args = hasReceiver ? runtime.slice(1) : runtime;
      const o = findOverload(overloads, receiver, args);
      if (o === undefined) return callFault(name, receiver, args);
      return (o.call as (...v: unknown[]) => unknown)(...values);
    };
  }

  /** `s.matches(re)` with a literal pattern that JavaScript reads as RE2 does; anything else is cel-js's. */
  private matches(receiverNode: CelNode, patternNode: CelNode): Closure {
    if (patternNode.op !== 'value' || typeof patternNode.args !== 'string')
      unsupported('non-literal pattern');
    const re = compileRegexLiteral(patternNode.args);
    if (re === undefined) return unsupported('pattern outside the safe subset');
    knownKind(receiverNode);
    const receiver = this.compile(receiverNode);
    return (a) => {
      const s = receiver(a);
      if (typeof s === 'string') return re.test(s);
      return s instanceof CelFault ? s : callFault('matches', kindOf(s), [K_STRING]);
    };
  }
}

function isSafe(v: bigint): boolean {
  return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= -BigInt(Number.MAX_SAFE_INTEGER);
}

/**
 * Sets for `x in [1, 2, 3]` and `x in ["a", "b"]`: a double is a member when
 * it equals an int of the list (cel-js's `isEqual`), a string when it is one.
 * Undefined for lists of anything else.
 */
function literalSet(list: unknown[]) {
  const numbers = new Set<number>();
  const strings = new Set<string>();
  for (const e of list) {
    if (typeof e === 'bigint' && isSafe(e)) numbers.add(Number(e));
    else if (typeof e === 'string') strings.add(e);
    else return undefined;
  }
  return { numbers, strings, list };
}
