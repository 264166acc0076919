/**
 * BEiT-3 masked data modeling (Wang et al. 2023, "Image as a Foreign
 * Language") on a synthetic image-caption set, in Node, on the WASM backend
 * by default:
 *
 *     npx tsx examples/beit3-toy.ts                 # defaults (a few minutes on 2 cores)
 *     npx tsx examples/beit3-toy.ts --steps 40      # a quick smoke run
 *     npx tsx examples/beit3-toy.ts --backend cpu --steps 800
 *
 * Data (`examples/lib/shapes.ts`): 32 px images of one coloured shape,
 * captioned "a red circle on the left"; a quarter of the colour-shape-position
 * combinations occur only in the held-out split, so every figure below is on
 * combinations never seen in training.
 *
 * Model: the library's `BEiT3Mdm` (a Multiway Transformer, D 64 x 4 layers x
 * 4 heads, patch 8 by default: 16 patches and 10 text positions per pair), trained as BEiT-3 is on image-text pairs: 40% of the
 * patches masked block-wise predict their visual tokens (a k-means patch
 * codebook stands in for BEiT v2's tokenizer), 50% of the caption's words
 * masked predict the word (a word vocabulary stands in for SentencePiece);
 * loss = the sum of the two cross-entropies; AdamW (betas 0.9/0.98, weight
 * decay 0.05, BEiT-3's no-decay list), warm-up and cosine decay. One
 * departure from torchscale's initialisation: the position tables start at
 * trunc_normal(0.02) instead of N(0, 1) (see below).
 *
 * Reports, on held-out pairs under fixed masks (every masked word replaced
 * by [MASK]): masked visual-token accuracy against always predicting the
 * most frequent training token; masked-word accuracy against the most
 * frequent masked training word; accuracy on the attribute words (colour,
 * shape, position: only the image or the rest of the caption can tell them)
 * against chance (1 in 4); and the same with every caption paired with
 * another image of the batch, which shows how much of it the image supplies.
 */
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import {
  AdamW,
  BEIT3_NO_WEIGHT_DECAY,
  BEiT3Mdm,
  BlockwiseMasker,
  PatchCodebookTokenizer,
  Rng,
  TextMasker,
  WordTokenizer,
  cosineSchedule,
  initTensor,
  paramGroupsWeightDecay,
  trainStep,
} from '../src/index.js';
import { COLOURS, POSITIONS, SHAPES, allCaptions, makeShapes } from './lib/shapes.js';
import { describeBackend, formatDuration, intFlag, numberFlag, parseBackend, useBackend } from './lib/runtime.js';

const { values } = parseArgs({
  options: {
    steps: { type: 'string' },
    batch: { type: 'string' },
    lr: { type: 'string' },
    'train-size': { type: 'string' },
    'eval-size': { type: 'string' },
    'visual-vocab': { type: 'string' },
    patch: { type: 'string' },
    seed: { type: 'string' },
    backend: { type: 'string' },
  },
});
const steps = intFlag('steps', values.steps, 600);
const batch = intFlag('batch', values.batch, 32);
const lr = numberFlag('lr', values.lr, 2e-3, 1e-6, 1);
const trainSize = intFlag('train-size', values['train-size'], 2048);
const evalSize = intFlag('eval-size', values['eval-size'], 256);
const K = intFlag('visual-vocab', values['visual-vocab'], 32, 2);
const P = intFlag('patch', values.patch, 8, 2);
if (32 % P !== 0 || 32 / P < 2) throw new Error(`--patch must divide 32 and be at most 16, got ${P}`);
const GRID = 32 / P;
const seed = intFlag('seed', values.seed, 0, 0);
await useBackend(parseBackend(values.backend));
console.log(`beit3-toy: backend ${await describeBackend()}, ${steps} steps of ${batch} image-caption pairs`);

const CONTEXT = 10; // <start> + 6 words + <end> + 2 padding
const EVAL_BATCH = 64;
const train = makeShapes({ n: trainSize, split: 'train', seed });
const heldOut = makeShapes({ n: evalSize, split: 'heldout', seed: seed + 1 });

// Words: the caption vocabulary plus a [MASK] id after it.
const words = WordTokenizer.fromTexts(allCaptions());
const MASK = words.vocabSize;
const V = words.vocabSize + 1;
const special = [words.padTokenId, words.sotTokenId, words.eotTokenId];
const attributeIds = new Set([...COLOURS, ...SHAPES, ...POSITIONS].map((w) => words.encode(w)[0]!));

