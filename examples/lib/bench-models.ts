/**
 * The training steps that `examples/bench.ts` times besides MAE's: SimMIM,
 * BEiT, CLIP, FLIP and DINO, each at a tiny-32 size comparable to `maeTiny`
 * (32 px images, patch 4 so 64 patches, ViT D 192 x 12 blocks x 3 heads),
 * with its model FLOPs per step and a spec that `examples/bench_torch.py`
 * reads to build the same step in PyTorch. Example-only code.
 *
 * | model  | step |
 * | ------ | ---- |
 * | simmim | SimMIM: encoder on all 64 patches with mask tokens (SimMIM masking, ratio 0.6, 8 px units), linear pixel-shuffle decoder, L1 on the masked pixels |
 * | beit   | BEiT: same encoder form (mask ratio ~0.4, block-wise), `lm_head` over a 512-token vocabulary on the masked patches, cross-entropy |
 * | clip   | CLIP: image tower (192 x 12) on all patches + causal text tower (128 x 6, 32 tokens), contrastive loss over the batch |
 * | flip   | FLIP: CLIP with half of the image patches dropped (mask ratio 0.5) |
 * | dino   | DINO: student on 2 global (32 px) + 4 local (16 px) crops, head MLP 512 -> 128 -> 4096 prototypes, teacher (EMA) on the global crops, center update |
 *
 * Every step is `trainStep` (forward, backward, AdamW) plus what the method
 * does around it (DINO's teacher forward, center and EMA; CLIP's logit-scale
 * clamp). Drop path is 0 everywhere so that tfjs and PyTorch do the same work.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  AdamW, BEiT, BlockwiseMasker, CLIP, DINO, FLIP, SimMIM, SimMIMMasker, clampLogitScale, trainStep,
  type CLIPConfig, type Checkpointing,
} from '../../src/index.js';

/** The models this file builds. */
export const BENCH_MODELS = ['simmim', 'beit', 'clip', 'flip', 'dino'] as const;
export type BenchModel = (typeof BENCH_MODELS)[number];

/** One built step: run it (returns the loss), then dispose. */
export interface StepRunner {
  step(): number;
  dispose(): void;
}

/** The sizes of the benchmarked models. */
export interface BenchSize {
  /** ViT width, depth and heads of every image encoder. */
  embedDim: number;
  depth: number;
  heads: number;
  /** CLIP's text tower: width, layers, heads, tokens, vocabulary; and the joint embedding. */
  textWidth: number;
  textLayers: number;
  textHeads: number;
  contextLength: number;
  textVocab: number;
  clipEmbed: number;
  /** DINO's head: hidden width, bottleneck, prototypes. */
  headHiddenDim: number;
  headBottleneckDim: number;
  outDim: number;
}

/** The benchmark's size: MAE tiny-32's encoder (D 192 x 12 x 3 heads) in every model. */
export const BENCH_SIZE: Readonly<BenchSize> = Object.freeze({
  embedDim: 192, depth: 12, heads: 3,
  textWidth: 128, textLayers: 6, textHeads: 2, contextLength: 32, textVocab: 4096, clipEmbed: 128,
  headHiddenDim: 512, headBottleneckDim: 128, outDim: 4096,
});

/** `--quick`: a smoke-test size (seconds per step on cpu). */
export const QUICK_SIZE: Readonly<BenchSize> = Object.freeze({
  embedDim: 32, depth: 2, heads: 2,
  textWidth: 32, textLayers: 1, textHeads: 2, contextLength: 8, textVocab: 64, clipEmbed: 16,
  headHiddenDim: 32, headBottleneckDim: 16, outDim: 64,
});

/** Images: 32 px RGB, patch 4 (an 8x8 grid), MLP ratio 4. */
const IMG = 32;
const PATCH = 4;
const GRID = IMG / PATCH;
const L = GRID * GRID;
const PP = PATCH * PATCH * 3;

/** SimMIM masks 60% of its 8 px units (SimMIM's ViT setting uses 32 px units at 192 px; 8 px keeps 16 units at 32 px). */
const SIMMIM_MASK = { inputSize: IMG, maskPatchSize: 8, modelPatchSize: PATCH, maskRatio: 0.6 };
/** BEiT masks ~40% of the patches block-wise (75 of 196 at 224 px; 26 of 64 here). */
const BEIT_MASKED = 26;
const BEIT_VOCAB = 512;
const FLIP_MASK = 0.5;
const DINO_LOCAL = 4;
const DINO_LOCAL_SIZE = 16;

function clipConfig(s: BenchSize, checkpointing: Checkpointing): CLIPConfig {
  return {
    embedDim: s.clipEmbed,
    vision: { imageSize: IMG, patchSize: PATCH, width: s.embedDim, layers: s.depth, headWidth: s.embedDim / s.heads, checkpointing },
    text: { contextLength: s.contextLength, vocabSize: s.textVocab, width: s.textWidth, heads: s.textHeads, layers: s.textLayers, checkpointing },
  };
}

