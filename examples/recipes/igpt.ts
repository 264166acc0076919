/**
 * iGPT's BERT objective (Chen et al. 2020, "Generative Pretraining from
 * Pixels"): images are downsampled, every pixel is quantised to a colour
 * palette (k-means clusters) and the image becomes a sequence of palette ids;
 * 15% of the tokens are replaced by [MASK] and a transformer predicts their
 * ids (cross-entropy on the masked tokens only).
 *
 * Simplified: 16x16 grey images (2x2 average pooling of the 32 px padded
 * images), a 16-colour palette (iGPT: 512 colours at 32-64 px), a 2-block
 * transformer of width 64, a few steps.
 *
 *     npx tsx examples/recipes/igpt.ts [--steps 20] [--backend cpu|wasm]
 */
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import {
  AdamW, Block, ColorPaletteTokenizer, LayerNorm, Linear, Rng, TextMasker, initTensor, maskedCrossEntropy, trainStep,
} from '../../src/index.js';
import { fashionMnist, joinParams, lossValue, recipeSetup, sampleBatch, trainLoop } from './common.js';

const flags = await recipeSetup('iGPT (BERT objective)', { steps: 20, batch: 8, lr: 1e-3 });
const train = await fashionMnist('train', flags.trainSize, 2); // 16x16
const heldOut = await fashionMnist('test', flags.batch, 2);

// The palette: k-means over the pixel values; each pixel becomes a token id.
const palette = new ColorPaletteTokenizer({ inChans: 1 });
palette.fit(train.images, { k: 16, seed: flags.seed, sampleSize: 20000 });
const K = palette.vocabSize;
const MASK = K; // one extra input id for [MASK]
const T = 16 * 16;
const D = 64;

// Token embedding (a learned table, applied to one-hot ids), learned positions, blocks, head.
const embed = new Linear({ inFeatures: K + 1, outFeatures: D, bias: false, init: { kind: 'normal', std: 0.02 }, seed: flags.seed });
const posEmbed = tf.variable(initTensor({ kind: 'truncNormal', std: 0.02 }, [1, T, D], flags.seed + 1));
const blocks = [0, 1].map((i) => new Block({ dim: D, numHeads: 4, seed: flags.seed + 10 + i }));
const norm = new LayerNorm({ dim: D, eps: 1e-5 });
const head = new Linear({ inFeatures: D, outFeatures: K, seed: flags.seed + 2 });
const params = joinParams({
  embed, 'blocks.0': blocks[0]!, 'blocks.1': blocks[1]!, norm, head, extra: new Map([['pos_embed', posEmbed]]),
});
const opt = new AdamW(params, { lr: flags.lr, betas: [0.9, 0.95], weightDecay: 0.01 });
// iGPT-BERT: each token independently with probability 0.15, always replaced by [MASK].
const masker = new TextMasker({ vocabSize: K + 1, maskTokenId: MASK, maskProb: 0.15, replaceWithMask: 1, replaceWithRandom: 0 });

/** Cross-entropy of the palette ids at the masked positions (labels -100 elsewhere). */
function objective(inputIds: tf.Tensor2D, labels: tf.Tensor2D, training: boolean): tf.Scalar {
  return tf.tidy(() => {
    let h = tf.add(embed.forward(tf.cast(tf.oneHot(inputIds, K + 1), 'float32')), posEmbed);
    for (const blk of blocks) h = blk.forward(h, { training }).out;
    return maskedCrossEntropy(head.forward(norm.forward(h)), labels);
  });
}

/** Palette ids of a batch of images, corrupted by the masker. */
function corrupt(x: tf.Tensor4D, random: number | Rng) {
  const ids = palette.tokenize(x); // int32 [B, 256], raster order
  const m = masker.mask(ids, random);
  ids.dispose();
  return m;
}

const rng = new Rng(flags.seed);
trainLoop(
  'igpt',
  flags.steps,
  () => {
    const m = corrupt(heldOut.images, 1); // fixed held-out masks
    const v = lossValue(() => objective(m.inputIds, m.labels, false));
    tf.dispose(m);
    return v;
  },
  () => {
    const { x } = sampleBatch(train, flags.batch, rng);
    const m = corrupt(x, rng);
    const { loss } = trainStep(() => objective(m.inputIds, m.labels, true), params, opt);
    tf.dispose([x, m]);
    return loss;
  },
);