// Visual tokens: a k-means codebook of the training images' P x P patches.
const tokenizer = new PatchCodebookTokenizer({ patchSize: P, inChans: 3 });
tokenizer.fit(train.images, { k: K, iterations: 15, seed, sampleSize: 20000 });

const model = new BEiT3Mdm({
  imgSize: 32, patchSize: P, embedDim: 64, layers: 4, heads: 4, ffnDim: 256,
  vocabSize: V, maxSourcePositions: CONTEXT + 2, visualVocabSize: K, dropPathRate: 0.1, seed,
});
// torchscale draws both position tables from N(0, 1) (PyTorch's nn.Embedding
// default), which at this width drowns the patch and word embeddings (std
// about 0.1) for many steps; this short run starts them at BEiT's
// trunc_normal(0.02) instead.
for (const w of [model.beit3.visionPositions, model.beit3.textPositions]) {
  const t = initTensor({ kind: 'truncNormal', std: 0.02 }, w.shape as number[], seed + 7);
  w.write(t);
  t.dispose();
}
console.log(`model: ${model.countParams()} parameters; visual vocabulary ${K}, word vocabulary ${V}`);

const imageMasker = new BlockwiseMasker({ height: GRID, numMaskingPatches: Math.round(0.4 * GRID * GRID), minNumPatches: Math.max(1, Math.round(GRID * GRID / 16)) });
const textMasker = new TextMasker({ vocabSize: V, maskTokenId: MASK, specialTokenIds: special, maskProb: 0.5, selection: 'exact' });
const evalTextMasker = new TextMasker({
  vocabSize: V, maskTokenId: MASK, specialTokenIds: special, maskProb: 0.5, selection: 'exact', replaceWithMask: 1, replaceWithRandom: 0,
});

/** Rows `idx` of the set: images, caption ids and padding. */
function take(set: ReturnType<typeof makeShapes>, idx: number[]) {
  const image = tf.tidy(() => tf.gather(set.images, tf.tensor1d(idx, 'int32')) as tf.Tensor4D);
  const text = words.batch(idx.map((i) => set.captions[i]!), CONTEXT);
  return { image, text };
}

// Baselines from the training set: the most frequent visual token and masked word.
const trainTokens = tokenizer.tokenize(train.images);
const tokenCounts = new Array<number>(K).fill(0);
for (const t of trainTokens.dataSync()) tokenCounts[t]!++;
trainTokens.dispose();
const majorityToken = tokenCounts.indexOf(Math.max(...tokenCounts));
const wordCounts = new Map<number, number>();
for (const c of train.captions) for (const w of words.encode(c)) wordCounts.set(w, (wordCounts.get(w) ?? 0) + 1);
const majorityWord = [...wordCounts].sort((a, b) => b[1] - a[1])[0]![0];

// Fixed held-out masks, drawn once.
const evalRng = new Rng(seed + 1000);
const evalBatches = Array.from({ length: Math.ceil(evalSize / EVAL_BATCH) }, (_, k) => {
  const idx = Array.from({ length: Math.min(EVAL_BATCH, evalSize - k * EVAL_BATCH) }, (_, i) => k * EVAL_BATCH + i);
  const { image, text } = take(heldOut, idx);
  const visionMaskedPosition = imageMasker.mask(idx.length, evalRng).mask;
  const masked = evalTextMasker.mask(text.ids, evalRng);
  tf.dispose([text.ids, masked.mask]);
  return { image, text: masked.inputIds, textLabels: masked.labels, textPaddingPosition: text.padding, visionMaskedPosition };
});

type Counts = { imgHit: number; imgBase: number; imgN: number; fgHit: number; fgN: number; txtHit: number; txtBase: number; txtN: number; attrHit: number; attrN: number };

