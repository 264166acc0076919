/**
 * Self-supervised pretraining of a small ViT on the Fashion-MNIST subset
 * shipped in `examples/data/`, with the library's DINO (Caron et al. 2021),
 * then a k-NN evaluation of what it learned, in Node (WASM backend by
 * default):
 *
 *     npx tsx examples/dino-fashion-mnist.ts               # defaults (a few minutes on 2 cores)
 *     npx tsx examples/dino-fashion-mnist.ts --quick       # a tiny smoke run
 *     npx tsx examples/dino-fashion-mnist.ts --steps 600 --backend cpu
 *
 * Recipe (DINO's, scaled down): 32 px images (28 px zero-padded), 1 channel,
 * ViT with patch 8 (4x4 grid), D 64, 3 blocks, 4 heads; DINO head with 3
 * layers (hidden 256, bottleneck 64) to K = 1024 prototypes, last layer
 * weight-normalised with its norm fixed; multi-crop with 2 global 32 px crops
 * (area 0.4-1) and 4 local 16 px crops (area 0.1-0.4, 2x2 patches: the
 * position table is resized bicubically in the graph), made with the
 * library's `augmentView` (flip, brightness/contrast jitter; no blur or
 * solarisation at 32 px, see `views`);
 * AdamW with DINO's schedules: linear warm-up then cosine learning rate,
 * weight decay 0.04 -> 0.4, teacher momentum 0.996 -> 1, teacher
 * temperature 0.04 -> 0.07 over the first 30% of the epochs, last layer
 * frozen during the first epoch, gradients clipped at norm 3.
 *
 * What it reports: the training loss every few seconds, then the top-1
 * accuracy of a weighted k-NN classifier (cosine, k = 20, T = 0.07: DINO's
 * `eval_knn.py`) on held-out images, using the class token of the teacher
 * backbone (DINO's evaluated network); the same for the same backbone at its
 * initial weights, and for raw pixels. Pretraining helps when the first beats
 * the second.
 *
 * `--method` picks the self-supervised method; each method is one function
 * below that builds the model and returns its training step and its encoder:
 * `dino` (above) or `mocov3`: MoCo v3 (Chen, Xie, He 2021) with the
 * library's `MoCoV3` (ViT + projector + predictor, momentum encoder with the
 * momentum cosine-scheduled from `--momentum` to 1, 2T-scaled symmetric
 * contrastive loss, random patch projection frozen), two augmented views per
 * image, AdamW with warm-up and cosine decay; the base encoder is probed.
 */
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import {
  AdamW,
  DINO,
  MoCoV3,
  VisionTransformer,
  cosineSchedule,
  cosineScheduler,
  exportWeights,
  loadWeights,
  augmentView,
  Rng,
  trainStep,
  type DINOConfig,
} from '../src/index.js';
import { loadFashionMnist, type FashionMnistData } from './lib/fashion-mnist.js';
import { encoderFeatures, knnAccuracy } from './lib/knn.js';
import { describeBackend, formatDuration, intFlag, numberFlag, parseBackend, useBackend, type ExampleBackend } from './lib/runtime.js';

const METHOD_NAMES = ['dino', 'mocov3'] as const;
type MethodName = (typeof METHOD_NAMES)[number];

const USAGE = `usage: tsx examples/dino-fashion-mnist.ts [options]
  --method NAME      self-supervised method: ${METHOD_NAMES.join(', ')} (default dino)
  --steps N          optimisation steps (default 320)
  --batch N          images per step (default 32)
  --train-size N     training images used, of 10000 (default 1024)
  --lr X             peak learning rate (default 1e-3)
  --local-crops N    local crops per image (default 4)
  --k N              prototypes of the DINO head, out_dim (default 1024)
  --momentum X       base teacher (DINO) or momentum-encoder (MoCo v3) momentum, raised to 1 by a cosine (default 0.996 / 0.99)
  --teacher-temp X   teacher temperature after its warm-up from 0.04 (default 0.07)
  --probe-train N    training images for the k-NN probe's references (default 2000)
  --probe-test N     held-out images the k-NN probe classifies (default 1000)
  --backend cpu|wasm (default wasm)
  --seed N           model, data-order and augmentation seed (default 0)
  --log-seconds X    a progress line at least every X seconds (default 3)
  --quick            a tiny run for tests (small sizes, 4 steps)
  --help`;

