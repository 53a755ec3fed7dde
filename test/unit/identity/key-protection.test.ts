import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, test } from 'node:test';
import { GatehouseError } from '../../../src/core/errors.js';
import {
  isProtectedPrivateKey,
  KEY_ENVELOPE_PREFIX,
  protectPrivateKey,
  unprotectPrivateKey,
} from '../../../src/core/identity/index.js';

const pem = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  .privateKey.export({ type: 'pkcs8', format: 'pem' })
  .toString();
const PASSPHRASE = 'correct horse battery staple';
// The smallest cost accepted, to keep the suite fast; the default is exercised once.
const FAST = { N: 2 ** 10, r: 8, p: 1 };

function expectCode(code: string, secretParts: string[] = []) {
  return (e: unknown) => {
    assert.ok(e instanceof GatehouseError, String(e));
    assert.equal(e.code, code, e.message);
    // Never leak key material, the passphrase or the envelope.
    for (const secret of [PASSPHRASE, 'PRIVATE KEY', ...secretParts])
      assert.ok(!e.message.includes(secret), e.message);
    return true;
  };
}

describe('key protection', () => {
  test('round trip with the default cost', () => {
    const sealed = protectPrivateKey(pem, PASSPHRASE);
    assert.ok(sealed.startsWith(`${KEY_ENVELOPE_PREFIX}scrypt:32768:8:1:`));
    assert.ok(isProtectedPrivateKey(sealed));
    assert.ok(!sealed.includes('PRIVATE KEY'));
    assert.equal(unprotectPrivateKey(sealed, PASSPHRASE), pem);
  });

  test('every envelope is fresh: salt and IV differ', () => {
    const a = protectPrivateKey(pem, PASSPHRASE, FAST);
    const b = protectPrivateKey(pem, PASSPHRASE, FAST);
    assert.notEqual(a, b);
    assert.equal(unprotectPrivateKey(a, PASSPHRASE), unprotectPrivateKey(b, PASSPHRASE));
  });

  test('a wrong passphrase fails with key_passphrase_wrong', () => {
    const sealed = protectPrivateKey(pem, PASSPHRASE, FAST);
    assert.throws(
      () => unprotectPrivateKey(sealed, 'wrong'),
      expectCode('key_passphrase_wrong', [sealed.slice(7, 40)]),
    );
  });

  test('a sealed key without a passphrase fails with key_passphrase_required', () => {
    const sealed = protectPrivateKey(pem, PASSPHRASE, FAST);
    assert.throws(() => unprotectPrivateKey(sealed), expectCode('key_passphrase_required'));
    assert.throws(() => unprotectPrivateKey(sealed, ''), expectCode('key_passphrase_required'));
  });

  test('altered parameters, ciphertext or tag fail like a wrong passphrase', () => {
    const sealed = protectPrivateKey(pem, PASSPHRASE, FAST);
    const fields = sealed.split(':');
    const withField = (i: number, value: string) => fields.map((f, j) => (j === i ? value : f)).join(':');
    const flip = (text: string) => (text[0] === 'A' ? 'B' : 'A') + text.slice(1);
    // r changed (parameters are authenticated), salt, ciphertext and tag altered.
    for (const altered of [
      withField(4, '9'),
      withField(6, flip(fields[6]!)),
      withField(8, flip(fields[8]!)),
      withField(9, flip(fields[9]!)),
    ]) {
      assert.throws(() => unprotectPrivateKey(altered, PASSPHRASE), expectCode('key_passphrase_wrong'));
    }
  });

  test('a clear PEM passes through, with or without a passphrase', () => {
    assert.equal(unprotectPrivateKey(pem), pem);
    assert.equal(unprotectPrivateKey(pem, PASSPHRASE), pem);
    assert.ok(!isProtectedPrivateKey(pem));
  });

  test('malformed envelopes and input are key_invalid', () => {
    const sealed = protectPrivateKey(pem, PASSPHRASE, FAST);
    const cases = [
      'not a key',
      'enc:v2:whatever',
      `${KEY_ENVELOPE_PREFIX}scrypt:1024:8:1`,
      sealed.replace(':scrypt:', ':argon2:'),
      sealed.replace(':1024:', ':1000:'),
      sealed.replace(':1024:', `:${2 ** 24}:`),
      sealed.replace(/:([A-Za-z0-9_-]+)$/, ':AAAA'),
      sealed.replace(/:([A-Za-z0-9_-]+)$/, ':not base64!'),
    ];
    for (const text of cases)
      assert.throws(() => unprotectPrivateKey(text, PASSPHRASE), expectCode('key_invalid'), text);
  });

  test('protecting needs a passphrase, a PEM private key and a sane cost', () => {
    assert.throws(() => protectPrivateKey(pem, ''), expectCode('key_invalid'));
    assert.throws(() => protectPrivateKey('hello', PASSPHRASE), expectCode('key_invalid'));
    assert.throws(
      () => protectPrivateKey(pem, PASSPHRASE, { N: 3000, r: 8, p: 1 }),
      expectCode('key_invalid'),
    );
    assert.throws(
      () => protectPrivateKey(pem, PASSPHRASE, { N: 1024, r: 0, p: 1 }),
      expectCode('key_invalid'),
    );
  });

  test('passphrases are UTF-8', () => {
    const sealed = protectPrivateKey(pem, 'pässwörd 🔑', FAST);
    assert.equal(unprotectPrivateKey(sealed, 'pässwörd 🔑'), pem);
    assert.throws(() => unprotectPrivateKey(sealed, 'passwort 🔑'), expectCode('key_passphrase_wrong'));
  });
});
