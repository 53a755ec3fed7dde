/**
 * Gatehouse as an outside engine of the shared peer harness
 * (`<shared>/bench/bench.mjs --adapter bench/peer-adapter.mjs`): the harness's
 * workload (`gatehouse-peer-workload/v1`) becomes one v1 policy document,
 * compiled once with the public `compilePolicy`; every harness request becomes
 * a decision request on each call, as an enforcement point would build it.
 *
 * Translation (workload semantics: the harness's README and lib/reference.mjs):
 * - zones -> zones (`cidrs: [cidr]`); services -> services in their zone with
 *   `ports: "*"`, so that a wrong-port request still reaches the permission
 *   layer, where the rule's own port is checked; workloads -> the inventory.
 * - The credential, zone and flow layers let through everything the workload
 *   allows: a verified X.509-SVID, one segmentation rule from every zone and
 *   one from `unknown` to every zone, one flow rule from anyone to any port of
 *   any service. A foreign trust domain (`spiffe://partner.example/...`) is
 *   denied by the credential layer with no rules; the reference denies it with
 *   no rules too, since no exact, namespace or label selector can match it.
 * - Each workload rule -> one permission rule, same id and effect:
 *   - spiffe -> `{spiffeId: id}`; labels -> `{labels}` (inventory labels only,
 *     like the reference); namespace `spiffe://<td>/ns/<ns>/` prefix ->
 *     `{spiffeId: "spiffe://<td>/ns/<ns>/**"}`. The glob also matches the bare
 *     `spiffe://<td>/ns/<ns>`, and Gatehouse refuses malformed SPIFFE IDs
 *     (`.../ns/x//y`) that a raw prefix test would accept; the generator makes
 *     neither (every source is `spiffe://<td>/ns/<ns>/sa/<name>`), so for its
 *     requests the two agree.
 *   - destination -> `{service, ports: [port]}`, `"*"` -> `{service: "*", ports: "*"}`.
 *   - actions -> `{methods: [M] | "*", prefixes: [pathPrefix]}` (raw string
 *     prefixes, as in the workload; the generator's paths are already normal).
 *   - conditions -> one CEL `when`, joined with `&&`. Request numbers are JSON
 *     doubles in CEL; comparing them with int literals (`<`, `>=`, `==`, `in`
 *     over a list of ints) is numeric, so `3.0 in [1, 2, 3]` holds as in the
 *     reference. `sourceIp inCidr X` -> `cidr("X").containsIP(source.ip)`.
 *   A condition outside this vocabulary is refused at load time, never dropped.
 *
 * Decision ids are on (what an enforcement point pays) unless
 * `GATEHOUSE_BENCH_DECISION_IDS=off` or `load(w, {ids: false})`.
 */
import { readFileSync } from 'node:fs';
import { compilePolicy } from '../dist/index.js';

const VERSION = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version;
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A CEL literal for a condition value of the workload (bool, number, string or a list of those). */
function celLiteral(value) {
  if (typeof value === 'boolean') return String(value);
  if (typeof value === 'number' && Number.isInteger(value)) return String(value);
  if (typeof value === 'number' && Number.isFinite(value)) return String(value); // has `.` or `e`: a double
  // JSON string escapes are valid CEL string escapes for printable text.
  if (typeof value === 'string' && /^[\x20-\x7e]*$/.test(value)) return JSON.stringify(value);
  if (Array.isArray(value) && value.length > 0) {
    const kinds = new Set(value.map((v) => typeof v));
    if (kinds.size === 1) return `[${value.map(celLiteral).join(', ')}]`;
  }
  throw new Error(`value ${JSON.stringify(value)} has no CEL literal here`);
}

/** One workload condition as a CEL expression. */
export function conditionToCel(condition) {
  const { attr, op, value } = condition;
  if (attr === 'sourceIp') {
    if (op !== 'inCidr' || typeof value !== 'string') {
      throw new Error(`condition ${JSON.stringify(condition)} is not translated`);
    }
    return `cidr(${celLiteral(value)}).containsIP(source.ip)`;
  }
  const name = attr.startsWith('context.') ? attr.slice('context.'.length) : undefined;
  if (name === undefined || !IDENTIFIER.test(name)) throw new Error(`unknown condition attribute ${attr}`);
  switch (op) {
    case '==':
    case '<':
    case '>=':
      if (Array.isArray(value)) break;
      return `context.${name} ${op} ${celLiteral(value)}`;
    case 'in':
      if (!Array.isArray(value)) break;
      return `context.${name} in ${celLiteral(value)}`;
  }
  throw new Error(`condition ${JSON.stringify(condition)} is not translated`);
}

