import { lintPolicy } from './lint.js';
import { parsePolicyDocument, type PolicySourceText } from './parse.js';
import type { Policy } from './model.js';
import { sortProblems, type PolicyProblem } from './problem.js';
import { validatePolicy } from './validate.js';
import { GatehouseError } from '../errors.js';

export interface CheckResult {
  policy?: Policy;
  errors: PolicyProblem[];
  warnings: PolicyProblem[];
}

/**
 * Everything `gatehouse check` reports: parse errors, validation errors and
 * warnings, and lint warnings (lint runs only on a valid policy). Never
 * throws for bad input: a parse failure is reported as an error.
 */
export function checkPolicy(sources: readonly PolicySourceText[], options: { now: number }): CheckResult {
  let doc;
  try {
    doc = parsePolicyDocument(sources);
  } catch (e) {
    if (!(e instanceof GatehouseError)) throw e;
    const problem: PolicyProblem = {
      severity: 'error',
      code: e.code,
      message: stripLocation(e.message),
      path: '',
    };
    if (e.location) problem.location = e.location;
    return { errors: [problem], warnings: [] };
  }
  const result = validatePolicy(doc);
  const warnings = [...result.warnings];
  if (result.policy) warnings.push(...lintPolicy(result.policy, options));
  const out: CheckResult = { errors: sortProblems(result.errors), warnings: sortProblems(warnings) };
  if (result.policy) out.policy = result.policy;
  return out;
}

function stripLocation(message: string): string {
  return message.replace(/^[^:\s]+:\d+:\d+: /, '');
}
