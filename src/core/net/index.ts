export { parseIpAddress, tryParseIpAddress, formatIpAddress } from './ip-address.js';
export type { IpAddress } from './ip-address.js';
export { parseCidr, formatCidr, cidrContains } from './cidr.js';
export type { Cidr } from './cidr.js';
export { createPrefixTable } from './prefix-table.js';
export type { PrefixTable, PrefixTableEntry } from './prefix-table.js';
