/**
 * The one rule for what a model reads: image models take [N,28,28,1] (or [N,H,W,C]), flat models
 * [N,D]. train, evaluate and the classical models check their arrays here; each caller says what
 * the user should change, since that differs by stage (add a `reshape` before train; evaluate on the
 * split the model was trained on).
 */
import { StageInputError } from '../types.js';
import type { ModelDefinition } from './types.js';

export interface ShapeFix {
  /** What to do when an image model gets flat features. */
  readonly image: string;
  /** What to do when a flat model gets images. */
  readonly flat: string;
}

export function checkModelInput(def: Pick<ModelDefinition, 'name' | 'input'>, file: string, shape: readonly number[], fix: ShapeFix): void {
  const got = `[${shape.join(',')}]`;
  if (def.input === 'image' && shape.length !== 4) throw new StageInputError(`model "${def.name}" needs images shaped [N,28,28,1] but ${file} is ${got}; ${fix.image}`);
  if (def.input === 'flat' && shape.length !== 2) throw new StageInputError(`model "${def.name}" needs flat features shaped [N,D] but ${file} is ${got}; ${fix.flat}`);
}

/** Rows and columns of a flat model's [N,D] input, checked against its value count. */
export function flatDims(model: string, shape: readonly number[], len: number): { n: number; d: number } {
  if (shape.length !== 2) throw new StageInputError(`${model} needs flat [N,D] features, got [${shape.join(',')}]`);
  const [n = 0, d = 0] = shape;
  if (n * d !== len) throw new StageInputError(`${model}: shape [${n},${d}] does not match ${len} values`);
  return { n, d };
}
