/**
 * CLIP (Radford et al. 2021, "Learning Transferable Visual Models From
 * Natural Language Supervision") on Fashion-MNIST with class-name captions
 * ("a photo of a sandal"): the library's `FLIP` model (a `CLIP` whose image
 * tower can drop patches; open_clip's image and text towers, causal text
 * transformer with EOT pooling, learnable log logit scale starting at
 * ln(1/0.07), clamped at ln 100) trained with the symmetric contrastive loss.
 * `--mask 0.5` makes it FLIP (Li et al. 2023, "Scaling Language-Image
 * Pre-training via Masking"): 50% of the image patches are dropped at random
 * in every training step; evaluation sees every patch.
 *
 * Simplified: ten captions (one per class), so each batch holds one image of
 * each of `--batch` distinct classes (CLIP's batches are 32k noisy pairs);
 * word-level tokens (`WordTokenizer`); tiny towers; a few steps.
 *
 *     npx tsx examples/recipes/clip-flip.ts [--steps 80] [--mask 0.5] [--backend cpu|wasm]
 */
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import { AdamW, FLIP, Rng, WordTokenizer, clampLogitScale, trainStep } from '../../src/index.js';
import { fashionMnist, lossValue, recipeSetup, trainLoop, type ImageSet } from './common.js';

const flags = await recipeSetup('CLIP / FLIP', { steps: 80, batch: 10, lr: 2e-3 }, { mask: 0 });
const train = await fashionMnist('train', flags.trainSize);
const heldOut = await fashionMnist('test', 200);
const numClasses = train.classNames.length;
if (flags.batch > numClasses) throw new Error(`--batch must be <= ${numClasses} (one image per distinct caption), got ${flags.batch}`);

const captions = train.classNames.map((n) => `a photo of a ${n.toLowerCase()}`);
const tok = WordTokenizer.fromTexts(captions);
const CTX = 2 + Math.max(...captions.map((c) => tok.encode(c).length)); // start + words + end

const model = new FLIP({
  maskRatio: flags.mask, // 0: plain CLIP
  embedDim: 32,
  vision: { imageSize: 32, patchSize: 4, inChans: 1, width: 64, layers: 2, headWidth: 16 },
  text: { vocabSize: tok.vocabSize, contextLength: CTX, width: 64, heads: 4, layers: 1 },
  seed: flags.seed,
});
const opt = new AdamW(model, { lr: flags.lr, betas: [0.9, 0.98], weightDecay: 0.1 });

/** One image from each of `n` distinct random classes, with their caption ids. */
function pairs(set: ImageSet, n: number, rng: Rng): { x: tf.Tensor4D; ids: tf.Tensor2D } {
  const classes = rng.shuffle([...Array(numClasses).keys()]).slice(0, n);
  const idx = classes.map((c) => {
    const rows = [...set.labels.keys()].filter((i) => set.labels[i] === c);
    return rows[Math.floor(rng.uniform() * rows.length)]!;
  });
  const { ids, padding } = tok.batch(classes.map((c) => captions[c]!), CTX);
  padding.dispose(); // causal text tower: the padding after the end token is never attended to
  return { x: tf.tidy(() => tf.gather(set.images, idx)), ids };
}

const rng = new Rng(flags.seed);
const evalRng = new Rng(1);
const evalBatches = [0, 1, 2, 3].map(() => pairs(heldOut, flags.batch, evalRng)); // fixed held-out pairs
trainLoop(
  flags.mask > 0 ? `clip-flip (mask ${flags.mask})` : 'clip-flip',
  flags.steps,
  () => evalBatches.reduce((sum, b) => sum + lossValue(() => model.loss(b.x, b.ids)), 0) / evalBatches.length,
  () => {
    const { x, ids } = pairs(train, flags.batch, rng);
    const { loss } = trainStep(() => model.loss(x, ids, FLIP.trainingOptions(rng)), model, opt);
    clampLogitScale(model.logitScale); // CLIP: logit scale at most 100
    tf.dispose([x, ids]);
    return loss;
  },
);
console.log(`logit scale exp(s) = ${Math.exp(model.logitScale.read().dataSync()[0]!).toFixed(2)} (started at ${(1 / 0.07).toFixed(2)})`);
