import * as tf from '@tensorflow/tfjs-core';
import { serialization } from '@tensorflow/tfjs-core';
import { Module } from '../layers/module.js';
import { relationDistillationLoss, relationsFromQkv, type Relations } from '../losses/relation.js';
import { freezeWeights } from './projected_vit.js';
import { VisionTransformer } from './vit.js';
import { checkConfigObject, describeValue } from '../utils/config.js';

/** Config of {@link TinyMIM}. Defaults are TinyMIM's best setting: last block to last block, Q-K and V-V. */
export interface TinyMIMConfig {
  /** Teacher block whose relations are the target (negative from the end). Default -1 (the last). */
  teacherBlock?: number;
  /** Student block that learns them (negative from the end). Default -1 (the last). */
  studentBlock?: number;
  /**
   * Heads into which both blocks' `q`, `k`, `v` channels are split for the
   * relations. Default: the teacher block's heads. TinyMIM gives the
   * student's last block the teacher's head count (`last_heads`) so the maps
   * align; here the student's channels are split into this many groups for
   * the relations only (its attention keeps its own heads).
   */
  relationHeads?: number;
  name?: string;
}

/** Options of {@link TinyMIM.forward}. */
export interface TinyMIMForwardOptions {
  /** Student drop path. Default false. */
  training?: boolean;
  /**
   * The teacher's relations for these images, computed beforehand with
   * {@link TinyMIM.teacherRelations} outside the gradient tape (saves the
   * teacher's activations from the tape); default: computed here.
   */
  teacher?: Relations;
}

/** What {@link TinyMIM.forward} returns (a type alias, so `tf.tidy` accepts it). */
export type TinyMIMOutput = { loss: tf.Scalar; qkLoss: tf.Scalar; vvLoss: tf.Scalar };

/** A block index in `[-depth, depth)` as a non-negative index. */
function blockIndex(fn: string, name: string, i: number, depth: number): number {
  if (!Number.isInteger(i) || i < -depth || i >= depth) {
    throw new Error(`${fn}: ${name} must be a block index in [-${depth}, ${depth - 1}] (depth ${depth}), got ${i}`);
  }
  return i < 0 ? depth + i : i;
}

/**
 * TinyMIM relation distillation (Ren et al. 2023, "TinyMIM: An Empirical
 * Study of Distilling MIM Pre-trained Models", microsoft/TinyMIM
 * `models_tinymim.py`): a smaller ViT (the student) learns the token
 * relations of a block of a frozen MIM-pretrained ViT (the teacher): per
 * head, `softmax(q k^T / sqrt(d))` and `softmax(v v^T / sqrt(d))`, matched
 * with KL(teacher || student) ({@link relationDistillationLoss}). Distilling
 * the last block's Q-K and V-V relations beat distilling features or the
 * class token in the paper; the student sees whole images.
 *
 * The teacher's weights are made non-trainable at construction (the given
 * module itself is frozen), so an optimiser over this model trains only the
 * student. Keys: `student.*`, `teacher.*` (timm ViT names). Both must have
 * the same token count (patches and class token).
 *
 * Disposing a TinyMIM disposes both ViTs.
 */
export class TinyMIM extends Module {
  static readonly className = 'MimkitTinyMIM';
  readonly teacher: VisionTransformer;
  readonly student: VisionTransformer;
  /** Resolved block indices and relation heads. */
  readonly config: { teacherBlock: number; studentBlock: number; relationHeads: number };

  constructor(teacher: VisionTransformer, student: VisionTransformer, config: TinyMIMConfig = {}) {
    super({ name: (config as TinyMIMConfig | undefined)?.name });
    const fn = 'TinyMIM';
    for (const [who, v] of [['teacher', teacher], ['student', student]] as const) {
      if (!(v instanceof VisionTransformer)) throw new Error(`${fn}: ${who} must be a VisionTransformer, got ${describeValue(v)}`);
    }
    checkConfigObject(fn, config);
    if (teacher === student) throw new Error(`${fn}: teacher and student must be two different ViTs`);
    const tokens = (v: VisionTransformer) => v.numPrefixTokens + v.numPatches;
    if (tokens(teacher) !== tokens(student)) {
      throw new Error(
        `${fn}: teacher and student must see the same tokens to compare relations, got ${tokens(teacher)} (teacher) and ${tokens(student)} (student)`,
      );
    }
    const teacherBlock = blockIndex(fn, 'teacherBlock', config.teacherBlock ?? -1, teacher.blocks.length);
    const studentBlock = blockIndex(fn, 'studentBlock', config.studentBlock ?? -1, student.blocks.length);
    const relationHeads = config.relationHeads ?? teacher.blocks[teacherBlock]!.attn.config.numHeads;
    for (const [who, v] of [['teacher', teacher], ['student', student]] as const) {
      const D = v.config.embedDim;
      if (!Number.isInteger(relationHeads) || relationHeads < 1 || D % relationHeads !== 0) {
        throw new Error(`${fn}: relationHeads must be a positive integer dividing the ${who}'s width ${D}, got ${relationHeads}`);
      }
    }
    this.config = { teacherBlock, studentBlock, relationHeads };
    this.teacher = this.addModule('teacher', teacher);
    this.student = this.addModule('student', student);
    freezeWeights(teacher);
  }

