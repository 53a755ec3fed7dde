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

/** The chain the peer of `socket` presented; empty over plain TCP or when it presented none. */
export function peerCertificateChain(socket: Socket): Buffer[] {
  if (!(socket instanceof TLSSocket)) return [];
  const leaf = socket.getPeerCertificate(true);
  return leaf?.raw ? chainFromPeer(leaf) : [];
}
