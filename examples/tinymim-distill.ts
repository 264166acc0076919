/**
 * TinyMIM relation distillation on the shipped Fashion-MNIST (Ren et al.
 * 2023, "TinyMIM: An Empirical Study of Distilling MIM Pre-trained Models"):
 * an MAE-pretrained ViT (the teacher) is distilled into a smaller ViT by
 * matching the Q-K and V-V relations of their last blocks (the library's
 * `TinyMIM`), and the student's k-NN accuracy is compared with the same
 * student pretrained as an MAE itself for the same steps ("without
 * distillation"), the student at its initial weights, the teacher, and raw
 * pixels.
 *
 *     npx tsx examples/tinymim-distill.ts                  # defaults (a few minutes)
 *     npx tsx examples/tinymim-distill.ts --quick          # a smoke run
 *     npx tsx examples/tinymim-distill.ts --teacher-ckpt out/teacher.safetensors --steps 300
 *
 * The teacher: an MAE (32 px, patch 4, D 96 x 4 blocks x 4 heads, decoder
 * 64 x 1, 75% masking, norm-pix) pretrained here for `--teacher-steps`, or
 * loaded from `--teacher-ckpt` when that file exists (it is written after
 * pretraining, so a second run skips it). The student: D 48 x 3 blocks x 4
 * heads (the teacher's head count, so the relation maps align). Both student
 * runs see the same batches in the same order, with AdamW and the same
 * learning rate schedule; the MAE baseline uses the teacher's MAE recipe.
 * Probe: cosine k-NN (k 20) on the mean patch token, no training.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import {
  AdamW, MAE, Rng, TinyMIM, VisionTransformer, cosineSchedule, deriveSeed, loadWeights, maeConverter, saveWeights, trainStep,
  type MAEConfig,
} from '../src/index.js';
import { loadFashionMnist, type FashionMnistData } from './lib/fashion-mnist.js';
import { encoderFeatures, knnAccuracy } from './lib/knn.js';
import { describeBackend, formatDuration, intFlag, numberFlag, parseBackend, useBackend } from './lib/runtime.js';

const USAGE = `usage: tsx examples/tinymim-distill.ts [options]
  --teacher-steps N  MAE pretraining steps of the teacher (default 100)
  --steps N          training steps of each student run (default 80)
  --batch N          images per step (default 64)
  --lr X             student peak learning rate (default 1e-3)
  --train-size N     training images, of 10000 (default 4096)
  --probe-train N    k-NN reference images (default 1000)
  --probe-test N     k-NN held-out images (default 500)
  --teacher-ckpt P   load the teacher MAE from P if it exists, else pretrain and save it there
                     (default out/tinymim-teacher-mae.safetensors; '' to neither load nor save)
  --backend cpu|wasm (default wasm)
  --seed N           (default 0)
  --quick            a tiny run for tests
  --help`;

const TEACHER: MAEConfig = {
  imgSize: 32, patchSize: 4, inChans: 1, embedDim: 96, depth: 4, numHeads: 4,
  decoderEmbedDim: 64, decoderDepth: 1, decoderNumHeads: 4, maskRatio: 0.75, normPixLoss: true,
};
const STUDENT = { imgSize: 32, patchSize: 4, inChans: 1, embedDim: 48, depth: 3, numHeads: 4 } as const;

/** Prints a line at most every 5 s (and the first and last step). */
function progress(label: string, total: number): (step: number, fields: string) => void {
  const t0 = performance.now();
  let last = 0;
  return (step, fields) => {
    const t = performance.now();
    if (step === 1 || step === total || t - last >= 5000) {
      last = t;
      console.log(`${label} ${step}/${total}  ${fields}  ${(step / ((t - t0) / 1000)).toFixed(2)} steps/s`);
    }
  };
}

/** Batches of `batch` indices, the same sequence for every run with the same seed. */
function batchOrder(n: number, batch: number, steps: number, seed: number): number[][] {
  const rng = new Rng(seed);
  const out: number[][] = [];
  let pool: number[] = [];
  for (let s = 0; s < steps; s++) {
    if (pool.length < batch) pool = pool.concat(rng.shuffle([...Array(n).keys()]));
    out.push(pool.splice(0, batch));
  }
  return out;
}

function gatherBatch(images: tf.Tensor4D, idx: number[]): tf.Tensor4D {
  return tf.tidy(() => tf.gather(images, idx)) as tf.Tensor4D;
}

