/**
 * The functions and methods the closures run, each overload keyed by the
 * kinds it accepts, as cel-js registers them (plus Gatehouse's network
 * functions). A call on values of static types picks its overload at compile
 * time; a call on `dyn` values picks it on the run-time kinds, as cel-js does.
 */
import {
  CelCidr,
  celCidr,
  celIp,
  celIsCidr,
  celIsIp,
  cidrContainsCidr,
  cidrContainsIp,
  cidrContainsIpText,
  cidrIp,
  cidrPrefixLength,
  ipFamily,
} from './net-functions.js';
import {
  CelFault,
  K_CIDR,
  K_DURATION,
  K_IP,
  K_LIST,
  K_MAP,
  K_STRING,
  K_TIMESTAMP,
  kindName,
  size,
  toBool,
  toDouble,
  toInt,
  toStringValue,
  toUint,
} from './values.js';

/** An overload: the kinds it accepts and what it does with the values. */
export interface Overload {
  readonly receiver?: number;
  readonly args: readonly number[];
  readonly call: (...values: never[]) => unknown;
}

/** `parse(text)`, or its error as a fault. */
function parseOr<T>(parse: (text: string) => T, text: string): T | CelFault {
  try {
    return parse(text);
  } catch (e) {
    return new CelFault((e as Error).message);
  }
}

/** `cidr.containsIP(text)`: a bool, or the parse error of `text`. */
export function containsIpText(cidr: CelCidr, text: string): unknown {
  return cidrContainsIpText(cidr, text) ?? parseOr(celIp, text);
}

function containsCidrText(cidr: CelCidr, text: string): unknown {
  const other = parseOr(celCidr, text);
  return other instanceof CelCidr ? cidrContainsCidr(cidr, other) : other;
}

const TIMESTAMP_GETTERS: Readonly<Record<string, (d: Date) => number>> = {
  getDate: (d) => d.getUTCDate(),
  getDayOfMonth: (d) => d.getUTCDate() - 1,
  getDayOfWeek: (d) => d.getUTCDay(),
  getFullYear: (d) => d.getUTCFullYear(),
  getHours: (d) => d.getUTCHours(),
  getMilliseconds: (d) => d.getUTCMilliseconds(),
  getMinutes: (d) => d.getUTCMinutes(),
  getMonth: (d) => d.getUTCMonth(),
  getSeconds: (d) => d.getUTCSeconds(),
};

/** The duration methods cel-js has under the same names as timestamp ones (whole hours, …). */
type DurationGetters = Record<'getHours' | 'getMinutes' | 'getSeconds' | 'getMilliseconds', () => bigint>;
const DURATION_GETTERS: ReadonlySet<string> = new Set([
  'getHours',
  'getMinutes',
  'getSeconds',
  'getMilliseconds',
]);

const methods: Record<string, readonly Overload[]> = {
  startsWith: [{ receiver: K_STRING, args: [K_STRING], call: (s: string, p: string) => s.startsWith(p) }],
  endsWith: [{ receiver: K_STRING, args: [K_STRING], call: (s: string, p: string) => s.endsWith(p) }],
  contains: [{ receiver: K_STRING, args: [K_STRING], call: (s: string, p: string) => s.includes(p) }],
  size: [
    { receiver: K_STRING, args: [], call: (v: string) => size(v, K_STRING) },
    { receiver: K_LIST, args: [], call: (v: unknown[]) => size(v, K_LIST) },
    { receiver: K_MAP, args: [], call: (v: object) => size(v, K_MAP) },
  ],
  containsIP: [
    { receiver: K_CIDR, args: [K_STRING], call: containsIpText },
    { receiver: K_CIDR, args: [K_IP], call: cidrContainsIp },
  ],
  containsCIDR: [
    { receiver: K_CIDR, args: [K_STRING], call: containsCidrText },
    { receiver: K_CIDR, args: [K_CIDR], call: cidrContainsCidr },
  ],
  ip: [{ receiver: K_CIDR, args: [], call: cidrIp }],
  masked: [{ receiver: K_CIDR, args: [], call: (c: CelCidr) => c }],
  prefixLength: [{ receiver: K_CIDR, args: [], call: cidrPrefixLength }],
  family: [{ receiver: K_IP, args: [], call: ipFamily }],
};
for (const [name, getter] of Object.entries(TIMESTAMP_GETTERS)) {
  const overloads: Overload[] = [{ receiver: K_TIMESTAMP, args: [], call: (d: Date) => BigInt(getter(d)) }];
  if (DURATION_GETTERS.has(name)) {
    const method = name as keyof DurationGetters;
    overloads.push({ receiver: K_DURATION, args: [], call: (d: DurationGetters) => d[method]() });
  }
  methods[name] = overloads;
}

/** Method overloads by name (timestamp getters without a time zone argument only). */
export const METHODS: Readonly<Record<string, readonly Overload[]>> = methods;

/** Global function overloads by name (conversions apart). */
export const FUNCTIONS: Readonly<Record<string, readonly Overload[]>> = {
  size: [
    { args: [K_STRING], call: (v: string) => size(v, K_STRING) },
    { args: [K_LIST], call: (v: unknown[]) => size(v, K_LIST) },
    { args: [K_MAP], call: (v: object) => size(v, K_MAP) },
  ],
  isIP: [{ args: [K_STRING], call: celIsIp }],
  isCIDR: [{ args: [K_STRING], call: celIsCidr }],
  ip: [{ args: [K_STRING], call: (s: string) => parseOr(celIp, s) }],
  cidr: [{ args: [K_STRING], call: (s: string) => parseOr(celCidr, s) }],
};

/** The conversion functions take a value of any kind and answer a fault for the kinds they lack. */
export const CONVERSIONS: Readonly<Record<string, (v: unknown) => unknown>> = {
  int: toInt,
  uint: toUint,
  double: toDouble,
  string: toStringValue,
  bool: toBool,
  dyn: (v) => v,
};

export function findOverload(
  overloads: readonly Overload[],
  receiver: number | undefined,
  args: readonly number[],
): Overload | undefined {
  for (const o of overloads) {
    if (o.receiver !== receiver || o.args.length !== args.length) continue;
    if (o.args.every((k, i) => k === args[i])) return o;
  }
  return undefined;
}

export function callFault(name: string, receiver: number | undefined, args: readonly number[]): CelFault {
  const r = receiver === undefined ? '' : `${kindName(receiver)}.`;
  return new CelFault(`found no matching overload for '${r}${name}(${args.map(kindName).join(', ')})'`);
}
