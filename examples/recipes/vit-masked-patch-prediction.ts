/**
 * ViT's masked patch prediction (Dosovitskiy et al. 2021, "An Image is Worth
 * 16x16 Words", appendix B.1.2): half of the patch embeddings are replaced by
 * a learned mask token, the ViT encoder sees the whole sequence, and a linear
 * head predicts the 3-bit mean colour of every corrupted patch (the paper's
 * best target; 8 grey levels here, 512 colours for RGB), cross-entropy.
 *
 * Built as a ViT encoder + mask token + linear head (not MAE): the encoder
 * keeps the mask tokens, as in the paper. `new MAE({ target: 'meanColor',
 * maskRatio: 0.5 })` is the MAE-style regression variant of the same target.
 * Simplified: every corrupted patch gets the mask token (the paper replaces
 * 80% by it, 10% by a random other patch and keeps 10%); a tiny model, few steps.
 *
 *     npx tsx examples/recipes/vit-masked-patch-prediction.ts [--steps 30] [--backend cpu|wasm]
 */
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import {
  AdamW, Linear, RandomMasker, Rng, VisionTransformer, forwardWithMaskToken, initTensor, maskedCrossEntropy, patchify, trainStep,
} from '../../src/index.js';
import { fashionMnist, joinParams, lossValue, recipeSetup, sampleBatch, trainLoop } from './common.js';

const flags = await recipeSetup('ViT masked patch prediction', { steps: 30, batch: 32, lr: 1e-3 });
const train = await fashionMnist('train', flags.trainSize);
const heldOut = await fashionMnist('test', flags.batch);

const P = 4;
const LEVELS = 8; // 3 bits per channel
const encoder = new VisionTransformer({ imgSize: 32, patchSize: P, inChans: 1, embedDim: 64, depth: 2, numHeads: 4, seed: flags.seed });
const maskToken = tf.variable(initTensor({ kind: 'truncNormal', std: 0.02 }, [1, 1, 64], flags.seed + 2));
const head = new Linear({ inFeatures: 64, outFeatures: LEVELS, seed: flags.seed + 1 });
const masker = new RandomMasker({ maskRatio: 0.5 }); // the paper corrupts 50% of the patches
const params = joinParams({ encoder, head, extra: new Map([['mask_token', maskToken]]) });
const opt = new AdamW(params, { lr: flags.lr, weightDecay: 0.05 });

/** Cross-entropy of the 3-bit mean colour at the masked patches (`mask`: 1 = masked). */
function objective(x: tf.Tensor4D, mask: tf.Tensor2D, training: boolean): tf.Scalar {
  return tf.tidy(() => {
    const level = tf.clipByValue(tf.floor(tf.mul(tf.mean(patchify(x, P), -1), LEVELS)), 0, LEVELS - 1);
    const labels = tf.where(tf.equal(mask, 1), tf.cast(level, 'int32'), tf.fill(mask.shape, -100, 'int32'));
    const tokens = forwardWithMaskToken(encoder, maskToken, x, mask, { training });
    return maskedCrossEntropy(head.forward(tokens), labels); // -100: not a target
  });
}

const rng = new Rng(flags.seed);
trainLoop(
  'vit-masked-patch-prediction',
  flags.steps,
  () => {
    const m = masker.mask(flags.batch, encoder.numPatches, 1); // fixed held-out masks
    const v = lossValue(() => objective(heldOut.images, m.mask, false));
    tf.dispose(m);
    return v;
  },
  () => {
    const { x } = sampleBatch(train, flags.batch, rng);
    const m = masker.mask(flags.batch, encoder.numPatches, rng);
    const { loss } = trainStep(() => objective(x, m.mask, true), params, opt);
    tf.dispose([x, m]);
    return loss;
  },
);
