/**
 * The trust domain's X.509-SVID signing certificate: a self-signed CA
 * certificate for an `x509-svid` key, stored in its `certificatePem` and
 * published in the bundle (X.509-SVID §3.2, §6.1).
 */
import { GatehouseError } from '../errors.js';
import { canonicalSerial, certificateToPem, newSerialNumber, serialOctets } from './certificates.js';
import { epochMs, type Instant } from './instant.js';
import type { StoredSigningKey } from './signing-key.js';
import { loadPrivateCryptoKey, publicKeyOf, webCryptoAlgorithm } from './signing-keys.js';
import { trustDomainProblem } from './spiffe-id.js';
import { webcrypto, x509 } from './x509-library.js';

/**
 * How long a CA certificate is valid: one year. Keys rotate far sooner
 * (daily by default), so this only has to outlast a key's time in the bundle
 * — prepublication, its active period and the lifetime of the last SVID it
 * signed; SVIDs are never issued past their CA's `notAfter`.
 */
export const DEFAULT_CA_VALIDITY_SECONDS = 365 * 24 * 3600;
/** `notBefore` is set this far before `now`, for verifiers whose clocks run behind. */
export const CA_BACKDATE_SECONDS = 60;

export interface CreateTrustDomainCaOptions {
  trustDomain: string;
  /** An `x509-svid` key; its private key signs the certificate. */
  key: StoredSigningKey;
  /** Opens the key when it is stored sealed. */
  passphrase?: string;
  now: Instant;
  /** Defaults to {@link DEFAULT_CA_VALIDITY_SECONDS}. */
  validitySeconds?: number;
  /** Hex serial number; random (127 bits) when omitted. */
  serial?: string;
}

/**
 * Creates the self-signed CA certificate (PEM) of a trust domain's
 * `x509-svid` key. Subject and issuer are `CN=<trust domain>, O=Gatehouse`;
 * the certificate carries:
 * - basicConstraints `cA: true, pathLenConstraint: 0`, critical
 *   (X.509-SVID §4.1; it issues leaf SVIDs only);
 * - keyUsage `keyCertSign` and `cRLSign`, critical (X.509-SVID §4.3);
 * - subjectAltName URI `spiffe://<trust domain>` (X.509-SVID §3.2: a signing
 *   certificate SHOULD be an SVID, with no path);
 * - subject key identifier (RFC 5280 §4.2.1.2) for leaves to point at.
 *
 * It is valid from `now` minus {@link CA_BACKDATE_SECONDS} for
 * `validitySeconds` after `now`.
 * @throws GatehouseError `key_invalid` (wrong use, key will not open),
 *   `spiffe_id_invalid` (bad trust domain), `request_invalid` (bad validity or serial)
 */
export async function createTrustDomainCa(options: CreateTrustDomainCaOptions): Promise<string> {
  const { key, trustDomain } = options;
  if (key.use !== 'x509-svid') {
    throw new GatehouseError(
      'key_invalid',
      `key \`${key.kid}\` is a ${key.use} key: a CA needs an x509-svid key`,
    );
  }
  const why = trustDomainProblem(trustDomain);
  if (why) throw new GatehouseError('spiffe_id_invalid', `invalid trust domain \`${trustDomain}\`: ${why}`);
  const validity = options.validitySeconds ?? DEFAULT_CA_VALIDITY_SECONDS;
  if (!Number.isInteger(validity) || validity < 60) {
    throw new GatehouseError('request_invalid', 'CA validity must be a whole number of seconds, at least 60');
  }
  const now = Math.floor(epochMs(options.now) / 1000) * 1000;
  const spki = publicKeyOf(key).export({ type: 'spki', format: 'der' });
  const signingKey = await loadPrivateCryptoKey(key, options.passphrase);
  const name = `CN=${trustDomain}, O=Gatehouse`;
  const cert = await x509.X509CertificateGenerator.create(
    {
      serialNumber: serialOctets(
        options.serial === undefined ? newSerialNumber() : canonicalSerial(options.serial),
      ),
      subject: name,
      issuer: name,
      notBefore: new Date(now - CA_BACKDATE_SECONDS * 1000),
      notAfter: new Date(now + validity * 1000),
      publicKey: spki,
      signingKey,
      signingAlgorithm: webCryptoAlgorithm(key.alg),
      extensions: [
        // X.509-SVID §4.1: signing certificates set cA true.
        new x509.BasicConstraintsExtension(true, 0, true),
        // X.509-SVID §4.3: keyCertSign is required, cRLSign allowed; the extension is critical.
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        // X.509-SVID §3.2: the SPIFFE ID of a signing certificate has no path.
        new x509.SubjectAlternativeNameExtension([{ type: 'url', value: `spiffe://${trustDomain}` }], false),
        await x509.SubjectKeyIdentifierExtension.create(spki, false, webcrypto),
      ],
    },
    webcrypto,
  );
  return certificateToPem(cert);
}
