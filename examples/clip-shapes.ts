/**
 * CLIP and FLIP on a synthetic image-caption set (coloured shapes captioned
 * "a red circle on the left", `examples/lib/shapes.ts`), in Node:
 *
 *     npx tsx examples/clip-shapes.ts                 # defaults (a few minutes on 2 cores, wasm)
 *     npx tsx examples/clip-shapes.ts --quick         # a tiny smoke run
 *     npx tsx examples/clip-shapes.ts --steps 600 --backend cpu
 *
 * Data: 4 colours x 4 shapes x 4 positions = 64 captions. 48 combinations
 * are seen in training; the other 16 occur only in the held-out images
 * (every colour, shape and position, and every pair of them, is seen in
 * training, but not those triples).
 *
 * Models: the library's `CLIP` (image tower: 32 px, patch 4, 64 patches,
 * width 64, 2 blocks; text tower: causal transformer over `WordTokenizer`
 * ids, width 64, 2 blocks; E = 32) and `FLIP`, the same model trained with
 * 50% of the image patches dropped (then a short unmasked tuning phase, as
 * FLIP does). Each batch holds distinct captions (duplicates would be false
 * negatives for the contrastive loss). AdamW, cosine schedule, logit scale
 * clamped at 100.
 *
 * What it prints:
 * - zero-shot accuracy on held-out images of the UNSEEN combinations,
 *   choosing among all 64 captions (chance 1/64 = 1.6%) with CLIP's
 *   zero-shot classifier (each caption encoded by the text tower), and on
 *   held-out images of the seen combinations, for CLIP, FLIP and an
 *   untrained model; also per attribute (colour / shape / position correct);
 * - FLIP's speed-up per training step: time per step at 50% and 75%
 *   masking against 0% (same model and batch, interleaved rounds, after a
 *   warm-up), as ratios measured in this run.
 */
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import {
  AdamW,
  CLIP,
  FLIP,
  Rng,
  WordTokenizer,
  clampLogitScale,
  cosineSchedule,
  trainStep,
  zeroShotClassifier,
  zeroShotLogits,
  type CLIPConfig,
} from '../src/index.js';
import { allCaptions, comboIndex, isHeldOut, makeShapes, NUM_COMBOS, type ShapesSet } from './lib/shapes.js';
import { describeBackend, formatDuration, intFlag, numberFlag, parseBackend, Progress, useBackend } from './lib/runtime.js';

const USAGE = `usage: tsx examples/clip-shapes.ts [options]
  --steps N          training steps of each model (default 400)
  --unmasked N       FLIP's final unmasked tuning steps, within --steps (default 10% of the steps)
  --batch N          pairs per step, distinct captions, <= 48 (default 32)
  --lr X             peak learning rate (default 3e-3)
  --mask X           FLIP's masking ratio in training (default 0.5)
  --eval N           held-out images per split (default 512)
  --timing-rounds N  rounds of the speed measurement (default 3)
  --backend cpu|wasm (default wasm)
  --seed N           (default 0)
  --log-every N      a progress line every N steps when not on a terminal (default 10)
  --quick            a tiny run for tests
  --help`;

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    steps: { type: 'string' }, unmasked: { type: 'string' }, batch: { type: 'string' }, lr: { type: 'string' },
    mask: { type: 'string' }, eval: { type: 'string' }, 'timing-rounds': { type: 'string' }, backend: { type: 'string' },
    seed: { type: 'string' }, 'log-every': { type: 'string' }, quick: { type: 'boolean' }, help: { type: 'boolean' },
  },
  strict: true,
});
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const quick = values.quick === true;
const steps = intFlag('steps', values.steps, quick ? 4 : 400);
const unmasked = intFlag('unmasked', values.unmasked, Math.floor(steps / 10), 0);
const batch = intFlag('batch', values.batch, quick ? 8 : 32, 2);
const lr = numberFlag('lr', values.lr, 3e-3, 0);
const mask = numberFlag('mask', values.mask, 0.5, 0, 0.95);
const evalSize = intFlag('eval', values.eval, quick ? 32 : 512);
const timingRounds = intFlag('timing-rounds', values['timing-rounds'], quick ? 1 : 3);
const backend = parseBackend(values.backend);
const seed = intFlag('seed', values.seed, 0, 0);
const logEvery = intFlag('log-every', values['log-every'], quick ? 1 : 10);
if (batch > 48) throw new Error(`--batch must be <= 48 (the distinct training captions), got ${batch}`);
if (unmasked > steps) throw new Error(`--unmasked must be <= --steps ${steps}, got ${unmasked}`);

