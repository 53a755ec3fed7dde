/**
 * Proof of possession for X.509-SVID renewal: a CSR whose self-signature
 * verifies and whose public key is the key of the presented certificate can
 * only come from the holder of that certificate's private key.
 */
import { X509Certificate } from 'node:crypto';
import { x509 } from './x509-library.js';

/** True when `csrPem` is validly self-signed by the key certified by the first certificate of `chainPem`. */
export async function csrMatchesCertificateKey(csrPem: string, chainPem: string): Promise<boolean> {
  try {
    const csr = new x509.Pkcs10CertificateRequest(csrPem);
    if (!(await csr.verify())) return false;
    const leafPem = chainPem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/)?.[0];
    if (!leafPem) return false;
    const leafKey = new X509Certificate(leafPem).publicKey.export({ type: 'spki', format: 'der' });
    return Buffer.from(csr.publicKey.rawData).equals(leafKey);
  } catch {
    return false;
  }
}
