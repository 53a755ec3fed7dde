import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import type { DecisionRecord } from '../../core/log/decision-record.js';
import { canonicalRecordJson, ChainVerifier } from '../../core/log/hash-chain.js';
import { parseRecordText } from '../../core/log/verify-decision-log.js';
import { ApiError, apiClient, CLIENT_OPTIONS, CLIENT_USAGE, type ApiClient } from '../api-client.js';
import { parseDuration, parseSpan } from '../flag-values.js';
import { EXIT, type CliIo } from '../io.js';
import { renderTable, tableLine } from '../table.js';
import { parseTimeFlag } from '../time-flag.js';
import { fileLinesSync } from '../decision-log-file.js';
import { fileProblem, isFileSystemError } from '../file-problem.js';
import { UsageError } from '../usage-error.js';

export const usage = `usage: gatehouse decisions [list] [--identity SPIFFE-ID] [--service NAME] [--verdict allow|deny]
                           [--since TIME] [--until TIME] [--limit N] [--oldest-first] [--output table|json]
       gatehouse decisions --follow [--identity ...] [--service ...] [--verdict ...] [--limit N]
                           [--interval DURATION] [--output table|json]
       gatehouse decisions export [--from-seq N]      (JSON lines, as stored)
       gatehouse decisions verify [--file FILE.jsonl] [--holds SEQ:HASH]
                                                      (check the hash chain, of the server's log or of
                                                       an export, and the log's copies of each record's
                                                       fields; exit 1 when broken)
       gatehouse decisions prune --before TIME | --older-than SPAN
                                                      (delete the oldest records, up to the first
                                                       decided at or after TIME, or SPAN ago)

Reads the decision log of a running server: every decision with its identity, network path,
verdict per layer, deciding rules and mode. Newest first unless --oldest-first. Also checks its
hash chain, or an export's, and prunes its oldest records.
  --follow      print the last --limit matching decisions (default 10), oldest first, then each
                new one as it is logged, until interrupted (Ctrl-C); an unreachable server is
                waited for
  --interval    how often --follow asks for new decisions (default 1s)
  --file        verify: check an export instead of the server's log, offline
  --holds       verify: also check that the log still holds this record, as an earlier verify
                printed it (newest: record SEQ, hash HASH): records cut from the end, or
                rewritten up to it with their hashes computed again, show
  --before      prune: the oldest records are deleted up to the first one decided at or after
                this time, never the newest; export them first to keep them
                (docs/decision-log.md, "Retention")
  --older-than  prune: --before that long ago: 90d, 12h, 30m, ...
${CLIENT_USAGE}`;

interface Anchor {
  seq: number;
  hash: string;
  prunedAt: string;
  pruned: number;
}

interface ChainStatus {
  checked: number;
  firstBreak?: { seq: number; message: string };
  anchor?: Anchor;
}

