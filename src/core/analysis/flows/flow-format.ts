/**
 * The Gatehouse flow format, v1 (docs/flows.md, schemas/flow.v1.json): one
 * flow record per JSON line, checked strictly: an unknown field, a wrong type
 * or an unreadable address is a problem, never silently ignored.
 */
import { tryParseSpiffeId } from '../../identity/spiffe-id.js';
import { tryParseIpAddress } from '../../net/index.js';
import { scanIpv4 } from '../../net/ip-address.js';
import { two } from '../../utc-time.js';
import { isObject, problem, readJsonLine, type FlowLineOutcome, type FlowLineParser } from './flow-line.js';
import {
  FLOW_FORMAT_VERSION,
  FLOW_ORIGINS,
  type FlowAction,
  type FlowDestination,
  type FlowOrigin,
  type FlowRecord,
  type FlowSource,
} from './flow-record.js';

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i;
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const PROTOCOL = /^[a-z0-9][a-z0-9-]*$/;
const ZONE = /^[a-z0-9]([a-z0-9._-]*[a-z0-9])?$/;
const MAX_STRING = 8192;
const TOP = new Set([
  'v',
  'time',
  'source',
  'destination',
  'protocol',
  'action',
  'verdict',
  'count',
  'bytes',
  'packets',
  'origin',
]);
const SOURCE = new Set(['ip', 'spiffeId', 'workload', 'zone']);
const DESTINATION = new Set(['ip', 'spiffeId', 'workload', 'service', 'port', 'zone']);
const ACTION = new Set(['method', 'path', 'operation']);

// Flows of a file share a few thousand identities: each is parsed once.
// Bounded, as every cache of the pure core is.
const spiffeIds = new Set<string>();
const CACHE_LIMIT = 20_000;

/**
 * Whether a string is an RFC 3339 date-time of a real calendar day and time
 * (`2026-02-30` and `25:00` are not). Checked on the digits, without building
 * a date: this runs once per flow record.
 */
export function isFlowTime(v: unknown): v is string {
  if (typeof v !== 'string' || !RFC3339.test(v)) return false;
  const year = two(v, 0) * 100 + two(v, 2);
  const month = two(v, 5);
  const day = two(v, 8);
  if (month < 1 || month > 12 || day < 1) return false;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const days =
    month === 2 ? (leap ? 29 : 28) : month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
  if (day > days || two(v, 11) > 23 || two(v, 14) > 59 || two(v, 17) > 59) return false;
  const last = v.charCodeAt(v.length - 1);
  if (last === 90 || last === 122) return true; // Z, z
  return two(v, v.length - 5) <= 23 && two(v, v.length - 2) <= 59;
}

/** Whether a string is a valid SPIFFE ID (docs/identity.md). */
export function isSpiffeId(v: unknown): v is string {
  if (typeof v !== 'string') return false;
  if (spiffeIds.has(v)) return true;
  if (tryParseSpiffeId(v) === undefined) return false;
  if (spiffeIds.size >= CACHE_LIMIT) spiffeIds.clear();
  spiffeIds.add(v);
  return true;
}

/**
 * Checks a parsed JSON value against the flow format v1 and answers the record
 * (a fresh object holding only the known fields) or the first problem found.
 * `origin` may be left out on input; it is then `gatehouse`.
 */
