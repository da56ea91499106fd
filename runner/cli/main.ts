/**
 * `pipe` command line. Exit codes: 0 ok, 1 a stage failed, 2 invalid pipeline or usage,
 * 3 `status` found stages that would run, 130 interrupted. Expected failures print a located
 * message; only internal bugs print a stack (always with --debug).
 */
import { parseArgs } from 'node:util';
import { formatDiagnostic, PipelineInvalidError } from '../diagnostics.js';
import { StoreLockedError } from '../../artifacts/lock.js';
import { lsCommand, showCommand } from './commands/artifacts.js';
import { bestCommand, compareCommand } from './commands/compare.js';
import { configRenderCommand } from './commands/config-render.js';
import { dagCommand } from './commands/dag.js';
import { gcCommand } from './commands/gc.js';
import { EXIT, runCommand } from './commands/run.js';
import { predictCommand } from './commands/predict.js';
import { reportCommand } from './commands/report.js';
import { statusCommand } from './commands/status.js';
import { UsageError } from './usage-error.js';

const USAGE = `usage: pipe <command> [options]

  run <file.yaml>            run the pipeline (cached stages are reused)
      --stage NAME           only NAME and what it needs (repeatable; NAME[*] = all variants)
      --set STAGE.PARAM=V    override a param without editing the file (repeatable; params.NAME=V too)
      --force NAME|all       rerun even if cached
      --jobs N               stages at once (default: CPU cores, or $PIPE_JOBS)
      --backend B            auto | tensorflow | wasm | cpu
      --json                 NDJSON events on stdout
  report <file.yaml>         rebuild the HTML report from cached artifacts (never trains)
  status <file.yaml>         fresh/stale per stage and why; exit 3 if anything would run (--json)
  dag <file.yaml>            the stage graph (--format text|mermaid|dot)
  config render <file.yaml>  resolved params with their origin (--stage NAME)
  compare <file.yaml>        sweep variants: varying params and metrics (--sort METRIC [--asc], --format table|json|csv|markdown)
  best <file.yaml>           the best variant: --metric NAME [--max|--min] [--json]
  predict <model> image…     classify PNG/JPEG files with a trained model (a train/select stage,
                             FILE.yaml:STAGE, or artifact hash); prints the top classes (--top N, --json,
                             --pipeline FILE, --save-preprocessed DIR: the 28×28 images the model saw)
  ls                         artifacts in the store (--json)
  show <stage|hash>          an artifact's manifest, metrics and files (--json, --pipeline FILE; or FILE.yaml:STAGE)
  gc [files…]                list unreferenced artifacts; delete them with --yes
      --keep-last N          also keep what the last N runs of each pipeline used (default 1)
      --keep-recent 24h      also keep artifacts created within this time
common: --store DIR (default .pipe, or $PIPE_STORE), --debug`;

