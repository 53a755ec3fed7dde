/**
 * What every flow importer does: turn one line of its input into a flow
 * record, a line it deliberately skips, or a problem. Importers never throw on
 * bad input; a bad line is counted and reported with its number, never fatal.
 */
import type { FlowRecord } from './flow-record.js';

/** The input formats `gatehouse flows import --format` reads. */
export type FlowInputFormat = 'gatehouse' | 'vpc' | 'hubble' | 'decision-log';
export const FLOW_INPUT_FORMATS: readonly FlowInputFormat[] = ['gatehouse', 'vpc', 'hubble', 'decision-log'];

/**
 * Why a well-formed line holds no flow: a VPC record with no traffic
 * (`NODATA`) or dropped capture (`SKIPDATA`), the reply half of a connection
 * (already counted by its request), a later report of a connection already
 * counted, or an event that is not a flow.
 */
export type FlowSkipReason = 'nodata' | 'skipdata' | 'reply' | 'repeat' | 'not-a-flow';
export const FLOW_SKIP_REASONS: readonly FlowSkipReason[] = [
  'nodata',
  'skipdata',
  'reply',
  'repeat',
  'not-a-flow',
];

export type FlowLineOutcome =
  | { kind: 'record'; record: FlowRecord }
  | { kind: 'skip'; reason: FlowSkipReason }
  | { kind: 'problem'; message: string }
  /** A blank line, a comment or a header: nothing to count. */
  | { kind: 'blank' };

export interface FlowLineParser {
  readonly format: FlowInputFormat;
  /** Reads one line (without its line break). Never throws. */
  parse(line: string): FlowLineOutcome;
}

export const BLANK: FlowLineOutcome = Object.freeze({ kind: 'blank' });

export function problem(message: string): FlowLineOutcome {
  return { kind: 'problem', message };
}

export function skip(reason: FlowSkipReason): FlowLineOutcome {
  return { kind: 'skip', reason };
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** A line as shown inside a message: short, one line. */
export function excerpt(text: string, max = 60): string {
  const one = text.replace(/\s+/g, ' ');
  return one.length > max ? `${one.slice(0, max)}…` : one;
}

/**
 * The value of a JSON line, or the outcome that ends its reading: blank, or
 * a problem when it is not JSON. Never throws.
 */
export function readJsonLine(line: string): { value: unknown } | { outcome: FlowLineOutcome } {
  if (line.length === 0 || line.trim() === '') return { outcome: BLANK };
  // RFC 8259 §8.1: a parser may ignore a byte order mark, and editors on Windows
  // start files with one; JSON.parse refuses it, which made a good first line bad.
  const text = line.charCodeAt(0) === 0xfeff ? line.slice(1) : line;
  try {
    return { value: JSON.parse(text) as unknown };
  } catch (e) {
    return { outcome: problem(`not valid JSON: ${(e as Error).message}`) };
  }
}
