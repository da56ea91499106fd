/**
 * `pipe` command line. Exit codes: 0 ok, 1 a stage failed, 2 invalid pipeline or usage,
 * 3 `status` found stages that would run, 4 the store is busy (another pipe holds it), 130 interrupted. Expected failures print a located
 * message; only internal bugs print a stack (always with --debug).
 */
import { parseArgs } from 'node:util';
import { didYouMean, formatDiagnostic, PipelineInvalidError } from '../diagnostics.js';
import { UserError } from '../../stages/errors.js';
import { assertNever } from '../execute/events.js';
import { lsCommand, showCommand } from './commands/artifacts.js';
import { bestCommand, compareCommand } from './commands/compare.js';
import { configRenderCommand } from './commands/config-render.js';
import { dagCommand } from './commands/dag.js';
import { gcCommand } from './commands/gc.js';
import { EXIT, runCommand } from './commands/run.js';
import { predictCommand } from './commands/predict.js';
import { reportCommand } from './commands/report.js';
import { statusCommand } from './commands/status.js';
import { workerCommand, workersCommand } from './commands/worker.js';
import { UsageError } from './usage-error.js';
import { parseCount } from './numbers.js';
import { MAX_VARIANTS } from '../config/load.js';

const USAGE = `usage: pipe <command> [options]

  run <file.yaml>            run the pipeline (cached stages are reused)
      --stage NAME           only NAME and what it needs (repeatable; NAME[*] = all variants)
      --set STAGE.PARAM=V    override a param without editing the file (repeatable; params.NAME=V too)
      --force NAME|all       rerun even if cached
      --jobs N               stages at once (default: CPU cores, or $PIPE_JOBS)
      --backend B            auto | tensorflow | wasm | cpu
      --json                 NDJSON events on stdout
      --queue redis://H:P    run stages on \`pipe worker\` processes (BullMQ; or queue: / $PIPE_QUEUE)
      --remote s3://B/PREFIX shared remote cache (or remote: in the file, or $PIPE_REMOTE); endpoint
                             and credentials from the AWS environment (AWS_ENDPOINT_URL, …)
      --remote-read-only     download from the remote, never upload (for untrusted consumers)
  worker --queue URL         serve stage jobs: --slots N (default 1), --store DIR, --remote URL
  workers --queue URL        live workers and what each is running (--json)
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
common: --store DIR (default .pipe, or $PIPE_STORE), --debug,
        --max-variants N (largest sweep accepted; default ${MAX_VARIANTS})`;

