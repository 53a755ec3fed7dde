/**
 * The line parser for an input format, by name: what `--format` selects.
 */
import type { FlowInputFormat, FlowLineParser } from './flow-line.js';
import { createFlowFormatParser } from './flow-format.js';
import { createDecisionLogParser } from './importers/decision-log.js';
import { createHubbleParser } from './importers/hubble.js';
import { createVpcFlowLogParser } from './importers/vpc-flow-logs.js';

export interface FlowParserOptions {
  /** Hubble: the trust domain SPIFFE IDs are built in from namespaces and service accounts. */
  trustDomain?: string;
  /** VPC Flow Logs: the custom format's fields, when the files have no header line. */
  vpcFields?: readonly string[];
}

/** A fresh parser (one per input: a VPC header applies to its own file). */
export function createFlowParser(format: FlowInputFormat, options: FlowParserOptions = {}): FlowLineParser {
  switch (format) {
    case 'gatehouse':
      return createFlowFormatParser();
    case 'vpc':
      return createVpcFlowLogParser(options.vpcFields ? { fields: options.vpcFields } : {});
    case 'hubble':
      return createHubbleParser(options.trustDomain ? { trustDomain: options.trustDomain } : {});
    case 'decision-log':
      return createDecisionLogParser();
  }
}
