/** The stage registry: one line per stage kind. Stage modules load heavy libraries lazily inside run(). */
import type { StageDefinition } from './types.js';
import { augment } from './augment.js';
import { ensemble } from './ensemble.js';
import { evaluate } from './evaluate.js';
import { exec } from './exec.js';
import { explain } from './explain.js';
import { flatten } from './flatten.js';
import { inspect } from './inspect.js';
import { load } from './load.js';
import { normalize } from './normalize.js';
import { pca } from './pca.js';
import { report } from './report.js';
import { reshape } from './reshape.js';
import { robustness } from './robustness.js';
import { select } from './select.js';
import { split } from './split.js';
import { train } from './train.js';

export const STAGES: Readonly<Record<string, StageDefinition>> = {
  load,
  inspect,
  normalize,
  reshape,
  flatten,
  split,
  augment,
  pca,
  train,
  select,
  ensemble,
  evaluate,
  robustness,
  explain,
  report,
  exec,
};
