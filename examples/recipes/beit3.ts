/**
 * BEiT-3 (Wang et al. 2023, "Image as a Foreign Language: BEiT Pretraining
 * for All Vision and Vision-Language Tasks"): one Multiway Transformer over
 * image patches and text tokens (shared self-attention, a vision FFN expert
 * for the patches and a language FFN expert for the words), trained only by
 * masked data modeling: block-wise masked image patches (about 40%) predict
 * their visual tokens, masked words (50%, BEiT-3's rate for image-text
 * pairs) predict their ids; loss = the two cross-entropies.
 *
 * Here an image-text pair is a Fashion-MNIST image and its class name
 * ("ankle boot"), so recovering a masked word needs the image. Simplified:
 * a k-means patch codebook as the visual tokenizer (BEiT-3: BEiT v2's),
 * word-level tokens (BEiT-3: SentencePiece), no vision-language expert, no
 * class token, 2 tiny layers, a few steps.
 *
 *     npx tsx examples/recipes/beit3.ts [--steps 30] [--backend cpu|wasm]
 */
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import {
  AdamW, BlockwiseMasker, LayerNorm, Linear, Multiway, MultiwayBlock, PatchCodebookTokenizer, PatchEmbed, Rng,
  TextMasker, initTensor, maskedCrossEntropy, trainStep,
} from '../../src/index.js';
import { captionTokens, fashionMnist, joinParams, recipeSetup, sampleBatch, trainLoop } from './common.js';

const flags = await recipeSetup('BEiT-3', { steps: 30, batch: 32, lr: 1e-3 });
const train = await fashionMnist('train', flags.trainSize);
const heldOut = await fashionMnist('test', flags.batch);

const captions = captionTokens(train.classNames); // "t shirt top", "ankle boot", ... (0 = padding)
const MASK = captions.vocab.length; // [MASK] id
const VT = MASK + 1; // text vocabulary
const tokenizer = new PatchCodebookTokenizer({ patchSize: 4, inChans: 1 }); // the visual tokenizer
tokenizer.fit(train.images, { k: 64, iterations: 10, seed: flags.seed, sampleSize: 20000 });

const D = 64;
const L = 64; // 8x8 patches of 4 px
const T = captions.seqLen;
const param = (shape: number[], seed: number) => tf.variable(initTensor({ kind: 'truncNormal', std: 0.02 }, shape, seed));
const patchEmbed = new PatchEmbed({ imgSize: 32, patchSize: 4, inChans: 1, embedDim: D, seed: flags.seed });
const wordEmbed = new Linear({ inFeatures: VT, outFeatures: D, bias: false, init: { kind: 'normal', std: 0.02 }, seed: flags.seed + 1 });
const blocks = [0, 1].map((i) => new MultiwayBlock({ embedDim: D, heads: 4, seed: flags.seed + 10 + i }));
const norm = new Multiway<LayerNorm>({ create: (_e, seed) => new LayerNorm({ dim: D, eps: 1e-5, seed }) });
const imageHead = new Linear({ inFeatures: D, outFeatures: tokenizer.vocabSize, seed: flags.seed + 2 });
const textHead = new Linear({ inFeatures: D, outFeatures: VT, seed: flags.seed + 3 });
const [imagePos, textPos, maskToken] = [param([1, L, D], flags.seed + 4), param([1, T, D], flags.seed + 5), param([1, 1, D], flags.seed + 6)];
const extra = new Map([['image_pos_embed', imagePos], ['text_pos_embed', textPos], ['mask_token', maskToken]]);
const params = joinParams({ patchEmbed, wordEmbed, 'blocks.0': blocks[0]!, 'blocks.1': blocks[1]!, norm, imageHead, textHead, extra });
const opt = new AdamW(params, { lr: flags.lr, betas: [0.9, 0.98], weightDecay: 0.05 });
const imageMasker = new BlockwiseMasker({ height: 8, numMaskingPatches: Math.round(0.4 * L), minNumPatches: 4 });
const textMasker = new TextMasker({ vocabSize: VT, maskTokenId: MASK, specialTokenIds: [0], maskProb: 0.5, selection: 'exact' });

/** Masked image + masked text -> [image loss, text loss] (cross-entropy at the masked positions). */
function objective(x: tf.Tensor4D, y: Int32Array, random: number | Rng): [tf.Scalar, tf.Scalar] {
  const imageMask = imageMasker.mask(x.shape[0], random).mask; // [B, L], 1 = masked
  const text = textMasker.mask(Array.from(y, (c) => captions.ids[c]!), random);
  const visual = tokenizer.tokenize(x); // [B, L] visual tokens, the image targets
  const out = tf.tidy(() => {
    const w = tf.expandDims(imageMask, 2);
    const img = tf.add(tf.add(tf.mul(patchEmbed.forward(x), tf.sub(1, w)), tf.mul(maskToken, w)), imagePos);
    const txt = tf.add(wordEmbed.forward(tf.cast(tf.oneHot(text.inputIds, VT), 'float32')), textPos);
    let h: tf.Tensor = tf.concat([img, txt], 1); // image tokens [0, L) -> vision experts, words -> language experts
    for (const blk of blocks) h = blk.forward(h, { splitPosition: L }).out;
    const [hi, ht] = tf.split(norm.forward(h, L), [L, T], 1);
    const imageLabels = tf.where(tf.equal(imageMask, 1), visual, tf.fill(imageMask.shape, -100, 'int32'));
    return [maskedCrossEntropy(imageHead.forward(hi!), imageLabels), maskedCrossEntropy(textHead.forward(ht!), text.labels)];
  });
  tf.dispose([imageMask, visual, text]);
  return out as [tf.Scalar, tf.Scalar];
}

const rng = new Rng(flags.seed);
trainLoop(
  'beit3',
  flags.steps,
  () => {
    const [mim, mlm] = objective(heldOut.images, heldOut.labels, 1); // fixed held-out masks
    const [vi, vt] = [mim.dataSync()[0]!, mlm.dataSync()[0]!];
    console.log(`  masked image modeling ${vi.toFixed(4)}, masked language modeling ${vt.toFixed(4)}`);
    tf.dispose([mim, mlm]);
    return vi + vt;
  },
  () => {
    const { x, y } = sampleBatch(train, flags.batch, rng);
    const { loss } = trainStep(() => tf.add(...objective(x, y, rng)) as tf.Scalar, params, opt);
    x.dispose();
    return loss;
  },
);
