import * as tf from '@tensorflow/tfjs-core';
import { ensureGradients } from '../ops/gradients.js';
import { serialization } from '@tensorflow/tfjs-core';
import { Linear } from './linear.js';
import { Module } from './module.js';
import { CONFIG_LIMITS, checkTensorArg, optionalBool, optionalNumber, requireConfig, requireInt } from '../utils/config.js';

/**
 * The exact Gaussian error linear unit (Hendrycks & Gimpel, 2016):
 * `x * Phi(x) = 0.5 * x * (1 + erf(x / sqrt(2)))`, PyTorch's `nn.GELU()`
 * default, never the tanh approximation (the references use the exact form).
 */
export function gelu(x: tf.Tensor): tf.Tensor {
  checkTensorArg('gelu', 'x', x, { dtypes: ['float32'] });
  ensureGradients();
  // tidy: the forward's saved Phi(x) is kept only while a gradient tape needs it.
  return tf.tidy(() => geluWithGrad(x));
}

const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/**
 * GELU with its own gradient `dy * (Phi(x) + x * phi(x))`. The forward pass
 * saves the input and `Phi(x)` (the erf is the costliest elementwise kernel
 * of a ViT step on WASM, so the backward pass does not compute it again);
 * composed from ops, autodiff would hold five full-size intermediates per MLP
 * until backward (the largest tensors of a ViT training step).
 */
