/**
 * Names for identities and for the rules rollout tools propose.
 */

/** A SPIFFE ID of the trust domain as its path (`/ns/shop/sa/web`); anything else as it is. */
export function shortIdentity(id: string, trustDomain: string): string {
  const own = `spiffe://${trustDomain}/`;
  return id.startsWith(own) ? id.slice(own.length - 1) : id;
}

/** The last, most specific part of an identity or name, as a rule id may hold it. */
function idPart(name: string): string {
  const last = name.replace(/\/+$/, '').split('/').pop() ?? name;
  const clean = last
    .toLowerCase()
    .replace(/[^a-z0-9.-]+/g, '-')
    .replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, '');
  return clean || 'x';
}

/** A rule id such as `flow-refund-worker-to-payments`; valid as a policy rule id. */
export function ruleIdFor(kind: 'seg' | 'flow' | 'perm', from: string, to: string): string {
  return `${kind}-${idPart(from)}-to-${idPart(to)}`;
}