  /**
   * Q-K and V-V relations `[B, H, N, N]` of block `block` of `vit` on whole
   * images `[B, H, W, C]`: the tokens entering the block (from
   * {@link VisionTransformer.forwardIntermediates}), `norm1`, the block's own
   * `Attention.projectQkv` (so BEiT-form q/v biases count), heads regrouped
   * into `relationHeads`. New tensors: the caller disposes both maps.
   */
  relationsOf(vit: VisionTransformer, imgs: tf.Tensor, block: number, training = false): Relations {
    const blk = vit.blocks[block]!;
    const qkv = tf.tidy(() => {
      const x =
        block === 0
          ? vit.prependClassToken(vit.embed(imgs))
          : vit.forwardIntermediates(imgs, { indices: [block - 1], training }).intermediates[0]!;
      const { q, k, v } = blk.attn.projectQkv(blk.norm1.forward(x));
      const [b, h, n, d] = q.shape;
      const merge = (t: tf.Tensor) => tf.reshape(tf.transpose(t, [0, 2, 1, 3]), [b, n, h * d]);
      return [merge(q), merge(k), merge(v)];
    });
    try {
      return relationsFromQkv(qkv[0]!, qkv[1]!, qkv[2]!, this.config.relationHeads);
    } finally {
      tf.dispose(qkv);
    }
  }

  /** The teacher's relations of `config.teacherBlock` (no gradient is needed from them). */
  teacherRelations(imgs: tf.Tensor): Relations {
    this.checkImages('TinyMIM.teacherRelations', imgs);
    return this.relationsOf(this.teacher, imgs, this.config.teacherBlock);
  }

  /** `imgs [B, H, W, C]` -> the relation distillation loss (Q-K + V-V) and its two terms. */
  forward(imgs: tf.Tensor, options: TinyMIMForwardOptions = {}): TinyMIMOutput {
    this.checkImages('TinyMIM.forward', imgs);
    const given = options.teacher;
    if (given !== undefined) {
      const want = [imgs.shape[0]!, this.config.relationHeads, this.student.numPrefixTokens + this.student.numPatches];
      const ok = (t: unknown) =>
        t instanceof tf.Tensor && t.rank === 4 && t.shape[0] === want[0] && t.shape[1] === want[1] && t.shape[2] === want[2] && t.shape[3] === want[2];
      if (!ok(given.qk) || !ok(given.vv)) {
        throw new Error(
          `TinyMIM.forward: options.teacher must be {qk, vv} of shape [${want[0]}, ${want[1]}, ${want[2]}, ${want[2]}] (from teacherRelations on these images)`,
        );
      }
    }
    return tf.tidy(() => {
      const t = given ?? this.teacherRelations(imgs);
      const s = this.relationsOf(this.student, imgs, this.config.studentBlock, options.training ?? false);
      const { loss, qkLoss, vvLoss } = relationDistillationLoss(s, t);
      return { loss, qkLoss, vvLoss };
    });
  }

  private checkImages(fn: string, imgs: tf.Tensor): void {
    const [h, w] = this.student.config.imgSize;
    const c = this.student.config.inChans;
    if (!(imgs instanceof tf.Tensor) || imgs.rank !== 4 || imgs.shape[1] !== h || imgs.shape[2] !== w || imgs.shape[3] !== c) {
      throw new Error(`${fn}: imgs must be [B, ${h}, ${w}, ${c}] (NHWC), got ${imgs instanceof tf.Tensor ? `shape [${imgs.shape}]` : String(imgs)}`);
    }
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return this.forward(Array.isArray(inputs) ? inputs[0]! : inputs).loss;
  }

  override getConfig(): serialization.ConfigDict {
    return { ...super.getConfig(), ...this.config };
  }
}
serialization.registerClass(TinyMIM);

/**
 * TinyMIM's sequential distillation (Sec. 4.3: ViT-B -> ViT-S -> ViT-T beat
 * distilling ViT-B -> ViT-T directly): each model in `chain` is distilled
 * from the one before it, the first from `teacher`; `trainStage` runs the
 * training of one stage (the library is not a trainer: your loop, your
 * optimiser over `stage.student`'s trainable weights). Every model but the
 * last ends frozen (it was a teacher). Returns the last student.
 *
 * @example
 * const small = sequentialDistillation(maeEncoder, [medium, small], (stage, i) => {
 *   const opt = new AdamW(stage, { lr: 1e-3 });
 *   for (const x of batches) trainStep(() => stage.forward(x).loss, stage, opt);
 *   opt.dispose();
 * });
 */
export function sequentialDistillation(
  teacher: VisionTransformer,
  chain: VisionTransformer[],
  trainStage: (stage: TinyMIM, index: number) => void,
  config: TinyMIMConfig = {},
): VisionTransformer {
  if (!Array.isArray(chain) || chain.length === 0) {
    throw new Error(`sequentialDistillation: chain must list at least one student, got ${Array.isArray(chain) ? 0 : String(chain)}`);
  }
  let t = teacher;
  chain.forEach((student, i) => {
    trainStage(new TinyMIM(t, student, config), i);
    t = student;
  });
  return chain[chain.length - 1]!;
}
