import { isRealDate } from '../dates.js';
import { isGatehouseError } from '../errors.js';
import { parseSpiffeId, trustDomainProblem } from '../identity/spiffe-id.js';
import { formatCidr, parseCidr } from '../net/index.js';
import { compileConditionOnce } from './condition-cache.js';
import { compilePathGlob, hasWildcard } from './glob.js';
import {
  POLICY_API_VERSION,
  UNKNOWN_ZONE,
  type ActionMatch,
  type Effect,
  type FlowRule,
  type HttpActionMatch,
  type PermissionRule,
  type Policy,
  type PortRange,
  type PortSpec,
  type RolloutMode,
  type SegmentationRule,
  type Selector,
  type SelectorTerm,
  type Service,
  type Target,
  type Workload,
  type Zone,
} from './model.js';
import type { PathSegment, PolicyDocument } from './parse.js';
import { formatPath, type PolicyProblem } from './problem.js';
import { policyRevision } from './revision.js';

const validated = new WeakSet<Policy>();

/** True for a policy object produced by {@link validatePolicy} (and so safe to compile). */
export function isValidatedPolicy(value: unknown): value is Policy {
  return typeof value === 'object' && value !== null && validated.has(value as Policy);
}

export interface ValidationResult {
  /** Present only when there are no errors. */
  policy?: Policy;
  errors: PolicyProblem[];
  warnings: PolicyProblem[];
}

const NAME = /^[a-z0-9]([a-z0-9._-]*[a-z0-9])?$/;
const RULE_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]*$/;
const LABEL_KEY = /^([a-z0-9]([a-z0-9.-]*[a-z0-9])?\/)?[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$/;
// RFC 9110 §5.6.2 token; we further require upper case in policies so that
// `get` is not mistaken for `GET` (methods are case-sensitive).
const METHOD = /^[A-Z][A-Z0-9_-]*$/;
const DATE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?$/;
const MODES: readonly RolloutMode[] = ['observe', 'simulate', 'enforce'];
const WORKLOAD_KINDS = ['service', 'job', 'ci-pipeline', 'agent', 'third-party-app', 'api-key'];

type Obj = Record<string, unknown>;

class Checker {
  readonly errors: PolicyProblem[] = [];
  readonly warnings: PolicyProblem[] = [];
  constructor(readonly doc: PolicyDocument) {}

  error(path: PathSegment[], code: string, message: string, ruleId?: string, atKey = false): void {
    this.push('error', path, code, message, ruleId, atKey);
  }
  warn(path: PathSegment[], code: string, message: string, ruleId?: string): void {
    this.push('warning', path, code, message, ruleId);
  }
  private push(
    severity: 'error' | 'warning',
    path: PathSegment[],
    code: string,
    message: string,
    ruleId?: string,
    atKey = false,
  ): void {
    const p: PolicyProblem = { severity, code, message, path: formatPath(path) };
    const location = this.doc.locate(path, { key: atKey });
    if (location) p.location = location;
    if (ruleId !== undefined) p.ruleId = ruleId;
    (severity === 'error' ? this.errors : this.warnings).push(p);
  }

  object(v: unknown, path: PathSegment[], what: string, allowed: readonly string[]): Obj | undefined {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) {
      this.error(path, 'invalid_type', `${what} must be a mapping`);
      return undefined;
    }
    for (const key of Object.keys(v)) {
      if (!allowed.includes(key)) {
        const hint = suggest(key, allowed);
        this.error(
          [...path, key],
          'unknown_field',
          `unknown field \`${key}\` in ${what}${hint ? `: did you mean \`${hint}\`?` : ''}`,
          undefined,
          true,
        );
      }
    }
    return v as Obj;
  }

  string(v: unknown, path: PathSegment[], what: string): string | undefined {
    if (typeof v !== 'string' || v.length === 0) {
      this.error(path, 'invalid_type', `${what} must be a non-empty string`);
      return undefined;
    }
    return v;
  }

  optionalString(o: Obj, key: string, path: PathSegment[], what: string): string | undefined {
    if (o[key] === undefined) return undefined;
    return this.string(o[key], [...path, key], what);
  }

  list(v: unknown, path: PathSegment[], what: string): unknown[] | undefined {
    if (!Array.isArray(v)) {
      this.error(path, 'invalid_type', `${what} must be a list`);
      return undefined;
    }
    return v;
  }

  date(o: Obj, key: string, path: PathSegment[]): string | undefined {
    const v = o[key];
    if (v === undefined) return undefined;
    if (typeof v !== 'string' || !DATE.test(v) || !isRealDate(v)) {
      this.error(
        [...path, key],
        'invalid_date',
        `\`${key}\` must be an ISO 8601 date or date-time, got \`${String(v)}\``,
      );
      return undefined;
    }
    return v;
  }
}

