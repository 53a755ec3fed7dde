/**
 * `when` conditions of policy rules: parsed and type-checked by cel-js once,
 * then run as closures (closure-compiler.ts) or, outside their subset, by
 * cel-js's evaluator. Both give the same answers.
 */
import type { ParseResult } from '@marcbachmann/cel-js';
import { GatehouseError } from '../../errors.js';
import { compileClosure, type Activation, type CelNode, type Closure } from './closure-compiler.js';
import { generateCondition } from './generated-condition.js';
import type { CompiledCondition, ConditionActivation, ConditionResult } from './condition.js';
import {
  CONDITION_VARIABLES,
  CIDR_TYPE,
  conditionEnvironment,
  DURATION_TYPE,
  TIMESTAMP_TYPE,
} from './environment.js';
import { celCidr, celIp } from './net-functions.js';
import { compileRegexLiteral } from './regex-literal.js';
import { CelFault, FALL_BACK, K_OTHER, kindName, kindOf, thrownMessage } from './values.js';

const VARIABLES: ReadonlySet<string> = new Set(CONDITION_VARIABLES);
const VARIABLE_LIST = `${CONDITION_VARIABLES.slice(0, -1).join(', ')} and ${CONDITION_VARIABLES.at(-1)}`;

/** cel-js's token names, as they read in a message. */
const TOKENS: Record<string, string> = {
  EOF: 'end of input',
  NUMBER: 'a number',
  STRING: 'a string',
  BYTES: 'bytes',
  BOOLEAN: 'a bool',
  NULL: '`null`',
  IDENTIFIER: 'a name',
  PLUS: '`+`',
  MINUS: '`-`',
  MULTIPLY: '`*`',
  DIVIDE: '`/`',
  MODULO: '`%`',
  EQ: '`==`',
  NE: '`!=`',
  LT: '`<`',
  LE: '`<=`',
  GT: '`>`',
  GE: '`>=`',
  AND: '`&&`',
  OR: '`||`',
  NOT: '`!`',
  IN: '`in`',
  LPAREN: '`(`',
  RPAREN: '`)`',
  LBRACKET: '`[`',
  RBRACKET: '`]`',
  LBRACE: '`{`',
  RBRACE: '`}`',
  DOT: '`.`',
  COMMA: '`,`',
  COLON: '`:`',
  QUESTION: '`?`',
};

/** The shape of cel-js's ParseError and TypeError that messages use. */
interface CelError {
  readonly code?: string;
  readonly summary?: string;
  readonly message?: string;
  readonly range?: { readonly start: number; readonly end: number };
}

/** User text inside backticks: one line, at most 100 characters. */
function show(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > 100 ? `${line.slice(0, 97)}...` : line;
}

/** `column 15`, or `line 2, column 3` for an expression written on several lines (both 1-based). */
function position(source: string, offset: number): string {
  const before = source.slice(0, offset);
  const newline = before.lastIndexOf('\n');
  const column = offset - newline;
  if (!source.includes('\n')) return `column ${column}`;
  const line = before.split('\n').length;
  return `line ${line}, column ${column}`;
}

function lowerFirst(text: string): string {
  return text.length > 1 && /[a-z]/.test(text[1]!) ? text[0]!.toLowerCase() + text.slice(1) : text;
}

/** One line in Gatehouse's voice for a cel-js parse or type error. */
function describeCelError(source: string, e: CelError): string {
  const summary = e.summary ?? e.message?.split('\n')[0] ?? String(e);
  const range = e.range;
  const excerpt = range === undefined ? '' : source.slice(range.start, Math.max(range.end, range.start));
  switch (e.code) {
    case 'unexpected_token': {
      const token = summary.replace(/^Unexpected token: /, '');
      return token === 'EOF' ? 'unexpected end of input' : `unexpected \`${show(excerpt) || token}\``;
    }
    case 'expected_token': {
      const m = /^Expected (\w+), got (\w+)$/.exec(summary);
      if (m) return `expected ${TOKENS[m[1]!] ?? m[1]} but found ${TOKENS[m[2]!] ?? m[2]}`;
      break;
    }
    case 'unexpected_character':
      return `unexpected character \`${show(excerpt) || summary.replace(/^Unexpected character: /, '')}\``;
    case 'unknown_variable':
      return `unknown variable \`${show(excerpt)}\` (a condition may read ${VARIABLE_LIST})`;
    case 'reserved_identifier':
      return `\`${show(excerpt)}\` is a reserved word`;
  }
  return lowerFirst(summary);
}

