import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createPublicKey, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { GatehouseError } from '../../../src/core/errors.js';
import {
  buildBundle,
  createTrustDomainCa,
  generateSigningKey,
  issueX509Svid,
  parseBundle,
  verifyX509Svid,
  type SpiffeBundle,
} from '../../../src/core/identity/index.js';
import type { StoredSigningKey } from '../../../src/core/identity/signing-key.js';

const OPENSSL = '/usr/bin/openssl';
const TD = 'example.org';
const ID = 'spiffe://example.org/ns/prod/web';

let dir: string;
let ca: StoredSigningKey;
let bundle: SpiffeBundle;
const now = Date.now();

function openssl(args: string[], input?: string): { out: string; err: string; status: number | null } {
  const res = spawnSync(OPENSSL, args, { cwd: dir, encoding: 'utf8', input });
  return { out: res.stdout, err: res.stderr, status: res.status };
}

function write(name: string, text: string): string {
  writeFileSync(join(dir, name), text);
  return name;
}

function code(expected: string) {
  return (e: unknown) => {
    assert.ok(e instanceof GatehouseError, String(e));
    assert.equal(e.code, expected, e.message);
    return true;
  };
}

async function newCa(trustDomain = TD, alg: StoredSigningKey['alg'] = 'ES256'): Promise<StoredSigningKey> {
  const key = generateSigningKey({ use: 'x509-svid', alg, now });
  const certificatePem = await createTrustDomainCa({ trustDomain, key, now });
  return { ...key, state: 'active', activatedAt: new Date(now).toISOString(), certificatePem };
}

/** Signs a leaf for `csr.pem` with the CA's key using openssl itself and `extensions`. */
function opensslLeaf(name: string, extensions: string): string {
  write('ca-key.pem', ca.privateKey);
  write('ca.pem', ca.certificatePem!);
  write(`${name}.cnf`, `[v3]\n${extensions}\n`);
  const res = openssl([
    'x509',
    '-req',
    '-in',
    'csr.pem',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca-key.pem',
    '-set_serial',
    '0x1234',
    '-days',
    '1',
    '-extfile',
    `${name}.cnf`,
    '-extensions',
    'v3',
    '-out',
    `${name}.pem`,
  ]);
  assert.equal(res.status, 0, res.err);
  return readFileSync(join(dir, `${name}.pem`), 'utf8');
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gatehouse-x509-'));
  ca = await newCa();
  bundle = buildBundle([ca], { sequence: 1, refreshHintSeconds: 300 });
  const req = openssl([
    'req',
    '-new',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-subj',
    '/CN=gatehouse-test',
    '-addext',
    'subjectAltName=URI:spiffe://evil.example/admin,URI:spiffe://example.org/other,DNS:evil.example',
    '-keyout',
    'csr-key.pem',
    '-out',
    'csr.pem',
  ]);
  assert.equal(req.status, 0, req.err);
});

after(() => rmSync(dir, { recursive: true, force: true }));

describe('trust domain CA certificate', () => {
  test('is a critical CA with keyCertSign and cRLSign and the trust domain as URI SAN', () => {
    write('ca.pem', ca.certificatePem!);
    const res = openssl([
      'x509',
      '-in',
      'ca.pem',
      '-noout',
      '-ext',
      'subjectAltName,basicConstraints,keyUsage',
    ]);
    assert.equal(res.status, 0, res.err);
    assert.match(res.out, /X509v3 Basic Constraints: critical\s+CA:TRUE, pathlen:0/);
    assert.match(res.out, /X509v3 Key Usage: critical\s+Certificate Sign, CRL Sign/);
    assert.match(res.out, /URI:spiffe:\/\/example\.org\s*$/m);
    const cert = new X509Certificate(ca.certificatePem!);
    assert.equal(cert.subject, 'CN=example.org\nO=Gatehouse');
    assert.equal(cert.issuer, cert.subject);
    // One year, starting a minute early (documented in trust-domain-ca.ts).
    const notAfter = Date.parse(cert.validTo);
    assert.ok(Math.abs(notAfter - (now + 365 * 24 * 3600 * 1000)) < 2000);
    assert.ok(openssl(['verify', '-CAfile', 'ca.pem', 'ca.pem']).out.includes('OK'));
  });

  test('refuses a jwt-svid key', async () => {
    const key = generateSigningKey({ use: 'jwt-svid', now });
    await assert.rejects(createTrustDomainCa({ trustDomain: TD, key, now }), code('key_invalid'));
  });

  test('works for every signing algorithm', async () => {
    for (const alg of ['ES384', 'RS256', 'PS256'] as const) {
      const other = await newCa(TD, alg);
      const svid = await issueX509Svid({ spiffeId: ID, ca: { key: other }, now });
      write(`ca-${alg}.pem`, other.certificatePem!);
      write(`leaf-${alg}.pem`, svid.certificatePem);
      const res = openssl(['verify', '-CAfile', `ca-${alg}.pem`, `leaf-${alg}.pem`]);
      assert.equal(res.out.trim(), `leaf-${alg}.pem: OK`, res.err);
    }
  });
});

