import * as tf from '@tensorflow/tfjs-core';
import { ensureGradients } from '../ops/gradients.js';
import { matMul } from '../ops/matmul.js';
import type { LayerNorm } from '../layers/layer_norm.js';
import type { Linear } from '../layers/linear.js';
import { checkFloat, checkInteger, checkPositive, checkRank, checkSameShape, fmtShape } from './common.js';
import { stopGradient } from './stop_gradient.js';

/** TinyMIM's token relation maps of one attention block (probabilities). */
export type Relations = {
  /** `softmax(q k^T * scale)`, `[B, H, N, N]`, rows sum to 1. */
  qk: tf.Tensor;
  /** `softmax(v v^T * scale)`, `[B, H, N, N]`, rows sum to 1. */
  vv: tf.Tensor;
}

/** Options of {@link relationsFromQkv} and {@link relations}. */
export interface RelationsOptions {
  /**
   * Scale of both products. Default `d^-0.5` with `d = D / heads`, the
   * attention scale; TinyMIM uses it for the V-V relation too.
   */
  scale?: number;
}

function splitHeads(t: tf.Tensor, heads: number): tf.Tensor {
  const [b, n, d] = t.shape as [number, number, number];
  return tf.transpose(tf.reshape(t, [b, n, heads, d / heads]), [0, 2, 1, 3]);
}

/**
 * TinyMIM's relation maps from a block's projected `q`, `k`, `v`
 * (Ren et al. 2023, "TinyMIM: An Empirical Study of Distilling MIM
 * Pre-trained Models"): per head `h` (channels `[h*d, (h+1)*d)`),
 * `QK = softmax(q k^T * scale)` and `VV = softmax(v v^T * scale)`.
 *
 * Shapes: `q`, `k`, `v: [B, N, D]` with `heads | D` -> `{qk, vv}: [B, H, N, N]`
 * (new tensors; the caller disposes them).
 */
export function relationsFromQkv(
  q: tf.Tensor,
  k: tf.Tensor,
  v: tf.Tensor,
  heads: number,
  options: RelationsOptions = {},
): Relations {
  ensureGradients();
  const fn = 'relationsFromQkv';
  checkRank(fn, 'q', q, 3, '[B, N, D]');
  checkFloat(fn, 'q', q);
  checkRank(fn, 'k', k, 3, '[B, N, D]');
  checkSameShape(fn, 'q', q, 'k', k);
  checkRank(fn, 'v', v, 3, '[B, N, D]');
  checkSameShape(fn, 'q', q, 'v', v);
  checkInteger(fn, 'heads', heads, 1);
  const dim = q.shape[2]!;
  if (dim % heads !== 0) {
    throw new Error(`${fn}: heads must divide the channel count D=${dim}, got heads=${heads}`);
  }
  const scale = checkPositive(fn, 'options.scale', options.scale ?? (dim / heads) ** -0.5);
  return tf.tidy(() => {
    const rel = (a: tf.Tensor, b: tf.Tensor) =>
      tf.softmax(tf.mul(matMul(splitHeads(a, heads), splitHeads(b, heads), false, true), scale), -1);
    return { qk: rel(q, k), vv: rel(v, v) };
  });
}

/**
 * TinyMIM's relation maps of a timm-form attention block computed from the
 * block's input: `h = norm1(x)`, `[q, k, v] = qkv(h)` (the fused Linear's
 * output channels `[0, D)`, `[D, 2D)`, `[2D, 3D)`), then
 * {@link relationsFromQkv}.
 *
 * Shapes: `x: [B, N, D]`; `norm1` a `LayerNorm(D)`; `qkv` a
 * `Linear(D -> 3D)` -> `{qk, vv}: [B, H, N, N]`.
 */
