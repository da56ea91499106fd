/**
 * One source of truth for params: the JSON Schemas hold every default, and the code reads typed
 * params without fallbacks. These tests compare what the code sees with what the schemas say.
 */
import { describe, expect, it } from 'vitest';
import { checkSchema } from '../../runner/config/schema-check.js';
import { MODELS } from '../../stages/models/index.js';
import { TRAINING_PARAMS, trainOptions, withDefaults, type TrainingParam } from '../../stages/models/tf/options.js';
import { KEY_OMIT_AT_DEFAULT, loadSchema } from '../../stages/schema.js';
import type { JsonValue } from '../../stages/types.js';

type Prop = { default?: JsonValue; $ref?: string; type?: string };
const propsOf = (schema: object): Record<string, Prop> => (schema as { properties: Record<string, Prop> }).properties;
const schemaDefaults = (schema: object): Record<string, JsonValue> =>
  Object.fromEntries(Object.entries(propsOf(schema)).map(([k, p]) => [k, p.default as JsonValue]));
const TF_MODELS = ['cnn', 'resnet', 'mlp', 'logistic-regression'];

describe('model params: the schema is the only source of defaults', () => {
  it.each(Object.keys(MODELS))('%s reads exactly the params its schema declares', (name) => {
    const def = MODELS[name]!;
    expect([...def.params].sort()).toEqual(Object.keys(propsOf(def.schema)).sort());
  });

  it.each(Object.keys(MODELS))('%s: the defaults the code sees are the schema defaults, and ajv fills the same', (name) => {
    const def = MODELS[name]!;
    const declared = schemaDefaults(def.schema);
    for (const [key, value] of Object.entries(declared)) expect(value, `${name}.${key} has a default`).not.toBeUndefined();
    expect(withDefaults(def.schema, {}, def.params)).toEqual(declared);
    // The runner's path: ajv with useDefaults (which must see defaults next to each $ref).
    const { value, problems } = checkSchema(def.schema, {});
    expect(problems).toEqual([]);
    expect(value).toEqual(declared);
  });

  it.each(TF_MODELS)('%s: training options equal the schema defaults', (name) => {
    const def = MODELS[name]!;
    const d = schemaDefaults(def.schema);
    const o = trainOptions(withDefaults(def.schema, {}, TRAINING_PARAMS));
    expect(o).toMatchObject({
      epochs: d['epochs'],
      batchSize: d['batch_size'],
      optimizer: d['optimizer'],
      learningRate: d['learning_rate'],
      momentum: d['momentum'],
      schedule: d['lr_schedule'],
      stepEpochs: d['lr_step_epochs'],
      stepGamma: d['lr_step_gamma'],
      patience: d['early_stopping_patience'],
      restoreBest: d['restore_best_weights'],
      seed: d['seed'],
      augmentShift: d['augment_shift'] ?? 0,
      augmentFlip: d['augment_flip'] ?? false,
    });
  });

  it('the cases that used to disagree now follow the schemas (what ran and what the benchmarks measured)', () => {
    for (const name of TF_MODELS) expect(trainOptions(withDefaults(MODELS[name]!.schema, {}, TRAINING_PARAMS)).schedule).toBe(propsOf(MODELS[name]!.schema)['lr_schedule']?.default);
    const lr = MODELS['logistic-regression']!;
    expect(trainOptions(withDefaults(lr.schema, {}, TRAINING_PARAMS)).learningRate).toBe(propsOf(lr.schema)['learning_rate']?.default);
    expect(withDefaults(MODELS['knn']!.schema, {}, ['pca'])['pca']).toBe(propsOf(MODELS['knn']!.schema)['pca']?.default);
    expect(withDefaults(MODELS['svm']!.schema, {}, ['pca'])['pca']).toBe(propsOf(MODELS['svm']!.schema)['pca']?.default);
  });

  it('shared training params are defined once and referenced with $ref by every tfjs model', () => {
    const shared = (loadSchema('models/training') as { $defs: Record<string, Prop> }).$defs;
    for (const key of TRAINING_PARAMS satisfies readonly TrainingParam[]) expect(shared[key]?.type, key).toBeTruthy();
    for (const name of TF_MODELS) {
      for (const key of TRAINING_PARAMS) {
        const prop = propsOf(MODELS[name]!.schema)[key];
        expect(prop?.$ref, `${name}.${key}`).toBe(`training.schema.json#/$defs/${key}`);
        // The key mark may sit beside the default: it says "leave this default out of the cache key",
        // so it belongs with the default it compares against, not with the shared definition.
        expect(Object.keys(prop ?? {}).filter((k) => !['$ref', 'default', 'description', KEY_OMIT_AT_DEFAULT].includes(k)), `${name}.${key} repeats its definition`).toEqual([]);
      }
    }
    // A range from the shared definition is enforced through the $ref.
    expect(checkSchema(MODELS['cnn']!.schema, { epochs: 0 }).problems.map((p) => p.message)).toEqual(['"epochs" must be >= 1']);
  });

  it('a param the code reads but the schema does not default is a bug reported at once', () => {
    expect(() => withDefaults(MODELS['knn']!.schema, {}, ['k', 'neighbours'])).toThrow(/neighbours are read by the code but have no default/);
    expect(() => trainOptions(withDefaults(MODELS['mlp']!.schema, { lr_schedule: 'wavy' }, TRAINING_PARAMS))).toThrow(/lr_schedule is "wavy"/);
  });
});
