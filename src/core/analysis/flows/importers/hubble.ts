/**
 * Cilium Hubble flows as `hubble observe -o json` prints them: one JSON object
 * per line, `{"flow": {…}, "node_name": …, "time": …}` (a bare flow object is
 * read too). Field names are Hubble's protobuf JSON names (`IP`, `l4.TCP`,
 * `traffic_direction`, `is_reply`, `l7.http`).
 *
 * Each connection is counted once, from its initiator:
 * - replies (`is_reply`, an L7 `RESPONSE`, a TCP `SYN`+`ACK`) are skipped;
 * - TCP reports without `SYN` are later packets of a connection already
 *   counted, skipped as repeats;
 * - an L3/L4 `EGRESS` report towards a pod is skipped as a repeat: the same
 *   connection is reported again where it arrives (`INGRESS`).
 * Every L7 request counts, with its method and path. `DROPPED` and `ERROR`
 * are a `deny` verdict; every other verdict means the traffic went through.
 *
 * Hubble names Kubernetes endpoints, not SPIFFE IDs. Given the trust domain,
 * an endpoint's namespace and service account
 * (`k8s:io.cilium.k8s.policy.serviceaccount`) make the SPIFFE ID
 * `spiffe://<trust domain>/ns/<namespace>/sa/<service account>`, the form
 * Cilium's and SPIRE's Kubernetes integrations issue.
 */
import { tryParseIpAddress } from '../../../net/index.js';
import {
  excerpt,
  isObject,
  problem,
  readJsonLine,
  skip,
  type FlowLineOutcome,
  type FlowLineParser,
} from '../flow-line.js';
import { isFlowPath, isFlowTime, isMethod } from '../flow-format.js';
import {
  FLOW_FORMAT_VERSION,
  type FlowDestination,
  type FlowRecord,
  type FlowSource,
} from '../flow-record.js';

export interface HubbleOptions {
  /** The trust domain to build SPIFFE IDs in from namespaces and service accounts. */
  trustDomain?: string;
}

const SERVICE_ACCOUNT = 'k8s:io.cilium.k8s.policy.serviceaccount=';
const NAMESPACE = 'k8s:io.kubernetes.pod.namespace=';
const DENY_VERDICTS = new Set(['DROPPED', 'ERROR']);
const L4: readonly [string, string][] = [
  ['TCP', 'tcp'],
  ['UDP', 'udp'],
  ['SCTP', 'sctp'],
  ['ICMPv4', 'icmp'],
  ['ICMPv6', 'icmpv6'],
];
/** A name segment of a SPIFFE ID built from Kubernetes names. */
const K8S_NAME = /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/;

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

function label(labels: unknown, prefix: string): string | undefined {
  if (!Array.isArray(labels)) return undefined;
  for (const l of labels) if (typeof l === 'string' && l.startsWith(prefix)) return l.slice(prefix.length);
  return undefined;
}

/** The endpoint as the flow format names it. */
function endpoint(
  raw: unknown,
  ip: string | undefined,
  trustDomain: string | undefined,
): FlowSource & FlowDestination {
  const out: FlowSource & FlowDestination = {};
  if (ip !== undefined) out.ip = ip;
  if (!isObject(raw)) return out;
  const namespace = str(raw.namespace) ?? label(raw.labels, NAMESPACE);
  const workloads = Array.isArray(raw.workloads) ? raw.workloads : [];
  const name = str(isObject(workloads[0]) ? workloads[0].name : undefined) ?? str(raw.pod_name);
  if (name !== undefined) out.workload = namespace ? `${namespace}/${name}` : name;
  const account = label(raw.labels, SERVICE_ACCOUNT);
  if (trustDomain && namespace && account && K8S_NAME.test(namespace) && K8S_NAME.test(account))
    out.spiffeId = `spiffe://${trustDomain}/ns/${namespace}/sa/${account}`;
  return out;
}

/**
 * The path of an HTTP URL as Hubble reports it (absolute, or a bare path), without query;
 * undefined when it has none the flow format holds. An opaque URL (`mailto:x`) has a
 * `pathname` without a leading `/`: written as a record, it would not read back.
 */
