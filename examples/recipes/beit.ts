/**
 * BEiT (Bao et al. 2022, "BEiT: BERT Pre-Training of Image Transformers"):
 * a visual tokenizer turns each patch into a discrete token; about 40% of the
 * patches are masked block-wise and replaced by a learned mask token; the
 * encoder predicts the visual tokens of the masked patches (cross-entropy).
 *
 * Simplified: the tokenizer is a k-means codebook of 4x4 patches fitted on
 * the training images (`PatchCodebookTokenizer`, 64 tokens) instead of
 * BEiT's pretrained dVAE (8192 tokens); a tiny model, few steps.
 *
 *     npx tsx examples/recipes/beit.ts [--steps 30] [--backend cpu|wasm]
 */
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import { AdamW, BEiT, BlockwiseMasker, PatchCodebookTokenizer, Rng, trainStep } from '../../src/index.js';
import { fashionMnist, lossValue, recipeSetup, sampleBatch, trainLoop } from './common.js';

const flags = await recipeSetup('BEiT', { steps: 30, batch: 32, lr: 1e-3 });
const train = await fashionMnist('train', flags.trainSize);
const heldOut = await fashionMnist('test', flags.batch);

// The visual tokenizer: k-means over the 4x4 patches of the training images.
const tokenizer = new PatchCodebookTokenizer({ patchSize: 4, inChans: 1 });
const fit = tokenizer.fit(train.images, { k: 64, iterations: 10, seed: flags.seed, sampleSize: 20000 });
console.log(`tokenizer: ${tokenizer.vocabSize} visual tokens, k-means inertia ${fit.inertia.toFixed(1)}`);

const beit = new BEiT({
  imgSize: 32, patchSize: 4, inChans: 1, embedDim: 64, depth: 2, numHeads: 4,
  vocabSize: tokenizer.vocabSize, seed: flags.seed,
});
// Block-wise masking of ~40% of the 8x8 patch grid (blocks of at least 4 patches on this small grid; BEiT: 16 on 14x14).
const masker = new BlockwiseMasker({ height: 8, numMaskingPatches: Math.round(0.4 * 64), minNumPatches: 4 });
const opt = new AdamW(beit, { lr: flags.lr, betas: [0.9, 0.999], weightDecay: 0.05 });

/** Mean cross-entropy of the visual tokens at the masked patches. */
function objective(x: tf.Tensor4D, mask: tf.Tensor2D, tokens: tf.Tensor2D, training: boolean): tf.Scalar {
  const out = beit.forward(x, mask, tokens, { training });
  tf.dispose([out.logits, out.labels]);
  return out.loss;
}

const heldOutTokens = tokenizer.tokenize(heldOut.images);
const rng = new Rng(flags.seed);
trainLoop(
  'beit',
  flags.steps,
  () => {
    const m = masker.mask(flags.batch, 1); // fixed held-out masks
    const v = lossValue(() => objective(heldOut.images, m.mask, heldOutTokens, false));
    m.mask.dispose();
    return v;
  },
  () => {
    const { x } = sampleBatch(train, flags.batch, rng);
    const tokens = tokenizer.tokenize(x); // [B, 64] ids, the targets
    const m = masker.mask(flags.batch, rng);
    const { loss } = trainStep(() => objective(x, m.mask, tokens, true), beit, opt);
    tf.dispose([x, tokens, m.mask]);
    return loss;
  },
);
