/**
 * X.509-SVIDs (SPIFFE X.509-SVID standard): issuing leaf certificates from
 * the trust domain's CA, from a workload's CSR or with a generated key, and
 * verifying presented chains against SPIFFE bundles.
 */
import {
  X509Certificate as NodeCertificate,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
} from 'node:crypto';
import { GatehouseError } from '../errors.js';
import { bundleFor, x509Authorities, type SpiffeBundle, type SpiffeBundles } from './bundle.js';
import {
  canonicalSerial,
  certificateKey,
  certificateToPem,
  newSerialNumber,
  parseCertificate,
  sameKey,
  serialOctets,
} from './certificates.js';
import { epochMs, isoOf, type Instant } from './instant.js';
import type { StoredSigningKey } from './signing-key.js';
import { loadPrivateCryptoKey, publicKeyOf, webCryptoAlgorithm } from './signing-keys.js';
import { parseSpiffeId, tryParseSpiffeId } from './spiffe-id.js';
import { webcrypto, x509 } from './x509-library.js';

export const DEFAULT_X509_SVID_TTL_SECONDS = 3600;
/** `notBefore` is set this far before `now`, for peers whose clocks run behind. */
export const X509_SVID_BACKDATE_SECONDS = 30;
/** Longest chain accepted from leaf to authority, intermediates included. */
const MAX_CHAIN_LENGTH = 8;
const MIN_RSA_BITS = 2048;
const ALLOWED_CURVES = new Set(['prime256v1', 'secp384r1', 'secp521r1']);
// RFC 5280 §4.2: a critical extension the verifier does not process fails validation.
const UNDERSTOOD_EXTENSIONS = new Set([
  '2.5.29.14', // subjectKeyIdentifier
  '2.5.29.15', // keyUsage
  '2.5.29.17', // subjectAltName
  '2.5.29.19', // basicConstraints
  '2.5.29.35', // authorityKeyIdentifier
  '2.5.29.37', // extKeyUsage
]);

export interface IssueX509SvidOptions {
  spiffeId: string;
  /** PEM PKCS#10 request; its key is certified, everything else it asks for is ignored. */
  csrPem?: string;
  ca: {
    /** The active `x509-svid` key. */
    key: StoredSigningKey;
    /** Its CA certificate; defaults to `key.certificatePem`. */
    certificatePem?: string;
    /** Opens the key when it is stored sealed. */
    passphrase?: string;
  };
  /** Whole seconds; defaults to 3600. Capped at the CA certificate's `notAfter`. */
  ttlSeconds?: number;
  now: Instant;
  /** Hex serial number; random (127 bits) when omitted. */
  serial?: string;
}

export interface IssuedX509Svid {
  certificatePem: string;
  /** The leaf, then the CA certificate: what a TLS peer presents. */
  chainPem: string;
  /** PKCS#8 PEM of the generated key; only when no CSR was given. */
  privateKeyPem?: string;
  /** Lower-case hex, no leading zeros. */
  serial: string;
  /** RFC 3339; X.509 times have whole seconds. */
  notBefore: string;
  notAfter: string;
}

function fail(code: ConstructorParameters<typeof GatehouseError>[0], message: string): never {
  throw new GatehouseError(code, message);
}

/** The CSR's public key (SPKI DER) after checking its self-signature and key type. */
/**
 * Checks a CSR as issuance would (PEM PKCS#10, a key type and size taken,
 * its self-signature), before anything is spent on it.
 * @throws GatehouseError `csr_invalid`
 */
export async function checkCsr(csrPem: string): Promise<void> {
  await csrPublicKey(csrPem);
}

