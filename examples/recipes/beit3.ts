/**
 * BEiT-3 (Wang et al. 2023, "Image as a Foreign Language: BEiT Pretraining
 * for All Vision and Vision-Language Tasks"): one Multiway Transformer over
 * image patches and text tokens (shared self-attention, vision experts for
 * the patches and language experts for the words), trained only by masked
 * data modeling: block-wise masked image patches (about 40%) predict their
 * visual tokens, masked words (50%, BEiT-3's rate for image-text pairs)
 * predict their ids; loss = the two cross-entropies. All of it is the
 * library's `BEiT3Mdm`; what stays here is the data.
 *
 * Here an image-text pair is a Fashion-MNIST image and its class name
 * ("ankle boot"), so recovering a masked word needs the image. Simplified:
 * a k-means patch codebook as the visual tokenizer (BEiT-3: BEiT v2's),
 * word-level tokens (BEiT-3: SentencePiece), 2 tiny layers, a few steps.
 * `examples/beit3-toy.ts` is the longer demo with accuracies.
 *
 *     npx tsx examples/recipes/beit3.ts [--steps 30] [--backend cpu|wasm]
 */
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import {
  AdamW, BEIT3_NO_WEIGHT_DECAY, BEiT3Mdm, BlockwiseMasker, PatchCodebookTokenizer, Rng, TextMasker, paramGroupsWeightDecay, trainStep,
} from '../../src/index.js';
import { captionTokens, fashionMnist, recipeSetup, sampleBatch, trainLoop } from './common.js';

const flags = await recipeSetup('BEiT-3', { steps: 30, batch: 32, lr: 1e-3 });
const train = await fashionMnist('train', flags.trainSize);
const heldOut = await fashionMnist('test', flags.batch);

const captions = captionTokens(train.classNames); // "t shirt top", "ankle boot", ... (0 = padding)
const MASK = captions.vocab.length; // [MASK] id
const tokenizer = new PatchCodebookTokenizer({ patchSize: 4, inChans: 1 }); // the visual tokenizer
tokenizer.fit(train.images, { k: 64, iterations: 10, seed: flags.seed, sampleSize: 20000 });

const model = new BEiT3Mdm({
  imgSize: 32, patchSize: 4, inChans: 1, embedDim: 64, layers: 2, heads: 4, vocabSize: MASK + 1,
  maxSourcePositions: captions.seqLen + 2, visualVocabSize: tokenizer.vocabSize, seed: flags.seed,
});
const opt = new AdamW(paramGroupsWeightDecay(model, { weightDecay: 0.05, noDecay: BEIT3_NO_WEIGHT_DECAY }), { lr: flags.lr, betas: [0.9, 0.98] });
const imageMasker = new BlockwiseMasker({ height: 8, numMaskingPatches: 26, minNumPatches: 4 });
const textMasker = new TextMasker({ vocabSize: MASK + 1, maskTokenId: MASK, specialTokenIds: [0], maskProb: 0.5, selection: 'exact' });

/** Masked image + masked caption -> BEiT-3's masked data modeling loss (call it inside a tidy). */
function objective(x: tf.Tensor4D, y: Int32Array, random: number | Rng, training: boolean): tf.Scalar {
  const ids = Array.from(y, (c) => captions.ids[c]!);
  const padding = tf.tensor2d(ids.map((row) => row.map((t) => Number(t === 0))), undefined, 'bool');
  const visionMaskedPosition = imageMasker.mask(x.shape[0], random).mask; // [B, L], 1 = masked
  const text = textMasker.mask(ids, random);
  const out = model.forwardMdm(
    { image: x, visionMaskedPosition, visualTokens: tokenizer, text: text.inputIds, textLabels: text.labels, textPaddingPosition: padding },
    { training },
  );
  return out.loss; // the rest is freed by the caller's tidy (trainStep's gradient scope)
}

const rng = new Rng(flags.seed);
trainLoop(
  'beit3',
  flags.steps,
  () => {
    const loss = tf.tidy(() => objective(heldOut.images, heldOut.labels, 1, false)); // fixed held-out masks
    const v = loss.dataSync()[0]!;
    loss.dispose();
    return v;
  },
  () => {
    const { x, y } = sampleBatch(train, flags.batch, rng);
    const { loss } = trainStep(() => objective(x, y, rng, true), model, opt);
    x.dispose();
    return loss;
  },
);
