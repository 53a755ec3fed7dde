export { FLOW_FORMAT_VERSION, FLOW_ORIGINS, observationsOf } from './flow-record.js';
export type {
  FlowAction,
  FlowDestination,
  FlowOrigin,
  FlowRecord,
  FlowSource,
  FlowVerdict,
} from './flow-record.js';
export { FLOW_INPUT_FORMATS, FLOW_SKIP_REASONS } from './flow-line.js';
export type { FlowInputFormat, FlowLineOutcome, FlowLineParser, FlowSkipReason } from './flow-line.js';
export { checkFlowRecord, createFlowFormatParser, formatFlowRecord, isFlowTime } from './flow-format.js';
export { createVpcFlowLogParser, parseVpcLogFormat, VPC_DEFAULT_FIELDS } from './importers/vpc-flow-logs.js';
export type { VpcFlowLogOptions } from './importers/vpc-flow-logs.js';
export { createHubbleParser } from './importers/hubble.js';
export type { HubbleOptions } from './importers/hubble.js';
export { createDecisionLogParser } from './importers/decision-log.js';
export { createFlowParser } from './flow-parser.js';
export type { FlowParserOptions } from './flow-parser.js';
export { declaredServiceNames, declaredServiceOf } from './declared-service.js';
export { EndpointResolver } from './endpoint-resolver.js';
export { FlowIngest, ingestFlowLines, formatIngestProblems } from './flow-ingest.js';
export type { IngestOptions, IngestProblem, IngestReport } from './flow-ingest.js';
