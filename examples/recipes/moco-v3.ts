/**
 * MoCo v3 (Chen, Xie, He 2021, "An Empirical Study of Training
 * Self-Supervised Vision Transformers") with the library's `MoCoV3`: base
 * encoder (ViT + BN projector) and predictor give the queries, the momentum
 * encoder (EMA of the base, momentum cosine-scheduled from 0.99 to 1, updated
 * inside `forward` before it computes the keys) gives the keys; symmetric
 * contrastive loss scaled by 2T (T = 0.2). `--frozen-patch-embed` keeps the
 * patch projection at its random initialisation (the paper's `stop_grad_conv1`).
 *
 * Simplified: grey-image augmentations (crops, flips, gain, noise), in-batch
 * negatives of a batch of 32 (the paper: 4096), a tiny ViT with 8 px patches
 * (16 tokens) and small heads (mlp_dim 128, dim 32), a few steps.
 *
 *     npx tsx examples/recipes/moco-v3.ts [--steps 40] [--frozen-patch-embed] [--backend cpu|wasm]
 */
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { AdamW, MoCoV3, Rng, trainStep } from '../../src/index.js';
import { augment, fashionMnist, lossValue, recipeSetup, sampleBatch, trainLoop } from './common.js';

const flags = await recipeSetup('MoCo v3', { steps: 40, batch: 32, lr: 1.5e-3 }, { 'frozen-patch-embed': false });
const train = await fashionMnist('train', flags.trainSize);
const heldOut = await fashionMnist('test', flags.batch);

const model = new MoCoV3({
  imgSize: 32, patchSize: 8, inChans: 1, embedDim: 64, depth: 2, numHeads: 4, dim: 32, mlpDim: 128,
  T: 0.2, momentum: 0.99, stopGradConv1: flags['frozen-patch-embed'], seed: flags.seed,
});
const opt = new AdamW(model, { lr: flags.lr, betas: [0.9, 0.999], weightDecay: 0.1 }); // the momentum encoder is not trainable

const rng = new Rng(flags.seed);
const evalRng = () => new Rng(1); // fixed held-out views
trainLoop(
  flags['frozen-patch-embed'] ? 'moco-v3 (frozen patch embedding)' : 'moco-v3',
  flags.steps,
  // Held-out: BatchNorm on running statistics, momentum encoder left as it is (m = 1).
  () => {
    const r = evalRng();
    const [v1, v2] = [augment(heldOut.images, 32, [0.2, 1], r), augment(heldOut.images, 32, [0.2, 1], r)];
    const loss = lossValue(() => model.forward(v1, v2, 1, { training: false }).loss);
    v1.dispose();
    v2.dispose();
    return loss;
  },
  (i) => {
    const { x } = sampleBatch(train, flags.batch, rng);
    const [v1, v2] = [augment(x, 32, [0.2, 1], rng), augment(x, 32, [0.2, 1], rng)];
    const m = model.momentumAt(i, flags.steps); // 0.99 -> 1, applied inside forward
    const { loss } = trainStep(() => model.forward(v1, v2, m).loss, model, opt);
    [x, v1, v2].forEach((t) => t.dispose());
    return loss;
  },
);
