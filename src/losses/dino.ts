import * as tf from '@tensorflow/tfjs-core';
import { ensureGradients } from '../ops/gradients.js';
import { matMul } from '../ops/matmul.js';
import { checkFloat, checkInteger, checkNonNegative, checkPositive, checkRank, fmtShape } from './common.js';
import { stopGradient } from './stop_gradient.js';

/** Config of {@link DINOLoss} (main_dino.py's argument names in camelCase). */
export interface DINOLossConfig {
  /** `K`, the width of the DINO head's output (`out_dim`; 65536 in the paper). */
  outDim: number;
  /**
   * Number of crops per image in the student output: 2 global crops + the
   * local crops (`local_crops_number + 2`; 10 in the paper). At least 2.
   */
  ncrops: number;
  /**
   * Teacher temperature at epoch 0. Default `0.04` (main_dino.py's default
   * `--warmup_teacher_temp`).
   */
  warmupTeacherTemp?: number;
  /**
   * Teacher temperature after the warm-up. Default `0.04` (main_dino.py's
   * `--teacher_temp`; the paper raises it to 0.07 for some runs).
   */
  teacherTemp?: number;
  /**
   * Epochs of the linear warm-up from `warmupTeacherTemp` to `teacherTemp`.
   * Default `0` (main_dino.py's default; the paper uses 30).
   */
  warmupTeacherTempEpochs?: number;
  /** Total epochs of training: the schedule's length. */
  nepochs: number;
  /** Student temperature. Default `0.1` (DINO's fixed value). */
  studentTemp?: number;
  /**
   * EMA momentum of the center. Default `0.9` (DINO's `center_momentum`:
   * the center follows the batch mean of the teacher outputs).
   */
  centerMomentum?: number;
}

/**
 * DINO's self-distillation loss (Caron et al. 2021, "Emerging Properties in
 * Self-Supervised Vision Transformers", `main_dino.py` `DINOLoss`, single
 * process), with its state (the center) explicit.
 *
 * For the two global teacher crops `iq` and every student crop `v != iq`:
 * `P_iq = softmax((teacher_iq - center) / teacherTemp(epoch))` (centred,
 * sharpened; no gradient), `logS_v = log_softmax(student_v / studentTemp)`;
 * the loss is the mean over those `2 * ncrops - 2` pairs of
 * `mean_batch(sum_K -P_iq * logS_v)`. The teacher temperature follows
 * `linspace(warmupTeacherTemp, teacherTemp, warmupTeacherTempEpochs)` and
 * then stays at `teacherTemp`.
 *
 * Call {@link DINOLoss.call} for the loss (it uses the current center), then
 * {@link DINOLoss.updateCenter} with the same teacher output, as DINO's
 * `forward` does. Call {@link DINOLoss.dispose} to free the center.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { DINOLoss } from 'mimkit';
 *
 * const loss = new DINOLoss({ outDim: 64, ncrops: 4, warmupTeacherTemp: 0.04, teacherTemp: 0.07, warmupTeacherTempEpochs: 30, nepochs: 100 });
 * const student = tf.randomNormal([4 * 8, 64]); // 4 crops of 8 images, crop-major
 * const teacher = tf.randomNormal([2 * 8, 64]); // the 2 global crops
 * const l = loss.call(student, teacher, 0); // also moves the center (momentum 0.9)
 * loss.dispose();
 * ```
 */
export class DINOLoss {
  /** The resolved config (defaults filled in). */
  readonly config: Readonly<Required<DINOLossConfig>>;
  /** Teacher temperature of every epoch `0 .. nepochs-1`. */
  readonly teacherTempSchedule: readonly number[];
  private readonly centerVar: tf.Variable;

  constructor(config: DINOLossConfig) {
    const fn = 'DINOLoss';
    if (config === null || typeof config !== 'object') {
      throw new Error(`${fn}: config must be an object, got ${String(config)}`);
    }
    const c: Required<DINOLossConfig> = {
      outDim: checkInteger(fn, 'outDim', config.outDim, 1),
      ncrops: checkInteger(fn, 'ncrops', config.ncrops, 2),
      warmupTeacherTemp: checkPositive(fn, 'warmupTeacherTemp', config.warmupTeacherTemp ?? 0.04),
      teacherTemp: checkPositive(fn, 'teacherTemp', config.teacherTemp ?? 0.04),
      warmupTeacherTempEpochs: checkInteger(fn, 'warmupTeacherTempEpochs', config.warmupTeacherTempEpochs ?? 0, 0),
      nepochs: checkInteger(fn, 'nepochs', config.nepochs, 1),
      studentTemp: checkPositive(fn, 'studentTemp', config.studentTemp ?? 0.1),
      centerMomentum: checkNonNegative(fn, 'centerMomentum', config.centerMomentum ?? 0.9),
    };
    if (c.centerMomentum > 1) {
      throw new Error(`${fn}: centerMomentum must be in [0, 1], got ${c.centerMomentum}`);
    }
    if (c.warmupTeacherTempEpochs > c.nepochs) {
      throw new Error(
        `${fn}: warmupTeacherTempEpochs must be <= nepochs=${c.nepochs}, got ${c.warmupTeacherTempEpochs}`,
      );
    }
    this.config = Object.freeze(c);
    // np.linspace(a, b, n): a + i * (b - a) / (n - 1), the last one exactly b.
    const n = c.warmupTeacherTempEpochs;
    const schedule: number[] = [];
    for (let i = 0; i < n; i++) {
      schedule.push(
        n === 1 ? c.warmupTeacherTemp : i === n - 1 ? c.teacherTemp : c.warmupTeacherTemp + (i * (c.teacherTemp - c.warmupTeacherTemp)) / (n - 1),
      );
    }
    for (let i = n; i < c.nepochs; i++) schedule.push(c.teacherTemp);
    this.teacherTempSchedule = Object.freeze(schedule);
    const zeros = tf.zeros([1, c.outDim]);
    this.centerVar = tf.variable(zeros, false, undefined, 'float32');
    zeros.dispose();
  }

