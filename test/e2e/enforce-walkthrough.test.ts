/**
 * docs/enforce.md, run: the walk-through's commands, in its order, as real
 * processes (`npm start`'s server, the hello service, `gatehouse proxy` and
 * every other verb through the built bin; curl as an HTTP client here), in a
 * temporary folder standing for the fresh clone. Each command run must be a
 * command the document shows, and each output checked must be one it shows.
 *
 * The one liberty taken: every address is this run's, not the document's
 * fixed ports (`127.0.0.1:8443` becomes a free port everywhere it appears).
 * A proxy keeps seeing the document's port as the destination: one that
 * listens elsewhere gets `--service-port` with it, which is what the policy
 * saw in the document.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { call, type Answer } from '../support/http-call.js';
import {
  built,
  root,
  runGatehouse,
  spawnGatehouse,
  spawnNode,
  type CliResult,
  type GatehouseProcess,
} from '../support/server-process.js';

const DOC = 'docs/enforce.md';
const doc = readFileSync(join(root, DOC), 'utf8');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  bin: Record<string, string>;
  scripts: Record<string, string>;
};

/** Generous for a shared machine: the document promises half a second (policy) and a second (revocation). */
const POLICY_WITHIN_MS = 2_000;
const REVOCATION_WITHIN_MS = 1_500;

/** The command lines of the document's ```sh blocks: continuations joined, comments dropped, spaces squeezed. */
function shellCommands(text: string): string[] {
  const lines = text.split('\n');
  const out: string[] = [];
  let inSh = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.startsWith('```')) {
      inSh = !inSh && line === '```sh';
      continue;
    }
    if (!inSh || line.startsWith('#') || line.trim() === '') continue;
    let command = line;
    while (command.endsWith('\\')) command = command.slice(0, -1) + ' ' + lines[++i]!.trim();
    out.push(command.replace(/\s+#.*$/, '').replace(/ +/g, ' '));
  }
  return out;
}

const commands = shellCommands(doc);

/** `line`, which the document must show as a command: a change there must be a change here. */
function documented(line: string): string {
  assert.ok(commands.includes(line), `${DOC} no longer shows the command \`${line}\`: update this test`);
  return line;
}

// Decision ids (`<proxy>-<counter>`) and JWT ids change from run to run.
const DECISION_ID = /\b[0-9a-f]{16}-\d{8}\b/g;
const UUID = /\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/g;

/**
 * Asserts that the document shows `shown` (a `# ` before each line when it is
 * a comment in a shell block) and that `actual` reads the same: this run's
 * addresses, `…` standing for anything, ids for any id.
 */