await useBackend(backend);
console.log(`clip-shapes on ${await describeBackend()}: ${steps} steps of ${batch} pairs per model`);

// ---- data ------------------------------------------------------------------
const captions = allCaptions();
const tok = WordTokenizer.fromTexts(captions);
const CTX = 2 + Math.max(...captions.map((c) => tok.encode(c).length));
const POOL = quick ? 96 : 1536;
const trainPool = makeShapes({ n: POOL, imgSize: 32, seed: seed * 7 + 1, split: 'train' });
const byCombo = new Map<number, number[]>();
for (let i = 0; i < POOL; i++) {
  const k = comboIndex(trainPool.colour[i]!, trainPool.shape[i]!, trainPool.position[i]!);
  byCombo.set(k, [...(byCombo.get(k) ?? []), i]);
}
const trainCombos = [...byCombo.keys()];
const allIds = tok.batch(captions, CTX);
allIds.padding.dispose();

/** `batch` pairs with distinct captions: image rows of the pool and their caption ids. */
function sampleBatch(rng: Rng): { x: tf.Tensor4D; ids: tf.Tensor2D } {
  const combos = rng.shuffle([...trainCombos]).slice(0, Math.min(batch, trainCombos.length));
  const rows = combos.map((k) => {
    const r = byCombo.get(k)!;
    return r[Math.floor(rng.uniform() * r.length)]!;
  });
  return tf.tidy(() => ({
    x: tf.gather(trainPool.images, rows) as tf.Tensor4D,
    ids: tf.gather(allIds.ids, combos) as tf.Tensor2D,
  }));
}

// ---- models ----------------------------------------------------------------
const CONFIG: CLIPConfig = {
  embedDim: 32,
  vision: { imageSize: 32, patchSize: 4, width: 64, layers: 2, headWidth: 32 },
  text: { vocabSize: tok.vocabSize, contextLength: CTX, width: 64, heads: 2, layers: 2 },
  seed,
};

/** Zero-shot accuracy (%) of `model` on a set: caption, colour, shape, position correct. */
function zeroShot(model: CLIP, set: ShapesSet): { caption: number; colour: number; shape: number; position: number } {
  const cls = zeroShotClassifier(model, tok, captions, ['{}']);
  const n = set.images.shape[0];
  const pred = new Int32Array(n);
  for (let s = 0; s < n; s += 128) {
    const p = tf.tidy(() => {
      const x = tf.slice(set.images, [s, 0, 0, 0], [Math.min(128, n - s), -1, -1, -1]);
      return tf.argMax(zeroShotLogits(model, x, cls), 1);
    });
    pred.set(p.dataSync() as Int32Array, s);
    p.dispose();
  }
  cls.dispose();
  let caption = 0, colour = 0, shape = 0, position = 0;
  for (let i = 0; i < n; i++) {
    const k = pred[i]!;
    const [c, sh, po] = [Math.floor(k / 16), Math.floor(k / 4) % 4, k % 4];
    caption += Number(k === comboIndex(set.colour[i]!, set.shape[i]!, set.position[i]!));
    colour += Number(c === set.colour[i]);
    shape += Number(sh === set.shape[i]);
    position += Number(po === set.position[i]);
  }
  const pct = (v: number) => (100 * v) / n;
  return { caption: pct(caption), colour: pct(colour), shape: pct(shape), position: pct(position) };
}

function trainModel(label: string, model: CLIP, maskRatio: number): number {
  const opt = new AdamW(model, { lr, betas: [0.9, 0.98], weightDecay: 0.1 });
  const sched = cosineSchedule({ baseLr: lr, totalSteps: steps, warmupSteps: Math.max(1, Math.floor(steps / 20)) });
  const rng = new Rng(seed + 11);
  const progress = new Progress(steps, { label, every: logEvery });
  const t0 = performance.now();
  let last = NaN;
  for (let i = 0; i < steps; i++) {
    const { x, ids } = sampleBatch(rng);
    const ratio = maskRatio > 0 && i < steps - unmasked ? maskRatio : 0; // FLIP: masked, then unmasked tuning
    const opts = ratio > 0 ? FLIP.trainingOptions(rng, ratio) : {};
    last = trainStep(() => model.loss(x, ids, opts), model, opt, { lr: sched(i) }).loss;
    clampLogitScale(model.logitScale);
    tf.dispose([x, ids]);
    if (!Number.isFinite(last)) throw new Error(`${label}: loss became ${last} at step ${i + 1}`);
    progress.update(i + 1, { loss: last.toFixed(4), ...(maskRatio > 0 ? { mask: ratio.toFixed(2) } : {}) });
  }
  progress.finish();
  opt.dispose();
  return (performance.now() - t0) / 1000;
}

