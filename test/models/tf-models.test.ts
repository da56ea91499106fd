/**
 * tfjs models and the train stage on tiny data. Convs run on the cpu backend (wasm lacks
 * conv training kernels until stages/tf/kernels lands); flat models also run on wasm.
 */
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeNpy } from '../../artifacts/npy.js';
import { getModel, MODELS, UnknownModelError } from '../../stages/models/index.js';
import { learningRateAt, TRAINING_PARAMS, trainOptions, withDefaults } from '../../stages/models/tf/options.js';
import { loadSchema, PIPE_KEYWORDS } from '../../stages/schema.js';
import type { JsonValue } from '../../stages/types.js';
import type { Dataset, FitContext, ModelDefinition, TrainedModel } from '../../stages/models/types.js';
import { initTf, type BackendName } from '../../stages/tf/backend.js';
import { train as trainStage } from '../../stages/train.js';
import { StageInputError, type InputArtifact, type Params, type StageContext } from '../../stages/types.js';
import { fashionTrain, rowsOf } from './fashion.js';

/** Learnable flat problem: class k lights up block k of the features, plus noise. */
function synthetic(n: number, d = 32, classes = 4, seed = 1): Dataset {
  let s = seed;
  const rand = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296);
  const x = new Float32Array(n * d);
  const y = new Uint8Array(n);
  const block = d / classes;
  for (let i = 0; i < n; i++) {
    y[i] = i % classes;
    for (let j = 0; j < d; j++) x[i * d + j] = 0.5 * rand() + (Math.floor(j / block) === y[i] ? 0.5 : 0);
  }
  return { x, shape: [n, d], y, numClasses: classes };
}

const ctx = (backend: BackendName, extra: Partial<FitContext> = {}): FitContext => ({
  signal: new AbortController().signal,
  progress: () => {},
  log: () => {},
  backend,
  ...extra,
});

async function predict(m: TrainedModel, d: Dataset): Promise<Float32Array> {
  return m.predictProba(d.x, d.shape);
}

const tmpDirs: string[] = [];
async function tmp(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pipe-tf-'));
  tmpDirs.push(dir);
  return dir;
}
afterAll(async () => {
  await Promise.all(tmpDirs.map((d) => rm(d, { recursive: true, force: true })));
});

/** Fit, save, reload: the reloaded model must predict exactly the same probabilities. */
async function roundTrip(def: ModelDefinition, trained: TrainedModel, data: Dataset): Promise<void> {
  const dir = await tmp();
  await trained.save(dir);
  expect((await readdir(dir)).sort()).toEqual(['model.json', 'pipe-model.json', 'weights.bin']);
  const json = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8'));
  expect(json.format).toBe('layers-model');
  expect(json.weightsManifest[0].paths).toEqual(['./weights.bin']);
  const loaded = await def.load(dir);
  expect(await predict(loaded, data)).toEqual(await predict(trained, data));
  expect(loaded.history).toEqual(trained.history);
  loaded.dispose?.();
}

