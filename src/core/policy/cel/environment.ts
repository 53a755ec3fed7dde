/**
 * The one cel-js environment of policy conditions: what a `when` expression
 * may name, and Gatehouse's functions. cel-js parses and type-checks every
 * condition against it and is the semantic reference of the closure compiler.
 */
import { Environment, EvaluationError } from '@marcbachmann/cel-js';
import { isGatehouseError } from '../../errors.js';
import {
  CelCidr,
  CelIp,
  celCidr,
  celIp,
  celIsCidr,
  celIsIp,
  cidrContainsCidr,
  cidrContainsIp,
  cidrContainsIpText,
  cidrEquals,
  cidrIp,
  cidrPrefixLength,
  cidrToString,
  ipEquals,
  ipFamily,
  ipToString,
} from './net-functions.js';

/** The variables a condition may read, each a map of dynamic values but `time`. */
export const CONDITION_VARIABLES = Object.freeze([
  'source',
  'credential',
  'destination',
  'action',
  'context',
  'time',
] as const);

export type ConditionVariable = (typeof CONDITION_VARIABLES)[number];

/** cel-js's name of the CEL timestamp type. */
export const TIMESTAMP_TYPE = 'google.protobuf.Timestamp';
/** cel-js's name of the CEL duration type. */
export const DURATION_TYPE = 'google.protobuf.Duration';
/** Kubernetes' CEL type names, kept so that conditions read alike. */
export const IP_TYPE = 'net.IP';
export const CIDR_TYPE = 'net.CIDR';

/** Runs `f`, turning a GatehouseError into the CEL evaluation error cel-js expects. */
function celCall<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw isGatehouseError(e) ? new EvaluationError(e.message) : e;
  }
}

function containsIpText(cidr: CelCidr, text: string): boolean {
  const contained = cidrContainsIpText(cidr, text);
  if (contained === undefined) return celCall(() => cidrContainsIp(cidr, celIp(text)));
  return contained;
}

/**
 * The environment every policy condition is parsed, checked and (on the slow
 * path) evaluated with. Undeclared variables are type errors, so a typo such
 * as `contxt.risk` fails when the policy is loaded, not when a request comes.
 * List and map literals must be homogeneous (cel-js's default).
 */
export const conditionEnvironment: Environment = new Environment({
  unlistedVariablesAreDyn: false,
  homogeneousAggregateLiterals: true,
  enableOptionalTypes: false,
  // Conditions are one-liners; these bound compile time on hostile input.
  limits: { maxAstNodes: 4096, maxDepth: 64 },
})
  .registerType(IP_TYPE, { ctor: CelIp, fields: {} })
  .registerType(CIDR_TYPE, { ctor: CelCidr, fields: {} })
  .registerVariable('source', 'map', {
    description: 'the calling workload: spiffeId, trustDomain, path, labels, zone, ip',
  })
  .registerVariable('credential', 'map', {
    description: 'the presented credential: type, id, ageSeconds, ttlSeconds, issuedAt, expiresAt',
  })
  .registerVariable('destination', 'map', { description: 'the called service: service, port, zone' })
  .registerVariable('action', 'map', { description: 'the request: method, path, operation' })
  .registerVariable('context', 'map', { description: 'free-form JSON attributes of the request' })
  .registerVariable('time', TIMESTAMP_TYPE, { description: 'the request time' })
  .registerFunction(`ip(string): ${IP_TYPE}`, (s: string) => celCall(() => celIp(s)))
  .registerFunction(`cidr(string): ${CIDR_TYPE}`, (s: string) => celCall(() => celCidr(s)))
  .registerFunction('isIP(string): bool', celIsIp)
  .registerFunction('isCIDR(string): bool', celIsCidr)
  .registerFunction(`${CIDR_TYPE}.containsIP(string): bool`, containsIpText)
  .registerFunction(`${CIDR_TYPE}.containsIP(${IP_TYPE}): bool`, cidrContainsIp)
  .registerFunction(`${CIDR_TYPE}.containsCIDR(string): bool`, (c: CelCidr, s: string) =>
    celCall(() => cidrContainsCidr(c, celCidr(s))),
  )
  .registerFunction(`${CIDR_TYPE}.containsCIDR(${CIDR_TYPE}): bool`, cidrContainsCidr)
  .registerFunction(`${CIDR_TYPE}.ip(): ${IP_TYPE}`, cidrIp)
  .registerFunction(`${CIDR_TYPE}.masked(): ${CIDR_TYPE}`, (c: CelCidr) => c)
  .registerFunction(`${CIDR_TYPE}.prefixLength(): int`, cidrPrefixLength)
  .registerFunction(`${IP_TYPE}.family(): int`, ipFamily)
  .registerFunction(`string(${IP_TYPE}): string`, ipToString)
  .registerFunction(`string(${CIDR_TYPE}): string`, cidrToString)
  .registerOperator(`${IP_TYPE} == ${IP_TYPE}`, ipEquals)
  .registerOperator(`${CIDR_TYPE} == ${CIDR_TYPE}`, cidrEquals);

// INVARIANT: the closure compiler mirrors exactly these declarations. Cloning
// locks the registry (cel-js's clone() freezes its parent), so that nothing
// registered later can change what a compiled condition means.
conditionEnvironment.clone();
