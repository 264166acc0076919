import * as tf from '@tensorflow/tfjs-core';
import { serialization } from '@tensorflow/tfjs-core';
import { linear } from '../ops/matmul.js';
import { Module, type Weight } from './module.js';

/** Config of {@link WeightNormLinear}. */
export interface WeightNormLinearConfig {
  /** Input features. */
  inFeatures: number;
  /** Output features `K`. */
  outFeatures: number;
  /**
   * Whether the magnitude `weight_g` is fixed (not trainable). Default
   * `false`. DINO's `norm_last_layer=True` fixes it at 1, so every output
   * unit's weight vector has unit norm.
   */
  fixedNorm?: boolean;
  /** Seed of the initial weights. Default 0. */
  seed?: number;
  name?: string;
}

/**
 * A Linear layer without bias under weight normalisation (Salimans & Kingma
 * 2016; PyTorch `nn.utils.weight_norm(nn.Linear(in, out, bias=False))`,
 * `dim=0`): the weight of output unit `k` is `g_k * v_k / |v_k|`, where `v_k`
 * is row `k` of `weight_v` (PyTorch `[out, in]`) and `g_k` is `weight_g`
 * (PyTorch `[out, 1]`). The direction and the magnitude are learned apart;
 * with a fixed `g = 1` the layer is a projection on unit-norm prototypes
 * (DINO's last layer).
 *
 * Stored as the library's Linear layout: `weight_v` `[in, out]`, `weight_g`
 * `[1, out]` (both `linear` layout, so import and export give PyTorch's
 * `[out, in]` and `[out, 1]`). Init as DINO's: `weight_v` from PyTorch's
 * `nn.Linear` default (uniform in `+-1/sqrt(in)`), `weight_g` filled with 1.
 *
 * Shapes: `x: [..., in]` -> `[..., out]`. PyTorch has no epsilon in the norm:
 * an all-zero row of `weight_v` gives NaN there and here.
 */
export class WeightNormLinear extends Module {
  static readonly className = 'MimkitWeightNormLinear';
  readonly config: Required<Omit<WeightNormLinearConfig, 'name'>>;
  /** Direction `weight_v`, stored `[in, out]`. */
  readonly weightV: Weight;
  /** Magnitude `weight_g`, stored `[1, out]`. */
  readonly weightG: Weight;

  constructor(config: WeightNormLinearConfig) {
    super({ name: config.name, seed: config.seed });
    for (const key of ['inFeatures', 'outFeatures'] as const) {
      const v = config[key];
      if (!Number.isInteger(v) || v <= 0) throw new Error(`WeightNormLinear: ${key} must be a positive integer, got ${v}`);
    }
    const fixedNorm = config.fixedNorm ?? false;
    if (typeof fixedNorm !== 'boolean') throw new Error(`WeightNormLinear: fixedNorm must be a boolean, got ${String(fixedNorm)}`);
    this.config = { inFeatures: config.inFeatures, outFeatures: config.outFeatures, fixedNorm, seed: config.seed ?? 0 };
    const bound = 1 / Math.sqrt(config.inFeatures);
    this.weightV = this.addParam('weight_v', [config.inFeatures, config.outFeatures], { kind: 'uniform', low: -bound, high: bound }, {
      layout: { kind: 'linear' },
    });
    this.weightG = this.addParam('weight_g', [1, config.outFeatures], { kind: 'ones' }, {
      layout: { kind: 'linear' },
      trainable: !fixedNorm,
    });
  }

  /** The effective weight `[in, out]`: each column of `weight_v` scaled to norm `g`. */
  weight(): tf.Tensor2D {
    return tf.tidy(() => {
      const v = this.weightV.read();
      const norm = tf.sqrt(tf.sum(tf.square(v), 0, true));
      return tf.mul(v, tf.div(this.weightG.read(), norm)) as tf.Tensor2D;
    });
  }

  /** `x: [..., in]` -> `[..., out]`. */
  forward(x: tf.Tensor): tf.Tensor {
    if (!(x instanceof tf.Tensor) || x.shape[x.rank - 1] !== this.config.inFeatures) {
      throw new Error(
        `WeightNormLinear: input last dimension must be inFeatures=${this.config.inFeatures}, got shape [${x instanceof tf.Tensor ? x.shape : typeof x}]`,
      );
    }
    return tf.tidy(() => linear(x, this.weight()));
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return this.forward(Array.isArray(inputs) ? inputs[0]! : inputs);
  }

  override computeOutputShape(shape: (number | null)[]): (number | null)[] {
    return [...shape.slice(0, -1), this.config.outFeatures];
  }

  override getConfig(): serialization.ConfigDict {
    return { ...super.getConfig(), ...this.config };
  }
}
serialization.registerClass(WeightNormLinear);