function conditionError(source: string, reason: string, offset?: number, cause?: unknown): GatehouseError {
  const at = offset === undefined ? '' : ` at ${position(source, offset)}`;
  return new GatehouseError('cel_parse_error', `invalid condition \`${show(source)}\`: ${reason}${at}`, {
    cause,
  });
}

/** A cel-js type name as a policy author knows it. */
function typeName(type: string): string {
  return type
    .replaceAll(TIMESTAMP_TYPE, 'timestamp')
    .replaceAll(DURATION_TYPE, 'duration')
    .replaceAll('null_type', 'null');
}

/** Every node of the AST, with the variables that macros bind over it. */
function walk(
  node: CelNode,
  visit: (n: CelNode, bound: ReadonlySet<string>) => void,
  bound: ReadonlySet<string>,
) {
  visit(node, bound);
  const args = node.args;
  if (node.op === 'rcall') {
    const [name, receiver, list] = args as [string, CelNode, CelNode[]];
    walk(receiver, visit, bound);
    // all, exists, exists_one, map, filter and cel.bind bind their first argument over the rest.
    const first = list[0];
    if (node.meta.macro !== undefined || node.meta.alternate !== undefined) {
      if (first?.op === 'id' && name !== 'bind') {
        const inner = new Set(bound).add(first.args as string);
        for (const a of list.slice(1)) walk(a, visit, inner);
        return;
      }
      if (first?.op === 'id' && name === 'bind' && list.length === 3) {
        walk(list[1]!, visit, bound);
        walk(list[2]!, visit, new Set(bound).add(first.args as string));
        return;
      }
    }
    for (const a of list) walk(a, visit, bound);
    return;
  }
  walkArgs(args, visit, bound);
}

function walkArgs(
  args: unknown,
  visit: (n: CelNode, bound: ReadonlySet<string>) => void,
  bound: ReadonlySet<string>,
) {
  if (Array.isArray(args)) for (const a of args) walkArgs(a, visit, bound);
  else if (typeof args === 'object' && args !== null && typeof (args as CelNode).op === 'string') {
    walk(args as CelNode, visit, bound);
  }
}

function stringLiteral(node: CelNode | undefined): string | undefined {
  return node?.op === 'value' && typeof node.args === 'string' ? node.args : undefined;
}

/**
 * Compiles a CEL condition. Literal arguments are checked here, so that
 * `cidr("10.0.0.0/33")`, `duration("1x")`, `ip("…")`, `timestamp("…")` and
 * `s.matches("(")` fail when the policy loads rather than on every request.
 *
 * @throws GatehouseError `cel_parse_error` when the expression does not parse,
 *   does not type-check (an unknown variable, `1 + "a"`, …), cannot return a
 *   bool, or has an invalid literal argument; the message names the column,
 *   e.g. ``invalid condition `context.risk <`: unexpected end of input at column 15``
 */