const OPTIONS = {
  stage: { type: 'string', multiple: true },
  set: { type: 'string', multiple: true },
  force: { type: 'string', multiple: true },
  jobs: { type: 'string' },
  backend: { type: 'string' },
  store: { type: 'string' },
  remote: { type: 'string' },
  queue: { type: 'string' },
  slots: { type: 'string' },
  'remote-read-only': { type: 'boolean' },
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
  'max-variants': { type: 'string' },
  pipeline: { type: 'string' },
  'save-preprocessed': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

type OptionName = keyof typeof OPTIONS;

/** Flags every verb accepts. */
const GLOBAL: readonly OptionName[] = ['store', 'debug', 'help'];
/** Flags that read a pipeline file (planning). */
const PLANNING: readonly OptionName[] = ['set', 'backend', 'max-variants'];

/** Which flags each verb reads: any other is an error naming the verb, not silently ignored. */
const VERB_OPTIONS: Readonly<Record<string, readonly OptionName[]>> = {
  run: [...PLANNING, 'stage', 'force', 'jobs', 'json', 'queue', 'remote', 'remote-read-only'],
  report: [...PLANNING, 'json', 'remote', 'remote-read-only'],
  status: [...PLANNING, 'stage', 'json'],
  dag: [...PLANNING, 'format'],
  config: [...PLANNING, 'stage'],
  compare: [...PLANNING, 'format', 'sort', 'asc'],
  best: [...PLANNING, 'metric', 'max', 'min', 'json'],
  predict: ['backend', 'top', 'json', 'pipeline', 'save-preprocessed'],
  ls: ['json'],
  show: ['json', 'pipeline'],
  gc: [...PLANNING, 'yes', 'keep-last', 'keep-recent'],
  worker: ['queue', 'slots', 'remote', 'remote-read-only'],
  workers: ['queue', 'json'],
};

/** The part of USAGE that documents one verb (its line and the indented flag lines under it). */
function verbUsage(verb: string): string {
  const lines = USAGE.split('\n');
  const start = lines.findIndex((l) => l.startsWith(`  ${verb} `));
  if (start < 0) return USAGE;
  let end = start + 1;
  while (end < lines.length && /^ {6,}/.test(lines[end] ?? '')) end++;
  const common = lines.slice(lines.findIndex((l) => l.startsWith('common:')));
  return ['usage:', ...lines.slice(start, end), ...common].join('\n');
}

function checkVerbOptions(verb: string, given: readonly string[]): void {
  const allowed = VERB_OPTIONS[verb];
  if (!allowed) return;
  const accepted = [...GLOBAL, ...allowed];
  for (const name of given) {
    if ((accepted as readonly string[]).includes(name)) continue;
    const owners = Object.keys(VERB_OPTIONS).filter((v) => (VERB_OPTIONS[v] as readonly string[]).includes(name));
    throw new UsageError(`pipe ${verb} does not take --${name} (an option of ${owners.map((v) => `pipe ${v}`).join(', ')}). Options of ${verb}: ${accepted.map((o) => `--${o}`).join(', ')}`);
  }
}

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
    // node:util's message for an unknown flag, plus the nearest known one.
    const unknown = /Unknown option '--([^']+)'/.exec((error as Error).message)?.[1];
    throw new UsageError(unknown !== undefined ? `unknown option --${unknown}.${didYouMean(unknown, Object.keys(OPTIONS))}` : (error as Error).message);
  }
  const { values, positionals } = parsed;
  const [command, ...rest] = positionals;
  if (values.help || !command) {
    write(`${command ? verbUsage(command) : USAGE}\n`);
    return command || values.help ? EXIT.ok : EXIT.invalid;
  }
  checkVerbOptions(command, Object.keys(values));
  const common = {
    ...(values.store !== undefined ? { store: values.store } : {}),
    ...(values.set !== undefined ? { set: values.set } : {}),
    ...(values.backend !== undefined ? { backend: values.backend } : {}),
    ...(values.remote !== undefined ? { remote: values.remote } : {}),
    ...(values['remote-read-only'] ? { remoteReadOnly: true } : {}),
    ...(values['max-variants'] !== undefined ? { maxVariants: parseCount(values['max-variants'], '--max-variants', 1) } : {}),
  };
  // predict.ts reads --top with Number(); checked here too so "0x3" or " 3" are refused the same way.
  if (values.top !== undefined) parseCount(values.top, '--top', 1);
  switch (command) {
    case 'run':
      return runCommand(needFile(rest, 'run'), { ...common, ...(values.queue !== undefined ? { queue: values.queue } : {}), ...(values.stage ? { stage: values.stage } : {}), ...(values.force ? { force: values.force } : {}), ...(values.jobs !== undefined ? { jobs: values.jobs } : {}), json: values.json === true, debug: values.debug === true }, write);
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
    case 'worker':
      return workerCommand({ ...common, ...(values.queue !== undefined ? { queue: values.queue } : {}), ...(values.slots !== undefined ? { slots: values.slots } : {}) }, write);
    case 'workers':
      return workersCommand({ ...common, ...(values.queue !== undefined ? { queue: values.queue } : {}), json: values.json === true }, write);
    case 'gc':
      return gcCommand({ ...common, files: rest, yes: values.yes === true, ...(values['keep-last'] !== undefined ? { keepLast: values['keep-last'] } : {}), ...(values['keep-recent'] !== undefined ? { keepRecent: values['keep-recent'] } : {}) }, write);
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

/** One exit code and rendering per reason; the `never` guard makes a new reason a compile error here. */
function reportUserError(error: UserError, debug: boolean): number {
  const reason = error.reason;
  switch (reason) {
    case 'pipeline-invalid': {
      const diagnostics = error instanceof PipelineInvalidError ? error.diagnostics : [{ severity: 'error' as const, message: error.message }];
      process.stderr.write(`${diagnostics.map(formatDiagnostic).join('\n\n')}\n\n${diagnostics.length} problem(s) found; nothing was run.\n`);
      return EXIT.invalid;
    }
    case 'usage':
      process.stderr.write(`pipe: ${error.message}\nRun "pipe --help" for usage.\n`);
      return EXIT.invalid;
    case 'store-busy':
      process.stderr.write(`pipe: ${error.message}\n`);
      return EXIT.busy;
    case 'interrupted':
      process.stderr.write('pipe: interrupted\n');
      return EXIT.interrupted;
    case 'stage-input':
    case 'backend-unavailable':
    case 'model-files':
    case 'npy-format':
    case 'remote-unavailable':
    case 'queue-unavailable':
    case 'worker-lost':
    case 'store-mismatch':
      // Raised outside a stage (e.g. by `predict` or `report`): the command failed on its input.
      process.stderr.write(`pipe: ${error.message}\n${debug && error.stack ? `${error.stack}\n` : ''}`);
      return EXIT.failed;
    default:
      return assertNever(reason);
  }
}

export async function main(argv: readonly string[]): Promise<number> {
  const debug = argv.includes('--debug');
  try {
    return await dispatch(argv);
  } catch (error) {
    if (error instanceof UserError) return reportUserError(error, debug);
    process.stderr.write(`pipe: internal error: ${(error as Error | undefined)?.message ?? String(error)}\n${debug ? `${(error as Error | undefined)?.stack ?? ''}\n` : 'Rerun with --debug for the stack trace, and please report it.\n'}`);
    return EXIT.failed;
  }
}
