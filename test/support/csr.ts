/**
 * PKCS#10 certificate requests for tests: what a workload sends to have its
 * own key certified (attestation, renewal, `POST /v1/svid/x509`).
 */
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { webcrypto, x509 } from '../../src/core/identity/x509-library.js';

/** A PKCS#10 request for an ECDSA P-256 private key, self-signed with it. */
export async function csrFor(privateKeyPem: string): Promise<string> {
  const privateKey = createPrivateKey(privateKeyPem);
  const algorithm = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const subtle = webcrypto.subtle;
  const keys = {
    privateKey: await subtle.importKey(
      'pkcs8',
      privateKey.export({ type: 'pkcs8', format: 'der' }),
      algorithm,
      false,
      ['sign'],
    ),
    publicKey: await subtle.importKey(
      'spki',
      createPublicKey(privateKey).export({ type: 'spki', format: 'der' }),
      algorithm,
      true,
      ['verify'],
    ),
  };
  const csr = await x509.Pkcs10CertificateRequestGenerator.create(
    { name: 'CN=workload', keys, signingAlgorithm: algorithm },
    webcrypto,
  );
  return csr.toString('pem');
}
