/**
 * DINO (Caron et al. 2021, "Emerging Properties in Self-Supervised Vision
 * Transformers"): self-distillation without labels. Multi-crop views of each
 * image (2 global crops, 4 small local crops); the student sees all of
 * them, the teacher (an EMA of the student, momentum cosine-scheduled from
 * 0.996 to 1) only the global ones; the student's softmax (temperature 0.1)
 * matches the teacher's centred and sharpened softmax (temperature warmed up
 * 0.04 -> 0.07) across different views (`DINOLoss`).
 *
 * Head: DINO's form, an MLP to a bottleneck, l2-normalisation and a
 * weight-normalised last layer with its norm fixed to 1; the MLP has 2
 * layers (the paper: 3, hidden 2048, 65536 outputs; here 256). Local crops
 * (16 px) use the same patch projection and a bilinearly resized position
 * table (DINO: bicubic). Simplified: grey-image augmentations, 4 local crops
 * (the paper: 8 or 10), a tiny ViT with 8 px patches, each step counted as
 * one "epoch" of the schedules, a few steps. Besides the loss it prints the
 * teacher's entropy and the KL of the student to the teacher (the paper's
 * collapse diagnostics).
 *
 *     npx tsx examples/recipes/dino.ts [--steps 40] [--momentum 0.996] [--k 256] [--backend cpu|wasm]
 */
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import {
  AdamW, DINOLoss, EMA, Linear, Mlp, Rng, VisionTransformer, cosineMomentum, linear, patchify, trainStep,
} from '../../src/index.js';
import { augment, fashionMnist, joinParams, lossValue, recipeSetup, sampleBatch, trainLoop } from './common.js';

// --momentum: the teacher's base EMA momentum; --k: prototypes (DINO's out_dim).
const flags = await recipeSetup('DINO', { steps: 40, batch: 32, lr: 1e-3 }, { momentum: 0.996, k: 256 });
const train = await fashionMnist('train', flags.trainSize);
const heldOut = await fashionMnist('test', flags.batch);

const K = flags.k;
const LOCAL = 4;
const P = 8;
const network = (seed: number) => ({
  vit: new VisionTransformer({ imgSize: 32, patchSize: P, inChans: 1, embedDim: 64, depth: 2, numHeads: 4, seed }),
  mlp: new Mlp({ inFeatures: 64, hiddenFeatures: 128, outFeatures: 32, seed: seed + 1 }),
  last: new Linear({ inFeatures: 32, outFeatures: K, bias: false, seed: seed + 2 }),
});
type Network = ReturnType<typeof network>;
const student = network(flags.seed);
const teacher = network(flags.seed + 100);
const ema = new EMA(joinParams(student, true), joinParams(teacher, true));
ema.update(0); // the teacher starts as a copy of the student
const params = joinParams(student);
const opt = new AdamW(params, { lr: flags.lr, weightDecay: 0.04 });
const dinoConfig = {
  outDim: K, ncrops: 2 + LOCAL, warmupTeacherTemp: 0.04, teacherTemp: 0.07,
  warmupTeacherTempEpochs: Math.floor(flags.steps / 2), nepochs: flags.steps, studentTemp: 0.1,
};
const dino = new DINOLoss(dinoConfig);
const evalDino = new DINOLoss(dinoConfig);
const teacherEntropy: number[] = []; // at each evaluation

/** Class token of the ViT for crops of any size (multiple of the patch): `[N, D]`. */
function classToken(vit: VisionTransformer, x: tf.Tensor4D): tf.Tensor {
  return tf.tidy(() => {
    const g = x.shape[1] / P;
    const [gh, gw] = vit.gridSize;
    let tokens: tf.Tensor3D;
    if (g === gh) tokens = vit.embed(x);
    else {
      const D = vit.config.embedDim;
      const grid = tf.reshape(tf.slice(vit.posEmbed!.read(), [0, 1, 0], [1, gh * gw, D]), [1, gh, gw, D]);
      const pos = tf.reshape(tf.image.resizeBilinear(grid as tf.Tensor4D, [g, g]), [1, g * g, D]);
      const patches = linear(patchify(x, P), vit.patchEmbed.weight.read(), vit.patchEmbed.bias?.read() ?? null);
      tokens = tf.add(patches, pos) as tf.Tensor3D;
    }
    const z = vit.forwardTokens(vit.prependClassToken(tokens)).tokens;
    return tf.squeeze(tf.slice(z, [0, 0, 0], [-1, 1, -1]), [1]);
  });
}

