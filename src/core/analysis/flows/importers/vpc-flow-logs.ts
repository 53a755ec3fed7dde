/**
 * AWS VPC Flow Logs, versions 2 to 5 (and later versions' fields, which are
 * read by name and otherwise ignored): space-separated records in the default
 * format, or in a custom format named by a header line (as flow logs
 * delivered to S3 begin) or given as the flow log's `LogFormat`
 * (`${version} ${srcaddr} …`).
 *
 * A record with `log-status` `NODATA` (no traffic in the window) or
 * `SKIPDATA` (records lost during capture) is skipped and counted, not a
 * problem. `-` marks a field that does not apply. `pkt-srcaddr` and
 * `pkt-dstaddr` (v3), when present, win over `srcaddr` and `dstaddr`: they
 * are the addresses of the original packet, through NAT and load balancers.
 *
 * Flow logs record both halves of a connection. The reply half (from a
 * service port below 32768 to an ephemeral port of 32768 or above) is
 * skipped as a reply, so each connection counts once, from its initiator.
 */
import { tryParseIpAddress } from '../../../net/index.js';
import { BLANK, excerpt, problem, skip, type FlowLineOutcome, type FlowLineParser } from '../flow-line.js';
import { FLOW_FORMAT_VERSION, type FlowRecord } from '../flow-record.js';

/** The default format (version 2), in order. */
export const VPC_DEFAULT_FIELDS: readonly string[] = [
  'version',
  'account-id',
  'interface-id',
  'srcaddr',
  'dstaddr',
  'srcport',
  'dstport',
  'protocol',
  'packets',
  'bytes',
  'start',
  'end',
  'action',
  'log-status',
];

/** Every field name AWS defines, versions 2 to 8. */
const KNOWN_FIELDS = new Set([
  ...VPC_DEFAULT_FIELDS,
  'vpc-id',
  'subnet-id',
  'instance-id',
  'tcp-flags',
  'type',
  'pkt-srcaddr',
  'pkt-dstaddr',
  'region',
  'az-id',
  'sublocation-type',
  'sublocation-id',
  'pkt-src-aws-service',
  'pkt-dst-aws-service',
  'flow-direction',
  'traffic-path',
  'ecs-cluster-arn',
  'ecs-cluster-name',
  'ecs-container-instance-arn',
  'ecs-container-instance-id',
  'ecs-container-id',
  'ecs-second-container-id',
  'ecs-service-name',
  'ecs-task-definition-arn',
  'ecs-task-arn',
  'ecs-task-id',
  'reject-reason',
]);

/** IANA protocol numbers with a name in the flow format. */
const PROTOCOLS: Readonly<Record<string, string>> = {
  '1': 'icmp',
  '6': 'tcp',
  '17': 'udp',
  '58': 'icmpv6',
  '132': 'sctp',
};

/** The first ephemeral port: a reply goes from a port below it to a port at or above it. */
const EPHEMERAL_FROM = 32768;

export interface VpcFlowLogOptions {
  /** The record's fields in order; the default format unless a header line says otherwise. */
  fields?: readonly string[];
  /** Skip the reply half of connections (default true). */
  skipReplies?: boolean;
}

/** A field name as written in a header, a `LogFormat` or Athena (`${pkt-srcaddr}`, `pkt_srcaddr`). */
function fieldName(token: string): string {
  const bare = token.startsWith('${') && token.endsWith('}') ? token.slice(2, -1) : token;
  return bare.toLowerCase().replace(/_/g, '-');
}

/**
 * Reads a flow log's `LogFormat` (`${version} ${vpc-id} …`) or a header line
 * into field names.
 * @returns the names, or a problem when the format lacks a field flows need
 */
