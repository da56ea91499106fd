/**
 * The `pipe` command tree, on commander. Each verb declares its arguments, its own flags and its
 * examples in one place, so `pipe <verb> --help` documents exactly that verb, a flag the verb does
 * not take is refused by name (main.ts), and the shell completion scripts (completion.ts) are
 * generated from the same tree instead of a second list.
 */
import { Argument, Command, Option } from 'commander';
import { pipePackage } from '../../stages/versions.js';
import { BACKENDS, MAX_VARIANTS } from '../config/types.js';
import type { CommonFlags } from './context.js';
import { completionScript, SHELLS, type Shell } from './completion.js';
import { COMPARE_FORMATS, DAG_FORMATS } from './formats.js';
import { parseCount } from './numbers.js';
import type { Output } from './run-logger.js';

// Each verb's module is imported when that verb runs, not before: `pipe --help` or `pipe status`
// must not pay for tfjs, the AWS SDK or BullMQ (issue 31: every command loads only what it uses).
const commands = {
  run: () => import('./commands/run.js'),
  worker: () => import('./commands/worker.js'),
  report: () => import('./commands/report.js'),
  status: () => import('./commands/status.js'),
  dag: () => import('./commands/dag.js'),
  configRender: () => import('./commands/config-render.js'),
  compare: () => import('./commands/compare.js'),
  predict: () => import('./commands/predict.js'),
  artifacts: () => import('./commands/artifacts.js'),
  gc: () => import('./commands/gc.js'),
  ui: () => import('./commands/ui.js'),
} as const;

/** Every flag any verb takes, as commander hands them over (camelCase, strings unparsed). */
export interface ParsedFlags {
  readonly store?: string;
  readonly debug?: boolean;
  readonly set?: string[];
  readonly backend?: string;
  readonly maxVariants?: string;
  readonly stage?: string[];
  readonly force?: string[];
  readonly jobs?: string;
  readonly json?: boolean;
  readonly queue?: string;
  readonly remote?: string;
  readonly remoteReadOnly?: boolean;
  readonly slots?: string;
  readonly format?: string;
  readonly sort?: string;
  readonly asc?: boolean;
  readonly metric?: string;
  readonly max?: boolean;
  readonly min?: boolean;
  readonly top?: string;
  readonly pipeline?: string;
  readonly savePreprocessed?: string;
  readonly yes?: boolean;
  readonly keepLast?: string;
  readonly keepRecent?: string;
  readonly repo?: string;
  readonly allowExec?: boolean;
  readonly allowPlugins?: boolean;
  readonly port?: string;
  readonly host?: string;
}

/** Repeatable flags (--set a=1 --set b=2) collect into a list. */
const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

// One constructor per flag, so a flag shared by several verbs is described once.
const FLAGS = {
  store: () => new Option('--store <dir>', 'artifact store directory (default .pipe, or $PIPE_STORE)'),
  debug: () => new Option('--debug', 'print the stack trace of an internal error'),
  set: () => new Option('--set <stage.param=value>', 'override a param without editing the file (repeatable; params.NAME=V too)').argParser(collect),
  backend: () => new Option('--backend <name>', 'tfjs backend').choices(BACKENDS),
  maxVariants: () => new Option('--max-variants <n>', `largest sweep accepted (default ${MAX_VARIANTS})`),
  stage: (what: string) => new Option('--stage <name>', `${what} (repeatable; NAME[*] = all variants)`).argParser(collect),
  force: () => new Option('--force <name|all>', 'rerun even if cached (repeatable)').argParser(collect),
  jobs: () => new Option('--jobs <n>', 'threads to use at once, shared out among stages (default: CPU cores, or $PIPE_JOBS)'),
  json: (what: string) => new Option('--json', what),
  queue: (what: string) => new Option('--queue <redis-url>', what),
  remote: () => new Option('--remote <s3-url>', 'shared remote cache, s3://bucket/prefix (or remote: in the file, or $PIPE_REMOTE); endpoint and credentials from the AWS environment'),
  remoteReadOnly: () => new Option('--remote-read-only', 'download from the remote, never upload (for untrusted consumers)'),
  pipeline: () => new Option('--pipeline <file.yaml>', 'the pipeline a bare stage name belongs to'),
} as const;

function withExamples(command: Command, examples: readonly string[]): Command {
  command.addHelpText('after', `\nExamples:\n${examples.map((e) => `  $ ${e}`).join('\n')}\n`);
  return command;
}

/** The flags every verb takes, then those that read a pipeline file. */
function common(command: Command): Command {
  return command.addOption(FLAGS.store()).addOption(FLAGS.debug());
}
function planning(command: Command): Command {
  return common(command).addOption(FLAGS.set()).addOption(FLAGS.backend()).addOption(FLAGS.maxVariants());
}