function dinoHead(s: BenchSize): { outDim: number; headHiddenDim: number; headBottleneckDim: number; headLayers: number } {
  return { outDim: s.outDim, headHiddenDim: s.headHiddenDim, headBottleneckDim: s.headBottleneckDim, headLayers: 3 };
}

/**
 * Multiply-add FLOPs (2 per multiply-add) of one pre-norm transformer block
 * of width `d` over `n` tokens: q/k/v and projection `4 d^2`, MLP `2 r d^2`,
 * and attention's two `n x n x d` products.
 */
export function blockFlops(n: number, d: number, mlpRatio = 4): number {
  return 2 * n * d * d * (4 + 2 * mlpRatio) + 2 * 2 * n * n * d;
}

/** A ViT forward over `patches` patches of one image (+ class token), with its patch embedding. */
function vitFlops(s: BenchSize, patches: number): number {
  return 2 * patches * PP * s.embedDim + s.depth * blockFlops(patches + 1, s.embedDim);
}

/**
 * Model FLOPs of one training step of `model` at `batch` images: 3x the
 * forward's matrix products (forward + backward), plus forward-only work
 * (DINO's teacher) once. Element-wise work is left out, as for MAE.
 */
export function benchModelFlops(model: BenchModel, batch: number, s: BenchSize = BENCH_SIZE): number {
  const D = s.embedDim;
  switch (model) {
    case 'simmim':
      return 3 * batch * (vitFlops(s, L) + 2 * L * D * PP);
    case 'beit':
      return 3 * batch * (vitFlops(s, L) + 2 * BEIT_MASKED * D * BEIT_VOCAB);
    case 'clip':
    case 'flip': {
      const kept = model === 'flip' ? Math.max(1, Math.floor(L * (1 - FLIP_MASK))) : L;
      const image = vitFlops(s, kept) + 2 * (L - kept) * PP * D + 2 * D * s.clipEmbed;
      const text = s.textLayers * blockFlops(s.contextLength, s.textWidth) + 2 * s.textWidth * s.clipEmbed;
      return 3 * batch * (image + text) + 3 * 2 * batch * batch * s.clipEmbed;
    }
    case 'dino': {
      const h = s.headHiddenDim;
      const head = 2 * (D * h + h * h + h * s.headBottleneckDim + s.headBottleneckDim * s.outDim);
      const global = vitFlops(s, L) + head;
      const local = vitFlops(s, (DINO_LOCAL_SIZE / PATCH) ** 2) + head;
      return 3 * batch * (2 * global + DINO_LOCAL * local) + batch * 2 * global;
    }
  }
}

/** What each model's step is, for the table. */
export function benchModelLabel(model: BenchModel, s: BenchSize = BENCH_SIZE): string {
  switch (model) {
    case 'simmim':
      return `SimMIM (all ${L} patches, mask ${SIMMIM_MASK.maskRatio})`;
    case 'beit':
      return `BEiT (all ${L} patches, ~${BEIT_MASKED} masked, vocab ${BEIT_VOCAB})`;
    case 'clip':
      return `CLIP (image ${L} patches + text ${s.contextLength} tokens)`;
    case 'flip':
      return `FLIP (CLIP, image mask ${FLIP_MASK})`;
    case 'dino':
      return `DINO (2 x ${IMG} px + ${DINO_LOCAL} x ${DINO_LOCAL_SIZE} px crops, K ${s.outDim})`;
  }
}

/**
 * What `bench_torch.py --model NAME --spec JSON` needs to build the same
 * step: sizes only (PyTorch draws its own weights and masks).
 */
export function benchModelSpec(model: BenchModel, s: BenchSize = BENCH_SIZE): Record<string, unknown> {
  const vit = { imgSize: IMG, patchSize: PATCH, inChans: 3, embedDim: s.embedDim, depth: s.depth, numHeads: s.heads, mlpRatio: 4 };
  switch (model) {
    case 'simmim':
      return { ...vit, initValues: 0.1, maskRatio: SIMMIM_MASK.maskRatio, maskPatchSize: SIMMIM_MASK.maskPatchSize };
    case 'beit':
      return { ...vit, initValues: 0.1, masked: BEIT_MASKED, vocabSize: BEIT_VOCAB };
    case 'clip':
    case 'flip':
      return {
        ...vit, clipEmbed: s.clipEmbed, maskRatio: model === 'flip' ? FLIP_MASK : 0,
        text: { contextLength: s.contextLength, vocabSize: s.textVocab, width: s.textWidth, heads: s.textHeads, layers: s.textLayers },
      };
    case 'dino':
      return { ...vit, localCrops: DINO_LOCAL, localSize: DINO_LOCAL_SIZE, ...dinoHead(s) };
  }
}

