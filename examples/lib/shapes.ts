/**
 * A synthetic image-caption set for the multimodal examples (not part of the
 * library): one coloured shape per image, captioned "a red circle on the
 * left". Four colours x four shapes x four positions = 64 combinations; a
 * quarter of them (those with `(colour + shape + position) % 4 === 0`) occur
 * only in the `heldout` split, so a model can be tested on combinations it
 * never saw, although it saw every colour, shape and position, and every
 * pair of them, during training.
 *
 * Deterministic: the same `seed` and `split` give the same images.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../../src/index.js';

/** Colour names, index = `colour` label. */
export const COLOURS = ['red', 'green', 'blue', 'yellow'] as const;
/** Shape names, index = `shape` label. */
export const SHAPES = ['circle', 'square', 'triangle', 'cross'] as const;
/** Position names, index = `position` label. */
export const POSITIONS = ['left', 'right', 'top', 'bottom'] as const;

const RGB: readonly (readonly [number, number, number])[] = [
  [0.9, 0.15, 0.1],
  [0.1, 0.8, 0.2],
  [0.15, 0.3, 0.95],
  [0.95, 0.85, 0.1],
];
/** Shape centres as fractions of the image side, `[x, y]`. */
const CENTRES: readonly (readonly [number, number])[] = [
  [0.28, 0.5],
  [0.72, 0.5],
  [0.5, 0.28],
  [0.5, 0.72],
];

/** Number of combinations (`COLOURS x SHAPES x POSITIONS`). */
export const NUM_COMBOS = COLOURS.length * SHAPES.length * POSITIONS.length;

/** Whether a colour-shape-position combination belongs to the held-out split only. */
export function isHeldOut(colour: number, shape: number, position: number): boolean {
  return (colour + shape + position) % 4 === 0;
}

/** The caption of a combination: "a red circle on the left" / "a blue cross at the top". */
export function caption(colour: number, shape: number, position: number): string {
  const where = position < 2 ? `on the ${POSITIONS[position]}` : `at the ${POSITIONS[position]}`;
  return `a ${COLOURS[colour]} ${SHAPES[shape]} ${where}`;
}

/** Index of a combination in `[0, NUM_COMBOS)`: `(colour * 4 + shape) * 4 + position`. */
export function comboIndex(colour: number, shape: number, position: number): number {
  return (colour * SHAPES.length + shape) * POSITIONS.length + position;
}

/** Every caption, indexed by {@link comboIndex}. */
export function allCaptions(): string[] {
  const out: string[] = [];
  for (let c = 0; c < COLOURS.length; c++) {
    for (let s = 0; s < SHAPES.length; s++) for (let p = 0; p < POSITIONS.length; p++) out.push(caption(c, s, p));
  }
  return out;
}

/** Options of {@link makeShapes}. */
export interface ShapesOptions {
  /** Number of images. */
  n: number;
  /** Image side in pixels. Default 32. */
  imgSize?: number;
  /** Seed of the combinations, jitter and noise. */
  seed: number;
  /** `train`: only the 48 training combinations; `heldout`: only the 16 held-out ones. */
  split: 'train' | 'heldout';
}

/** What {@link makeShapes} returns; `images` is new, the caller disposes it. */
export interface ShapesSet {
  /** `[n, S, S, 3]` float32 in [0, 1] (NHWC). */
  images: tf.Tensor4D;
  /** One caption per image. */
  captions: string[];
  /** Colour label per image (index into {@link COLOURS}). */
  colour: Int32Array;
  /** Shape label per image (index into {@link SHAPES}). */
  shape: Int32Array;
  /** Position label per image (index into {@link POSITIONS}). */
  position: Int32Array;
}

/** Whether pixel `(x, y)` (relative to the centre, in units of the half-size `r`) is inside the shape. */
function inside(shape: number, dx: number, dy: number, r: number): boolean {
  switch (shape) {
    case 0:
      return dx * dx + dy * dy <= r * r;
    case 1:
      return Math.abs(dx) <= r * 0.85 && Math.abs(dy) <= r * 0.85;
    case 2: // upward triangle: apex at the top, base at the bottom
      return dy <= r * 0.85 && dy >= -r && Math.abs(dx) <= ((dy + r) / (1.85 * r)) * r;
    default: // cross: two bars
      return (Math.abs(dx) <= r * 0.3 && Math.abs(dy) <= r) || (Math.abs(dy) <= r * 0.3 && Math.abs(dx) <= r);
  }
}

/**
 * `n` images of one coloured shape each, with their captions and labels.
 * Each image: a dark noisy background, the shape (radius about 18% of the
 * side, jittered) at its position (centre jittered by about 4% of the side),
 * its colour jittered a little. Combinations are drawn uniformly among the
 * split's own.
 */
export function makeShapes(options: ShapesOptions): ShapesSet {
  const { n, seed, split } = options;
  const S = options.imgSize ?? 32;
  if (!Number.isInteger(n) || n <= 0) throw new Error(`makeShapes: n must be a positive integer, got ${n}`);
  if (!Number.isInteger(S) || S < 8) throw new Error(`makeShapes: imgSize must be an integer >= 8, got ${S}`);
  if (split !== 'train' && split !== 'heldout') throw new Error(`makeShapes: split must be 'train' or 'heldout', got '${String(split)}'`);
  const combos: [number, number, number][] = [];
  for (let c = 0; c < 4; c++) {
    for (let s = 0; s < 4; s++) for (let p = 0; p < 4; p++) if (isHeldOut(c, s, p) === (split === 'heldout')) combos.push([c, s, p]);
  }
  const rng = new Rng(seed);
  const data = new Float32Array(n * S * S * 3);
  const colour = new Int32Array(n);
  const shape = new Int32Array(n);
  const position = new Int32Array(n);
  const captions: string[] = [];
  for (let i = 0; i < n; i++) {
    const [c, s, p] = combos[rng.randint(0, combos.length - 1)]!;
    colour[i] = c;
    shape[i] = s;
    position[i] = p;
    captions.push(caption(c, s, p));
    const r = S * rng.uniformRange(0.15, 0.2);
    const cx = S * (CENTRES[p]![0] + rng.uniformRange(-0.04, 0.04));
    const cy = S * (CENTRES[p]![1] + rng.uniformRange(-0.04, 0.04));
    const rgb = RGB[c]!.map((v) => Math.min(1, Math.max(0, v + rng.uniformRange(-0.08, 0.08))));
    const base = i * S * S * 3;
    for (let y = 0; y < S; y++) {
      for (let x = 0; x < S; x++) {
        const o = base + (y * S + x) * 3;
        const hit = inside(s, x + 0.5 - cx, y + 0.5 - cy, r);
        for (let ch = 0; ch < 3; ch++) {
          const bg = 0.12 + 0.05 * rng.uniform();
          data[o + ch] = hit ? rgb[ch]! : bg;
        }
      }
    }
  }
  return { images: tf.tensor4d(data, [n, S, S, 3], 'float32'), captions, colour, shape, position };
}