/** What every command function reads from the flags it shares with the others. */
function commonFlags(flags: ParsedFlags): CommonFlags {
  return {
    ...(flags.store !== undefined ? { store: flags.store } : {}),
    ...(flags.set !== undefined ? { set: flags.set } : {}),
    ...(flags.backend !== undefined ? { backend: flags.backend } : {}),
    ...(flags.remote !== undefined ? { remote: flags.remote } : {}),
    ...(flags.remoteReadOnly === true ? { remoteReadOnly: true } : {}),
    ...(flags.maxVariants !== undefined ? { maxVariants: parseCount(flags.maxVariants, '--max-variants', 1) } : {}),
  };
}

const defined = <K extends string, V>(key: K, value: V | undefined): Partial<Record<K, V>> => (value === undefined ? {} : ({ [key]: value } as Record<K, V>));

/**
 * Builds the program. `exit` receives each verb's exit code; commander's own parse errors are
 * thrown (exitOverride) for main.ts to word and classify, after commander wrote its own wording to
 * `writeError` (main.ts keeps that only for help it prints as an error).
 */
export function buildProgram(write: Output, writeError: Output, exit: (code: number) => void): Command {
  const program = new Command('pipe')
    .description('Declarative ML pipelines: run a YAML graph of stages, caching every output by content hash.')
    .usage('<command> [options]')
    .version(pipePackage().version, '-V, --version', 'print the version of pipe')
    // Inherited by every verb defined below: errors are thrown to main.ts, output goes where it says.
    .exitOverride()
    .configureOutput({ writeOut: write, writeErr: writeError })
    .addHelpText('after', '\nExit codes: 0 ok, 1 a stage failed, 2 invalid pipeline or usage, 3 `status` found work to do,\n4 another `pipe gc` is working on the store, 130 interrupted. `pipe <command> --help` documents each command.\n');
  program.configureHelp({ sortSubcommands: false });

  const verb = (name: string, description: string, examples: readonly string[], parent: Command = program): Command =>
    withExamples(parent.command(name).description(description), examples);
  const flagsOf = (command: Command): ParsedFlags => command.opts<ParsedFlags>();
  const settle = async (work: Promise<number>): Promise<void> => exit(await work);

  planning(verb('run', 'run the pipeline; cached stages are reused', [
    'pipe run pipelines/quick.yaml',
    'pipe run pipelines/full-comparison.yaml --jobs 2',
    'pipe run pipelines/quick.yaml --stage split-flat --set split-flat.seed=7',
    'pipe run pipelines/sweep-cnn.yaml --force train-cnn',
    'pipe run pipelines/tiny.yaml --queue redis://127.0.0.1:6379 --remote s3://bucket/pipe',
  ]).argument('<file.yaml>', 'pipeline file'))
    .addOption(FLAGS.stage('only this stage and what it needs'))
    .addOption(FLAGS.force())
    .addOption(FLAGS.jobs())
    .addOption(FLAGS.json('NDJSON events on stdout'))
    .addOption(FLAGS.queue('run stages on `pipe worker` processes (BullMQ; or queue: / $PIPE_QUEUE)'))
    .addOption(FLAGS.remote())
    .addOption(FLAGS.remoteReadOnly())
    .action((file: string, _: unknown, command: Command) => {
      const f = flagsOf(command);
      return settle(commands.run().then(({ runCommand }) => runCommand(file, { ...commonFlags(f), ...defined('queue', f.queue), ...defined('stage', f.stage), ...defined('force', f.force), ...defined('jobs', f.jobs), json: f.json === true, debug: f.debug === true }, write)));
    });

  common(verb('worker', 'serve stage jobs from a BullMQ queue', [
    'pipe worker --queue redis://127.0.0.1:6379',
    'pipe worker --queue rediss://:PASSWORD@10.0.0.5:6380 --slots 2 --remote s3://bucket/pipe',
    'pipe worker --queue redis://127.0.0.1:6379 --repo ~/src/project --allow-plugins --allow-exec',
  ]))
    .addOption(FLAGS.queue('the Redis URL to take jobs from (or $PIPE_QUEUE)'))
    .addOption(new Option('--slots <n>', 'jobs at once on this machine (default 1)'))
    .addOption(FLAGS.remote())
    .addOption(FLAGS.remoteReadOnly())
    .addOption(new Option('--repo <dir>', "the checkout whose plugins and exec scripts jobs may use (default: the git repository around the current folder)"))
    .addOption(new Option('--allow-exec', 'run exec stages (any command a job names); refused without it'))
    .addOption(new Option('--allow-plugins', 'load plugin modules from --repo; refused without it'))
    .action((_: unknown, command: Command) => {
      const f = flagsOf(command);
      return settle(commands.worker().then(({ workerCommand }) => workerCommand({ ...commonFlags(f), ...defined('queue', f.queue), ...defined('slots', f.slots), ...defined('repo', f.repo), allowExec: f.allowExec === true, allowPlugins: f.allowPlugins === true }, write)));
    });

  common(verb('workers', 'live workers and what each is running', ['pipe workers --queue redis://127.0.0.1:6379', 'pipe workers --queue redis://127.0.0.1:6379 --json']))
    .addOption(FLAGS.queue('the Redis URL the workers serve (or $PIPE_QUEUE)'))
    .addOption(FLAGS.json('one JSON document'))
    .action((_: unknown, command: Command) => {
      const f = flagsOf(command);
      return settle(commands.worker().then(({ workersCommand }) => workersCommand({ ...commonFlags(f), ...defined('queue', f.queue), json: f.json === true }, write)));
    });

  planning(verb('report', 'rebuild the HTML report from cached artifacts (never trains)', ['pipe report pipelines/full-comparison.yaml']).argument('<file.yaml>', 'pipeline file'))
    .addOption(FLAGS.json('NDJSON events on stdout'))
    .addOption(FLAGS.remote())
    .addOption(FLAGS.remoteReadOnly())
    .action((file: string, _: unknown, command: Command) => {
      const f = flagsOf(command);
      return settle(commands.report().then(({ reportCommand }) => reportCommand(file, { ...commonFlags(f), json: f.json === true, debug: f.debug === true }, write)));
    });

  planning(verb('status', 'fresh or stale per stage, and why; exit 3 if anything would run', ['pipe status pipelines/quick.yaml', 'pipe status pipelines/full-comparison.yaml --stage report --json']).argument('<file.yaml>', 'pipeline file'))
    .addOption(FLAGS.stage('only this stage and what it needs'))
    .addOption(FLAGS.json('one JSON document'))
    .action((file: string, _: unknown, command: Command) => {
      const f = flagsOf(command);
      return settle(commands.status().then(({ statusCommand }) => statusCommand(file, { ...commonFlags(f), json: f.json === true, ...defined('stage', f.stage) }, write)));
    });

  planning(verb('dag', 'the stage graph', ['pipe dag pipelines/quick.yaml', 'pipe dag pipelines/full-comparison.yaml --format mermaid']).argument('<file.yaml>', 'pipeline file'))
    .addOption(new Option('--format <format>', 'output format').choices(DAG_FORMATS).default('text'))
    .action((file: string, _: unknown, command: Command) => {
      const f = flagsOf(command);
      return settle(commands.dag().then(({ dagCommand }) => dagCommand(file, { ...commonFlags(f), ...defined('format', f.format) }, write)));
    });

  const config = program.command('config').description('pipeline configuration');
  planning(verb('render', 'every resolved param and where it came from', ['pipe config render pipelines/quick.yaml', 'pipe config render pipelines/full-comparison.yaml --stage train-cnn'], config).argument('<file.yaml>', 'pipeline file'))
    .addOption(FLAGS.stage('only this stage'))
    .action((file: string, _: unknown, command: Command) => {
      const f = flagsOf(command);
      return settle(commands.configRender().then(({ configRenderCommand }) => configRenderCommand(file, { ...commonFlags(f), ...defined('stage', f.stage) }, write)));
    });

  planning(verb('compare', 'sweep variants side by side: varying params and metrics', ['pipe compare pipelines/sweep-cnn.yaml --sort val_accuracy', 'pipe compare pipelines/sweep-cnn.yaml --format markdown']).argument('<file.yaml>', 'pipeline file'))
    .addOption(new Option('--sort <metric>', 'sort by this metric (descending)'))
    .addOption(new Option('--asc', 'sort ascending'))
    .addOption(new Option('--format <format>', 'output format').choices(COMPARE_FORMATS).default('table'))
    .action((file: string, _: unknown, command: Command) => {
      const f = flagsOf(command);
      return settle(commands.compare().then(({ compareCommand }) => compareCommand(file, { ...commonFlags(f), ...defined('format', f.format), ...defined('sort', f.sort), asc: f.asc === true }, write)));
    });

  planning(verb('best', 'the best finished variant of a sweep', ['pipe best pipelines/sweep-cnn.yaml --metric val_accuracy --max', 'pipe best pipelines/sweep-cnn.yaml --metric val_loss --min --json']).argument('<file.yaml>', 'pipeline file'))
    .addOption(new Option('--metric <name>', 'metric to rank by (required)'))
    .addOption(new Option('--max', 'highest wins (the default)').conflicts('min'))
    .addOption(new Option('--min', 'lowest wins'))
    .addOption(FLAGS.json('the winner as JSON'))
    .action((file: string, _: unknown, command: Command) => {
      const f = flagsOf(command);
      return settle(commands.compare().then(({ bestCommand }) => bestCommand(file, { ...commonFlags(f), ...defined('metric', f.metric), min: f.min === true, json: f.json === true }, write)));
    });

  common(verb('predict', 'classify PNG/JPEG files with a trained model and print the top classes', [
    'pipe predict train-cnn shoe.jpg shirt.png',
    'pipe predict pipelines/full-comparison.yaml:train-resnet photos/*.jpg --top 1 --json',
    'pipe predict train-cnn bag.jpg --pipeline pipelines/full-comparison.yaml --save-preprocessed seen/',
  ]).argument('<model>', 'a train/select/ensemble stage name, FILE.yaml:STAGE, or an artifact hash prefix').argument('<image...>', 'PNG or JPEG files'))
    .addOption(FLAGS.backend())
    .addOption(new Option('--top <n>', 'classes to print per image (default 3)'))
    .addOption(FLAGS.json('one JSON document per image'))
    .addOption(FLAGS.pipeline())
    .addOption(new Option('--save-preprocessed <dir>', 'write the 28×28 image the model saw, per file'))
    .action((model: string, images: string[], _: unknown, command: Command) => {
      const f = flagsOf(command);
      return settle(commands.predict().then(({ predictCommand }) => predictCommand(model, images, { ...commonFlags(f), json: f.json === true, ...defined('top', f.top), ...defined('pipeline', f.pipeline), ...defined('savePreprocessed', f.savePreprocessed) }, write)));
    });

  common(verb('ls', 'artifacts in the store', ['pipe ls', 'pipe ls --store /shared/pipe --json']))
    .addOption(FLAGS.json('one JSON document'))
    .action((_: unknown, command: Command) => {
      const f = flagsOf(command);
      return settle(commands.artifacts().then(({ lsCommand }) => lsCommand({ ...commonFlags(f), json: f.json === true }, write)));
    });

  common(verb('show', "an artifact's manifest, metrics and files", ['pipe show split-flat', 'pipe show pipelines/full-comparison.yaml:train-cnn --json', 'pipe show 3f2a9c']).argument('<stage|hash>', 'a stage name, FILE.yaml:STAGE, or an artifact hash prefix'))
    .addOption(FLAGS.json('one JSON document'))
    .addOption(FLAGS.pipeline())
    .action((target: string, _: unknown, command: Command) => {
      const f = flagsOf(command);
      return settle(commands.artifacts().then(({ showCommand }) => showCommand(target, { ...commonFlags(f), json: f.json === true, ...defined('pipeline', f.pipeline) }, write)));
    });

  planning(verb('gc', 'list artifacts no pipeline uses; delete them with --yes', ['pipe gc', 'pipe gc pipelines/full-comparison.yaml pipelines/quick.yaml --keep-last 3', 'pipe gc --keep-recent 24h --yes']).argument('[file.yaml...]', 'pipeline files whose artifacts to keep (default: the .yaml files in ./pipelines)'))
    .addOption(new Option('--yes', 'delete (without it, gc only lists)'))
    .addOption(new Option('--keep-last <n>', 'also keep what the last N runs of each pipeline used (default 1)'))
    .addOption(new Option('--keep-recent <age>', 'also keep artifacts created within this time, e.g. 24h or 7d'))
    .action((files: string[], _: unknown, command: Command) => {
      const f = flagsOf(command);
      return settle(commands.gc().then(({ gcCommand }) => gcCommand({ ...commonFlags(f), files, yes: f.yes === true, ...defined('keepLast', f.keepLast), ...defined('keepRecent', f.keepRecent) }, write)));
    });

  planning(verb('ui', 'a read-only web app over the store: the graph live, stage details, runs, sweeps, artifacts', ['pipe ui pipelines/tiny.yaml', 'pipe ui pipelines/sweep-cnn.yaml pipelines/quick.yaml --port 8080', 'pipe ui --store /shared/pipe --host 0.0.0.0']).argument('[file.yaml...]', 'pipeline files to show (default: the .yaml files in ./pipelines)'))
    .addOption(new Option('--port <n>', 'port to listen on (default 4141; 0 picks a free one)'))
    .addOption(new Option('--host <address>', 'address to bind (default 127.0.0.1, this machine only; the app is read-only either way)'))
    .action((files: string[], _: unknown, command: Command) => {
      const f = flagsOf(command);
      return settle(commands.ui().then(({ uiCommand }) => uiCommand({ ...commonFlags(f), files, ...defined('port', f.port), ...defined('host', f.host) }, write)));
    });

  verb('completion', 'print a shell completion script', ['pipe completion bash >> ~/.bashrc', 'pipe completion zsh > "${fpath[1]}/_pipe"', 'pipe completion fish > ~/.config/fish/completions/pipe.fish'])
    .addArgument(new Argument('<shell>', 'the shell to complete in').choices(SHELLS))
    .action((shell: Shell) => {
      write(completionScript(program, shell));
      exit(0);
    });

  return program;
}
