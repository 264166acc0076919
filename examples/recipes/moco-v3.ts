/**
 * MoCo v3 (Chen, Xie, He 2021, "An Empirical Study of Training
 * Self-Supervised Vision Transformers"): two augmented views of each image; a
 * base encoder (ViT + projection MLP) followed by a predictor MLP gives the
 * queries, a momentum encoder (an EMA of the base encoder, momentum
 * cosine-scheduled from 0.99 to 1) gives the keys; the symmetric contrastive
 * loss `ctr(q1, k2) + ctr(q2, k1)`, each scaled by 2T (T = 0.2).
 * `--frozen-patch-embed` keeps the patch projection at its random
 * initialisation (the paper's fix for training instability).
 *
 * Simplified: grey-image augmentations (crops, flips, gain, noise), MLPs
 * without batch norm (`Mlp`: Linear-GELU-Linear; MoCo v3 uses BN and 3/2
 * layers), in-batch negatives of a batch of 32 (the paper: 4096), a tiny ViT
 * with 8 px patches (16 tokens), a few steps.
 *
 *     npx tsx examples/recipes/moco-v3.ts [--steps 40] [--frozen-patch-embed] [--backend cpu|wasm]
 */
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import { AdamW, EMA, Mlp, Rng, VisionTransformer, cosineMomentum, mocoV3Loss, trainStep } from '../../src/index.js';
import { augment, fashionMnist, joinParams, lossValue, recipeSetup, sampleBatch, trainLoop } from './common.js';

const flags = await recipeSetup('MoCo v3', { steps: 40, batch: 32, lr: 1.5e-3 }, { 'frozen-patch-embed': false });
const train = await fashionMnist('train', flags.trainSize);
const heldOut = await fashionMnist('test', flags.batch);

const vitConfig = { imgSize: 32, patchSize: 8, inChans: 1, embedDim: 64, depth: 2, numHeads: 4 } as const;
const encoder = (seed: number) => ({
  vit: new VisionTransformer({ ...vitConfig, seed }),
  projector: new Mlp({ inFeatures: 64, hiddenFeatures: 128, outFeatures: 32, seed: seed + 1 }),
});
type Encoder = ReturnType<typeof encoder>;
const base = encoder(flags.seed);
const momentum = encoder(flags.seed + 100);
const predictor = new Mlp({ inFeatures: 32, hiddenFeatures: 128, outFeatures: 32, seed: flags.seed + 2 });
if (flags['frozen-patch-embed']) {
  // requires_grad = False: the optimiser never sees the random patch projection.
  for (const w of base.vit.patchEmbed.namedWeights().values()) w.trainable = false;
}
const ema = new EMA(joinParams(base, true), joinParams(momentum, true));
ema.update(0); // the momentum encoder starts as a copy of the base encoder
const params = joinParams({ ...base, predictor });
const opt = new AdamW(params, { lr: flags.lr, betas: [0.9, 0.999], weightDecay: 0.1 });

/** Class token -> projection: `[B, 32]`. */
function project(enc: Encoder, x: tf.Tensor4D): tf.Tensor {
  return tf.tidy(() => enc.projector.forward(tf.squeeze(tf.slice(enc.vit.forward(x), [0, 0, 0], [-1, 1, -1]), [1])));
}

/** MoCo v3's loss for two views; the keys come from the momentum encoder, outside the gradient tape. */
function objective(v1: tf.Tensor4D, v2: tf.Tensor4D, keys: [tf.Tensor, tf.Tensor]): tf.Scalar {
  return tf.tidy(() => {
    const [q1, q2] = [predictor.forward(project(base, v1)), predictor.forward(project(base, v2))];
    return mocoV3Loss(q1, q2, keys[0], keys[1], { temperature: 0.2 }).loss;
  });
}

function lossOnViews(x: tf.Tensor4D, rng: Rng, step: ((f: () => tf.Scalar) => number) | null): number {
  const v1 = augment(x, 32, [0.2, 1], rng);
  const v2 = augment(x, 32, [0.2, 1], rng);
  const keys: [tf.Tensor, tf.Tensor] = [project(momentum, v1), project(momentum, v2)];
  const f = () => objective(v1, v2, keys);
  const loss = step ? step(f) : lossValue(f);
  tf.dispose([v1, v2, ...keys]);
  return loss;
}

const rng = new Rng(flags.seed);
trainLoop(
  flags['frozen-patch-embed'] ? 'moco-v3 (frozen patch embedding)' : 'moco-v3',
  flags.steps,
  () => lossOnViews(heldOut.images, new Rng(1), null), // fixed held-out views
  (i) => {
    const { x } = sampleBatch(train, flags.batch, rng);
    const loss = lossOnViews(x, rng, (f) => trainStep(f, params, opt).loss);
    ema.update(cosineMomentum(0.99, i + 1, flags.steps)); // momentum 0.99 -> 1
    x.dispose();
    return loss;
  },
);
