import { compileCondition, type CompiledCondition } from './cel/index.js';

/**
 * Compiled conditions by expression text. Compiling is pure and a compiled
 * condition is immutable, so validation and every engine built from the same
 * policy share one compilation per distinct text: large policies repeat a few
 * hundred conditions across tens of thousands of rules.
 */
const cache = new Map<string, CompiledCondition | Error>();
const MAX_ENTRIES = 50_000;

/**
 * Like {@link compileCondition}, remembered by text.
 * @throws the same GatehouseError `cel_parse_error` each time for a bad text
 */
export function compileConditionOnce(expression: string): CompiledCondition {
  let entry = cache.get(expression);
  if (entry === undefined) {
    try {
      entry = compileCondition(expression);
    } catch (e) {
      entry = e instanceof Error ? e : new Error(String(e));
    }
    if (cache.size >= MAX_ENTRIES) cache.clear();
    cache.set(expression, entry);
  }
  if (entry instanceof Error) throw entry;
  return entry;
}
