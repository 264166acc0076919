import * as tf from '@tensorflow/tfjs-core';
import { serialization } from '@tensorflow/tfjs-core';
import { linear } from '../ops/matmul.js';
import { Module, type Weight } from './module.js';
import { patchify } from './patchify.js';
import { CONFIG_LIMITS, checkConfigObject, checkSize2d, checkTensorArg, optionalBool, optionalInt, orDefault } from '../utils/config.js';

/** Config of {@link PatchEmbed}. */
export interface PatchEmbedConfig {
  /**
   * Image size in pixels: a number for a square image or `[height, width]`.
   * Default 224 (ViT, MAE). Both sides must be multiples of `patchSize`.
   */
  imgSize?: number | [number, number];
  /** Patch size `p` in pixels (kernel = stride of the reference conv). Default 16 (ViT-B/16). */
  patchSize?: number;
  /** Input channels `C`. Default 3 (RGB). */
  inChans?: number;
  /** Token width `D`. Default 768 (ViT-Base). */
  embedDim?: number;
  /** Whether the projection has a bias. Default `true` (timm, as every ViT checkpoint has). */
  bias?: boolean;
  /**
   * Whether the input must be exactly `imgSize`. Default `true` (timm's
   * `strict_img_size`): a position table is tied to one grid, so a silently
   * different grid would misalign it. With `false`, any size divisible by the
   * patch size is accepted.
   */
  strictImgSize?: boolean;
  /** Seed of the initial weights. Default 0. */
  seed?: number;
  /** Layer name. */
  name?: string;
}

/** Normalises `number | [h, w]` to `[h, w]`, validating it. */
export function toPair(name: string, owner: string, v: number | [number, number]): [number, number] {
  if (typeof v !== 'number' && !(Array.isArray(v) && v.length === 2)) {
    throw new Error(`${owner}: ${name} must be a number or [height, width], got ${JSON.stringify(v)}`);
  }
  const pair: [number, number] = typeof v === 'number' ? [v, v] : [v[0], v[1]];
  for (const x of pair) {
    if (!Number.isInteger(x) || x <= 0) {
      throw new Error(`${owner}: ${name} must hold positive integers, got ${JSON.stringify(v)}`);
    }
  }
  return pair;
}

/**
 * Image to patch tokens (Dosovitskiy et al., 2021, "An Image is Worth 16x16
 * Words"; timm `PatchEmbed`): a convolution with kernel = stride = `p`,
 * computed as {@link patchify} followed by one matrix product, so it trains on
 * backends without a conv-filter gradient (WASM).
 *
 * Weights (timm names): `proj.weight`, stored as the matrix `[p*p*C, D]`
 * (layout `convMatrix`: PyTorch's `[D, C, p, p]` is converted once at import),
 * and `proj.bias` `[D]`. Init as MAE: xavier-uniform on the weight viewed as
 * `[D, C*p*p]`; the bias keeps PyTorch's Conv2d default
 * `U(-1/sqrt(C*p*p), 1/sqrt(C*p*p))` (MAE does not re-initialise it).
 *
 * Shapes: `[B, H, W, C]` (NHWC) -> `[B, (H/p) * (W/p), D]`, tokens in
 * row-major grid order.
 */
export class PatchEmbed extends Module {
  static readonly className = 'MimkitPatchEmbed';
  /** Resolved config (defaults filled in). */
  readonly config: {
    imgSize: [number, number];
    patchSize: number;
    inChans: number;
    embedDim: number;
    bias: boolean;
    strictImgSize: boolean;
    seed: number;
  };
  /** Patch grid `[rows, cols]` at `imgSize`. */
  readonly gridSize: [number, number];
  /** Number of patches at `imgSize`. */
  readonly numPatches: number;
  /** `proj.weight`, `[p*p*C, D]`. */
  readonly weight: Weight;
  /** `proj.bias`, `[D]`, or null without bias. */
  readonly bias: Weight | null;