export function parseVpcLogFormat(text: string): { fields: string[] } | { problem: string } {
  const fields = text.trim().split(/\s+/).filter(Boolean).map(fieldName);
  const unknown = fields.find((f) => !KNOWN_FIELDS.has(f));
  if (unknown !== undefined) return { problem: `unknown VPC flow log field \`${unknown}\`` };
  const has = (f: string) => fields.includes(f);
  const missing = [
    has('srcaddr') || has('pkt-srcaddr') ? undefined : 'srcaddr',
    has('dstaddr') || has('pkt-dstaddr') ? undefined : 'dstaddr',
    has('dstport') ? undefined : 'dstport',
    has('protocol') ? undefined : 'protocol',
    has('start') ? undefined : 'start',
  ].filter((f): f is string => f !== undefined);
  if (missing.length) return { problem: `the format lacks ${missing.map((m) => `\`${m}\``).join(', ')}` };
  return { fields };
}

/** A line of field names only: a header. */
function isHeader(tokens: readonly string[]): boolean {
  return tokens.length > 1 && tokens.every((t) => KNOWN_FIELDS.has(fieldName(t)));
}

const DIGITS = /^\d+$/;

function wholeNumber(token: string | undefined, max: number): number | undefined {
  if (token === undefined || !DIGITS.test(token)) return undefined;
  const n = Number(token);
  return n <= max ? n : undefined;
}

/**
 * A parser for VPC flow log records. Stateful: a header line changes the
 * field order for the lines after it.
 */
export function createVpcFlowLogParser(options: VpcFlowLogOptions = {}): FlowLineParser {
  let fields = [...(options.fields ?? VPC_DEFAULT_FIELDS)];
  let at = indexFields(fields);
  const skipReplies = options.skipReplies ?? true;
  return {
    format: 'vpc',
    parse(line: string): FlowLineOutcome {
      const trimmed = line.trim();
      if (trimmed === '' || trimmed.startsWith('#')) return BLANK;
      const tokens = trimmed.split(/\s+/);
      if (isHeader(tokens)) {
        const parsed = parseVpcLogFormat(trimmed);
        if ('problem' in parsed) return problem(`header: ${parsed.problem}`);
        fields = parsed.fields;
        at = indexFields(fields);
        return BLANK;
      }
      if (tokens.length !== fields.length) {
        return problem(
          `expected ${fields.length} space-separated fields (${fields[0]} … ${fields[fields.length - 1]}), found ${tokens.length}: \`${excerpt(trimmed)}\``,
        );
      }
      const get = (name: string): string | undefined => {
        const i = at.get(name);
        const t = i === undefined ? undefined : tokens[i];
        return t === '-' ? undefined : t;
      };
      const version = get('version');
      if (version !== undefined && (!DIGITS.test(version) || Number(version) < 2))
        return problem(`unsupported version \`${version}\`: VPC flow logs are version 2 or later`);
      const status = get('log-status');
      if (status === 'NODATA') return skip('nodata');
      if (status === 'SKIPDATA') return skip('skipdata');
      if (status !== undefined && status !== 'OK')
        return problem(`unknown log-status \`${status}\`: expected OK, NODATA or SKIPDATA`);

      const src = get('pkt-srcaddr') ?? get('srcaddr');
      const dst = get('pkt-dstaddr') ?? get('dstaddr');
      if (src === undefined || tryParseIpAddress(src) === undefined)
        return problem(`\`srcaddr\` must be an IP address, got \`${src ?? '-'}\``);
      if (dst === undefined || tryParseIpAddress(dst) === undefined)
        return problem(`\`dstaddr\` must be an IP address, got \`${dst ?? '-'}\``);
      const protocolText = get('protocol');
      const protocolNumber = wholeNumber(protocolText, 255);
      if (protocolNumber === undefined)
        return problem(`\`protocol\` must be an IANA protocol number, got \`${protocolText ?? '-'}\``);
      const srcportText = get('srcport');
      const dstportText = get('dstport');
      const srcport = srcportText === undefined ? 0 : wholeNumber(srcportText, 65535);
      const dstport = dstportText === undefined ? 0 : wholeNumber(dstportText, 65535);
      if (srcport === undefined) return problem(`\`srcport\` must be a port number, got \`${srcportText}\``);
      if (dstport === undefined) return problem(`\`dstport\` must be a port number, got \`${dstportText}\``);
      const startText = get('start');
      const start = wholeNumber(startText, 253_402_300_799);
      if (start === undefined) return problem(`\`start\` must be Unix seconds, got \`${startText ?? '-'}\``);
      if (skipReplies && srcport > 0 && srcport < EPHEMERAL_FROM && dstport >= EPHEMERAL_FROM)
        return skip('reply');

      const record: FlowRecord = {
        v: FLOW_FORMAT_VERSION,
        time: new Date(start * 1000).toISOString(),
        source: { ip: src },
        destination: { ip: dst },
        protocol: PROTOCOLS[String(protocolNumber)] ?? String(protocolNumber),
        origin: 'vpc-flow-logs',
      };
      if (dstport > 0) record.destination.port = dstport;
      const action = get('action');
      if (action === 'ACCEPT') record.verdict = 'allow';
      else if (action === 'REJECT') record.verdict = 'deny';
      else if (action !== undefined)
        return problem(`unknown action \`${action}\`: expected ACCEPT or REJECT`);
      for (const key of ['bytes', 'packets'] as const) {
        const t = get(key);
        if (t === undefined) continue;
        const n = wholeNumber(t, Number.MAX_SAFE_INTEGER);
        if (n === undefined) return problem(`\`${key}\` must be a whole number, got \`${t}\``);
        record[key] = n;
      }
      return { kind: 'record', record };
    },
  };
}

function indexFields(fields: readonly string[]): Map<string, number> {
  return new Map(fields.map((f, i) => [f, i]));
}
