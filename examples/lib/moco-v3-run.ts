/**
 * MoCo v3 pretraining on the shipped Fashion-MNIST, as a function, so an
 * example can put it behind a flag (`--method mocov3`) and probe the encoder
 * it returns the same way as another method's. The model is the library's
 * `MoCoV3` at a demo size; the loop is MoCo v3's: two augmented views per
 * image, momentum cosine-scheduled from `m` to 1 and applied inside
 * `forward` before the keys, AdamW with linear warm-up and cosine decay.
 * Not part of the library.
 */
import * as tf from '@tensorflow/tfjs-core';
import { AdamW, MoCoV3, Rng, cosineSchedule, deriveSeed, trainStep, type MoCoV3Config, type VisionTransformer } from '../../src/index.js';
import { augment } from '../recipes/common.js';
import type { FashionMnistData } from './fashion-mnist.js';

/** Options of {@link runMocoV3}. */
export interface MocoV3RunOptions {
  /** Training images (`loadFashionMnist('train', { pad: 32 })`): `[N, 32, 32, 1]`. */
  train: FashionMnistData;
  /** Optimisation steps. Default 100. */
  steps?: number;
  /** Images per step (two views each). Default 64. */
  batch?: number;
  /** Peak learning rate. Default 1.5e-3. */
  lr?: number;
  /** Weight decay. Default 0.1 (moco-v3's ViT recipe). */
  weightDecay?: number;
  /** Crop area range of the two views. Default [0.2, 1] (moco-v3's `crop-min` 0.08 is harsh for 28 px). */
  cropScale?: [number, number];
  /** Model config on top of the demo defaults (32 px, patch 4, D 96, depth 4, 4 heads, mlp_dim 256, dim 64, T 0.2, m 0.99). */
  config?: MoCoV3Config;
  /** Seed of the model, the data order and the augmentations. Default 0. */
  seed?: number;
  /** Progress output (default `console.log`); a line at most every `logSeconds`. */
  log?: (line: string) => void;
  /** Seconds between progress lines. Default 5. */
  logSeconds?: number;
}

/** What {@link runMocoV3} returns. */
export interface MocoV3RunResult {
  /** The base encoder's ViT (weights owned by `model`: dispose `model` when done). */
  encoder: VisionTransformer;
  /** The whole MoCo v3 model. */
  model: MoCoV3;
  /** Training loss per step. */
  losses: number[];
  /** Wall-clock seconds of the training loop. */
  seconds: number;
  /** Tensor count stayed the same after every step. */
  tensorsFlat: boolean;
}

/** The demo's MoCo v3 config for 32 px grey images. */
export const MOCO_V3_DEMO: Readonly<MoCoV3Config> = Object.freeze({
  imgSize: 32, patchSize: 4, inChans: 1, embedDim: 96, depth: 4, numHeads: 4, mlpDim: 256, dim: 64, T: 0.2, momentum: 0.99,
});

/** Pretrains MoCo v3 on `options.train` and returns the encoder (see {@link MocoV3RunResult}). */
export function runMocoV3(options: MocoV3RunOptions): MocoV3RunResult {
  const steps = options.steps ?? 100;
  const batch = options.batch ?? 64;
  const lr = options.lr ?? 1.5e-3;
  const seed = options.seed ?? 0;
  const log = options.log ?? ((l: string) => console.log(l));
  const logSeconds = options.logSeconds ?? 5;
  const { train } = options;
  const [n, h, w, c] = train.shape;
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`runMocoV3: steps must be a positive integer, got ${steps}`);
  if (!Number.isInteger(batch) || batch < 2 || batch > n) throw new Error(`runMocoV3: batch must be an integer in [2, ${n}], got ${batch}`);
  const model = new MoCoV3({ ...MOCO_V3_DEMO, seed, ...options.config });
  const opt = new AdamW(model, { lr, betas: [0.9, 0.999], weightDecay: options.weightDecay ?? 0.1 });
  const schedule = cosineSchedule({ baseLr: lr, warmupSteps: Math.round(0.1 * steps), totalSteps: steps + 1 });
  const rng = new Rng(deriveSeed(seed, 'moco-v3 data'));
  const images = tf.tensor4d(train.images, [n, h, w, c]);
  const order: number[] = [];
  const losses: number[] = [];
  const t0 = performance.now();
  let lastLog = t0;
  let count = -1;
  let flat = true;
  try {
    for (let step = 0; step < steps; step++) {
      if (order.length < batch) order.push(...rng.shuffle([...Array(n).keys()]));
      const idx = order.splice(0, batch);
      const x = tf.tidy(() => tf.gather(images, idx)) as tf.Tensor4D;
      const scale = options.cropScale ?? [0.2, 1];
      const v1 = augment(x, h, scale, rng);
      const v2 = augment(x, h, scale, rng);
      const m = model.momentumAt(step, steps);
      const { loss } = trainStep(() => model.forward(v1, v2, m).loss, model, opt, { lr: schedule(step + 1) });
      tf.dispose([x, v1, v2]);
      if (!Number.isFinite(loss)) throw new Error(`runMocoV3: loss became ${loss} at step ${step + 1}`);
      losses.push(loss);
      const now = tf.memory().numTensors;
      if (count >= 0 && now !== count) flat = false;
      count = now;
      const t = performance.now();
      if (t - lastLog >= logSeconds * 1000 || step === 0 || step === steps - 1) {
        lastLog = t;
        log(`moco-v3 step ${step + 1}/${steps}  loss ${loss.toFixed(4)}  m ${m.toFixed(4)}  ${((step + 1) / ((t - t0) / 1000)).toFixed(2)} steps/s`);
      }
    }
  } catch (e) {
    opt.dispose();
    model.dispose();
    throw e;
  } finally {
    images.dispose();
  }
  opt.dispose();
  return { encoder: model.baseEncoder.vit, model, losses, seconds: (performance.now() - t0) / 1000, tensorsFlat: flat };
}