/** Masked-token accuracies on the held-out pairs; `shuffle` pairs each caption with the next image of its batch. */
function evaluate(shuffle = false): Counts {
  const c: Counts = { imgHit: 0, imgBase: 0, imgN: 0, fgHit: 0, fgN: 0, txtHit: 0, txtBase: 0, txtN: 0, attrHit: 0, attrN: 0 };
  for (const b of evalBatches) {
    const image = shuffle ? tf.tidy(() => tf.concat([tf.slice(b.image, [1]), tf.slice(b.image, [0], [1])]) as tf.Tensor4D) : b.image;
    const out = model.forwardMdm({ ...b, image, visualTokens: tokenizer });
    const [ip, il, tp, tl] = tf.tidy(() => [tf.argMax(out.imageLogits!, 1), out.imageLabels!, tf.argMax(out.textLogits!, 1), out.textLabels!]);
    const [ipa, ila, tpa, tla] = [ip!.dataSync(), il!.dataSync(), tp!.dataSync(), tl!.dataSync()];
    for (let i = 0; i < ila.length; i++) {
      c.imgHit += Number(ipa[i] === ila[i]);
      c.imgBase += Number(ila[i] === majorityToken);
      if (ila[i] !== majorityToken) {
        c.fgHit += Number(ipa[i] === ila[i]);
        c.fgN++;
      }
    }
    c.imgN += ila.length;
    for (let i = 0; i < tla.length; i++) {
      c.txtHit += Number(tpa[i] === tla[i]);
      c.txtBase += Number(tla[i] === majorityWord);
      if (attributeIds.has(tla[i]!)) {
        c.attrHit += Number(tpa[i] === tla[i]);
        c.attrN++;
      }
    }
    c.txtN += tla.length;
    tf.dispose([out, ip!, tp!]);
    if (shuffle) image.dispose();
  }
  return c;
}

const pct = (a: number, n: number) => `${((100 * a) / Math.max(n, 1)).toFixed(1)}%`;
function report(label: string): void {
  const c = evaluate();
  const s = evaluate(true);
  console.log(
    `${label}: held-out masked visual tokens ${pct(c.imgHit, c.imgN)} (most frequent token ${pct(c.imgBase, c.imgN)}; ` +
      `on the other tokens ${pct(c.fgHit, c.fgN)}, chance ${pct(1, K - 1)}), ` +
      `masked words ${pct(c.txtHit, c.txtN)} (most frequent word ${pct(c.txtBase, c.txtN)}), ` +
      `attribute words ${pct(c.attrHit, c.attrN)} (chance 25.0%; with another image ${pct(s.attrHit, s.attrN)})`,
  );
}

report('before training');
const opt = new AdamW(paramGroupsWeightDecay(model, { weightDecay: 0.05, noDecay: BEIT3_NO_WEIGHT_DECAY }), { lr, betas: [0.9, 0.98] });
const schedule = cosineSchedule({ baseLr: lr, minLr: lr / 20, warmupSteps: Math.max(1, Math.round(0.05 * steps)), totalSteps: steps });
const rng = new Rng(seed + 1);
const start = performance.now();
let lastPrint = start;
let avg = { img: 0, txt: 0, n: 0 };
for (let step = 1; step <= steps; step++) {
  const idx = Array.from({ length: batch }, () => rng.randint(0, trainSize - 1));
  const { image, text } = take(train, idx);
  const visionMaskedPosition = imageMasker.mask(batch, rng).mask;
  const masked = textMasker.mask(text.ids, rng);
  const visualTokens = tokenizer.tokenize(image);
  let parts = [0, 0];
  trainStep(
    () => {
      const out = model.forwardMdm(
        { image, visionMaskedPosition, visualTokens, text: masked.inputIds, textLabels: masked.labels, textPaddingPosition: text.padding },
        { training: true, rng },
      );
      parts = [out.imageLoss!, out.textLoss!].map((l) => l.dataSync()[0]!);
      return out.loss;
    },
    model,
    opt,
    { lr: schedule(step - 1), clipNorm: 3 },
  );
  tf.dispose([image, text, visionMaskedPosition, masked, visualTokens]);
  avg = { img: avg.img + parts[0]!, txt: avg.txt + parts[1]!, n: avg.n + 1 };
  const now = performance.now();
  if (now - lastPrint > 5000 || step === steps) {
    const rate = step / ((now - start) / 1000);
    console.log(
      `step ${step}/${steps}  image loss ${(avg.img / avg.n).toFixed(3)}  text loss ${(avg.txt / avg.n).toFixed(3)}  ` +
        `${rate.toFixed(2)} steps/s  eta ${formatDuration((steps - step) / rate)}  tensors ${tf.memory().numTensors}`,
    );
    lastPrint = now;
    avg = { img: 0, txt: 0, n: 0 };
  }
}
report(`after ${steps} steps (${formatDuration((performance.now() - start) / 1000)})`);
opt.dispose();
tf.dispose(evalBatches);
tf.dispose([train.images, heldOut.images]);
tokenizer.dispose();
model.dispose();
