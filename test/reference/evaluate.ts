/**
 * The reference evaluator: the meaning of a policy written as plainly as
 * possible. A loop over every rule of every layer, no indexes, no caches, no
 * compiled closures; CEL through cel-js's own evaluator; CIDRs through BigInt
 * arithmetic; globs through a recursive segment matcher. The compiled engine
 * must agree with it on every input (test/differential/).
 */
import { conditionEnvironment } from '../../src/core/policy/cel/environment.js';
import type { Decision, DecisionRequest, LayerVerdict } from '../../src/core/decision/index.js';
import { normalizeRequestPath } from '../../src/core/decision/index.js';
import type {
  ActionMatch,
  HttpActionMatch,
  LayerName,
  Policy,
  PortSpec,
  Selector,
  SelectorTerm,
  Service,
} from '../../src/core/policy/index.js';

// ---- addresses, the slow and obvious way ---------------------------------

function ipToBigInt(text: string): { family: 4 | 6; value: bigint } | undefined {
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(text)) {
    const parts = text.split('.');
    if (parts.some((p) => (p.length > 1 && p.startsWith('0')) || Number(p) > 255)) return undefined;
    return { family: 4, value: parts.reduce((acc, p) => acc * 256n + BigInt(p), 0n) };
  }
  if (!text.includes(':') || text.includes('%')) return undefined;
  let head = text;
  let tailV4: bigint | undefined;
  const lastColon = text.lastIndexOf(':');
  if (text.slice(lastColon + 1).includes('.')) {
    const v4 = ipToBigInt(text.slice(lastColon + 1));
    if (!v4 || v4.family !== 4) return undefined;
    tailV4 = v4.value;
    head = text.slice(0, lastColon + 1) + '0:0';
  }
  const halves = head.split('::');
  if (halves.length > 2) return undefined;
  const left = halves[0] ? halves[0].split(':') : [];
  const right = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const missing = 8 - left.length - right.length;
  if (halves.length === 1 ? left.length !== 8 : missing < 1) return undefined;
  const groups = [...left, ...Array(halves.length === 2 ? missing : 0).fill('0'), ...right];
  if (groups.some((g) => !/^[0-9a-fA-F]{1,4}$/.test(g))) return undefined;
  let value = groups.reduce((acc, g) => acc * 65536n + BigInt(parseInt(g, 16)), 0n);
  if (tailV4 !== undefined) value = ((value >> 32n) << 32n) | tailV4;
  // RFC 4291 §2.5.5.2: IPv4-mapped addresses are IPv4.
  if (value >> 32n === 0xffffn) return { family: 4, value: value & 0xffffffffn };
  return { family: 6, value };
}

function inCidr(cidr: string, ip: string): boolean {
  const [base, lenText] = cidr.split('/') as [string, string];
  const b = ipToBigInt(base);
  const a = ipToBigInt(ip);
  if (!b || !a) return false;
  let len = Number(lenText);
  if (b.family === 4 && base.includes(':')) len -= 96;
  if (a.family !== b.family) return false;
  const bits = b.family === 4 ? 32 : 128;
  const shift = BigInt(bits - len);
  return a.value >> shift === b.value >> shift;
}

// ---- globs: recursive, segment by segment --------------------------------

function segmentMatches(pattern: string, segment: string): boolean {
  if (pattern === '*' || /^\{[A-Za-z_][A-Za-z0-9_]*\}$/.test(pattern)) return segment.length > 0;
  if (!pattern.includes('*')) return pattern === segment;
  const parts = pattern.split('*');
  if (!segment.startsWith(parts[0]!)) return false;
  let at = parts[0]!.length;
  for (let i = 1; i < parts.length - 1; i++) {
    const found = segment.indexOf(parts[i]!, at);
    if (found === -1) return false;
    at = found + parts[i]!.length;
  }
  const last = parts[parts.length - 1]!;
  return segment.length - at >= last.length && segment.endsWith(last);
}

function globMatches(pattern: string[], path: string[]): boolean {
  if (pattern.length === 0) return path.length === 0;
  const [p, ...rest] = pattern as [string, ...string[]];
  if (p === '**') {
    for (let k = 0; k <= path.length; k++) if (globMatches(rest, path.slice(k))) return true;
    return false;
  }
  return path.length > 0 && segmentMatches(p, path[0]!) && globMatches(rest, path.slice(1));
}

