export { POLICY_API_VERSION, UNKNOWN_ZONE, LAYERS } from './model.js';
export type {
  ActionMatch,
  Effect,
  FlowRule,
  HttpActionMatch,
  LayerName,
  PermissionRule,
  Policy,
  PortRange,
  PortSpec,
  RolloutMode,
  Rule,
  SegmentationRule,
  Selector,
  SelectorTerm,
  Service,
  Target,
  Workload,
  Zone,
} from './model.js';
export { parsePolicyDocument } from './parse.js';
export type { PolicyDocument, PolicySourceText, PathSegment } from './parse.js';
export { policyDocumentFromObject } from './from-object.js';
export { validatePolicy, isValidatedPolicy } from './validate.js';
export type { ValidationResult } from './validate.js';
export { lintPolicy } from './lint.js';
export type { LintOptions } from './lint.js';
export { checkPolicy } from './check.js';
export type { CheckResult } from './check.js';
export { parsePolicy, compileValidatedPolicy, invalid } from './compile.js';
export type { CompiledPolicy } from './compile.js';
export { formatProblem } from './problem.js';
export type { PolicyProblem } from './problem.js';
export { policyRevision, canonicalJson } from './revision.js';
export { compilePathGlob } from './glob.js';
export type { PathGlob } from './glob.js';
export { diffPolicies } from './diff.js';
export type { PolicyDiff, PolicyChange, PolicyPart } from './diff.js';
export type { PolicyVersion } from './policy-version.js';
