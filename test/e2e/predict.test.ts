/**
 * `pipe predict` end to end on the compiled CLI: the dataset's own test images as PNG files get
 * `evaluate`'s labels, bad files are reported one by one, and model references are unambiguous.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32, deflateSync, gunzipSync } from 'node:zlib';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readNpy } from '../../artifacts/npy.js';
import { makeRig, ROOT, type Rig } from './rig.js';

const COUNT = 1000;
const raw = gunzipSync(readFileSync(join(ROOT, 'data', 'fashion-mnist', 't10k-images-idx3-ubyte.gz'))).subarray(16);

function grayPng(pixels: Uint8Array | number[], w = 28, h = 28, invert = false): Buffer {
  const png = new PNG({ width: w, height: h });
  for (let i = 0; i < w * h; i++) {
    const v = invert ? 255 - pixels[i]! : pixels[i]!;
    png.data.set([v, v, v, 255], i * 4);
  }
  return PNG.sync.write(png);
}

function chunk(type: string, data: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const out = Buffer.alloc(body.length + 8);
  out.writeUInt32BE(data.length, 0);
  body.copy(out, 4);
  out.writeUInt32BE(crc32(body), body.length + 4);
  return out;
}

/** A PNG written by hand, for bit depths and colour types pngjs does not write (16-bit, palette). */
function handPng(w: number, h: number, bitDepth: number, colorType: number, rows: Buffer[], extra: Buffer[] = []): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr.set([bitDepth, colorType, 0, 0, 0], 8);
  const idat = deflateSync(Buffer.concat(rows.map((r) => Buffer.concat([Buffer.from([0]), r]))));
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), ...extra, chunk('IDAT', idat), chunk('IEND', Buffer.alloc(0))]);
}

/** Test image 0 (a boot) on a white page, 84×84, in several encodings. */
function bootRows(encode: (v: number) => number[]): Buffer[] {
  return Array.from({ length: 84 }, (_, y) => Buffer.from(Array.from({ length: 84 }, (_, x) => encode(255 - raw[Math.floor(y / 3) * 28 + Math.floor(x / 3)]!)).flat()));
}

interface PredictJson {
  stage: string;
  pipeline: string;
  failed: number;
  predictions: Array<{ file: string; status: string; error?: string; top?: Array<{ index: number; class: string }>; preprocess?: { path: string; inverted: boolean; confidence: number; box: { x: number; y: number; width: number; height: number }; saved?: string } }>;
}