const split = (path: string) => (path === '' ? [] : path.slice(1).split('/'));
export const pathGlob = (pattern: string, path: string) => globMatches(split(pattern), split(path));

// ---- the policy, literally ----------------------------------------------

interface Facts {
  spiffeId: string;
  trustDomain: string;
  path: string;
  valid: boolean;
  labels: Record<string, string>;
  zone: string;
}

function termMatches(term: SelectorTerm, f: Facts): boolean {
  if (term.spiffeId !== undefined) {
    if (!/[*{]/.test(term.spiffeId)) {
      if (term.spiffeId !== f.spiffeId) return false;
    } else {
      const m = /^spiffe:\/\/([^/]+)(\/.*)?$/.exec(term.spiffeId)!;
      if (m[1] !== f.trustDomain || !pathGlob(m[2] ?? '', f.path)) return false;
    }
  }
  if (term.labels) for (const [k, v] of Object.entries(term.labels)) if (f.labels[k] !== v) return false;
  if (term.zones && !term.zones.includes(f.zone)) return false;
  if (term.not && termMatches(term.not, f)) return false;
  return true;
}

function selectorMatches(sel: Selector, f: Facts): boolean {
  if (sel === '*') return true;
  return sel.some((t) => termMatches(t, f));
}

function portMatches(
  spec: PortSpec | undefined,
  svc: Service | undefined,
  port: number | undefined,
): boolean {
  const effective = spec ?? svc?.ports ?? '*';
  if (effective === '*') return true;
  if (port === undefined) return false;
  return effective.some((r) => port >= r.from && port <= r.to);
}

interface Act {
  method?: string | undefined;
  path?: string | undefined;
  operation?: string | undefined;
}

function httpMatches(m: HttpActionMatch, a: Act): boolean {
  if (m.methods !== '*' && (a.method === undefined || !m.methods.includes(a.method))) return false;
  if (m.paths.length === 0 && m.prefixes.length === 0) return true;
  if (a.path === undefined) return false;
  return m.paths.some((p) => pathGlob(p, a.path!)) || m.prefixes.some((p) => a.path!.startsWith(p));
}

function actionsMatch(actions: ActionMatch[], svc: Service | undefined, a: Act): boolean {
  if (actions.length === 0) return true;
  return actions.some((action) =>
    action.operations.length
      ? action.operations.some(
          (op) =>
            a.operation === op ||
            ((a.method !== undefined || a.path !== undefined) &&
              (svc?.operations.get(op) ?? []).some((m) => httpMatches(m, a))),
        )
      : httpMatches(action, a),
  );
}

export type ConditionOracle = (expression: string, activation: Record<string, unknown>) => boolean | 'error';

/**
 * Plain cel-js evaluation in the policy environment (its own evaluator, not the
 * compiled closures): a non-bool result or any exception is an error.
 */
export const celJsOracle: ConditionOracle = (expression, activation) => {
  try {
    const v = conditionEnvironment.evaluate(expression, activation);
    return typeof v === 'boolean' ? v : 'error';
  } catch {
    return 'error';
  }
};

function verdict(denies: string[], allows: string[]): LayerVerdict {
  if (denies.length) return { verdict: 'deny', reason: 'deny_rule', rules: denies };
  if (allows.length) return { verdict: 'allow', reason: 'allow_rule', rules: allows };
  return { verdict: 'deny', reason: 'default_deny', rules: [] };
}

export interface ReferenceOptions {
  now: number;
  /** Evaluates CEL; defaults to cel-js's own evaluator. */
  condition?: ConditionOracle;
}

export type ReferenceDecision = Pick<
  Decision,
  | 'decision'
  | 'allowed'
  | 'enforced'
  | 'mode'
  | 'wouldDeny'
  | 'layer'
  | 'reason'
  | 'rules'
  | 'layers'
  | 'errors'
  | 'sourceZone'
  | 'destinationZone'
>;

export function referenceDecide(
  policy: Policy,
  req: DecisionRequest,
  options: ReferenceOptions,
): ReferenceDecision {
  const oracle = options.condition ?? celJsOracle;
  const now = req.time !== undefined ? Date.parse(req.time) : options.now;
  const svc = policy.services.find((s) => s.name === req.destination.service);
  const mode = svc?.mode ?? 'enforce';
  const invalid = (): ReferenceDecision => {
    const nv: LayerVerdict = { verdict: 'deny', reason: 'request_invalid', rules: [] };
    return {
      decision: 'deny',
      allowed: false,
      enforced: true,
      mode: 'enforce',
      wouldDeny: false,
      layer: 'credential',
      reason: 'request_invalid',
      rules: [],
      layers: { credential: nv, zone: nv, flow: nv, permission: nv },
      errors: [],
      sourceZone: 'unknown',
      destinationZone: 'unknown',
    };
  };

  // Source zone: the longest matching prefix of any zone.
  let sourceZone = 'unknown';
  let best = -1;
  if (req.source.ip !== undefined) {
    for (const z of policy.zones) {
      for (const c of z.cidrs) {
        if (inCidr(c, req.source.ip)) {
          const len =
            Number(c.split('/')[1]) -
            (c.includes(':') && ipToBigInt(c.split('/')[0]!)?.family === 4 ? 96 : 0);
          if (len > best) {
            best = len;
            sourceZone = z.name;
          }
        }
      }
    }
  }
  const destinationZone = svc?.zone ?? 'unknown';

  const m = /^spiffe:\/\/([a-z0-9._-]+)((?:\/[A-Za-z0-9._-]+)*)$/.exec(req.source.spiffeId);
  const valid =
    !!m &&
    !split(m[2] ?? '').some((s) => s === '.' || s === '..') &&
    req.source.spiffeId.length <= 2048 &&
    m[1]!.length <= 255;
  const inventory = policy.workloads.find((w) => w.spiffeId === req.source.spiffeId);
  const facts: Facts = {
    spiffeId: req.source.spiffeId,
    trustDomain: valid ? m![1]! : '',
    path: valid ? (m![2] ?? '') : '',
    valid,
    labels: valid ? { ...(req.source.labels ?? {}), ...(inventory?.labels ?? {}) } : {},
    zone: sourceZone,
  };

  let path = req.action?.path;
  if (path !== undefined) {
    path = normalizeRequestPath(path);
    if (path === undefined) return invalid();
  }
  const act: Act = { method: req.action?.method, path, operation: req.action?.operation };

  // Credential.
  let credential: LayerVerdict;
  const c = req.credential;
  const cred = (reason: LayerVerdict['reason']): LayerVerdict => ({
    verdict: reason === 'credential_valid' ? 'allow' : 'deny',
    reason,
    rules: [],
  });
  if (!req.source.spiffeId) credential = cred('identity_missing');
  else if (!valid) credential = cred('identity_invalid');
  else if (
    facts.trustDomain !== policy.trustDomain &&
    !policy.federatedTrustDomains.includes(facts.trustDomain)
  )
    credential = cred('foreign_trust_domain');
  else if (!c) credential = cred('credential_missing');
  else if (c.verified !== true) credential = cred('credential_unverified');
  else if (c.revoked === true) credential = cred('credential_revoked');
  else if (c.expiresAt !== undefined && !(now < Date.parse(c.expiresAt)))
    credential = cred('credential_expired');
  else if (c.notBefore !== undefined && !(now >= Date.parse(c.notBefore)))
    credential = cred('credential_not_yet_valid');
  else if (c.type === 'grant' && !grantCovers(c.scope, req.destination.service, act))
    credential = cred('grant_out_of_scope');
  else credential = cred('credential_valid');

  const live = (r: { expires?: string }) => r.expires === undefined || now < Date.parse(r.expires);

  // Zone.
  const zd: string[] = [];
  const za: string[] = [];
  for (const r of policy.segmentation) {
    const fromOk = r.from === '*' ? sourceZone !== 'unknown' : r.from.includes(sourceZone);
    const toOk = r.to === '*' ? destinationZone !== 'unknown' : r.to.includes(destinationZone);
    if (fromOk && toOk && live(r)) (r.effect === 'deny' ? zd : za).push(r.id);
  }
  const zone = verdict(zd, za);

  const targets = (to: { services: '*' | string[] }) =>
    to.services === '*' || (svc !== undefined && to.services.includes(svc.name));

  // Flow.
  const fd: string[] = [];
  const fa: string[] = [];
  for (const r of policy.flows) {
    if (
      !targets(r.to) ||
      !portMatches(r.to.ports, r.to.services === '*' ? undefined : svc, req.destination.port)
    )
      continue;
    if (!selectorMatches(r.from, facts) || !live(r)) continue;
    (r.effect === 'deny' ? fd : fa).push(r.id);
  }
  const flow = verdict(fd, fa);

  // Permission.
  const pd: string[] = [];
  const pa: string[] = [];
  const errors: ReferenceDecision['errors'][number][] = [];
  for (const r of policy.permissions) {
    const ruleSvc = r.to.services === '*' ? undefined : svc;
    if (!targets(r.to) || !portMatches(r.to.ports, ruleSvc, req.destination.port)) continue;
    if (!actionsMatch(r.actions, ruleSvc, act) || !selectorMatches(r.from, facts) || !live(r)) continue;
    if (r.when !== undefined) {
      const result = oracle(r.when, activation(req, facts, sourceZone, destinationZone, act, now));
      if (result === false) continue;
      if (result === 'error') {
        errors.push({
          layer: 'permission',
          ruleId: r.id,
          effect: r.effect,
          outcome: r.effect === 'deny' ? 'matched' : 'not_matched',
          error: '',
        });
        if (r.effect === 'allow') continue;
      }
    }
    (r.effect === 'deny' ? pd : pa).push(r.id);
  }
  const permission = verdict(pd, pa);

  const layers: Record<LayerName, LayerVerdict> = { credential, zone, flow, permission };
  const order: LayerName[] = ['credential', 'zone', 'flow', 'permission'];
  const deciding = order.find((l) => layers[l].verdict === 'deny') ?? 'permission';
  const v = layers[deciding];
  const enforced = mode === 'enforce';
  return {
    decision: v.verdict,
    allowed: v.verdict === 'allow' || !enforced,
    enforced,
    mode,
    wouldDeny: v.verdict === 'deny' && !enforced,
    layer: deciding,
    reason: v.reason,
    rules: v.rules,
    layers,
    errors,
    sourceZone,
    destinationZone,
  };
}

function activation(
  req: DecisionRequest,
  f: Facts,
  sourceZone: string,
  destinationZone: string,
  act: Act,
  now: number,
): Record<string, unknown> {
  const source: Record<string, unknown> = {
    spiffeId: f.spiffeId,
    trustDomain: f.trustDomain,
    path: f.path,
    labels: f.labels,
    zone: sourceZone,
  };
  if (req.source.ip !== undefined) source.ip = req.source.ip;
  const credential: Record<string, unknown> = {};
  if (req.credential) {
    credential.type = req.credential.type;
    if (req.credential.id !== undefined) credential.id = req.credential.id;
    if (req.credential.issuedAt !== undefined) {
      credential.issuedAt = new Date(Date.parse(req.credential.issuedAt));
      credential.ageSeconds = (now - Date.parse(req.credential.issuedAt)) / 1000;
    }
    if (req.credential.expiresAt !== undefined) {
      credential.expiresAt = new Date(Date.parse(req.credential.expiresAt));
      credential.ttlSeconds = (Date.parse(req.credential.expiresAt) - now) / 1000;
    }
  }
  const destination: Record<string, unknown> = { service: req.destination.service, zone: destinationZone };
  if (req.destination.port !== undefined) destination.port = req.destination.port;
  const action: Record<string, unknown> = {};
  if (act.method !== undefined) action.method = act.method;
  if (act.path !== undefined) action.path = act.path;
  if (act.operation !== undefined) action.operation = act.operation;
  return { source, credential, destination, action, context: req.context ?? {}, time: new Date(now) };
}

// ---- JIT grant scope: empty lists constrain nothing; operations alone admit only named operations
function grantCovers(
  scope: { service: string; methods?: string[]; paths?: string[]; operations?: string[] } | undefined,
  service: string,
  act: Act,
): boolean {
  if (!scope || scope.service !== service) return false;
  const methods = scope.methods ?? [];
  const paths = scope.paths ?? [];
  const operations = scope.operations ?? [];
  if (methods.length + paths.length + operations.length === 0) return true;
  if (act.operation !== undefined && operations.includes(act.operation)) return true;
  if (methods.length + paths.length === 0) return false;
  const methodOk = methods.length === 0 || (act.method !== undefined && methods.includes(act.method));
  const pathOk = paths.length === 0 || (act.path !== undefined && paths.some((p) => pathGlob(p, act.path!)));
  return methodOk && pathOk;
}