async function csrPublicKey(csrPem: string): Promise<Buffer> {
  let csr: x509.Pkcs10CertificateRequest;
  try {
    if (typeof csrPem !== 'string' || !csrPem.includes('-----BEGIN CERTIFICATE REQUEST-----')) {
      throw new Error('not PEM');
    }
    csr = new x509.Pkcs10CertificateRequest(csrPem);
  } catch {
    return fail('csr_invalid', 'invalid CSR: not a PEM PKCS#10 certificate request');
  }
  let spki: Buffer;
  let key: KeyObject;
  try {
    spki = Buffer.from(csr.publicKey.rawData);
    key = createPublicKey({ key: spki, format: 'der', type: 'spki' });
  } catch {
    return fail('csr_invalid', 'invalid CSR: its public key cannot be read');
  }
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'ec') {
    if (!ALLOWED_CURVES.has(details.namedCurve ?? '')) {
      fail('csr_invalid', 'invalid CSR: EC keys must be on P-256, P-384 or P-521');
    }
  } else if (key.asymmetricKeyType === 'rsa') {
    if ((details.modulusLength ?? 0) < MIN_RSA_BITS) {
      fail('csr_invalid', `invalid CSR: RSA keys need at least ${MIN_RSA_BITS} bits`);
    }
  } else {
    fail(
      'csr_invalid',
      `invalid CSR: key type \`${key.asymmetricKeyType ?? 'unknown'}\` is not supported: use EC or RSA`,
    );
  }
  // PKCS#10 (RFC 2986 §3): the request is signed by the key it carries — proof of possession.
  let verified = false;
  try {
    verified = await csr.verify(webcrypto);
  } catch {
    fail('csr_invalid', 'invalid CSR: its signature algorithm is not supported');
  }
  if (!verified) fail('csr_invalid', 'invalid CSR: its signature does not verify with its own public key');
  return spki;
}

/**
 * Issues an X.509-SVID signed by the trust domain's CA. The leaf carries
 * exactly what the X.509-SVID standard asks for, whatever the CSR requests:
 * - exactly one URI SAN, the SPIFFE ID (§2), which must have a path (§3.1);
 * - basicConstraints `cA: false`, critical (§4.1);
 * - keyUsage `digitalSignature` (plus `keyEncipherment` for RSA keys),
 *   critical (§4.3);
 * - extKeyUsage `serverAuth` and `clientAuth` (§4.4);
 * - subject and authority key identifiers (RFC 5280 §4.2.1.1, §4.2.1.2);
 * - a random positive serial of 127 bits unless `serial` is given;
 * - subject `O=Gatehouse`.
 * Validity starts 30 seconds before `now` (never before the CA's) and ends
 * `ttlSeconds` after `now`, or at the CA's `notAfter` if that is sooner.
 * Without a CSR an ECDSA P-256 key is generated and returned.
 * @throws GatehouseError `csr_invalid` (unreadable CSR, bad self-signature,
 *   weak or unsupported key), `spiffe_id_invalid`, `request_invalid` (TTL,
 *   serial), `key_invalid` (not an active x509-svid key, no or mismatched CA
 *   certificate, CA not valid at `now`, CA of another trust domain)
 */
