/**
 * Seeded "product photo" renderings of Fashion-MNIST TEST images, for the robustness evaluation
 * and the predict tests: a coloured garment on a light, dark, tinted or gradient background,
 * off-centre (sometimes touching an edge), 96–400 px, PNG or JPEG with sensor noise.
 *
 * Only ever fed test images: nothing rendered here may reach training, or the photo-like score
 * would measure memorisation. Deterministic: the same (image, index, seed) gives the same bytes.
 *
 * A dataset pixel p is how dark the garment is on the white page it was photographed on
 * (the dataset negated the photo), so it renders as coverage: colour = bg + (p/255)·(garment − bg).
 */
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { mulberry32 } from '../util/random.js';

export const BACKGROUNDS = ['white', 'light', 'dark', 'gradient', 'colour'] as const;
export type BackgroundKind = (typeof BACKGROUNDS)[number];

export interface Rendering {
  readonly bytes: Buffer;
  readonly format: 'png' | 'jpeg';
  readonly width: number;
  readonly height: number;
  readonly background: BackgroundKind;
  /** Where the garment's 28×28 frame landed, in output pixels. */
  readonly frame: { readonly x: number; readonly y: number; readonly size: number };
}

type Rgb = [number, number, number];

const lum = (c: Rgb): number => 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2];

/** A colour from hue/saturation/value, all in [0,1]. */
function hsv(h: number, s: number, v: number): Rgb {
  const i = Math.floor(h * 6) % 6;
  const f = h * 6 - Math.floor(h * 6);
  const p = v * (1 - s);
  const q = v * (1 - f * s);
  const t = v * (1 - (1 - f) * s);
  return ([[v, t, p], [q, v, p], [p, v, t], [p, q, v], [t, p, v], [v, p, q]] as Rgb[])[i]!;
}

/** Roughly standard normal: sum of three uniforms, scaled (cheap; this runs per pixel). */
function gauss(random: () => number): number {
  return (random() + random() + random() - 1.5) * 2;
}

/** Bilinear sample of the 28×28 image at (u, v) in source pixel units; outside is 0. */
function sample(image: Uint8Array, u: number, v: number): number {
  const x = u - 0.5;
  const y = v - 0.5;
  const x0 = Math.floor(x);
  const y0 = Math.floor(y);
  const fx = x - x0;
  const fy = y - y0;
  const at = (xx: number, yy: number) => (xx >= 0 && xx < 28 && yy >= 0 && yy < 28 ? image[yy * 28 + xx]! : 0);
  return ((1 - fy) * ((1 - fx) * at(x0, y0) + fx * at(x0 + 1, y0)) + fy * ((1 - fx) * at(x0, y0 + 1) + fx * at(x0 + 1, y0 + 1))) / 255;
}

/**
 * Renders test image `image` (784 uint8, light on black) as photo number `index` of the set with `seed`.
 * The background kind cycles with the index, so any 5 consecutive renderings cover all kinds.
 */
export function renderPhoto(image: Uint8Array, index: number, seed: number): Rendering {
  const random = mulberry32((Math.imul(seed, 0x9e3779b1) ^ Math.imul(index + 1, 0x85ebca6b)) >>> 0);
  const background = BACKGROUNDS[index % BACKGROUNDS.length]!;
  const width = 96 + Math.floor(random() * 305);
  const height = Math.max(96, Math.min(400, Math.round(width * (0.75 + random() * 0.6))));

  // Background: two corner colours of a vertical/diagonal gradient (equal when flat).
  let top: Rgb;
  let bottom: Rgb;
  const hue = random();
  switch (background) {
    case 'white': {
      const v = 0.92 + random() * 0.08;
      top = bottom = [v, v, v];
      break;
    }
    case 'light':
      top = bottom = hsv(hue, 0.05 + random() * 0.2, 0.8 + random() * 0.2);
      break;
    case 'dark':
      top = bottom = hsv(hue, random() * 0.5, 0.03 + random() * 0.2);
      break;
    case 'gradient': {
      const light = random() < 0.5;
      top = hsv(hue, random() * 0.3, light ? 0.95 : 0.3);
      bottom = hsv((hue + random() * 0.2) % 1, random() * 0.3, light ? 0.7 : 0.05);
      break;
    }
    case 'colour':
      top = bottom = hsv(hue, 0.4 + random() * 0.5, 0.45 + random() * 0.45);
      break;
  }
  const diagonal = random() < 0.5;
  const bgLum = (lum(top) + lum(bottom)) / 2;

  // Garment colour contrasts with the page: darker on a light page, lighter on a dark one; any hue.
  const garmentHue = random();
  const saturation = random() < 0.3 ? 0 : 0.3 + random() * 0.7;
  const garment: Rgb = bgLum > 0.5 ? hsv(garmentHue, saturation, 0.05 + random() * 0.45) : hsv(garmentHue, saturation * 0.6, 0.65 + random() * 0.35);

  // Size and place: 50–90% of the shorter side, anywhere; one in five pushed against an edge.
  const size = Math.round(Math.min(width, height) * (0.5 + random() * 0.4));
  let fx = Math.round(random() * (width - size));
  let fy = Math.round(random() * (height - size));
  if (random() < 0.2) {
    // Trimmed frame edges are empty in most images: push far enough that the garment itself touches.
    const push = Math.round(size * 0.08);
    if (random() < 0.5) fx = random() < 0.5 ? -push : width - size + push;
    else fy = random() < 0.5 ? -push : height - size + push;
  }

  const tint: Rgb = [1 + 0.08 * gauss(random), 1 + 0.08 * gauss(random), 1 + 0.08 * gauss(random)];
  const noise = random() * 0.025;
  const rgba = Buffer.alloc(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const t = diagonal ? (x / width + y / height) / 2 : y / height;
      const a = sample(image, ((x - fx + 0.5) * 28) / size, ((y - fy + 0.5) * 28) / size);
      // Shading: a garment is not flat; darker folds follow the dataset's own intensity.
      const shade = 0.85 + 0.15 * a;
      const o = (y * width + x) * 4;
      for (let c = 0; c < 3; c++) {
        const bg = top[c]! + t * (bottom[c]! - top[c]!);
        const v = (bg + a * (garment[c]! * shade - bg)) * tint[c]! + noise * gauss(random);
        rgba[o + c] = Math.round(Math.min(1, Math.max(0, v)) * 255);
      }
      rgba[o + 3] = 255;
    }
  }
  const format = random() < 0.5 ? 'png' : 'jpeg';
  let bytes: Buffer;
  if (format === 'jpeg') {
    bytes = Buffer.from(jpeg.encode({ width, height, data: rgba }, 60 + Math.floor(random() * 36)).data);
  } else {
    const png = new PNG({ width, height });
    rgba.copy(png.data);
    bytes = PNG.sync.write(png);
  }
  return { bytes, format, width, height, background, frame: { x: fx, y: fy, size } };
}
