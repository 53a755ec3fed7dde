/**
 * The certificate chain a TLS peer presented, as DER, leaf first: what the
 * X.509-SVID verifier takes. Node links each certificate to its issuer and
 * the last one to itself; the walk stops there, or after a bounded number
 * of links (a peer's chain is short, and the list must not be cyclic or long).
 */
import type { Socket } from 'node:net';
import { TLSSocket, type DetailedPeerCertificate } from 'node:tls';

const MAX_CHAIN = 8;

/** The DER chain that starts at `leaf`, as `getPeerCertificate(true)` gave it. */
export function chainFromPeer(leaf: DetailedPeerCertificate): Buffer[] {
  const chain: Buffer[] = [];
  for (let c: DetailedPeerCertificate | undefined = leaf; c?.raw && chain.length <= MAX_CHAIN;) {
    chain.push(c.raw);
    const issuer: DetailedPeerCertificate | undefined = c.issuerCertificate;
    if (issuer === c || issuer?.fingerprint256 === c.fingerprint256) break;
    c = issuer;
  }
  return chain;
}

/** Each TLS connection's chain, read once: the same list for every request on it. */
const chains = new WeakMap<TLSSocket, readonly Buffer[]>();
const NONE: readonly Buffer[] = Object.freeze([]);

/**
 * The chain the peer of `socket` presented; empty over plain TCP or when it
 * presented none. The same list (the same object) for every request on one
 * connection, so that what was verified of it can be remembered by it
 * (`IdentityAuthority.verifyX509Svid`) for as long as the connection lives.
 */
export function peerCertificateChain(socket: Socket): readonly Buffer[] {
  if (!(socket instanceof TLSSocket)) return NONE;
  let chain = chains.get(socket);
  if (chain === undefined) {
    const leaf = socket.getPeerCertificate(true);
    chain = leaf?.raw ? Object.freeze(chainFromPeer(leaf)) : NONE;
    chains.set(socket, chain);
  }
  return chain;
}
