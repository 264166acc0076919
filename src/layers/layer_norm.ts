import * as tf from '@tensorflow/tfjs-core';
import { serialization } from '@tensorflow/tfjs-core';
import { Module, type Weight } from './module.js';
import { CONFIG_LIMITS, checkTensorArg, optionalBool, requireConfig, requireInt, requireNumber } from '../utils/config.js';

/** Config of {@link LayerNorm}. */
export interface LayerNormConfig {
  /** Size of the normalised (last) axis. */
  dim: number;
  /**
   * Added to the variance. Required on purpose: the references use 1e-6
   * (timm ViT, MAE, BEiT) or 1e-5 (PyTorch default, BEiT-3), tfjs-layers
   * defaults to 1e-3, and a silent default is how models drift.
   */
  eps: number;
  /** Learnable scale and shift. Default `true`. */
  affine?: boolean;
  seed?: number;
  name?: string;
}

/**
 * Layer normalisation over the last axis (Ba et al., 2016), PyTorch
 * `nn.LayerNorm` semantics: biased variance,
 * `(x - mean) / sqrt(var + eps) * weight + bias`.
 */
export class LayerNorm extends Module {
  static readonly className = 'MimkitLayerNorm';
  readonly config: Required<Omit<LayerNormConfig, 'name'>>;
  readonly weight: Weight | null;
  readonly bias: Weight | null;

  constructor(config: LayerNormConfig) {
    requireConfig('LayerNorm', config);
    requireInt('LayerNorm', 'dim', config.dim, { min: 1, max: CONFIG_LIMITS.maxDim });
    requireNumber('LayerNorm', 'eps', config.eps, { min: 0, minExclusive: true });
    optionalBool('LayerNorm', 'affine', config.affine, true);
    super({ name: config.name, seed: config.seed });
    if (!Number.isInteger(config.dim) || config.dim <= 0) {
      throw new Error(`LayerNorm: dim must be a positive integer, got ${config.dim}`);
    }
    if (!(typeof config.eps === 'number' && config.eps > 0)) {
      throw new Error(`LayerNorm: eps must be a positive number (references use 1e-6 or 1e-5), got ${config.eps}`);
    }
    this.config = { dim: config.dim, eps: config.eps, affine: config.affine ?? true, seed: config.seed ?? 0 };
    this.weight = this.config.affine ? this.addParam('weight', [config.dim], { kind: 'ones' }) : null;
    this.bias = this.config.affine ? this.addParam('bias', [config.dim], { kind: 'zeros' }) : null;
  }

  /** `x: [..., dim]` -> same shape. */
  forward(x: tf.Tensor): tf.Tensor {
    checkTensorArg('LayerNorm.forward', 'x', x, { what: '[..., dim]', nonEmpty: false });
    if (x.shape[x.rank - 1] !== this.config.dim) {
      throw new Error(`LayerNorm: input last dimension must be dim=${this.config.dim}, got shape [${x.shape}]`);
    }
    return tf.tidy(() => {
      const mean = tf.mean(x, -1, true);
      const centered = tf.sub(x, mean);
      const variance = tf.mean(tf.square(centered), -1, true);
      let y = tf.mul(centered, tf.rsqrt(tf.add(variance, this.config.eps)));
      if (this.weight && this.bias) y = tf.add(tf.mul(y, this.weight.read()), this.bias.read());
      return y;
    });
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return this.forward(Array.isArray(inputs) ? inputs[0]! : inputs);
  }

  override getConfig(): serialization.ConfigDict {
    return { ...super.getConfig(), ...this.config };
  }
}
serialization.registerClass(LayerNorm);
