/** Rebuilds the InputArtifact view a stage sees from the plain data passed to its thread. */
import { join } from 'node:path';
import { StageInputError, type InputArtifact } from '../../stages/types.js';
import type { InputArtifactData } from './launcher.js';

export function toInputArtifact(data: InputArtifactData): InputArtifact {
  return {
    ...data,
    has: (file) => file in data.files,
    path: (file) => {
      if (!(file in data.files)) {
        throw new StageInputError(`input from stage "${data.stage}" (kind ${data.kind}) has no file ${file}; it has: ${Object.keys(data.files).join(', ') || 'no files'}`);
      }
      return join(data.dir, file);
    },
  };
}
