/**
 * Differential test: the lean path's request-head reader against Node's own
 * HTTP parser on random, often malformed, request heads sent to a real Node
 * server. Whatever the reader takes, Node must take too and read the same:
 * method, target, every field (name and trimmed value), and the body.
 * What the reader leaves to Node (NOT_PLAIN) is not compared: Node judges it.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { NOT_PLAIN, INCOMPLETE, readRequestHead } from '../../src/server/http1-request-head.js';

const LIMITS = { maxUrlBytes: 200, maxHeaderBytes: 2048, maxHeaders: 20, maxBodyBytes: 64 };

interface Seen {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

// Node's reading of each request, sent back base64 in a field (a HEAD answer has no body).
const server = createServer({ maxHeaderSize: LIMITS.maxHeaderBytes }, (req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const seen: Seen = {
      method: req.method!,
      url: req.url!,
      headers: req.headers,
      body: Buffer.concat(chunks).toString('latin1'),
    };
    res.writeHead(200, {
      'x-echo': Buffer.from(JSON.stringify(seen)).toString('base64'),
      connection: 'close',
    });
    res.end();
  });
});
let port = 0;
before(async () => {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  port = (server.address() as AddressInfo).port;
});
after(() => {
  server.closeAllConnections();
  server.close();
});

/** Node's reading of `bytes`, or undefined when it refused them or did not answer in time. */
async function nodeReads(bytes: Buffer): Promise<Seen | undefined> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => {});
  socket.end(bytes);
  let answer = '';
  socket.setEncoding('latin1');
  socket.on('data', (d: string) => (answer += d));
  await Promise.race([once(socket, 'close'), new Promise((r) => setTimeout(r, 2000))]);
  socket.destroy();
  const echo = /\r\nx-echo: ([A-Za-z0-9+/=]+)\r\n/.exec(answer);
  return answer.startsWith('HTTP/1.1 200') && echo
    ? (JSON.parse(Buffer.from(echo[1]!, 'base64').toString()) as Seen)
    : undefined;
}

const pick = <T>(items: readonly T[]) => fc.constantFrom(...items);
const chars = (alphabet: string, max: number) =>
  fc.array(fc.constantFrom(...alphabet.split('')), { maxLength: max }).map((a) => a.join(''));

const TARGET_CHARS = 'abz09/-._~%?=&#!$()*+,;:@"<>\\^`{|}[]\t é\u007f';
const NAME_CHARS = 'abXY-_.!#$%&\'*+^`|~09 :()\t"';
const VALUE_CHARS = 'aZ09 \t,;=/:"\\()é\u0000\u007f\r\n';

const lineEnd = fc.oneof(
  { weight: 12, arbitrary: fc.constant('\r\n') },
  pick(['\n', '\r', '\r\r\n', ' \r\n']),
);
const field = fc.tuple(
  fc.oneof(
    {
      weight: 3,
      arbitrary: pick([
        'host',
        'Host',
        'content-length',
        'Content-Type',
        'connection',
        'x-a',
        'X-A',
        'transfer-encoding',
        'expect',
        'authorization',
      ]),
    },
    { weight: 1, arbitrary: chars(NAME_CHARS, 8) },
  ),
  pick([':', ': ', ':\t', ' :', '::', '']),
  fc.oneof(
    {
      weight: 3,
      arbitrary: pick([
        'a',
        'close',
        'keep-alive',
        'Keep-Alive',
        'chunked',
        '5',
        '007',
        '+5',
        '5, 5',
        'Bearer x.y.z',
        '',
      ]),
    },
    { weight: 2, arbitrary: chars(VALUE_CHARS, 12) },
  ),
  pick(['', ' ', '\t', '  ']),
  lineEnd,
);
const head = fc.record({
  method: fc.oneof(
    { weight: 6, arbitrary: pick(['GET', 'POST', 'HEAD', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) },
    pick(['get', 'PURGE', 'CONNECT', 'PRI', 'G ET']),
  ),
  sp1: fc.oneof({ weight: 8, arbitrary: fc.constant(' ') }, pick(['  ', '\t', ''])),
  target: fc.oneof(
    { weight: 3, arbitrary: pick(['/', '/v1/decide', '/v1/ext_authz/orders/a?b=c']) },
    chars(TARGET_CHARS, 12).map((t) => `/${t}`),
    pick(['*', 'http://a/b', 'a']),
  ),
  sp2: fc.oneof({ weight: 8, arbitrary: fc.constant(' ') }, pick(['  ', '\t', ''])),
  version: fc.oneof(
    { weight: 8, arbitrary: fc.constant('HTTP/1.1') },
    pick(['HTTP/1.0', 'HTTP/1.2', 'http/1.1', 'HTTP/2.0', 'HTTP/1.1 ']),
  ),
  end: lineEnd,
  host: fc.oneof({ weight: 5, arbitrary: fc.constant(true) }, fc.constant(false)),
  fields: fc.array(field, { maxLength: 6 }),
  lengthField: fc.oneof({ weight: 2, arbitrary: fc.constant(true) }, fc.constant(false)),
  body: chars('abc{}":,\r\n', 20),
  finalEnd: fc.oneof({ weight: 10, arbitrary: fc.constant('\r\n') }, pick(['\n', '\r\n\r\n'])),
});

test('whatever the lean reader takes, Node reads the same way', async () => {
  let taken = 0;
  await fc.assert(
    fc.asyncProperty(head, async (h) => {
      let text = `${h.method}${h.sp1}${h.target}${h.sp2}${h.version}${h.end}`;
      if (h.host) text += 'Host: gatehouse\r\n';
      if (h.lengthField) text += `Content-Length: ${h.body.length}\r\n`;
      for (const [name, colon, value, ows, end] of h.fields)
        text += `${name}${colon}${ows}${value}${ows}${end}`;
      text += h.finalEnd + h.body;
      const bytes = Buffer.from(text, 'latin1');
      const ours = readRequestHead(bytes, LIMITS);
      if (ours === NOT_PLAIN || ours === INCOMPLETE) return;
      // A body still to come: the lean path would wait for it, as Node would.
      if (bytes.length < ours.headBytes + ours.contentLength) return;
      taken++;
      // Bytes after the body would be the next request: Node reads this one alone.
      const theirs = await nodeReads(bytes.subarray(0, ours.headBytes + ours.contentLength));
      assert.ok(theirs, `Node refused a head the lean reader took: ${JSON.stringify(text)}`);
      assert.equal(theirs.method, ours.method);
      assert.equal(theirs.url, ours.target);
      assert.deepEqual(theirs.headers, { ...ours.headers }, JSON.stringify(text));
      assert.equal(
        theirs.body,
        bytes.subarray(ours.headBytes, ours.headBytes + ours.contentLength).toString('latin1'),
      );
    }),
    { numRuns: Number(process.env.GATEHOUSE_FUZZ_RUNS ?? 600) },
  );
  // The generator must reach the reader's plain form often enough to compare anything.
  assert.ok(taken > 10, `only ${taken} heads were plain`);
});