/** MAE pretraining of `mae` for the given batches (MAE's recipe: AdamW 0.9/0.95, wd 0.05, warm-up + cosine). */
function trainMae(label: string, mae: MAE, images: tf.Tensor4D, order: number[][], lr: number, seed: number): number {
  const opt = new AdamW(mae, { lr, betas: [0.9, 0.95], weightDecay: 0.05 });
  const schedule = cosineSchedule({ baseLr: lr, warmupSteps: Math.round(0.1 * order.length), totalSteps: order.length + 1 });
  const rng = new Rng(deriveSeed(seed, `${label} masks`));
  const log = progress(label, order.length);
  let loss = NaN;
  order.forEach((idx, s) => {
    const x = gatherBatch(images, idx);
    loss = trainStep(() => mae.forward(x, { rng, training: true }).loss, mae, opt, { lr: schedule(s + 1) }).loss;
    x.dispose();
    if (!Number.isFinite(loss)) throw new Error(`${label}: loss became ${loss} at step ${s + 1}`);
    log(s + 1, `loss ${loss.toFixed(4)}`);
  });
  opt.dispose();
  return loss;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'teacher-steps': { type: 'string' }, steps: { type: 'string' }, batch: { type: 'string' }, lr: { type: 'string' },
      'train-size': { type: 'string' }, 'probe-train': { type: 'string' }, 'probe-test': { type: 'string' },
      'teacher-ckpt': { type: 'string' }, backend: { type: 'string' }, seed: { type: 'string' },
      quick: { type: 'boolean' }, help: { type: 'boolean' },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const quick = values.quick === true;
  const o = {
    teacherSteps: intFlag('teacher-steps', values['teacher-steps'], quick ? 3 : 100),
    steps: intFlag('steps', values.steps, quick ? 3 : 80),
    batch: intFlag('batch', values.batch, quick ? 8 : 64, 2),
    lr: numberFlag('lr', values.lr, 1e-3, 0),
    trainSize: intFlag('train-size', values['train-size'], quick ? 64 : 4096),
    probeTrain: intFlag('probe-train', values['probe-train'], quick ? 40 : 1000),
    probeTest: intFlag('probe-test', values['probe-test'], quick ? 20 : 500),
    ckpt: values['teacher-ckpt'] ?? (quick ? '' : 'out/tinymim-teacher-mae.safetensors'),
    backend: parseBackend(values.backend),
    seed: intFlag('seed', values.seed, 0, 0),
  };
  if (o.trainSize > 10000 || o.probeTrain > 10000 || o.probeTest > 2000) {
    throw new Error(`--train-size and --probe-train must be <= 10000 and --probe-test <= 2000, got ${o.trainSize}, ${o.probeTrain}, ${o.probeTest}`);
  }
  if (o.batch > o.trainSize) throw new Error(`--batch ${o.batch} must be <= --train-size ${o.trainSize}`);
  const t0 = performance.now();
  await useBackend(o.backend);
  console.log(`backend: ${await describeBackend()}`);
  const [train, test]: FashionMnistData[] = await Promise.all([
    loadFashionMnist('train', { pad: 32, limit: Math.max(o.trainSize, o.probeTrain) }),
    loadFashionMnist('test', { pad: 32, limit: o.probeTest }),
  ]);
  const images = tf.tensor4d(train.images.subarray(0, o.trainSize * 32 * 32), [o.trainSize, 32, 32, 1]);

  // 1. The teacher.
  const teacherMae = new MAE({ ...TEACHER, seed: o.seed });
  if (o.ckpt !== '' && existsSync(o.ckpt)) {
    loadWeights(teacherMae, new Uint8Array(await readFile(o.ckpt)), { converter: maeConverter });
    console.log(`teacher: MAE ${TEACHER.embedDim}d x ${TEACHER.depth} loaded from ${o.ckpt}`);
  } else {
    console.log(`teacher: MAE ${TEACHER.embedDim}d x ${TEACHER.depth} blocks x ${TEACHER.numHeads} heads, pretraining ${o.teacherSteps} steps of ${o.batch}`);
    trainMae('teacher MAE', teacherMae, images, batchOrder(o.trainSize, o.batch, o.teacherSteps, deriveSeed(o.seed, 'teacher order')), 1.5e-3, o.seed);
    if (o.ckpt !== '') {
      await mkdir(dirname(o.ckpt), { recursive: true });
      await writeFile(o.ckpt, saveWeights(teacherMae, { converter: maeConverter }));
      console.log(`teacher saved to ${o.ckpt}`);
    }
  }

  // 2. Two copies of the same student (same seed), the same batches.
  const order = batchOrder(o.trainSize, o.batch, o.steps, deriveSeed(o.seed, 'student order'));
  const studentSeed = deriveSeed(o.seed, 'student');
  const distilled = new VisionTransformer({ ...STUDENT, seed: studentSeed });
  const model = new TinyMIM(teacherMae.encoder, distilled);
  const opt = new AdamW(model, { lr: o.lr, weightDecay: 0.05 }); // the teacher is frozen by TinyMIM
  const schedule = cosineSchedule({ baseLr: o.lr, warmupSteps: Math.round(0.1 * o.steps), totalSteps: o.steps + 1 });
  console.log(`student: ViT ${STUDENT.embedDim}d x ${STUDENT.depth} blocks x ${STUDENT.numHeads} heads; ${o.steps} steps of ${o.batch} each run`);
  const log = progress('relation distillation', o.steps);
  const distillStart = performance.now();
  let tensors = -1;
  let flat = true;
  order.forEach((idx, s) => {
    const x = gatherBatch(images, idx);
    const teacher = model.teacherRelations(x); // outside the gradient tape
    const { loss } = trainStep(() => model.forward(x, { teacher }).loss, model, opt, { lr: schedule(s + 1) });
    tf.dispose([x, teacher.qk, teacher.vv]);
    if (!Number.isFinite(loss)) throw new Error(`relation distillation: loss became ${loss} at step ${s + 1}`);
    const n = tf.memory().numTensors;
    if (tensors >= 0 && n !== tensors) flat = false;
    tensors = n;
    log(s + 1, `loss ${loss.toFixed(4)} (qk + vv KL)`);
  });
  opt.dispose();
  const distillSeconds = (performance.now() - distillStart) / 1000;

  // The same student pretrained as an MAE (its own masked-image modeling, no teacher).
  const baselineMae = new MAE({ ...TEACHER, ...STUDENT, seed: o.seed });
  // Start from the very same initial encoder weights as the distilled student.
  const init = new VisionTransformer({ ...STUDENT, seed: studentSeed });
  for (const [k, w] of init.namedWeights()) {
    const target = baselineMae.encoder.namedWeights().get(k);
    if (target && tf.util.arraysEqual(target.shape as number[], w.shape as number[]) && k !== 'pos_embed') target.write(w.read());
  }
  const maeStart = performance.now();
  trainMae('student MAE (no distillation)', baselineMae, images, order, 1.5e-3, o.seed);
  const maeSeconds = (performance.now() - maeStart) / 1000;

  // 3. k-NN probe.
  const probe = (vit: VisionTransformer): number => {
    const tr = encoderFeatures(vit, train.images.subarray(0, o.probeTrain * 1024), [o.probeTrain, 32, 32, 1], 'mean', 250);
    const te = encoderFeatures(vit, test.images.subarray(0, o.probeTest * 1024), [o.probeTest, 32, 32, 1], 'mean', 250);
    return knnAccuracy(tr, train.labels.subarray(0, o.probeTrain), te, test.labels.subarray(0, o.probeTest), { k: 20, temperature: 0.07 });
  };
  const acc = {
    distilled: probe(distilled),
    maeStudent: probe(baselineMae.encoder),
    randomStudent: probe(init),
    teacher: probe(teacherMae.encoder),
    pixels: knnAccuracy(
      train.images.subarray(0, o.probeTrain * 1024), train.labels.subarray(0, o.probeTrain),
      test.images.subarray(0, o.probeTest * 1024), test.labels.subarray(0, o.probeTest), { k: 20, temperature: 0.07 },
    ),
  };
  const pct = (v: number) => `${(100 * v).toFixed(1)}%`;
  console.log('');
  console.log('summary');
  console.log(
    `  k-NN accuracy (cosine, k=20, mean token, ${o.probeTrain} references, ${o.probeTest} held-out): ` +
      `student distilled ${pct(acc.distilled)} vs student MAE-pretrained ${pct(acc.maeStudent)} ` +
      `(random init ${pct(acc.randomStudent)}; teacher ${pct(acc.teacher)}; raw pixels ${pct(acc.pixels)})`,
  );
  console.log(
    `  ${o.steps} steps x batch ${o.batch} each on ${o.backend}: distillation ${formatDuration(distillSeconds)}, MAE baseline ${formatDuration(maeSeconds)}; ` +
      `tensors ${flat ? 'flat' : 'NOT flat'}; wall ${formatDuration((performance.now() - t0) / 1000)}`,
  );
  console.log(`summary-json ${JSON.stringify({ ...acc, steps: o.steps, teacherSteps: o.teacherSteps, batch: o.batch, backend: o.backend, tensorsFlat: flat })}`);
  images.dispose();
  // TinyMIM holds the teacher's encoder and the student: dispose the models that own them, not the wrapper too.
  [distilled, teacherMae, baselineMae, init].forEach((m) => m.dispose());
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
