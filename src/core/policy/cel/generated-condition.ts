/**
 * One generated JavaScript function for a whole condition of the common
 * shapes: a chain of `&&` (or of `||`) over comparisons of one path with a
 * literal, or one such comparison (`context.mtls == true && context.risk < 50`).
 *
 * Why: the closures of closure-compiler.ts share their code across every
 * condition of a policy, so V8's caches at each read and call in them see
 * every key and every closure, and give up on them (megamorphic). On the
 * large peer workload, with 254 distinct conditions, a condition so took about
 * 200 ns, against 20–80 ns when one condition runs alone. A function of its
 * own per condition keeps its reads and comparisons specialized.
 *
 * The same answers as the closures: a leaf answers by itself only when each
 * object on its path is a plain one that has the next key as its own
 * property and the path's value is a primitive of the kind its shape names, exactly where its
 * closure answers with one comparison; for any other value (absent, of
 * another kind, an object that is not a plain map) the function calls the
 * leaf's closure, which reads the path again and decides. The chain is
 * `logical`'s, written out: the first decisive operand wins, else the first
 * error, with what operands but the last throw turned into errors.
 *
 * The generated text holds only variable names, identifier keys, number,
 * bool and null literals and JSON string literals; sets and CIDRs are passed
 * in as values.
 */
import { caught } from './access.js';
import { closureShapes, NOT_BOOL_OPERAND, type Closure, type ClosureShape } from './closure-compiler.js';
import { containsIpText } from './overloads.js';
import { CelFault, hasOwnKey } from './values.js';

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Longer chains are rare and gain little; the closures serve them. */
const MAX_LEAVES = 16;
/** `context.a.b.c.d` at most: deeper paths are rare. */
const MAX_PATH_KEYS = 4;

/** A generated function for the condition whose compiled root is `root`, or undefined when its shape is not one of these. */
export function generateCondition(root: Closure): Closure | undefined {
  const shape = closureShapes.get(root);
  if (shape === undefined) return undefined;
  const leaves = shape.kind === 'chain' ? shape.parts : [root];
  if (leaves.length > MAX_LEAVES) return undefined;
  const values: unknown[] = [];
  const expressions: string[] = [];
  for (let i = 0; i < leaves.length; i++) {
    const text = leafText(closureShapes.get(leaves[i]!), i, values);
    if (text === undefined) return undefined;
    expressions.push(text);
  }
  const body = shape.kind === 'chain' ? chainText(expressions, shape.and) : `return ${expressions[0]!};`;
  const constants = values.map((_, i) => `V${i} = V[${i}]`);
  const text =
    `"use strict";${constants.length ? ` const ${constants.join(', ')};` : ''}\n` +
    `return (a) => {\n  let o, c, x;\n${body}\n};`;
  let factory: (...args: unknown[]) => Closure;
  try {
    factory = new Function('L', 'V', 'hasOwn', 'caught', 'CelFault', 'NOT_BOOL', 'containsIpText', text) as (
      ...args: unknown[]
    ) => Closure;
  } catch {
    // Code generation refused (`--disallow-code-generation-from-strings`): the closures serve.
    return undefined;
  }
  return factory(leaves, values, hasOwnKey, caught, CelFault, NOT_BOOL_OPERAND, containsIpText);
}

/** The expression for leaf `i`: its answer from the path's value, or its closure's. */
function leafText(shape: ClosureShape | undefined, i: number, values: unknown[]): string | undefined {
  if (shape === undefined || shape.kind === 'chain') return undefined;
  const { variable, keys } = shape.path;
  if (keys.length > MAX_PATH_KEYS || !IDENTIFIER.test(variable.name)) return undefined;
  if (keys.some((k) => !IDENTIFIER.test(k) || k === '__proto__')) return undefined;
  // readPath(), for plain objects that have each key as their own property, down to the last.
  const plain = `typeof o === 'object' && o !== null && ((c = o.constructor) === Object || c === undefined)`;
  const steps = keys.map((k, j) =>
    j < keys.length - 1
      ? `${plain} && hasOwn.call(o, ${JSON.stringify(k)}) && ((o = o.${k}), true)`
      : `${plain} && hasOwn.call(o, ${JSON.stringify(k)})`,
  );
  const read = `((o = a.${variable.name}), ${steps.join(' && ')} && `;
  const key = keys.at(-1)!;
  const x = `(x = o.${key})`;
  const closure = `L[${i}](a)`;
  switch (shape.kind) {
    case 'relational':
      if (!Number.isFinite(shape.n)) return undefined;
      return `(${read}typeof ${x} === 'number') ? x ${shape.op} (${String(shape.n)}) : ${closure})`;
    case 'equals': {
      const v = shape.value;
      const literal =
        v === null || typeof v === 'boolean'
          ? String(v)
          : typeof v === 'string'
            ? JSON.stringify(v)
            : undefined;
      if (literal === undefined) return undefined;
      return (
        `(${read}(typeof ${x} === 'string' || typeof x === 'boolean' || typeof x === 'number')) ` +
        `? (x === ${literal}) !== ${String(shape.ne)} : ${closure})`
      );
    }
    case 'in': {
      const at = values.push(shape.numbers, shape.strings) - 2;
      return (
        `(${read}(typeof ${x} === 'number' || typeof x === 'string')) ` +
        `? (typeof x === 'number' ? V${at}.has(x) : V${at + 1}.has(x)) : ${closure})`
      );
    }
    case 'containsIP': {
      const at = values.push(shape.cidr) - 1;
      return `(${read}typeof ${x} === 'string') ? containsIpText(V${at}, x) : ${closure})`;
    }
  }
}

/** `logical()` over the leaves' expressions. */
function chainText(expressions: readonly string[], and: boolean): string {
  const decisive = String(!and);
  const other = String(and);
  const last = expressions.length - 1;
  const lines = ['  let failure;'];
  for (let i = 0; i < last; i++) {
    lines.push(
      `  let r${i};`,
      `  try { r${i} = ${expressions[i]!}; } catch (e) { r${i} = caught(e); }`,
      `  if (r${i} === ${decisive}) return ${decisive};`,
      `  if (r${i} !== ${other} && failure === undefined) failure = r${i};`,
    );
  }
  lines.push(
    `  const y = ${expressions[last]!};`,
    `  if (y === ${decisive}) return y;`,
    `  if (failure === undefined) return typeof y === 'boolean' || y instanceof CelFault ? y : NOT_BOOL;`,
    `  return y instanceof CelFault ? y : failure instanceof CelFault ? failure : NOT_BOOL;`,
  );
  return lines.join('\n');
}