/** DINO head: MLP -> l2-normalise -> last layer with unit-norm weight columns (weight_g = 1). */
function outputs(net: Network, crops: tf.Tensor4D[]): tf.Tensor {
  return tf.tidy(() => {
    const h = net.mlp.forward(tf.concat(crops.map((c) => classToken(net.vit, c)), 0)); // crop-major rows
    const z = tf.div(h, tf.maximum(tf.norm(h, 'euclidean', -1, true), 1e-12));
    const v = net.last.weight.read();
    return linear(z, tf.div(v, tf.sqrt(tf.sum(tf.square(v), 0, true))));
  });
}

/** Mean entropy of the teacher's centred, sharpened distributions (ln K when uniform: collapse). */
function entropy(t: tf.Tensor, epoch: number): number {
  return lossValue(() => {
    const p = tf.softmax(tf.div(tf.sub(t, evalDino.center), evalDino.teacherTempAt(epoch)));
    return tf.neg(tf.mean(tf.sum(tf.mul(p, tf.log(tf.maximum(p, 1e-30))), -1))) as tf.Scalar;
  });
}

/**
 * The DINO loss of one batch at schedule position `epoch`. Training (`step`
 * given) uses the running center and then moves it. The evaluation centres
 * the teacher by this batch's own mean (a separate DINOLoss), so that the
 * numbers before and after training are comparable: the running center
 * starts at zero, which makes the first training losses low and then rise
 * while it catches up with the teacher's mean.
 */
function lossOnCrops(x: tf.Tensor4D, rng: Rng, epoch: number, step?: (f: () => tf.Scalar) => number): number {
  const globals = [0, 1].map(() => augment(x, 32, [0.4, 1], rng));
  const locals = Array.from({ length: LOCAL }, () => augment(x, 16, [0.1, 0.4], rng));
  const t = outputs(teacher, globals); // the teacher sees the global crops only
  const studentLoss = (crit: DINOLoss) => () => crit.call(outputs(student, [...globals, ...locals]), t, epoch);
  let loss: number;
  if (step) {
    loss = step(studentLoss(dino));
    dino.updateCenter(t); // center = 0.9 center + 0.1 batch mean
  } else {
    tf.tidy(() => evalDino.setCenter(tf.mean(t, 0, true)));
    teacherEntropy.push(entropy(t, epoch));
    loss = lossValue(studentLoss(evalDino));
  }
  tf.dispose([...globals, ...locals, t]);
  return loss;
}

const rng = new Rng(flags.seed);
const { start, end } = trainLoop(
  'dino',
  flags.steps,
  () => lossOnCrops(heldOut.images, new Rng(1), flags.steps - 1), // fixed views, final teacher temperature
  (i) => {
    const { x } = sampleBatch(train, flags.batch, rng);
    const loss = lossOnCrops(x, rng, i, (f) => trainStep(f, params, opt, { clipNorm: 3 }).loss);
    ema.update(cosineMomentum(flags.momentum, i + 1, flags.steps));
    x.dispose();
    return loss;
  },
);
// loss = H(teacher) + KL(teacher || student): the student learned to match the
// teacher if KL fell, and it did not collapse if H stayed below ln K.
const [h0, h1] = teacherEntropy as [number, number];
console.log(
  `teacher entropy ${h0.toFixed(3)} -> ${h1.toFixed(3)} (ln K = ${Math.log(K).toFixed(3)}), ` +
    `KL(teacher || student) ${(start - h0).toFixed(3)} -> ${(end - h1).toFixed(3)}`,
);