  /** The center `[1, outDim]` (a non-trainable variable owned by this object). */
  get center(): tf.Variable {
    return this.centerVar;
  }

  /** Replaces the center (e.g. when resuming from a checkpoint); `[1, outDim]` or `[outDim]`. */
  setCenter(value: tf.Tensor): void {
    const k = this.config.outDim;
    if (!(value instanceof tf.Tensor) || value.size !== k || value.rank > 2 || (value.rank === 2 && value.shape[0] !== 1)) {
      throw new Error(
        `DINOLoss.setCenter: value must have shape [1, ${k}] or [${k}], got ${value instanceof tf.Tensor ? fmtShape(value) : typeof value}`,
      );
    }
    checkFloat('DINOLoss.setCenter', 'value', value);
    tf.tidy(() => this.centerVar.assign(tf.reshape(value, [1, k])));
  }

  /** The teacher temperature at `epoch` (0-based, `< nepochs`). */
  teacherTempAt(epoch: number): number {
    if (!Number.isInteger(epoch) || epoch < 0 || epoch >= this.config.nepochs) {
      throw new Error(`DINOLoss: epoch must be an integer in [0, nepochs=${this.config.nepochs}), got ${String(epoch)}`);
    }
    return this.teacherTempSchedule[epoch]!;
  }

  private checkTeacher(fn: string, teacherOutput: tf.Tensor): number {
    checkRank(fn, 'teacherOutput', teacherOutput, 2, `[2B, outDim=${this.config.outDim}] (the two global crops)`);
    checkFloat(fn, 'teacherOutput', teacherOutput);
    const [rows, k] = teacherOutput.shape as [number, number];
    if (k !== this.config.outDim || rows % 2 !== 0 || rows === 0) {
      throw new Error(
        `${fn}: teacherOutput must be [2B, outDim=${this.config.outDim}] (two global crops, crop-major), got ${fmtShape(teacherOutput)}`,
      );
    }
    return rows / 2;
  }

  /**
   * The DINO loss of one step (uses the current center; does not update it).
   *
   * Shapes: `studentOutput: [ncrops * B, outDim]`, crop-major (rows
   * `v*B .. v*B+B-1` are crop `v`; crops 0 and 1 are the global crops);
   * `teacherOutput: [2 * B, outDim]` (the two global crops). No gradient
   * reaches `teacherOutput`. Returns a scalar.
   */
  call(studentOutput: tf.Tensor, teacherOutput: tf.Tensor, epoch: number): tf.Scalar {
    ensureGradients();
    const fn = 'DINOLoss.call';
    const { ncrops, outDim, studentTemp } = this.config;
    checkRank(fn, 'studentOutput', studentOutput, 2, `[ncrops * B, outDim=${outDim}]`);
    checkFloat(fn, 'studentOutput', studentOutput);
    const b = this.checkTeacher(fn, teacherOutput);
    if (!tf.util.arraysEqual(studentOutput.shape, [ncrops * b, outDim])) {
      throw new Error(
        `${fn}: studentOutput must be [ncrops * B, outDim] = [${ncrops * b}, ${outDim}] (ncrops=${ncrops}, B=${b} from teacherOutput), got ${fmtShape(studentOutput)}`,
      );
    }
    const temp = this.teacherTempAt(epoch);
    return tf.tidy(() => {
      const logS = tf.logSoftmax(tf.reshape(tf.div(studentOutput, studentTemp), [ncrops, b, outDim]), -1);
      const centred = tf.div(tf.sub(stopGradient(teacherOutput), this.centerVar), temp);
      const p = tf.reshape(tf.softmax(centred, -1), [2, b, outDim]);
      // cross[b, iq, v] = sum_K P[iq, b] * logS[v, b], for all pairs at once.
      const cross = matMul(tf.transpose(p, [1, 0, 2]), tf.transpose(logS, [1, 0, 2]), false, true);
      const perPair = tf.mean(cross, 0); // [2, ncrops]
      const offDiag = tf.sub(1, tf.eye(2, ncrops)); // pairs with v != iq
      return tf.div(tf.neg(tf.sum(tf.mul(perPair, offDiag))), 2 * ncrops - 2) as tf.Scalar;
    });
  }

  /**
   * EMA update of the center with the batch mean of the teacher outputs:
   * `center = center * m + mean_rows(teacherOutput) * (1 - m)` (no gradient).
   */
  updateCenter(teacherOutput: tf.Tensor): void {
    this.checkTeacher('DINOLoss.updateCenter', teacherOutput);
    const m = this.config.centerMomentum;
    tf.tidy(() => {
      const batchCenter = tf.mean(teacherOutput, 0, true);
      this.centerVar.assign(tf.add(tf.mul(this.centerVar, m), tf.mul(batchCenter, 1 - m)));
    });
  }

  /** Frees the center variable. */
  dispose(): void {
    if (!this.centerVar.isDisposed) this.centerVar.dispose();
  }
}