export async function issueX509Svid(options: IssueX509SvidOptions): Promise<IssuedX509Svid> {
  const { ttlSeconds = DEFAULT_X509_SVID_TTL_SECONDS } = options;
  const id = parseSpiffeId(options.spiffeId);
  // X.509-SVID §3.1: leaf SPIFFE IDs have a non-root path.
  if (id.path === '') {
    fail('spiffe_id_invalid', `invalid SPIFFE ID \`${id.toString()}\`: a leaf X.509-SVID needs a path`);
  }
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1) {
    fail('request_invalid', 'X.509-SVID ttlSeconds must be a positive whole number');
  }
  const serial = options.serial === undefined ? newSerialNumber() : canonicalSerial(options.serial);
  const caKey = options.ca.key;
  if (caKey.use !== 'x509-svid') {
    fail('key_invalid', `key \`${caKey.kid}\` is a ${caKey.use} key: X.509-SVIDs need an x509-svid key`);
  }
  // INVARIANT: only the active key signs; a next CA is not yet in every peer's bundle.
  if (caKey.state !== 'active')
    fail('key_invalid', `key \`${caKey.kid}\` is ${caKey.state}: only the active key signs`);
  const caPem = options.ca.certificatePem ?? caKey.certificatePem;
  if (!caPem) fail('key_invalid', `x509-svid key \`${caKey.kid}\` has no CA certificate`);
  let caCert: x509.X509Certificate;
  try {
    caCert = parseCertificate(caPem);
  } catch {
    return fail('key_invalid', `CA certificate of \`${caKey.kid}\` is not a PEM certificate`);
  }
  if (!sameKey(certificateKey(caCert), publicKeyOf(caKey))) {
    fail('key_invalid', `CA certificate of \`${caKey.kid}\` does not certify its key`);
  }
  const caUri = uriSans(caCert).find((u) => u.startsWith('spiffe://'));
  const caDomain = caUri === undefined ? undefined : tryParseSpiffeId(caUri)?.trustDomain;
  if (caDomain !== undefined && caDomain !== id.trustDomain) {
    fail('key_invalid', `CA of \`${caDomain}\` cannot issue SVIDs for \`${id.trustDomain}\``);
  }

  const now = Math.floor(epochMs(options.now) / 1000) * 1000;
  const caNotBefore = caCert.notBefore.getTime();
  const caNotAfter = caCert.notAfter.getTime();
  if (now < caNotBefore || now >= caNotAfter) {
    fail('key_invalid', `CA certificate of \`${caKey.kid}\` is not valid at ${isoOf(now)}`);
  }
  const notBefore = Math.max(now - X509_SVID_BACKDATE_SECONDS * 1000, caNotBefore);
  const notAfter = Math.min(now + ttlSeconds * 1000, caNotAfter);

  let spki: Buffer;
  let privateKeyPem: string | undefined;
  let isRsa = false;
  if (options.csrPem !== undefined) {
    spki = await csrPublicKey(options.csrPem);
    isRsa = createPublicKey({ key: spki, format: 'der', type: 'spki' }).asymmetricKeyType === 'rsa';
  } else {
    const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    spki = pair.publicKey.export({ type: 'spki', format: 'der' });
    privateKeyPem = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  }

  const caSki = caCert.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId;
  const authorityKeyId = caSki
    ? new x509.AuthorityKeyIdentifierExtension(caSki, false)
    : await x509.AuthorityKeyIdentifierExtension.create(caCert.publicKey, false, webcrypto);
  const usages = x509.KeyUsageFlags.digitalSignature | (isRsa ? x509.KeyUsageFlags.keyEncipherment : 0);
  const leaf = await x509.X509CertificateGenerator.create(
    {
      serialNumber: serialOctets(serial),
      subject: 'O=Gatehouse',
      issuer: caCert.subjectName,
      notBefore: new Date(notBefore),
      notAfter: new Date(notAfter),
      publicKey: spki,
      signingKey: await loadPrivateCryptoKey(caKey, options.ca.passphrase),
      signingAlgorithm: webCryptoAlgorithm(caKey.alg),
      extensions: [
        // X.509-SVID §4.1: leaf certificates set cA false.
        new x509.BasicConstraintsExtension(false, undefined, true),
        // X.509-SVID §4.3: digitalSignature is required; the extension is critical.
        new x509.KeyUsagesExtension(usages, true),
        // X.509-SVID §4.4: when present, both serverAuth and clientAuth.
        new x509.ExtendedKeyUsageExtension(
          [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth],
          false,
        ),
        // X.509-SVID §2: exactly one URI SAN. The subject is set, so the SAN need not be critical (§3.1).
        new x509.SubjectAlternativeNameExtension([{ type: 'url', value: id.toString() }], false),
        await x509.SubjectKeyIdentifierExtension.create(spki, false, webcrypto),
        authorityKeyId,
      ],
    },
    webcrypto,
  );
  const certificatePem = certificateToPem(leaf);
  return {
    certificatePem,
    chainPem: certificatePem + certificateToPem(caCert),
    ...(privateKeyPem !== undefined ? { privateKeyPem } : {}),
    serial,
    notBefore: isoOf(notBefore),
    notAfter: isoOf(notAfter),
  };
}