function selectorOf(rule, trustDomain) {
  const src = rule.source;
  if (src.type === 'spiffe') return [{ spiffeId: src.id }];
  if (src.type === 'labels') return [{ labels: { ...src.labels } }];
  if (src.type === 'namespace') {
    const prefix = `spiffe://${trustDomain}/ns/${src.namespace}/`;
    if (src.prefix !== prefix) {
      throw new Error(`rule ${rule.id}: namespace prefix \`${src.prefix}\` is not \`${prefix}\``);
    }
    return [{ spiffeId: `${prefix}**` }];
  }
  throw new Error(`rule ${rule.id}: unknown source selector type ${src.type}`);
}

function permissionOf(rule, trustDomain) {
  if (rule.effect !== 'allow' && rule.effect !== 'deny') {
    throw new Error(`rule ${rule.id}: unknown effect ${rule.effect}`);
  }
  const dst = rule.destination;
  const to = dst.service === '*' ? { service: '*', ports: '*' } : { service: dst.service, ports: [dst.port] };
  const permission = {
    id: rule.id,
    effect: rule.effect,
    from: selectorOf(rule, trustDomain),
    to,
    actions: rule.actions.map((a) => ({
      methods: a.method === '*' ? '*' : [a.method],
      prefixes: [a.pathPrefix],
    })),
  };
  if (rule.conditions.length) permission.when = rule.conditions.map(conditionToCel).join(' && ');
  return permission;
}

/** The workload as a Gatehouse v1 policy document (a plain object). */
export function workloadToPolicy(workload) {
  const trustDomain = workload.trustDomain;
  const zones = {};
  for (const z of workload.zones) zones[z.name] = { cidrs: [z.cidr] };
  const services = {};
  for (const s of workload.services) services[s.name] = { zone: s.zone, ports: '*', mode: 'enforce' };
  return {
    apiVersion: 'gatehouse.dev/v1',
    kind: 'Policy',
    metadata: { name: `peer-workload-${workload.size}-s${workload.seed}` },
    trustDomain,
    zones,
    services,
    workloads: workload.workloads.map((w) => ({ spiffeId: w.id, labels: { ...w.labels } })),
    segmentation: [
      { id: 'bench-zones-any', effect: 'allow', from: '*', to: '*' },
      { id: 'bench-zones-unknown', effect: 'allow', from: ['unknown'], to: '*' },
    ],
    flows: [{ id: 'bench-flows-any', effect: 'allow', from: '*', to: { service: '*', ports: '*' } }],
    permissions: workload.rules.map((r) => permissionOf(r, trustDomain)),
  };
}

/**
 * The credential of every harness request: the workload has none, and an enforcement point that
 * terminated mTLS vouches for the peer's X.509-SVID. The same for all, so made once.
 */
const VERIFIED_X509 = Object.freeze({ type: 'x509-svid', verified: true });

/** One harness request as the decision request an enforcement point sends. */
export function toDecisionRequest(r) {
  return {
    source: { spiffeId: r.source, ip: r.sourceIp },
    credential: VERIFIED_X509,
    destination: { service: r.service, port: r.port },
    action: { method: r.method, path: r.path },
    context: r.context,
  };
}

/**
 * The harness's adapter: `{engine, translateMs, compileMs, notes, decide, explain, errors}`.
 * `errors()` counts decisions that carry condition failures or could not be evaluated.
 */
export async function load(workload, options = {}) {
  if (workload.format !== 'gatehouse-peer-workload/v1') {
    throw new Error(`unsupported workload format ${String(workload.format)}`);
  }
  const ids = options.ids ?? process.env.GATEHOUSE_BENCH_DECISION_IDS !== 'off';
  const t0 = performance.now();
  const policy = workloadToPolicy(workload);
  const t1 = performance.now();
  const compiled = compilePolicy(policy, ids ? {} : { ids: false });
  const t2 = performance.now();

  let errors = 0;
  const decideOne = (r) => {
    const d = compiled.decide(toDecisionRequest(r));
    if (d.errors.length !== 0 || d.reason === 'internal_error' || d.reason === 'request_invalid') errors++;
    return d;
  };
  return {
    engine: `gatehouse ${VERSION}${ids ? '' : ' (no decision ids)'}`,
    translateMs: t1 - t0,
    compileMs: t2 - t1,
    notes:
      `${policy.permissions.length} permission rules, ${workload.workloads.length} workloads, ` +
      `${workload.services.length} services; decision ids ${ids ? 'on' : 'off'}`,
    decide: (r) => decideOne(r).allowed,
    explain: (r) => {
      const d = decideOne(r);
      // Deciding rules of the permission layer only: the other layers' rules are the translation's scaffolding.
      return { decision: d.decision, rules: d.layer === 'permission' ? [...d.rules] : [] };
    },
    errors: () => errors,
  };
}
