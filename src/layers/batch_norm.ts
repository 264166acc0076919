import * as tf from '@tensorflow/tfjs-core';
import { serialization } from '@tensorflow/tfjs-core';
import { Module, type Weight } from './module.js';
import { describeValue } from '../utils/config.js';

/** Config of {@link BatchNorm1d}. Defaults are PyTorch's `nn.BatchNorm1d`. */
export interface BatchNorm1dConfig {
  /** Number of features `C` (the last axis of `[N, C]`). */
  numFeatures: number;
  /** Added to the variance. Default 1e-5 (PyTorch). */
  eps?: number;
  /**
   * Weight of the new batch statistics in the running estimates:
   * `running = (1 - momentum) * running + momentum * batch`. Default 0.1
   * (PyTorch). `null` gives PyTorch's cumulative moving average (momentum
   * `1 / numBatchesTracked`).
   */
  momentum?: number | null;
  /**
   * Learnable per-feature scale `weight` (ones) and shift `bias` (zeros).
   * Default `true`. MoCo v3 and SimSiam end their projectors with a
   * BatchNorm without them (SimCLR's design, "we further removed gamma").
   */
  affine?: boolean;
  /** Seed (no weight is random; kept for the Module contract). Default 0. */
  seed?: number;
  name?: string;
}

/** Options of {@link BatchNorm1d.forward}. */
export interface BatchNormForwardOptions {
  /**
   * Training mode: normalise with this batch's statistics and update the
   * running estimates. Default `false` (eval: normalise with the running
   * estimates; nothing changes).
   */
  training?: boolean;
}

/**
 * Batch normalisation over the batch axis (Ioffe & Szegedy, 2015), PyTorch
 * `nn.BatchNorm1d` semantics on `[N, C]` inputs:
 *
 * - training: `y = (x - mean_B) / sqrt(var_B + eps) * weight + bias` with the
 *   batch mean and the **biased** batch variance (divide by `N`); gradients
 *   flow through both statistics. The running estimates are then updated
 *   with the **unbiased** variance (divide by `N - 1`):
 *   `running_mean = (1 - m) running_mean + m mean_B`,
 *   `running_var = (1 - m) running_var + m var_B * N / (N - 1)`, and
 *   {@link BatchNorm1d.numBatchesTracked} grows by one. Needs `N > 1`.
 * - eval: `y = (x - running_mean) / sqrt(running_var + eps) * weight + bias`.
 *
 * Weights (PyTorch names): `weight`, `bias` (trainable, with `affine`),
 * `running_mean` (zeros), `running_var` (ones): the last two are buffers,
 * non-trainable weights here, updated only by a training forward. PyTorch's
 * int64 buffer `num_batches_tracked` is the plain counter
 * {@link BatchNorm1d.numBatchesTracked} (a float32 weight could not hold it
 * exactly past 2^24); `loadWeightsWithBatchNorm` and
 * `exportWeightsWithBatchNorm` (src/io) read and write it as I64.
 */
export class BatchNorm1d extends Module {
  static readonly className = 'MimkitBatchNorm1d';
  readonly config: Required<Omit<BatchNorm1dConfig, 'name' | 'momentum'>> & { momentum: number | null };
  /** `weight` `[C]`, or null without `affine`. */
  readonly weight: Weight | null;
  /** `bias` `[C]`, or null without `affine`. */
  readonly bias: Weight | null;
  /** `running_mean` `[C]` (buffer). */
  readonly runningMean: Weight;
  /** `running_var` `[C]` (buffer). */
  readonly runningVar: Weight;
  /** PyTorch's `num_batches_tracked`: training forwards so far. */
  numBatchesTracked = 0;

  constructor(config: BatchNorm1dConfig) {
    super({ name: config.name, seed: config.seed });
    if (!Number.isInteger(config.numFeatures) || config.numFeatures <= 0) {
      throw new Error(`BatchNorm1d: numFeatures must be a positive integer, got ${config.numFeatures}`);
    }
    const eps = config.eps ?? 1e-5;
    if (!(typeof eps === 'number' && eps > 0 && Number.isFinite(eps))) {
      throw new Error(`BatchNorm1d: eps must be a positive number (PyTorch uses 1e-5), got ${eps}`);
    }
    const momentum = config.momentum === undefined ? 0.1 : config.momentum;
    if (momentum !== null && !(typeof momentum === 'number' && momentum >= 0 && momentum <= 1)) {
      throw new Error(`BatchNorm1d: momentum must be in [0, 1] or null (cumulative average), got ${momentum}`);
    }
    const affine = config.affine ?? true;
    if (typeof affine !== 'boolean') throw new Error(`BatchNorm1d: affine must be a boolean, got ${String(affine)}`);
    this.config = { numFeatures: config.numFeatures, eps, momentum, affine, seed: config.seed ?? 0 };
    const c = config.numFeatures;
    this.weight = affine ? this.addParam('weight', [c], { kind: 'ones' }) : null;
    this.bias = affine ? this.addParam('bias', [c], { kind: 'zeros' }) : null;
    this.runningMean = this.addParam('running_mean', [c], { kind: 'zeros' }, { trainable: false });
    this.runningVar = this.addParam('running_var', [c], { kind: 'ones' }, { trainable: false });
  }