const OPTIONS = {
  stage: { type: 'string', multiple: true },
  set: { type: 'string', multiple: true },
  force: { type: 'string', multiple: true },
  jobs: { type: 'string' },
  backend: { type: 'string' },
  store: { type: 'string' },
  format: { type: 'string' },
  json: { type: 'boolean' },
  debug: { type: 'boolean' },
  yes: { type: 'boolean' },
  'keep-last': { type: 'string' },
  'keep-recent': { type: 'string' },
  sort: { type: 'string' },
  asc: { type: 'boolean' },
  metric: { type: 'string' },
  max: { type: 'boolean' },
  min: { type: 'boolean' },
  top: { type: 'string' },
  pipeline: { type: 'string' },
  'save-preprocessed': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const write = (text: string): void => {
  process.stdout.write(text);
};

function needFile(positionals: readonly string[], command: string): string {
  const file = positionals[0];
  if (!file) throw new UsageError(`pipe ${command} needs a pipeline file, e.g. pipe ${command} pipelines/quick.yaml`);
  return file;
}

async function dispatch(argv: readonly string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  const [command, ...rest] = positionals;
  if (values.help || !command) {
    write(`${USAGE}\n`);
    return command || values.help ? EXIT.ok : EXIT.invalid;
  }
  const common = {
    ...(values.store !== undefined ? { store: values.store } : {}),
    ...(values.set !== undefined ? { set: values.set } : {}),
    ...(values.backend !== undefined ? { backend: values.backend } : {}),
  };
  switch (command) {
    case 'run':
      return runCommand(needFile(rest, 'run'), { ...common, ...(values.stage ? { stage: values.stage } : {}), ...(values.force ? { force: values.force } : {}), ...(values.jobs !== undefined ? { jobs: values.jobs } : {}), json: values.json === true, debug: values.debug === true }, write);
    case 'report':
      return reportCommand(needFile(rest, 'report'), { ...common, json: values.json === true, debug: values.debug === true }, write);
    case 'status':
      return statusCommand(needFile(rest, 'status'), { ...common, json: values.json === true, ...(values.stage ? { stage: values.stage } : {}) }, write);
    case 'dag':
      return dagCommand(needFile(rest, 'dag'), { ...common, ...(values.format !== undefined ? { format: values.format } : {}) }, write);
    case 'config':
      if (rest[0] !== 'render') throw new UsageError('did you mean: pipe config render <file.yaml>');
      return configRenderCommand(needFile(rest.slice(1), 'config render'), { ...common, ...(values.stage ? { stage: values.stage } : {}) }, write);
    case 'compare':
      return compareCommand(needFile(rest, 'compare'), { ...common, ...(values.format !== undefined ? { format: values.format } : {}), ...(values.sort !== undefined ? { sort: values.sort } : {}), asc: values.asc === true }, write);
    case 'best':
      if (values.max && values.min) throw new UsageError('give --max or --min, not both');
      return bestCommand(needFile(rest, 'best'), { ...common, ...(values.metric !== undefined ? { metric: values.metric } : {}), min: values.min === true, json: values.json === true }, write);
    case 'ls':
      return lsCommand({ ...common, json: values.json === true }, write);
    case 'show': {
      const target = rest[0];
      if (!target) throw new UsageError('pipe show needs a stage name or an artifact hash (see pipe ls)');
      return showCommand(target, { ...common, json: values.json === true, ...(values.pipeline !== undefined ? { pipeline: values.pipeline } : {}) }, write);
    }
    case 'predict': {
      const [target, ...images] = rest;
      if (!target) throw new UsageError('pipe predict needs a model (train stage name or artifact hash) and image files');
      return predictCommand(target, images, { ...common, json: values.json === true, ...(values.top !== undefined ? { top: values.top } : {}), ...(values.pipeline !== undefined ? { pipeline: values.pipeline } : {}), ...(values['save-preprocessed'] !== undefined ? { savePreprocessed: values['save-preprocessed'] } : {}) }, write);
    }
    case 'gc':
      return gcCommand({ ...common, files: rest, yes: values.yes === true, ...(values['keep-last'] !== undefined ? { keepLast: values['keep-last'] } : {}), ...(values['keep-recent'] !== undefined ? { keepRecent: values['keep-recent'] } : {}) }, write);
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

export async function main(argv: readonly string[]): Promise<number> {
  const debug = argv.includes('--debug');
  try {
    return await dispatch(argv);
  } catch (error) {
    if (error instanceof PipelineInvalidError) {
      process.stderr.write(`${error.diagnostics.map(formatDiagnostic).join('\n\n')}\n\n${error.diagnostics.length} problem(s) found; nothing was run.\n`);
      return EXIT.invalid;
    }
    if (error instanceof UsageError) {
      process.stderr.write(`pipe: ${error.message}\nRun "pipe --help" for usage.\n`);
      return EXIT.invalid;
    }
    if (error instanceof StoreLockedError) {
      process.stderr.write(`pipe: ${error.message}\n`);
      return EXIT.failed;
    }
    const reason = (error as { reason?: unknown }).reason;
    if (typeof reason === 'string' && error instanceof Error) {
      process.stderr.write(`pipe: ${error.message}\n${debug && error.stack ? `${error.stack}\n` : ''}`);
      return EXIT.failed;
    }
    process.stderr.write(`pipe: internal error: ${(error as Error)?.message ?? String(error)}\n${debug ? `${(error as Error)?.stack ?? ''}\n` : 'Rerun with --debug for the stack trace, and please report it.\n'}`);
    return EXIT.failed;
  }
}
