import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeRig, ROOT, type Rig } from './rig.js';

const NO_STACK = /\n\s+at .+\(.*:\d+:\d+\)/;

describe('bad input gets a located, actionable message and exit code 2', () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await makeRig();
  });
  afterAll(async () => rig.cleanup());

  const check = async (yaml: string): Promise<string> => {
    await rig.write('bad.yaml', yaml);
    const result = await rig.pipe(['run', 'bad.yaml']);
    expect(result.code).toBe(2);
    expect(result.stderr).not.toMatch(NO_STACK);
    expect(result.stderr).toContain('nothing was run');
    return result.stderr;
  };

  it('invalid YAML: file:line:col and the parser reason', async () => {
    const err = await check('stages:\n  load:\n    kind: load\n  inspect:\n    kind: inspect\n    inputs: { data: load\n');
    expect(err).toMatch(/bad\.yaml:\d+:\d+: error: invalid YAML/);
  });

  it('duplicate stage names', async () => {
    const err = await check('stages:\n  load:\n    kind: load\n  load:\n    kind: load\n');
    expect(err).toMatch(/bad\.yaml:4:3: error: .*unique/);
  });

  it('schema violation: YAML path, line and allowed values; did you mean', async () => {
    const err = await check('backend: gpu\nstages:\n  load:\n    kindd: load\n');
    expect(err).toMatch(/bad\.yaml:1:10: error: "backend" must be one of "auto", "tensorflow", "wasm", "cpu"/);
    expect(err).toMatch(/bad\.yaml:4:5: error: unknown key "kindd"\. Did you mean "kind"\?/);
    expect(err).toContain('2 problem(s) found');
  });

  it('unknown stage kind lists the known ones', async () => {
    const err = await check('stages:\n  load:\n    kind: load\n  norm:\n    kind: normalise\n    inputs: { data: load }\n');
    expect(err).toMatch(/bad\.yaml:5:11: error: unknown stage kind "normalise" in stage "norm"\. Did you mean "normalize"\?/);
    expect(err).toMatch(/known kinds: load, inspect, normalize/);
  });

  it('bad param value points at the value with the bound', async () => {
    const err = await check('stages:\n  load:\n    kind: load\n  split:\n    kind: split\n    inputs: { data: load }\n    params:\n      validation: -1\n      sed: 3\n');
    expect(err).toMatch(/bad\.yaml:8:19: error: stage "split" params: "validation" must be > 0/);
    expect(err).toMatch(/bad\.yaml:9:7: error: stage "split" params: unknown key "sed"\. Did you mean "seed"\?/);
  });

  it('model params: unknown model, k <= 0, trees <= 0, unknown kernel, a misspelled param', async () => {
    const err = await check(`stages:
  load: { kind: load }
  a: { kind: train, inputs: { data: load }, params: { model: cnnn } }
  b: { kind: train, inputs: { data: load }, params: { model: knn, k: 0 } }
  c: { kind: train, inputs: { data: load }, params: { model: random-forest, trees: 0 } }
  d: { kind: train, inputs: { data: load }, params: { model: svm, kernel: laplacian } }
  e: { kind: train, inputs: { data: load }, params: { model: cnn, epoch: 3 } }
`);
    expect(err).toMatch(/bad\.yaml:3:\d+: error: unknown model "cnnn".*Did you mean "cnn"\?/);
    expect(err).toMatch(/known models: cnn, resnet, mlp, logistic-regression, svm, random-forest, knn/);
    expect(err).toMatch(/bad\.yaml:4:\d+: error: .*"k" must be >= 1/);
    expect(err).toMatch(/bad\.yaml:5:\d+: error: .*"trees" must be >= 1/);
    expect(err).toMatch(/bad\.yaml:6:\d+: error: .*"kernel" must be one of "rbf", "linear", "poly", "sigmoid"/);
    expect(err).toMatch(/bad\.yaml:7:\d+: error: .*unknown key "epoch"\. Did you mean "epochs"\?/);
    expect(err).toContain('5 problem(s) found');
  });

  it('cycles name every stage in the cycle with each edge', async () => {
    const err = await check('stages:\n  a:\n    kind: normalize\n    inputs: { data: b }\n  b:\n    kind: reshape\n    inputs: { data: a }\n');
    expect(err).toMatch(/error: cycle in the stage graph: (a → b → a|b → a → b)/);
    expect(err).toContain('takes its input "data" from');
  });

  it('dangling references and missing inputs', async () => {
    const err = await check('stages:\n  load:\n    kind: load\n  norm:\n    kind: normalize\n    inputs: { data: lod }\n  split:\n    kind: split\n');
    expect(err).toMatch(/bad\.yaml:6:21: error: stage "norm" input "data" refers to "lod", which is not a stage\. Did you mean "load"\?/);
    expect(err).toMatch(/stage "split" \(kind split\) needs input "data"/);
  });

  it('undefined ${params} reference lists what is available', async () => {
    const err = await check('params:\n  seed: 1\nstages:\n  load:\n    kind: load\n  split:\n    kind: split\n    inputs: { data: load }\n    params: { seed: "${params.sed}" }\n');
    expect(err).toMatch(/bad\.yaml:9:21: error: undefined reference \$\{params\.sed\}\. Did you mean "params\.seed"\?/);
  });

  it('a missing pipeline file and a bad flag are usage errors', async () => {
    const missing = await rig.pipe(['run', 'nope.yaml']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('cannot read pipeline file nope.yaml: no such file');
    const flag = await rig.pipe(['run', 'nope.yaml', '--jobz', '2']);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain('unknown option --jobz. Did you mean "jobs"?');
    const otherVerb = await rig.pipe(['ls', '--yes']);
    expect(otherVerb.code).toBe(2);
    expect(otherVerb.stderr).toContain('pipe ls does not take --yes (an option of pipe gc)');
    const help = await rig.pipe(['predict', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout.startsWith('Usage: pipe predict [options] <model> <image...>')).toBe(true);
    expect(help.stdout).toContain('--save-preprocessed <dir>');
    expect(help.stdout).not.toContain('--jobs');
  });
});

