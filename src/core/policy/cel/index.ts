export { compileCondition } from './compile-condition.js';
export { isConditionError } from './condition.js';
export type { CompiledCondition, ConditionActivation, ConditionError, ConditionResult } from './condition.js';
export { conditionEnvironment, CONDITION_VARIABLES } from './environment.js';
export type { ConditionVariable } from './environment.js';
