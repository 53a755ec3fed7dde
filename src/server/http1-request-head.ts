/**
 * Reads the head of one HTTP/1.1 request (RFC 9112) for the lean path of the
 * server (http1-lean-path.ts), and only the plainest form of it: anything
 * this reader does not fully understand is left to Node's own parser, which
 * then reads the request and everything after it on the connection.
 *
 * So the reader never has to judge a doubtful request; it must only never
 * take one that Node would read differently. It takes a head when:
 * - the request line is `METHOD SP /target SP HTTP/1.1`, the method one of a
 *   few upper-case names, the target visible ASCII starting with `/`;
 * - every line ends in CRLF, with no obsolete folding, and every field is
 *   `token ":" OWS value OWS` with a value of visible ASCII, spaces and tabs;
 * - no field name appears twice, and there is a `Host`;
 * - the body is framed by `Content-Length` (one value, digits only) or
 *   absent: no `Transfer-Encoding`, no `Expect`, no `Upgrade`, and
 *   `Connection` is `keep-alive` or `close` when present;
 * - head, target, field count and body size are within the server's limits
 *   (beyond them Node's path answers the 4xx that says which).
 */

/** The bounds a head must keep to be read here. */
export interface RequestHeadLimits {
  maxUrlBytes: number;
  maxHeaderBytes: number;
  maxHeaders: number;
  maxBodyBytes: number;
}

export interface RequestHead {
  method: string;
  /** The request target as sent: path and query. */
  target: string;
  /** Field values by lower-case name, trimmed of surrounding spaces and tabs. */
  headers: Record<string, string>;
  /** Bytes from the start of the buffer to the first byte of the body. */
  headBytes: number;
  /** Body length from `Content-Length`; 0 without one. */
  contentLength: number;
  /** The client asked to close the connection after this request. */
  close: boolean;
}

/** Not enough bytes yet for a whole head. */
export const INCOMPLETE = 'incomplete';
/** A head outside the plain form above: Node's parser must read it. */
export const NOT_PLAIN = 'not_plain';

const METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** tchar (RFC 9110 §5.6.2), upper case included; names are compared lower-cased. */
const TOKEN = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
  TOKEN[c.charCodeAt(0)] = 1;

const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;
const HTAB = 0x09;
const COLON = 0x3a;
const VERSION = ' HTTP/1.1';
const MAX_CONTENT_LENGTH_DIGITS = 15;

/**
 * Whether every line end so far is CRLF: a bare LF or CR would never make
 * the `\r\n\r\n` this reader waits for, but Node's parser refuses it at once.
 */
function plainLineEnds(buf: Buffer, from = 0): boolean {
  // From `from` on: the bytes before it were checked already, but for what follows them.
  for (let i = buf.indexOf(LF, from); i >= 0; i = buf.indexOf(LF, i + 1)) if (buf[i - 1] !== CR) return false;
  for (let i = buf.indexOf(CR, Math.max(0, from - 1)); i >= 0; i = buf.indexOf(CR, i + 1))
    if (i + 1 < buf.length && buf[i + 1] !== LF) return false;
  return true;
}

/**
 * Follows a request head that arrives in pieces, without joining them: says
 * when its end (`\r\n\r\n`) has come, or that it cannot be plain (a bare CR
 * or LF, or more bytes than the limit without an end). Each byte is looked
 * at once, so a head that drips in a byte at a time costs no more than one
 * that arrives whole; once it has ended, {@link readRequestHead} reads it.
 */
export class HeadScanner {
  private size = 0;
  /** The last bytes seen, for an end or a line end split across pieces. */
  private tail: Buffer = Buffer.alloc(0);

  /**
   * `first`, when given, is what {@link readRequestHead} found
   * {@link INCOMPLETE}: plain and within the limit so far, so only its
   * length and last bytes are kept.
   */
  constructor(
    private readonly maxHeaderBytes: number,
    first?: Buffer,
  ) {
    if (first !== undefined) {
      this.size = first.length;
      this.tail = Buffer.from(first.subarray(Math.max(0, first.length - 3)));
    }
  }

  push(piece: Buffer): typeof INCOMPLETE | typeof NOT_PLAIN | 'ended' {
    const window = this.tail.length === 0 ? piece : Buffer.concat([this.tail, piece]);
    const from = this.tail.length;
    this.size += piece.length;
    this.tail = Buffer.from(window.subarray(Math.max(0, window.length - 3)));
    if (window.indexOf('\r\n\r\n') >= 0) return 'ended';
    return this.size > this.maxHeaderBytes || !plainLineEnds(window, from) ? NOT_PLAIN : INCOMPLETE;
  }
}