export async function run(argv: string[], io: CliIo): Promise<number> {
  const sub = argv[0] && !argv[0].startsWith('-') ? argv[0] : 'list';
  const rest = argv[0] === sub ? argv.slice(1) : argv;
  const { values } = parseArgs({
    args: rest,
    options: {
      ...CLIENT_OPTIONS,
      identity: { type: 'string' },
      service: { type: 'string' },
      verdict: { type: 'string' },
      since: { type: 'string' },
      until: { type: 'string' },
      before: { type: 'string' },
      'older-than': { type: 'string' },
      file: { type: 'string' },
      holds: { type: 'string' },
      limit: { type: 'string' },
      follow: { type: 'boolean', short: 'f', default: false },
      interval: { type: 'string', default: '1s' },
      'oldest-first': { type: 'boolean', default: false },
      'from-seq': { type: 'string', default: '1' },
      output: { type: 'string', default: 'table' },
    },
  });
  const holds = values.holds === undefined ? undefined : checkpoint(values.holds);
  if (sub === 'verify' && values.file !== undefined) {
    if (holds) throw new UsageError("--holds checks the server's log, not a --file");
    return verifyFile(values.file, io);
  }
  const api = apiClient(values, io);
  if (sub === 'verify') {
    const s = await api.call<ChainStatus>('GET', '/v1/decisions/verify');
    if (s.firstBreak) {
      io.stdout.write(
        `BROKEN at seq ${s.firstBreak.seq}: ${s.firstBreak.message} (${s.checked} record(s) checked)\n`,
      );
      return EXIT.error;
    }
    io.stdout.write(
      `ok: ${s.checked} record(s), hash chain intact` +
        (s.anchor
          ? ` from record ${s.anchor.seq + 1}, which links to the last pruned record ${s.anchor.seq}` +
            ` (${s.anchor.pruned} pruned in all, the last prune at ${s.anchor.prunedAt})`
          : '') +
        '\n',
    );
    if (holds) {
      const problem = await checkpointProblem(api, holds, s.anchor);
      if (problem) {
        io.stdout.write(`${problem}\n`);
        return EXIT.error;
      }
      io.stdout.write(`holds record ${holds.seq} with hash ${holds.hash}\n`);
    }
    // Records cut from the end leave no break: the newest record, kept elsewhere, shows them.
    const { decisions } = await api.call<{ decisions: DecisionRecord[] }>(
      'GET',
      '/v1/decisions?order=desc&limit=1',
    );
    const newest = decisions[0];
    if (newest)
      io.stdout.write(
        `newest: record ${newest.seq}, hash ${newest.hash} (keep it elsewhere: a later log must hold it)\n`,
      );
    return EXIT.ok;
  }
  if (sub === 'prune') {
    const olderThan = values['older-than'];
    if ((values.before === undefined) === (olderThan === undefined))
      throw new UsageError(
        'prune needs one of --before TIME and --older-than SPAN: the records decided before are deleted',
      );
    const before = new Date(
      olderThan === undefined
        ? parseTimeFlag(values.before!, '--before')
        : Date.now() - parseSpan(olderThan, '--older-than'),
    ).toISOString();
    const r = await api.call<{ pruned: number; anchor: Anchor | null; remaining: number }>(
      'POST',
      '/v1/decisions/prune',
      { before },
    );
    io.stdout.write(
      (r.pruned === 0
        ? `nothing to prune: no record before the first one decided at or after ${before} (the newest record is kept)`
        : `pruned ${r.pruned} record(s) decided before ${before}`) +
        (r.anchor ? `; the log starts after record ${r.anchor.seq} (${r.anchor.hash})` : '') +
        `; ${r.remaining} record(s) left\n`,
    );
    return EXIT.ok;
  }
  if (sub === 'export') {
    const fromSeq = /^[1-9][0-9]*$/.test(values['from-seq']) ? Number(values['from-seq']) : NaN;
    if (!Number.isSafeInteger(fromSeq))
      throw new UsageError(`--from-seq must be a whole number of 1 or more, not \`${values['from-seq']}\``);
    // Streamed to standard output as it arrives: a whole log does not fit in memory.
    const text = new TextDecoder();
    await api.stream(`/v1/decisions/export?fromSeq=${fromSeq}`, async (chunk) => {
      await written(io.stdout, text.decode(chunk, { stream: true }));
    });
    await written(io.stdout, text.decode());
    return EXIT.ok;
  }
  if (sub !== 'list') throw new UsageError(`unknown decisions command \`${sub}\``);
  if (values.output !== 'table' && values.output !== 'json')
    throw new UsageError('--output must be table or json');
  const filter = new URLSearchParams();
  for (const k of ['identity', 'service', 'verdict'] as const) if (values[k]) filter.set(k, values[k]);
  // The flags take what the other verbs take (a date alone too); the API wants a full RFC 3339 date-time.
  for (const k of ['since', 'until'] as const)
    if (values[k] !== undefined) filter.set(k, new Date(parseTimeFlag(values[k], `--${k}`)).toISOString());
  const out = values.output === 'json' ? jsonLines(io) : tableRows(io);
  if (values.follow) {
    if (values.until !== undefined) throw new UsageError('--follow and --until do not go together');
    if (values['oldest-first']) throw new UsageError('--follow prints oldest first already');
    await follow(api, filter, {
      limit: values.limit ?? '10',
      intervalMs: parseDuration(values.interval, '--interval'),
      out,
      io,
    });
    return EXIT.ok;
  }
  const q = new URLSearchParams(filter);
  q.set('limit', values.limit ?? '50');
  if (!values['oldest-first']) q.set('order', 'desc');
  const { decisions } = await api.call<{ decisions: DecisionRecord[] }>('GET', `/v1/decisions?${q}`);
  out(decisions, true);
  return EXIT.ok;
}

/** `--holds SEQ:HASH`. */
function checkpoint(text: string): { seq: number; hash: string } {
  const m = /^([1-9][0-9]{0,15}):(sha256:[0-9a-f]{64})$/.exec(text.trim());
  if (!m) throw new UsageError('--holds must be SEQ:HASH, such as 1834:sha256:9c0f… as verify printed it');
  return { seq: Number(m[1]), hash: m[2]! };
}

/**
 * Why the log does not hold the checkpoint record (`BROKEN: …`), or why it
 * cannot tell (`UNCHECKED: …`: pruned before the anchor); undefined when it
 * holds it.
 */