export function compileCondition(
  expression: string,
  /** `generate: false` keeps the closures even for shapes that get a generated function (for tests). */
  options: { readonly generate?: boolean } = {},
): CompiledCondition {
  if (typeof expression !== 'string') {
    throw new GatehouseError('cel_parse_error', 'invalid condition: a condition must be a string');
  }
  let parsed: ParseResult;
  try {
    parsed = conditionEnvironment.parse(expression);
  } catch (e) {
    const err = e as CelError;
    throw conditionError(expression, describeCelError(expression, err), err.range?.start, e);
  }
  const checked = parsed.check();
  if (!checked.valid) {
    const err = (checked.error ?? {}) as CelError;
    throw conditionError(expression, describeCelError(expression, err), err.range?.start, checked.error);
  }
  if (checked.type !== 'bool' && checked.type !== 'dyn') {
    throw conditionError(expression, `returns ${typeName(checked.type ?? 'unknown')}, not bool`);
  }

  const ast = parsed.ast as unknown as CelNode;
  const literals = new Map<CelNode, unknown>();
  const evaluateLiteral = (node: CelNode): unknown => {
    if (literals.has(node)) return literals.get(node);
    const [name, args] = node.args as [string, CelNode[]];
    const text = stringLiteral(args[0]);
    let value: unknown;
    try {
      if (name === 'cidr' && text !== undefined) value = celCidr(text);
      else if (name === 'ip' && text !== undefined) value = celIp(text);
      // duration() and timestamp(): cel-js's own parsers, on the call's source text.
      else value = conditionEnvironment.evaluate(expression.slice(node.start, node.end));
    } catch (e) {
      const reason = (e as CelError).summary ?? (e as Error).message;
      throw conditionError(expression, lowerFirst(reason), args[0]?.start ?? node.start, e);
    }
    literals.set(node, value);
    return value;
  };
  const variables = new Set<string>();
  const patternWarnings: string[] = [];
  // `source` read only as `source.key` or `source["key"]` (has() included): the keys it reads.
  const sourceKeys = new Set<string>();
  let sourceReads = 0;
  let sourceKeyReads = 0;
  const isSource = (node: CelNode | undefined, bound: ReadonlySet<string>) =>
    node?.op === 'id' && node.args === 'source' && !bound.has('source');
  walk(
    ast,
    (node, bound) => {
      if (node.op === 'id' && VARIABLES.has(node.args as string) && !bound.has(node.args as string)) {
        variables.add(node.args as string);
        if (node.args === 'source') sourceReads++;
      }
      if (node.op === '.' || node.op === '[]') {
        const [left, key] = node.args as [CelNode, CelNode | string];
        const name = node.op === '.' ? key : stringLiteral(key as CelNode);
        if (isSource(left, bound) && left.meta.alternate === undefined && typeof name === 'string') {
          sourceKeys.add(name);
          sourceKeyReads++;
        }
      }
      const warning = checkLiteralArguments(expression, node, evaluateLiteral);
      if (warning !== undefined) patternWarnings.push(warning);
    },
    new Set(),
  );

  const closure = compileClosure(ast, evaluateLiteral);
  // Common shapes get a function of their own (generated-condition.ts); the rest the closures.
  const generated = closure && options.generate !== false ? generateCondition(closure) : undefined;
  const fast = generated ?? closure;
  const readSourceKeys = sourceReads === sourceKeyReads ? sourceKeys : undefined;
  return new Condition(
    expression,
    parsed,
    fast,
    generated !== undefined,
    variables,
    readSourceKeys,
    patternWarnings,
  );
}

const LITERAL_FUNCTIONS: ReadonlySet<string> = new Set(['cidr', 'ip', 'duration', 'timestamp']);

/**
 * Refuses a literal argument that would fail on every evaluation; answers
 * why a `matches` pattern may be slow or read unlike RE2 (not a literal, or
 * outside the portable subset), for lint's `regex_not_portable`.
 */
function checkLiteralArguments(
  source: string,
  node: CelNode,
  evaluateLiteral: (node: CelNode) => unknown,
): string | undefined {
  if (node.op === 'call') {
    const [name, args] = node.args as [string, CelNode[]];
    if (LITERAL_FUNCTIONS.has(name) && args.length === 1 && args[0]!.op === 'value') evaluateLiteral(node);
    return undefined;
  }
  if (node.op !== 'rcall') return undefined;
  const [name, receiver, args] = node.args as [string, CelNode, CelNode[]];
  const text = stringLiteral(args[0]);
  if (name === 'matches' && args.length === 1 && text === undefined) return NON_LITERAL_PATTERN;
  if (text === undefined || args.length !== 1) return undefined;
  try {
    if (name === 'matches')
      return compileRegexLiteral(text) === undefined ? nonPortablePattern(text) : undefined;
    else if (receiver.checkedType?.name === CIDR_TYPE && name === 'containsIP') celIp(text);
    else if (receiver.checkedType?.name === CIDR_TYPE && name === 'containsCIDR') celCidr(text);
  } catch (e) {
    const reason = name === 'matches' ? regexProblem(text, e) : (e as Error).message;
    throw conditionError(source, reason, args[0]!.start, e);
  }
  return undefined;
}