function uriSans(cert: x509.X509Certificate): string[] {
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  return san ? san.names.items.filter((n) => n.type === 'url').map((n) => n.value) : [];
}

export interface VerifyX509SvidOptions {
  /** Epoch milliseconds or a Date. */
  now: Instant;
  /**
   * With a single bundle: the trust domain it belongs to (required then).
   * Ignored when bundles are given by trust domain.
   */
  trustDomain?: string;
}

export interface VerifiedX509Svid {
  spiffeId: string;
  /** Lower-case hex, no leading zeros. */
  serial: string;
  /** RFC 3339. */
  notBefore: string;
  notAfter: string;
}

interface ChainCert {
  parsed: x509.X509Certificate;
  node: NodeCertificate;
}

function readChain(chain: string | readonly (string | Uint8Array)[]): ChainCert[] {
  const items: (string | Uint8Array)[] = [];
  if (typeof chain === 'string') {
    const blocks = chain.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
    items.push(...blocks);
  } else if (Array.isArray(chain)) {
    items.push(...(chain as readonly (string | Uint8Array)[]));
  }
  if (items.length === 0) fail('svid_malformed', 'malformed X.509-SVID: no certificate given');
  if (items.length > MAX_CHAIN_LENGTH) {
    fail('svid_malformed', `malformed X.509-SVID: more than ${MAX_CHAIN_LENGTH} certificates`);
  }
  return items.map((item, i) => {
    try {
      const parsed = parseCertificate(item);
      return { parsed, node: new NodeCertificate(Buffer.from(parsed.rawData)) };
    } catch {
      return fail('svid_malformed', `malformed X.509-SVID: certificate ${i + 1} of the chain cannot be read`);
    }
  });
}

// Parsed authorities, by bundle object (bundles are immutable).
const authoritiesByBundle = new WeakMap<SpiffeBundle, ChainCert[]>();

function authoritiesOf(bundle: SpiffeBundle, trustDomain: string): ChainCert[] {
  let list = authoritiesByBundle.get(bundle);
  if (!list) {
    list = x509Authorities(bundle).map((der) => {
      try {
        const parsed = parseCertificate(der);
        return { parsed, node: new NodeCertificate(Buffer.from(parsed.rawData)) };
      } catch {
        return fail(
          'bundle_invalid',
          `invalid SPIFFE bundle of \`${trustDomain}\`: an x5c certificate cannot be read`,
        );
      }
    });
    authoritiesByBundle.set(bundle, list);
  }
  return list;
}

function checkCriticalExtensions(cert: ChainCert, what: string): void {
  for (const ext of cert.parsed.extensions) {
    if (ext.critical && !UNDERSTOOD_EXTENSIONS.has(ext.type)) {
      fail(
        'svid_malformed',
        `malformed X.509-SVID: ${what} has an unsupported critical extension \`${ext.type}\``,
      );
    }
  }
}

function checkValidity(cert: ChainCert, now: number, what: string): void {
  if (now < cert.parsed.notBefore.getTime()) {
    fail(
      'svid_not_yet_valid',
      `X.509-SVID ${what} is not valid before ${cert.parsed.notBefore.toISOString()}`,
    );
  }
  if (now > cert.parsed.notAfter.getTime()) {
    fail('svid_expired', `X.509-SVID ${what} expired at ${cert.parsed.notAfter.toISOString()}`);
  }
}

/** True when `issuer` may sign certificates: cA true and, when keyUsage is present, keyCertSign. */
function isSigningCertificate(cert: ChainCert): boolean {
  if (!cert.parsed.getExtension(x509.BasicConstraintsExtension)?.ca) return false;
  const ku = cert.parsed.getExtension(x509.KeyUsagesExtension);
  return !ku || (ku.usages & x509.KeyUsageFlags.keyCertSign) !== 0;
}

