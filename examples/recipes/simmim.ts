/**
 * SimMIM (Xie et al. 2022, "SimMIM: A Simple Framework for Masked Image
 * Modeling"): random masking of large mask units (8 px units on 32 px
 * images, each covering 2x2 model patches of 4 px; ratio 0.6), a mask token
 * in the encoder, a one-layer decoder (linear + pixel shuffle) and an L1
 * loss on the masked pixels.
 *
 * Simplified: a tiny ViT (the paper's ViT-B is 12 x 768) trained for a few
 * steps, absolute position embeddings (SimMIM's ViT uses relative ones).
 *
 *     npx tsx examples/recipes/simmim.ts [--steps 30] [--backend cpu|wasm]
 */
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import { AdamW, Rng, SimMIM, SimMIMMasker, trainStep } from '../../src/index.js';
import { fashionMnist, lossValue, recipeSetup, sampleBatch, trainLoop } from './common.js';

const flags = await recipeSetup('SimMIM', { steps: 30, batch: 32, lr: 1e-3 });
const train = await fashionMnist('train', flags.trainSize);
const heldOut = await fashionMnist('test', flags.batch);

const simmim = new SimMIM({ imgSize: 32, patchSize: 4, inChans: 1, embedDim: 64, depth: 2, numHeads: 4, seed: flags.seed });
// Mask units of 8 px (SimMIM: 32 px at 224), expanded to the 4 px model patch grid; 60% of the units.
const masker = new SimMIMMasker({ inputSize: 32, maskPatchSize: 8, modelPatchSize: 4, maskRatio: 0.6 });
const opt = new AdamW(simmim, { lr: flags.lr, betas: [0.9, 0.999], weightDecay: 0.05 });

/** L1 between the image and its reconstruction, over the masked pixels. */
function objective(x: tf.Tensor4D, mask: tf.Tensor3D, training: boolean): tf.Scalar {
  const out = simmim.forward(x, mask, { training });
  out.xRec.dispose();
  return out.loss;
}

const rng = new Rng(flags.seed);
trainLoop(
  'simmim',
  flags.steps,
  () => {
    const m = masker.mask(flags.batch, 1); // fixed held-out masks
    const v = lossValue(() => objective(heldOut.images, m.mask, false));
    tf.dispose(m);
    return v;
  },
  () => {
    const { x } = sampleBatch(train, flags.batch, rng);
    const m = masker.mask(flags.batch, rng);
    const { loss } = trainStep(() => objective(x, m.mask, true), simmim, opt);
    tf.dispose([x, m]);
    return loss;
  },
);