export function relations(
  x: tf.Tensor,
  norm1: LayerNorm,
  qkv: Linear,
  heads: number,
  options: RelationsOptions = {},
): Relations {
  ensureGradients();
  const fn = 'relations';
  checkRank(fn, 'x', x, 3, '[B, N, D] tokens entering the block');
  checkFloat(fn, 'x', x);
  const dim = x.shape[2]!;
  if (norm1.config.dim !== dim) {
    throw new Error(`${fn}: norm1 must normalise D=${dim} channels (x's last axis), got dim=${norm1.config.dim}`);
  }
  if (qkv.config.inFeatures !== dim || qkv.config.outFeatures !== 3 * dim) {
    throw new Error(
      `${fn}: qkv must be a Linear ${dim} -> ${3 * dim} (fused q, k, v), got ${qkv.config.inFeatures} -> ${qkv.config.outFeatures}`,
    );
  }
  checkInteger(fn, 'heads', heads, 1);
  if (dim % heads !== 0) {
    throw new Error(`${fn}: heads must divide the channel count D=${dim}, got heads=${heads}`);
  }
  const parts = tf.tidy(() => tf.split(qkv.forward(norm1.forward(x)), 3, -1));
  try {
    return relationsFromQkv(parts[0]!, parts[1]!, parts[2]!, heads, options);
  } finally {
    tf.dispose(parts);
  }
}

/**
 * KL(teacher || student) per row of two relation maps (probabilities),
 * averaged over batch, heads and rows: `mean_{b,h,i} sum_j T_ij (ln T_ij - ln S_ij)`.
 * The logs are of the probabilities themselves, bounded below by 1e-30 so
 * that a zero teacher entry contributes 0 (not NaN). No gradient reaches the
 * teacher map. Shapes: `student`, `teacher: [B, H, N, N]` -> scalar.
 */
export function relationKL(student: tf.Tensor, teacher: tf.Tensor): tf.Scalar {
  ensureGradients();
  const fn = 'relationKL';
  checkRank(fn, 'student', student, 4, '[B, H, N, N] relation probabilities');
  checkFloat(fn, 'student', student);
  checkRank(fn, 'teacher', teacher, 4, '[B, H, N, N] relation probabilities');
  checkSameShape(fn, 'student', student, 'teacher', teacher);
  checkFloat(fn, 'teacher', teacher);
  return tf.tidy(() => {
    const t = stopGradient(teacher);
    const logT = tf.log(tf.maximum(t, 1e-30));
    const logS = tf.log(tf.maximum(student, 1e-30));
    return tf.mean(tf.sum(tf.mul(t, tf.sub(logT, logS)), -1)) as tf.Scalar;
  });
}

/** What {@link relationDistillationLoss} returns (the caller disposes all three). */
export type RelationDistillationOutput = {
  /** `qkLoss + vvLoss` (TinyMIM sums them). */
  loss: tf.Scalar;
  /** KL between the Q-K relations. */
  qkLoss: tf.Scalar;
  /** KL between the V-V relations. */
  vvLoss: tf.Scalar;
}

/**
 * TinyMIM's relation distillation loss (Ren et al. 2023, "TinyMIM: An
 * Empirical Study of Distilling MIM Pre-trained Models",
 * `models_tinymim.py`): {@link relationKL} of the Q-K maps plus that of the
 * V-V maps, student against a frozen teacher block with the same heads and
 * tokens. Distilling these relations of the last block beat distilling
 * features or the class token (+4.2 top-1 on ViT-T in the paper).
 *
 * Shapes: every map `[B, H, N, N]` (from {@link relations}). No gradient
 * reaches the teacher's maps.
 */
export function relationDistillationLoss(student: Relations, teacher: Relations): RelationDistillationOutput {
  ensureGradients();
  const fn = 'relationDistillationLoss';
  for (const [who, r] of [['student', student], ['teacher', teacher]] as const) {
    if (r === null || typeof r !== 'object' || !(r.qk instanceof tf.Tensor) || !(r.vv instanceof tf.Tensor)) {
      throw new Error(`${fn}: ${who} must be {qk, vv} relation maps (tensors [B, H, N, N]), got ${String(r)}`);
    }
  }
  if (!tf.util.arraysEqual(student.qk.shape, teacher.qk.shape) || !tf.util.arraysEqual(student.vv.shape, teacher.vv.shape)) {
    throw new Error(
      `${fn}: teacher relations must have the student's shape (same heads and tokens): student qk ${fmtShape(student.qk)}, vv ${fmtShape(student.vv)}; teacher qk ${fmtShape(teacher.qk)}, vv ${fmtShape(teacher.vv)}`,
    );
  }
  const qkLoss = relationKL(student.qk, teacher.qk);
  let vvLoss: tf.Scalar;
  try {
    vvLoss = relationKL(student.vv, teacher.vv);
  } catch (e) {
    qkLoss.dispose();
    throw e;
  }
  return { loss: tf.add(qkLoss, vvLoss) as tf.Scalar, qkLoss, vvLoss };
}
