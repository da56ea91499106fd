/** `pipe dag <file>`: the expanded stage graph as a text tree, Mermaid or Graphviz dot. */
import type { Plan } from '../../config/types.js';
import { planFile, type CommonFlags } from '../context.js';
import type { Output } from '../run-logger.js';
import { UsageError } from '../usage-error.js';
import { DAG_FORMATS } from '../formats.js';

const id = (name: string): string => `s_${name.replace(/[^A-Za-z0-9_]/g, '_')}`;
const quote = (text: string): string => `"${text.replace(/"/g, '\\"')}"`;

export function renderDag(planned: Plan, format: string): string {
  const edges = planned.stages.flatMap((s) => (planned.dependencies.get(s.name) ?? []).map((d) => [d, s.name] as const));
  switch (format) {
    case 'mermaid':
      return ['graph TD', ...planned.stages.map((s) => `  ${id(s.name)}[${quote(`${s.name} (${s.kind})`)}]`), ...edges.map(([a, b]) => `  ${id(a)} --> ${id(b)}`)].join('\n');
    case 'dot':
      return ['digraph pipeline {', '  rankdir=LR;', ...planned.stages.map((s) => `  ${quote(s.name)} [label=${quote(`${s.name}\\n${s.kind}`)}];`), ...edges.map(([a, b]) => `  ${quote(a)} -> ${quote(b)};`), '}'].join('\n');
    case 'text': {
      // Each stage under its first input; stages reached again are marked instead of repeated.
      const lines: string[] = [`${planned.pipeline.name}${planned.pipeline.description ? `: ${planned.pipeline.description}` : ''}`];
      const printed = new Set<string>();
      const visit = (name: string, prefix: string, last: boolean): void => {
        const stage = planned.byName.get(name);
        const deps = planned.dependencies.get(name) ?? [];
        const also = deps.length > 1 ? `  ← also ${deps.slice(1).join(', ')}` : '';
        lines.push(`${prefix}${last ? '└─ ' : '├─ '}${name} (${stage?.kind ?? '?'})${printed.has(name) ? ' …' : also}`);
        if (printed.has(name)) return;
        printed.add(name);
        const children = (planned.dependents.get(name) ?? []).filter((c) => (planned.dependencies.get(c) ?? [])[0] === name);
        children.forEach((c, i) => visit(c, `${prefix}${last ? '   ' : '│  '}`, i === children.length - 1));
      };
      const roots = planned.stages.filter((s) => (planned.dependencies.get(s.name) ?? []).length === 0);
      roots.forEach((r, i) => visit(r.name, '', i === roots.length - 1));
      return lines.join('\n');
    }
    default:
      throw new UsageError(`--format must be ${DAG_FORMATS.join(', ')} (got "${format}")`);
  }
}

export async function dagCommand(file: string, flags: CommonFlags & { format?: string }, write: Output): Promise<number> {
  write(`${renderDag(await planFile(file, flags), flags.format ?? 'text')}\n`);
  return 0;
}