describe('issueX509Svid with a generated key', () => {
  test('openssl verifies the leaf against the CA', async () => {
    const svid = await issueX509Svid({ spiffeId: ID, ca: { key: ca }, now });
    write('ca.pem', ca.certificatePem!);
    write('leaf.pem', svid.certificatePem);
    const res = openssl(['verify', '-CAfile', 'ca.pem', 'leaf.pem']);
    assert.equal(res.out.trim(), 'leaf.pem: OK', res.err);
    // The chain is leaf then CA.
    assert.equal(svid.chainPem, svid.certificatePem + ca.certificatePem);
  });

  test('carries exactly the X.509-SVID extensions', async () => {
    const svid = await issueX509Svid({ spiffeId: ID, ca: { key: ca }, now });
    write('leaf.pem', svid.certificatePem);
    const res = openssl([
      'x509',
      '-in',
      'leaf.pem',
      '-noout',
      '-ext',
      'subjectAltName,basicConstraints,keyUsage,extendedKeyUsage',
    ]);
    assert.equal(res.status, 0, res.err);
    // X.509-SVID §2: exactly one URI SAN, the SPIFFE ID.
    assert.deepEqual(res.out.match(/URI:[^\s,]+/g), [`URI:${ID}`]);
    assert.match(res.out, /X509v3 Basic Constraints: critical\s+CA:FALSE/);
    assert.match(res.out, /X509v3 Key Usage: critical\s+Digital Signature\s*$/m);
    assert.match(res.out, /TLS Web Server Authentication, TLS Web Client Authentication/);
    const text = openssl(['x509', '-in', 'leaf.pem', '-noout', '-text']).out;
    assert.match(text, /X509v3 Subject Key Identifier/);
    assert.match(text, /X509v3 Authority Key Identifier/);
  });

  test('has a random positive serial of at least 64 bits, as reported', async () => {
    const a = await issueX509Svid({ spiffeId: ID, ca: { key: ca }, now });
    const b = await issueX509Svid({ spiffeId: ID, ca: { key: ca }, now });
    assert.notEqual(a.serial, b.serial);
    for (const svid of [a, b]) {
      assert.match(svid.serial, /^[1-9a-f][0-9a-f]*$/);
      assert.ok(BigInt(`0x${svid.serial}`) >= 2n ** 64n);
      write('leaf.pem', svid.certificatePem);
      const shown = openssl(['x509', '-in', 'leaf.pem', '-noout', '-serial']).out.trim();
      assert.equal(BigInt(`0x${shown.replace('serial=', '')}`), BigInt(`0x${svid.serial}`));
    }
  });

  test('returns the private key of the certified public key, and validity per the TTL', async () => {
    const svid = await issueX509Svid({ spiffeId: ID, ca: { key: ca }, now, ttlSeconds: 600 });
    assert.ok(svid.privateKeyPem);
    const cert = new X509Certificate(svid.certificatePem);
    assert.ok(cert.publicKey.equals(createPublicKey(svid.privateKeyPem)));
    const start = Math.floor(now / 1000) * 1000;
    assert.equal(svid.notAfter, new Date(start + 600_000).toISOString());
    assert.equal(svid.notBefore, new Date(start - 30_000).toISOString());
    assert.equal(Date.parse(cert.validTo), Date.parse(svid.notAfter));
  });

  test('never outlives its CA', async () => {
    const svid = await issueX509Svid({ spiffeId: ID, ca: { key: ca }, now, ttlSeconds: 2 * 365 * 24 * 3600 });
    assert.equal(
      svid.notAfter,
      new Date(Date.parse(new X509Certificate(ca.certificatePem!).validTo)).toISOString(),
    );
  });

  test('takes a given serial', async () => {
    const svid = await issueX509Svid({ spiffeId: ID, ca: { key: ca }, now, serial: '00FF01' });
    assert.equal(svid.serial, 'ff01');
    assert.equal(BigInt(`0x${new X509Certificate(svid.certificatePem).serialNumber}`), 0xff01n);
  });

  test('refuses bad input', async () => {
    await assert.rejects(
      issueX509Svid({ spiffeId: 'spiffe://example.org', ca: { key: ca }, now }),
      code('spiffe_id_invalid'),
    );
    await assert.rejects(
      issueX509Svid({ spiffeId: 'spiffe://partner.example/web', ca: { key: ca }, now }),
      code('key_invalid'),
    );
    await assert.rejects(
      issueX509Svid({ spiffeId: ID, ca: { key: { ...ca, state: 'next' } }, now }),
      code('key_invalid'),
    );
    await assert.rejects(
      issueX509Svid({ spiffeId: ID, ca: { key: { ...ca, certificatePem: undefined } }, now }),
      code('key_invalid'),
    );
    await assert.rejects(
      issueX509Svid({ spiffeId: ID, ca: { key: ca }, now, ttlSeconds: 0 }),
      code('request_invalid'),
    );
    await assert.rejects(
      issueX509Svid({ spiffeId: ID, ca: { key: ca }, now: now + 2 * 365 * 24 * 3600 * 1000 }),
      code('key_invalid'),
    );
    const other = await newCa();
    await assert.rejects(
      issueX509Svid({ spiffeId: ID, ca: { key: ca, certificatePem: other.certificatePem! }, now }),
      code('key_invalid'),
    );
  });
});