/**
 * True when `child` names `issuer` as its issuer: the issuer name matches the
 * subject (RFC 5280 §6.1.3 (a)(4)) and, when both are present, the authority
 * key identifier matches the subject key identifier (§4.2.1.1) — successive
 * CAs of a trust domain share a name and differ by key.
 */
function namesIssuer(issuer: ChainCert, child: ChainCert): boolean {
  if (!child.node.checkIssued(issuer.node)) return false;
  const aki = child.parsed.getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId;
  const ski = issuer.parsed.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId;
  return aki === undefined || ski === undefined || aki.toLowerCase() === ski.toLowerCase();
}

/** True when `issuer` is named by and signed `child` (RFC 5280 §6.1.3 (a)(1)). */
function issued(issuer: ChainCert, child: ChainCert): boolean {
  return namesIssuer(issuer, child) && child.node.verify(issuer.node.publicKey);
}

function isBundleSet(value: SpiffeBundle | SpiffeBundles): value is SpiffeBundles {
  return value instanceof Map || !Array.isArray((value as { keys?: unknown }).keys);
}

/**
 * Verifies an X.509-SVID chain (leaf first, then any intermediates; a copy
 * of the root may be included and is ignored unless it is needed) against
 * the `x509-svid` authorities of the bundle of the leaf's trust domain.
 * - Leaf (X.509-SVID §5.2): exactly one URI SAN, a SPIFFE ID with a path;
 *   basicConstraints not CA; keyUsage present with `digitalSignature` and
 *   without `keyCertSign`/`cRLSign` → `svid_malformed` otherwise.
 * - Path (§5.1, RFC 5280 §6.1): each certificate is issued and signed by the
 *   next one up to an authority; intermediates are CAs allowed to sign,
 *   within their `pathLenConstraint`; every certificate, the authority
 *   included, is valid at `now` (`svid_expired`, `svid_not_yet_valid`);
 *   unknown critical extensions fail.
 * - A trust domain without a bundle → `svid_foreign_trust_domain`; no
 *   authority of it named as issuer → `svid_unknown_key`; a named issuer
 *   whose key does not verify the signature → `svid_bad_signature`.
 * Revocation is the caller's (serials are returned for it).
 * @param bundles bundles by trust domain, or a single bundle with
 *   `options.trustDomain`
 */
