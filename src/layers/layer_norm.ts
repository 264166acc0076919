import * as tf from '@tensorflow/tfjs-core';
import { serialization } from '@tensorflow/tfjs-core';
import { Module, type Weight } from './module.js';
import { CONFIG_LIMITS, checkTensorArg, optionalBool, requireConfig, requireInt, requireNumber } from '../utils/config.js';
import { sumRows } from '../ops/matmul.js';

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

/** `(x - mean) / sqrt(var + eps)` over the last axis and `1 / sqrt(var + eps)`. */
function normalise(x: tf.Tensor, eps: tf.Tensor): { xhat: tf.Tensor; rstd: tf.Tensor } {
  const mean = tf.mean(x, -1, true);
  const centered = tf.sub(x, mean);
  const rstd = tf.rsqrt(tf.add(tf.mean(tf.square(centered), -1, true), eps));
  return { xhat: tf.mul(centered, rstd), rstd };
}

/**
 * The input gradient of a layer norm, `rstd * (g - mean(g) - xhat * mean(g * xhat))`
 * with `g` the gradient with respect to `xhat`: a few passes over memory
 * where autodiff of the composed forward runs about twice as many kernels and
 * keeps more intermediates.
 */
function inputGrad(g: tf.Tensor, xhat: tf.Tensor, rstd: tf.Tensor): tf.Tensor {
  const mg = tf.mean(g, -1, true);
  const mgx = tf.mean(tf.mul(g, xhat), -1, true);
  return tf.mul(tf.sub(tf.sub(g, mg), tf.mul(xhat, mgx)), rstd);
}


const layerNormAffine = tf.customGrad(((x: tf.Tensor, w: tf.Tensor, b: tf.Tensor, eps: tf.Tensor, save: tf.GradSaveFunc) => {
  const { xhat, rstd } = normalise(x, eps);
  save([xhat, rstd, w]);
  return {
    value: tf.add(tf.mul(xhat, w), b),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sx, sr, sw] = saved as [tf.Tensor, tf.Tensor, tf.Tensor];
      return [inputGrad(tf.mul(dy, sw), sx, sr), sumRows(tf.mul(dy, sx)), sumRows(dy), tf.zerosLike(eps)];
    },
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor, eps: tf.Tensor) => tf.Tensor;

const layerNormPlain = tf.customGrad(((x: tf.Tensor, eps: tf.Tensor, save: tf.GradSaveFunc) => {
  const { xhat, rstd } = normalise(x, eps);
  save([xhat, rstd]);
  return {
    value: xhat,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sx, sr] = saved as [tf.Tensor, tf.Tensor];
      return [inputGrad(dy, sx, sr), tf.zerosLike(eps)];
    },
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (x: tf.Tensor, eps: tf.Tensor) => tf.Tensor;

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
    return tf.tidy(() =>
      this.weight && this.bias
        ? layerNormAffine(x, this.weight.read(), this.bias.read(), tf.scalar(this.config.eps))
        : layerNormPlain(x, tf.scalar(this.config.eps)),
    );
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return this.forward(Array.isArray(inputs) ? inputs[0]! : inputs);
  }

  override getConfig(): serialization.ConfigDict {
    return { ...super.getConfig(), ...this.config };
  }
}
serialization.registerClass(LayerNorm);
