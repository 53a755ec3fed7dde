/**
 * A validated policy written back as a v1 policy document (one merged file):
 * what a proposal built from the model is saved as. Every field keeps its
 * meaning; comments, file layout and equivalent spellings of the original are
 * not kept.
 */
import type {
  ActionMatch,
  HttpActionMatch,
  Policy,
  PortSpec,
  Selector,
  SelectorTerm,
  Target,
} from '../../policy/model.js';

type Doc = Record<string, unknown>;

export function portsToDocument(spec: PortSpec): '*' | (number | string)[] {
  if (spec === '*') return '*';
  return spec.map((r) => (r.from === r.to ? r.from : `${r.from}-${r.to}`));
}

export function termToDocument(term: SelectorTerm): string | Doc {
  const keys = Object.keys(term).filter((k) => term[k as keyof SelectorTerm] !== undefined);
  if (keys.length === 1 && term.spiffeId !== undefined) return term.spiffeId;
  const out: Doc = {};
  if (term.spiffeId !== undefined) out.spiffeId = term.spiffeId;
  if (term.labels) out.labels = { ...term.labels };
  if (term.zones) out.zones = [...term.zones];
  if (term.not) out.not = termToDocument(term.not);
  return out;
}

export function selectorToDocument(selector: Selector): '*' | (string | Doc)[] {
  return selector === '*' ? '*' : selector.map(termToDocument);
}

function targetToDocument(target: Target): Doc {
  const out: Doc = { services: target.services === '*' ? '*' : [...target.services] };
  if (target.ports !== undefined) out.ports = portsToDocument(target.ports);
  return out;
}

function httpToDocument(m: HttpActionMatch): Doc {
  const out: Doc = {};
  if (m.methods !== '*') out.methods = [...m.methods];
  if (m.paths.length) out.paths = [...m.paths];
  if (m.prefixes.length) out.prefixes = [...m.prefixes];
  return out;
}

export function actionToDocument(a: ActionMatch): Doc {
  return a.operations.length ? { operations: [...a.operations] } : httpToDocument(a);
}

function common(rule: {
  id: string;
  effect: string;
  owner?: string;
  description?: string;
  reviewBy?: string;
  expires?: string;
}): Doc {
  const out: Doc = { id: rule.id, effect: rule.effect };
  if (rule.owner !== undefined) out.owner = rule.owner;
  if (rule.description !== undefined) out.description = rule.description;
  if (rule.reviewBy !== undefined) out.reviewBy = rule.reviewBy;
  if (rule.expires !== undefined) out.expires = rule.expires;
  return out;
}

/** The policy as one v1 document; validating it gives back an equivalent policy. */
export function policyToDocument(policy: Policy): Doc {
  const doc: Doc = { apiVersion: policy.apiVersion, kind: 'Policy' };
  if (policy.name !== undefined) doc.metadata = { name: policy.name };
  doc.trustDomain = policy.trustDomain;
  if (policy.federatedTrustDomains.length) doc.federatedTrustDomains = [...policy.federatedTrustDomains];
  doc.zones = Object.fromEntries(
    policy.zones.map((z) => {
      const out: Doc = { cidrs: [...z.cidrs] };
      if (z.description !== undefined) out.description = z.description;
      return [z.name, out];
    }),
  );
  doc.services = Object.fromEntries(
    policy.services.map((s) => {
      const out: Doc = { zone: s.zone };
      if (s.ports !== '*') out.ports = portsToDocument(s.ports);
      out.mode = s.mode;
      if (s.spiffeId !== undefined) out.spiffeId = s.spiffeId;
      if (s.owner !== undefined) out.owner = s.owner;
      if (s.description !== undefined) out.description = s.description;
      if (s.operations.size)
        out.operations = Object.fromEntries(
          [...s.operations].map(([name, ms]) => [name, ms.map(httpToDocument)]),
        );
      return [s.name, out];
    }),
  );
  doc.workloads = policy.workloads.map((w) => {
    const out: Doc = { spiffeId: w.spiffeId };
    if (w.kind !== undefined) out.kind = w.kind;
    if (w.owner !== undefined) out.owner = w.owner;
    if (w.description !== undefined) out.description = w.description;
    if (Object.keys(w.labels).length) out.labels = { ...w.labels };
    return out;
  });
  doc.segmentation = policy.segmentation.map((r) => ({
    ...common(r),
    from: r.from === '*' ? '*' : [...r.from],
    to: r.to === '*' ? '*' : [...r.to],
  }));
  doc.flows = policy.flows.map((r) => ({
    ...common(r),
    from: selectorToDocument(r.from),
    to: targetToDocument(r.to),
  }));
  doc.permissions = policy.permissions.map((r) => {
    const out: Doc = { ...common(r), from: selectorToDocument(r.from), to: targetToDocument(r.to) };
    if (r.actions.length) out.actions = r.actions.map(actionToDocument);
    if (r.when !== undefined) out.when = r.when;
    return out;
  });
  return doc;
}