  /** The buffers (`running_mean`, `running_var`): weights that an EMA or optimiser must leave alone. */
  buffers(): Weight[] {
    return [this.runningMean, this.runningVar];
  }

  /** `x: [N, C]` -> `[N, C]`; see the class comment for the two modes. */
  forward(x: tf.Tensor, options: BatchNormForwardOptions = {}): tf.Tensor2D {
    const C = this.config.numFeatures;
    if (!(x instanceof tf.Tensor) || x.rank !== 2 || x.shape[1] !== C) {
      throw new Error(
        `BatchNorm1d: x must be [N, numFeatures=${C}], got ${x instanceof tf.Tensor ? `shape [${x.shape}]` : String(x)}`,
      );
    }
    const training = options.training ?? false;
    const n = x.shape[0]!;
    if (training && n < 2) {
      // PyTorch: "Expected more than 1 value per channel when training".
      throw new Error(`BatchNorm1d: training needs more than one row per feature for batch statistics, got N=${n}`);
    }
    const { eps } = this.config;
    return tf.tidy(() => {
      let mean: tf.Tensor;
      let variance: tf.Tensor;
      if (training) {
        mean = tf.mean(x, 0);
        variance = tf.mean(tf.square(tf.sub(x, mean)), 0);
        this.updateRunningStats(mean, variance, n);
      } else {
        mean = this.runningMean.read();
        variance = this.runningVar.read();
      }
      let y = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps)));
      if (this.weight && this.bias) y = tf.add(tf.mul(y, this.weight.read()), this.bias.read());
      return y as tf.Tensor2D;
    });
  }

  private updateRunningStats(mean: tf.Tensor, biasedVar: tf.Tensor, n: number): void {
    this.numBatchesTracked += 1;
    const m = this.config.momentum ?? 1 / this.numBatchesTracked;
    tf.tidy(() => {
      const unbiased = tf.mul(biasedVar, n / (n - 1));
      // Buffers are not part of any gradient: cut the tape here.
      const rm = tf.add(tf.mul(this.runningMean.read(), 1 - m), tf.mul(mean, m));
      const rv = tf.add(tf.mul(this.runningVar.read(), 1 - m), tf.mul(unbiased, m));
      (this.runningMean.read() as tf.Variable).assign(rm);
      (this.runningVar.read() as tf.Variable).assign(rv);
    });
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: { training?: boolean } = {}): tf.Tensor {
    return this.forward(Array.isArray(inputs) ? inputs[0]! : inputs, { training: kwargs.training });
  }

  override getConfig(): serialization.ConfigDict {
    return { ...super.getConfig(), ...this.config };
  }
}
serialization.registerClass(BatchNorm1d);

/** Every {@link BatchNorm1d} inside `module` (itself included), keyed by its dotted `state_dict` prefix. */
export function batchNormModules(module: Module, prefix = ''): Map<string, BatchNorm1d> {
  if (!(module instanceof Module)) throw new Error(`batchNormModules: module must be a Module, got ${describeValue(module)}`);
  const out = new Map<string, BatchNorm1d>();
  if (module instanceof BatchNorm1d) out.set(prefix, module);
  for (const [k, child] of module.children()) {
    for (const [kk, bn] of batchNormModules(child, prefix === '' ? k : `${prefix}.${k}`)) out.set(kk, bn);
  }
  return out;
}

/** The BatchNorm buffers (`running_mean`, `running_var`) inside `module`. */
export function batchNormBuffers(module: Module): Set<Weight> {
  if (!(module instanceof Module)) throw new Error(`batchNormBuffers: module must be a Module, got ${describeValue(module)}`);
  const out = new Set<Weight>();
  for (const bn of batchNormModules(module).values()) for (const w of bn.buffers()) out.add(w);
  return out;
}
