import { resolve } from 'node:path';
import { GatehouseError } from '../core/errors.js';
import type { ObservedRecord } from '../core/analysis/exposure/index.js';
import { fileProblem, isFileSystemError } from './file-problem.js';
import { textFileChunks, textFileChunksSync } from './text-file-chunks.js';

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** What analysis needs of a record; the rest of the format is the decision log's to check. */
function recordProblem(v: unknown): string | undefined {
  if (!isObject(v)) return 'not a JSON object';
  if (typeof v.time !== 'string') return '`time` must be a string';
  if (!isObject(v.source) || typeof v.source.spiffeId !== 'string') return '`source.spiffeId` is required';
  if (typeof v.source.zone !== 'string') return '`source.zone` is required';
  if (!isObject(v.destination) || typeof v.destination.service !== 'string')
    return '`destination.service` is required';
  if (v.decision !== 'allow' && v.decision !== 'deny') return '`decision` must be allow or deny';
  if (!Array.isArray(v.rules)) return '`rules` must be a list';
  if (typeof v.layer !== 'string') return '`layer` is required';
  return undefined;
}

/** Where the records of a log go. */
export interface DecisionLogSink {
  add(record: ObservedRecord): void;
  /**
   * Takes a line it can read without building the record (`Audit.addLine`);
   * false leaves the line to be parsed, checked and given to {@link add}.
   */
  addLine?(line: string): boolean;
}

/**
 * Reads a JSON-lines decision log (`-` for standard input) into `sink`, line
 * by line, so a log of millions of lines needs constant memory.
 * @throws GatehouseError `request_invalid` naming the first line that is not a record
 */
export async function readDecisionLog(
  path: string,
  cwd: string,
  sink: DecisionLogSink,
  stdin?: () => Promise<string>,
): Promise<void> {
  const batches: AsyncIterable<readonly string[]> | Iterable<readonly string[]> =
    path === '-' && stdin ? [(await stdin()).split('\n')] : fileLines(resolve(cwd, path));
  let n = 0;
  try {
    for await (const lines of batches) {
      for (const line of lines) {
        n++;
        if (line.trim() === '' || sink.addLine?.(line)) continue;
        let value: unknown;
        try {
          value = JSON.parse(line);
        } catch (e) {
          throw new GatehouseError(
            'request_invalid',
            `${path}:${n}: not valid JSON: ${(e as Error).message}`,
          );
        }
        const problem = recordProblem(value);
        if (problem)
          throw new GatehouseError('request_invalid', `${path}:${n}: not a decision record: ${problem}`);
        sink.add(value as ObservedRecord);
      }
    }
  } catch (e) {
    // Only the file's own errors: those of the sink are its to word.
    if (isFileSystemError(e))
      throw new GatehouseError('request_invalid', `cannot read decision log \`${path}\`: ${fileProblem(e)}`);
    throw e;
  }
}

/**
 * The lines of a text file, a batch per chunk read. Lines end at `\n`,
 * `\r\n` or a lone `\r`, and a last line without an end counts when it is
 * not empty — as node:readline reads them.
 */
async function* fileLines(file: string): AsyncGenerator<string[]> {
  const cutter = new LineCutter();
  for await (const { text } of textFileChunks(file)) {
    const lines = cutter.push(text);
    if (lines) yield lines;
  }
  const last = cutter.end();
  if (last) yield last;
}

/** {@link fileLines}, read synchronously: for a thread of its own that may wait on the disk. */
export function* fileLinesSync(file: string): Generator<string[]> {
  const cutter = new LineCutter();
  for (const { text } of textFileChunksSync(file)) {
    const lines = cutter.push(text);
    if (lines) yield lines;
  }
  const last = cutter.end();
  if (last) yield last;
}

/** Cuts text given a piece at a time into lines (see {@link fileLines}). */
class LineCutter {
  private rest = '';

  /** The lines the piece completes; undefined when it completes none. */
  push(text: string): string[] | undefined {
    const first = text.indexOf('\n');
    if (first === -1) {
      this.rest += text;
      return undefined;
    }
    const lines: string[] = [];
    // The line begun in the piece before ends here; a `\r` it ended with pairs with this `\n`.
    cutLines(this.rest + text.slice(0, first + 1), lines);
    this.rest = cutLines(text.slice(first + 1), lines);
    return lines;
  }

  /** The last line, when the text does not end with a line end. */
  end(): string[] | undefined {
    if (this.rest === '') return undefined;
    const lines: string[] = [];
    cutLines(this.rest + '\n', lines);
    this.rest = '';
    return lines;
  }
}

/** Pushes the complete lines of `text` onto `out`; returns what follows the last `\n`. */
function cutLines(text: string, out: string[]): string {
  let start = 0;
  let cr = text.indexOf('\r');
  for (;;) {
    const nl = text.indexOf('\n', start);
    if (nl === -1) return text.slice(start);
    if (cr === -1 || cr > nl) {
      out.push(text.slice(start, nl));
    } else {
      // A `\r` before the `\n` ends a line of its own, unless it is the `\r` of `\r\n`.
      while (cr !== -1 && cr < nl - 1) {
        out.push(text.slice(start, cr));
        start = cr + 1;
        cr = text.indexOf('\r', start);
      }
      out.push(text.slice(start, cr === nl - 1 ? nl - 1 : nl));
      cr = text.indexOf('\r', nl + 1);
    }
    start = nl + 1;
  }
}