/** Deterministic inputs: uniform pixels in [0, 1) `[n, size, size, 3]`. */
function images(n: number, size: number, seed: number): tf.Tensor4D {
  return tf.randomUniform([n, size, size, 3], 0, 1, 'float32', seed) as tf.Tensor4D;
}

/**
 * Builds `model`'s training step at `batch` images on the active backend.
 * Inputs and masks are drawn once (seeded): the step times the model, not
 * the data pipeline.
 */
export function buildBenchStep(model: BenchModel, batch: number, checkpointing: Checkpointing, s: BenchSize = BENCH_SIZE): StepRunner {
  const adamw = { lr: 1.5e-4, betas: [0.9, 0.95] as [number, number], weightDecay: 0.05 };
  const vit = { imgSize: IMG, patchSize: PATCH, embedDim: s.embedDim, depth: s.depth, numHeads: s.heads, dropPathRate: 0, checkpointing, seed: 0 };
  switch (model) {
    case 'simmim': {
      const m = new SimMIM({ ...vit, initValues: 0.1 });
      const opt = new AdamW(m, adamw);
      const x = images(batch, IMG, 1);
      const a = new SimMIMMasker(SIMMIM_MASK).maskArrays(batch, 2);
      const mask = tf.tensor3d(Float32Array.from(a.mask), [batch, a.gridHeight, a.gridWidth]);
      return {
        step: () => trainStep(() => m.forward(x, mask, { training: true }).loss, m, opt).loss,
        dispose: () => {
          tf.dispose([x, mask]);
          opt.dispose();
          m.dispose();
        },
      };
    }
    case 'beit': {
      const m = new BEiT({ ...vit, initValues: 0.1, vocabSize: BEIT_VOCAB });
      const opt = new AdamW(m, adamw);
      const x = images(batch, IMG, 1);
      const r = new BlockwiseMasker({ height: GRID, numMaskingPatches: BEIT_MASKED, minNumPatches: 4 }).mask(batch, 2);
      const masked = r.counts.reduce((a, b) => a + b, 0);
      const labels = tf.randomUniform([masked], 0, BEIT_VOCAB, 'int32', 3);
      return {
        // The logits and labels are freed with the step's other intermediates.
        step: () => trainStep(() => m.forward(x, r.mask, labels, { training: true }).loss, m, opt).loss,
        dispose: () => {
          tf.dispose([x, r.mask, labels]);
          opt.dispose();
          m.dispose();
        },
      };
    }
    case 'clip':
    case 'flip': {
      const config: CLIPConfig = { ...clipConfig(s, checkpointing), seed: 0 };
      const m = model === 'flip' ? new FLIP({ ...config, maskRatio: FLIP_MASK }) : new CLIP(config);
      const opt = new AdamW(m, adamw);
      const x = images(batch, IMG, 1);
      // Token ids in [1, V - 1) with the end-of-text id V - 1 (the largest, so
      // argmax pooling finds it) last: open_clip's form of a full-length text.
      const ids = tf.tidy(() =>
        tf.concat([tf.randomUniform([batch, s.contextLength - 1], 1, s.textVocab - 1, 'int32', 4), tf.fill([batch, 1], s.textVocab - 1, 'int32')], 1),
      );
      let it = 0;
      return {
        step: () => {
          const options = model === 'flip' ? FLIP.trainingOptions(1000 + it++) : {};
          const loss = trainStep(() => m.loss(x, ids, options), m, opt).loss;
          clampLogitScale(m.logitScale);
          return loss;
        },
        dispose: () => {
          tf.dispose([x, ids]);
          opt.dispose();
          m.dispose();
        },
      };
    }
    case 'dino': {
      const m = new DINO({ ...vit, ...dinoHead(s), localCropsNumber: DINO_LOCAL, epochs: 100 });
      const opt = new AdamW(m.studentVariables(), { lr: 5e-4, betas: [0.9, 0.999], weightDecay: 0.04 });
      const crops = [
        images(batch, IMG, 1), images(batch, IMG, 2),
        ...Array.from({ length: DINO_LOCAL }, (_, i) => images(batch, DINO_LOCAL_SIZE, 3 + i)),
      ];
      let it = 0;
      return {
        step: () => {
          // main_dino.py's order: teacher output, student loss and update, center, teacher EMA.
          const teacher = m.forwardTeacher(crops.slice(0, 2));
          const loss = trainStep(() => m.loss(m.forwardCrops(crops, { training: true }), teacher, 1), m.studentVariables(1), opt, { clipNorm: 3 }).loss;
          m.updateCenter(teacher);
          m.updateTeacher(m.teacherMomentum(it++, 1000));
          teacher.dispose();
          return loss;
        },
        dispose: () => {
          tf.dispose(crops);
          opt.dispose();
          m.dispose();
        },
      };
    }
  }
}
