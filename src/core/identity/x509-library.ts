/**
 * The one door to `@peculiar/x509` for the identity core. The package needs
 * the Reflect metadata polyfill loaded before it; importing it from here
 * guarantees that order. Other modules import `x509`
 * and `webcrypto` from this file, never the package directly.
 */
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

/** Node's Web Crypto, passed explicitly to every `@peculiar/x509` call (no global provider). */
const crypto = webcrypto as unknown as NonNullable<
  Parameters<typeof x509.X509CertificateGenerator.create>[1]
>;

export { x509, crypto as webcrypto };