export async function verifyX509Svid(
  chain: string | readonly (string | Uint8Array)[],
  bundles: SpiffeBundle | SpiffeBundles,
  options: VerifyX509SvidOptions,
): Promise<VerifiedX509Svid> {
  const now = epochMs(options.now);
  const certs = readChain(chain);
  const leaf = certs[0]!;

  // X.509-SVID §2, §5.2: exactly one URI SAN, and it is a SPIFFE ID with a path.
  const uris = uriSans(leaf.parsed);
  if (uris.length !== 1) {
    fail(
      'svid_malformed',
      `malformed X.509-SVID: the leaf has ${uris.length} URI SANs, exactly one is required`,
    );
  }
  let spiffeId: string;
  let trustDomain: string;
  try {
    const id = parseSpiffeId(uris[0]!);
    if (id.path === '') throw new Error('a leaf SPIFFE ID needs a path');
    spiffeId = id.toString();
    trustDomain = id.trustDomain;
  } catch (err) {
    return fail(
      'svid_malformed',
      `malformed X.509-SVID: the URI SAN is not a leaf SPIFFE ID: ${(err as Error).message}`,
    );
  }
  // X.509-SVID §5.2: the leaf is not a CA, signs, and cannot sign certificates or CRLs.
  if (leaf.parsed.getExtension(x509.BasicConstraintsExtension)?.ca) {
    fail('svid_malformed', 'malformed X.509-SVID: the leaf is a CA certificate');
  }
  const ku = leaf.parsed.getExtension(x509.KeyUsagesExtension);
  if (!ku) fail('svid_malformed', 'malformed X.509-SVID: the leaf has no keyUsage extension');
  if ((ku.usages & x509.KeyUsageFlags.digitalSignature) === 0) {
    fail('svid_malformed', 'malformed X.509-SVID: the leaf keyUsage lacks digitalSignature');
  }
  if ((ku.usages & (x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign)) !== 0) {
    fail('svid_malformed', 'malformed X.509-SVID: the leaf keyUsage allows keyCertSign or cRLSign');
  }

  let bundle: SpiffeBundle | undefined;
  if (isBundleSet(bundles)) bundle = bundleFor(bundles, trustDomain);
  else if (options.trustDomain === undefined) {
    throw new GatehouseError('request_invalid', 'a single bundle needs the trust domain it belongs to');
  } else if (options.trustDomain === trustDomain) bundle = bundles;
  if (!bundle)
    fail('svid_foreign_trust_domain', `X.509-SVID trust domain \`${trustDomain}\` has no bundle here`);
  const authorities = authoritiesOf(bundle, trustDomain);
  if (authorities.length === 0) {
    fail('svid_unknown_key', `the bundle of \`${trustDomain}\` has no X.509-SVID authority`);
  }

  checkCriticalExtensions(leaf, 'the leaf');
  checkValidity(leaf, now, 'leaf');
  // A self-issued certificate in the chain is a root: it is trusted only when it is in the bundle,
  // so it is never used as an intermediate.
  const intermediates = certs.slice(1).filter((c) => !c.node.checkIssued(c.node));
  let current = leaf;
  let caBelow = 0;
  for (let depth = 0; depth < MAX_CHAIN_LENGTH; depth++) {
    const authority = authorities.find((a) => issued(a, current));
    if (authority) {
      checkCriticalExtensions(authority, 'the authority');
      checkValidity(authority, now, 'authority');
      checkPathLength(authority, caBelow, 'the authority');
      return {
        spiffeId,
        serial: leafSerial(leaf),
        notBefore: leaf.parsed.notBefore.toISOString(),
        notAfter: leaf.parsed.notAfter.toISOString(),
      };
    }
    const next = intermediates.find((c) => c !== current && isSigningCertificate(c) && issued(c, current));
    if (!next) {
      if (authorities.some((a) => namesIssuer(a, current))) {
        fail('svid_bad_signature', 'X.509-SVID signature does not verify with its authority key');
      }
      if (intermediates.some((c) => c !== current && namesIssuer(c, current))) {
        fail('svid_bad_signature', 'X.509-SVID chain does not verify: an intermediate did not sign it');
      }
      fail('svid_unknown_key', `X.509-SVID was not issued by an authority of \`${trustDomain}\``);
    }
    checkCriticalExtensions(next, 'an intermediate');
    checkValidity(next, now, 'intermediate');
    checkPathLength(next, caBelow, 'an intermediate');
    current = next;
    caBelow++;
  }
  return fail('svid_malformed', `malformed X.509-SVID: the chain is longer than ${MAX_CHAIN_LENGTH}`);
}

/** The leaf serial in canonical form; RFC 5280 §4.1.2.2: positive, at most 20 octets. */
function leafSerial(leaf: ChainCert): string {
  try {
    return canonicalSerial(leaf.parsed.serialNumber);
  } catch {
    return fail('svid_malformed', 'malformed X.509-SVID: the leaf serial number is not positive or too long');
  }
}

/** RFC 5280 §4.2.1.9: at most `pathLenConstraint` intermediate CAs below this one. */
function checkPathLength(ca: ChainCert, caBelow: number, what: string): void {
  const limit = ca.parsed.getExtension(x509.BasicConstraintsExtension)?.pathLength;
  if (limit !== undefined && caBelow > limit) {
    fail(
      'svid_malformed',
      `malformed X.509-SVID: ${what} allows ${limit} intermediate CAs below it, the chain has ${caBelow}`,
    );
  }
}