interface Options {
  method: MethodName;
  steps: number;
  batch: number;
  trainSize: number;
  lr: number;
  localCrops: number;
  k: number;
  momentum: number | null;
  teacherTemp: number;
  probeTrain: number;
  probeTest: number;
  backend: ExampleBackend;
  seed: number;
  logSeconds: number;
  quick: boolean;
}

function parseOptions(argv: string[]): Options | null {
  const { values } = parseArgs({
    args: argv,
    options: {
      method: { type: 'string' }, steps: { type: 'string' }, batch: { type: 'string' }, 'train-size': { type: 'string' },
      lr: { type: 'string' }, 'local-crops': { type: 'string' }, k: { type: 'string' }, momentum: { type: 'string' }, 'teacher-temp': { type: 'string' }, 'probe-train': { type: 'string' }, 'probe-test': { type: 'string' },
      backend: { type: 'string' }, seed: { type: 'string' }, 'log-seconds': { type: 'string' }, quick: { type: 'boolean' },
      help: { type: 'boolean' },
    },
    strict: true,
  });
  if (values.help) return null;
  const quick = values.quick === true;
  const method = values.method ?? 'dino';
  if (!(METHOD_NAMES as readonly string[]).includes(method)) {
    throw new Error(`--method must be one of ${METHOD_NAMES.join(', ')}, got '${method}'`);
  }
  const o: Options = {
    method: method as MethodName,
    steps: intFlag('steps', values.steps, quick ? 4 : 320),
    batch: intFlag('batch', values.batch, quick ? 8 : 32, 2),
    trainSize: intFlag('train-size', values['train-size'], quick ? 32 : 1024),
    lr: numberFlag('lr', values.lr, 1e-3, 0),
    localCrops: intFlag('local-crops', values['local-crops'], quick ? 2 : 4, 0),
    k: intFlag('k', values.k, quick ? 64 : 1024),
    momentum: values.momentum === undefined ? null : numberFlag('momentum', values.momentum, 0.996, 0, 1),
    teacherTemp: numberFlag('teacher-temp', values['teacher-temp'], 0.07, 1e-3),
    probeTrain: intFlag('probe-train', values['probe-train'], quick ? 40 : 2000),
    probeTest: intFlag('probe-test', values['probe-test'], quick ? 20 : 1000),
    backend: parseBackend(values.backend),
    seed: intFlag('seed', values.seed, 0, 0),
    logSeconds: numberFlag('log-seconds', values['log-seconds'], 3, 0),
    quick,
  };
  if (o.trainSize > 10000) throw new Error(`--train-size must be <= 10000 (the shipped training split), got ${o.trainSize}`);
  if (o.probeTrain > 10000) throw new Error(`--probe-train must be <= 10000, got ${o.probeTrain}`);
  if (o.probeTest > 2000) throw new Error(`--probe-test must be <= 2000, got ${o.probeTest}`);
  if (o.batch > o.trainSize) throw new Error(`--batch ${o.batch} must be <= --train-size ${o.trainSize}`);
  return o;
}

/** A pretraining method as this example drives it. */
interface PretrainMethod {
  /** What the log calls it. */
  title: string;
  /** The backbone the k-NN probe evaluates (its class token). */
  encoder: VisionTransformer;
  /** Other backbones worth probing after training, by label (DINO: the student). */
  others: Record<string, VisionTransformer>;
  /** One optimisation step on a batch `[B, 32, 32, 1]` at iteration `it`; returns the loss. */
  step(images: tf.Tensor4D, it: number): number;
  dispose(): void;
}

/**
 * DINO's multi-crop views for 32 px grey images: the library's
 * `augmentView` (random resized crop, flip, brightness/contrast jitter with
 * p 0.8) without DINO's Gaussian blur and solarisation, whose strengths
 * (blur sigma up to 2 px) are meant for 224 px images and leave a 32 px view
 * with too little in common with the other views.
 */
function views(images: tf.Tensor4D, numLocal: number, rng: Rng): { global: tf.Tensor4D[]; local: tf.Tensor4D[] } {
  const common = { jitter: { brightness: 0.4, contrast: 0.4, saturation: 0, hue: 0, p: 0.8 }, grayscaleP: 0, blurP: 0, rng };
  const global = [0, 1].map(() => augmentView(images, { size: 32, scale: [0.4, 1], ...common }));
  const local = Array.from({ length: numLocal }, () => augmentView(images, { size: 16, scale: [0.1, 0.4], ...common }));
  return { global, local };
}

