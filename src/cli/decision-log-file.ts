import { createReadStream } from 'node:fs';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { GatehouseError } from '../core/errors.js';
import type { ObservedRecord } from '../core/analysis/exposure/index.js';

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

/**
 * Streams decision records from a JSON-lines file (`-` for standard input),
 * one at a time, so a log of millions of lines needs constant memory.
 * @throws GatehouseError `request_invalid` naming the first line that is not a record
 */
export async function* readDecisionLog(
  path: string,
  cwd: string,
  stdin?: () => AsyncIterable<string>,
): AsyncGenerator<ObservedRecord> {
  const lines: AsyncIterable<string> =
    path === '-' && stdin
      ? stdin()
      : createInterface({
          input: createReadStream(resolve(cwd, path), { encoding: 'utf8' }),
          crlfDelay: Infinity,
        });
  let n = 0;
  try {
    for await (const line of lines) {
      n++;
      if (line.trim() === '') continue;
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch (e) {
        throw new GatehouseError('request_invalid', `${path}:${n}: not valid JSON: ${(e as Error).message}`);
      }
      const problem = recordProblem(value);
      if (problem)
        throw new GatehouseError('request_invalid', `${path}:${n}: not a decision record: ${problem}`);
      yield value as ObservedRecord;
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT')
      throw new GatehouseError('request_invalid', `cannot read decision log \`${path}\`: no such file`);
    throw e;
  }
}

/** Lines of a text, for `-` when standard input was read whole. */
export async function* linesOf(text: string): AsyncGenerator<string> {
  for (const line of text.split('\n')) yield line;
}
