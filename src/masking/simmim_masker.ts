import * as tf from '@tensorflow/tfjs-core';
import {
  checkInt,
  checkRatio,
  indexArraysToTensors,
  maskToIndexArrays,
  toRng,
  type MaskIndexArrays,
  type MaskIndexTensors,
  type RandomSource,
} from './common.js';

/** Options of {@link SimMIMMasker}. */
export interface SimMIMMaskerConfig {
  /**
   * Image size in pixels: a number for a square image, or `[height, width]`.
   * Default 192: SimMIM's pretraining resolution.
   */
  inputSize?: number | readonly [number, number];
  /**
   * Side of one masking unit in pixels. Default 32: SimMIM's ablation found
   * 32-pixel units best (larger than the model patch, so a masked region
   * cannot be filled in from its immediate neighbours).
   */
  maskPatchSize?: number;
  /** The model's patch size in pixels. Default 4 (SimMIM's Swin); 16 for a ViT-B/16. */
  modelPatchSize?: number;
  /** Fraction of masking units masked, in [0, 1). Default 0.6 (SimMIM). */
  maskRatio?: number;
}

/** Plain-array result of {@link SimMIMMasker.maskArrays}. */
export interface SimMIMMaskArrays {
  /** Number of samples `B`. */
  batchSize: number;
  /** Model-patch grid height `H / modelPatchSize`. */
  gridHeight: number;
  /** Model-patch grid width `W / modelPatchSize`. */
  gridWidth: number;
  /** `[B * gridHeight * gridWidth]` row-major 0/1 at the model patch grid: 1 = masked. */
  mask: Uint8Array;
  /** `[B * maskCount]` the masked units of each sample (unit-grid row-major index), in draw order. */
  maskedUnits: Int32Array;
}

/**
 * Tensor result of {@link SimMIMMasker.mask}: NEW tensors the caller disposes
 * (`tf.dispose(result)`).
 */
export type SimMIMMaskResult = {
  /** float32 `[B, H/p, W/p]` at the model patch grid, 1 = masked (SimMIM's `mask` input). */
  mask: tf.Tensor3D;
  /** float32 `[B, L]` the same mask flattened row-major (`L = (H/p)(W/p)`). */
  maskFlat: tf.Tensor2D;
};

/**
 * SimMIM's random masking (Xie et al., "SimMIM: A Simple Framework for Masked
 * Image Modeling", CVPR 2022; `data/data_simmim.py` `MaskGenerator`).
 *
 * The image is cut into units of `maskPatchSize` pixels
 * (`tokenCount = (H / maskPatchSize) (W / maskPatchSize)` units); exactly
 * `maskCount = ceil(tokenCount * maskRatio)` units are drawn without
 * replacement (a shuffle of the unit indices with our {@link utils.Rng | Rng}), and each
 * unit's flag is repeated `scale = maskPatchSize / modelPatchSize` times along
 * both axes, giving a mask at the model's patch grid. Every sample masks
 * exactly `maskCount * scale^2` model patches.
 *
 * @example
 * ```ts
 * import { SimMIMMasker, Rng } from 'mimkit';
 *
 * // 192 px images, 32 px mask units over 4 px model patches, 60% masked (SimMIM's Swin recipe).
 * const masker = new SimMIMMasker({ inputSize: 192, maskPatchSize: 32, modelPatchSize: 4, maskRatio: 0.6 });
 * const { mask } = masker.mask(2, new Rng(0)); // [2, 48, 48] at model-patch resolution, 1 = masked
 * ```
 */
export class SimMIMMasker {
  /** Name for configs and logs. */
  static readonly className = 'SimMIMMasker';
  /** Image height in pixels. */
  readonly inputHeight: number;
  /** Image width in pixels. */
  readonly inputWidth: number;
  /** Masking unit side in pixels. */
  readonly maskPatchSize: number;
  /** Model patch side in pixels. */
  readonly modelPatchSize: number;
  /** Fraction of units masked. */
  readonly maskRatio: number;
  /** Unit grid height. */
  readonly randHeight: number;
  /** Unit grid width. */
  readonly randWidth: number;
  /** Model patches per unit side: `maskPatchSize / modelPatchSize`. */
  readonly scale: number;
  /** Number of masking units. */
  readonly tokenCount: number;
  /** Masked units per sample: `ceil(tokenCount * maskRatio)`. */
  readonly maskCount: number;