// ---- FLIP's speed-up per step ----------------------------------------------
/** Seconds per training step at each masking ratio, interleaved so the machine's load hits every ratio alike. */
function timeSteps(ratios: number[]): number[] {
  const model = new FLIP({ ...CONFIG, maskRatio: 0.5 });
  const opt = new AdamW(model, { lr: 1e-4 });
  const rng = new Rng(99);
  const totals = ratios.map(() => 0);
  const step = (r: number) => {
    const { x, ids } = sampleBatch(rng);
    const t = performance.now();
    trainStep(() => model.loss(x, ids, r > 0 ? FLIP.trainingOptions(rng, r) : {}), model, opt);
    const dt = performance.now() - t;
    tf.dispose([x, ids]);
    return dt / 1000;
  };
  for (const r of ratios) step(r); // warm-up (kernel compilation, allocation)
  for (let k = 0; k < timingRounds; k++) {
    ratios.forEach((r, j) => (totals[j]! += step(r)));
    console.log(`timing round ${k + 1}/${timingRounds}: ${ratios.map((r, j) => `mask ${r}: ${((1000 * totals[j]!) / (k + 1)).toFixed(0)} ms/step`).join(', ')}`);
  }
  opt.dispose();
  model.dispose();
  return totals.map((t) => t / timingRounds);
}

const ratios = [0, 0.5, 0.75];
const perStep = timeSteps(ratios);

// ---- train and evaluate ----------------------------------------------------
const heldUnseen = makeShapes({ n: evalSize, imgSize: 32, seed: seed * 7 + 2, split: 'heldout' });
const heldSeen = makeShapes({ n: evalSize, imgSize: 32, seed: seed * 7 + 3, split: 'train' });
const untrained = new CLIP(CONFIG);
const base = { unseen: zeroShot(untrained, heldUnseen), seen: zeroShot(untrained, heldSeen) };
untrained.dispose();

const clip = new CLIP(CONFIG);
const clipSecs = trainModel('clip', clip, 0);
const clipAcc = { unseen: zeroShot(clip, heldUnseen), seen: zeroShot(clip, heldSeen) };
const flip = new FLIP({ ...CONFIG, maskRatio: mask });
const flipSecs = trainModel(`flip (mask ${mask})`, flip, mask);
const flipAcc = { unseen: zeroShot(flip, heldUnseen), seen: zeroShot(flip, heldSeen) };

const f = (v: number) => `${v.toFixed(1)}%`.padStart(6);
console.log('');
console.log(`zero-shot accuracy among all ${NUM_COMBOS} captions (chance ${(100 / NUM_COMBOS).toFixed(1)}%), ${evalSize} held-out images each:`);
console.log('model                  | unseen combos: caption colour  shape   position | seen combos: caption | train time');
for (const [name, acc, secs] of [
  ['untrained', base, NaN],
  ['CLIP', clipAcc, clipSecs],
  [`FLIP (mask ${mask})`, flipAcc, flipSecs],
] as const) {
  const u = acc.unseen;
  console.log(
    `${name.padEnd(22)} | ${f(u.caption)}        ${f(u.colour)} ${f(u.shape)} ${f(u.position)}   | ${f(acc.seen.caption)}      | ${Number.isNaN(secs) ? '-' : formatDuration(secs)}`,
  );
}
console.log('');
console.log(`FLIP speed-up per training step (${batch} pairs, ${timingRounds} interleaved rounds after a warm-up):`);
ratios.forEach((r, j) => {
  console.log(`  mask ${r.toFixed(2)}: ${(1000 * perStep[j]!).toFixed(0)} ms/step  speed-up x${(perStep[0]! / perStep[j]!).toFixed(2)}`);
});
const unseenCheck = heldUnseen.colour.every((c, i) => isHeldOut(c, heldUnseen.shape[i]!, heldUnseen.position[i]!));
if (!unseenCheck) throw new Error('held-out split contains a training combination');
tf.dispose([trainPool.images, heldUnseen.images, heldSeen.images, allIds.ids]);
clip.dispose();
flip.dispose();