/**
 * DINO: the library's model plus DINO's per-iteration schedules
 * (`utils.cosine_scheduler`) and the training step of `main_dino.py`.
 */
function dinoMethod(o: Options, itersPerEpoch: number, epochs: number): PretrainMethod {
  const config: DINOConfig = {
    imgSize: 32, patchSize: 8, inChans: 1, embedDim: o.quick ? 32 : 64, depth: o.quick ? 1 : 3, numHeads: 4, dropPathRate: 0.1,
    outDim: o.k, headLayers: 3, headHiddenDim: o.quick ? 32 : 256, headBottleneckDim: o.quick ? 16 : 64,
    localCropsNumber: o.localCrops, epochs, warmupTeacherTempEpochs: Math.floor(0.3 * epochs), freezeLastLayer: 1,
    momentumTeacher: o.momentum ?? 0.996, teacherTemp: o.teacherTemp,
    seed: o.seed,
  };
  const dino = new DINO(config);
  const total = o.steps;
  const schedule = (base: number, final: number, warmup = 0) =>
    cosineScheduler({ baseValue: base, finalValue: final, epochs, nIterPerEpoch: itersPerEpoch, warmupSteps: warmup }).slice(0, total);
  const lrs = schedule(o.lr, 1e-6, Math.max(1, Math.round(0.1 * total)));
  const wds = schedule(0.04, 0.4);
  const opt = new AdamW(dino.studentVariables(), { lr: lrs[0], weightDecay: wds[0] });
  const rng = new Rng(o.seed + 1);
  return {
    title: `DINO (K=${config.outDim}, ${2 + o.localCrops} crops)`,
    encoder: dino.teacher.backbone,
    others: { 'student encoder': dino.student.backbone },
    step(images, it) {
      const epoch = Math.floor(it / itersPerEpoch);
      const m = views(images, o.localCrops, rng);
      const crops = [...m.global, ...m.local];
      opt.setWeightDecay(wds[it]!);
      const t = dino.forwardTeacher(m.global);
      const { loss } = trainStep(() => dino.loss(dino.forwardCrops(crops, { training: true }), t, epoch), dino.studentVariables(epoch), opt, {
        clipNorm: 3,
        lr: lrs[it],
      });
      dino.updateCenter(t);
      dino.updateTeacher(dino.teacherMomentum(it, total));
      tf.dispose([t, ...crops]);
      return loss;
    },
    dispose() {
      opt.dispose();
      dino.dispose();
    },
  };
}

/**
 * MoCo v3: the library's model; per step two views of the same batch, the
 * momentum from its cosine schedule (applied inside `forward`, before the
 * keys, as moco-v3 does), AdamW with warm-up and cosine decay.
 */
function mocoV3Method(o: Options): PretrainMethod {
  const moco = new MoCoV3({
    imgSize: 32, patchSize: 8, inChans: 1, embedDim: o.quick ? 32 : 64, depth: o.quick ? 1 : 3, numHeads: 4,
    mlpDim: o.quick ? 32 : 256, dim: o.quick ? 16 : 64, T: 0.2, momentum: o.momentum ?? 0.99, seed: o.seed,
  });
  const opt = new AdamW(moco, { lr: o.lr, weightDecay: 0.1 });
  const schedule = cosineSchedule({ baseLr: o.lr, warmupSteps: Math.max(1, Math.round(0.1 * o.steps)), totalSteps: o.steps + 1 });
  const rng = new Rng(o.seed + 1);
  const common = { size: 32, scale: [0.2, 1] as [number, number], jitter: { brightness: 0.4, contrast: 0.4, saturation: 0, hue: 0, p: 0.8 }, grayscaleP: 0, blurP: 0, rng };
  return {
    title: `MoCo v3 (T=${moco.config.T}, m ${moco.config.momentum} -> 1)`,
    encoder: moco.baseEncoder.vit,
    others: {},
    step(images, it) {
      const v1 = augmentView(images, common);
      const v2 = augmentView(images, common);
      const m = moco.momentumAt(it, o.steps);
      const { loss } = trainStep(() => moco.forward(v1, v2, m).loss, moco, opt, { lr: schedule(it + 1) });
      tf.dispose([v1, v2]);
      return loss;
    },
    dispose() {
      opt.dispose();
      moco.dispose();
    },
  };
}