describe('registry and schemas', () => {
  it('lists the four tfjs models and rejects unknown names with the known ones', () => {
    expect(Object.keys(MODELS)).toEqual(expect.arrayContaining(['cnn', 'resnet', 'mlp', 'logistic-regression']));
    expect(() => getModel('nope')).toThrow(UnknownModelError);
    expect(() => getModel('nope')).toThrow(/known models: .*cnn/);
    expect(() => getModel('toString')).toThrow(StageInputError);
  });

  it('schemas compile, describe and default every property, and accept {}', () => {
    const ajv = new Ajv({ useDefaults: true, strict: true });
    for (const keyword of PIPE_KEYWORDS) ajv.addKeyword({ ...keyword });
    const shared = loadSchema('models/training');
    ajv.addSchema(shared, 'training.schema.json');
    const sharedDefs = (shared as { $defs: Record<string, { description?: string }> }).$defs;
    for (const def of Object.values(MODELS)) {
      const schema = def.schema as { additionalProperties: boolean; properties: Record<string, { description?: string; default?: unknown; $ref?: string }> };
      expect(schema.additionalProperties).toBe(false);
      for (const [key, prop] of Object.entries(schema.properties)) {
        // A $ref'd param may take its description from the shared definition.
        expect(prop.description ?? (prop.$ref ? sharedDefs[key]?.description : undefined), `${def.name}.${key}`).toBeTruthy();
        expect(prop.default, `${def.name}.${key}`).not.toBeUndefined();
      }
      const validate = ajv.compile(def.schema);
      const params = {};
      expect(validate(params), JSON.stringify(validate.errors)).toBe(true);
      expect(Object.keys(params).length).toBe(Object.keys(schema.properties).length);
      expect(validate({ bogus: 1 })).toBe(false);
    }
  });

  it('learning-rate schedules', () => {
    const mlpSchema = MODELS['mlp']!.schema;
    const options = (params: Record<string, JsonValue>) => trainOptions(withDefaults(mlpSchema, params, TRAINING_PARAMS));
    const cos = options({ lr_schedule: 'cosine', learning_rate: 0.1, epochs: 4 });
    expect(learningRateAt(cos, 0, 10)).toBeCloseTo(0.1);
    expect(learningRateAt(cos, 20, 10)).toBeCloseTo(0.05);
    expect(learningRateAt(cos, 39, 10)).toBeLessThan(0.001);
    const step = options({ lr_schedule: 'step', learning_rate: 0.1, lr_step_epochs: 2, lr_step_gamma: 0.5 });
    expect([0, 1, 2, 3, 4].map((e) => learningRateAt(step, e * 10, 10))).toEqual([0.1, 0.1, 0.05, 0.05, 0.025]);
    expect(learningRateAt(options({ lr_schedule: 'constant', learning_rate: 0.001 }), 123, 10)).toBe(0.001);
  });
});

