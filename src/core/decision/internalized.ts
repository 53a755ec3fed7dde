/**
 * A compact copy of a string that the engine keeps for a long time: a map key
 * (a caller's SPIFFE ID, a service or method name) or a path prefix.
 *
 * The string a request brings may be cut from a larger text: V8 makes
 * `slice` results and regular-expression captures of 13 characters or more
 * that way, and they hold on to the whole text as long as they live (an ID
 * taken out of a certificate header, say). Even a string of
 * its own sits among that request's other objects, scattered over the heap.
 * The engine's internalized copy stands alone, is allocated beside the
 * engine's other long-lived strings, and has its hash computed once.
 */
export function internalized(text: string): string {
  // A property name is internalized; reading it back gives that copy. The holder has no
  // prototype, so it keeps its properties in a dictionary: no hidden class is made per name,
  // as an object literal's `{ [text]: 0 }` would, beside those of every other `{}`.
  const holder: Record<string, number> = Object.create(null) as Record<string, number>;
  holder[text] = 0;
  for (const key in holder) return key;
  return text;
}