const NON_LITERAL_PATTERN =
  "a `matches` pattern that is not a literal runs on JavaScript's RegExp as given, which can backtrack for a very long time on some inputs";

function nonPortablePattern(text: string): string {
  return `pattern \`${text}\` is outside the subset RE2 and JavaScript read alike: it runs on JavaScript's RegExp, which can backtrack for a very long time on some inputs (a group that repeats a repetition, such as \`(a+)+\`) and reads some syntax unlike RE2`;
}

/** ``invalid regular expression `(`: unterminated group`` from JavaScript's SyntaxError. */
function regexProblem(pattern: string, e: unknown): string {
  const why = e instanceof Error ? /: ([^:]+)$/.exec(e.message)?.[1] : undefined;
  return `invalid regular expression \`${show(pattern)}\`${why === undefined ? '' : `: ${lowerFirst(why)}`}`;
}

/** Faults for results that are not bools, one per kind. */
const NOT_BOOL = new Map<string, CelFault>();

function notBool(type: string): CelFault {
  let f = NOT_BOOL.get(type);
  if (f === undefined) NOT_BOOL.set(type, (f = new CelFault(`condition returned ${type}, not bool`)));
  return f;
}

/** A one-line reason for anything thrown while evaluating. */
function thrownFault(e: unknown): CelFault {
  return new CelFault(thrownMessage(e));
}

/** The CEL type of a value cel-js returned, for a message. */
function celTypeName(v: unknown): string {
  const k = kindOf(v);
  if (k !== K_OTHER) return kindName(k);
  if (v instanceof Uint8Array) return 'bytes';
  if (v instanceof Map) return 'map';
  return typeof v === 'object' ? 'value' : typeof v;
}

class Condition implements CompiledCondition {
  readonly fastPath: boolean;
  readonly direct: ((activation: ConditionActivation) => unknown) | undefined;
  /** An own arrow function: it never throws, not even when called detached from the condition. */
  readonly evaluate: (activation: ConditionActivation) => ConditionResult;

  constructor(
    readonly source: string,
    private readonly parsed: ParseResult,
    private readonly fast: Closure | undefined,
    readonly generated: boolean,
    readonly variables: ReadonlySet<string>,
    readonly sourceKeys: ReadonlySet<string> | undefined,
    readonly patternWarnings: readonly string[],
  ) {
    this.fastPath = fast !== undefined;
    this.direct = fast as ((activation: ConditionActivation) => unknown) | undefined;
    this.evaluate = (activation) => this.run(activation);
    Object.freeze(this);
  }

  private run(activation: ConditionActivation): ConditionResult {
    const fast = this.fast;
    if (fast !== undefined) {
      try {
        const r = fast(activation as unknown as Activation);
        if (r === true || r === false) return r;
        return r instanceof CelFault ? r : notBool(kindName(kindOf(r)));
      } catch (e) {
        // FALL_BACK: a value the closures do not model; cel-js decides.
        if (e !== FALL_BACK) return thrownFault(e);
      }
    }
    return this.slow(activation);
  }

  /** cel-js's evaluator: the reference semantics, and the path for what the closures do not cover. */
  private slow(activation: ConditionActivation): ConditionResult {
    try {
      const r: unknown = this.parsed(activation as unknown as Record<string, unknown>);
      return typeof r === 'boolean' ? r : notBool(celTypeName(r));
    } catch (e) {
      return thrownFault(e);
    }
  }
}