describe('issueX509Svid from a CSR', () => {
  test('certifies the CSR key with only the SPIFFE ID as SAN, and openssl verifies it', async () => {
    const csrPem = readFileSync(join(dir, 'csr.pem'), 'utf8');
    const svid = await issueX509Svid({ spiffeId: ID, csrPem, ca: { key: ca }, now });
    assert.equal(svid.privateKeyPem, undefined);
    write('ca.pem', ca.certificatePem!);
    write('csr-leaf.pem', svid.certificatePem);
    assert.equal(openssl(['verify', '-CAfile', 'ca.pem', 'csr-leaf.pem']).out.trim(), 'csr-leaf.pem: OK');
    const ext = openssl(['x509', '-in', 'csr-leaf.pem', '-noout', '-ext', 'subjectAltName']).out;
    // The SANs the CSR asked for are ignored.
    assert.deepEqual(ext.match(/(URI|DNS):[^\s,]+/g), [`URI:${ID}`]);
    const leafKey = openssl(['x509', '-in', 'csr-leaf.pem', '-noout', '-pubkey']).out;
    const csrKey = openssl(['pkey', '-in', 'csr-key.pem', '-pubout']).out;
    assert.equal(leafKey, csrKey);
  });

  test('adds keyEncipherment for an RSA key and refuses RSA under 2048 bits', async () => {
    for (const [bits, ok] of [
      [2048, true],
      [1024, false],
    ] as const) {
      const res = openssl([
        'req',
        '-new',
        '-newkey',
        `rsa:${bits}`,
        '-nodes',
        '-subj',
        '/CN=rsa',
        '-keyout',
        `rsa-${bits}-key.pem`,
        '-out',
        `rsa-${bits}.csr`,
      ]);
      assert.equal(res.status, 0, res.err);
      const csrPem = readFileSync(join(dir, `rsa-${bits}.csr`), 'utf8');
      if (!ok) {
        await assert.rejects(
          issueX509Svid({ spiffeId: ID, csrPem, ca: { key: ca }, now }),
          code('csr_invalid'),
        );
        continue;
      }
      const svid = await issueX509Svid({ spiffeId: ID, csrPem, ca: { key: ca }, now });
      write('rsa-leaf.pem', svid.certificatePem);
      const ku = openssl(['x509', '-in', 'rsa-leaf.pem', '-noout', '-ext', 'keyUsage']).out;
      assert.match(ku, /critical\s+Digital Signature, Key Encipherment/);
    }
  });

  test('refuses a CSR whose signature does not verify, saying why', async () => {
    const der = Buffer.from(
      readFileSync(join(dir, 'csr.pem'), 'utf8')
        .replace(/-----[A-Z ]+-----/g, '')
        .replace(/\s+/g, ''),
      'base64',
    );
    const at = der.indexOf('gatehouse-test');
    assert.ok(at > 0);
    der[at] = 'G'.charCodeAt(0);
    const tampered = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END CERTIFICATE REQUEST-----\n`;
    write('tampered.csr', tampered);
    // openssl agrees that the self-signature is broken (OpenSSL 3.0 says so but exits 0).
    const check = openssl(['req', '-in', 'tampered.csr', '-noout', '-verify']);
    assert.match(check.out + check.err, /verify failure/);
    await assert.rejects(
      issueX509Svid({ spiffeId: ID, csrPem: tampered, ca: { key: ca }, now }),
      (e: unknown) => {
        assert.ok(e instanceof GatehouseError && e.code === 'csr_invalid');
        assert.match(e.message, /signature does not verify/);
        return true;
      },
    );
  });

  test('refuses text that is not a CSR', async () => {
    for (const csrPem of [
      '',
      'hello',
      ca.certificatePem!,
      '-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----',
    ]) {
      await assert.rejects(
        issueX509Svid({ spiffeId: ID, csrPem, ca: { key: ca }, now }),
        code('csr_invalid'),
      );
    }
  });
});

describe('verifyX509Svid', () => {
  test('accepts an issued SVID, from PEM text or a list of DER', async () => {
    const svid = await issueX509Svid({ spiffeId: ID, ca: { key: ca }, now });
    const want = { spiffeId: ID, serial: svid.serial, notBefore: svid.notBefore, notAfter: svid.notAfter };
    assert.deepEqual(await verifyX509Svid(svid.chainPem, { [TD]: bundle }, { now }), want);
    assert.deepEqual(
      await verifyX509Svid(svid.certificatePem, new Map([[TD, bundle]]), { now: new Date(now) }),
      want,
    );
    const der = new X509Certificate(svid.certificatePem).raw;
    assert.deepEqual(await verifyX509Svid([der], bundle, { now, trustDomain: TD }), want);
    // A bundle that went through JSON and parseBundle works the same.
    const parsed = parseBundle(JSON.stringify(bundle), TD);
    assert.deepEqual(await verifyX509Svid(svid.chainPem, { [TD]: parsed }, { now }), want);
  });

  test('checks validity in time', async () => {
    const svid = await issueX509Svid({ spiffeId: ID, ca: { key: ca }, now, ttlSeconds: 60 });
    await assert.rejects(
      verifyX509Svid(svid.chainPem, { [TD]: bundle }, { now: now + 61_000 }),
      code('svid_expired'),
    );
    await assert.rejects(
      verifyX509Svid(svid.chainPem, { [TD]: bundle }, { now: now - 31_000 }),
      code('svid_not_yet_valid'),
    );
  });

  test('needs the bundle of the leaf trust domain and one of its authorities', async () => {
    const svid = await issueX509Svid({ spiffeId: ID, ca: { key: ca }, now });
    await assert.rejects(
      verifyX509Svid(svid.chainPem, { 'partner.example': bundle }, { now }),
      code('svid_foreign_trust_domain'),
    );
    await assert.rejects(
      verifyX509Svid(svid.chainPem, bundle, { now, trustDomain: 'partner.example' }),
      code('svid_foreign_trust_domain'),
    );
    const other = await newCa();
    const otherBundle = buildBundle([other], { sequence: 1, refreshHintSeconds: 300 });
    await assert.rejects(
      verifyX509Svid(svid.chainPem, { [TD]: otherBundle }, { now }),
      code('svid_unknown_key'),
    );
    // After a rotation both CAs are published and either chain verifies.
    const both = buildBundle([ca, other], { sequence: 2, refreshHintSeconds: 300 });
    assert.equal((await verifyX509Svid(svid.chainPem, { [TD]: both }, { now })).spiffeId, ID);
  });

  test('rejects a leaf whose signature was altered', async () => {
    const svid = await issueX509Svid({ spiffeId: ID, ca: { key: ca }, now });
    const der = Buffer.from(new X509Certificate(svid.certificatePem).raw);
    der[der.length - 3] = der[der.length - 3]! ^ 0x01;
    await assert.rejects(verifyX509Svid([der], { [TD]: bundle }, { now }), code('svid_bad_signature'));
  });

  test('rejects leaves that break X.509-SVID §5.2 (signed by the CA with openssl)', async () => {
    const base = 'keyUsage=critical,digitalSignature\nbasicConstraints=critical,CA:FALSE';
    const cases: [string, string, RegExp][] = [
      ['two-uris', `${base}\nsubjectAltName=URI:${ID},URI:spiffe://example.org/other`, /2 URI SANs/],
      ['no-uri', `${base}\nsubjectAltName=DNS:web.example.org`, /0 URI SANs/],
      ['root-id', `${base}\nsubjectAltName=URI:spiffe://example.org`, /needs a path/],
      ['not-spiffe', `${base}\nsubjectAltName=URI:https://example.org/web`, /not a leaf SPIFFE ID/],
      [
        'ca-leaf',
        `keyUsage=critical,digitalSignature\nbasicConstraints=critical,CA:TRUE\nsubjectAltName=URI:${ID}`,
        /leaf is a CA/,
      ],
      ['no-ku', `basicConstraints=critical,CA:FALSE\nsubjectAltName=URI:${ID}`, /no keyUsage/],
      [
        'cert-sign',
        `keyUsage=critical,digitalSignature,keyCertSign\nbasicConstraints=critical,CA:FALSE\nsubjectAltName=URI:${ID}`,
        /keyCertSign or cRLSign/,
      ],
      [
        'no-digital-signature',
        `keyUsage=critical,keyAgreement\nbasicConstraints=critical,CA:FALSE\nsubjectAltName=URI:${ID}`,
        /lacks digitalSignature/,
      ],
      [
        'unknown-critical',
        `${base}\nsubjectAltName=URI:${ID}\n1.2.3.4=critical,ASN1:NULL`,
        /unsupported critical extension `1\.2\.3\.4`/,
      ],
    ];
    // openssl starts validity at its own clock: verify a moment later than that.
    const later = Date.now() + 2000;
    for (const [name, ext, why] of cases) {
      const leaf = opensslLeaf(name, ext);
      await assert.rejects(verifyX509Svid(leaf, { [TD]: bundle }, { now: later }), (e: unknown) => {
        assert.ok(e instanceof GatehouseError && e.code === 'svid_malformed', `${name}: ${String(e)}`);
        assert.match(e.message, why, name);
        return true;
      });
    }
    // The same route with proper extensions verifies, so the rejections above are about the extensions.
    const good = opensslLeaf('good', `${base}\nsubjectAltName=URI:${ID}`);
    assert.equal((await verifyX509Svid(good, { [TD]: bundle }, { now: later })).serial, '1234');
  });

  test('rejects malformed input', async () => {
    await assert.rejects(verifyX509Svid('', { [TD]: bundle }, { now }), code('svid_malformed'));
    await assert.rejects(
      verifyX509Svid(
        '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----',
        { [TD]: bundle },
        { now },
      ),
      code('svid_malformed'),
    );
    await assert.rejects(verifyX509Svid([], { [TD]: bundle }, { now }), code('svid_malformed'));
  });

  test('follows intermediates up to an authority and enforces pathLenConstraint', async () => {
    const mk = (args: string[]) => {
      const res = openssl(args);
      assert.equal(res.status, 0, res.err);
    };
    const ecKey = (name: string) =>
      mk(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', name]);
    ecKey('root-key.pem');
    ecKey('int-key.pem');
    ecKey('leaf-key.pem');
    write(
      'chain.cnf',
      [
        '[root]',
        'basicConstraints=critical,CA:TRUE',
        'keyUsage=critical,keyCertSign,cRLSign',
        'subjectKeyIdentifier=hash',
        `subjectAltName=URI:spiffe://${TD}`,
        '[int]',
        'basicConstraints=critical,CA:TRUE,pathlen:0',
        'keyUsage=critical,keyCertSign,cRLSign',
        'subjectKeyIdentifier=hash',
        'authorityKeyIdentifier=keyid',
        '[leaf]',
        'basicConstraints=critical,CA:FALSE',
        'keyUsage=critical,digitalSignature',
        'extendedKeyUsage=serverAuth,clientAuth',
        `subjectAltName=URI:${ID}`,
        'authorityKeyIdentifier=keyid',
      ].join('\n'),
    );
    mk([
      'req',
      '-x509',
      '-new',
      '-key',
      'root-key.pem',
      '-subj',
      '/O=Upstream/CN=root',
      '-days',
      '2',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
      '-addext',
      `subjectAltName=URI:spiffe://${TD}`,
      '-out',
      'root.pem',
    ]);
    mk(['req', '-new', '-key', 'int-key.pem', '-subj', '/O=Upstream/CN=intermediate', '-out', 'int.csr']);
    mk([
      'x509',
      '-req',
      '-in',
      'int.csr',
      '-CA',
      'root.pem',
      '-CAkey',
      'root-key.pem',
      '-set_serial',
      '2',
      '-days',
      '1',
      '-extfile',
      'chain.cnf',
      '-extensions',
      'int',
      '-out',
      'int.pem',
    ]);
    mk(['req', '-new', '-key', 'leaf-key.pem', '-subj', '/O=Upstream', '-out', 'leaf.csr']);
    mk([
      'x509',
      '-req',
      '-in',
      'leaf.csr',
      '-CA',
      'int.pem',
      '-CAkey',
      'int-key.pem',
      '-set_serial',
      '3',
      '-days',
      '1',
      '-extfile',
      'chain.cnf',
      '-extensions',
      'leaf',
      '-out',
      'leaf-int.pem',
    ]);
    const root = new X509Certificate(readFileSync(join(dir, 'root.pem')));
    const upstream = parseBundle(
      { keys: [{ kty: 'EC', use: 'x509-svid', x5c: [root.raw.toString('base64')] }] },
      TD,
    );
    const leaf = readFileSync(join(dir, 'leaf-int.pem'), 'utf8');
    const intermediate = readFileSync(join(dir, 'int.pem'), 'utf8');
    const later = Date.now() + 2000;
    const result = await verifyX509Svid(leaf + intermediate, { [TD]: upstream }, { now: later });
    assert.equal(result.spiffeId, ID);
    assert.equal(result.serial, '3');
    // Without the intermediate nothing links the leaf to the root.
    await assert.rejects(verifyX509Svid(leaf, { [TD]: upstream }, { now: later }), code('svid_unknown_key'));
    // Our own CA sets pathlen 0: an intermediate below it is refused.
    write('ca.pem', ca.certificatePem!);
    write('ca-key.pem', ca.privateKey);
    mk([
      'x509',
      '-req',
      '-in',
      'int.csr',
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca-key.pem',
      '-set_serial',
      '4',
      '-days',
      '1',
      '-extfile',
      'chain.cnf',
      '-extensions',
      'root',
      '-out',
      'int2.pem',
    ]);
    mk([
      'x509',
      '-req',
      '-in',
      'leaf.csr',
      '-CA',
      'int2.pem',
      '-CAkey',
      'int-key.pem',
      '-set_serial',
      '5',
      '-days',
      '1',
      '-extfile',
      'chain.cnf',
      '-extensions',
      'leaf',
      '-out',
      'leaf-int2.pem',
    ]);
    const deep =
      readFileSync(join(dir, 'leaf-int2.pem'), 'utf8') + readFileSync(join(dir, 'int2.pem'), 'utf8');
    await assert.rejects(verifyX509Svid(deep, { [TD]: bundle }, { now: later }), /allows 0 intermediate CAs/);
  });
});
