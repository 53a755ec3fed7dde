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
 *
 * Speed comes from doing at compile time what can be: literals are values,
 * `cidr("…")` is parsed, overloads of static types are chosen, and the
 * common shapes (`context.risk < 30`, `source.labels.env == "prod"`,
 * `context.day in [1, 2]`, `cidr(…).containsIP(source.ip)`) are single
 * closures that read their path with one inlinable function call.
 */
import {
  caught,
  dynamicAccess,
  hasOwnCoerced,
  listElement,
  mapEntry,
  noSuchKey,
  ownValue,
  path,
  readMapVariable,
  readPath,
  readTimestampVariable,
  variable,
  type Activation,
  type Path,
  type Variable,
} from './access.js';
import { Duration, UnsignedInt } from '@marcbachmann/cel-js/evaluator';
import { CIDR_TYPE, DURATION_TYPE, IP_TYPE, TIMESTAMP_TYPE } from './environment.js';
import { CelCidr, CelIp } from './net-functions.js';
import {
  callFault,
  containsIpText,
  CONVERSIONS,
  findOverload,
  FUNCTIONS,
  METHODS,
  type Overload,
} from './overloads.js';
import { compileRegexLiteral } from './regex-literal.js';
import {
  arithmetic,
  CelFault,
  checked,
  compareValues,
  deepKind,
  dynEquals,
  FALL_BACK,
  hasOwnKey,
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
  type ArithmeticOperator,
  type RelationalOperator,
} from './values.js';

export type { Activation } from './access.js';
/** A compiled node: its value or a `CelFault`; throws only `FALL_BACK`. */
export type Closure = (activation: Activation) => unknown;