const METHODS: Record<MethodName, (o: Options, itersPerEpoch: number, epochs: number) => PretrainMethod> = { dino: dinoMethod, mocov3: mocoV3Method };

/** Copies images `idx` of `data` into one NHWC batch tensor. */
function batchOf(data: FashionMnistData, idx: ArrayLike<number>): tf.Tensor4D {
  const [, h, w, c] = data.shape;
  const per = h * w * c;
  const buf = new Float32Array(idx.length * per);
  for (let i = 0; i < idx.length; i++) buf.set(data.images.subarray(idx[i]! * per, (idx[i]! + 1) * per), i * per);
  return tf.tensor4d(buf, [idx.length, h, w, c]);
}

/** k-NN accuracy of an encoder's class token on the probe sets. */
function knnOf(encoder: VisionTransformer, ref: FashionMnistData, test: FashionMnistData): number {
  const a = encoderFeatures(encoder, ref.images, ref.shape, 'cls', 100);
  const b = encoderFeatures(encoder, test.images, test.shape, 'cls', 100);
  return knnAccuracy(a, ref.labels, b, test.labels, { numClasses: 10 });
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  if (o === null) {
    console.log(USAGE);
    return;
  }
  await useBackend(o.backend);
  const t0 = performance.now();
  const train = await loadFashionMnist('train', { limit: o.trainSize, pad: 32 });
  const ref = await loadFashionMnist('train', { limit: o.probeTrain, pad: 32 });
  const test = await loadFashionMnist('test', { limit: o.probeTest, pad: 32 });
  const itersPerEpoch = Math.floor(o.trainSize / o.batch);
  const epochs = Math.ceil(o.steps / itersPerEpoch);
  const method = METHODS[o.method](o, itersPerEpoch, epochs);
  // The same backbone at its initial weights, for the baseline.
  const initial = exportWeights(method.encoder);
  console.log(
    `${method.title} on ${await describeBackend()}: ${o.steps} steps of ${o.batch} images (${epochs} epochs of ${itersPerEpoch} steps over ${o.trainSize} images)`,
  );

  const order = new Rng(o.seed);
  let perm: number[] = [];
  let last = performance.now();
  let losses: number[] = [];
  for (let it = 0; it < o.steps; it++) {
    if (it % itersPerEpoch === 0) perm = order.shuffle([...Array(o.trainSize).keys()]);
    const j = (it % itersPerEpoch) * o.batch;
    const x = batchOf(train, perm.slice(j, j + o.batch));
    const loss = method.step(x, it);
    x.dispose();
    if (!Number.isFinite(loss)) throw new Error(`training loss became ${loss} at step ${it + 1}`);
    losses.push(loss);
    const now = performance.now();
    if (it === 0 || it + 1 === o.steps || now - last >= o.logSeconds * 1000) {
      const mean = losses.reduce((s, v) => s + v, 0) / losses.length;
      const secs = (now - t0) / 1000;
      console.log(`step ${it + 1}/${o.steps}  loss ${mean.toFixed(4)}  (${formatDuration(secs)}, ${tf.memory().numTensors} tensors)`);
      losses = [];
      last = now;
    }
  }

  const trained = knnOf(method.encoder, ref, test);
  const others = Object.entries(method.others).map(([label, enc]) => [label, knnOf(enc, ref, test)] as const);
  const fresh = new VisionTransformer({ ...method.encoder.config });
  loadWeights(fresh, initial);
  tf.dispose([...initial.values()]);
  const atInit = knnOf(fresh, ref, test);
  fresh.dispose();
  const pixels = knnAccuracy(ref.images, ref.labels, test.images, test.labels, { numClasses: 10 });
  const pct = (v: number) => `${(100 * v).toFixed(1)}%`;
  console.log(`k-NN top-1 (k=20, cosine) on ${o.probeTest} held-out images, ${o.probeTrain} references:`);
  console.log(`  pretrained encoder (class token)  ${pct(trained)}`);
  for (const [label, v] of others) console.log(`    (pretrained ${label.padEnd(19)} ${pct(v)})`);
  console.log(`  same encoder at initialisation    ${pct(atInit)}`);
  console.log(`  raw pixels                        ${pct(pixels)}`);
  method.dispose();
  console.log(`total ${formatDuration((performance.now() - t0) / 1000)}`);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? `error: ${e.message}` : e);
  process.exit(1);
});
