/**
 * The dependency map as a Mermaid flowchart (renders in GitHub and most
 * wikis): one subgraph per zone, edges labelled with port and flows, unknown
 * endpoints styled apart.
 */
import type { DependencyMap, DependencyNode } from './dependency-map.js';
import { countText } from './map-text.js';

/** Mermaid text inside `["…"]` or `|"…"|`: quotes become `#quot;`. */
function text(s: string): string {
  return s.replace(/"/g, '#quot;');
}

export function dependencyMapMermaid(map: DependencyMap): string {
  const ids = new Map<string, string>();
  map.nodes.forEach((n, i) => ids.set(n.id, `n${i + 1}`));
  const byZone = new Map<string, DependencyNode[]>();
  for (const n of map.nodes) {
    const list = byZone.get(n.zone);
    if (list) list.push(n);
    else byZone.set(n.zone, [n]);
  }
  const out = ['flowchart LR'];
  let z = 0;
  for (const zone of [...byZone.keys()].sort()) {
    out.push(`  subgraph z${++z}["zone ${text(zone)}"]`);
    for (const n of byZone.get(zone)!) {
      const id = ids.get(n.id)!;
      out.push(n.kind === 'service' ? `    ${id}["${text(n.label)}"]` : `    ${id}(["${text(n.label)}"])`);
    }
    out.push('  end');
  }
  for (const e of map.edges) {
    const label = `${e.port ?? e.protocol} · ${countText(e.flows)}`;
    const arrow = e.crossesZones ? '==>' : '-->';
    out.push(`  ${ids.get(e.from)} ${arrow}|"${text(label)}"| ${ids.get(e.to)}`);
  }
  const unknown = map.nodes.filter((n) => n.kind === 'unknown').map((n) => ids.get(n.id)!);
  if (unknown.length) {
    out.push('  classDef unknown stroke:#c00000,stroke-dasharray:4 3,color:#c00000');
    out.push(`  class ${unknown.join(',')} unknown`);
  }
  return out.join('\n') + '\n';
}
