/**
 * Reads HTTP/1.x responses from an upstream connection (RFC 9112): the status
 * line and header fields, then the body framed by `Transfer-Encoding:
 * chunked`, `Content-Length` or the end of the connection, de-chunked for
 * the sink. One response at a time, in the order the requests were sent.
 *
 * Strict where a lenient reading could let one response swallow or forge
 * another on a reused connection: CRLF line endings only, no obsolete line
 * folding, one Content-Length value, never Content-Length together with
 * Transfer-Encoding, bounded head and chunk-size lines. Anything else is an
 * error, and the connection must not be used again.
 */

export interface ResponseHead {
  status: number;
  reason: string;
  /** Field names and values as received, alternating, in order. */
  headers: string[];
  /** The lower-cased tokens of `Connection`: hop-by-hop fields to drop. */
  connection: readonly string[];
}

export interface ResponseSink {
  head(head: ResponseHead): void;
  body(chunk: Buffer): void;
  /** The response is complete; `reusable` when the connection may carry another request. */
  done(reusable: boolean): void;
}

export class ResponseParseError extends Error {
  constructor(message: string) {
    super(`invalid upstream response: ${message}`);
    this.name = 'ResponseParseError';
  }
}

type State =
  'idle' | 'head' | 'length' | 'chunk-size' | 'chunk-data' | 'chunk-data-end' | 'trailers' | 'until-close';

const MAX_HEAD_BYTES = 64 * 1024;
const MAX_LINE_BYTES = 8 * 1024;
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const STATUS_LINE = /^HTTP\/1\.([01]) ([1-9]\d\d)(?: ([^\r\n]*))?$/;
// RFC 9112 §7.1: chunk-size [ chunk-ext ]; 12 hex digits keep the size exact in a double.
const CHUNK_SIZE = /^([0-9A-Fa-f]{1,12})[ \t]*(?:;.*)?$/;
const CRLF_CRLF = Buffer.from('\r\n\r\n', 'latin1');

export class Http1ResponseParser {
  private state: State = 'idle';
  private bodyless = false;
  private keepAlive = false;
  private remaining = 0;
  /** Head bytes received so far. */
  private pending: Buffer | undefined;
  /** A chunk-size or trailer line received so far. */
  private line = '';
  private trailerBytes = 0;
  private finished = false;

  constructor(private readonly sink: ResponseSink) {}

  /** Expects the response to a request with this method (a HEAD response has no body). */
  expect(method: string): void {
    this.state = 'head';
    this.bodyless = method === 'HEAD';
    this.pending = undefined;
  }

  /**
   * Reads bytes from the connection. Bytes after the end of the response
   * make the connection unusable (`done(false)`); bytes while no response is
   * expected throw. @throws ResponseParseError
   */
  feed(data: Buffer): void {
    if (this.state === 'idle') throw new ResponseParseError('bytes while no response is expected');
    let at = 0;
    while (at < data.length && (this.state as State) !== 'idle') {
      switch (this.state) {
        case 'head':
          at = this.readHead(data, at);
          break;
        case 'length':
        case 'chunk-data': {
          const n = Math.min(this.remaining, data.length - at);
          this.sink.body(data.subarray(at, at + n));
          at += n;
          this.remaining -= n;
          if (this.remaining === 0) {
            if (this.state === 'length') this.complete();
            else {
              this.state = 'chunk-data-end';
              this.line = '';
            }
          }
          break;
        }
        case 'until-close':
          this.sink.body(at === 0 ? data : data.subarray(at));
          at = data.length;
          break;
        case 'chunk-size':
        case 'chunk-data-end':
        case 'trailers': {
          const end = data.indexOf(0x0a, at);
          const stop = end < 0 ? data.length : end + 1;
          this.line += data.toString('latin1', at, stop);
          at = stop;
          if (this.line.length > MAX_LINE_BYTES) throw new ResponseParseError('chunk line too long');
          if (end >= 0) this.readLine();
        }
      }
    }
    if (this.finished) {
      this.finished = false;
      this.sink.done(this.keepAlive && at === data.length);
    }
  }

  /** The connection ended: completes a body framed by the close; any other unfinished response is an error. */
  end(): void {
    if (this.state === 'until-close') {
      this.state = 'idle';
      this.sink.done(false);
    } else if (this.state !== 'idle') {
      throw new ResponseParseError('the connection closed before the response was complete');
    }
  }

