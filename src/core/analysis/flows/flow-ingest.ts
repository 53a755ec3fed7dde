/**
 * Ingest: lines of one or more inputs in, resolved flow records out, one line
 * at a time, so a file of any size needs constant memory. Bad lines are
 * counted, the first few kept with their file and line number; none stops
 * the ingest.
 */
import { GatehouseError } from '../../errors.js';
import { FLOW_SKIP_REASONS, type FlowLineParser, type FlowSkipReason } from './flow-line.js';
import { observationsOf, type FlowRecord } from './flow-record.js';
import { declaredServiceOf } from './declared-service.js';
import type { EndpointResolver } from './endpoint-resolver.js';

export interface IngestProblem {
  file: string;
  /** 1-based. */
  line: number;
  message: string;
}

export interface IngestReport {
  files: number;
  lines: number;
  /** Flow records produced. */
  records: number;
  /** Flows they stand for (records weighted by `count`). */
  observations: number;
  skipped: Record<FlowSkipReason, number>;
  /** Lines that could not be read. */
  problems: number;
  /** The first problems, in input order (at most `maxProblems`). */
  problemSamples: IngestProblem[];
  /** Records whose caller no identity was found for. */
  unknownSources: number;
  /**
   * Records whose destination is no declared service: with a resolver, also
   * those naming a service its policy does not declare; without one, the
   * records that name no service.
   */
  unknownDestinations: number;
}

export interface IngestOptions {
  /** Fills identities, services and zones; without it records pass as read. */
  resolver?: EndpointResolver;
  /** Problems kept with their line numbers (default 20); all are counted. */
  maxProblems?: number;
}

export class FlowIngest {
  private readonly resolver: EndpointResolver | undefined;
  private readonly maxProblems: number;
  private parser: FlowLineParser | undefined;
  private file = '';
  private lineNumber = 0;
  private readonly totals: IngestReport;

  constructor(options: IngestOptions = {}) {
    this.resolver = options.resolver;
    this.maxProblems = options.maxProblems ?? 20;
    this.totals = {
      files: 0,
      lines: 0,
      records: 0,
      observations: 0,
      skipped: Object.fromEntries(FLOW_SKIP_REASONS.map((r) => [r, 0])) as Record<FlowSkipReason, number>,
      problems: 0,
      problemSamples: [],
      unknownSources: 0,
      unknownDestinations: 0,
    };
  }

  /** Starts an input; line numbers count from 1 again. Each input has its own parser (a VPC header applies to its file). */
  startFile(name: string, parser: FlowLineParser): void {
    this.file = name;
    this.parser = parser;
    this.lineNumber = 0;
    this.totals.files++;
  }

  /** Reads the next line of the current input: a resolved record, or undefined. */
  line(text: string): FlowRecord | undefined {
    const parser = this.parser;
    if (!parser)
      throw new GatehouseError('internal_error', 'flow ingest read a line before its input started');
    this.lineNumber++;
    this.totals.lines++;
    const outcome = parser.parse(text);
    switch (outcome.kind) {
      case 'record': {
        const record = this.resolver ? this.resolver.resolve(outcome.record) : outcome.record;
        const t = this.totals;
        t.records++;
        t.observations += observationsOf(record);
        if (record.source.spiffeId === undefined) t.unknownSources++;
        const declared = this.resolver
          ? declaredServiceOf(record, this.resolver.declaredServices)
          : record.destination.service;
        if (declared === undefined) t.unknownDestinations++;
        return record;
      }
      case 'skip':
        this.totals.skipped[outcome.reason]++;
        return undefined;
      case 'problem':
        this.totals.problems++;
        if (this.totals.problemSamples.length < this.maxProblems)
          this.totals.problemSamples.push({
            file: this.file,
            line: this.lineNumber,
            message: outcome.message,
          });
        return undefined;
      default:
        return undefined;
    }
  }

  report(): IngestReport {
    return {
      ...this.totals,
      skipped: { ...this.totals.skipped },
      problemSamples: [...this.totals.problemSamples],
    };
  }
}

/**
 * Ingests the lines of one input: the pure form for callers that hold the
 * lines already (an HTTP route, a test).
 */
export function ingestFlowLines(
  lines: Iterable<string>,
  parser: FlowLineParser,
  options: IngestOptions & { file?: string } = {},
): { records: FlowRecord[]; report: IngestReport } {
  const ingest = new FlowIngest(options);
  ingest.startFile(options.file ?? '<input>', parser);
  const records: FlowRecord[] = [];
  for (const line of lines) {
    const r = ingest.line(line);
    if (r) records.push(r);
  }
  return { records, report: ingest.report() };
}

/** `file:line: message` for each kept problem, and how many more there were. */
export function formatIngestProblems(report: IngestReport): string[] {
  const out = report.problemSamples.map((p) => `${p.file}:${p.line}: ${p.message}`);
  const more = report.problems - report.problemSamples.length;
  if (more > 0) out.push(`… and ${more} more bad line(s)`);
  return out;
}
