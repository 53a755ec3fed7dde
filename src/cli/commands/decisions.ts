import { parseArgs } from 'node:util';
import type { DecisionRecord } from '../../core/log/decision-record.js';
import { apiClient, CLIENT_OPTIONS, CLIENT_USAGE } from '../api-client.js';
import { EXIT, type CliIo } from '../io.js';
import { renderTable } from '../table.js';
import { parseTimeFlag } from '../time-flag.js';
import { UsageError } from '../usage-error.js';

export const usage = `usage: gatehouse decisions [list] [--identity SPIFFE-ID] [--service NAME] [--verdict allow|deny]
                           [--since TIME] [--until TIME] [--limit N] [--oldest-first] [--output table|json]
       gatehouse decisions export [--from-seq N]      (JSON lines, as stored)
       gatehouse decisions verify                     (check the hash chain; exit 1 when broken)

Reads the decision log of a running server: every decision with its identity, network path,
verdict per layer, deciding rules and mode. Newest first unless --oldest-first.
${CLIENT_USAGE}`;

interface ChainStatus {
  checked: number;
  firstBreak?: { seq: number; message: string };
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
      limit: { type: 'string', default: '50' },
      'oldest-first': { type: 'boolean', default: false },
      'from-seq': { type: 'string', default: '1' },
      output: { type: 'string', default: 'table' },
    },
  });
  const api = apiClient(values, io);
  if (sub === 'verify') {
    const s = await api.call<ChainStatus>('GET', '/v1/decisions/verify');
    if (s.firstBreak) {
      io.stdout.write(
        `BROKEN at seq ${s.firstBreak.seq}: ${s.firstBreak.message} (${s.checked} record(s) checked)\n`,
      );
      return EXIT.error;
    }
    io.stdout.write(`ok: ${s.checked} record(s), hash chain intact\n`);
    return EXIT.ok;
  }
  if (sub === 'export') {
    const fromSeq = Number(values['from-seq']);
    if (!Number.isSafeInteger(fromSeq) || fromSeq < 1)
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
  const q = new URLSearchParams({ limit: values.limit });
  for (const k of ['identity', 'service', 'verdict'] as const) if (values[k]) q.set(k, values[k]);
  // The flags take what the other verbs take (a date alone too); the API wants a full RFC 3339 date-time.
  for (const k of ['since', 'until'] as const)
    if (values[k] !== undefined) q.set(k, new Date(parseTimeFlag(values[k], `--${k}`)).toISOString());
  if (!values['oldest-first']) q.set('order', 'desc');
  const { decisions } = await api.call<{ decisions: DecisionRecord[] }>('GET', `/v1/decisions?${q}`);
  if (values.output === 'json') {
    for (const d of decisions) io.stdout.write(JSON.stringify(d) + '\n');
    return EXIT.ok;
  }
  io.stdout.write(
    renderTable(
      ['SEQ', 'TIME', 'SOURCE', 'FROM', 'SERVICE', 'ACTION', 'VERDICT', 'LAYER', 'RULES'],
      decisions.map((d) => [
        String(d.seq),
        d.time,
        d.source.spiffeId || '-',
        `${d.source.ip ?? '?'} (${d.source.zone})`,
        `${d.destination.service}${d.destination.port ? `:${d.destination.port}` : ''}`,
        d.action ? `${d.action.method ?? ''} ${d.action.path ?? d.action.operation ?? ''}`.trim() : '-',
        d.wouldDeny ? 'would-deny' : d.decision,
        `${d.layer}/${d.reason}`,
        d.rules.join(',') || '-',
      ]),
    ),
  );
  return EXIT.ok;
}

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