function urlPath(url: string): string | undefined {
  let path: string;
  if (url.startsWith('/')) {
    const end = url.search(/[?#]/);
    path = end === -1 ? url : url.slice(0, end);
  } else {
    try {
      path = new URL(url).pathname || '/';
    } catch {
      return undefined;
    }
  }
  return isFlowPath(path) ? path : undefined;
}

/** A parser for `hubble observe -o json` lines. */
export function createHubbleParser(options: HubbleOptions = {}): FlowLineParser {
  const trustDomain = options.trustDomain;
  return {
    format: 'hubble',
    parse(line: string): FlowLineOutcome {
      const read = readJsonLine(line);
      if ('outcome' in read) return read.outcome;
      const top = read.value;
      if (!isObject(top)) return problem('a Hubble line must be a JSON object');
      // GetFlowsResponse wraps the flow; other responses (node status, lost events) hold none.
      const flow = isObject(top.flow) ? top.flow : 'verdict' in top || 'IP' in top ? top : undefined;
      if (!flow) return skip('not-a-flow');
      const time = flow.time ?? top.time;
      if (!isFlowTime(time)) return problem('`flow.time` must be an RFC 3339 date-time');
      const ipLayer = isObject(flow.IP) ? flow.IP : undefined;
      if (!ipLayer) return skip('not-a-flow');
      const srcIp = str(ipLayer.source);
      const dstIp = str(ipLayer.destination);
      if (srcIp === undefined || tryParseIpAddress(srcIp) === undefined)
        return problem(`\`flow.IP.source\` must be an IP address, got \`${String(ipLayer.source)}\``);
      if (dstIp === undefined || tryParseIpAddress(dstIp) === undefined)
        return problem(
          `\`flow.IP.destination\` must be an IP address, got \`${String(ipLayer.destination)}\``,
        );

      const l4 = isObject(flow.l4) ? flow.l4 : undefined;
      let protocol: string | undefined;
      let ports: Record<string, unknown> | undefined;
      for (const [key, name] of L4) {
        if (l4 && isObject(l4[key])) {
          protocol = name;
          ports = l4[key] as Record<string, unknown>;
          break;
        }
      }
      if (protocol === undefined) return skip('not-a-flow');

      const l7 = isObject(flow.l7) ? flow.l7 : undefined;
      if (flow.is_reply === true || l7?.type === 'RESPONSE') return skip('reply');
      if (!l7 && protocol === 'tcp' && ports && isObject(ports.flags)) {
        const flags = ports.flags;
        if (flags.SYN !== true) return skip('repeat');
        if (flags.ACK === true) return skip('reply');
      }
      const destinationRaw = flow.destination;
      if (
        !l7 &&
        flow.traffic_direction === 'EGRESS' &&
        isObject(destinationRaw) &&
        str(destinationRaw.pod_name) !== undefined
      )
        return skip('repeat');

      const destination: FlowDestination = endpoint(destinationRaw, dstIp, trustDomain);
      const port = ports?.destination_port;
      if (port !== undefined && port !== 0) {
        if (!Number.isInteger(port) || (port as number) < 1 || (port as number) > 65535)
          return problem(`\`destination_port\` must be a port number, got \`${String(port)}\``);
        destination.port = port as number;
      }
      const record: FlowRecord = {
        v: FLOW_FORMAT_VERSION,
        time: time,
        source: endpoint(flow.source, srcIp, trustDomain),
        destination,
        protocol,
        origin: 'hubble',
      };
      const verdict = str(flow.verdict);
      if (verdict !== undefined) record.verdict = DENY_VERDICTS.has(verdict) ? 'deny' : 'allow';
      const http = l7 && isObject(l7.http) ? l7.http : undefined;
      if (http) {
        const method = str(http.method);
        const url = str(http.url);
        const path = url === undefined ? undefined : urlPath(url);
        if (method !== undefined && !isMethod(method))
          return problem(`\`l7.http.method\` must be an HTTP method, got \`${method}\``);
        if (url !== undefined && path === undefined)
          return problem(`\`l7.http.url\` must be a URL or a path, got \`${excerpt(url)}\``);
        if (method !== undefined || path !== undefined) {
          record.action = {};
          if (method !== undefined) record.action.method = method.toUpperCase();
          if (path !== undefined) record.action.path = path;
        }
      }
      return { kind: 'record', record };
    },
  };
}