  private readHead(data: Buffer, at: number): number {
    const chunk = at === 0 ? data : data.subarray(at);
    const before = this.pending?.length ?? 0;
    const buf = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    const end = buf.indexOf(CRLF_CRLF, Math.max(0, before - 3));
    if (end < 0) {
      if (buf.length > MAX_HEAD_BYTES) throw new ResponseParseError('response head too large');
      this.pending = buf;
      return data.length;
    }
    if (end > MAX_HEAD_BYTES) throw new ResponseParseError('response head too large');
    this.pending = undefined;
    this.parseHead(buf.toString('latin1', 0, end));
    // Where the body starts in `data`.
    return at + (end + 4 - before);
  }

  private parseHead(text: string): void {
    const lines = text.split('\r\n');
    const m = STATUS_LINE.exec(lines[0]!);
    if (!m) throw new ResponseParseError('malformed status line');
    const status = Number(m[2]);
    const headers: string[] = [];
    const connection: string[] = [];
    let length: number | undefined;
    let codings: string[] | undefined;
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!;
      const colon = line.indexOf(':');
      // RFC 9112 §5.2: obsolete line folding is rejected.
      if (colon <= 0 || line.charCodeAt(0) === 0x20 || line.charCodeAt(0) === 0x09)
        throw new ResponseParseError('malformed header line');
      const name = line.slice(0, colon);
      if (!TOKEN.test(name)) throw new ResponseParseError('malformed header name');
      const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '');
      if (/[\0\r\n]/.test(value)) throw new ResponseParseError('malformed header value');
      headers.push(name, value);
      const lower = name.toLowerCase();
      if (lower === 'content-length') {
        // RFC 9112 §6.3: a list of differing lengths is unrecoverable.
        for (const part of value.split(',')) {
          const n = /^\d{1,15}$/.test(part.trim()) ? Number(part.trim()) : NaN;
          if (Number.isNaN(n) || (length !== undefined && length !== n))
            throw new ResponseParseError('invalid Content-Length');
          length = n;
        }
      } else if (lower === 'transfer-encoding') {
        codings = [
          ...(codings ?? []),
          ...value
            .toLowerCase()
            .split(',')
            .map((c) => c.trim()),
        ];
      } else if (lower === 'connection') {
        connection.push(
          ...value
            .toLowerCase()
            .split(',')
            .map((c) => c.trim()),
        );
      }
    }
    // 1xx: an interim response; the final one follows on the same connection.
    if (status < 200) {
      if (status === 101) throw new ResponseParseError('unexpected protocol switch');
      return;
    }
    // HTTP/1.0 connections are closed after one response.
    this.keepAlive = m[1] === '1' && !connection.includes('close');
    if (codings !== undefined && length !== undefined)
      throw new ResponseParseError('both Transfer-Encoding and Content-Length');
    // Only chunked is decoded; another coding would reach the client unlabelled.
    if (codings !== undefined && (codings.length !== 1 || codings[0] !== 'chunked'))
      throw new ResponseParseError(`unsupported Transfer-Encoding \`${codings.join(', ')}\``);
    this.sink.head({ status, reason: m[3] ?? '', headers, connection });
    if (this.bodyless || status === 204 || status === 304) this.complete();
    else if (codings !== undefined) {
      this.state = 'chunk-size';
      this.line = '';
    } else if (length !== undefined) {
      this.remaining = length;
      if (length === 0) this.complete();
      else this.state = 'length';
    } else this.state = 'until-close';
  }

  private readLine(): void {
    if (!this.line.endsWith('\r\n')) throw new ResponseParseError('chunk line without CRLF');
    const line = this.line.slice(0, -2);
    this.line = '';
    if (this.state === 'chunk-data-end') {
      if (line !== '') throw new ResponseParseError('chunk data longer than its size');
      this.state = 'chunk-size';
    } else if (this.state === 'chunk-size') {
      const m = CHUNK_SIZE.exec(line);
      if (!m) throw new ResponseParseError('malformed chunk size');
      this.remaining = parseInt(m[1]!, 16);
      if (this.remaining === 0) {
        this.state = 'trailers';
        this.trailerBytes = 0;
      } else this.state = 'chunk-data';
    } else if (line === '') {
      this.complete();
    } else {
      // Trailer fields are read and dropped.
      this.trailerBytes += line.length;
      if (this.trailerBytes > MAX_HEAD_BYTES) throw new ResponseParseError('trailers too large');
    }
  }

  /** Ends the response; `feed` reports it once it knows whether bytes follow. */
  private complete(): void {
    this.state = 'idle';
    this.finished = true;
  }
}
