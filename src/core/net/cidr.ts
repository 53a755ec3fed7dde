import { GatehouseError } from '../errors.js';
import {
  formatIpAddress,
  ipProblem,
  parseIp,
  showInput,
  type IpAddress,
  type Ipv4Address,
  type Ipv6Address,
} from './ip-address.js';

/** An IPv4 prefix: `address` is the network address, its host bits zero. */
export interface Ipv4Cidr {
  readonly family: 4;
  readonly address: Ipv4Address;
  /** 0 to 32. */
  readonly prefixLength: number;
}

/** An IPv6 prefix: `address` is the network address, its host bits zero. */
export interface Ipv6Cidr {
  readonly family: 6;
  readonly address: Ipv6Address;
  /** 0 to 128. */
  readonly prefixLength: number;
}

/**
 * An address prefix (RFC 4632 §3.1, RFC 4291 §2.3). Values made by
 * {@link parseCidr} keep an INVARIANT the matchers rely on: no host bits are
 * set in `address`, and a prefix inside `::ffff:0:0/96` is IPv4.
 */
export type Cidr = Ipv4Cidr | Ipv6Cidr;

/** The netmask of an IPv4 prefix length, as a uint32. */
function ipv4Mask(prefixLength: number): number {
  // `x << 32` is `x << 0` in JavaScript, hence the special case.
  return prefixLength === 0 ? 0 : (0xffffffff << (32 - prefixLength)) >>> 0;
}

/** The mask of word `k` (0–3) of an IPv6 prefix length, as a uint32. */
function ipv6WordMask(prefixLength: number, k: number): number {
  const bits = prefixLength - 32 * k;
  return bits <= 0 ? 0 : bits >= 32 ? 0xffffffff : ipv4Mask(bits);
}

const DECIMAL = /^(?:0|[1-9][0-9]*)$/;

function fail(text: string, why: string): never {
  throw new GatehouseError('cidr_invalid', `invalid CIDR \`${showInput(text)}\`: ${why}`);
}

/**
 * Parses `address/length` strictly: the address as {@link parseIpAddress}
 * accepts it, the length decimal without leading zeros, 0–32 for IPv4 and
 * 0–128 for IPv6.
 *
 * - A bare address is rejected (`missing prefix length`): write `/32` or
 *   `/128` for one address, so that a forgotten length never widens a rule.
 * - Host bits must be zero: `10.0.0.1/24` is rejected because it could mean
 *   `10.0.0.0/24` or `10.0.0.1/32`, and consumers disagree on which. This is
 *   as strict as Kubernetes validates NetworkPolicy `ipBlock.cidr` under
 *   KEP-4858 (`StrictIPCIDRValidation`), for the same reason.
 * - A prefix inside the IPv4-mapped range (RFC 4291 §2.5.5.2) is IPv4:
 *   `::ffff:10.0.0.0/104` becomes `10.0.0.0/8` (length − 96), matching how
 *   {@link parseIpAddress} maps addresses. A shorter IPv6 prefix cannot hold
 *   `::ffff` with zero host bits, so it is rejected as having host bits set.
 *
 * @throws GatehouseError `cidr_invalid`, e.g. ``invalid CIDR `10.0.0.1/24`: host bits set (...)``
 */
export function parseCidr(text: string): Cidr {
  if (typeof text !== 'string') fail(String(text), 'not a string');
  const slash = text.indexOf('/');
  if (slash === -1) {
    const ip = parseIp(text, false);
    if (typeof ip === 'number') fail(text, 'missing prefix length');
    fail(
      text,
      `missing prefix length (write \`${showInput(text)}/${ip.family === 4 ? 32 : 128}\` for one address)`,
    );
  }
  const addressText = text.slice(0, slash);
  const lengthText = text.slice(slash + 1);
  const ip = parseIp(addressText, false);
  if (typeof ip === 'number') fail(text, ipProblem(ip, addressText));
  const max = ip.family === 4 ? 32 : 128;
  if (lengthText === '') fail(text, 'missing prefix length after `/`');
  if (lengthText.includes('.')) fail(text, 'a netmask is not accepted: write a prefix length');
  if (!DECIMAL.test(lengthText)) fail(text, 'prefix length must be a decimal number without leading zeros');
  const length = Number(lengthText);
  if (length > max) fail(text, `prefix length must be 0 to ${max} for IPv${ip.family}`);

  if (ip.family === 4) {
    const network = (ip.value & ipv4Mask(length)) >>> 0;
    if (network !== ip.value) hostBitsSet(text, { family: 4, value: network }, length, ip);
    return { family: 4, address: ip, prefixLength: length };
  }
  const w = ip.words;
  const network: Ipv6Address['words'] = [
    (w[0] & ipv6WordMask(length, 0)) >>> 0,
    (w[1] & ipv6WordMask(length, 1)) >>> 0,
    (w[2] & ipv6WordMask(length, 2)) >>> 0,
    (w[3] & ipv6WordMask(length, 3)) >>> 0,
  ];
  if (network.some((word, k) => word !== w[k])) hostBitsSet(text, { family: 6, words: network }, length, ip);
  // RFC 4291 §2.5.5.2. No host bits and `::ffff` in bits 80–95 imply length ≥ 96.
  if (w[0] === 0 && w[1] === 0 && w[2] === 0xffff) {
    return { family: 4, address: { family: 4, value: w[3] }, prefixLength: length - 96 };
  }
  return { family: 6, address: ip, prefixLength: length };
}

function hostBitsSet(text: string, network: IpAddress, length: number, ip: IpAddress): never {
  const one = ip.family === 4 ? 32 : 128;
  fail(
    text,
    `host bits set (did you mean \`${formatIpAddress(network)}/${length}\`` +
      ` or \`${formatIpAddress(ip)}/${one}\`?)`,
  );
}

/** `address/length` with the address as {@link formatIpAddress} writes it: `2001:db8::/32`. */
export function formatCidr(cidr: Cidr): string {
  return `${formatIpAddress(cidr.address)}/${cidr.prefixLength}`;
}

/**
 * True when `ip` is inside `cidr`. Families never mix: `0.0.0.0/0` holds
 * every IPv4 address and no IPv6 one, `::/0` every IPv6 address and no IPv4
 * one. IPv4-mapped addresses are IPv4 once parsed, so `10.0.0.0/8` holds
 * `::ffff:10.1.2.3` while `::/0` and `::/64` do not. `/32` and `/128` hold
 * exactly their own address.
 */
export function cidrContains(cidr: Cidr, ip: IpAddress): boolean {
  if (cidr.family === 4) {
    return ip.family === 4 && (ip.value & ipv4Mask(cidr.prefixLength)) >>> 0 === cidr.address.value;
  }
  if (ip.family !== 6) return false;
  const net = cidr.address.words;
  const len = cidr.prefixLength;
  const w = ip.words;
  return (
    (w[0] & ipv6WordMask(len, 0)) >>> 0 === net[0] &&
    (w[1] & ipv6WordMask(len, 1)) >>> 0 === net[1] &&
    (w[2] & ipv6WordMask(len, 2)) >>> 0 === net[2] &&
    (w[3] & ipv6WordMask(len, 3)) >>> 0 === net[3]
  );
}
