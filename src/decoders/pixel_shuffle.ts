import * as tf from '@tensorflow/tfjs-core';
import { serialization } from '@tensorflow/tfjs-core';
import { ensureGradients } from '../ops/gradients.js';
import { linear } from '../ops/matmul.js';
import { Module, type Weight } from '../layers/module.js';
import { CONFIG_LIMITS, checkTensorArg, optionalInt, requireConfig, requireInt } from '../utils/config.js';

/**
 * PyTorch's `nn.PixelShuffle(r)` in NHWC: at every cell `(y, x)`, channel
 * `c * r * r + i * r + j` becomes output pixel `(y * r + i, x * r + j)`,
 * channel `c` (the channel order of the PyTorch layer, so a converted
 * `[r*r*C, D, 1, 1]` conv weight is used unchanged). A pure reshape/transpose.
 *
 * @param x `[B, h, w, C * r * r]`.
 * @param r upscale factor.
 * @returns `[B, h * r, w * r, C]`.
 */
export function pixelShuffle(x: tf.Tensor, r: number): tf.Tensor4D {
  ensureGradients();
  if (!Number.isInteger(r) || r <= 0) throw new Error(`pixelShuffle: r must be a positive integer, got ${r}`);
  if (!(x instanceof tf.Tensor) || x.rank !== 4 || x.shape[3]! % (r * r) !== 0) {
    throw new Error(
      `pixelShuffle: x must be [B, h, w, C * r * r] with r=${r}, got ${x instanceof tf.Tensor ? `shape [${x.shape}]` : String(x)}`,
    );
  }
  const [b, h, w, cr] = x.shape as [number, number, number, number];
  const c = cr / (r * r);
  return tf.tidy(() => {
    const t = tf.reshape(x, [b, h, w, c, r, r]);
    return tf.reshape(tf.transpose(t, [0, 1, 4, 2, 5, 3]), [b, h * r, w * r, c]) as tf.Tensor4D;
  });
}

/** Config of {@link LinearPixelShuffleDecoder}. */
export interface LinearPixelShuffleDecoderConfig {
  /** Feature width `D` of the encoder's output map. */
  inFeatures: number;
  /** Upscale factor `r` (SimMIM's `encoder_stride`: the encoder's total downsampling, the patch size for a ViT). Default 16. */
  encoderStride?: number;
  /** Image channels `C` to reconstruct. Default 3. */
  outChans?: number;
  /** Seed of the initial weights. Default 0. */
  seed?: number;
  /** Layer name. */
  name?: string;
}

/**
 * SimMIM's one-layer prediction head (Xie et al. 2021, "SimMIM: A Simple
 * Framework for Masked Image Modeling", `models/simmim.py` `decoder`): a 1x1
 * convolution `D -> r*r*C` (a Linear over channels) followed by
 * {@link pixelShuffle} back to image resolution. The paper found this
 * lightest head as good as heavier ones.
 *
 * Weights (SimMIM names, index 0 of its `nn.Sequential(conv, PixelShuffle)`):
 * `0.weight` (PyTorch `[r*r*C, D, 1, 1]`, layout `convMatrix` 1x1, stored
 * `[D, r*r*C]`) and `0.bias` `[r*r*C]`; PyTorch's Conv2d default init
 * `U(-1/sqrt(D), 1/sqrt(D))` for both (SimMIM does not re-initialise them).
 *
 * Shapes: `[B, h, w, D]` -> `[B, h*r, w*r, C]`.
 */
export class LinearPixelShuffleDecoder extends Module {
  static readonly className = 'MimkitLinearPixelShuffleDecoder';
  /** Resolved config. */
  readonly config: { inFeatures: number; encoderStride: number; outChans: number; seed: number };
  /** `0.weight` `[D, r*r*C]`. */
  readonly weight: Weight;
  /** `0.bias` `[r*r*C]`. */
  readonly bias: Weight;

  constructor(config: LinearPixelShuffleDecoderConfig) {
    requireConfig('LinearPixelShuffleDecoder', config);
    requireInt('LinearPixelShuffleDecoder', 'inFeatures', config.inFeatures, { min: 1, max: CONFIG_LIMITS.maxDim });
    optionalInt('LinearPixelShuffleDecoder', 'encoderStride', config.encoderStride, 16, { min: 1, max: CONFIG_LIMITS.maxPatchSize });
    optionalInt('LinearPixelShuffleDecoder', 'outChans', config.outChans, 3, { min: 1, max: CONFIG_LIMITS.maxChannels });
    super({ name: config.name, seed: config.seed });
    const c = {
      inFeatures: config.inFeatures,
      encoderStride: config.encoderStride ?? 16,
      outChans: config.outChans ?? 3,
      seed: config.seed ?? 0,
    };
    for (const k of ['inFeatures', 'encoderStride', 'outChans'] as const) {
      if (!Number.isInteger(c[k]) || c[k] <= 0) {
        throw new Error(`LinearPixelShuffleDecoder: ${k} must be a positive integer, got ${c[k]}`);
      }
    }
    this.config = c;
    const out = c.encoderStride ** 2 * c.outChans;
    const bound = 1 / Math.sqrt(c.inFeatures);
    this.weight = this.addParam('0.weight', [c.inFeatures, out], { kind: 'uniform', low: -bound, high: bound }, {
      layout: { kind: 'convMatrix', kh: 1, kw: 1, inChannels: c.inFeatures },
    });
    this.bias = this.addParam('0.bias', [out], { kind: 'uniform', low: -bound, high: bound });
  }

  /** `features [B, h, w, D]` -> image `[B, h*r, w*r, C]`. */
  forward(features: tf.Tensor): tf.Tensor4D {
    checkTensorArg('LinearPixelShuffleDecoder.forward', 'features', features, { rank: 4, what: '[B, h, w, inFeatures]' });
    const D = this.config.inFeatures;
    if (!(features instanceof tf.Tensor) || features.rank !== 4 || features.shape[3] !== D) {
      throw new Error(
        `LinearPixelShuffleDecoder: features must be [B, h, w, inFeatures=${D}], got ${features instanceof tf.Tensor ? `shape [${features.shape}]` : String(features)}`,
      );
    }
    return tf.tidy(() => pixelShuffle(linear(features, this.weight.read(), this.bias.read()), this.config.encoderStride));
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return this.forward(Array.isArray(inputs) ? inputs[0]! : inputs);
  }

  override computeOutputShape(shape: (number | null)[]): (number | null)[] {
    const r = this.config.encoderStride;
    const h = shape[1];
    const w = shape[2];
    return [shape[0] ?? null, h == null ? null : h * r, w == null ? null : w * r, this.config.outChans];
  }

  override getConfig(): serialization.ConfigDict {
    return { ...super.getConfig(), ...this.config };
  }
}
serialization.registerClass(LinearPixelShuffleDecoder);
