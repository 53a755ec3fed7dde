/**
 * The validated, normalized policy model: what a policy document means once
 * parsed and checked. Rules keep their source location so that every error,
 * warning and explanation can point back at the file.
 */
import type { SourceLocation } from '../errors.js';

export const POLICY_API_VERSION = 'gatehouse.dev/v1';

export type Effect = 'allow' | 'deny';
export type RolloutMode = 'observe' | 'simulate' | 'enforce';
export type LayerName = 'credential' | 'zone' | 'flow' | 'permission';
export const LAYERS: readonly LayerName[] = ['credential', 'zone', 'flow', 'permission'];

/** The pseudo-zone of an address that lies in no declared zone. */
export const UNKNOWN_ZONE = 'unknown';

export interface Zone {
  name: string;
  cidrs: string[];
  description?: string;
  location?: SourceLocation;
}

/** An inclusive port range; a single port has `from === to`. */
export interface PortRange {
  from: number;
  to: number;
}

/** `'*'` is any port. */
export type PortSpec = '*' | PortRange[];

export interface HttpActionMatch {
  /** Upper-case HTTP methods; `'*'` is any method. */
  methods: '*' | string[];
  /** Segment-aware globs and templates (see glob.ts); empty means no glob constraint. */
  paths: string[];
  /** Plain string prefixes, Envoy style; `/admin` also matches `/administrator`. */
  prefixes: string[];
}

export interface ActionMatch extends HttpActionMatch {
  /** Named operations of the target service. */
  operations: string[];
}

export interface Service {
  name: string;
  spiffeId?: string;
  zone: string;
  ports: PortSpec;
  mode: RolloutMode;
  owner?: string;
  description?: string;
  /** Named operations: each is a list of HTTP matches (any may match). */
  operations: Map<string, HttpActionMatch[]>;
  location?: SourceLocation;
}

export interface Workload {
  spiffeId: string;
  labels: Record<string, string>;
  owner?: string;
  kind?: string;
  description?: string;
  location?: SourceLocation;
}

/** One alternative of a workload selector: every field given must hold. */
export interface SelectorTerm {
  /** Exact SPIFFE ID or a SPIFFE ID whose path is a glob. */
  spiffeId?: string;
  /** Labels the identity must carry, all of them, with these exact values. */
  labels?: Record<string, string>;
  /** The source address must be in one of these zones. */
  zones?: string[];
  /** The identity must not match this term. */
  not?: SelectorTerm;
}

/** `'*'` matches every identity; otherwise any term may match. */
export type Selector = '*' | SelectorTerm[];

export interface Target {
  /** Service names, or `'*'` for every service (declared or not). */
  services: '*' | string[];
  /** `undefined` means every port the service declares. */
  ports?: PortSpec;
}

interface RuleBase {
  id: string;
  effect: Effect;
  description?: string;
  owner?: string;
  /** ISO date-time after which the rule should be reviewed; it still matches. */
  reviewBy?: string;
  /** ISO date-time from which the rule never matches again. */
  expires?: string;
  location?: SourceLocation;
}

export interface SegmentationRule extends RuleBase {
  layer: 'zone';
  /** Source zones; `'*'` is every declared zone (not `unknown`). */
  from: '*' | string[];
  /** Destination zones. */
  to: '*' | string[];
}

export interface FlowRule extends RuleBase {
  layer: 'flow';
  from: Selector;
  to: Target;
}

export interface PermissionRule extends RuleBase {
  layer: 'permission';
  from: Selector;
  to: Target;
  /** Any action may match; an empty list matches every action. */
  actions: ActionMatch[];
  /** CEL condition; see docs/policy.md. */
  when?: string;
}

export type Rule = SegmentationRule | FlowRule | PermissionRule;

export interface Policy {
  apiVersion: typeof POLICY_API_VERSION;
  name?: string;
  trustDomain: string;
  /** Other trust domains whose verified identities are accepted. */
  federatedTrustDomains: string[];
  zones: Zone[];
  services: Service[];
  workloads: Workload[];
  segmentation: SegmentationRule[];
  flows: FlowRule[];
  permissions: PermissionRule[];
  /** Content hash of the canonical document: `sha256:<hex>`. */
  revision: string;
}