function suggest(key: string, allowed: readonly string[]): string | undefined {
  const k = key.toLowerCase();
  return allowed.find((a) => a.toLowerCase() === k || distance(a.toLowerCase(), k) <= 2);
}

function distance(a: string, b: string): number {
  const dp = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0]!;
    dp[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = dp[j]!;
      dp[j] = Math.min(dp[j]! + 1, dp[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return dp[b.length]!;
}

/**
 * Checks a parsed policy document against the v1 language and turns it into
 * the normalized {@link Policy}. Collects every problem instead of stopping at
 * the first; `policy` is returned only when there are no errors.
 */
export function validatePolicy(doc: PolicyDocument): ValidationResult {
  const c = new Checker(doc);
  const root = c.object(doc.value, [], 'the policy', [
    'apiVersion',
    'kind',
    'metadata',
    'trustDomain',
    'federatedTrustDomains',
    'zones',
    'services',
    'workloads',
    'segmentation',
    'flows',
    'permissions',
  ]);
  if (!root) return { errors: c.errors, warnings: c.warnings };

  if (root.apiVersion === undefined)
    c.error([], 'missing_field', `\`apiVersion\` is required: use \`${POLICY_API_VERSION}\``);
  else if (root.apiVersion !== POLICY_API_VERSION) {
    c.error(
      ['apiVersion'],
      'unsupported_version',
      `unsupported apiVersion \`${String(root.apiVersion)}\`: use \`${POLICY_API_VERSION}\``,
    );
  }
  if (root.kind !== undefined && root.kind !== 'Policy') {
    c.error(['kind'], 'invalid_value', `\`kind\` must be \`Policy\`, got \`${String(root.kind)}\``);
  }
  let name: string | undefined;
  if (root.metadata !== undefined) {
    const meta = c.object(root.metadata, ['metadata'], '`metadata`', [
      'name',
      'description',
      'owner',
      'labels',
    ]);
    if (meta) {
      name = c.optionalString(meta, 'name', ['metadata'], '`metadata.name`');
      c.optionalString(meta, 'description', ['metadata'], '`metadata.description`');
      c.optionalString(meta, 'owner', ['metadata'], '`metadata.owner`');
      if (meta.labels !== undefined) validateLabels(c, meta.labels, ['metadata', 'labels']);
    }
  }

  let trustDomain = '';
  if (root.trustDomain === undefined) c.error([], 'missing_field', '`trustDomain` is required');
  else if (typeof root.trustDomain !== 'string')
    c.error(['trustDomain'], 'invalid_type', '`trustDomain` must be a string');
  else {
    const why = trustDomainProblem(root.trustDomain);
    if (why)
      c.error(['trustDomain'], 'invalid_value', `invalid trust domain \`${root.trustDomain}\`: ${why}`);
    else trustDomain = root.trustDomain;
  }
  const federatedTrustDomains: string[] = [];
  if (root.federatedTrustDomains !== undefined) {
    const list = c.list(root.federatedTrustDomains, ['federatedTrustDomains'], '`federatedTrustDomains`');
    list?.forEach((td, i) => {
      const p = ['federatedTrustDomains', i];
      if (typeof td !== 'string') return c.error(p, 'invalid_type', 'a trust domain must be a string');
      const why = trustDomainProblem(td);
      if (why) c.error(p, 'invalid_value', `invalid trust domain \`${td}\`: ${why}`);
      else federatedTrustDomains.push(td);
    });
  }

  const zones = validateZones(c, root.zones);
  const zoneNames = new Set(zones.map((z) => z.name));
  const services = validateServices(c, root.services, zoneNames);
  const serviceByName = new Map(services.map((s) => [s.name, s]));
  const workloads = validateWorkloads(c, root.workloads);

  // Where each rule id was first used; said only when a second use is found, so kept as a path.
  const ruleIds = new Map<string, PathSegment[]>();
  const claimId = (id: string, path: PathSegment[]): void => {
    const first = ruleIds.get(id);
    if (first) {
      const loc = doc.locate(first);
      const where = loc ? `${loc.file}:${loc.line}` : formatPath(first);
      c.error([...path, 'id'], 'duplicate_rule_id', `rule id \`${id}\` is already used at ${where}`, id);
    } else ruleIds.set(id, path);
  };
  const ctx: RuleContext = { c, zoneNames, serviceByName, claimId };
  const segmentation = section(c, root.segmentation, 'segmentation', (v, p) =>
    validateSegmentationRule(ctx, v, p),
  );
  const flows = section(c, root.flows, 'flows', (v, p) => validateFlowRule(ctx, v, p));
  const permissions = section(c, root.permissions, 'permissions', (v, p) =>
    validatePermissionRule(ctx, v, p),
  );

  if (c.errors.length) return { errors: c.errors, warnings: c.warnings };
  const policy: Policy = {
    apiVersion: POLICY_API_VERSION,
    trustDomain,
    federatedTrustDomains,
    zones,
    services,
    workloads,
    segmentation,
    flows,
    permissions,
    revision: policyRevision(doc.value),
  };
  if (name !== undefined) policy.name = name;
  validated.add(policy);
  return { policy, errors: c.errors, warnings: c.warnings };
}

function section<T>(
  c: Checker,
  v: unknown,
  key: string,
  each: (v: unknown, path: PathSegment[]) => T | undefined,
): T[] {
  if (v === undefined || v === null) return [];
  const list = c.list(v, [key], `\`${key}\``);
  const out: T[] = [];
  list?.forEach((item, i) => {
    const r = each(item, [key, i]);
    if (r) out.push(r);
  });
  return out;
}

function validateZones(c: Checker, v: unknown): Zone[] {
  if (v === undefined || v === null) return [];
  const zones = c.object(v, ['zones'], '`zones`', Object.keys(v as Obj));
  if (!zones) return [];
  const out: Zone[] = [];
  const seenCidr = new Map<string, string>();
  for (const [name, raw] of Object.entries(zones)) {
    const path = ['zones', name];
    if (!NAME.test(name) || name === UNKNOWN_ZONE) {
      c.error(
        path,
        'invalid_name',
        name === UNKNOWN_ZONE
          ? `zone name \`${UNKNOWN_ZONE}\` is reserved for addresses in no zone`
          : `invalid zone name \`${name}\`: use lower-case letters, digits, \`.\`, \`-\` and \`_\``,
      );
      continue;
    }
    const z = c.object(raw, path, `zone \`${name}\``, ['cidrs', 'description']);
    if (!z) continue;
    const cidrs: string[] = [];
    const list = c.list(z.cidrs, [...path, 'cidrs'], `\`zones.${name}.cidrs\``);
    list?.forEach((cidr, i) => {
      const p = [...path, 'cidrs', i];
      if (typeof cidr !== 'string') return c.error(p, 'invalid_type', 'a CIDR must be a string');
      try {
        const key = formatCidr(parseCidr(cidr));
        const prev = seenCidr.get(key);
        if (prev)
          c.error(
            p,
            'duplicate_cidr',
            `CIDR \`${cidr}\` is already in zone \`${prev}\`: an address must have one zone`,
          );
        else seenCidr.set(key, name);
        cidrs.push(cidr);
      } catch (e) {
        c.error(p, 'invalid_cidr', isGatehouseError(e) ? e.message : `invalid CIDR \`${cidr}\``);
      }
    });
    const zone: Zone = { name, cidrs };
    const d = c.optionalString(z, 'description', path, '`description`');
    if (d) zone.description = d;
    const loc = c.doc.locate(path);
    if (loc) zone.location = loc;
    out.push(zone);
  }
  return out;
}

function parsePorts(c: Checker, v: unknown, path: PathSegment[]): PortSpec | undefined {
  if (v === '*') return '*';
  const list = c.list(v, path, 'ports (a list of ports or ranges such as `8000-8100`, or `"*"`)');
  if (!list) return undefined;
  const out: PortRange[] = [];
  list.forEach((p, i) => {
    const at = [...path, i];
    if (typeof p === 'number') {
      if (!Number.isInteger(p) || p < 1 || p > 65535)
        return c.error(at, 'invalid_port', `port \`${p}\` is not in 1..65535`);
      out.push({ from: p, to: p });
    } else if (typeof p === 'string' && /^\d+-\d+$/.test(p)) {
      const [a, b] = p.split('-').map(Number) as [number, number];
      if (a < 1 || b > 65535 || a > b)
        return c.error(at, 'invalid_port', `port range \`${p}\` must be ascending within 1..65535`);
      out.push({ from: a, to: b });
    } else {
      c.error(
        at,
        'invalid_port',
        `invalid port \`${String(p)}\`: use a number or a range such as \`8000-8100\``,
      );
    }
  });
  if (list.length === 0)
    c.error(path, 'invalid_port', 'ports must not be empty: omit the field or use `"*"` for any port');
  return out;
}

function parseHttpMatch(c: Checker, o: Obj, path: PathSegment[]): HttpActionMatch {
  let methods: '*' | string[] = '*';
  if (o.methods !== undefined && o.methods !== '*') {
    const list = c.list(o.methods, [...path, 'methods'], '`methods`');
    const ms: string[] = [];
    let any = false;
    list?.forEach((m, i) => {
      if (m === '*') any = true;
      else if (typeof m !== 'string' || !METHOD.test(m)) {
        c.error(
          [...path, 'methods', i],
          'invalid_method',
          `invalid HTTP method \`${String(m)}\`: methods are upper case, e.g. \`GET\``,
        );
      } else ms.push(m);
    });
    if (list && list.length === 0)
      c.error([...path, 'methods'], 'invalid_value', '`methods` must not be empty: omit it for any method');
    methods = any ? '*' : ms;
  }
  const paths: string[] = [];
  // An explicit empty list would silently mean "any path": refuse it.
  for (const key of ['paths', 'prefixes'] as const) {
    if (Array.isArray(o[key]) && (o[key] as unknown[]).length === 0) {
      c.error([...path, key], 'invalid_value', `\`${key}\` must not be empty: omit it for any path`);
    }
  }
  if (o.paths !== undefined) {
    c.list(o.paths, [...path, 'paths'], '`paths`')?.forEach((p, i) => {
      const at = [...path, 'paths', i];
      if (typeof p !== 'string' || !p.startsWith('/'))
        return c.error(at, 'invalid_path', `invalid path pattern \`${String(p)}\`: must start with \`/\``);
      try {
        compilePathGlob(p);
        paths.push(p);
      } catch (e) {
        c.error(at, 'invalid_path', isGatehouseError(e) ? e.message : `invalid path pattern \`${p}\``);
      }
    });
  }
  const prefixes: string[] = [];
  if (o.prefixes !== undefined) {
    c.list(o.prefixes, [...path, 'prefixes'], '`prefixes`')?.forEach((p, i) => {
      if (typeof p !== 'string' || !p.startsWith('/')) {
        return c.error(
          [...path, 'prefixes', i],
          'invalid_path',
          `invalid path prefix \`${String(p)}\`: must start with \`/\``,
        );
      }
      prefixes.push(p);
    });
  }
  return { methods, paths, prefixes };
}

function validateServices(c: Checker, v: unknown, zoneNames: Set<string>): Service[] {
  if (v === undefined || v === null) return [];
  const services = c.object(v, ['services'], '`services`', Object.keys(v as Obj));
  if (!services) return [];
  const out: Service[] = [];
  for (const [name, raw] of Object.entries(services)) {
    const path = ['services', name];
    if (!NAME.test(name)) {
      c.error(
        path,
        'invalid_name',
        `invalid service name \`${name}\`: use lower-case letters, digits, \`.\`, \`-\` and \`_\``,
      );
      continue;
    }
    const s = c.object(raw, path, `service \`${name}\``, [
      'spiffeId',
      'zone',
      'ports',
      'mode',
      'owner',
      'description',
      'operations',
    ]);
    if (!s) continue;
    const svc: Service = { name, zone: '', ports: '*', mode: 'enforce', operations: new Map() };
    if (s.spiffeId !== undefined) {
      const id = c.string(s.spiffeId, [...path, 'spiffeId'], '`spiffeId`');
      if (id) {
        try {
          parseSpiffeId(id);
          svc.spiffeId = id;
        } catch (e) {
          c.error(
            [...path, 'spiffeId'],
            'invalid_spiffe_id',
            isGatehouseError(e) ? e.message : `invalid SPIFFE ID \`${id}\``,
          );
        }
      }
    }
    if (s.zone === undefined) c.error(path, 'missing_field', `service \`${name}\` needs a \`zone\``);
    else {
      const z = c.string(s.zone, [...path, 'zone'], '`zone`');
      if (z && !zoneNames.has(z))
        c.error([...path, 'zone'], 'invalid_reference', `service \`${name}\` is in unknown zone \`${z}\``);
      else if (z) svc.zone = z;
    }
    if (s.ports !== undefined) svc.ports = parsePorts(c, s.ports, [...path, 'ports']) ?? '*';
    if (s.mode !== undefined) {
      if (!MODES.includes(s.mode as RolloutMode)) {
        c.error(
          [...path, 'mode'],
          'invalid_value',
          `invalid mode \`${String(s.mode)}\`: use observe, simulate or enforce`,
        );
      } else svc.mode = s.mode as RolloutMode;
    }
    const owner = c.optionalString(s, 'owner', path, '`owner`');
    if (owner) svc.owner = owner;
    const d = c.optionalString(s, 'description', path, '`description`');
    if (d) svc.description = d;
    if (s.operations !== undefined) {
      const ops = c.object(
        s.operations,
        [...path, 'operations'],
        '`operations`',
        Object.keys((s.operations ?? {}) as Obj),
      );
      for (const [op, def] of Object.entries(ops ?? {})) {
        const opPath = [...path, 'operations', op];
        const list = c.list(def, opPath, `operation \`${op}\``);
        if (!list) continue;
        const matches: HttpActionMatch[] = [];
        list.forEach((m, i) => {
          const o = c.object(m, [...opPath, i], 'an operation match', ['methods', 'paths', 'prefixes']);
          if (o) matches.push(parseHttpMatch(c, o, [...opPath, i]));
        });
        svc.operations.set(op, matches);
      }
    }
    const loc = c.doc.locate(path);
    if (loc) svc.location = loc;
    out.push(svc);
  }
  return out;
}

function validateWorkloads(c: Checker, v: unknown): Workload[] {
  const seen = new Map<string, number>();
  return section(c, v, 'workloads', (raw, path) => {
    const w = c.object(raw, path, 'a workload', ['spiffeId', 'labels', 'owner', 'kind', 'description']);
    if (!w) return undefined;
    const id = c.string(w.spiffeId, [...path, 'spiffeId'], '`spiffeId`');
    if (!id) return undefined;
    try {
      parseSpiffeId(id);
    } catch (e) {
      c.error(
        [...path, 'spiffeId'],
        'invalid_spiffe_id',
        isGatehouseError(e) ? e.message : `invalid SPIFFE ID \`${id}\``,
      );
      return undefined;
    }
    const prev = seen.get(id);
    if (prev !== undefined)
      c.error(
        [...path, 'spiffeId'],
        'duplicate_workload',
        `workload \`${id}\` is already listed at workloads[${prev}]`,
      );
    seen.set(id, path[1] as number);
    const workload: Workload = {
      spiffeId: id,
      labels: validateLabels(c, w.labels, [...path, 'labels']) ?? {},
    };
    const owner = c.optionalString(w, 'owner', path, '`owner`');
    if (owner) workload.owner = owner;
    const kind = c.optionalString(w, 'kind', path, '`kind`');
    if (kind && !WORKLOAD_KINDS.includes(kind)) {
      c.error(
        [...path, 'kind'],
        'invalid_value',
        `invalid workload kind \`${kind}\`: use one of ${WORKLOAD_KINDS.join(', ')}`,
      );
    } else if (kind) workload.kind = kind;
    const d = c.optionalString(w, 'description', path, '`description`');
    if (d) workload.description = d;
    const loc = c.doc.locate(path);
    if (loc) workload.location = loc;
    return workload;
  });
}

function validateLabels(c: Checker, v: unknown, path: PathSegment[]): Record<string, string> | undefined {
  if (v === undefined) return undefined;
  const o = c.object(v, path, 'labels', Object.keys((v ?? {}) as Obj));
  if (!o) return undefined;
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(o)) {
    if (!LABEL_KEY.test(k)) c.error([...path, k], 'invalid_label', `invalid label key \`${k}\``);
    else if (typeof val !== 'string' && typeof val !== 'number' && typeof val !== 'boolean') {
      c.error([...path, k], 'invalid_label', `label \`${k}\` must have a string value`);
    } else out[k] = String(val);
  }
  return out;
}

interface RuleContext {
  c: Checker;
  zoneNames: Set<string>;
  serviceByName: Map<string, Service>;
  claimId(id: string, path: PathSegment[]): void;
}

const COMMON_RULE_FIELDS = ['id', 'effect', 'description', 'owner', 'reviewBy', 'expires'];

/** The fields every rule has, before its layer's own. */
type RuleBase = Omit<SegmentationRule, 'layer' | 'from' | 'to'>;

function ruleBase(ctx: RuleContext, o: Obj, path: PathSegment[]): RuleBase {
  const { c } = ctx;
  let id = '';
  if (typeof o.id !== 'string' || !RULE_ID.test(o.id)) {
    c.error(
      [...path, 'id'],
      o.id === undefined ? 'missing_field' : 'invalid_value',
      o.id === undefined
        ? 'every rule needs an `id`'
        : `invalid rule id \`${String(o.id)}\`: use letters, digits, \`.\`, \`_\`, \`:\` and \`-\``,
    );
  } else {
    id = o.id;
    ctx.claimId(id, path);
  }
  let effect: Effect = 'deny';
  if (o.effect !== 'allow' && o.effect !== 'deny') {
    c.error(
      [...path, 'effect'],
      o.effect === undefined ? 'missing_field' : 'invalid_value',
      o.effect === undefined
        ? `rule \`${id}\` needs an \`effect\`: allow or deny`
        : `invalid effect \`${String(o.effect)}\`: use allow or deny`,
      id,
    );
  } else effect = o.effect;
  const base: RuleBase = { id, effect };
  const d = c.optionalString(o, 'description', path, '`description`');
  if (d) base.description = d;
  const owner = c.optionalString(o, 'owner', path, '`owner`');
  if (owner) base.owner = owner;
  const reviewBy = c.date(o, 'reviewBy', path);
  if (reviewBy) base.reviewBy = reviewBy;
  const expires = c.date(o, 'expires', path);
  if (expires) base.expires = expires;
  const loc = c.doc.locate(path);
  if (loc) base.location = loc;
  return base;
}

function zoneList(ctx: RuleContext, v: unknown, path: PathSegment[], what: string): '*' | string[] {
  if (v === '*') return '*';
  if (typeof v === 'string') v = [v];
  const list = ctx.c.list(v, path, `${what} (zone names or \`"*"\`)`);
  const out: string[] = [];
  list?.forEach((z, i) => {
    if (z === '*')
      return ctx.c.error([...path, i], 'invalid_value', '`"*"` must stand alone, not inside a list');
    if (typeof z !== 'string')
      return ctx.c.error([...path, i], 'invalid_type', 'a zone name must be a string');
    // A reference to an undeclared zone is a warning (lint): the name simply matches nothing.
    if (z !== UNKNOWN_ZONE && !ctx.zoneNames.has(z)) {
      return ctx.c.warn([...path, i], 'unknown_reference', `unknown zone \`${z}\`: it matches nothing`);
    }
    out.push(z);
  });
  if (list && list.length === 0) ctx.c.error(path, 'invalid_value', `${what} must not be empty`);
  return out;
}

function validateSegmentationRule(
  ctx: RuleContext,
  v: unknown,
  path: PathSegment[],
): SegmentationRule | undefined {
  const o = ctx.c.object(v, path, 'a segmentation rule', [...COMMON_RULE_FIELDS, 'from', 'to']);
  if (!o) return undefined;
  const base = ruleBase(ctx, o, path);
  if (o.from === undefined)
    ctx.c.error(path, 'missing_field', `rule \`${base.id}\` needs \`from\` zones`, base.id);
  if (o.to === undefined)
    ctx.c.error(path, 'missing_field', `rule \`${base.id}\` needs \`to\` zones`, base.id);
  const from = o.from === undefined ? [] : zoneList(ctx, o.from, [...path, 'from'], '`from`');
  const to = o.to === undefined ? [] : zoneList(ctx, o.to, [...path, 'to'], '`to`');
  // Built by adding fields in a fixed order rather than by spreading: tens of
  // thousands of rules share one object shape, which keeps loading fast.
  const rule = base as SegmentationRule;
  rule.layer = 'zone';
  rule.from = from;
  rule.to = to;
  return rule;
}

function selectorTerm(
  ctx: RuleContext,
  v: unknown,
  path: PathSegment[],
  depth: number,
): SelectorTerm | undefined {
  const { c } = ctx;
  if (typeof v === 'string') v = { spiffeId: v };
  const o = c.object(v, path, 'a selector', ['spiffeId', 'labels', 'zones', 'not']);
  if (!o) return undefined;
  const term: SelectorTerm = {};
  if (o.spiffeId !== undefined) {
    const id = c.string(o.spiffeId, [...path, 'spiffeId'], '`spiffeId`');
    if (id) {
      const problem = spiffePatternProblem(id);
      if (problem) c.error([...path, 'spiffeId'], 'invalid_spiffe_id', problem);
      else term.spiffeId = id;
    }
  }
  if (o.labels !== undefined) {
    const labels = validateLabels(c, o.labels, [...path, 'labels']);
    if (labels && Object.keys(labels).length === 0)
      c.error([...path, 'labels'], 'invalid_value', 'a label selector must name at least one label');
    else if (labels) term.labels = labels;
  }
  if (o.zones !== undefined) {
    const zones = zoneList(ctx, o.zones, [...path, 'zones'], '`zones`');
    if (zones === '*')
      c.error(
        [...path, 'zones'],
        'invalid_value',
        'use a list of zone names in a selector; omit `zones` for any zone',
      );
    else term.zones = zones;
  }
  if (o.not !== undefined) {
    if (depth > 0) c.error([...path, 'not'], 'invalid_value', '`not` cannot be nested inside `not`');
    else {
      const inner = selectorTerm(ctx, o.not, [...path, 'not'], depth + 1);
      if (inner) term.not = inner;
    }
  }
  if (Object.keys(o).length === 0)
    c.error(path, 'invalid_value', 'an empty selector matches everything: write `"*"` instead');
  return term;
}

/** Validates an exact SPIFFE ID or a SPIFFE ID pattern whose path may hold globs. */
function spiffePatternProblem(pattern: string): string | undefined {
  if (!hasWildcard(pattern)) {
    try {
      parseSpiffeId(pattern);
      return undefined;
    } catch (e) {
      return isGatehouseError(e) ? e.message : `invalid SPIFFE ID \`${pattern}\``;
    }
  }
  const m = /^spiffe:\/\/([^/]+)(\/.*)?$/.exec(pattern);
  if (!m)
    return `invalid SPIFFE ID pattern \`${pattern}\`: must be \`spiffe://<trust domain>/<path with * or **>\``;
  const td = trustDomainProblem(m[1]!);
  if (td) return `invalid SPIFFE ID pattern \`${pattern}\`: ${td}; wildcards are allowed only in the path`;
  try {
    compilePathGlob(m[2] ?? '');
  } catch (e) {
    return isGatehouseError(e)
      ? e.message.replace('path pattern', 'SPIFFE ID pattern')
      : `invalid SPIFFE ID pattern \`${pattern}\``;
  }
  return undefined;
}

function selector(ctx: RuleContext, v: unknown, path: PathSegment[], ruleId: string): Selector {
  if (v === undefined) {
    ctx.c.error(
      path.slice(0, -1),
      'missing_field',
      `rule \`${ruleId}\` needs \`from\`: a selector or \`"*"\``,
      ruleId,
    );
    return [];
  }
  if (v === '*') return '*';
  const items = Array.isArray(v) ? v : [v];
  const out: SelectorTerm[] = [];
  items.forEach((item, i) => {
    if (item === '*')
      return ctx.c.error(
        Array.isArray(v) ? [...path, i] : path,
        'invalid_value',
        '`"*"` must stand alone, not inside a list',
      );
    const t = selectorTerm(ctx, item, Array.isArray(v) ? [...path, i] : path, 0);
    if (t) out.push(t);
  });
  if (items.length === 0) ctx.c.error(path, 'invalid_value', '`from` must not be empty');
  return out;
}

function target(ctx: RuleContext, v: unknown, path: PathSegment[], ruleId: string): Target {
  const { c } = ctx;
  if (v === undefined) {
    c.error(path.slice(0, -1), 'missing_field', `rule \`${ruleId}\` needs \`to\`: a service`, ruleId);
    return { services: [] };
  }
  const o = c.object(v, path, '`to`', ['service', 'services', 'ports']);
  if (!o) return { services: [] };
  let services: '*' | string[] = [];
  if (o.service !== undefined && o.services !== undefined)
    c.error(path, 'invalid_value', 'use either `service` or `services`, not both');
  const raw = o.service ?? o.services;
  const key = o.service !== undefined ? 'service' : 'services';
  if (raw === undefined) c.error(path, 'missing_field', `rule \`${ruleId}\` needs \`to.service\``, ruleId);
  else if (raw === '*') services = '*';
  else {
    const list = typeof raw === 'string' ? [raw] : (c.list(raw, [...path, key], '`services`') ?? []);
    if (Array.isArray(raw) && raw.length === 0) {
      c.error(
        [...path, key],
        'invalid_value',
        '`services` must not be empty: name a service or use `"*"`',
        ruleId,
      );
    }
    list.forEach((s, i) => {
      const at = typeof raw === 'string' ? [...path, key] : [...path, key, i];
      if (typeof s !== 'string') return c.error(at, 'invalid_type', 'a service name must be a string');
      if (s === '*') return c.error(at, 'invalid_value', '`"*"` must stand alone, not inside a list', ruleId);
      if (!ctx.serviceByName.has(s)) {
        return c.warn(
          at,
          'unknown_reference',
          `unknown service \`${s}\`: the rule does not apply to it`,
          ruleId,
        );
      }
      (services as string[]).push(s);
    });
  }
  const t: Target = { services };
  if (o.ports !== undefined) {
    const ports = parsePorts(c, o.ports, [...path, 'ports']);
    if (ports) t.ports = ports;
  }
  return t;
}

function validateFlowRule(ctx: RuleContext, v: unknown, path: PathSegment[]): FlowRule | undefined {
  const o = ctx.c.object(v, path, 'a flow rule', [...COMMON_RULE_FIELDS, 'from', 'to']);
  if (!o) return undefined;
  const rule = ruleBase(ctx, o, path) as FlowRule;
  rule.layer = 'flow';
  rule.from = selector(ctx, o.from, [...path, 'from'], rule.id);
  rule.to = target(ctx, o.to, [...path, 'to'], rule.id);
  return rule;
}

function validatePermissionRule(
  ctx: RuleContext,
  v: unknown,
  path: PathSegment[],
): PermissionRule | undefined {
  const { c } = ctx;
  const o = c.object(v, path, 'a permission rule', [...COMMON_RULE_FIELDS, 'from', 'to', 'actions', 'when']);
  if (!o) return undefined;
  const base = ruleBase(ctx, o, path);
  const to = target(ctx, o.to, [...path, 'to'], base.id);
  const actions: ActionMatch[] = [];
  if (Array.isArray(o.actions) && o.actions.length === 0) {
    c.error(
      [...path, 'actions'],
      'invalid_value',
      '`actions` must not be empty: omit it for every action',
      base.id,
    );
  }
  if (o.actions !== undefined && o.actions !== '*') {
    c.list(o.actions, [...path, 'actions'], '`actions`')?.forEach((a, i) => {
      const at = [...path, 'actions', i];
      const ao = c.object(a, at, 'an action', ['methods', 'paths', 'prefixes', 'operations']);
      if (!ao) return;
      const http = parseHttpMatch(c, ao, at);
      const operations: string[] = [];
      if (ao.operations !== undefined) {
        if (ao.methods !== undefined || ao.paths !== undefined || ao.prefixes !== undefined) {
          c.error(
            at,
            'invalid_value',
            'an action names either `operations` or `methods`/`paths`/`prefixes`, not both',
            base.id,
          );
        }
        if (Array.isArray(ao.operations) && ao.operations.length === 0) {
          c.error([...at, 'operations'], 'invalid_value', '`operations` must not be empty', base.id);
        }
        c.list(ao.operations, [...at, 'operations'], '`operations`')?.forEach((op, j) => {
          if (typeof op !== 'string')
            return c.error([...at, 'operations', j], 'invalid_type', 'an operation name must be a string');
          if (to.services === '*') {
            return c.error(
              [...at, 'operations', j],
              'invalid_reference',
              `operation \`${op}\` needs named services in \`to\`, not \`"*"\``,
              base.id,
            );
          }
          for (const s of to.services) {
            if (!ctx.serviceByName.get(s)!.operations.has(op)) {
              c.error(
                [...at, 'operations', j],
                'invalid_reference',
                `service \`${s}\` has no operation \`${op}\``,
                base.id,
              );
            }
          }
          operations.push(op);
        });
      }
      actions.push({ methods: http.methods, paths: http.paths, prefixes: http.prefixes, operations });
    });
  }
  const rule = base as PermissionRule;
  rule.layer = 'permission';
  rule.from = selector(ctx, o.from, [...path, 'from'], base.id);
  rule.to = to;
  rule.actions = actions;
  if (o.when !== undefined) {
    if (typeof o.when !== 'string' || o.when.trim() === '') {
      c.error([...path, 'when'], 'invalid_type', '`when` must be a CEL expression string', base.id);
    } else {
      try {
        compileConditionOnce(o.when);
        rule.when = o.when;
      } catch (e) {
        const message = isGatehouseError(e) ? e.message : `invalid condition \`${o.when}\``;
        c.error([...path, 'when'], 'invalid_condition', message, base.id);
      }
    }
  }
  return rule;
}
