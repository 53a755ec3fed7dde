import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { GatehouseError } from '../core/errors.js';
import {
  createFlowParser,
  EndpointResolver,
  FlowIngest,
  formatIngestProblems,
  FLOW_INPUT_FORMATS,
  parseVpcLogFormat,
  type FlowInputFormat,
  type FlowRecord,
  type IngestReport,
} from '../core/analysis/flows/index.js';
import type { InventorySnapshot } from '../core/identity/inventory.js';
import type { Policy } from '../core/policy/index.js';
import type { CliIo } from './io.js';
import { fileProblem } from './file-problem.js';
import { textFileChunks } from './text-file-chunks.js';
import { UsageError } from './usage-error.js';
import { oneOf } from './exposure-flags.js';
import { countText } from '../core/analysis/rollout/index.js';

/** The flag options every verb that reads flows takes. */
export const FLOW_INPUT_OPTIONS = {
  flows: { type: 'string', multiple: true },
  format: { type: 'string', default: 'gatehouse' },
  'vpc-fields': { type: 'string' },
} as const;

export interface FlowInput {
  files: string[];
  format: FlowInputFormat;
  vpcFields?: string[];
}

/** Reads `--flows`, `--format` and `--vpc-fields`; `files` may come from positionals instead. */
export function flowInput(
  values: { flows?: string[]; format?: string; 'vpc-fields'?: string },
  files?: string[],
): FlowInput {
  const list = files ?? values.flows ?? [];
  if (!list.length) throw new UsageError('name at least one flow file (`-` for standard input)');
  if (list.filter((f) => f === '-').length > 1) throw new UsageError('standard input (`-`) can be read once');
  const format = oneOf(values.format ?? 'gatehouse', FLOW_INPUT_FORMATS, '--format');
  const out: FlowInput = { files: list, format };
  if (values['vpc-fields'] !== undefined) {
    if (format !== 'vpc') throw new UsageError('--vpc-fields applies to --format vpc only');
    const parsed = parseVpcLogFormat(values['vpc-fields']);
    if ('problem' in parsed) throw new UsageError(`--vpc-fields: ${parsed.problem}`);
    out.vpcFields = parsed.fields;
  }
  return out;
}

export interface ReadFlowsOptions {
  policy?: Policy;
  inventory?: InventorySnapshot;
  /** Problems kept with line numbers (default 20). */
  maxProblems?: number;
}

const PROGRESS_MIN_BYTES = 8 * 1024 * 1024;
const PROGRESS_EVERY_MS = 120;

/**
 * Streams the flow records of every input, resolved against the policy and
 * inventory when given, with constant memory. Shows a progress bar on
 * standard error when it is a terminal and the input is large.
 * @returns an iterable of records; `report()` once it is exhausted
 * @throws GatehouseError `request_invalid` for an input that cannot be read
 */
export function readFlows(
  input: FlowInput,
  io: CliIo,
  options: ReadFlowsOptions = {},
): { records: AsyncGenerator<FlowRecord>; report: () => IngestReport } {
  const resolver = options.policy ? new EndpointResolver(options.policy, options.inventory) : undefined;
  const ingest = new FlowIngest({
    ...(resolver ? { resolver } : {}),
    ...(options.maxProblems !== undefined ? { maxProblems: options.maxProblems } : {}),
  });
  const parserOptions = {
    ...(options.policy ? { trustDomain: options.policy.trustDomain } : {}),
    ...(input.vpcFields ? { vpcFields: input.vpcFields } : {}),
  };
  const sizes = input.files.map((f) => (f === '-' ? 0 : sizeOf(f, io.cwd)));
  const total = sizes.reduce((a, b) => a + b, 0);
  const progress =
    total >= PROGRESS_MIN_BYTES && (io.stderr as { isTTY?: boolean }).isTTY === true
      ? new ProgressBar(io.stderr, total)
      : undefined;

  async function* records(): AsyncGenerator<FlowRecord> {
    let done = 0;
    try {
      for (const [index, file] of input.files.entries()) {
        ingest.startFile(file, createFlowParser(input.format, parserOptions));
        if (file === '-') {
          const lines = (await io.readStdin()).split('\n');
          // A final newline ends the last line; it does not start an empty one (as a file is read).
          if (lines[lines.length - 1] === '') lines.pop();
          for (const line of lines) {
            const r = ingest.line(line.endsWith('\r') ? line.slice(0, -1) : line);
            if (r) yield r;
          }
          continue;
        }
        for await (const chunk of lines(resolve(io.cwd, file), file)) {
          for (const line of chunk.lines) {
            const r = ingest.line(line);
            if (r) yield r;
          }
          progress?.update(done + chunk.bytesRead, ingest.report().records);
        }
        done += sizes[index]!;
      }
    } finally {
      progress?.clear();
    }
  }
  return { records: records(), report: () => ingest.report() };
}

