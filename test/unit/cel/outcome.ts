/** Answers of a condition as the CEL differential tests compare them. */
import {
  conditionEnvironment,
  isConditionError,
  type ConditionActivation,
  type ConditionResult,
} from '../../../src/core/policy/cel/index.js';

export type Outcome = 'true' | 'false' | 'error';

/** cel-js itself, the reference: a bool, or an error for anything else. */
export function reference(source: string, act: ConditionActivation): Outcome {
  try {
    const r: unknown = conditionEnvironment.evaluate(source, act as unknown as Record<string, unknown>);
    return r === true ? 'true' : r === false ? 'false' : 'error';
  } catch {
    return 'error';
  }
}

/** A compiled condition's result in the same terms. */
export function outcome(r: ConditionResult): Outcome {
  return isConditionError(r) ? 'error' : r ? 'true' : 'false';
}
