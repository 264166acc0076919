import * as tf from '@tensorflow/tfjs-core';
import { serialization } from '@tensorflow/tfjs-core';
import { Module, type Weight } from './module.js';
import { CONFIG_LIMITS, checkTensorArg, optionalNumber, requireConfig, requireInt } from '../utils/config.js';

/** Config of {@link LayerScale}. */
export interface LayerScaleConfig {
  /** Channels `D`. */
  dim: number;
  /**
   * Initial value of every factor. Default 1e-5 (timm `LayerScale`); CaiT
   * uses 0.1 to 1e-6 depending on depth, BEiT 0.1.
   */
  initValues?: number;
  /** Seed (unused by the constant init; kept for uniformity). Default 0. */
  seed?: number;
  /** Layer name. */
  name?: string;
}

/**
 * Per-channel residual-branch scaling (Touvron et al., 2021, "Going deeper
 * with Image Transformers", CaiT; timm `LayerScale`): `x * gamma`, `gamma` a
 * learnable `[D]` vector started small so each block begins near identity.
 * Weight: `gamma`.
 */
export class LayerScale extends Module {
  static readonly className = 'MimkitLayerScale';
  /** Resolved config. */
  readonly config: { dim: number; initValues: number; seed: number };
  /** `gamma` `[D]`. */
  readonly gamma: Weight;

  constructor(config: LayerScaleConfig) {
    requireConfig('LayerScale', config);
    requireInt('LayerScale', 'dim', config.dim, { min: 1, max: CONFIG_LIMITS.maxDim });
    optionalNumber('LayerScale', 'initValues', config.initValues, 1e-5);
    super({ name: config.name, seed: config.seed });
    if (!Number.isInteger(config.dim) || config.dim <= 0) {
      throw new Error(`LayerScale: dim must be a positive integer, got ${config.dim}`);
    }
    const initValues = config.initValues ?? 1e-5;
    if (!Number.isFinite(initValues)) throw new Error(`LayerScale: initValues must be a finite number, got ${initValues}`);
    this.config = { dim: config.dim, initValues, seed: config.seed ?? 0 };
    this.gamma = this.addParam('gamma', [config.dim], { kind: 'constant', value: initValues });
  }

  /** `x: [..., D]` -> `x * gamma`. */
  forward(x: tf.Tensor): tf.Tensor {
    checkTensorArg('LayerScale.forward', 'x', x, { what: '[..., dim]', nonEmpty: false });
    if (x.shape[x.rank - 1] !== this.config.dim) {
      throw new Error(`LayerScale: x last dimension must be dim=${this.config.dim}, got shape [${x.shape}]`);
    }
    return tf.tidy(() => tf.mul(x, this.gamma.read()));
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return this.forward(Array.isArray(inputs) ? inputs[0]! : inputs);
  }

  override getConfig(): serialization.ConfigDict {
    return { ...super.getConfig(), ...this.config };
  }
}
serialization.registerClass(LayerScale);