  constructor(config: PatchEmbedConfig = {}) {
    checkConfigObject('PatchEmbed', config);
    checkSize2d('PatchEmbed', 'imgSize', orDefault(config.imgSize, 224));
    optionalInt('PatchEmbed', 'patchSize', config.patchSize, 16, { min: 1, max: CONFIG_LIMITS.maxPatchSize });
    optionalInt('PatchEmbed', 'inChans', config.inChans, 3, { min: 1, max: CONFIG_LIMITS.maxChannels });
    optionalInt('PatchEmbed', 'embedDim', config.embedDim, 768, { min: 1, max: CONFIG_LIMITS.maxDim });
    optionalBool('PatchEmbed', 'bias', config.bias, true);
    optionalBool('PatchEmbed', 'strictImgSize', config.strictImgSize, true);
    super({ name: config.name, seed: config.seed });
    const imgSize = toPair('imgSize', 'PatchEmbed', config.imgSize ?? 224);
    const p = config.patchSize ?? 16;
    const inChans = config.inChans ?? 3;
    const embedDim = config.embedDim ?? 768;
    for (const [k, v] of [['patchSize', p], ['inChans', inChans], ['embedDim', embedDim]] as const) {
      if (!Number.isInteger(v) || v <= 0) throw new Error(`PatchEmbed: ${k} must be a positive integer, got ${v}`);
    }
    if (imgSize[0] % p !== 0 || imgSize[1] % p !== 0) {
      throw new Error(
        `PatchEmbed: imgSize ${imgSize[0]}x${imgSize[1]} is not divisible by patchSize ${p}`,
      );
    }
    this.config = {
      imgSize,
      patchSize: p,
      inChans,
      embedDim,
      bias: config.bias ?? true,
      strictImgSize: config.strictImgSize ?? true,
      seed: config.seed ?? 0,
    };
    this.gridSize = [imgSize[0] / p, imgSize[1] / p];
    this.numPatches = this.gridSize[0] * this.gridSize[1];
    const fanIn = inChans * p * p;
    this.weight = this.addParam('proj.weight', [fanIn, embedDim], { kind: 'xavierUniform', fanIn, fanOut: embedDim }, {
      layout: { kind: 'convMatrix', kh: p, kw: p, inChannels: inChans },
    });
    const bound = 1 / Math.sqrt(fanIn);
    this.bias = this.config.bias
      ? this.addParam('proj.bias', [embedDim], { kind: 'uniform', low: -bound, high: bound })
      : null;
  }

  /** Checks an input's shape; throws before any tensor work. */
  private validate(imgs: tf.Tensor): void {
    const { patchSize: p, inChans, imgSize, strictImgSize } = this.config;
    if (imgs.rank !== 4) {
      throw new Error(`PatchEmbed: imgs must have rank 4 [B, H, W, C] (NHWC), got shape [${imgs.shape}]`);
    }
    const [, h, w, c] = imgs.shape as [number, number, number, number];
    if (c !== inChans) {
      throw new Error(
        `PatchEmbed: imgs has ${c} channels (shape [${imgs.shape}], NHWC), expected inChans=${inChans}`,
      );
    }
    if (strictImgSize && (h !== imgSize[0] || w !== imgSize[1])) {
      throw new Error(
        `PatchEmbed: image size ${h}x${w} (imgs.shape=[${imgs.shape}]) does not match imgSize ${imgSize[0]}x${imgSize[1]}`,
      );
    }
    if (h % p !== 0 || w % p !== 0) {
      throw new Error(`PatchEmbed: image size ${h}x${w} is not divisible by patchSize ${p}`);
    }
  }

  /** `imgs: [B, H, W, C]` -> tokens `[B, (H/p)(W/p), D]`. */
  forward(imgs: tf.Tensor): tf.Tensor3D {
    checkTensorArg('PatchEmbed.forward', 'imgs', imgs, { rank: 4, what: '[B, H, W, C] images (NHWC)' });
    this.validate(imgs);
    return tf.tidy(
      () => linear(patchify(imgs, this.config.patchSize), this.weight.read(), this.bias?.read() ?? null) as tf.Tensor3D,
    );
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return this.forward(Array.isArray(inputs) ? inputs[0]! : inputs);
  }

  override computeOutputShape(shape: (number | null)[]): (number | null)[] {
    const p = this.config.patchSize;
    const h = shape[1];
    const w = shape[2];
    const n = h == null || w == null ? null : (h / p) * (w / p);
    return [shape[0] ?? null, n, this.config.embedDim];
  }

  override getConfig(): serialization.ConfigDict {
    return { ...super.getConfig(), ...this.config };
  }
}
serialization.registerClass(PatchEmbed);