function assertShows(actual: string, shown: string, localize: (s: string) => string): void {
  assert.ok(doc.includes(shown), `${DOC} no longer shows:\n${shown}\nupdate this test`);
  assertGlob(actual, localize(shown.replace(/^# /gm, '')), `what ${DOC} shows:\n${shown}`);
}

function assertGlob(actual: string, shown: string, message: string): void {
  const pattern = shown
    .replace(DECISION_ID, '…')
    .replace(/[0-9a-f]+-…|…-\d+/g, '…')
    .split('…')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('[\\s\\S]*?');
  const got = actual.replace(DECISION_ID, '…').replace(UUID, '…').trimEnd();
  assert.match(got, new RegExp(`^${pattern}$`), message);
}

/**
 * {@link assertShows} for what `curl -i` prints: the status line, then the
 * header fields shown in any order (HTTP gives theirs no meaning; a `…` line
 * stands for the others), then the body.
 */
function assertShowsResponse(res: Printed, shown: string, localize: (s: string) => string): void {
  assert.ok(doc.includes(shown), `${DOC} no longer shows:\n${shown}\nupdate this test`);
  const message = `what ${DOC} shows:\n${shown}`;
  const [status, ...rest] = localize(shown).split('\n');
  assert.equal(`HTTP/1.1 ${res.status} ${res.statusMessage}`, status, message);
  const fields = rest.filter((l) => /^[\w-]+: /.test(l));
  const body = rest.filter((l) => l !== '…' && !fields.includes(l)).join('\n');
  const got = new Map<string, string>();
  for (let i = 0; i < res.rawHeaders.length; i += 2) got.set(res.rawHeaders[i]!, res.rawHeaders[i + 1]!);
  for (const field of fields) {
    const name = field.slice(0, field.indexOf(':'));
    assert.ok(got.has(name), `${message}\nno \`${name}\` field in ${[...got.keys()].join(', ')}`);
    assertGlob(got.get(name)!, field.slice(name.length + 2), message);
  }
  if (!rest.includes('…'))
    assert.equal(got.size, fields.length, `${message}\nother fields: ${[...got.keys()]}`);
  if (body) assertGlob(res.body, body, message);
}

// The columns of `gatehouse decisions` that do not change from run to run.
const STABLE = ['SOURCE', 'FROM', 'SERVICE', 'ACTION', 'VERDICT', 'LAYER', 'RULES'];

/** A `gatehouse decisions` table, header first, reduced to its {@link STABLE} columns. */
function stableColumns(table: string): string[][] {
  const [header, ...rows] = table.split('\n').filter((l) => l.trim() !== '');
  const starts = [...header!.matchAll(/\S+/g)].map((m) => ({ name: m[0], at: m.index }));
  return [header!, ...rows].map((line) =>
    starts
      .map((c, k) => ({ name: c.name, cell: line.slice(c.at, starts[k + 1]?.at).trim() }))
      .filter((c) => STABLE.includes(c.name))
      .map((c) => c.cell),
  );
}

/** The fenced block that follows `marker` in the document. */
function blockAfter(marker: string): string {
  const at = doc.indexOf(marker);
  assert.ok(at >= 0, `${DOC} no longer shows \`${marker}\``);
  const m = /\n```\n([\s\S]*?)```/.exec(doc.slice(at + marker.length));
  assert.ok(m, `${DOC}: no block after \`${marker}\``);
  return m[1]!;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` every 50 ms until it is true; fails with `what` after `ms`. */
async function waitFor(what: string, check: () => boolean | Promise<boolean>, ms = 10_000): Promise<number> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > ms) assert.fail(`${what}: not within ${ms} ms`);
    await sleep(50);
  }
  return Date.now() - started;
}

interface Printed extends Answer {
  /** What curl prints: the status line and headers first with `-i`. */
  printed: string;
}

describe('docs/enforce.md, step by step', { skip: built ? false : 'run `npm run build` first' }, () => {
  let work: string;
  /** The document's ports (`8443`) to this run's. */
  const ports = new Map<string, string>();
  const running: GatehouseProcess[] = [];
  /** What the document's `export` line sets. */
  let env: Record<string, string> = {};
  let server: GatehouseProcess;
  let catalog: GatehouseProcess;
  let inventory: GatehouseProcess;
  let mtls: GatehouseProcess;
  let pushed: string;
  /** Minted before the server stops: a JWT-SVID for the catalog that is not revoked. */
  const fresh = 'web-fresh.jwt';
  const offline: string[] = [];

  const localize = (text: string) =>
    text.replace(/127\.0\.0\.1:(\d+)/g, (all, port: string) => {
      const mine = ports.get(port);
      assert.ok(mine, `\`${all}\`: nothing of this run listens there yet`);
      return `127.0.0.1:${mine}`;
    });

  /** Splits a command line as the shell would for the document's lines, `"$(cat FILE)"` included. */
  const words = (line: string): string[] => {
    const out: string[] = [];
    let word: string | undefined;
    for (let i = 0; i < line.length; i++) {
      const c = line[i]!;
      if (c === '"') {
        const end = line.indexOf('"', i + 1);
        const quoted = line
          .slice(i + 1, end)
          .replace(/\$\(cat ([^)]+)\)/g, (_, f: string) =>
            readFileSync(join(work, f), 'utf8').replace(/\n+$/, ''),
          );
        assert.ok(!quoted.includes('$'), `cannot expand \`${line}\``);
        word = (word ?? '') + quoted;
        i = end;
      } else if (c === ' ') {
        if (word !== undefined) out.push(word);
        word = undefined;
      } else {
        assert.ok(!`$'\`|;&`.includes(c), `cannot run \`${line}\``);
        word = (word ?? '') + c;
      }
    }
    if (word !== undefined) out.push(word);
    return out;
  };

  /** `npx gatehouse …` of the document, `> FILE` included; `values` stand in for what the document elides. */
  const gatehouse = async (line: string, values: Record<string, string> = {}): Promise<CliResult> => {
    let text = documented(line);
    for (const [from, to] of Object.entries(values)) text = text.split(from).join(to);
    const argv = words(localize(text));
    assert.deepEqual(argv.slice(0, 2), ['npx', 'gatehouse']);
    const gt = argv.indexOf('>');
    const r = await runGatehouse(gt === -1 ? argv.slice(2) : argv.slice(2, gt), env, work);
    assert.equal(r.code, 0, `${line}\n${r.out}${r.err}`);
    if (gt !== -1) writeFileSync(join(work, argv[gt + 1]!), r.out);
    return r;
  };

  /** `npx gatehouse proxy …` of the document, on a free port; resolves once it listens (and synced, when asked). */
  const proxy = async (line: string, options: { synced: boolean }): Promise<GatehouseProcess> => {
    const argv = words(documented(line));
    assert.deepEqual(argv.slice(0, 3), ['npx', 'gatehouse', 'proxy']);
    const at = argv.indexOf('--listen');
    const port = argv[at + 1]!.split(':')[1]!;
    const args = argv.map((a, k) => (k === at + 1 ? '127.0.0.1:0' : localize(a))).slice(2);
    if (!args.includes('--service-port')) args.push('--service-port', port);
    // The spool the documented port would have named (the proxy listens on a free port here).
    if (!args.includes('--decision-spool'))
      args.push('--decision-spool', `gatehouse-proxy-${argv[argv.indexOf('--service') + 1]}-${port}.spool`);
    const p = await spawnGatehouse(
      `gatehouse proxy for ${argv[argv.indexOf('--service') + 1]}`,
      args,
      env,
      (out, err) => {
        const m = /listening\s+https?:\/\/127\.0\.0\.1:(\d+)/.exec(out);
        return m && (!options.synced || err.includes('"event":"proxy_synced"')) ? m[1] : undefined;
      },
      work,
    );
    running.push(p);
    ports.set(port, p.found);
    return p;
  };

  /** `curl …` of the document, through node:http(s). */
  const curl = async (line: string): Promise<Printed> => {
    const [name, ...argv] = words(localize(documented(line)));
    assert.equal(name, 'curl');
    let include = false;
    let insecure = false;
    let method: string | undefined;
    const headers: Record<string, string> = {};
    const files: Record<string, string> = {};
    let url: string | undefined;
    for (let i = 0; i < argv.length; i++) {
      const a = argv[i]!;
      if (a === '-i') include = true;
      else if (a === '-k') insecure = true;
      else if (a === '-X') method = argv[++i];
      else if (a === '-H') {
        const h = argv[++i]!;
        headers[h.slice(0, h.indexOf(':')).toLowerCase()] = h.slice(h.indexOf(':') + 1).trim();
      } else if (a === '--cert' || a === '--key') files[a] = readFileSync(join(work, argv[++i]!), 'utf8');
      else if (/^https?:\/\//.test(a)) url = a;
      else assert.fail(`the walk-through test cannot run curl with \`${a}\``);
    }
    assert.ok(url, line);
    // An X.509-SVID names a SPIFFE ID, not the host name curl would check.
    assert.equal(url.startsWith('https:'), insecure, `${line}: -k goes with https`);
    const answer = await call(url, {
      ...(method ? { method } : {}),
      headers,
      ...(files['--cert'] ? { cert: { chain: files['--cert'], key: files['--key']! } } : {}),
    });
    const head = [`HTTP/1.1 ${answer.status} ${answer.statusMessage}`];
    for (let i = 0; i < answer.rawHeaders.length; i += 2)
      head.push(`${answer.rawHeaders[i]}: ${answer.rawHeaders[i + 1]}`);
    return { ...answer, printed: include ? `${head.join('\n')}\n\n${answer.body}` : answer.body };
  };

  /** `npm start`: package.json's start script, with this run's database and a free port (or `port`). */
  const npmStart = async (port = '0'): Promise<GatehouseProcess> => {
    const argv = pkg.scripts.start!.split(' ');
    assert.deepEqual(argv.slice(0, 3), ['node', pkg.bin.gatehouse, 'serve']);
    const listen = argv.indexOf('--listen');
    const documentedPort = argv[listen + 1]!.split(':')[1]!;
    assert.ok(
      doc.includes(`http://127.0.0.1:${documentedPort}`),
      'the document names where npm start serves',
    );
    argv[listen + 1] = `127.0.0.1:${port}`;
    argv[argv.indexOf('--db') + 1] = join(work, 'gatehouse.db');
    const p = await spawnGatehouse(
      'npm start',
      argv.slice(2),
      {},
      (out) => /API\s+http:\/\/127\.0\.0\.1:(\d+)\/v1/.exec(out)?.[1],
      work,
    );
    running.push(p);
    ports.set(documentedPort, p.found);
    return p;
  };

  /** Stderr of `p` from `from` on has `event` logged. */
  const logged = (p: GatehouseProcess, event: string, from = 0) =>
    p.stderr().slice(from).includes(`"event":"${event}"`);

  /** The `gatehouse decisions --service NAME` table once it has `rows` rows. */
  const decisions = async (line: string, rows: number): Promise<string> => {
    let table = '';
    await waitFor(`${line} lists ${rows} decision(s)`, async () => {
      table = (await gatehouse(line)).out;
      // The header and its rule, then one line a decision.
      return table.trim().split('\n').length - 2 >= rows;
    });
    return table;
  };

  before(() => {
    work = mkdtempSync(join(tmpdir(), 'gatehouse-enforce-'));
    // The fresh clone: the walk-through runs at its root and reads its examples.
    symlinkSync(join(root, 'examples'), join(work, 'examples'));
  });

  after(async () => {
    // Proxies first: stopping, each ships what it holds while the server is still there.
    const stop = async (p: GatehouseProcess) => {
      const timer = setTimeout(() => p.child.kill('SIGKILL'), 10_000);
      await p.stop();
      clearTimeout(timer);
    };
    await Promise.all(running.filter((p) => p !== server).map(stop));
    if (server) await stop(server);
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('1. npm start: the server prints the admin credential and the export line', async () => {
    documented('npm ci && npm start');
    assert.equal(pkg.bin.gatehouse, 'dist/cli/main.js', '`npx gatehouse` is the built CLI');
    server = await npmStart();
    const banner = server.stdout().slice(server.stdout().indexOf('Admin credential'));
    assertShows(
      banner,
      [
        'Admin credential (shown once; only its hash is stored):',
        '  gha_…',
        '  export GATEHOUSE_SERVER=http://127.0.0.1:8080 GATEHOUSE_TOKEN=gha_…',
      ].join('\n'),
      localize,
    );
    const m = /^ {2}export GATEHOUSE_SERVER=(\S+) GATEHOUSE_TOKEN=(gha_\S+)$/m.exec(banner)!;
    env = { GATEHOUSE_SERVER: m[1]!, GATEHOUSE_TOKEN: m[2]! };
  });

  test('2. the hello service', async () => {
    const [node, script] = words(documented('node examples/enforce/hello-service.mjs'));
    assert.equal(node, 'node');
    assert.match(doc, /^node examples\/enforce\/hello-service\.mjs +# http:\/\/127\.0\.0\.1:9000$/m);
    // Its optional PORT argument: 0 for a free one; without it, 9000 as the document says.
    const hello = await spawnNode(
      'hello service',
      [script!, '0'],
      {},
      (out) => /hello service on http:\/\/127\.0\.0\.1:(\d+)/.exec(out)?.[1],
      work,
    );
    running.push(hello);
    ports.set('9000', hello.found);
  });

  test('3. the proxy in front of catalog syncs', async () => {
    catalog = await proxy(
      'npx gatehouse proxy --service catalog --listen 127.0.0.1:8443 --upstream http://127.0.0.1:9000',
      { synced: true },
    );
    assert.match(catalog.stdout(), /sync every 500 ms/, 'polls every 500 ms by default');
  });

  test('4. without an SVID: 403 from the credential layer, with the decision id', async () => {
    const res = await curl('curl -i http://127.0.0.1:8443/products/42');
    assert.equal(res.status, 403);
    assert.deepEqual(res.json(), {
      decision: 'deny',
      decisionId: res.headers['x-gatehouse-decision-id'],
      layer: 'credential',
      reason: 'identity_missing',
    });
    assertShowsResponse(
      res,
      [
        'HTTP/1.1 403 Forbidden',
        'x-gatehouse-decision-id: d6e7c641bf660d2a-00000001',
        '…',
        '{"decision":"deny","decisionId":"d6e7c641bf660d2a-00000001","layer":"credential","reason":"identity_missing"}',
      ].join('\n'),
      localize,
    );
  });

  test('5. with a JWT-SVID: the zone layer denies until this machine joins; then allowed and stripped', async () => {
    await gatehouse(
      'npx gatehouse svid jwt --spiffe-id spiffe://acme.corp/ns/shop/sa/web --audience spiffe://acme.corp/ns/shop/sa/catalog --ttl 3600 > web.jwt',
    );
    const bearer = 'curl -i -H "Authorization: Bearer $(cat web.jwt)" http://127.0.0.1:8443/products/42';
    const zone = await curl(bearer);
    assert.equal(zone.status, 403);
    assertShows(
      zone.body,
      '{"decision":"deny","decisionId":"d6e7c641bf660d2a-00000002","layer":"zone","reason":"default_deny"}',
      localize,
    );

    const from = catalog.stderr().length;
    const push = await gatehouse(
      'npx gatehouse policy push examples/acme/policy examples/enforce/local-zone.yaml --comment "this machine joins the address plan"',
    );
    pushed = /^stored (sha256:[0-9a-f]{64}); active now$/m.exec(push.out)?.[1] ?? '';
    assert.ok(pushed, push.out);
    // Waiting on the proxy's log rather than retrying the request: the log then
    // holds the four decisions the document lists in step 7, no more.
    await waitFor(
      'the proxy has the pushed policy',
      () => logged(catalog, 'policy_updated', from) && catalog.stderr().slice(from).includes(pushed),
      POLICY_WITHIN_MS,
    );
    const ok = await curl(bearer);
    assert.equal(ok.status, 200, ok.body);
    assertShowsResponse(
      ok,
      [
        'HTTP/1.1 200 OK',
        'x-gatehouse-decision-id: d6e7c641bf660d2a-00000003',
        '…',
        '{"method":"GET","url":"/products/42","caller":"spiffe://acme.corp/ns/shop/sa/web","decisionId":"d6e7c641bf660d2a-00000003","wouldDeny":false,"authorization":"stripped"}',
      ].join('\n'),
      localize,
    );
    const echoed = ok.json();
    assert.equal(echoed.caller, 'spiffe://acme.corp/ns/shop/sa/web');
    assert.equal(echoed.authorization, 'stripped');
    assert.equal(echoed.decisionId, ok.headers['x-gatehouse-decision-id'], 'the service got the decision id');

    const post = await curl(
      'curl -X POST -H "Authorization: Bearer $(cat web.jwt)" http://127.0.0.1:8443/products/42',
    );
    assert.equal(post.status, 403);
    assertShows(
      post.body,
      '# {"decision":"deny","decisionId":"…-00000004","layer":"permission","reason":"default_deny"}',
      localize,
    );
  });

  test('6. simulate mode: inventory passes a would-deny and marks it', async () => {
    inventory = await proxy(
      'npx gatehouse proxy --service inventory --listen 127.0.0.1:8444 --service-port 8443 --upstream http://127.0.0.1:9000',
      { synced: true },
    );
    await gatehouse(
      'npx gatehouse svid jwt --spiffe-id spiffe://acme.corp/ns/shop/sa/web --audience spiffe://acme.corp/ns/shop/sa/inventory --ttl 3600 > web-inventory.jwt',
    );
    const res = await curl(
      'curl -i -H "Authorization: Bearer $(cat web-inventory.jwt)" http://127.0.0.1:8444/stock/42',
    );
    assert.equal(res.status, 200, res.body);
    assert.equal(res.headers['x-gatehouse-would-deny'], 'true');
    assertShowsResponse(
      res,
      [
        'HTTP/1.1 200 OK',
        'x-gatehouse-decision-id: 16621203d071fbe3-00000001',
        'x-gatehouse-would-deny: true',
        '…',
      ].join('\n'),
      localize,
    );
    assert.equal(res.json().wouldDeny, true, 'the service sees the would-deny too');
  });

  test('7. gatehouse decisions lists what the document lists; the hash chain verifies', async () => {
    const shown = blockAfter(
      '```sh\nnpx gatehouse decisions --service catalog\nnpx gatehouse decisions --service inventory\n```\n',
    ).split('\n\n');
    assert.equal(shown.length, 2, 'two tables: catalog, inventory');
    const catalogTable = await decisions('npx gatehouse decisions --service catalog', 4);
    assert.deepEqual(stableColumns(catalogTable), stableColumns(shown[0]!), catalogTable);
    const inventoryTable = await decisions('npx gatehouse decisions --service inventory', 1);
    assert.deepEqual(stableColumns(inventoryTable), stableColumns(shown[1]!), inventoryTable);

    const json = await runGatehouse(['decisions', '--service', 'catalog', '--output', 'json'], env, work);
    for (const line of json.out.trim().split('\n'))
      assert.equal((JSON.parse(line) as { via: string }).via, 'proxy:catalog');
    assert.ok(doc.includes('`gatehouse decisions verify` checks the hash'));
    const verify = await runGatehouse(['decisions', 'verify'], env, work);
    assert.equal(verify.code, 0, verify.out + verify.err);
    assert.match(verify.out, /^ok: \d+ record\(s\), hash chain intact$/m);
  });

  test('8. mTLS: a client X.509-SVID is let in; no client certificate is denied', async () => {
    await gatehouse(
      'npx gatehouse svid x509 --spiffe-id spiffe://acme.corp/ns/shop/sa/catalog --out-dir svids/catalog',
    );
    await gatehouse(
      'npx gatehouse svid x509 --spiffe-id spiffe://acme.corp/ns/shop/sa/web --out-dir svids/web',
    );
    await gatehouse('npx gatehouse bundle --output pem > svids/bundle.pem');
    mtls = await proxy(
      'npx gatehouse proxy --service catalog --listen 127.0.0.1:8445 --service-port 8443 --upstream http://127.0.0.1:9000 --tls-cert svids/catalog/svid.pem --tls-key svids/catalog/svid.key --tls-ca svids/bundle.pem',
      { synced: true },
    );
    const withCert = await curl(
      'curl -k --cert svids/web/svid.pem --key svids/web/svid.key https://127.0.0.1:8445/products/42',
    );
    assert.equal(withCert.status, 200, withCert.body);
    assertShows(
      withCert.body,
      '# {"method":"GET","url":"/products/42","caller":"spiffe://acme.corp/ns/shop/sa/web",…}',
      localize,
    );
    const without = await curl('curl -k https://127.0.0.1:8445/products/42');
    assert.equal(without.status, 403);
    assertShows(
      without.body,
      '# {"decision":"deny",…,"layer":"credential","reason":"identity_missing"}',
      localize,
    );
  });

  test('9. revocation within a second; the last policy enforced while the server is away', async () => {
    const verify = await gatehouse(
      'npx gatehouse token verify --file web.jwt --audience spiffe://acme.corp/ns/shop/sa/catalog',
    );
    assertShows(
      verify.out,
      '# valid: spiffe://acme.corp/ns/shop/sa/web (jti c8c1e857-…, expires …)',
      localize,
    );
    const jti = /\(jti ([^,]+),/.exec(verify.out)![1]!;
    // Not in the document: a second JWT-SVID of the storefront, to show what stays allowed.
    const mint = await runGatehouse(
      [
        'svid',
        'jwt',
        '--spiffe-id',
        'spiffe://acme.corp/ns/shop/sa/web',
        '--audience',
        'spiffe://acme.corp/ns/shop/sa/catalog',
      ],
      env,
      work,
    );
    assert.equal(mint.code, 0, mint.err);
    writeFileSync(join(work, fresh), mint.out);

    await gatehouse('npx gatehouse revoke --credential c8c1e857-…', { 'c8c1e857-…': jti });
    const revokedLine = 'curl -H "Authorization: Bearer $(cat web.jwt)" http://127.0.0.1:8443/products/42';
    let res: Printed | undefined;
    const took = await waitFor(
      'the proxy denies the revoked JWT-SVID',
      async () => {
        res = await curl(revokedLine);
        return res.status === 403;
      },
      REVOCATION_WITHIN_MS,
    );
    assertShows(
      res!.body,
      '# {"decision":"deny",…,"layer":"credential","reason":"credential_revoked"}',
      localize,
    );
    assert.ok(took <= REVOCATION_WITHIN_MS);

    // Stop the control plane (Ctrl-C): the proxies go on enforcing what they synced.
    assert.equal(await server.stop(), 0, 'the server stops cleanly');
    for (const p of [catalog, inventory, mtls])
      await waitFor('sync_failed is logged', () => logged(p, 'sync_failed'));
    assert.match(catalog.stderr(), new RegExp(`"event":"sync_failed".*"enforcing":"${pushed}"`));
    const revoked = await curl(revokedLine);
    assert.equal(revoked.status, 403);
    assert.equal(revoked.json().reason, 'credential_revoked', 'the same revocations');
    offline.push(String(revoked.headers['x-gatehouse-decision-id']));
    // From here on web.jwt holds the unrevoked JWT-SVID, so the document's own curl line shows the allow.
    writeFileSync(join(work, 'web.jwt'), readFileSync(join(work, fresh)));
    const allowed = await curl(revokedLine);
    assert.equal(allowed.status, 200, `the same allows: ${allowed.body}`);
    assert.equal(allowed.json().caller, 'spiffe://acme.corp/ns/shop/sa/web');
    offline.push(String(allowed.headers['x-gatehouse-decision-id']));
    const anonymous = await curl('curl -i http://127.0.0.1:8443/products/42');
    assert.equal(anonymous.json().reason, 'identity_missing', 'the same denies');
    const overMtls = await curl(
      'curl -k --cert svids/web/svid.pem --key svids/web/svid.key https://127.0.0.1:8445/products/42',
    );
    assert.equal(overMtls.status, 200, overMtls.body);
    const simulated = await curl(
      'curl -i -H "Authorization: Bearer $(cat web-inventory.jwt)" http://127.0.0.1:8444/stock/42',
    );
    assert.equal(simulated.headers['x-gatehouse-would-deny'], 'true');

    // A proxy that never synced has nothing to enforce.
    const orders = await proxy(
      'npx gatehouse proxy --service orders --listen 127.0.0.1:8446 --upstream http://127.0.0.1:9000',
      { synced: false },
    );
    const unavailable = await curl('curl -i http://127.0.0.1:8446/orders/1');
    assert.equal(unavailable.status, 503);
    assertShows(unavailable.printed.split('\n')[0]!, '# HTTP/1.1 503 Service Unavailable', localize);
    assertShows(
      unavailable.body,
      '# {"decision":"deny",…,"reason":"policy_unavailable","message":"the proxy has no policy: it has not synced with the control plane yet"}',
      localize,
    );
    assert.equal(unavailable.json().decisionId, unavailable.headers['x-gatehouse-decision-id']);
    assert.ok(!logged(orders, 'proxy_synced'));
  });

  test('9, continued. npm start again: the proxies catch up; the local zone must be pushed again', async () => {
    const from = catalog.stderr().length;
    server = await npmStart(ports.get('8080'));
    assert.match(server.stdout(), /Admin credential: created on first start/);
    assert.doesNotMatch(server.stdout(), /gha_/, 'shown once');
    for (const p of [catalog, inventory, mtls])
      await waitFor('sync_restored is logged', () => logged(p, 'sync_restored'));
    await waitFor('the decisions made while the server was away are logged', async () => {
      const r = await runGatehouse(['decisions', '--service', 'catalog', '--output', 'json'], env, work);
      return offline.every((id) => r.out.includes(`"decisionId":"${id}"`));
    });
    assert.ok(doc.includes('`npm start` activates `examples/acme/policy` as it starts'));
    await waitFor('the proxy has the policy npm start activated', () =>
      logged(catalog, 'policy_updated', from),
    );
    const bearer = 'curl -i -H "Authorization: Bearer $(cat web.jwt)" http://127.0.0.1:8443/products/42';
    assert.equal((await curl(bearer)).json().layer, 'zone');
    const again = catalog.stderr().length;
    await gatehouse(
      'npx gatehouse policy push examples/acme/policy examples/enforce/local-zone.yaml --comment "this machine joins the address plan"',
    );
    await waitFor('the proxy has the pushed policy', () => logged(catalog, 'policy_updated', again));
    assert.equal((await curl(bearer)).status, 200);
  });
});
