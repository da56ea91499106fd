/** `pipe config render <file>`: the fully resolved params of every stage, each annotated with where it came from. */
import type { Provenance } from '../../config/types.js';
import { planFile, type CommonFlags } from '../context.js';
import type { Output } from '../run-logger.js';
import { lineCol } from '../../diagnostics.js';

/** Where a resolved param came from, in words (`pipe config render`'s comments, `pipe ui`'s stage panel). */
export function describeProvenance(provenance: Provenance | undefined, file: { path: string; text: string }, locate: (path: readonly (string | number)[]) => { offset: number } | undefined): string {
  switch (provenance?.source) {
    case undefined:
    case 'schema-default':
      return 'default';
    case 'cli':
      return `from ${provenance.text}`;
    case 'file':
    case 'defaults':
    case 'sweep': {
      const at = locate(provenance.path);
      const where = at ? `${file.path}:${lineCol(file, at.offset).line}` : file.path;
      return provenance.source === 'file' ? `set in ${where}` : provenance.source === 'defaults' ? `from defaults in ${where}` : `from sweep in ${where}`;
    }
  }
}

export async function configRenderCommand(file: string, flags: CommonFlags & { stage?: readonly string[] }, write: Output): Promise<number> {
  const planned = await planFile(file, flags);
  const source = planned.pipeline.source;
  const out: string[] = [`# resolved config of ${file} (pipeline ${planned.pipeline.name})`, 'stages:'];
  for (const stage of planned.stages) {
    if (flags.stage?.length && !flags.stage.includes(stage.name) && !flags.stage.includes(stage.group)) continue;
    out.push(`  ${JSON.stringify(stage.name)}:`, `    kind: ${stage.kind}  # ${stage.impl}`);
    const inputs = Object.entries(stage.inputs);
    if (inputs.length) {
      out.push('    inputs:');
      for (const [name, input] of inputs) out.push(`      ${name}: ${input.many ? JSON.stringify(input.refs) : JSON.stringify(input.refs[0])}`);
    }
    out.push('    params:');
    for (const key of Object.keys(stage.params).sort()) {
      const value = JSON.stringify(stage.params[key]);
      out.push(`      ${key}: ${value}  # ${describeProvenance(stage.provenance[key], source.file, (p) => source.locate(p))}`);
    }
  }
  write(`${out.join('\n')}\n`);
  return 0;
}
