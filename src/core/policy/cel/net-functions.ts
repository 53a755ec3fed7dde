/**
 * The IP and CIDR values of CEL conditions, Kubernetes-style (`ip()`, `cidr()`,
 * `isIP()`, `isCIDR()`, `cidr.containsIP()`, …), over the project's own
 * address library so that a condition reads addresses exactly as zones do.
 *
 * Where Gatehouse and Kubernetes disagree, Gatehouse wins:
 * - an IPv4-mapped IPv6 address (`::ffff:10.1.2.3`) is the IPv4 address it
 *   maps (Kubernetes rejects it), so `cidr("10.0.0.0/8").containsIP(source.ip)`
 *   agrees with the `10.0.0.0/8` zone for a dual-stack peer;
 * - a CIDR with host bits set (`10.0.0.1/8`) is rejected, as the Kubernetes
 *   documentation (not its code) says; `masked()` is therefore the identity.
 */
import {
  cidrContains,
  formatCidr,
  formatIpAddress,
  parseCidr,
  parseIpAddress,
  tryParseIpAddress,
  type Cidr,
  type IpAddress,
} from '../../net/index.js';

/** A CEL `net.IP` value. */
export class CelIp {
  constructor(readonly address: IpAddress) {
    Object.freeze(this);
  }
}

/** A CEL `net.CIDR` value; its address never has host bits set. */
export class CelCidr {
  /** For an IPv4 prefix, its netmask and network as uint32s, for the allocation-free path. */
  readonly ipv4Mask: number;
  readonly ipv4Network: number;

  constructor(readonly cidr: Cidr) {
    const bits = cidr.family === 4 ? cidr.prefixLength : 0;
    // `x << 32` is `x << 0` in JavaScript, hence the special case.
    this.ipv4Mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
    this.ipv4Network = cidr.family === 4 ? cidr.address.value : 0;
    Object.freeze(this);
  }
}

/**
 * A dotted quad as a uint32, or -1 for any other text. Accepts a subset of
 * what `parseIpAddress` accepts (four decimal octets 0-255, no leading zeros)
 * and reads it to the same value, without allocating: callers fall back to
 * the library for everything else.
 */
export function scanDottedQuad(s: string): number {
  const n = s.length;
  if (n < 7 || n > 15) return -1;
  let value = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || dots === 3) return -1;
      value = value * 256 + octet;
      octet = 0;
      digits = 0;
      dots++;
      continue;
    }
    const d = c - 48;
    if (d < 0 || d > 9 || (digits > 0 && octet === 0)) return -1;
    octet = octet * 10 + d;
    if (octet > 255) return -1;
    digits++;
  }
  return digits === 0 || dots !== 3 ? -1 : value * 256 + octet;
}

/** `ip(text)`. @throws GatehouseError `ip_invalid` */
export function celIp(text: string): CelIp {
  return new CelIp(parseIpAddress(text));
}

/** `cidr(text)`. @throws GatehouseError `cidr_invalid` */
export function celCidr(text: string): CelCidr {
  return new CelCidr(parseCidr(text));
}

/** `isIP(text)`: never throws. */
export function celIsIp(text: string): boolean {
  return scanDottedQuad(text) >= 0 || tryParseIpAddress(text) !== undefined;
}

/** `isCIDR(text)`: never throws. */
export function celIsCidr(text: string): boolean {
  try {
    parseCidr(text);
    return true;
  } catch {
    return false;
  }
}

/**
 * `cidr.containsIP(text)`: undefined when `text` is not an IP address (the
 * caller turns that into an error, as Kubernetes does). A dotted quad, the
 * usual case, is matched without parsing into an object.
 */
export function cidrContainsIpText(cidr: CelCidr, text: string): boolean | undefined {
  const v4 = scanDottedQuad(text);
  if (v4 >= 0) return cidr.cidr.family === 4 && (v4 & cidr.ipv4Mask) >>> 0 === cidr.ipv4Network;
  const ip = tryParseIpAddress(text);
  return ip === undefined ? undefined : cidrContains(cidr.cidr, ip);
}

/** `cidr.containsIP(ip)`. */
export function cidrContainsIp(cidr: CelCidr, ip: CelIp): boolean {
  return cidrContains(cidr.cidr, ip.address);
}

/** `cidr.containsCIDR(other)`: every address of `other` is in `cidr`. */
export function cidrContainsCidr(cidr: CelCidr, other: CelCidr): boolean {
  const a = cidr.cidr;
  const b = other.cidr;
  return a.family === b.family && b.prefixLength >= a.prefixLength && cidrContains(a, b.address);
}

function sameAddress(x: IpAddress, y: IpAddress): boolean {
  if (x.family === 4) return y.family === 4 && x.value === y.value;
  if (y.family !== 6) return false;
  const [x0, x1, x2, x3] = x.words;
  const [y0, y1, y2, y3] = y.words;
  return x0 === y0 && x1 === y1 && x2 === y2 && x3 === y3;
}

/** `ip == ip`: same family and address. */
export function ipEquals(a: CelIp, b: CelIp): boolean {
  return sameAddress(a.address, b.address);
}

/** `cidr == cidr`: same network and prefix length. */
export function cidrEquals(a: CelCidr, b: CelCidr): boolean {
  return a.cidr.prefixLength === b.cidr.prefixLength && sameAddress(a.cidr.address, b.cidr.address);
}

/** `ip.family()`: 4 or 6, as a CEL int. */
export function ipFamily(ip: CelIp): bigint {
  return ip.address.family === 4 ? 4n : 6n;
}

/** `cidr.ip()`: the network address. */
export function cidrIp(cidr: CelCidr): CelIp {
  return new CelIp(cidr.cidr.address);
}

/** `cidr.prefixLength()`, as a CEL int. */
export function cidrPrefixLength(cidr: CelCidr): bigint {
  return BigInt(cidr.cidr.prefixLength);
}

/** `string(ip)`: the canonical text (RFC 5952 for IPv6). */
export function ipToString(ip: CelIp): string {
  return formatIpAddress(ip.address);
}

/** `string(cidr)`: `address/length`, the address canonical. */
export function cidrToString(cidr: CelCidr): string {
  return formatCidr(cidr.cidr);
}