async function checkpointProblem(
  api: ApiClient,
  holds: { seq: number; hash: string },
  anchor: Anchor | undefined,
): Promise<string | undefined> {
  if (anchor && holds.seq <= anchor.seq) {
    if (holds.seq < anchor.seq)
      return `UNCHECKED: record ${holds.seq} was pruned (the log starts after record ${anchor.seq}): check it in the archive`;
    return anchor.hash === holds.hash
      ? undefined
      : `BROKEN: record ${holds.seq}, the last pruned, has hash ${anchor.hash}, not ${holds.hash}`;
  }
  const { decisions } = await api.call<{ decisions: DecisionRecord[] }>(
    'GET',
    `/v1/decisions?afterSeq=${holds.seq - 1}&limit=1`,
  );
  const record = decisions[0];
  if (record?.seq !== holds.seq)
    return `BROKEN: the log does not hold record ${holds.seq}: records were cut from its end`;
  if (record.hash !== holds.hash)
    return `BROKEN: record ${holds.seq} has hash ${record.hash}, not ${holds.hash}`;
  return undefined;
}

/**
 * Checks the hash chain of an export (JSON lines) on its own: it may start
 * after record 1 (an archive of pruned records, a later part), and then its
 * first record is trusted. Says where it ends, to compare with the anchor of
 * the log it was pruned from.
 */
function verifyFile(file: string, io: CliIo): number {
  const verifier = new ChainVerifier();
  let first: DecisionRecord | undefined;
  let last: DecisionRecord | undefined;
  let line = 0;
  const read = (function* () {
    try {
      yield* fileLinesSync(resolve(io.cwd, file));
    } catch (error) {
      if (!isFileSystemError(error)) throw error;
      throw new UsageError(`cannot read \`${file}\`: ${fileProblem(error)}`);
    }
  })();
  for (const lines of read) {
    for (const text of lines) {
      line++;
      if (text.trim() === '') continue;
      const record = decisionRecordOf(text);
      if (record === undefined) {
        io.stdout.write(`BROKEN at line ${line} of ${file}: not a decision record\n`);
        return EXIT.error;
      }
      // The line must be the text the log hashed: one rewritten to parse the same here (spaces, a
      // key twice, keys in another order) could read otherwise to another parser.
      if (canonicalRecordJson(record) !== text) {
        io.stdout.write(
          `BROKEN at seq ${record.seq} (line ${line} of ${file}): the line is not the record's canonical JSON, as the log writes it: it was rewritten\n`,
        );
        return EXIT.error;
      }
      verifier.push(record);
      const { firstBreak, checked } = verifier.status();
      if (firstBreak) {
        io.stdout.write(
          `BROKEN at seq ${firstBreak.seq} (line ${line} of ${file}): ${firstBreak.message} (${checked} record(s) checked)\n`,
        );
        return EXIT.error;
      }
      first ??= record;
      last = record;
    }
  }
  if (!first || !last) {
    io.stdout.write(`ok: ${file} holds no records\n`);
    return EXIT.ok;
  }
  io.stdout.write(
    `ok: ${verifier.status().checked} record(s), records ${first.seq} to ${last.seq}, hash chain intact` +
      (first.seq === 1
        ? ' from the genesis hash'
        : ` (the first trusted: it links to record ${first.seq - 1}, not in the file)`) +
      `; the last has hash ${last.hash}\n`,
  );
  return EXIT.ok;
}

/** The record of an export's line; undefined when it is not JSON or lacks its place in the chain. */
function decisionRecordOf(text: string): DecisionRecord | undefined {
  const r = parseRecordText(text);
  return r && Number.isSafeInteger(r.seq) && typeof r.prevHash === 'string' && typeof r.hash === 'string'
    ? r
    : undefined;
}

/** Prints decisions; `last` says no more will come (a table is then rendered whole, aligned). */
type Printer = (decisions: readonly DecisionRecord[], last: boolean) => void;

const COLUMNS = ['SEQ', 'TIME', 'SOURCE', 'FROM', 'SERVICE', 'ACTION', 'VERDICT', 'LAYER', 'RULES'];
/** Least column widths when following (a time is always 24 characters). */
const FOLLOW_WIDTHS = [6, 24, 36, 20, 16, 16, 10, 22, 0];

