import { parseArgs } from 'node:util';
import {
  DependencyMapBuilder,
  countText,
  dependencyMapDot,
  dependencyMapMermaid,
  edgeActionsText,
  type DependencyMap,
  type DependencyMapOptions,
} from '../../core/analysis/rollout/index.js';
import { oneOf, withInventoryErrors, writeOut } from '../exposure-flags.js';
import { FLOW_INPUT_OPTIONS, flowInput, readFlows, reportBadLines } from '../flow-files.js';
import { EXIT, type CliIo } from '../io.js';
import { ESTATE_OPTIONS, readEstate, serviceFlag } from '../rollout-flags.js';
import { renderTable } from '../table.js';
import { parseTimeFlag } from '../time-flag.js';

export const usage = `usage: gatehouse map --policy POLICY... --flows FILE... [--format FORMAT] [--inventory FILE]
                    [--service NAME]... [--since TIME] [--until TIME]
                    [--output table|json|dot|mermaid] [--out FILE]

The dependency map: who talks to whom, from observed flows. One edge per caller, destination
and port, with the actions seen (paths as templates: /orders/{id}), flows, first and last
seen, and the zones crossed. Callers with no identity and undeclared destinations stay visible.
  --policy      policy file or folder (repeatable; merged)
  --flows       flow files (repeatable; \`-\` for standard input)
  --format      gatehouse (default), vpc, hubble or decision-log
  --vpc-fields  VPC flow log custom format, when the files have no header
  --inventory   inventory snapshot: identities by address
  --service     only edges into or out of this service (repeatable)
  --since       only flows at or after this time (RFC 3339)
  --until       only flows before this time
  --output      table (default), json, dot (Graphviz) or mermaid
  --out         write to FILE instead of standard output
Exit: 0 ok, 3 invalid input, 1 other failure. Bad lines are reported on standard error.`;

export async function run(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...FLOW_INPUT_OPTIONS,
      ...ESTATE_OPTIONS,
      since: { type: 'string' },
      until: { type: 'string' },
      output: { type: 'string', default: 'table' },
      out: { type: 'string' },
    },
  });
  const input = flowInput(values);
  const output = oneOf(values.output, ['table', 'json', 'dot', 'mermaid'] as const, '--output');
  const options: DependencyMapOptions = {};
  if (values.since !== undefined) options.since = parseTimeFlag(values.since, '--since');
  if (values.until !== undefined) options.until = parseTimeFlag(values.until, '--until');

  return withInventoryErrors('map', io, async () => {
    const { policy, inventory } = readEstate(values.policy, values.inventory, io.cwd);
    const services = serviceFlag(values.service, [policy]);
    if (services) options.services = services;
    const builder = new DependencyMapBuilder(policy, options);
    const { records, report } = readFlows(input, io, { policy, ...(inventory ? { inventory } : {}) });
    for await (const r of records) builder.add(r);
    reportBadLines('map', report(), io);
    const map = builder.finish();
    const text =
      output === 'json'
        ? JSON.stringify(map, null, 2) + '\n'
        : output === 'dot'
          ? dependencyMapDot(map)
          : output === 'mermaid'
            ? dependencyMapMermaid(map)
            : renderMap(map);
    if (values.out !== undefined) {
      writeOut(values.out, io.cwd, text);
      io.stdout.write(`wrote ${values.out}: ${summaryLine(map)}\n`);
    } else io.stdout.write(text);
    return EXIT.ok;
  });
}

function summaryLine(map: DependencyMap): string {
  const t = map.totals;
  const window = map.window
    ? ` from ${map.window.first.slice(0, 16)}Z to ${map.window.last.slice(0, 16)}Z`
    : '';
  return (
    `${countText(t.edges)} edge(s), ${countText(t.flows)} flow(s)${window}; ${countText(t.callers)} caller(s), ` +
    `${countText(t.services)} service(s); ${countText(t.unknownSources)} caller(s) with no identity, ` +
    `${countText(t.unknownDestinations)} undeclared destination(s); ${countText(t.crossZoneEdges)} edge(s) cross zones`
  );
}

function renderMap(map: DependencyMap): string {
  const labels = new Map(
    map.nodes.map((n) => [n.id, n.kind === 'unknown' ? `? ${n.label.replace(/^unknown /, '')}` : n.label]),
  );
  const zones = new Map(map.nodes.map((n) => [n.id, n.zone]));
  const rows = map.edges.map((e) => [
    labels.get(e.from)!,
    labels.get(e.to)! + (e.port !== undefined ? `:${e.port}` : ''),
    countText(e.flows),
    `${e.sourceZones.join(',')} → ${zones.get(e.to)}`,
    e.verdicts.deny ? `${countText(e.verdicts.deny)} denied` : '',
    edgeActionsText(e, 3) || e.protocol,
    e.firstSeen.slice(0, 16).replace('T', ' '),
    e.lastSeen.slice(0, 16).replace('T', ' '),
  ]);
  return (
    renderTable(['from', 'to', 'flows', 'zones', 'observed', 'actions', 'first seen', 'last seen'], rows) +
    `\n${summaryLine(map)}\n`
  );
}
