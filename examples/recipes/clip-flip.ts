/**
 * CLIP (Radford et al. 2021, "Learning Transferable Visual Models From
 * Natural Language Supervision") on Fashion-MNIST with class-name captions
 * ("a photo of a sandal"): an image encoder (a small ViT, class token) and a
 * text encoder (token embeddings + a transformer block + mean pooling), both
 * projected and l2-normalised, trained with the symmetric contrastive loss
 * and a learnable log logit scale (initial ln(1/0.07), clamped at ln 100).
 * `--mask 0.5` turns it into FLIP (Li et al. 2023, "Scaling Language-Image
 * Pre-training via Masking"): 50% of the image patches are dropped at
 * random and the image encoder sees only the visible ones.
 *
 * Simplified: ten captions (one per class), so each batch holds one image of
 * each of `--batch` distinct classes (CLIP's batches are 32k noisy pairs);
 * word-level tokens; tiny encoders; a few steps.
 *
 *     npx tsx examples/recipes/clip-flip.ts [--steps 80] [--mask 0.5] [--backend cpu|wasm]
 */
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import {
  AdamW, Block, CLIP_INIT_LOG_LOGIT_SCALE, LayerNorm, Linear, RandomMasker, Rng, VisionTransformer,
  clampLogitScale, clipLoss, gatherTokens, initTensor, trainStep,
} from '../../src/index.js';
import { captionTokens, fashionMnist, joinParams, lossValue, recipeSetup, trainLoop, type ImageSet } from './common.js';

const flags = await recipeSetup('CLIP / FLIP', { steps: 80, batch: 10, lr: 2e-3 }, { mask: 0 });
const train = await fashionMnist('train', flags.trainSize);
const heldOut = await fashionMnist('test', 200);
const numClasses = train.classNames.length;
if (flags.batch > numClasses) throw new Error(`--batch must be <= ${numClasses} (one image per distinct caption), got ${flags.batch}`);

// Captions ("a photo of a t shirt top") as word ids, 0 = padding.
const { vocab, seqLen: SEQ, ids: captionIds } = captionTokens(train.classNames, 'a photo of a {}');

const D = 64;
const E = 32; // joint embedding width
const vit = new VisionTransformer({ imgSize: 32, patchSize: 4, inChans: 1, embedDim: D, depth: 2, numHeads: 4, seed: flags.seed });
const imageProj = new Linear({ inFeatures: D, outFeatures: E, bias: false, seed: flags.seed + 1 });
const wordEmbed = new Linear({ inFeatures: vocab.length, outFeatures: D, bias: false, init: { kind: 'normal', std: 0.02 }, seed: flags.seed + 2 });
const wordPos = tf.variable(initTensor({ kind: 'truncNormal', std: 0.01 }, [1, SEQ, D], flags.seed + 3));
const textBlock = new Block({ dim: D, numHeads: 4, seed: flags.seed + 4 });
const textNorm = new LayerNorm({ dim: D, eps: 1e-5 });
const textProj = new Linear({ inFeatures: D, outFeatures: E, bias: false, seed: flags.seed + 5 });
const logitScale = tf.variable(tf.scalar(CLIP_INIT_LOG_LOGIT_SCALE)); // ln(1/0.07)
const params = joinParams({
  vit, imageProj, wordEmbed, textBlock, textNorm, textProj,
  extra: new Map([['text_pos_embed', wordPos], ['logit_scale', logitScale]]),
});
const opt = new AdamW(params, { lr: flags.lr, betas: [0.9, 0.98], weightDecay: 0.1 });
const masker = flags.mask > 0 ? new RandomMasker({ maskRatio: flags.mask }) : null;

function encodeImages(x: tf.Tensor4D, random: number | Rng): tf.Tensor2D {
  return tf.tidy(() => {
    let tokens = vit.embed(x); // patch tokens + positions, [B, L, D]
    if (masker) {
      const m = masker.mask(x.shape[0], vit.numPatches, random);
      tokens = gatherTokens(tokens, m.idsKeep); // FLIP: only the visible patches enter the encoder
    }
    const z = vit.forwardTokens(vit.prependClassToken(tokens)).tokens;
    return imageProj.forward(tf.squeeze(tf.slice(z, [0, 0, 0], [-1, 1, -1]), [1])) as tf.Tensor2D;
  });
}

function encodeTexts(ids: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const valid = tf.expandDims(tf.cast(tf.notEqual(ids, 0), 'float32'), 2);
    const h = tf.add(wordEmbed.forward(tf.cast(tf.oneHot(ids, vocab.length), 'float32')), wordPos);
    const z = textNorm.forward(textBlock.forward(h).out);
    return textProj.forward(tf.div(tf.sum(tf.mul(z, valid), 1), tf.sum(valid, 1))) as tf.Tensor2D; // mean over words
  });
}

/** One image from each of `n` distinct random classes, with their caption ids. */
function pairs(set: ImageSet, n: number, rng: Rng): { x: tf.Tensor4D; ids: tf.Tensor2D } {
  const classes = rng.shuffle([...Array(numClasses).keys()]).slice(0, n);
  const idx = classes.map((c) => {
    const rows = [...set.labels.keys()].filter((i) => set.labels[i] === c);
    return rows[Math.floor(rng.uniform() * rows.length)]!;
  });
  return { x: tf.tidy(() => tf.gather(set.images, idx)), ids: tf.tensor2d(classes.map((c) => captionIds[c]!), [n, SEQ], 'int32') };
}

function objective(x: tf.Tensor4D, ids: tf.Tensor2D, random: number | Rng): tf.Scalar {
  return tf.tidy(() => clipLoss(encodeImages(x, random), encodeTexts(ids), logitScale, { normalize: true }).loss);
}

const rng = new Rng(flags.seed);
const evalRng = new Rng(1);
const evalBatches = [0, 1, 2, 3].map(() => pairs(heldOut, flags.batch, evalRng)); // fixed held-out pairs
trainLoop(
  flags.mask > 0 ? `clip-flip (mask ${flags.mask})` : 'clip-flip',
  flags.steps,
  () => evalBatches.reduce((sum, b, i) => sum + lossValue(() => objective(b.x, b.ids, i)), 0) / evalBatches.length,
  () => {
    const { x, ids } = pairs(train, flags.batch, rng);
    const { loss } = trainStep(() => objective(x, ids, rng), params, opt);
    clampLogitScale(logitScale); // CLIP: logit scale at most 100
    tf.dispose([x, ids]);
    return loss;
  },
);
console.log(`logit scale exp(s) = ${Math.exp(logitScale.dataSync()[0]!).toFixed(2)} (started at ${(1 / 0.07).toFixed(2)})`);
