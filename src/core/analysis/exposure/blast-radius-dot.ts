/** The blast-radius graph in Graphviz DOT: identities as ellipses, services as boxes, held credentials in red. */
import type { BlastRadius } from './blast-radius.js';

const quote = (s: string) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;

export function blastRadiusDot(b: BlastRadius): string {
  const lines = [
    'digraph blast_radius {',
    '  rankdir=LR;',
    '  node [fontname="Helvetica", fontsize=10];',
    '  edge [fontname="Helvetica", fontsize=9];',
  ];
  for (const n of b.graph.nodes) {
    if (n.kind === 'identity') {
      const label = `${n.label}\n${n.start ? 'start, ' : `hop ${n.hops}, `}${n.window}`;
      const fill = n.start ? '#f5c2c7' : n.window === 'expired' ? '#e9ecef' : '#fff3cd';
      lines.push(
        `  ${quote(n.id)} [shape=ellipse, style=filled, fillcolor="${fill}", label=${quote(label)}];`,
      );
    } else {
      const label = `${n.label}\n${n.zone}${n.mode !== 'enforce' ? `, ${n.mode}` : ''}`;
      lines.push(`  ${quote(n.id)} [shape=box, label=${quote(label)}];`);
    }
  }
  for (const e of b.graph.edges) {
    if (e.kind === 'holds') {
      lines.push(
        `  ${quote(e.from)} -> ${quote(e.to)} [color="#c0392b", fontcolor="#c0392b", label="holds credentials"];`,
      );
      continue;
    }
    const label = `${e.ports}${e.rules?.length ? `\n${e.rules.join('\n')}` : ''}${e.unenforced && !e.rules?.length ? '\nnot enforced' : ''}`;
    const style = e.conditional ? ', style=dashed' : e.unenforced && !e.rules?.length ? ', style=dotted' : '';
    lines.push(`  ${quote(e.from)} -> ${quote(e.to)} [label=${quote(label)}${style}];`);
  }
  lines.push('}');
  return lines.join('\n') + '\n';
}
