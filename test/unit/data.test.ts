import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeNpy, encodeNpy, readNpy, writeNpy } from '../../artifacts/npy.js';
import { pixelStats } from '../../stages/inspect.js';
import { stratifiedValidation } from '../../stages/split.js';
import { parseImages, parseLabels } from '../../stages/data/idx.js';

describe('npy', () => {
  it('round-trips every dtype with a 64-byte aligned header numpy accepts', () => {
    for (const data of [Uint8Array.from([1, 2, 3, 4, 5, 6]), Float32Array.from([0.5, -1, 2, 3, 4, 5]), Int32Array.from([1, -2, 3, 4, 5, 6])]) {
      const bytes = encodeNpy(data, [2, 3]);
      expect(bytes.readUInt16LE(8) + 10).toBe(bytes.length - data.byteLength);
      expect((bytes.readUInt16LE(8) + 10) % 64).toBe(0);
      expect(bytes.subarray(10, 10 + bytes.readUInt16LE(8)).toString('latin1')).toMatch(/^\{'descr': '(\|u1|<f4|<i4)', 'fortran_order': False, 'shape': \(2, 3\), \} *\n$/);
      const back = decodeNpy(bytes);
      expect(back.shape).toEqual([2, 3]);
      expect(Array.from(back.data)).toEqual(Array.from(data));
    }
  });

  it('rejects truncated data with the file name', () => {
    const bytes = encodeNpy(Uint8Array.from([1, 2, 3, 4]), [4]);
    expect(() => decodeNpy(bytes.subarray(0, bytes.length - 1), 'x.npy')).toThrow(/x\.npy: not a valid \.npy file \(expected 4 data bytes/);
  });

  it('reads files straight into their typed array, as decodeNpy reads their bytes, and names a damaged file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pipe-npy-'));
    try {
      const data = Float32Array.from({ length: 3 * 784 }, (_, i) => i / 7);
      const file = join(dir, 'x.npy');
      await writeNpy(file, data, [3, 28, 28, 1]);
      const back = await readNpy(file);
      expect(back.dtype).toBe('float32');
      expect(back.shape).toEqual([3, 28, 28, 1]);
      expect(back.data).toEqual(data);
      const bytes = encodeNpy(Int32Array.from([1, -2, 3]), [3]);
      for (const [name, damaged, message] of [
        ['short.npy', bytes.subarray(0, bytes.length - 1), /short\.npy: not a valid \.npy file \(expected 12 data bytes for shape \(3\), found 11\)/],
        ['long.npy', Buffer.concat([bytes, Buffer.alloc(1)]), /long\.npy: not a valid \.npy file \(expected 12 data bytes/],
        ['head.npy', bytes.subarray(0, 40), /head\.npy: not a valid \.npy file \(truncated header\)/],
        ['text.npy', Buffer.from('hello, not numpy'), /text\.npy: not a valid \.npy file \(bad magic\)/],
      ] as const) {
        await writeFile(join(dir, name), damaged);
        await expect(readNpy(join(dir, name))).rejects.toThrow(message);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('IDX parsing', () => {
  const header = (magic: number, dims: number[]): Buffer => {
    const b = Buffer.alloc(4 + 4 * dims.length);
    b.writeUInt32BE(magic, 0);
    dims.forEach((d, i) => b.writeUInt32BE(d, 4 + 4 * i));
    return b;
  };
  it('checks magic, dimensions and exact length', () => {
    const good = Buffer.concat([header(0x803, [2, 28, 28]), Buffer.alloc(2 * 784, 7)]);
    expect(parseImages(good, 'f').count).toBe(2);
    expect(() => parseImages(good.subarray(0, good.length - 1), 'f')).toThrow(/f: length is 1583 bytes but the header promises 2 images \(1584 bytes\)/);
    expect(() => parseImages(Buffer.concat([header(0x803, [1, 32, 32]), Buffer.alloc(1024)]), 'f')).toThrow(/images are 32x32, expected 28x28/);
    expect(() => parseLabels(Buffer.concat([header(0x801, [2]), Buffer.from([1, 12])]), 'l', 10)).toThrow(/label 12 at index 1 is outside 0..9/);
    expect(() => parseLabels(good, 'l', 10)).toThrow(/this is an image file/);
  });
});

describe('statistics', () => {
  it('mean, median (from the histogram), std and range are exact', () => {
    const stats = pixelStats({ dtype: 'uint8', shape: [6], data: Uint8Array.from([0, 0, 0, 10, 20, 255]) });
    expect(stats.mean).toBeCloseTo(47.5, 10);
    expect(stats.median).toBe(5);
    expect(stats.std).toBeCloseTo(Math.sqrt((3 * 47.5 ** 2 + 37.5 ** 2 + 27.5 ** 2 + 207.5 ** 2) / 6), 10);
    expect([stats.min, stats.max]).toEqual([0, 255]);
    expect(stats.histogram[0]).toBe(3);
  });
});

describe('stratified split', () => {
  const labels = Uint8Array.from({ length: 1000 }, (_, i) => (i % 10 < 7 ? 0 : (i % 10) - 6)); // class 0 = 70%
  it('keeps class shares, is seeded and never repeats an index', () => {
    const val = stratifiedValidation(labels, 0.1, 1, true);
    expect(val.length).toBe(100);
    expect(new Set(val).size).toBe(100);
    expect(Array.from(val).filter((i) => labels[i] === 0).length).toBe(70);
    expect(Array.from(stratifiedValidation(labels, 0.1, 1, true))).toEqual(Array.from(val));
    expect(Array.from(stratifiedValidation(labels, 0.1, 2, true))).not.toEqual(Array.from(val));
    expect(stratifiedValidation(labels, 250, 1, true).length).toBe(250);
  });
});