/** The part of a cel-js type declaration the compiler reads. */
interface CelType {
  readonly kind: string;
  readonly name: string;
  readonly hasDynType: boolean;
  /** The element type of a list, the value type of a map. */
  readonly valueType?: CelType;
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
 * `evaluateLiteral` evaluates a call with a literal argument (`duration("1h")`,
 * `cidr("10.0.0.0/8")`) once, at compile time.
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

/** The kind a statically typed node always has, or undefined when its type has `dyn` in it. */
function staticKind(t: CelType | undefined): number | undefined {
  if (t === undefined) return unsupported('node without a checked type');
  if (t.hasDynType) return undefined;
  // An element of `[]` or `{}`: cel-js resolves operators on it statically in
  // ways no run-time kind reproduces (`size(l) == [][0]` picks int == int).
  if (t.kind === 'param') unsupported('a value typed by a type parameter');
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

// Faults shared by every evaluation.
export const NOT_BOOL_OPERAND = new CelFault('logical operator requires bool operands');
const NOT_BOOL_CONDITION = new CelFault('ternary condition must be bool');
const NOT_BOOL_NOT = new CelFault('no such overload: !_ on a value that is not a bool');

function overloadFault(op: string, a: unknown, b: unknown): CelFault {
  return new CelFault(`no such overload: ${kindName(kindOf(a))} ${op} ${kindName(kindOf(b))}`);
}

/** The value behind a constant closure, when it is one. */
const constants = new WeakMap<Closure, { readonly value: unknown }>();

/**
 * What some closures compute, for generated-condition.ts, which writes one
 * function for a whole condition made of them. Each leaf reads one path and
 * answers at once for the values named here; for any other, the generated
 * function calls the leaf's closure.
 */
export type ClosureShape =
  /** `path op n`, when the value is a number. */
  | { readonly kind: 'relational'; readonly path: Path; readonly op: RelationalOperator; readonly n: number }
  /** `path == value` (`!=` when `ne`), when the value is a string, a bool or a number. */
  | {
      readonly kind: 'equals';
      readonly path: Path;
      readonly value: string | boolean | null;
      readonly ne: boolean;
    }
  /** `path in [...]`, when the value is a number (in `numbers`) or a string (in `strings`). */
  | {
      readonly kind: 'in';
      readonly path: Path;
      readonly numbers: ReadonlySet<number>;
      readonly strings: ReadonlySet<string>;
    }
  /** `cidr.containsIP(path)`, when the value is a string. */
  | { readonly kind: 'containsIP'; readonly path: Path; readonly cidr: CelCidr }
  /** A chain of `&&` (`and`) or `||` over `parts`, as `logical` evaluates it. */
  | { readonly kind: 'chain'; readonly and: boolean; readonly parts: readonly Closure[] };

export const closureShapes = new WeakMap<Closure, ClosureShape>();

function shaped(f: Closure, shape: ClosureShape): Closure {
  closureShapes.set(f, shape);
  return f;
}

function constant(value: unknown): Closure {
  const f: Closure = () => value;
  constants.set(f, { value });
  return f;
}

function isSafe(v: bigint): boolean {
  return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= -BigInt(Number.MAX_SAFE_INTEGER);
}

/** A number literal the JavaScript number of which compares exactly like the literal. */
function numberLiteral(
  c: { readonly value: unknown } | undefined,
  kind: number | undefined,
): number | undefined {
  if (c === undefined) return undefined;
  if (kind === K_DOUBLE) return c.value as number;
  if (kind === K_INT && isSafe(c.value as bigint)) return Number(c.value);
  return undefined;
}

const FLIPPED: Readonly<Record<RelationalOperator, RelationalOperator>> = {
  '<': '>',
  '<=': '>=',
  '>': '<',
  '>=': '<=',
};

/** A dynamic value against a number literal, once it is known not to be a double. */
function relationalSlow(op: RelationalOperator, x: unknown, literal: unknown, literalKind: number): unknown {
  if (x instanceof CelFault) return x;
  const k = kindOf(x);
  if (k === K_OTHER) throw FALL_BACK;
  return isOrdered(k, literalKind) ? compareValues(op, x, literal) : overloadFault(op, x, literal);
}

/** `path op n` for a double `n`: one closure per operator keeps each comparison a plain `<`. */
function relationalPath(op: RelationalOperator, p: Path, n: number, literal: unknown, kind: number): Closure {
  switch (op) {
    case '<':
      return (a) => {
        const x = readPath(a, p);
        return typeof x === 'number' ? x < n : relationalSlow(op, x, literal, kind);
      };
    case '<=':
      return (a) => {
        const x = readPath(a, p);
        return typeof x === 'number' ? x <= n : relationalSlow(op, x, literal, kind);
      };
    case '>':
      return (a) => {
        const x = readPath(a, p);
        return typeof x === 'number' ? x > n : relationalSlow(op, x, literal, kind);
      };
    case '>=':
      return (a) => {
        const x = readPath(a, p);
        return typeof x === 'number' ? x >= n : relationalSlow(op, x, literal, kind);
      };
  }
}

/** The same for any closure on the left. */
function relationalLiteral(
  op: RelationalOperator,
  left: Closure,
  n: number,
  literal: unknown,
  kind: number,
): Closure {
  switch (op) {
    case '<':
      return (a) => {
        const x = left(a);
        return typeof x === 'number' ? x < n : relationalSlow(op, x, literal, kind);
      };
    case '<=':
      return (a) => {
        const x = left(a);
        return typeof x === 'number' ? x <= n : relationalSlow(op, x, literal, kind);
      };
    case '>':
      return (a) => {
        const x = left(a);
        return typeof x === 'number' ? x > n : relationalSlow(op, x, literal, kind);
      };
    case '>=':
      return (a) => {
        const x = left(a);
        return typeof x === 'number' ? x >= n : relationalSlow(op, x, literal, kind);
      };
  }
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

/** `==` (`!=` when `ne`) of a dynamic value and a literal it is not identical to. */
function unequal(x: unknown, ne: boolean): unknown {
  const t = typeof x;
  if (t === 'string' || t === 'boolean' || t === 'number') return ne;
  if (x instanceof CelFault) return x;
  // cel-js types the value before comparing, and fails on what it cannot type.
  deepKind(x);
  return ne;
}

/** `x in list` for a value that is neither a number nor a string. */
function inListSlow(x: unknown, list: readonly unknown[], dynamic: boolean): unknown {
  if (x instanceof CelFault) return x;
  if (dynamic) deepKind(x);
  for (const e of list) if (isEqual(x, e)) return true;
  return false;
}

/**
 * cel-js's test that a value is of a static type (its `valueTypeMatchers`),
 * or undefined for `dyn`, which `checked()` covers.
 */
function valueMatcher(t: CelType | undefined): ((v: unknown) => boolean) | undefined {
  if (t === undefined || t.kind === 'dyn' || t.kind === 'param') return undefined;
  const ctor = (v: unknown): unknown => (typeof v === 'object' && v !== null ? v.constructor : undefined);
  switch (t.kind) {
    case 'list':
      return (v) => ctor(v) === Array || ctor(v) === Set;
    case 'map':
      return (v) =>
        typeof v === 'object' && v !== null && [undefined, Object, Map].includes(ctor(v) as never);
    case 'message': {
      const types: Record<string, unknown> = {
        [TIMESTAMP_TYPE]: Date,
        [DURATION_TYPE]: Duration,
        [IP_TYPE]: CelIp,
        [CIDR_TYPE]: CelCidr,
      };
      const expected = types[t.name];
      return expected === undefined ? unsupported(`values of type ${t.name}`) : (v) => ctor(v) === expected;
    }
  }
  switch (t.name) {
    case 'string':
      return (v) => typeof v === 'string';
    case 'int':
      return (v) => typeof v === 'bigint';
    case 'double':
      return (v) => typeof v === 'number';
    case 'bool':
      return (v) => typeof v === 'boolean';
    case 'null':
      return (v) => v === null;
    case 'uint':
      return (v) => ctor(v) === UnsignedInt;
    default:
      return unsupported(`values of type ${t.name}`);
  }
}

/** `f(a)`, or what it throws as an error value, as cel-js's `tryEval` has it for a left operand. */
function attempt(f: Closure, a: Activation): unknown {
  try {
    return f(a);
  } catch (e) {
    return caught(e);
  }
}

/** The operands of a chain of one logical operator, `a && (b && c) && d` as `[a, b, c, d]`. */
function flatten(node: CelNode, op: string, out: CelNode[] = []): CelNode[] {
  if (node.op === op && node.meta.alternate === undefined) {
    const [l, r] = node.args as [CelNode, CelNode];
    flatten(l, op, out);
    flatten(r, op, out);
  } else {
    out.push(node);
  }
  return out;
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
      case '.':
      case '[]':
        return this.access(n);
      case '&&':
      case '||':
        return this.logical(flatten(n, n.op), n.op === '&&');
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

  private declared(name: string): Variable {
    return variable(name) ?? unsupported(`identifier ${name}`);
  }

  private variable(name: string): Closure {
    const v = this.declared(name);
    return name === 'time' ? (a) => readTimestampVariable(a, v) : (a) => readMapVariable(a, v);
  }

  /** `context.a.b` or `source.labels["env"]`: string keys read from a map variable. */
  private pathOf(n: CelNode): Path | undefined {
    const keys: string[] = [];
    let node = n;
    for (;;) {
      if (node.op === '.') {
        const [left, key] = node.args as [CelNode, string];
        keys.push(key);
        node = left;
      } else if (node.op === '[]') {
        const [left, index] = node.args as [CelNode, CelNode];
        if (index.op !== 'value' || typeof index.args !== 'string') return undefined;
        keys.push(index.args);
        node = left;
      } else {
        break;
      }
    }
    if (keys.length === 0 || node.op !== 'id' || node.meta.alternate !== undefined) return undefined;
    if (node.checkedType?.kind !== 'map') return undefined;
    return path(this.declared(node.args as string), keys.reverse());
  }

  /** `left.key` and `left[index]`. */
  private access(n: CelNode): Closure {
    const p = this.pathOf(n);
    if (p !== undefined) return (a) => readPath(a, p);
    const [leftNode, indexNode] = n.args as [CelNode, CelNode | string];
    const leftType = leftNode.checkedType;
    const left = this.compile(leftNode);
    const index = typeof indexNode === 'string' ? constant(indexNode) : this.compile(indexNode);
    const key = constants.get(index);
    if (leftType?.kind === 'map' || leftType?.kind === 'list') {
      // A map or list literal. Its static element type can be wrong: cel-js
      // types `{"a": "", "b": []}` as map<string, string>, then fails on `.b`
      // at run time, when the value does not match; so do these closures.
      const matches = valueMatcher(leftType.valueType);
      const mismatch = new CelFault(`element is not of type ${leftType.valueType?.name}`);
      const read =
        leftType.kind === 'list'
          ? (o: unknown, k: unknown) => listElement(o as unknown[], k)
          : (o: unknown, k: unknown) => mapEntry(o as object, k, noSuchKey(k));
      return (a) => {
        const o = left(a);
        if (o instanceof CelFault) return o;
        const k = index(a);
        if (k instanceof CelFault) return k;
        const v = read(o, k);
        return v instanceof CelFault || matches === undefined || matches(v) ? v : mismatch;
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
          next = ownValue(o as object, keys[i]!);
          if (next !== undefined) checked(next);
        } else if (
          k !== K_LIST &&
          k !== K_STRING &&
          k !== K_NULL &&
          k !== K_BOOL &&
          k !== K_INT &&
          k !== K_DOUBLE
        ) {
          // Timestamps and other message types look fields up on the object itself in cel-js.
          throw FALL_BACK;
        }
        // A list, a string, null… has no fields.
        if (next === undefined) return i === last ? false : faults[i];
        o = next;
      }
      return true;
    };
  }

  /**
   * A chain of `&&` (or `||`) as one closure. CEL's operators are
   * commutative over errors: `false` (`true`) on either side wins over an
   * error there, so the chain answers `false` (`true`) as soon as one operand
   * does, else the first error, else `true` (`false`). As in cel-js, where all
   * operands but the last are a left side, what they throw is an error value;
   * what the last one throws propagates.
   */
  private logical(operands: CelNode[], and: boolean): Closure {
    const parts = operands.map((o) => this.compile(o));
    const decisive = !and;
    if (parts.length === 2) {
      const [left, right] = parts as [Closure, Closure];
      return shaped(
        (a) => {
          const x = attempt(left, a);
          if (x === decisive) return decisive;
          const y = right(a);
          if (y === decisive) return y;
          if (x === !decisive) return typeof y === 'boolean' || y instanceof CelFault ? y : NOT_BOOL_OPERAND;
          return y instanceof CelFault ? y : x instanceof CelFault ? x : NOT_BOOL_OPERAND;
        },
        { kind: 'chain', and, parts },
      );
    }
    const last = parts.length - 1;
    return shaped(
      (a) => {
        let failure: unknown;
        for (let i = 0; i < last; i++) {
          const x = attempt(parts[i]!, a);
          if (x === decisive) return decisive;
          if (x !== !decisive && failure === undefined) failure = x;
        }
        const y = parts[last]!(a);
        if (y === decisive) return y;
        if (failure === undefined)
          return typeof y === 'boolean' || y instanceof CelFault ? y : NOT_BOOL_OPERAND;
        return y instanceof CelFault ? y : failure instanceof CelFault ? failure : NOT_BOOL_OPERAND;
      },
      { kind: 'chain', and, parts },
    );
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
    let lk = knownKind(l);
    let rk = knownKind(r);
    let left = this.compile(l);
    let right = this.compile(r);
    // `==` is symmetric: keep a literal on the right.
    if (constants.has(left) && !constants.has(right)) {
      [l, r, lk, rk, left, right] = [r, l, rk, lk, right, left];
    }
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
      // `source.labels.env == "prod"`: a value of another kind is simply unequal.
      const value = c.value;
      const p = this.pathOf(l);
      if (p !== undefined) {
        return shaped(
          (a) => {
            const x = readPath(a, p);
            return x === value ? !ne : unequal(x, ne);
          },
          { kind: 'equals', path: p, value: value as string | boolean | null, ne },
        );
      }
      return (a) => {
        const x = left(a);
        return x === value ? !ne : unequal(x, ne);
      };
    }
    const num = lk === undefined && rk === K_INT ? numberLiteral(c, rk) : undefined;
    if (num !== undefined) {
      // `destination.port == 443`: a JSON double against an int literal.
      const big = c!.value as bigint;
      const p = this.pathOf(l);
      const read: Closure = p === undefined ? left : (a) => readPath(a, p);
      return (a) => {
        const x = read(a);
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
    let lk = knownKind(l);
    let rk = knownKind(r);
    let left = this.compile(l);
    let right = this.compile(r);
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
    // `9 <= context.hour` is `context.hour >= 9`.
    if (constants.has(left) && !constants.has(right)) {
      [l, r, lk, rk, left, right] = [r, l, rk, lk, right, left];
      op = FLIPPED[op];
    }
    const c = constants.get(right);
    const n = lk === undefined ? numberLiteral(c, rk) : undefined;
    if (n !== undefined) {
      // `context.risk < 30`: a JSON double against a number literal, compared as numbers (exact for safe ints).
      const p = this.pathOf(l);
      if (p !== undefined)
        return shaped(relationalPath(op, p, n, c!.value, rk!), { kind: 'relational', path: p, op, n });
      return relationalLiteral(op, left, n, c!.value, rk!);
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
    const set = c !== undefined && rk === K_LIST ? literalSet(c.value as unknown[]) : undefined;
    if (set !== undefined) {
      const { numbers, strings, list } = set;
      const dynamic = lk === undefined;
      const p = this.pathOf(l);
      if (p !== undefined) {
        return shaped(
          (a) => {
            const x = readPath(a, p);
            if (typeof x === 'number') return numbers.has(x);
            if (typeof x === 'string') return strings.has(x);
            return inListSlow(x, list, dynamic);
          },
          { kind: 'in', path: p, numbers, strings },
        );
      }
      return (a) => {
        const x = left(a);
        if (typeof x === 'number') return numbers.has(x);
        if (typeof x === 'string') return strings.has(x);
        return inListSlow(x, list, dynamic);
      };
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
      if (ky === K_MAP) {
        const own = typeof x === 'string' ? hasOwnKey.call(y as object, x) : hasOwnCoerced(y as object, x);
        return own === true ? (y as Record<string, unknown>)[x as string] !== undefined : own;
      }
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
        try {
          out[k as string] = v;
        } catch (e) {
          return caught(e);
        }
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
    if (argNodes.length === 1 && argNodes[0]!.op === 'value' && LITERAL_CALLS.has(name)) {
      return constant(this.evaluateLiteral(n));
    }
    const conversion = CONVERSIONS[name];
    if (conversion !== undefined && argNodes.length === 1) {
      knownKind(argNodes[0]!);
      const arg = this.compile(argNodes[0]!);
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
    if (name === 'containsIP' && argNodes.length === 1) {
      const fused = this.containsIp(receiverNode, argNodes[0]!);
      if (fused !== undefined) return fused;
    }
    const overloads = METHODS[name];
    if (overloads === undefined) return unsupported(`method ${name}`);
    return this.dispatch(name, overloads, receiverNode, argNodes);
  }

  /** `cidr("10.0.0.0/8").containsIP(source.ip)`: the literal CIDR parsed once, the address read in one call. */
  private containsIp(receiverNode: CelNode, argNode: CelNode): Closure | undefined {
    const receiver = constants.get(this.compile(receiverNode));
    const p = this.pathOf(argNode);
    if (receiver === undefined || p === undefined || knownKind(receiverNode) !== K_CIDR) return undefined;
    const cidr = receiver.value as CelCidr;
    const overloads = METHODS.containsIP!;
    return shaped(
      (a) => {
        const s = readPath(a, p);
        if (typeof s === 'string') return containsIpText(cidr, s);
        if (s instanceof CelFault) return s;
        const k = deepKind(s);
        const o = findOverload(overloads, K_CIDR, [k]);
        return o === undefined
          ? callFault('containsIP', K_CIDR, [k])
          : (o.call as (c: CelCidr, v: unknown) => unknown)(cidr, s);
      },
      { kind: 'containsIP', path: p, cidr },
    );
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
      for (let i = 0; i < parts.length; i++) {
        const v = parts[i]!(a);
        if (v instanceof CelFault) return v;
        values[i] = v;
      }
      const runtime = values.map((v, i) => kinds[i] ?? deepKind(v));
      const receiver = hasReceiver ? runtime[0] : undefined;
      const args = hasReceiver ? runtime.slice(1) : runtime;
      const o = findOverload(overloads, receiver, args);
      if (o === undefined) return callFault(name, receiver, args);
      return (o.call as (...v: unknown[]) => unknown)(...values);
    };
  }

  /** `s.matches(re)` with a literal pattern in the portable subset; anything else is cel-js's. */
  private matches(receiverNode: CelNode, patternNode: CelNode): Closure {
    if (patternNode.op !== 'value' || typeof patternNode.args !== 'string')
      unsupported('non-literal pattern');
    const re = compileRegexLiteral(patternNode.args);
    if (re === undefined) return unsupported('pattern outside the portable subset');
    knownKind(receiverNode);
    const receiver = this.compile(receiverNode);
    return (a) => {
      const s = receiver(a);
      if (typeof s === 'string') return re.test(s);
      return s instanceof CelFault ? s : callFault('matches', kindOf(s), [K_STRING]);
    };
  }
}

/** Calls that are evaluated once, at compile time, when their argument is a literal. */
const LITERAL_CALLS: ReadonlySet<string> = new Set(['duration', 'timestamp', 'ip', 'cidr']);
