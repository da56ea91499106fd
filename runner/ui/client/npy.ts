/** Decodes the `.npy` files the page draws itself (inspect's sample images): uint8 or float32, C order. */
export interface NpyView {
  readonly shape: number[];
  readonly data: Uint8Array | Float32Array | Int32Array | Float64Array;
}

export function decodeNpy(buffer: ArrayBuffer): NpyView | undefined {
  const bytes = new Uint8Array(buffer);
  if (bytes.length < 10 || bytes[0] !== 0x93) return undefined;
  const view = new DataView(buffer);
  const major = bytes[6];
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = major === 1 ? 10 : 12;
  const text = new TextDecoder('latin1').decode(bytes.subarray(start, start + headerLen));
  const descr = /'descr':\s*'([^']+)'/.exec(text)?.[1];
  const shape = (/'shape':\s*\(([^)]*)\)/.exec(text)?.[1] ?? '').split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  const offset = start + headerLen;
  const count = shape.reduce((a, b) => a * b, 1);
  const body = buffer.slice(offset, offset + count * ({ '|u1': 1, '<i4': 4, '<f4': 4, '<f8': 8 }[descr ?? ''] ?? 0));
  switch (descr) {
    case '|u1':
      return { shape, data: new Uint8Array(body) };
    case '<f4':
      return { shape, data: new Float32Array(body) };
    case '<i4':
      return { shape, data: new Int32Array(body) };
    case '<f8':
      return { shape, data: new Float64Array(body) };
    default:
      return undefined;
  }
}

/** Draws images (N×H×W, any range) as a grid on a canvas, each scaled to its own min..max. */
export function drawGrid(canvas: HTMLCanvasElement, images: NpyView, columns = 10, limit = 40): void {
  const [n = 0, h = 28, w = 28] = images.shape.length === 4 ? [images.shape[0], images.shape[1], images.shape[2]] : images.shape;
  const count = Math.min(n, limit);
  const rows = Math.ceil(count / columns);
  canvas.width = columns * w;
  canvas.height = rows * h;
  const context = canvas.getContext('2d');
  if (!context) return;
  const pixels = context.createImageData(canvas.width, canvas.height);
  const size = h * w * (images.shape.length === 4 ? (images.shape[3] ?? 1) : 1);
  for (let i = 0; i < count; i++) {
    let lo = Infinity;
    let hi = -Infinity;
    for (let j = 0; j < h * w; j++) {
      const v = images.data[i * size + j]!;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    const span = hi - lo || 1;
    const [ox, oy] = [(i % columns) * w, Math.floor(i / columns) * h];
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const v = Math.round(((images.data[i * size + y * w + x]! - lo) / span) * 255);
        const p = ((oy + y) * canvas.width + ox + x) * 4;
        pixels.data[p] = pixels.data[p + 1] = pixels.data[p + 2] = v;
        pixels.data[p + 3] = 255;
      }
    }
  }
  context.putImageData(pixels, 0, 0);
}