export function checkFlowRecord(value: unknown): { record: FlowRecord } | { problem: string } {
  const bad = (message: string) => ({ problem: message });
  if (!isObject(value)) return bad('a flow record must be a JSON object');
  for (const k in value) if (!TOP.has(k)) return bad(`unknown field \`${k}\``);
  if (value.v !== FLOW_FORMAT_VERSION)
    return bad(
      value.v === undefined
        ? '`v` is required: the format version, 1'
        : `unsupported version \`${String(value.v)}\`: use 1`,
    );
  if (!isFlowTime(value.time)) return bad('`time` must be an RFC 3339 date-time');

  const s = value.source;
  if (!isObject(s)) return bad('`source` is required: an object with `ip` or `spiffeId`');
  for (const k in s) if (!SOURCE.has(k)) return bad(`unknown field \`source.${k}\``);
  const source: FlowSource = {};
  if (s.ip !== undefined) {
    if (!isIp(s.ip)) return bad('`source.ip` must be an IPv4 or IPv6 address');
    source.ip = s.ip;
  }
  if (s.spiffeId !== undefined) {
    if (!isSpiffeId(s.spiffeId)) return bad('`source.spiffeId` must be a SPIFFE ID');
    source.spiffeId = s.spiffeId;
  }
  if (s.workload !== undefined) {
    if (!isText(s.workload)) return bad('`source.workload` must be a non-empty string');
    source.workload = s.workload;
  }
  if (s.zone !== undefined) {
    if (!isZone(s.zone)) return bad('`source.zone` must be a zone name');
    source.zone = s.zone;
  }
  if (source.ip === undefined && source.spiffeId === undefined)
    return bad('`source` needs `ip` or `spiffeId`');

  const d = value.destination;
  if (!isObject(d)) return bad('`destination` is required: an object with `ip` or `service`, and `port`');
  for (const k in d) if (!DESTINATION.has(k)) return bad(`unknown field \`destination.${k}\``);
  const destination: FlowDestination = {};
  if (d.ip !== undefined) {
    if (!isIp(d.ip)) return bad('`destination.ip` must be an IPv4 or IPv6 address');
    destination.ip = d.ip;
  }
  if (d.spiffeId !== undefined) {
    if (!isSpiffeId(d.spiffeId)) return bad('`destination.spiffeId` must be a SPIFFE ID');
    destination.spiffeId = d.spiffeId;
  }
  if (d.workload !== undefined) {
    if (!isText(d.workload)) return bad('`destination.workload` must be a non-empty string');
    destination.workload = d.workload;
  }
  if (d.service !== undefined) {
    if (!isText(d.service)) return bad('`destination.service` must be a non-empty string');
    destination.service = d.service;
  }
  if (d.zone !== undefined) {
    if (!isZone(d.zone)) return bad('`destination.zone` must be a zone name');
    destination.zone = d.zone;
  }
  if (d.port !== undefined) {
    if (!Number.isInteger(d.port) || (d.port as number) < 1 || (d.port as number) > 65535)
      return bad('`destination.port` must be an integer in 1..65535');
    destination.port = d.port as number;
  }
  if (destination.ip === undefined && destination.service === undefined && destination.spiffeId === undefined)
    return bad('`destination` needs `ip`, `spiffeId` or `service`');

  if (typeof value.protocol !== 'string' || !PROTOCOL.test(value.protocol))
    return bad('`protocol` must be a lower-case protocol name such as `tcp`, or its number');
  const record: FlowRecord = {
    v: FLOW_FORMAT_VERSION,
    time: value.time,
    source,
    destination,
    protocol: value.protocol,
    origin: 'gatehouse',
  };

  if (value.action !== undefined) {
    const a = value.action;
    if (!isObject(a)) return bad('`action` must be an object with `method`, `path` or `operation`');
    for (const k in a) if (!ACTION.has(k)) return bad(`unknown field \`action.${k}\``);
    const action: FlowAction = {};
    if (a.method !== undefined) {
      if (!isMethod(a.method)) return bad('`action.method` must be an HTTP method token');
      action.method = a.method;
    }
    if (a.path !== undefined) {
      if (!isFlowPath(a.path)) return bad('`action.path` must be a path starting with `/`');
      action.path = a.path;
    }
    if (a.operation !== undefined) {
      if (!isText(a.operation)) return bad('`action.operation` must be a non-empty string');
      action.operation = a.operation;
    }
    if (action.method === undefined && action.path === undefined && action.operation === undefined)
      return bad('`action` must name a `method`, a `path` or an `operation`');
    record.action = action;
  }
  if (value.verdict !== undefined) {
    if (value.verdict !== 'allow' && value.verdict !== 'deny') return bad('`verdict` must be allow or deny');
    record.verdict = value.verdict;
  }
  for (const key of ['count', 'bytes', 'packets'] as const) {
    const n = value[key];
    if (n === undefined) continue;
    const min = key === 'count' ? 1 : 0;
    if (!Number.isSafeInteger(n) || (n as number) < min)
      return bad(`\`${key}\` must be a whole number of at least ${min}`);
    record[key] = n as number;
  }
  if (value.origin !== undefined) {
    if (!FLOW_ORIGINS.includes(value.origin as FlowOrigin))
      return bad(`\`origin\` must be one of ${FLOW_ORIGINS.join(', ')}`);
    record.origin = value.origin as FlowOrigin;
  }
  return { record };
}

/** An IPv4 or IPv6 address; dotted quads are checked without allocating. */
function isIp(v: unknown): v is string {
  if (typeof v !== 'string') return false;
  return scanIpv4(v, 0, v.length) >= 0 || (v.includes(':') && tryParseIpAddress(v) !== undefined);
}

/** A request path as the format holds it: it starts with `/`, and is at most 8192 characters. */
export function isFlowPath(v: unknown): v is string {
  return typeof v === 'string' && v.startsWith('/') && v.length <= MAX_STRING;
}

/** An HTTP method token (RFC 9110 §5.6.2). */
export function isMethod(v: unknown): v is string {
  return typeof v === 'string' && TOKEN.test(v);
}

function isText(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0 && v.length <= MAX_STRING;
}

/** A zone name (or `unknown`). */
export function isZone(v: unknown): v is string {
  return typeof v === 'string' && ZONE.test(v);
}

/** Reads the Gatehouse flow format v1, one record per line. */
export function createFlowFormatParser(): FlowLineParser {
  return {
    format: 'gatehouse',
    parse(line: string): FlowLineOutcome {
      const read = readJsonLine(line);
      if ('outcome' in read) return read.outcome;
      const checked = checkFlowRecord(read.value);
      return 'record' in checked ? { kind: 'record', record: checked.record } : problem(checked.problem);
    },
  };
}

/**
 * One record as a line of the flow format v1 (without the line break), fields
 * in a fixed order so that equal records give equal lines.
 */
export function formatFlowRecord(r: FlowRecord): string {
  const out: Record<string, unknown> = { v: r.v, time: r.time, source: pick(r.source, SOURCE_ORDER) };
  out.destination = pick(r.destination, DESTINATION_ORDER);
  out.protocol = r.protocol;
  if (r.action) out.action = pick(r.action, ACTION_ORDER);
  if (r.verdict !== undefined) out.verdict = r.verdict;
  if (r.count !== undefined && r.count !== 1) out.count = r.count;
  if (r.bytes !== undefined) out.bytes = r.bytes;
  if (r.packets !== undefined) out.packets = r.packets;
  out.origin = r.origin;
  return JSON.stringify(out);
}

const SOURCE_ORDER = ['ip', 'spiffeId', 'workload', 'zone'] as const;
const DESTINATION_ORDER = ['ip', 'spiffeId', 'workload', 'service', 'port', 'zone'] as const;
const ACTION_ORDER = ['method', 'path', 'operation'] as const;

function pick<T extends object>(from: T, keys: readonly (keyof T)[]): Partial<T> {
  const out: Partial<T> = {};
  for (const k of keys) if (from[k] !== undefined) out[k] = from[k];
  return out;
}
