/**
 * The lean path's request-head reader: what it takes, and that everything
 * outside the plain form goes to Node's parser rather than being read here.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  HeadScanner,
  INCOMPLETE,
  NOT_PLAIN,
  readRequestHead,
} from '../../../src/server/http1-request-head.js';

const LIMITS = { maxUrlBytes: 100, maxHeaderBytes: 400, maxHeaders: 5, maxBodyBytes: 1000 };

function read(text: string) {
  return readRequestHead(Buffer.from(text, 'latin1'), LIMITS);
}

test('a plain head: method, target, trimmed fields by lower-case name, body length', () => {
  const text =
    'POST /v1/decide?x=1 HTTP/1.1\r\nHost: a\r\nContent-Type:\tapplication/json \r\nContent-Length: 012\r\n' +
    'X-Empty:\r\n\r\n{"a":"b"}';
  const head = read(text);
  assert.notEqual(typeof head, 'string');
  if (typeof head === 'string') return;
  assert.equal(head.method, 'POST');
  assert.equal(head.target, '/v1/decide?x=1');
  assert.deepEqual(
    { ...head.headers },
    {
      host: 'a',
      'content-type': 'application/json',
      'content-length': '012',
      'x-empty': '',
    },
  );
  assert.equal(head.contentLength, 12);
  assert.equal(head.headBytes, text.indexOf('{'));
  assert.equal(head.close, false);
  // Field names are plain data: no name reaches an object's prototype.
  assert.equal(Object.getPrototypeOf(head.headers), null);
});

test('Connection: close and keep-alive, in any case', () => {
  const close = read('GET / HTTP/1.1\r\nhost: a\r\nconnection: Close\r\n\r\n');
  assert.equal(typeof close !== 'string' && close.close, true);
  const keep = read('GET / HTTP/1.1\r\nhost: a\r\nConnection: KEEP-ALIVE\r\n\r\n');
  assert.equal(typeof keep !== 'string' && keep.close, false);
});

test('a head not yet ended is incomplete, until it is larger than the limit', () => {
  assert.equal(read(''), INCOMPLETE);
  assert.equal(read('POST /v1/decide HTTP/1.1\r\nHost: a\r\n'), INCOMPLETE);
  assert.equal(read('POST /v1/decide HTTP/1.1\r\nHost: a\r'), INCOMPLETE);
  assert.equal(read(`GET / HTTP/1.1\r\nx: ${'a'.repeat(LIMITS.maxHeaderBytes)}`), NOT_PLAIN);
});

const notPlain: [string, string][] = [
  ['HTTP/1.0', 'GET / HTTP/1.0\r\nhost: a\r\n\r\n'],
  ['HTTP/2 preface', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'],
  ['a lower-case method', 'get / HTTP/1.1\r\nhost: a\r\n\r\n'],
  ['an unknown method', 'PURGE / HTTP/1.1\r\nhost: a\r\n\r\n'],
  ['CONNECT', 'CONNECT a:443 HTTP/1.1\r\nhost: a\r\n\r\n'],
  ['an absolute-form target', 'GET http://a/ HTTP/1.1\r\nhost: a\r\n\r\n'],
  ['an asterisk target', 'OPTIONS * HTTP/1.1\r\nhost: a\r\n\r\n'],
  ['two spaces after the method', 'GET  / HTTP/1.1\r\nhost: a\r\n\r\n'],
  ['a tab in the target', 'GET /a\tb HTTP/1.1\r\nhost: a\r\n\r\n'],
  ['a non-ASCII target', 'GET /\u00e9 HTTP/1.1\r\nhost: a\r\n\r\n'],
  ['a target longer than the limit', `GET /${'a'.repeat(LIMITS.maxUrlBytes)} HTTP/1.1\r\nhost: a\r\n\r\n`],
  ['no Host', 'GET / HTTP/1.1\r\n\r\n'],
  ['Host twice', 'GET / HTTP/1.1\r\nhost: a\r\nHost: b\r\n\r\n'],
  ['any field twice', 'GET / HTTP/1.1\r\nhost: a\r\nx-a: 1\r\nX-A: 2\r\n\r\n'],
  ['too many fields', 'GET / HTTP/1.1\r\nhost: a\r\na: 1\r\nb: 1\r\nc: 1\r\nd: 1\r\ne: 1\r\n\r\n'],
  ['Transfer-Encoding', 'POST / HTTP/1.1\r\nhost: a\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n'],
  [
    'Transfer-Encoding and Content-Length',
    'POST / HTTP/1.1\r\nhost: a\r\ncontent-length: 3\r\ntransfer-encoding: chunked\r\n\r\n',
  ],
  ['Expect', 'POST / HTTP/1.1\r\nhost: a\r\nexpect: 100-continue\r\ncontent-length: 1\r\n\r\n'],
  ['Upgrade', 'GET / HTTP/1.1\r\nhost: a\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n'],
  ['Connection with other tokens', 'GET / HTTP/1.1\r\nhost: a\r\nconnection: keep-alive, x-a\r\n\r\n'],
  ['a signed Content-Length', 'POST / HTTP/1.1\r\nhost: a\r\ncontent-length: +1\r\n\r\nx'],
  ['a Content-Length list', 'POST / HTTP/1.1\r\nhost: a\r\ncontent-length: 1, 1\r\n\r\nx'],
  ['an empty Content-Length', 'POST / HTTP/1.1\r\nhost: a\r\ncontent-length:\r\n\r\n'],
  ['a Content-Length above the body limit', 'POST / HTTP/1.1\r\nhost: a\r\ncontent-length: 1001\r\n\r\n'],
  ['a huge Content-Length', 'POST / HTTP/1.1\r\nhost: a\r\ncontent-length: 99999999999999999999\r\n\r\n'],
  ['a space before the colon', 'GET / HTTP/1.1\r\nhost : a\r\n\r\n'],
  ['a field without a colon', 'GET / HTTP/1.1\r\nhost: a\r\nnocolon\r\n\r\n'],
  ['an empty field name', 'GET / HTTP/1.1\r\nhost: a\r\n: x\r\n\r\n'],
  ['a field name outside tchar', 'GET / HTTP/1.1\r\nhost: a\r\nx(y): 1\r\n\r\n'],
  ['obsolete line folding', 'GET / HTTP/1.1\r\nhost: a\r\nx-a: 1\r\n  2\r\n\r\n'],
  ['a bare LF line end', 'GET / HTTP/1.1\nhost: a\r\n\r\n'],
  ['bare LF line ends throughout (incomplete otherwise)', 'GET / HTTP/1.1\nhost: a\n\n'],
  ['a bare CR in a value', 'GET / HTTP/1.1\r\nhost: a\rb\r\n\r\n'],
  ['a bare CR not yet followed by anything plain', 'GET / HTTP/1.1\r\nhost: a\rb'],
  ['a NUL in a value', 'GET / HTTP/1.1\r\nhost: a\u0000\r\n\r\n'],
  ['obs-text in a value', 'GET / HTTP/1.1\r\nhost: a\r\nx-a: caf\u00e9\r\n\r\n'],
  ['DEL in a value', 'GET / HTTP/1.1\r\nhost: a\r\nx-a: \u007f\r\n\r\n'],
  [
    'a head larger than the limit',
    `GET / HTTP/1.1\r\nhost: a\r\nx: ${'a'.repeat(LIMITS.maxHeaderBytes)}\r\n\r\n`,
  ],
];

for (const [what, text] of notPlain) {
  test(`not plain, left to Node's parser: ${what}`, () => {
    assert.equal(read(text), NOT_PLAIN);
  });
}

test('a head in pieces: the scanner finds its end across pieces, and a bare CR or LF split across them', () => {
  const pieces = (text: string, size: number) => {
    const scanner = new HeadScanner(LIMITS.maxHeaderBytes);
    let said: ReturnType<HeadScanner['push']> = INCOMPLETE;
    const bytes = Buffer.from(text, 'latin1');
    for (let at = 0; at < bytes.length && said === INCOMPLETE; at += size)
      said = scanner.push(bytes.subarray(at, at + size));
    return said;
  };
  for (const size of [1, 2, 3, 5, 1000]) {
    assert.equal(pieces('POST /v1/decide HTTP/1.1\r\nHost: a\r\n\r\n', size), 'ended', `pieces of ${size}`);
    assert.equal(pieces('POST /v1/decide HTTP/1.1\r\nHost: a\r\n', size), INCOMPLETE, `pieces of ${size}`);
    assert.equal(pieces('POST /v1/decide HTTP/1.1\nHost: a', size), NOT_PLAIN, `bare LF, pieces of ${size}`);
    assert.equal(pieces('POST /v1/decide HTTP/1.1\rHost: a', size), NOT_PLAIN, `bare CR, pieces of ${size}`);
    assert.equal(pieces(`GET / HTTP/1.1\r\nx: ${'a'.repeat(LIMITS.maxHeaderBytes)}`, size), NOT_PLAIN);
  }
});

test('a scanner started on what the reader found incomplete finds an end split after it', () => {
  const first = Buffer.from('GET / HTTP/1.1\r\nHost: a\r\n\r');
  assert.equal(readRequestHead(first, LIMITS), INCOMPLETE);
  assert.equal(new HeadScanner(LIMITS.maxHeaderBytes, first).push(Buffer.from('\n')), 'ended');
  assert.equal(new HeadScanner(LIMITS.maxHeaderBytes, first).push(Buffer.from('x')), NOT_PLAIN);
});
