import type { SourceLocation } from '../errors.js';
import type { PolicyDocument } from './parse.js';

/** Wraps a policy already in memory (no file) as a document without locations. */
export function policyDocumentFromObject(value: unknown, file = '<object>'): PolicyDocument {
  return {
    value: value as Record<string, unknown>,
    files: [file],
    locate: (): SourceLocation | undefined => undefined,
  };
}
