#!/usr/bin/env node
// A tiny HTTP service for docs/enforce.md: it answers every request with what
// it was sent, so you can see what `gatehouse proxy` lets through and adds
// (the caller's verified SPIFFE ID, the decision id) or strips (the caller's
// JWT-SVID).
//
//   node examples/enforce/hello-service.mjs [PORT]     (default 9000, on 127.0.0.1)
import http from 'node:http';

const port = Number(process.argv[2] ?? 9000);
const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    const seen = {
      method: req.method,
      url: req.url,
      caller: req.headers['x-gatehouse-spiffe-id'] ?? null,
      decisionId: req.headers['x-gatehouse-decision-id'] ?? null,
      wouldDeny: req.headers['x-gatehouse-would-deny'] === 'true',
      authorization: req.headers.authorization === undefined ? 'stripped' : 'forwarded',
    };
    const body = JSON.stringify(seen) + '\n';
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
});
// The port it got: with PORT 0 the system picks a free one.
server.listen(port, '127.0.0.1', () =>
  console.log(`hello service on http://127.0.0.1:${server.address().port}`),
);
