/**
 * Small certificate helpers shared by the trust-domain CA and X.509-SVIDs:
 * serial numbers, PEM text, and comparing a certificate's key with a
 * stored key.
 */
import { createPublicKey, randomBytes, type KeyObject } from 'node:crypto';
import { GatehouseError } from '../errors.js';
import { publicJwkMembers } from './signing-keys.js';
import { x509 } from './x509-library.js';

const SERIAL_HEX = /^[0-9a-fA-F]{1,40}$/;
const SERIAL_BYTES = 16;

/**
 * A fresh serial number in canonical form (see {@link canonicalSerial}): 16 random bytes with the top bit
 * clear, so the DER INTEGER is positive and 16 octets long. RFC 5280
 * §4.1.2.2 allows at most 20 octets; CA/Browser Forum practice asks for at
 * least 64 random bits — this has 127.
 */
export function newSerialNumber(): string {
  const bytes = randomBytes(SERIAL_BYTES);
  bytes[0] = bytes[0]! & 0x7f || 0x01;
  return canonicalSerial(bytes.toString('hex'));
}

/** A canonical serial as whole octets of hex, the form certificate generation takes. */
export function serialOctets(canonical: string): string {
  return canonical.length % 2 === 1 ? `0${canonical}` : canonical;
}

/**
 * A serial number in canonical form: lower-case hex without leading zeros.
 * @throws GatehouseError `request_invalid` unless it is 1 to 40 hex digits
 *   for a positive number (RFC 5280 §4.1.2.2: positive, at most 20 octets)
 */
export function canonicalSerial(hex: string): string {
  if (typeof hex !== 'string' || !SERIAL_HEX.test(hex)) {
    throw new GatehouseError('request_invalid', 'invalid serial number: expected 1 to 40 hex digits');
  }
  const canonical = hex.toLowerCase().replace(/^0+/, '');
  if (canonical === '')
    throw new GatehouseError('request_invalid', 'invalid serial number: must be positive');
  // A 40-digit serial with the top bit set needs a 21st octet for the sign.
  if (canonical.length === 40 && Number.parseInt(canonical[0]!, 16) >= 8) {
    throw new GatehouseError('request_invalid', 'invalid serial number: longer than 20 octets');
  }
  return canonical;
}

/** {@link canonicalSerial} of `text`, or undefined when it is not a serial number. */
export function readSerial(text: string): string | undefined {
  try {
    return canonicalSerial(text);
  } catch {
    return undefined;
  }
}

/** PEM text of a certificate, ending with a newline. */
export function certificateToPem(cert: x509.X509Certificate): string {
  return `${cert.toString('pem').trim()}\n`;
}

/** True when two public keys are the same key (compared as SPKI DER). */
export function sameKey(a: KeyObject, b: KeyObject): boolean {
  return a.export({ type: 'spki', format: 'der' }).equals(b.export({ type: 'spki', format: 'der' }));
}

/** The public key of a certificate as a Node KeyObject. */
export function certificateKey(cert: x509.X509Certificate): KeyObject {
  return createPublicKey({ key: Buffer.from(cert.publicKey.rawData), format: 'der', type: 'spki' });
}

/** True when the certificate certifies the public key of this JWK. */
export function certificateMatchesJwk(
  cert: x509.X509Certificate,
  jwk: Readonly<Record<string, unknown>>,
): boolean {
  try {
    const fromJwk = createPublicKey({ key: publicJwkMembers(jwk), format: 'jwk' });
    return sameKey(certificateKey(cert), fromJwk);
  } catch {
    return false;
  }
}

/**
 * Parses one PEM or DER certificate.
 * @throws Error from the parser; callers translate it into their own code
 */
export function parseCertificate(input: string | Uint8Array): x509.X509Certificate {
  return new x509.X509Certificate(typeof input === 'string' ? input : Uint8Array.from(input));
}
