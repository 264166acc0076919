/**
 * DINO (Caron et al. 2021, "Emerging Properties in Self-Supervised Vision
 * Transformers"): self-distillation without labels, with the library's
 * `DINO` model. Multi-crop views of each image (2 global 32 px crops, 4
 * local 16 px crops whose position table the model resizes bicubically in
 * the graph; crop, flip and brightness/contrast jitter); the student sees
 * all of them, the teacher (an EMA of the student, momentum
 * cosine-scheduled from 0.996 to 1) only the global ones;
 * the student's softmax (temperature 0.1) matches the teacher's centred and
 * sharpened softmax (temperature warmed up 0.04 -> 0.07).
 *
 * Simplified: a tiny ViT with 8 px patches, a 2-layer head to 256
 * prototypes, each step counted as one "epoch" of the schedules, a few
 * steps. Besides the loss it prints the teacher's entropy and the KL of the
 * student to the teacher (the paper's collapse diagnostics). The full
 * example with k-NN evaluation is `examples/dino-fashion-mnist.ts`.
 *
 *     npx tsx examples/recipes/dino.ts [--steps 40] [--momentum 0.996] [--k 256] [--backend cpu|wasm]
 */
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import { AdamW, DINO, DINOLoss, augmentView, Rng, trainStep } from '../../src/index.js';
import { fashionMnist, lossValue, recipeSetup, sampleBatch, trainLoop } from './common.js';

// --momentum: the teacher's base EMA momentum; --k: prototypes (DINO's out_dim).
const flags = await recipeSetup('DINO', { steps: 40, batch: 32, lr: 1e-3 }, { momentum: 0.996, k: 256 });
const train = await fashionMnist('train', flags.trainSize);
const heldOut = await fashionMnist('test', flags.batch);

const LOCAL = 4;
const dino = new DINO({
  imgSize: 32, patchSize: 8, inChans: 1, embedDim: 64, depth: 2, numHeads: 4, dropPathRate: 0,
  outDim: flags.k, headLayers: 2, headHiddenDim: 128, headBottleneckDim: 32, localCropsNumber: LOCAL,
  epochs: flags.steps, warmupTeacherTempEpochs: Math.floor(flags.steps / 2), momentumTeacher: flags.momentum,
  freezeLastLayer: 0, seed: flags.seed,
});
const opt = new AdamW(dino.studentVariables(), { lr: flags.lr, weightDecay: 0.04 });
/** Evaluation centres the teacher by the batch's own mean (see lossOnCrops). */
const evalLoss = new DINOLoss({ ...dino.dinoLoss.config });
const teacherEntropy: number[] = []; // at each evaluation

/**
 * 2 global 32 px and LOCAL local 16 px views (crop, flip, brightness/contrast
 * jitter); DINO's blur and solarisation are left out: at 32 px they leave
 * the views too little in common (the loss stays at ln K).
 */
const views = (x: tf.Tensor4D, rng: Rng): tf.Tensor4D[] => {
  const common = { jitter: { brightness: 0.4, contrast: 0.4, saturation: 0, hue: 0, p: 0.8 }, grayscaleP: 0, blurP: 0, rng };
  return [
    ...[0, 1].map(() => augmentView(x, { size: 32, scale: [0.4, 1], ...common })),
    ...Array.from({ length: LOCAL }, () => augmentView(x, { size: 16, scale: [0.1, 0.4], ...common })),
  ];
};

/** Mean entropy of the teacher's centred, sharpened distributions (ln K when uniform: collapse). */
function entropy(t: tf.Tensor, epoch: number): number {
  return lossValue(() => {
    const p = tf.softmax(tf.div(tf.sub(t, evalLoss.center), evalLoss.teacherTempAt(epoch)));
    return tf.neg(tf.mean(tf.sum(tf.mul(p, tf.log(tf.maximum(p, 1e-30))), -1))) as tf.Scalar;
  });
}

/**
 * The DINO loss of one batch at schedule position `epoch`. Training (`step`
 * given) uses the running center, then moves it and the teacher. The
 * evaluation centres the teacher by this batch's own mean (a separate
 * DINOLoss), so that the numbers before and after training are comparable:
 * the running center starts at zero, which makes the first training losses
 * low and then rise while it catches up with the teacher's mean.
 */
function lossOnCrops(x: tf.Tensor4D, rng: Rng, epoch: number, step?: (f: () => tf.Scalar) => number): number {
  const crops = views(x, rng);
  const t = dino.forwardTeacher(crops.slice(0, 2));
  let loss: number;
  if (step) {
    loss = step(() => dino.loss(dino.forwardCrops(crops, { training: true }), t, epoch));
    dino.updateCenter(t); // center = 0.9 center + 0.1 batch mean
  } else {
    tf.tidy(() => evalLoss.setCenter(tf.mean(t, 0, true)));
    teacherEntropy.push(entropy(t, epoch));
    loss = lossValue(() => evalLoss.call(dino.forwardCrops(crops), t, epoch));
  }
  tf.dispose([...crops, t]);
  return loss;
}

const rng = new Rng(flags.seed);
const { start, end } = trainLoop(
  'dino',
  flags.steps,
  () => lossOnCrops(heldOut.images, new Rng(1), flags.steps - 1), // fixed views, final teacher temperature
  (i) => {
    const { x } = sampleBatch(train, flags.batch, rng);
    const loss = lossOnCrops(x, rng, i, (f) => trainStep(f, dino.studentVariables(i), opt, { clipNorm: 3 }).loss);
    dino.updateTeacher(dino.teacherMomentum(i + 1, flags.steps));
    x.dispose();
    return loss;
  },
);
// loss = H(teacher) + KL(teacher || student): the student learned to match the
// teacher if KL fell, and it did not collapse if H stayed below ln K.
const [h0, h1] = teacherEntropy as [number, number];
console.log(
  `teacher entropy ${h0.toFixed(3)} -> ${h1.toFixed(3)} (ln K = ${Math.log(flags.k).toFixed(3)}), ` +
    `KL(teacher || student) ${(start - h0).toFixed(3)} -> ${(end - h1).toFixed(3)}`,
);