/**
 * The head at the start of `buf`, {@link INCOMPLETE} when its end has not
 * arrived (and the bytes so far could still be a plain head within the
 * limits), or {@link NOT_PLAIN}.
 */
export function readRequestHead(
  buf: Buffer,
  limits: RequestHeadLimits,
): RequestHead | typeof INCOMPLETE | typeof NOT_PLAIN {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return buf.length > limits.maxHeaderBytes || !plainLineEnds(buf) ? NOT_PLAIN : INCOMPLETE;
  // The whole head, its final empty line included, within the limit: Node takes it too.
  if (end + 4 > limits.maxHeaderBytes) return NOT_PLAIN;

  // Request line.
  const lineEnd = buf.indexOf(CR);
  if (buf[lineEnd + 1] !== LF) return NOT_PLAIN;
  const methodEnd = buf.indexOf(SP);
  if (methodEnd < 0 || methodEnd > lineEnd) return NOT_PLAIN;
  const method = buf.toString('latin1', 0, methodEnd);
  if (!METHODS.has(method)) return NOT_PLAIN;
  const targetEnd = lineEnd - VERSION.length;
  if (targetEnd <= methodEnd + 1 || buf.toString('latin1', targetEnd, lineEnd) !== VERSION) return NOT_PLAIN;
  if (buf[methodEnd + 1] !== 0x2f /* / */ || targetEnd - methodEnd - 1 > limits.maxUrlBytes) return NOT_PLAIN;
  for (let i = methodEnd + 1; i < targetEnd; i++) {
    const c = buf[i]!;
    if (c <= SP || c >= 0x7f) return NOT_PLAIN;
  }
  const target = buf.toString('latin1', methodEnd + 1, targetEnd);

  // Header fields, one per line, up to the empty line at `end`.
  const headers: Record<string, string> = Object.create(null) as Record<string, string>;
  let count = 0;
  let at = lineEnd + 2;
  while (at < end + 2) {
    const eol = buf.indexOf(CR, at);
    // Every CR must start a CRLF; a bare LF inside a line is caught by the value check.
    if (buf[eol + 1] !== LF) return NOT_PLAIN;
    let colon = at;
    while (colon < eol && buf[colon]! < 128 && TOKEN[buf[colon]!] === 1) colon++;
    // An empty name (which also catches a line folded onto the one before) or a name not
    // ending at the colon (a space before it, or a character outside tchar).
    if (colon === at || buf[colon] !== COLON) return NOT_PLAIN;
    let from = colon + 1;
    let to = eol;
    for (let i = from; i < to; i++) {
      const c = buf[i]!;
      if ((c < SP && c !== HTAB) || c >= 0x7f) return NOT_PLAIN;
    }
    while (from < to && (buf[from] === SP || buf[from] === HTAB)) from++;
    while (to > from && (buf[to - 1] === SP || buf[to - 1] === HTAB)) to--;
    const name = buf.toString('latin1', at, colon).toLowerCase();
    if (name in headers || ++count > limits.maxHeaders) return NOT_PLAIN;
    headers[name] = buf.toString('latin1', from, to);
    at = eol + 2;
  }

  if (headers['host'] === undefined) return NOT_PLAIN;
  if (
    headers['transfer-encoding'] !== undefined ||
    headers['expect'] !== undefined ||
    headers['upgrade'] !== undefined
  )
    return NOT_PLAIN;
  let close = false;
  const connection = headers['connection'];
  if (connection !== undefined) {
    const token = connection.toLowerCase();
    if (token === 'close') close = true;
    else if (token !== 'keep-alive') return NOT_PLAIN;
  }
  let contentLength = 0;
  const length = headers['content-length'];
  if (length !== undefined) {
    if (length.length === 0 || length.length > MAX_CONTENT_LENGTH_DIGITS) return NOT_PLAIN;
    for (let i = 0; i < length.length; i++) {
      const c = length.charCodeAt(i);
      if (c < 0x30 || c > 0x39) return NOT_PLAIN;
    }
    contentLength = Number(length);
    if (contentLength > limits.maxBodyBytes) return NOT_PLAIN;
  }
  return { method, target, headers, headBytes: end + 4, contentLength, close };
}
