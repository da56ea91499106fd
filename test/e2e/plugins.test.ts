/**
 * Users' own code: a plugin stage whose helper changes, exec stages (success, failure, missing
 * output, Ctrl-C), and every located plugin error. Tiny stages only (no image data), so it is quick.
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { byStatus, makeRig, type Rig } from './rig.js';

const GREET = `import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Shape } from './types.js';
import { greeting } from './helpers/greet.js';

export const greet = {
  kind: 'greet',
  version: 1,
  description: 'writes a greeting',
  inputs: [],
  schema: { type: 'object', additionalProperties: false, properties: { name: { type: 'string', default: 'world' } } },
  async run(ctx: { params: Record<string, unknown>; outDir: string }): Promise<Shape> {
    await writeFile(join(ctx.outDir, 'hello.txt'), greeting(String(ctx.params['name'])));
    return { metrics: { greeted: String(ctx.params['name']) } };
  },
};
`;

const PIPELINE = `plugins: [./plugins/greet.ts]
stages:
  hello: { kind: greet }
  shout:
    kind: exec
    inputs: { text: hello }
    params: { cmd: [sh, scripts/shout.sh, "{inputs.text}/hello.txt", "{out}/loud.txt"], outs: [loud.txt] }
  other:
    kind: exec
    params: { cmd: [sh, -c, 'echo independent > "$PIPE_OUT/x.txt"'], outs: [x.txt] }
`;

interface StatusJson {
  stages: { stage: string; state: string; key: string | null; reasons?: string[] }[];
}

describe('plugins and exec stages', () => {
  let rig: Rig;
  const status = async (file: string): Promise<Record<string, string>> => {
    const result = await rig.pipe(['status', file, '--json']);
    const parsed = JSON.parse(result.stdout) as StatusJson;
    return Object.fromEntries(parsed.stages.map((s) => [s.stage, s.state === 'fresh' ? 'fresh' : (s.reasons ?? []).join('; ')]));
  };

  beforeAll(async () => {
    rig = await makeRig();
    // Its own repository root, so code paths in keys are short and "outside the repository" is testable.
    await mkdir(join(rig.dir, '.git'));
    await rig.write('plugins/greet.ts', GREET);
    await rig.write('plugins/types.ts', 'export interface Shape { metrics: Record<string, string> }\n');
    await rig.write('plugins/helpers/greet.ts', 'export const greeting = (name: string): string => `hello ${name}\\n`;\n');
    await rig.write('scripts/shout.sh', 'tr a-z A-Z < "$1" > "$2"\n');
    await rig.write('p.yaml', PIPELINE);
  });
  afterAll(async () => rig.cleanup());

  it('runs plugin and exec stages, then caches all of them', async () => {
    const first = await rig.pipe(['run', 'p.yaml', '--json']);
    expect(first.code, first.stderr + first.stdout).toBe(0);
    expect(byStatus(rig.events(first), 'stage-done')).toEqual(['hello', 'other', 'shout']);
    const second = await rig.pipe(['run', 'p.yaml', '--json']);
    expect(byStatus(rig.events(second), 'stage-cached')).toEqual(['hello', 'other', 'shout']);
    const shout = rig.events(second).find((e) => e.type === 'stage-cached' && e.stage === 'shout') as unknown as { key: string };
    const dir = join(rig.dir, '.pipe', 'artifacts', shout.key.slice(0, 2), shout.key);
    expect(await readFile(join(dir, 'loud.txt'), 'utf8')).toBe('HELLO WORLD\n');
    const log = await readFile(join(dir, 'exec.log'), 'utf8');
    expect(log).toContain('exit code 0');
    expect(log).toContain('{inputs.text}/hello.txt');
  });

  it('editing a helper the plugin imports: code-changed for the plugin, upstream-stale below, nothing else', async () => {
    await rig.write('plugins/helpers/greet.ts', 'export const greeting = (name: string): string => `hi ${name}\\n`;\n');
    expect(await status('p.yaml')).toEqual({ hello: 'code-changed plugins/helpers/greet.ts', shout: 'upstream-stale hello', other: 'fresh' });
    // A type-only import carries no code: editing it changes nothing.
    await rig.write('plugins/types.ts', 'export interface Shape { metrics: Record<string, string>; extra?: number }\n');
    expect((await status('p.yaml'))['other']).toBe('fresh');
    const run = await rig.pipe(['run', 'p.yaml', '--json']);
    expect(byStatus(rig.events(run), 'stage-done')).toEqual(['hello', 'shout']);
    const shout = rig.events(run).find((e) => e.type === 'stage-done' && e.stage === 'shout') as unknown as { key: string };
    expect(await readFile(join(rig.dir, '.pipe', 'artifacts', shout.key.slice(0, 2), shout.key, 'loud.txt'), 'utf8')).toBe('HI WORLD\n');
  });

  it("an exec stage's script joins its key; built-in stages' keys do not change with plugins", async () => {
    await rig.write('scripts/shout.sh', 'tr a-z A-Z < "$1" > "$2"  # same, reformatted\n');
    expect(await status('p.yaml')).toEqual({ hello: 'fresh', shout: 'code-changed scripts/shout.sh', other: 'fresh' });
    const plain = 'stages:\n  load: { kind: load, params: { train_limit: 10, test_limit: 10 } }\n';
    await rig.write('plain.yaml', plain);
    await rig.write('with-plugin.yaml', `plugins: [./plugins/greet.ts]\n${plain}`);
    const key = async (file: string): Promise<string | null | undefined> => (JSON.parse((await rig.pipe(['status', file, '--json'])).stdout) as StatusJson).stages[0]?.key;
    expect(await key('with-plugin.yaml')).toBe(await key('plain.yaml'));
  });

  it('a failing command: exit code and stderr tail in the summary, nothing kept, dependents skipped', async () => {
    await rig.write(
      'fail.yaml',
      `stages:
  bad: { kind: exec, params: { cmd: [sh, -c, 'echo working; echo "the disk is on fire" >&2; exit 3'] } }
  after: { kind: exec, inputs: { x: bad }, params: { cmd: [sh, -c, 'true'] } }
`,
    );
    const before = existsSync(join(rig.dir, '.pipe', 'artifacts')) ? (await readdir(join(rig.dir, '.pipe', 'artifacts'))).length : 0;
    const text = await rig.pipe(['run', 'fail.yaml']);
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(/FAILED\s+bad\s+stage "bad": command failed with exit code 3; stderr: the disk is on fire/);
    expect(text.stdout).toMatch(/bad\s+failed.*exit code 3; stderr: the disk is on fire/);
    // The user's script failed, not pipe: no bug report asked for, no stack.
    expect(text.stdout + text.stderr).not.toMatch(/internal error|please report|\n\s+at /);
    const json = await rig.pipe(['run', 'fail.yaml', '--json']);
    expect(byStatus(rig.events(json), 'stage-skipped')).toEqual(['after']);
    const failed = rig.events(json).find((e) => e.type === 'stage-failed') as unknown as { error: { reason: string; stack?: string } };
    expect(failed.error).toMatchObject({ reason: 'exec-failed' });
    expect(failed.error.stack).toBeUndefined();
    expect(await readdir(join(rig.dir, '.pipe', 'tmp'))).toEqual([]);
    expect((await readdir(join(rig.dir, '.pipe', 'artifacts'))).length).toBe(before);
  });

  it('shell: true quotes substituted paths: a store path with a space and ";" works and injects nothing', async () => {
    // The store's path is in every {inputs.NAME} and {out}; pasted unquoted, the ";" would end the
    // command and run "touch injected" in the pipeline's folder.
    const store = 'odd store;touch injected;x';
    await rig.write(
      'quoted.yaml',
      `stages:
  src: { kind: exec, params: { cmd: [sh, -c, 'echo hello > "$PIPE_OUT/a.txt"'], outs: [a.txt] } }
  copy:
    kind: exec
    inputs: { text: src }
    params:
      shell: true
      cmd: |-
        cat {inputs.text}/a.txt > {out}/b.txt && cat "{inputs.text}/a.txt" >> "{out}/b.txt" && printf '%s\\n' '{out}' > {out}/where.txt
      outs: [b.txt, where.txt]
`,
    );
    const run = await rig.pipe(['run', 'quoted.yaml', '--json', '--store', store]);
    expect(run.code, run.stderr + run.stdout.slice(-2000)).toBe(0);
    expect(existsSync(join(rig.dir, 'injected'))).toBe(false);
    const copy = rig.events(run).find((e) => e.type === 'stage-done' && e['stage'] === 'copy') as unknown as { key: string };
    const dir = join(rig.dir, store, 'artifacts', copy.key.slice(0, 2), copy.key);
    expect(await readFile(join(dir, 'b.txt'), 'utf8')).toBe('hello\nhello\n');
    // {out} inside '…' is the temporary output folder under the odd store, as one word.
    expect(await readFile(join(dir, 'where.txt'), 'utf8')).toMatch(/odd store;touch injected;x[/]tmp[/]/);
  });

  it("env: values join the key; names that are not variable names or are pipe's own are located errors", async () => {
    const pipeline = (env: string): string => `stages:\n  a: { kind: exec, params: { cmd: [sh, -c, 'echo "$SEED" > "$PIPE_OUT/s.txt"'], env: ${env} } }\n`;
    const key = async (): Promise<string | null | undefined> => (JSON.parse((await rig.pipe(['status', 'env.yaml', '--json'])).stdout) as StatusJson).stages[0]?.key;
    await rig.write('env.yaml', pipeline('{ SEED: "1" }'));
    const one = await key();
    await rig.write('env.yaml', pipeline('{ SEED: "2" }'));
    expect(await key()).not.toBe(one);
    for (const name of ['PIPE_OUT', '1X', 'A-B']) {
      await rig.write('badenv.yaml', pipeline(`{ ${name}: "x" }`));
      const result = await rig.pipe(['status', 'badenv.yaml']);
      expect(result.code, name).toBe(2);
      expect(result.stderr, name).toMatch(new RegExp(`badenv\\.yaml:2:\\d+.*invalid name "${name}": use letters, digits and '_'`));
    }
  });

  it('a declared output the command did not write fails the stage, naming it', async () => {
    await rig.write('outs.yaml', `stages:\n  partial: { kind: exec, params: { cmd: [sh, -c, 'echo a > "$PIPE_OUT/a.txt"'], outs: [a.txt, b.npy] } }\n`);
    const result = await rig.pipe(['run', 'outs.yaml', '--json']);
    expect(result.code).toBe(1);
    const failed = rig.events(result).find((e) => e.type === 'stage-failed') as unknown as { error: { message: string; stack?: string } };
    expect(failed.error.message).toContain('declared output "b.npy" was not written');
    expect(failed.error.stack).toBeUndefined();
  });

  it("Ctrl-C kills the command's whole process group", async () => {
    const pidFile = join(rig.dir, 'sleep.pid');
    await rig.write('slow.yaml', `stages:\n  slow: { kind: exec, params: { cmd: [sh, -c, 'sleep 60 & echo $! > ${pidFile}; wait'] } }\n`);
    const child = rig.spawnPipe(['run', 'slow.yaml', '--json']);
    const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
    // Wait for the grandchild to exist (a condition, not a fixed delay).
    while (!existsSync(pidFile) || !(await readFile(pidFile, 'utf8')).trim()) await new Promise((r) => setTimeout(r, 50));
    const pid = Number((await readFile(pidFile, 'utf8')).trim());
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    const alive = (): boolean => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    // The killed sleep may be a zombie for a moment until init reaps it.
    for (let i = 0; i < 100 && alive(); i++) await new Promise((r) => setTimeout(r, 50));
    expect(alive()).toBe(false);
  });

  it('a plugin model: evaluate reruns when the model code changes, even if the trained files are identical', async () => {
    const model = (comment: string): string => `import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
// A class-prior model: every image gets the training class frequencies. ${comment}
const trained = (prior: number[]) => ({
  backend: 'js',
  async predictProba(_x: Float32Array, shape: readonly number[]) {
    const out = new Float32Array((shape[0] ?? 0) * prior.length);
    for (let i = 0; i < out.length; i++) out[i] = prior[i % prior.length] ?? 0;
    return out;
  },
  async save(dir: string) { writeFileSync(join(dir, 'prior.json'), JSON.stringify(prior)); },
});
export const prior = {
  name: 'prior', version: 1, input: 'flat', description: 'class frequencies', schema: { type: 'object', properties: {} },
  async fit(train: { y: Uint8Array; numClasses: number }) {
    const counts = new Array(train.numClasses).fill(0);
    for (const c of train.y) counts[c]++;
    return trained(counts.map((n) => n / train.y.length));
  },
  async load(dir: string) { return trained(JSON.parse(readFileSync(join(dir, 'prior.json'), 'utf8'))); },
};
`;
    await rig.write('plugins/prior.ts', model('v1'));
    await rig.write(
      'model.yaml',
      `plugins: [./plugins/prior.ts]
stages:
  load: { kind: load, params: { train_limit: 300, test_limit: 100 } }
  normalize: { kind: normalize, inputs: { data: load } }
  flatten: { kind: flatten, inputs: { data: normalize } }
  split: { kind: split, inputs: { data: flatten } }
  train: { kind: train, inputs: { data: split }, params: { model: prior } }
  evaluate: { kind: evaluate, inputs: { model: train, data: split } }
`,
    );
    const first = await rig.pipe(['run', 'model.yaml', '--json']);
    expect(first.code, first.stderr + first.stdout.slice(-1500)).toBe(0);
    await rig.write('plugins/prior.ts', model('v2: same files, new code'));
    expect(await status('model.yaml')).toMatchObject({ train: 'code-changed plugins/prior.ts', evaluate: 'upstream-stale train', split: 'fresh' });
    const second = await rig.pipe(['run', 'model.yaml', '--json']);
    expect(byStatus(rig.events(second), 'stage-done')).toEqual(['evaluate', 'train']);
  });

  it('a plugin network runs through train, evaluate, explain, robustness and ensemble, and its code joins each of their keys', async () => {
    // A user's own small convolutional network on TensorFlow.js, saved in the standard layers format
    // (model/model.json + weights.bin), so explain's Grad-CAM can open it like a built-in cnn.
    const net = (comment: string): string => `import * as tf from '@tensorflow/tfjs';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
// ${comment}
const files = (dir: string) => ({
  async save(a: tf.io.ModelArtifacts) {
    const weights = tf.io.CompositeArrayBuffer.join(a.weightData ?? new ArrayBuffer(0));
    writeFileSync(join(dir, 'weights.bin'), new Uint8Array(weights));
    writeFileSync(join(dir, 'model.json'), JSON.stringify({ modelTopology: a.modelTopology, format: 'layers-model', weightsManifest: [{ paths: ['./weights.bin'], weights: a.weightSpecs ?? [] }] }));
    return { modelArtifactsInfo: { dateSaved: new Date(0), modelTopologyType: 'JSON' as const } };
  },
  async load() {
    const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
    const bytes = readFileSync(join(dir, 'weights.bin'));
    return { modelTopology: json.modelTopology, weightSpecs: json.weightsManifest[0].weights, weightData: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) };
  },
});
const wrap = (model: tf.LayersModel) => ({
  backend: tf.getBackend(),
  async predictProba(x: Float32Array, shape: readonly number[]) {
    const input = tf.tensor(x, [...shape]);
    const out = model.predict(input) as tf.Tensor;
    const data = (await out.data()) as Float32Array;
    tf.dispose([input, out]);
    return data;
  },
  async save(dir: string) { await model.save(files(dir)); },
});
export const tinynet = {
  name: 'tinynet', version: 1, input: 'image', description: 'one conv layer and a softmax', schema: { type: 'object', properties: {} },
  async fit(train: { x: Float32Array; shape: number[]; y: Uint8Array; numClasses: number }) {
    tf.setRandom?.(0);
    const model = tf.sequential({ layers: [
      tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 4, kernelSize: 3, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }),
      tf.layers.flatten(),
      tf.layers.dense({ units: train.numClasses, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
    ] });
    model.compile({ optimizer: tf.train.sgd(0.1), loss: 'sparseCategoricalCrossentropy' });
    const x = tf.tensor(train.x, train.shape);
    const y = tf.tensor(Array.from(train.y), [train.y.length], 'float32');
    await model.fit(x, y, { epochs: 1, batchSize: 32, shuffle: false, verbose: 0 });
    tf.dispose([x, y]);
    return wrap(model);
  },
  async load(dir: string) { return wrap(await tf.loadLayersModel(files(dir))); },
};
`;
    await rig.write('plugins/tinynet.ts', net('v1'));
    await rig.write(
      'net.yaml',
      `plugins: [./plugins/tinynet.ts]
stages:
  load: { kind: load, params: { train_limit: 200, test_limit: 40 } }
  normalize: { kind: normalize, inputs: { data: load } }
  reshape: { kind: reshape, inputs: { data: normalize } }
  split: { kind: split, inputs: { data: reshape } }
  train: { kind: train, inputs: { data: split }, params: { model: tinynet } }
  other: { kind: train, inputs: { data: split }, params: { model: tinynet, seed: 3 } }
  evaluate: { kind: evaluate, inputs: { model: train, data: split } }
  explain: { kind: explain, inputs: { model: train, data: split, evaluation: evaluate }, params: { per_class: { correct: 1, wrong: 0 }, class_mean_samples: 2 } }
  robustness: { kind: robustness, inputs: { model: train, data: split }, params: { photos: 2, examples: 1 } }
  ensemble: { kind: ensemble, inputs: { models: [train, other], data: split }, params: { weighting: mean } }
`,
    );
    const first = await rig.pipe(['run', 'net.yaml', '--json']);
    expect(first.code, first.stderr + first.stdout.slice(-2000)).toBe(0);
    const done = byStatus(rig.events(first), 'stage-done');
    for (const stage of ['train', 'evaluate', 'explain', 'robustness', 'ensemble']) expect(done).toContain(stage);
    const explained = rig.events(first).find((e) => e.type === 'stage-done' && e.stage === 'explain') as unknown as { key: string };
    const files = await readdir(join(rig.dir, '.pipe', 'artifacts', explained.key.slice(0, 2), explained.key), { recursive: true });
    expect(files.filter((f) => f.endsWith('.png')), files.join(', ')).not.toHaveLength(0);
    // Every stage that runs the network's code keys it (a retrained model may come out byte-identical).
    for (const stage of ['train', 'evaluate', 'explain', 'robustness', 'ensemble']) {
      const shown = JSON.parse((await rig.pipe(['show', `net.yaml:${stage}`, '--json'])).stdout) as { key_record: { code?: Record<string, string> } };
      expect(Object.keys(shown.key_record.code ?? {}), stage).toContain('plugins/tinynet.ts');
    }
    await rig.write('plugins/tinynet.ts', net('v2: new code'));
    expect(await status('net.yaml')).toMatchObject({ split: 'fresh', train: 'code-changed plugins/tinynet.ts', evaluate: 'upstream-stale train', robustness: 'upstream-stale train' });
  });

  it('every plugin or exec problem is a located error without a stack trace', async () => {
    const outside = join(tmpdir(), `pipe-outside-${process.pid}.ts`);
    await writeFile(outside, 'export const s = {};\n');
    await rig.write('plugins/nothing.ts', 'export const answer = 42;\n');
    await rig.write('plugins/bad-schema.ts', "export const s = { kind: 'odd', version: 1, description: 'x', inputs: [], schema: { type: 'object', properties: { a: { type: 'nonsense' } } }, run: async () => ({}) };\n");
    await rig.write('plugins/clash.ts', "export const s = { kind: 'load', version: 1, description: 'x', inputs: [], schema: {}, run: async () => ({}) };\n");
    await rig.write('plugins/broken.ts', 'export const = ;\n');
    await rig.write('plugins/half.ts', "export const s = { kind: 'half', run: async () => ({}) };\n");
    const cases: [string, string, RegExp][] = [
      ['outside', `plugins: [${outside}]`, /is outside the pipeline's repository/],
      ['missing', 'plugins: [./plugins/nope.ts]', /plugin \.\/plugins\/nope\.ts: no such file/],
      ['nothing', 'plugins: [./plugins/nothing.ts]', /exports no stage or model definition/],
      ['schema', 'plugins: [./plugins/bad-schema.ts]', /export s schema does not compile/],
      ['clash', 'plugins: [./plugins/clash.ts]', /stage kind "load" is already defined by pipe itself/],
      ['broken', 'plugins: [./plugins/broken.ts]', /plugin \.\/plugins\/broken\.ts failed to load/],
      ['half', 'plugins: [./plugins/half.ts]', /export s is missing version, description, inputs, schema/],
    ];
    for (const [name, line, message] of cases) {
      await rig.write(`${name}.yaml`, `${line}\nstages:\n  a: { kind: load }\n`);
      const result = await rig.pipe(['status', `${name}.yaml`]);
      expect(result.code, `${name}: ${result.stderr}`).toBe(2);
      expect(result.stderr, name).toMatch(message);
      expect(result.stderr, name).toContain(`${name}.yaml:1:`);
      expect(result.stderr, name).not.toMatch(/\n\s+at /);
    }
    await rig.write('nocmd.yaml', 'stages:\n  a: { kind: exec, params: { cmd: [no-such-command-here, x] } }\n');
    const nocmd = await rig.pipe(['run', 'nocmd.yaml']);
    expect(nocmd.code).toBe(2);
    expect(nocmd.stderr).toMatch(/nocmd\.yaml:2:\d+.*command not found: no-such-command-here/);
    await rig.write('nodep.yaml', 'stages:\n  a: { kind: exec, params: { cmd: [sh, x.sh], deps: [x.sh] } }\n');
    expect((await rig.pipe(['run', 'nodep.yaml'])).stderr).toMatch(/nodep\.yaml:2:\d+.*dep "x\.sh" does not exist/);
    await rm(outside, { force: true });
  });
});
