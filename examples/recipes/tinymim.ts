/**
 * TinyMIM (Ren et al. 2023, "TinyMIM: An Empirical Study of Distilling MIM
 * Pre-trained Models") with the library's `TinyMIM`: a small ViT learns from
 * a larger MIM-pretrained ViT by matching the token relations of the last
 * block, the softmax of the Q-K and the V-V products per head (KL, teacher ||
 * student); the student sees the whole image.
 *
 * Simplified: the teacher is a small MAE (D 96, 3 blocks) pretrained here
 * for `--teacher-steps` steps (TinyMIM: a ViT-B/L MAE after 1600 epochs);
 * the student has D 32, 2 blocks; both have 4 heads; a few steps. After so
 * short a pretraining the teacher's relations are still close to uniform, so
 * the recipe also prints the loss that uniform relations would score.
 *
 *     npx tsx examples/recipes/tinymim.ts [--steps 30] [--teacher-steps 20] [--backend cpu|wasm]
 */
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import { AdamW, MAE, Rng, TinyMIM, VisionTransformer, relationDistillationLoss, trainStep } from '../../src/index.js';
import { fashionMnist, lossValue, recipeSetup, sampleBatch, trainLoop } from './common.js';

const flags = await recipeSetup('TinyMIM', { steps: 30, batch: 32, lr: 1e-3 }, { 'teacher-steps': 20 });
const train = await fashionMnist('train', flags.trainSize);
const heldOut = await fashionMnist('test', flags.batch);
const rng = new Rng(flags.seed);

// 1. The teacher: a larger ViT pretrained as an MAE (75% masking, normalised pixels).
const mae = new MAE({
  imgSize: 32, patchSize: 4, inChans: 1, embedDim: 96, depth: 3, numHeads: 4,
  decoderEmbedDim: 32, decoderDepth: 1, decoderNumHeads: 4, normPixLoss: true, seed: flags.seed,
});
const maeOpt = new AdamW(mae, { lr: 1.5e-3, betas: [0.9, 0.95] });
trainLoop('tinymim teacher (MAE)', flags['teacher-steps'], () => lossValue(() => mae.forward(heldOut.images, { seed: 1 }).loss), () => {
  const { x } = sampleBatch(train, flags.batch, rng);
  const { loss } = trainStep(() => mae.forward(x, { rng }).loss, mae, maeOpt);
  x.dispose();
  return loss;
});

// 2. The student, distilled from the teacher's last block (TinyMIM freezes the teacher).
const student = new VisionTransformer({ imgSize: 32, patchSize: 4, inChans: 1, embedDim: 32, depth: 2, numHeads: 4, seed: flags.seed + 1 });
const model = new TinyMIM(mae.encoder, student);
const opt = new AdamW(model, { lr: flags.lr, weightDecay: 0.05 }); // only the student is trainable

/** The loss of this batch; the teacher's relations are computed outside the gradient tape. */
function distill(x: tf.Tensor4D, step?: (f: () => tf.Scalar) => number): number {
  const teacher = model.teacherRelations(x);
  const f = () => model.forward(x, { teacher }).loss;
  const loss = step ? step(f) : lossValue(f);
  tf.dispose([teacher.qk, teacher.vv]);
  return loss;
}

// For scale: the loss of uniform student relations.
const uniform = (() => {
  const t = model.teacherRelations(heldOut.images);
  const u = tf.fill(t.qk.shape, 1 / t.qk.shape[3]!);
  const v = lossValue(() => relationDistillationLoss({ qk: u, vv: u }, t).loss);
  tf.dispose([t.qk, t.vv, u]);
  return v;
})();
console.log(`held-out loss of uniform relations: ${uniform.toFixed(4)}`);

trainLoop('tinymim', flags.steps, () => distill(heldOut.images), () => {
  const { x } = sampleBatch(train, flags.batch, rng);
  const loss = distill(x, (f) => trainStep(f, model, opt).loss);
  x.dispose();
  return loss;
});