  /** @param config see {@link SimMIMMaskerConfig}; validated here. */
  constructor(config: SimMIMMaskerConfig = {}) {
    const who = 'SimMIMMasker';
    const size = config.inputSize ?? 192;
    let hw: [number, number];
    if (typeof size === 'number') hw = [size, size];
    else if (Array.isArray(size) && size.length === 2) hw = [size[0], size[1]];
    else throw new Error(`${who}: inputSize must be a number or [height, width], got ${JSON.stringify(size)}`);
    this.inputHeight = checkInt(who, 'inputSize height', hw[0], 1);
    this.inputWidth = checkInt(who, 'inputSize width', hw[1], 1);
    this.maskPatchSize = checkInt(who, 'maskPatchSize', config.maskPatchSize ?? 32, 1);
    this.modelPatchSize = checkInt(who, 'modelPatchSize', config.modelPatchSize ?? 4, 1);
    this.maskRatio = checkRatio(who, 'maskRatio', config.maskRatio ?? 0.6);
    for (const [name, v] of [['height', this.inputHeight], ['width', this.inputWidth]] as const) {
      if (v % this.maskPatchSize !== 0) {
        throw new Error(`${who}: input ${name} ${v} is not divisible by maskPatchSize ${this.maskPatchSize}`);
      }
    }
    if (this.maskPatchSize % this.modelPatchSize !== 0) {
      throw new Error(
        `${who}: maskPatchSize ${this.maskPatchSize} must be a multiple of modelPatchSize ${this.modelPatchSize}`,
      );
    }
    this.randHeight = this.inputHeight / this.maskPatchSize;
    this.randWidth = this.inputWidth / this.maskPatchSize;
    this.scale = this.maskPatchSize / this.modelPatchSize;
    this.tokenCount = this.randHeight * this.randWidth;
    this.maskCount = Math.ceil(this.tokenCount * this.maskRatio);
  }

  /** The full config (defaults filled in; `inputSize` as `[height, width]`). */
  getConfig(): Required<Omit<SimMIMMaskerConfig, 'inputSize'>> & { inputSize: [number, number] } {
    return {
      inputSize: [this.inputHeight, this.inputWidth],
      maskPatchSize: this.maskPatchSize,
      modelPatchSize: this.modelPatchSize,
      maskRatio: this.maskRatio,
    };
  }

  /** Model-patch grid `[H / p, W / p]`. */
  get gridShape(): [number, number] {
    return [this.randHeight * this.scale, this.randWidth * this.scale];
  }

  /** Masks `batchSize` samples (one shuffle each, in order), as plain arrays. */
  maskArrays(batchSize: number, random: RandomSource): SimMIMMaskArrays {
    checkInt('SimMIMMasker', 'batchSize', batchSize, 1);
    const rng = toRng('SimMIMMasker', random);
    const [gh, gw] = this.gridShape;
    const n = gh * gw;
    const mask = new Uint8Array(batchSize * n);
    const maskedUnits = new Int32Array(batchSize * this.maskCount);
    const units = new Array<number>(this.tokenCount);
    for (let b = 0; b < batchSize; b++) {
      for (let i = 0; i < this.tokenCount; i++) units[i] = i;
      rng.shuffle(units);
      for (let k = 0; k < this.maskCount; k++) {
        const u = units[k]!;
        maskedUnits[b * this.maskCount + k] = u;
        const r0 = Math.floor(u / this.randWidth) * this.scale;
        const c0 = (u % this.randWidth) * this.scale;
        for (let r = r0; r < r0 + this.scale; r++) {
          mask.fill(1, b * n + r * gw + c0, b * n + r * gw + c0 + this.scale);
        }
      }
    }
    return { batchSize, gridHeight: gh, gridWidth: gw, mask, maskedUnits };
  }

  /** Masks `batchSize` samples, as new float32 tensors (the caller disposes them). */
  mask(batchSize: number, random: RandomSource): SimMIMMaskResult {
    const a = this.maskArrays(batchSize, random);
    const values = Float32Array.from(a.mask);
    return {
      mask: tf.tensor3d(values, [batchSize, a.gridHeight, a.gridWidth], 'float32'),
      maskFlat: tf.tensor2d(values, [batchSize, a.gridHeight * a.gridWidth], 'float32'),
    };
  }

  /** Index form (visible model patches first), as arrays. */
  static indexForm(result: SimMIMMaskArrays): MaskIndexArrays;
  /** Index form as new int32 tensors (the caller disposes them). */
  static indexForm(result: SimMIMMaskArrays, asTensors: true): MaskIndexTensors;
  static indexForm(result: SimMIMMaskArrays, asTensors = false): MaskIndexArrays | MaskIndexTensors {
    const a = maskToIndexArrays(result.mask, result.batchSize, result.gridHeight * result.gridWidth);
    return asTensors ? indexArraysToTensors(a) : a;
  }
}
