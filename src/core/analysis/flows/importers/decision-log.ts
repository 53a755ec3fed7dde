/**
 * Gatehouse's own decision log (`DecisionRecord`, v1) read as flows: every
 * decided request is a flow from the caller to the service, with its action,
 * the zones the decision point saw, and whether it went through (`allowed`,
 * which is true for a deny that observe or simulate mode let pass). The hash
 * chain is not checked here: that is `gatehouse audit`'s job.
 */
import { tryParseIpAddress } from '../../../net/index.js';
import { isObject, problem, readJsonLine, type FlowLineOutcome, type FlowLineParser } from '../flow-line.js';
import { isFlowTime, isMethod, isSpiffeId, isZone } from '../flow-format.js';
import { FLOW_FORMAT_VERSION, type FlowRecord } from '../flow-record.js';

/** A parser for decision log lines (docs/decision-log.md). */
export function createDecisionLogParser(): FlowLineParser {
  return {
    format: 'decision-log',
    parse(line: string): FlowLineOutcome {
      const read = readJsonLine(line);
      if ('outcome' in read) return read.outcome;
      const r = read.value;
      if (!isObject(r)) return problem('a decision record must be a JSON object');
      if (r.v !== 1) return problem(`unsupported decision record version \`${String(r.v)}\`: use 1`);
      if (!isFlowTime(r.time)) return problem('`time` must be an RFC 3339 date-time');
      const s = r.source;
      const d = r.destination;
      if (!isObject(s) || typeof s.spiffeId !== 'string') return problem('`source.spiffeId` is required');
      if (!isObject(d) || typeof d.service !== 'string' || d.service === '')
        return problem('`destination.service` is required');
      if (typeof r.allowed !== 'boolean') return problem('`allowed` must be true or false');

      const record: FlowRecord = {
        v: FLOW_FORMAT_VERSION,
        time: r.time,
        source: {},
        destination: { service: d.service },
        protocol: 'tcp',
        verdict: r.allowed ? 'allow' : 'deny',
        origin: 'decision-log',
      };
      // A caller whose SPIFFE ID did not parse has no identity: the flow stays, from an unknown source.
      if (isSpiffeId(s.spiffeId)) record.source.spiffeId = s.spiffeId;
      if (s.ip !== undefined) {
        if (typeof s.ip !== 'string' || tryParseIpAddress(s.ip) === undefined)
          return problem(`\`source.ip\` must be an IP address, got \`${String(s.ip)}\``);
        record.source.ip = s.ip;
      }
      if (isZone(s.zone)) record.source.zone = s.zone;
      if (record.source.ip === undefined && record.source.spiffeId === undefined)
        return problem('the caller has neither a valid SPIFFE ID nor an address');
      if (d.port !== undefined) {
        if (!Number.isInteger(d.port) || (d.port as number) < 1 || (d.port as number) > 65535)
          return problem('`destination.port` must be an integer in 1..65535');
        record.destination.port = d.port as number;
      }
      if (isZone(d.zone)) record.destination.zone = d.zone;
      const a = r.action;
      if (isObject(a)) {
        const action: NonNullable<FlowRecord['action']> = {};
        if (isMethod(a.method)) action.method = a.method;
        if (typeof a.path === 'string' && a.path.startsWith('/')) action.path = a.path;
        if (typeof a.operation === 'string' && a.operation !== '') action.operation = a.operation;
        if (action.method !== undefined || action.path !== undefined || action.operation !== undefined)
          record.action = action;
      }
      return { kind: 'record', record };
    },
  };
}
