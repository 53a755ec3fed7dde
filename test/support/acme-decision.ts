/**
 * One decision of the acme example over `POST /v1/decide`: the shop's web
 * front end reading `path` of the orders service, with mTLS (allowed) or
 * without (denied at the permission layer).
 */
import assert from 'node:assert/strict';

/** Decides, checks the answer is 200, and gives its decision id. */
export async function decideAcmeOrders(
  url: string,
  token: string,
  path: string,
  mtls = true,
): Promise<string> {
  const res = await fetch(`${url}/v1/decide`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({
      source: { spiffeId: 'spiffe://acme.corp/ns/shop/sa/web', ip: '10.10.1.20' },
      credential: { type: 'x509-svid', verified: true },
      destination: { service: 'orders', port: 8443 },
      action: { method: 'GET', path },
      context: { mtls },
    }),
  });
  assert.equal(res.status, 200);
  return ((await res.json()) as { decisionId: string }).decisionId;
}
