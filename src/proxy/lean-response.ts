/**
 * An answer written by the proxy straight on a lean-path connection
 * (lean-proxy-service.ts), framed as Node's `ServerResponse` frames it:
 * the fields given, then `Date` unless among them, `Connection` and
 * `Keep-Alive`; the body as given with a `Content-Length`, chunked without
 * one, none for HEAD, 1xx, 204 and 304. Names and values are checked as
 * Node checks them (a token; tab, visible ASCII and bytes 0x80 to 0xFF),
 * so that an upstream's field cannot split the answer.
 *
 * The head waits for the first body bytes or the end, and goes out with
 * them in one write.
 */
import { answerHeadEnd, FIELD_NAME, type LeanExchange } from '../server/http1-lean-path.js';
import type { ProxyResponse } from './proxy-exchange.js';

const SENDABLE = /^[\t\x20-\x7e\x80-\xff]*$/;

export class InvalidAnswerError extends Error {
  readonly code = 'ERR_INVALID_CHAR';
}

export class LeanResponse implements ProxyResponse {
  headersSent = false;
  /** The head, until it goes out with the first body bytes or the end. */
  private head: string | undefined;
  private bodyless: boolean;
  private chunked = false;
  private close = false;
  private ended = false;
  private readonly listening: [event: 'close' | 'drain', listener: () => void][] = [];

  constructor(private readonly exchange: LeanExchange) {
    this.bodyless = exchange.head.method === 'HEAD';
  }

  writeHead(status: number, reason: string, headers: string[]): this {
    if (this.headersSent) throw new Error('the answer head was already written');
    if (!Number.isInteger(status) || status < 100 || status > 999)
      throw new RangeError(`invalid status ${status}`);
    if (!SENDABLE.test(reason)) throw new InvalidAnswerError('invalid character in the reason phrase');
    let head = `HTTP/1.1 ${status} ${reason}\r\n`;
    let length = false;
    let date = false;
    let connection = false;
    let close = this.exchange.mustClose;
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i]!;
      const value = headers[i + 1]!;
      if (!FIELD_NAME.test(name))
        throw new InvalidAnswerError(`invalid field name \`${name.slice(0, 100)}\``);
      if (!SENDABLE.test(value)) throw new InvalidAnswerError(`invalid character in field \`${name}\``);
      const lower = name.toLowerCase();
      if (lower === 'connection') {
        // Written as given, and no other (as Node does); only the proxy's own answers set it.
        connection = true;
        if (/close/i.test(value)) close = true;
      } else if (lower === 'content-length') length = true;
      else if (lower === 'date') date = true;
      head += `${name}: ${value}\r\n`;
    }
    if (status < 200 || status === 204 || status === 304) this.bodyless = true;
    this.chunked = !this.bodyless && !length;
    this.close = close;
    this.head =
      head +
      answerHeadEnd(close, this.exchange.keepAliveTimeoutMs, {
        date,
        connection,
        last: this.chunked ? 'Transfer-Encoding: chunked\r\n' : '',
      });
    this.headersSent = true;
    return this;
  }

  write(chunk: Buffer): boolean {
    if (this.ended) return false;
    if (!this.headersSent) this.writeHead(200, 'OK', []);
    const socket = this.exchange.socket;
    if (this.bodyless || chunk.length === 0) {
      this.flushHead();
      return !socket.writableNeedDrain;
    }
    socket.cork();
    this.flushHead();
    if (this.chunked) socket.write(`${chunk.length.toString(16)}\r\n`, 'latin1');
    let ok = socket.write(chunk);
    if (this.chunked) ok = socket.write('\r\n', 'latin1');
    socket.uncork();
    return ok;
  }

  end(body?: string): this {
    if (this.ended) return this;
    if (!this.headersSent) this.writeHead(200, 'OK', []);
    this.ended = true;
    const socket = this.exchange.socket;
    if (socket.destroyed) {
      this.forgetListeners();
      this.exchange.done(true);
      return this;
    }
    const text = this.bodyless || body === undefined || body.length === 0 ? undefined : body;
    const last = this.chunked ? '0\r\n\r\n' : '';
    if (text === undefined) {
      const head = this.head ?? '';
      this.head = undefined;
      if (head.length + last.length > 0) socket.write(head + last, 'latin1');
    } else if (this.chunked) {
      socket.cork();
      this.flushHead();
      socket.write(`${Buffer.byteLength(text).toString(16)}\r\n`, 'latin1');
      socket.write(text);
      socket.write(`\r\n${last}`, 'latin1');
      socket.uncork();
    } else {
      // Head and text in one write, as Node writes them: one string, in UTF-8 (a field value
      // beyond ASCII, which only an upstream's answer has and it never comes with a text, would
      // go out UTF-8 encoded here as it does from Node).
      socket.write((this.head ?? '') + text);
      this.head = undefined;
    }
    this.forgetListeners();
    this.exchange.done(this.close);
    return this;
  }

  destroy(): this {
    this.ended = true;
    // The listeners for `close` stay: the socket's close is theirs to hear.
    this.exchange.socket.destroy();
    return this;
  }

  once(event: 'close' | 'drain', listener: () => void): this {
    if (this.ended) return this;
    this.listening.push([event, listener]);
    this.exchange.socket.once(event, listener);
    return this;
  }

  off(event: 'drain', listener: () => void): this {
    this.exchange.socket.off(event, listener);
    return this;
  }

  private flushHead(): void {
    if (this.head === undefined) return;
    this.exchange.socket.write(this.head, 'latin1');
    this.head = undefined;
  }

  /** The answer is whole: the connection's next exchanges are not this one's listeners' business. */
  private forgetListeners(): void {
    for (const [event, listener] of this.listening) this.exchange.socket.off(event, listener);
    this.listening.length = 0;
  }
}