function cells(d: DecisionRecord): string[] {
  return [
    String(d.seq),
    d.time,
    d.source.spiffeId || '-',
    `${d.source.ip ?? '?'} (${d.source.zone})`,
    `${d.destination.service}${d.destination.port ? `:${d.destination.port}` : ''}`,
    d.action ? `${d.action.method ?? ''} ${d.action.path ?? d.action.operation ?? ''}`.trim() : '-',
    d.wouldDeny ? 'would-deny' : d.decision,
    `${d.layer}/${d.reason}`,
    d.rules.join(',') || '-',
  ];
}

function jsonLines(io: CliIo): Printer {
  return (decisions) => {
    for (const d of decisions) io.stdout.write(JSON.stringify(d) + '\n');
  };
}

/**
 * A table: whole and aligned when all rows are known; when following, the
 * header once and each row as it comes, columns as wide as the widest cell
 * seen so far (a wider one later pushes the rest of its row along).
 */
function tableRows(io: CliIo): Printer {
  let widths: number[] | undefined;
  return (decisions, last) => {
    const rows = decisions.map(cells);
    if (last && widths === undefined) {
      io.stdout.write(renderTable(COLUMNS, rows));
      return;
    }
    const line = (row: readonly string[]) => tableLine(row, widths!) + '\n';
    if (widths === undefined) {
      // Room for typical cells from the start, so that a watch begun on a quiet log lines up.
      widths = COLUMNS.map((h, i) => Math.max(h.length, FOLLOW_WIDTHS[i]!, ...rows.map((r) => r[i]!.length)));
      io.stdout.write(line(COLUMNS) + line(widths.map((w) => '-'.repeat(w))));
    }
    for (const row of rows) {
      row.forEach((c, i) => (widths![i] = Math.max(widths![i]!, c.length)));
      io.stdout.write(line(row));
    }
  };
}

interface FollowOptions {
  limit: string;
  intervalMs: number;
  out: Printer;
  io: CliIo;
}

/**
 * `--follow`: the last `limit` matching decisions, then every new one, by
 * sequence number, so none is shown twice or skipped. The log's end is read
 * first and the backlog is taken below it, so a decision logged in between
 * is printed once, by the first poll. Stops on SIGINT or SIGTERM.
 */
async function follow(api: ApiClient, filter: URLSearchParams, options: FollowOptions): Promise<void> {
  const { io, out } = options;
  const get = async (q: URLSearchParams) =>
    (await api.call<{ decisions: DecisionRecord[] }>('GET', `/v1/decisions?${q}`)).decisions;
  const [tail] = await get(new URLSearchParams({ limit: '1', order: 'desc' }));
  let after = tail?.seq ?? 0;
  const backlog = new URLSearchParams(filter);
  backlog.set('limit', options.limit);
  backlog.set('order', 'desc');
  backlog.set('beforeSeq', String(after + 1));
  out((await get(backlog)).reverse(), false);

  let stopped = false;
  let wake: (() => void) | undefined;
  const stop = () => {
    stopped = true;
    wake?.();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  let unreachable = false;
  try {
    while (!stopped) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, options.intervalMs);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      // Pages until one comes back short: a burst larger than a page is read whole before waiting again.
      for (let full = true; full && !stopped;) {
        const q = new URLSearchParams(filter);
        q.set('afterSeq', String(after));
        q.set('limit', String(PAGE));
        let page: DecisionRecord[];
        try {
          page = await get(q);
        } catch (err) {
          // A server restarting is waited for; anything else (a revoked credential) ends the watch.
          if (!(err instanceof ApiError) || err.code !== 'unreachable') throw err;
          if (!unreachable) io.stderr.write(`gatehouse decisions: ${err.message}; still trying\n`);
          unreachable = true;
          break;
        }
        if (unreachable) io.stderr.write(`gatehouse decisions: ${api.server} is back\n`);
        unreachable = false;
        out(page, false);
        if (page.length) after = page[page.length - 1]!.seq;
        full = page.length === PAGE;
      }
    }
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}

/** Decisions asked for per poll: the API's largest page. */
const PAGE = 1000;

/** Writes `text`, waiting when the stream asks the writer to (a slow pipe downstream). */
async function written(out: CliIo['stdout'], text: string): Promise<void> {
  if (text === '') return;
  if (out.write(text) !== false) return;
  const stream = out as Partial<Pick<NodeJS.WritableStream, 'once' | 'off'>>;
  if (typeof stream.once !== 'function' || typeof stream.off !== 'function') return;
  // A reader that went away (`| head`) closes the stream instead: stop waiting then too.
  await new Promise<void>((resolve) => {
    const done = () => {
      for (const event of ['drain', 'close', 'error']) stream.off!(event, done);
      resolve();
    };
    for (const event of ['drain', 'close', 'error']) stream.once!(event, done);
  });
}