function sizeOf(file: string, cwd: string): number {
  try {
    return statSync(resolve(cwd, file)).size;
  } catch {
    throw new GatehouseError('request_invalid', `cannot read flows \`${file}\`: no such file`);
  }
}

/** Lines of a file, a chunk at a time (faster than readline for millions of lines). */
async function* lines(path: string, shown: string): AsyncGenerator<{ lines: string[]; bytesRead: number }> {
  let rest = '';
  let bytesRead = 0;
  try {
    for await (const piece of textFileChunks(path)) {
      bytesRead = piece.bytesRead;
      const parts = (rest + piece.text).split('\n');
      rest = parts.pop()!;
      for (let i = 0; i < parts.length; i++) {
        const p = parts[i]!;
        if (p.endsWith('\r')) parts[i] = p.slice(0, -1);
      }
      yield { lines: parts, bytesRead };
    }
  } catch (e) {
    throw new GatehouseError('request_invalid', `cannot read flows \`${shown}\`: ${fileProblem(e)}`);
  }
  if (rest !== '') yield { lines: [rest.endsWith('\r') ? rest.slice(0, -1) : rest], bytesRead };
}

class ProgressBar {
  private last = 0;
  constructor(
    private readonly out: { write(text: string): unknown },
    private readonly total: number,
  ) {}

  update(bytes: number, records: number): void {
    const now = performance.now();
    if (now - this.last < PROGRESS_EVERY_MS) return;
    this.last = now;
    const share = Math.min(1, bytes / this.total);
    const width = 30;
    const filled = Math.round(share * width);
    const mb = (n: number) => (n / 1e6).toFixed(1);
    this.out.write(
      `\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(Math.floor(share * 100)).padStart(3)} %  ${mb(bytes)} of ${mb(this.total)} MB  ${countText(records)} record(s)\x1b[K`,
    );
  }

  clear(): void {
    if (this.last > 0) this.out.write('\r\x1b[K');
  }
}

/** What ingest found, for standard error: one summary line, then each kept bad line. */
export function ingestSummary(report: IngestReport): string[] {
  const skipped = Object.entries(report.skipped)
    .filter(([, n]) => n > 0)
    .map(([reason, n]) => `${countText(n)} ${SKIP_TEXT[reason] ?? reason}`);
  const out = [
    `read ${countText(report.lines)} line(s) of ${report.files} file(s): ${countText(report.records)} flow record(s) standing for ${countText(report.observations)} flow(s)` +
      (skipped.length ? `; skipped ${skipped.join(', ')}` : '') +
      `; ${countText(report.problems)} bad line(s)`,
  ];
  if (report.unknownSources || report.unknownDestinations)
    out.push(
      `${countText(report.unknownSources)} record(s) from callers with no identity, ${countText(report.unknownDestinations)} to endpoints that are no declared service`,
    );
  for (const p of formatIngestProblems(report)) out.push(`  ${p}`);
  return out;
}

const SKIP_TEXT: Record<string, string> = {
  nodata: 'NODATA record(s)',
  skipdata: 'SKIPDATA record(s)',
  reply: 'reply record(s)',
  repeat: 'repeated report(s) of counted connections',
  'not-a-flow': 'non-flow event(s)',
};

/** Writes the bad-line report to standard error when there were bad lines. */
export function reportBadLines(verb: string, report: IngestReport, io: CliIo): void {
  if (report.problems === 0) return;
  io.stderr.write(`gatehouse ${verb}: ${countText(report.problems)} bad line(s) skipped:\n`);
  for (const p of formatIngestProblems(report)) io.stderr.write(`  ${p}\n`);
}