describe('bad data files name the file, the failed check and the fix', () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await makeRig();
    const src = join(ROOT, 'data', 'fashion-mnist');
    for (const dir of ['truncated', 'missing', 'swapped']) await mkdir(join(rig.dir, dir), { recursive: true });
    for (const name of ['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz', 't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz']) {
      await copyFile(join(src, name), join(rig.dir, 'truncated', name));
      if (name !== 't10k-labels-idx1-ubyte.gz') await copyFile(join(src, name), join(rig.dir, 'missing', name));
    }
    const whole = await readFile(join(src, 't10k-images-idx3-ubyte.gz'));
    await writeFile(join(rig.dir, 'truncated', 't10k-images-idx3-ubyte.gz'), whole.subarray(0, 100_000));
    // Raw (non-gz) label file given where images are expected.
    await copyFile(join(src, 'train-images-idx3-ubyte.gz'), join(rig.dir, 'swapped', 'train-images-idx3-ubyte.gz'));
    await copyFile(join(src, 'train-labels-idx1-ubyte.gz'), join(rig.dir, 'swapped', 'train-labels-idx1-ubyte.gz'));
    await copyFile(join(src, 't10k-labels-idx1-ubyte.gz'), join(rig.dir, 'swapped', 't10k-images-idx3-ubyte.gz'));
    await copyFile(join(src, 't10k-labels-idx1-ubyte.gz'), join(rig.dir, 'swapped', 't10k-labels-idx1-ubyte.gz'));
  });
  afterAll(async () => rig.cleanup());

  const runWith = async (dir: string, verify = true): Promise<{ code: number | null; out: string }> => {
    await rig.write('data.yaml', `stages:\n  load:\n    kind: load\n    params: { path: ${dir}, verify: ${verify} }\n`);
    const result = await rig.pipe(['run', 'data.yaml']);
    return { code: result.code, out: result.stdout + result.stderr };
  };

  it('truncated gzip', async () => {
    const { code, out } = await runWith('truncated');
    expect(code).toBe(1);
    expect(out).toMatch(/t10k-images-idx3-ubyte\.gz: gzip data is damaged .*truncated/);
    expect(out).not.toMatch(NO_STACK);
  });

  it('missing file', async () => {
    const { code, out } = await runWith('missing');
    expect(code).toBe(1);
    expect(out).toMatch(/missing t10k-labels-idx1-ubyte\.gz/);
  });

  it('wrong kind of file (magic number)', async () => {
    const { code, out } = await runWith('swapped', false);
    expect(code).toBe(1);
    expect(out).toMatch(/t10k-images-idx3-ubyte\.gz: magic number 0x00000801 is not an IDX image file's 0x00000803 \(this is a label file\)/);
  });
});
