/**
 * Plumbing shared by the recipes, kept out of them so each recipe reads as
 * the method itself: flags, backend, Fashion-MNIST batches, one optimiser over
 * several modules, and the loop that prints the loss before and after
 * training. Not part of the library.
 */
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { joinParams as libraryJoinParams, Rng, type NamedVariables } from '../../src/index.js';
import { loadFashionMnist } from '../lib/fashion-mnist.js';
import { silenceNodeBanner } from '../lib/runtime.js';

/** Defaults of the flags every recipe takes. */
export interface RecipeDefaults {
  /** Optimisation steps (`--steps`). */
  steps: number;
  /** Images per step (`--batch`). */
  batch: number;
  /** Peak learning rate (`--lr`). */
  lr: number;
  /** Training images loaded from the shipped subset (`--train-size`). */
  trainSize?: number;
}

/** Flags of a recipe: the common ones plus its own (`extra`, numbers or switches). */
export type RecipeFlags<E extends Record<string, number | boolean>> = {
  steps: number;
  batch: number;
  lr: number;
  trainSize: number;
  seed: number;
  backend: 'cpu' | 'wasm';
} & { [K in keyof E]: E[K] extends boolean ? boolean : number };

function positiveNumber(flag: string, raw: string, integer: boolean): number {
  const v = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(v) || v < 0 || (integer && !Number.isInteger(v))) {
    throw new Error(`--${flag} must be a ${integer ? 'non-negative integer' : 'non-negative number'}, got '${raw}'`);
  }
  return v;
}

/**
 * Parses `--steps N --batch N --lr X --train-size N --seed N --backend
 * cpu|wasm` and the recipe's own flags, then activates the backend
 * (default wasm). Bad values throw naming the flag, the value and what was
 * expected.
 */
export async function recipeSetup<E extends Record<string, number | boolean>>(
  title: string,
  defaults: RecipeDefaults,
  extra: E = {} as E,
): Promise<RecipeFlags<E>> {
  const options: Record<string, { type: 'string' | 'boolean' }> = {
    steps: { type: 'string' }, batch: { type: 'string' }, lr: { type: 'string' },
    'train-size': { type: 'string' }, seed: { type: 'string' }, backend: { type: 'string' },
  };
  for (const [k, v] of Object.entries(extra)) options[k] = { type: typeof v === 'boolean' ? 'boolean' : 'string' };
  const { values } = parseArgs({ args: process.argv.slice(2), options, strict: true });
  const num = (k: string, d: number, integer: boolean): number => {
    const raw = values[k];
    return typeof raw === 'string' ? positiveNumber(k, raw, integer) : d;
  };
  const backend = (values.backend as string | undefined) ?? 'wasm';
  if (backend !== 'cpu' && backend !== 'wasm') throw new Error(`--backend must be 'cpu' or 'wasm', got '${backend}'`);
  const flags: Record<string, number | boolean | string> = {
    steps: num('steps', defaults.steps, true),
    batch: num('batch', defaults.batch, true),
    lr: num('lr', defaults.lr, false),
    trainSize: num('train-size', defaults.trainSize ?? 1024, true),
    seed: num('seed', 0, true),
    backend,
  };
  for (const [k, d] of Object.entries(extra)) {
    flags[k] = typeof d === 'boolean' ? values[k] === true || d : num(k, d, false);
  }
  if ((flags.steps as number) < 1 || (flags.batch as number) < 2) {
    throw new Error(`--steps must be >= 1 and --batch >= 2, got steps ${flags.steps}, batch ${flags.batch}`);
  }
  silenceNodeBanner();
  if (!(await tf.setBackend(backend))) throw new Error(`could not initialise the tfjs backend '${backend}'`);
  await tf.ready();
  console.log(`${title} on ${backend}: ${flags.steps} steps of ${flags.batch} images`);
  return flags as RecipeFlags<E>;
}

/** Fashion-MNIST images as one tensor, zero-padded and optionally average-pooled. */
export interface ImageSet {
  /** `[N, S, S, 1]` in [0, 1]. */
  images: tf.Tensor4D;
  /** Class of each image. */
  labels: Int32Array;
  /** Class names by label. */
  classNames: readonly string[];
}

/**
 * Loads `count` images of a split of the shipped Fashion-MNIST subset, padded
 * to 32 px (1 channel); `pool` > 1 average-pools them (32 / pool px).
 */
export async function fashionMnist(split: 'train' | 'test', count: number, pool = 1): Promise<ImageSet> {
  const d = await loadFashionMnist(split, { limit: count, pad: 32 });
  const images = tf.tidy(() => {
    const x = tf.tensor4d(d.images, d.shape);
    return pool > 1 ? tf.avgPool(x, pool, pool, 'valid') : x;
  });
  return { images, labels: d.labels, classNames: d.classNames };
}

