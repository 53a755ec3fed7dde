/**
 * The dependency map as Graphviz DOT: one cluster per zone, services as
 * boxes, workloads as ellipses, unknown endpoints dashed in red, edges
 * labelled with port, flows and the main actions; edges that cross zones are
 * bold.
 */
import type { DependencyEdge, DependencyMap, DependencyNode } from './dependency-map.js';
import { countText, edgeActionsText } from './map-text.js';

function quote(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}

function nodeLine(n: DependencyNode): string {
  const attrs =
    n.kind === 'service'
      ? 'shape=box, style="rounded,filled", fillcolor="#e8f0fe"'
      : n.kind === 'workload'
        ? 'shape=ellipse'
        : 'shape=ellipse, style=dashed, color="#c00000", fontcolor="#c00000"';
  return `    ${quote(n.id)} [label=${quote(n.label)}, ${attrs}];`;
}

function edgeLine(e: DependencyEdge, unknown: boolean): string {
  const parts = [`${e.port ?? e.protocol} · ${countText(e.flows)} flow(s)`];
  const actions = edgeActionsText(e, 3);
  if (actions) parts.push(actions);
  const attrs = [`label=${quote(parts.join('\n'))}`];
  if (e.crossesZones) attrs.push('penwidth=2');
  if (unknown) attrs.push('style=dashed', 'color="#c00000"');
  else if (e.verdicts.deny > 0) attrs.push('color="#c07000"');
  return `  ${quote(e.from)} -> ${quote(e.to)} [${attrs.join(', ')}];`;
}

export function dependencyMapDot(map: DependencyMap): string {
  const byZone = new Map<string, DependencyNode[]>();
  for (const n of map.nodes) {
    const list = byZone.get(n.zone);
    if (list) list.push(n);
    else byZone.set(n.zone, [n]);
  }
  const kinds = new Map(map.nodes.map((n) => [n.id, n.kind]));
  const out = [
    'digraph dependencies {',
    '  rankdir=LR;',
    '  node [fontname="Helvetica", fontsize=10];',
    '  edge [fontname="Helvetica", fontsize=9];',
  ];
  for (const zone of [...byZone.keys()].sort()) {
    out.push(
      `  subgraph ${quote(`cluster_${zone}`)} {`,
      `    label=${quote(`zone ${zone}`)};`,
      '    style=rounded;',
    );
    for (const n of byZone.get(zone)!) out.push(nodeLine(n));
    out.push('  }');
  }
  for (const e of map.edges)
    out.push(edgeLine(e, kinds.get(e.from) === 'unknown' || kinds.get(e.to) === 'unknown'));
  out.push('}');
  return out.join('\n') + '\n';
}
