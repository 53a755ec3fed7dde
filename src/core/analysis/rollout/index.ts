export { isIdSegment, templatePath, PathTemplates } from './path-template.js';
export { DependencyMapBuilder, buildDependencyMap, DEPENDENCY_MAP_KIND } from './dependency-map.js';
export type {
  DependencyAction,
  DependencyEdge,
  DependencyMap,
  DependencyMapOptions,
  DependencyNode,
  DependencyNodeKind,
} from './dependency-map.js';
export { dependencyMapDot } from './dependency-map-dot.js';
export { dependencyMapMermaid } from './dependency-map-mermaid.js';
export { actionText, countText, edgeActionsText, percentText } from './map-text.js';
export { createPathFolder, FlowGroups, PolicyReplayer, hasAction } from './replay.js';
export type { FlowGroup, ReplayOptions, ReplayVerdict } from './replay.js';
export { Simulation, simulate, SIMULATION_REPORT_KIND } from './simulate.js';
export type {
  BreakGroup,
  FlowEndpointView,
  NewlyAllowedGroup,
  PolicyTotals,
  PromotionVerdict,
  ReplayedFlow,
  RuleChanges,
  ServicePromotion,
  SimulateOptions,
  SimulationReport,
} from './simulate.js';
export { SuggestionBuilder, suggestPolicy, POLICY_SUGGESTION_KIND } from './suggest.js';
export type {
  Exclusion,
  ExclusionReason,
  PolicySuggestion,
  SuggestedService,
  SuggestOptions,
} from './suggest.js';
export { Assessment, assess, NEXT_STEPS, READINESS_REPORT_KIND } from './assess.js';
export type { AssessOptions, NextStep, ReadinessReport, ServiceReadiness } from './assess.js';
export { environmentOf, zoneEnvironments, zoneVerdict } from './environments.js';
export type { Domain, Environment, Tier, ZoneEnvironment } from './environments.js';
export { ruleIdFor, shortIdentity } from './rule-names.js';