describe('pipe predict on real inputs', () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await makeRig();
    await rig.write('faithful.yaml', `name: faithful
stages:
  load: { kind: load, params: { train_limit: 4000, test_limit: ${COUNT} } }
  normalize: { kind: normalize, inputs: { data: load } }
  reshape: { kind: reshape, inputs: { data: normalize } }
  split: { kind: split, inputs: { data: reshape }, params: { validation: 0.1 } }
  train: { kind: train, inputs: { data: split }, params: { model: cnn, epochs: 2, batch_size: 64, filters: [8, 16, 16], dense_units: 32 } }
  evaluate: { kind: evaluate, inputs: { model: train, data: split } }
`);
    const run = await rig.pipe(['run', 'faithful.yaml']);
    expect(run.code, run.stderr).toBe(0);
  });
  afterAll(async () => rig.cleanup());

  it(`gives evaluate's labels on ${COUNT} test images written as PNG files (and negated ones)`, async () => {
    const dir = join(rig.dir, 'test-png');
    mkdirSync(dir, { recursive: true });
    const files: string[] = [];
    for (let i = 0; i < COUNT; i++) {
      const file = join(dir, `${i}.png`);
      writeFileSync(file, grayPng(raw.subarray(i * 784, (i + 1) * 784)));
      files.push(file);
    }
    // A negated copy (dark garment on white, 28×28) of the first 200: only negated, never resampled.
    for (let i = 0; i < 200; i++) {
      const file = join(dir, `neg-${i}.png`);
      writeFileSync(file, grayPng(raw.subarray(i * 784, (i + 1) * 784), 28, 28, true));
      files.push(file);
    }
    const out = await rig.pipe(['predict', 'train', ...files, '--json', '--top', '1']);
    expect(out.code, out.stderr).toBe(0);
    const result = JSON.parse(out.stdout) as PredictJson;
    const evaluate = JSON.parse((await rig.pipe(['show', 'evaluate', '--json'])).stdout) as { dir: string };
    const expected = (await readNpy(join(evaluate.dir, 'predictions.npy'))).data;
    let agree = 0;
    let agreeNegated = 0;
    result.predictions.forEach((p, k) => {
      expect(p.status).toBe('ok');
      expect(p.preprocess?.path).toBe('dataset-form');
      const label = p.top![0]!.index;
      if (k < COUNT) agree += label === Number(expected[k]) ? 1 : 0;
      else agreeNegated += label === Number(expected[k - COUNT]) ? 1 : 0;
    });
    expect(agree / COUNT).toBeGreaterThanOrEqual(0.99);
    expect(agreeNegated / 200).toBeGreaterThanOrEqual(0.99);
  });

  it('reports each bad file by name, still predicts the others, and exits 1', async () => {
    const write = (name: string, bytes: Buffer | string) => {
      const file = join(rig.dir, 'bad', name);
      mkdirSync(join(rig.dir, 'bad'), { recursive: true });
      writeFileSync(file, bytes);
      return file;
    };
    const good = write('boot.png', grayPng(raw.subarray(0, 784)));
    const bootRgba = Buffer.from(bootRows((v) => [v, v, v, 255]).flatMap((r) => [...r]));
    const jpg = Buffer.from(jpeg.encode({ width: 84, height: 84, data: bootRgba }, 90).data);
    const huge = handPng(1, 1, 8, 0, [Buffer.from([0])]);
    huge.writeUInt32BE(200000, 16); // IHDR width and height: 200000² pixels declared
    huge.writeUInt32BE(200000, 20);
    const palette = chunk('PLTE', Buffer.from(Array.from({ length: 256 }, (_, i) => [i, i, i]).flat()));
    const files = {
      text: write('notes.png', 'these are not the pixels you are looking for'),
      empty: write('empty.jpg', Buffer.alloc(0)),
      truncated: write('truncated.jpg', jpg.subarray(0, Math.floor(jpg.length / 2))),
      huge: write('huge.png', huge),
      sixteen: write('sixteen.png', handPng(84, 84, 16, 0, bootRows((v) => [v, v]))),
      palette: write('palette.png', handPng(84, 84, 8, 3, bootRows((v) => [v]), [palette])),
      alpha: write('alpha.png', handPng(84, 84, 8, 6, bootRows((v) => [0, 0, 0, 255 - v]))),
      uniform: write('uniform.png', grayPng(Array.from({ length: 64 * 64 }, (_, i) => 200 + ((i * 7919) % 3)), 64, 64)),
      missing: join(rig.dir, 'bad', 'missing.png'),
    };
    const out = await rig.pipe(['predict', 'faithful.yaml:train', good, ...Object.values(files), '--json']);
    expect(out.code).toBe(1);
    const result = JSON.parse(out.stdout) as PredictJson;
    const byName = new Map(result.predictions.map((p) => [p.file, p]));
    expect(result.predictions).toHaveLength(10);
    for (const ok of [good, files.sixteen, files.palette, files.alpha]) {
      const p = byName.get(ok)!;
      expect(p.status, `${ok}: ${p.error}`).toBe('ok');
      // All four are the same boot: 16-bit, palette and alpha decode to the same answer.
      expect(p.top![0]!.class).toBe(byName.get(good)!.top![0]!.class);
    }
    expect(byName.get(files.text)).toMatchObject({ status: 'error', error: expect.stringMatching(/unsupported image format/) });
    expect(byName.get(files.empty)).toMatchObject({ status: 'error', error: expect.stringMatching(/empty \(0 bytes\)/) });
    expect(byName.get(files.truncated)).toMatchObject({ status: 'error', error: expect.stringMatching(/cannot decode JPEG/) });
    expect(byName.get(files.huge)).toMatchObject({ status: 'error', error: expect.stringMatching(/200000×200000; the limit is 50 megapixels/) });
    expect(byName.get(files.uniform)).toMatchObject({ status: 'no-object', error: expect.stringMatching(/no object found/) });
    expect(byName.get(files.uniform)).not.toHaveProperty('top');
    expect(byName.get(files.missing)).toMatchObject({ status: 'error', error: 'no such file' });
    expect(result.failed).toBe(6);

    // Text mode: every failure named on stderr, the good files' classes still on stdout, no stack.
    const text = await rig.pipe(['predict', 'train', good, files.text, files.uniform]);
    expect(text.code).toBe(1);
    expect(text.stderr).toContain(`${files.text}: unsupported image format`);
    expect(text.stderr).toContain(`${files.uniform}: no object found`);
    expect(text.stderr).not.toMatch(/\n\s+at /);
    expect(text.stdout).toMatch(/boot\.png[^\n]*\n\s+[\d.]+%\s+\S/);
  });

  it('writes the 28×28 image the model saw with --save-preprocessed', async () => {
    const photo = join(rig.dir, 'photo.jpg');
    const rgba = Buffer.from(bootRows((v) => [v, Math.min(255, v + 10), v, 255]).flatMap((r) => [...r]));
    writeFileSync(photo, jpeg.encode({ width: 84, height: 84, data: rgba }, 85).data);
    const dataset = join(rig.dir, 'seven.png');
    writeFileSync(dataset, grayPng(raw.subarray(7 * 784, 8 * 784)));
    const saved = join(rig.dir, 'seen');
    const out = await rig.pipe(['predict', 'train', photo, dataset, '--json', '--save-preprocessed', saved]);
    expect(out.code, out.stderr).toBe(0);
    const result = JSON.parse(out.stdout) as PredictJson;
    const [fromPhoto, fromDataset] = result.predictions;
    expect(fromPhoto?.preprocess).toMatchObject({ path: 'photo', inverted: true, saved: join(saved, 'photo.png') });
    expect(fromPhoto!.preprocess!.confidence).toBeGreaterThan(0.5);
    const seen = PNG.sync.read(readFileSync(join(saved, 'seven.png')));
    expect([seen.width, seen.height]).toEqual([28, 28]);
    for (let i = 0; i < 784; i++) expect(seen.data[i * 4]).toBe(raw[7 * 784 + i]);
    expect(fromDataset?.preprocess?.saved).toBe(join(saved, 'seven.png'));
  });

  it('refuses a bare stage name that two pipelines produced, listing both; FILE.yaml:STAGE, --pipeline and hashes work', async () => {
    await rig.write('other.yaml', `name: other
stages:
  load: { kind: load, params: { train_limit: 500, test_limit: 100 } }
  normalize: { kind: normalize, inputs: { data: load }, params: { method: standardize } }
  flatten: { kind: flatten, inputs: { data: normalize } }
  split: { kind: split, inputs: { data: flatten } }
  train: { kind: train, inputs: { data: split }, params: { model: logistic-regression, epochs: 2 } }
  evaluate: { kind: evaluate, inputs: { model: train, data: split } }
`);
    expect((await rig.pipe(['run', 'other.yaml'])).code).toBe(0);
    const image = join(rig.dir, 'boot.png');
    writeFileSync(image, grayPng(raw.subarray(0, 784)));
    for (const command of [['predict', 'train', image], ['show', 'train']]) {
      const out = await rig.pipe(command);
      expect(out.code).toBe(2);
      expect(out.stderr).toContain('stage "train" has artifacts from 2 pipelines');
      expect(out.stderr).toMatch(/faithful\.yaml:train +\(pipeline faithful/);
      expect(out.stderr).toMatch(/other\.yaml:train +\(pipeline other/);
    }
    const byFile = JSON.parse((await rig.pipe(['predict', 'other.yaml:train', image, '--json'])).stdout) as PredictJson;
    expect(byFile).toMatchObject({ pipeline: 'other', stage: 'train' });
    const byFlag = JSON.parse((await rig.pipe(['predict', 'train', image, '--pipeline', 'faithful.yaml', '--json'])).stdout) as PredictJson & { artifact: string };
    expect(byFlag).toMatchObject({ pipeline: 'faithful', stage: 'train' });
    const shown = JSON.parse((await rig.pipe(['show', byFlag.artifact.slice(0, 10), '--json'])).stdout) as { pipeline: string; stage: string };
    expect(shown).toMatchObject({ pipeline: 'faithful', stage: 'train' });
    expect(JSON.parse((await rig.pipe(['show', 'other.yaml:train', '--json'])).stdout)).toMatchObject({ pipeline: 'other' });
    // That model saw standardised pixels: predict applies its normalize stage's scaling, so it
    // gives that pipeline's evaluate labels on the dataset's own images too.
    const pngs = Array.from({ length: 100 }, (_, i) => join(rig.dir, 'test-png', `${i}.png`));
    const standardised = JSON.parse((await rig.pipe(['predict', 'other.yaml:train', ...pngs, '--json', '--top', '1'])).stdout) as PredictJson;
    const expected = (await readNpy(join((JSON.parse((await rig.pipe(['show', 'other.yaml:evaluate', '--json'])).stdout) as { dir: string }).dir, 'predictions.npy'))).data;
    const agree = standardised.predictions.filter((p, i) => p.top![0]!.index === Number(expected[i])).length;
    expect(agree).toBeGreaterThanOrEqual(99);
    // A copy of other.yaml made for an experiment keeps its name and runs last: FILE.yaml:STAGE still
    // names what that file defines (the key `pipe status FILE` reports), not the copy's newer artifact.
    await rig.write('other-copy.yaml', readFileSync(join(rig.dir, 'other.yaml'), 'utf8').replace('epochs: 2', 'epochs: 1'));
    expect((await rig.pipe(['run', 'other-copy.yaml'])).code).toBe(0);
    const keyIn = async (file: string): Promise<string> => (JSON.parse((await rig.pipe(['status', file, '--json'])).stdout) as { stages: { stage: string; key: string }[] }).stages.find((s) => s.stage === 'train')!.key;
    const [original, copy] = [await keyIn('other.yaml'), await keyIn('other-copy.yaml')];
    expect(original).not.toBe(copy);
    expect(JSON.parse((await rig.pipe(['show', 'other.yaml:train', '--json'])).stdout)).toMatchObject({ key: original });
    expect(JSON.parse((await rig.pipe(['show', 'other-copy.yaml:train', '--json'])).stdout)).toMatchObject({ key: copy });
    expect(JSON.parse((await rig.pipe(['predict', 'train', image, '--pipeline', 'other.yaml', '--json'])).stdout)).toMatchObject({ artifact: original });
    const none = await rig.pipe(['show', 'faithful.yaml:nope']);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('no artifact matches "faithful.yaml:nope" of pipeline "faithful"');
  });
});