const geluWithGrad = tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
  const cdf = tf.tidy(() => tf.mul(tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1), 0.5));
  save([x, cdf]);
  return {
    value: tf.mul(x, cdf),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
      tf.tidy(() => {
        const [sx, scdf] = saved as [tf.Tensor, tf.Tensor];
        // x * phi(x) = x / sqrt(2 pi) * exp(v), v = -x^2 / 2 <= 0. exp(v) is
        // taken as s / (1 - s) with s = sigmoid(v): tfjs-wasm's Sigmoid is
        // XNNPACK's vectorised kernel, its Exp a scalar loop (9 vs 24-36 ms
        // over 2M values); for v <= 0, 1 - s >= 1/2 and the quotient is
        // within 4e-7 (relative) of exp(v).
        const s = tf.sigmoid(tf.mul(tf.square(sx), -0.5));
        const xPdf = tf.mul(tf.mul(sx, INV_SQRT_2PI), tf.div(s, tf.sub(1, s)));
        return tf.mul(dy, tf.add(scdf, xPdf));
      }),
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (x: tf.Tensor) => tf.Tensor;

/**
 * QuickGELU `x * sigmoid(1.702 x)`, the GELU approximation of OpenAI's CLIP
 * (open_clip `QuickGELU`, `quick_gelu=True`): its released weights were
 * trained with it, so loading them needs it.
 */
export function quickGelu(x: tf.Tensor): tf.Tensor {
  checkTensorArg('quickGelu', 'x', x);
  return tf.tidy(() => tf.mul(x, tf.sigmoid(tf.mul(x, 1.702))));
}

/** Activation of an {@link Mlp}: the exact `'gelu'` or CLIP's `'quickGelu'`. */
export type MlpActivation = 'gelu' | 'quickGelu';

/** Config of {@link Mlp}. */
export interface MlpConfig {
  /** Input (and, by default, output) width `D`. */
  inFeatures: number;
  /**
   * Hidden width. Default `Math.floor(inFeatures * mlpRatio)`, as timm's
   * `Block` computes `int(dim * mlp_ratio)`.
   */
  hiddenFeatures?: number;
  /** Hidden width as a multiple of `inFeatures`, when `hiddenFeatures` is not given. Default 4 (ViT). */
  mlpRatio?: number;
  /** Output width. Default `inFeatures`. */
  outFeatures?: number;
  /** Whether `fc1` and `fc2` have biases. Default `true` (timm). */
  bias?: boolean;
  /** Hidden activation. Default `'gelu'` (exact, timm); `'quickGelu'` for OpenAI CLIP weights. */
  act?: MlpActivation;
  /** Seed of the initial weights. Default 0. */
  seed?: number;
  /** Layer name. */
  name?: string;
}

/**
 * The transformer feed-forward network (timm `Mlp`): `fc2(GELU(fc1(x)))` with
 * the exact {@link gelu} (or {@link quickGelu} with `act: 'quickGelu'`). Weights: `fc1.weight`, `fc1.bias`, `fc2.weight`,
 * `fc2.bias`.
 *
 * Shapes: `x: [..., D]` -> `[..., outFeatures]`.
 */
export class Mlp extends Module {
  static readonly className = 'MimkitMlp';
  /** Resolved config. */
  readonly config: {
    inFeatures: number;
    hiddenFeatures: number;
    outFeatures: number;
    bias: boolean;
    act: MlpActivation;
    seed: number;
  };
  /** First projection `D -> hidden`. */
  readonly fc1: Linear;
  /** Second projection `hidden -> out`. */
  readonly fc2: Linear;

  constructor(config: MlpConfig) {
    requireConfig('Mlp', config);
    requireInt('Mlp', 'inFeatures', config.inFeatures, { min: 1, max: CONFIG_LIMITS.maxDim });
    if (config.hiddenFeatures !== undefined) requireInt('Mlp', 'hiddenFeatures', config.hiddenFeatures, { min: 1, max: CONFIG_LIMITS.maxDim * 64 });
    optionalNumber('Mlp', 'mlpRatio', config.mlpRatio, 4, { min: 0, minExclusive: true, max: 64 });
    if (config.outFeatures !== undefined) requireInt('Mlp', 'outFeatures', config.outFeatures, { min: 1, max: CONFIG_LIMITS.maxDim });
    optionalBool('Mlp', 'bias', config.bias, true);
    super({ name: config.name, seed: config.seed });
    const inF = config.inFeatures;
    if (!Number.isInteger(inF) || inF <= 0) throw new Error(`Mlp: inFeatures must be a positive integer, got ${inF}`);
    const ratio = config.mlpRatio ?? 4;
    if (!(typeof ratio === 'number' && ratio > 0)) throw new Error(`Mlp: mlpRatio must be a positive number, got ${ratio}`);
    const hidden = config.hiddenFeatures ?? Math.floor(inF * ratio);
    const outF = config.outFeatures ?? inF;
    if (!Number.isInteger(hidden) || hidden <= 0) {
      throw new Error(`Mlp: hiddenFeatures must be a positive integer, got ${hidden}`);
    }
    if (!Number.isInteger(outF) || outF <= 0) throw new Error(`Mlp: outFeatures must be a positive integer, got ${outF}`);
    const bias = config.bias ?? true;
    const act = config.act ?? 'gelu';
    if (act !== 'gelu' && act !== 'quickGelu') throw new Error(`Mlp: act must be 'gelu' or 'quickGelu', got '${String(act)}'`);
    this.config = { inFeatures: inF, hiddenFeatures: hidden, outFeatures: outF, bias, act, seed: config.seed ?? 0 };
    this.fc1 = this.addModule('fc1', new Linear({ inFeatures: inF, outFeatures: hidden, bias, seed: this.childSeed('fc1') }));
    this.fc2 = this.addModule('fc2', new Linear({ inFeatures: hidden, outFeatures: outF, bias, seed: this.childSeed('fc2') }));
  }

  /** `x: [..., D]` -> `[..., outFeatures]`. */
  forward(x: tf.Tensor): tf.Tensor {
    checkTensorArg('Mlp.forward', 'x', x, { what: '[..., inFeatures]', nonEmpty: false });
    if (x.shape[x.rank - 1] !== this.config.inFeatures) {
      throw new Error(`Mlp: x last dimension must be inFeatures=${this.config.inFeatures}, got shape [${x.shape}]`);
    }
    const act = this.config.act === 'quickGelu' ? quickGelu : gelu;
    return tf.tidy(() => this.fc2.forward(act(this.fc1.forward(x))));
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
serialization.registerClass(Mlp);