describe('image models on cpu', () => {
  let rows: Dataset;
  beforeAll(async () => {
    rows = fashionTrain(96);
    await initTf('cpu');
  });
  // tfjs-cpu conv gradients are slow (~0.5 s per image for the default CNN): keep these tiny.
  const small = {
    cnn: { filters: [4, 8, 8], dense_units: 16, batch_size: 16, augment_shift: 2, augment_flip: true },
    resnet: { width: 4, batch_size: 16, dropout: 0.2 },
  };

  for (const name of ['cnn', 'resnet'] as const) {
    it(`${name}: trains with schema defaults only`, async () => {
      const m = await getModel(name).fit(rowsOf(rows, 0, 4), rowsOf(rows, 4, 6), { epochs: 1 }, ctx('cpu'));
      expect(m.backend).toBe('cpu');
      expect(m.history).toHaveLength(1);
      const p = await predict(m, rowsOf(rows, 6, 10));
      expect(p).toHaveLength(40);
      for (let i = 0; i < 4; i++) expect(p.subarray(i * 10, i * 10 + 10).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
      m.dispose?.();
    }, 30_000);

    it(`${name}: deterministic for a seed, and save/load round-trips`, async () => {
      const def = getModel(name);
      const params = { ...small[name], epochs: 2, seed: 7 };
      const a = await def.fit(rowsOf(rows, 0, 64), rowsOf(rows, 64, 80), params, ctx('cpu'));
      const b = await def.fit(rowsOf(rows, 0, 64), rowsOf(rows, 64, 80), params, ctx('cpu'));
      const probe = rowsOf(rows, 80, 96);
      expect(await predict(b, probe)).toEqual(await predict(a, probe));
      expect(b.history!.map((r) => [r.loss, r.val_loss])).toEqual(a.history!.map((r) => [r.loss, r.val_loss]));
      const c = await def.fit(rowsOf(rows, 0, 64), undefined, { ...params, epochs: 1, seed: 8 }, ctx('cpu'));
      expect(await predict(c, probe)).not.toEqual(await predict(a, probe));
      expect(c.history![0]!.val_loss).toBeUndefined();
      await roundTrip(def, a, probe);
      await expect(a.predictProba(rows.x.subarray(0, 784), [1, 784])).rejects.toThrow(/reshape/);
      for (const m of [a, b, c]) m.dispose?.();
    }, 60_000);
  }
});

describe('flat models', () => {
  for (const backend of ['cpu', 'wasm'] as const) {
    for (const name of ['mlp', 'logistic-regression'] as const) {
      it(`${name} on ${backend}: learns a synthetic problem, history shape, round trip`, async () => {
        await initTf(backend);
        const def = getModel(name);
        const params = { epochs: 4, batch_size: 32, learning_rate: 0.01, seed: 3, ...(name === 'mlp' ? { hidden_layers: [32] } : {}) };
        const m = await def.fit(synthetic(256), synthetic(64, 32, 4, 9), params, ctx(backend));
        expect(m.backend).toBe(backend);
        const h = m.history!;
        expect(h.map((r) => r.epoch)).toEqual([1, 2, 3, 4]);
        for (const r of h) {
          expect(Object.keys(r).sort()).toEqual(['accuracy', 'epoch', 'learning_rate', 'loss', 'val_accuracy', 'val_loss']);
        }
        expect(h[3]!.loss).toBeLessThan(h[0]!.loss);
        expect(h[3]!.val_loss!).toBeLessThan(h[0]!.val_loss!);
        expect(h[3]!.val_accuracy!).toBeGreaterThan(0.9);
        expect(h[3]!.learning_rate!).toBeLessThan(h[0]!.learning_rate!); // cosine default
        await roundTrip(def, m, synthetic(50, 32, 4, 5));
        m.dispose?.();
      }, 30_000);
    }
  }

  it('is deterministic on wasm and leaks no tensors across epochs', async () => {
    const { tf } = await initTf('wasm');
    const start = tf.memory().numTensors;
    const atEpochEnd: number[] = [];
    const spy = ctx('wasm', { progress: (done) => done % 8 === 0 && atEpochEnd.push(tf.memory().numTensors) });
    const params = { epochs: 4, batch_size: 32, hidden_layers: [16, 16], seed: 11 };
    const a = await getModel('mlp').fit(synthetic(256), synthetic(64), params, spy);
    expect(atEpochEnd).toHaveLength(4);
    expect(new Set(atEpochEnd.slice(1)).size).toBe(1);
    const b = await getModel('mlp').fit(synthetic(256), synthetic(64), params, ctx('wasm'));
    expect(await predict(b, synthetic(40))).toEqual(await predict(a, synthetic(40)));
    a.dispose?.();
    b.dispose?.();
    expect(tf.memory().numTensors).toBe(start);
  });

  it('stops on abort between batches, leaving no tensors behind', async () => {
    const { tf } = await initTf('wasm');
    const start = tf.memory().numTensors;
    const controller = new AbortController();
    let batches = 0;
    const run = getModel('mlp').fit(synthetic(512), undefined, { epochs: 50, batch_size: 16 }, {
      ...ctx('wasm'),
      signal: controller.signal,
      progress: (done) => {
        batches = done;
        if (done === 5) controller.abort();
      },
    });
    await expect(run).rejects.toMatchObject({ name: 'AbortError' });
    expect(batches).toBe(5);
    expect(tf.memory().numTensors).toBe(start);
  });

  it('early stopping restores the best epoch', async () => {
    await initTf('wasm');
    // Validation labels are shifted by one class: learning the train task makes val loss rise.
    const val = synthetic(64);
    const wrong: Dataset = { ...val, y: val.y.map((c) => (c + 1) % 4) };
    const params = { epochs: 10, batch_size: 32, learning_rate: 0.01, early_stopping_patience: 2, lr_schedule: 'constant', seed: 2 };
    const m = await getModel('logistic-regression').fit(synthetic(256), wrong, params, ctx('wasm'));
    const h = m.history!;
    expect(h.length).toBeLessThan(10);
    expect(m.info).toMatchObject({ stopped_early: true, best_epoch: 1 });
    // Restored weights: the final val loss equals the best epoch's.
    const p = await predict(m, wrong);
    let loss = 0;
    for (let i = 0; i < wrong.y.length; i++) loss -= Math.log(Math.max(1e-7, p[i * 4 + wrong.y[i]!]!));
    expect(loss / wrong.y.length).toBeCloseTo(h[0]!.val_loss!, 4);
    m.dispose?.();
  });
});

describe('image models on wasm (needs stages/tf/kernels)', () => {
  it('cnn: deterministic and round-trips', async () => {
    await initTf('wasm');
    const rows = fashionTrain(80);
    const params = { filters: [8, 8, 8], dense_units: 16, batch_size: 16, epochs: 2, seed: 5, augment_shift: 1 };
    const a = await getModel('cnn').fit(rowsOf(rows, 0, 64), rowsOf(rows, 64, 80), params, ctx('wasm'));
    const b = await getModel('cnn').fit(rowsOf(rows, 0, 64), rowsOf(rows, 64, 80), params, ctx('wasm'));
    expect(a.backend).toBe('wasm');
    const probe = rowsOf(rows, 64, 80);
    expect(await predict(b, probe)).toEqual(await predict(a, probe));
    await roundTrip(getModel('cnn'), a, probe);
    a.dispose?.();
    b.dispose?.();
  }, 30_000);
});

describe('train stage', () => {
  async function splitArtifact(files: Record<string, { data: Float32Array | Uint8Array; shape: number[] }>): Promise<InputArtifact> {
    const dir = await tmp();
    for (const [name, f] of Object.entries(files)) await writeNpy(join(dir, name), f.data, f.shape);
    await writeFile(join(dir, 'classes.json'), JSON.stringify(['a', 'b', 'c', 'd', 'e']));
    const names = [...Object.keys(files), 'classes.json'];
    return {
      stage: 'split',
      kind: 'split',
      dir,
      files: Object.fromEntries(names.map((n) => [n, { sha256: '', bytes: 0 }])),
      metrics: {},
      params: {},
      path: (f) => join(dir, f),
      has: (f) => names.includes(f),
    };
  }

  async function runTrain(data: InputArtifact, params: Params): Promise<{ out: string; metrics: Record<string, unknown> }> {
    const out = await tmp();
    const stageCtx: StageContext = {
      stage: 'train',
      params,
      inputs: { data },
      inputLists: {},
      outDir: out,
      signal: new AbortController().signal,
      threads: 1,
      external: { files: {} },
      progress: () => {},
      log: () => {},
      backend: 'wasm',
    };
    const result = await trainStage.run(stageCtx);
    return { out, metrics: result.metrics ?? {} };
  }

  const tr = synthetic(128);
  const va = synthetic(32, 32, 4, 4);
  const split = () =>
    splitArtifact({
      'x_train.npy': { data: tr.x, shape: [128, 32] },
      'y_train.npy': { data: tr.y, shape: [128] },
      'x_val.npy': { data: va.x, shape: [32, 32] },
      'y_val.npy': { data: va.y, shape: [32] },
    });

  it('trains, saves model/ and history.json, reports metrics', async () => {
    const { out, metrics } = await runTrain(await split(), { model: 'logistic-regression', epochs: 3 });
    expect((await readdir(join(out, 'model'))).sort()).toEqual(['model.json', 'pipe-model.json', 'weights.bin']);
    const history = JSON.parse(await readFile(join(out, 'history.json'), 'utf8'));
    expect(history).toHaveLength(3);
    expect(metrics).toMatchObject({ model: 'logistic-regression', epochs_run: 3, backend: 'wasm', parameters: 32 * 5 + 5 });
    expect(metrics['train_images_per_s']).toBeGreaterThan(0);
    expect(metrics['fit_s']).toBeGreaterThan(0);
    const loaded = await getModel('logistic-regression').load(join(out, 'model'));
    expect(await loaded.predictProba(va.x, [32, 32])).toHaveLength(32 * 5); // 5 classes from classes.json
  });

  it('explains shape and dtype mismatches', async () => {
    const data = await split();
    await expect(runTrain(data, { model: 'cnn' })).rejects.toThrow(/reshape/);
    const img = await splitArtifact({
      'x_train.npy': { data: new Float32Array(2 * 784), shape: [2, 28, 28, 1] },
      'y_train.npy': { data: new Uint8Array(2), shape: [2] },
    });
    await expect(runTrain(img, { model: 'mlp' })).rejects.toThrow(/flatten/);
    const raw = await splitArtifact({
      'x_train.npy': { data: new Uint8Array(2 * 784), shape: [2, 784] },
      'y_train.npy': { data: new Uint8Array(2), shape: [2] },
    });
    await expect(runTrain(raw, { model: 'mlp' })).rejects.toThrow(/normalize/);
    await expect(runTrain(data, { model: 'nope' })).rejects.toThrow(StageInputError);
  });
});