/** `batch` distinct random rows of `set` (images and their labels). */
export function sampleBatch(set: ImageSet, batch: number, rng: Rng): { x: tf.Tensor4D; y: Int32Array } {
  const idx = rng.shuffle([...Array(set.images.shape[0]).keys()]).slice(0, batch);
  return { x: tf.tidy(() => tf.gather(set.images, idx)), y: Int32Array.from(idx, (i) => set.labels[i]!) };
}

/** The library's `joinParams` with the recipes' short form: `all` = every variable (a momentum encoder's copy). */
export function joinParams(parts: Record<string, NamedVariables>, all = false): Map<string, tf.Variable> {
  return libraryJoinParams(parts, { all });
}

/**
 * A random view of each image, made of plain tensor ops: a random resized
 * crop covering `scale` of the area (aspect ratio 3/4 to 4/3) resized to
 * `size` px, a horizontal flip with probability 1/2 (a crop box with x1 > x2
 * comes out mirrored), a random gain in [0.6, 1.4] and Gaussian noise (std
 * 0.05), clipped to [0, 1]. A grey-image stand-in for the colour jitter,
 * blur and solarisation of MoCo v3 / DINO; all randomness from `rng`.
 */
export function augment(x: tf.Tensor4D, size: number, scale: [number, number], rng: Rng): tf.Tensor4D {
  const n = x.shape[0];
  const boxes: number[][] = [];
  const gains: number[] = [];
  for (let i = 0; i < n; i++) {
    const area = rng.uniformRange(scale[0], scale[1]);
    const ratio = Math.exp(rng.uniformRange(Math.log(3 / 4), Math.log(4 / 3)));
    const h = Math.min(1, Math.sqrt(area / ratio));
    const w = Math.min(1, Math.sqrt(area * ratio));
    const y0 = rng.uniform() * (1 - h);
    const x0 = rng.uniform() * (1 - w);
    boxes.push(rng.uniform() < 0.5 ? [y0, x0, y0 + h, x0 + w] : [y0, x0 + w, y0 + h, x0]);
    gains.push(rng.uniformRange(0.6, 1.4));
  }
  const seed = rng.nextUint32() + 1; // tfjs treats seed 0 as 'no seed'
  return tf.tidy(() => {
    const crops = tf.image.cropAndResize(x, boxes, [...Array(n).keys()], [size, size]);
    const jittered = tf.mul(crops, tf.tensor4d(gains, [n, 1, 1, 1]));
    return tf.clipByValue(tf.add(jittered, tf.randomNormal(crops.shape, 0, 0.05, 'float32', seed)), 0, 1) as tf.Tensor4D;
  });
}

/** Word-level token ids of one caption per class (see {@link captionTokens}). */
export interface Captions {
  /** Words by id; id 0 is `<pad>`. */
  vocab: string[];
  /** Caption length in tokens (the longest caption; shorter ones are padded with 0). */
  seqLen: number;
  /** Token ids of each class's caption, `seqLen` each. */
  ids: number[][];
}

/**
 * Captions made from class names (`template` with `{}` replaced by the
 * lower-cased name), split into words; the vocabulary is every word seen,
 * after a padding id 0.
 */
export function captionTokens(classNames: readonly string[], template = '{}'): Captions {
  const words = classNames.map((n) => template.replace('{}', n.toLowerCase()).split(/[^a-z]+/).filter(Boolean));
  const vocab = ['<pad>', ...new Set(words.flat())];
  const seqLen = Math.max(...words.map((w) => w.length));
  const ids = words.map((w) => [...w.map((t) => vocab.indexOf(t)), ...Array<number>(seqLen - w.length).fill(0)]);
  return { vocab, seqLen, ids };
}

/** The scalar value of a loss computed outside any gradient (disposed here). */
export function lossValue(f: () => tf.Scalar): number {
  const t = tf.tidy(f);
  const v = t.dataSync()[0]!;
  t.dispose();
  return v;
}

/**
 * Runs `steps` training steps (`step(i)` returns the step's loss) between two
 * evaluations of the objective on fixed held-out data and fixed randomness,
 * printing progress and then one line `<name>: held-out loss A -> B`.
 * Returns both values.
 */
export function trainLoop(
  name: string,
  steps: number,
  evaluate: () => number,
  step: (i: number) => number,
): { start: number; end: number } {
  const t0 = performance.now();
  const start = evaluate();
  console.log(`held-out loss at start: ${start.toFixed(4)}`);
  const every = Math.max(1, Math.floor(steps / 5));
  for (let i = 0; i < steps; i++) {
    const loss = step(i);
    if (!Number.isFinite(loss)) throw new Error(`${name}: training loss became ${loss} at step ${i + 1}`);
    if ((i + 1) % every === 0 || i + 1 === steps) console.log(`step ${i + 1}/${steps}  train loss ${loss.toFixed(4)}`);
  }
  const end = evaluate();
  const secs = ((performance.now() - t0) / 1000).toFixed(1);
  console.log(`${name}: held-out loss ${start.toFixed(4)} -> ${end.toFixed(4)} (${steps} steps, ${tf.getBackend()}, ${secs} s)`);
  return { start, end };
}
