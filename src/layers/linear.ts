import * as tf from '@tensorflow/tfjs-core';
import { serialization } from '@tensorflow/tfjs-core';
import { linear } from '../ops/matmul.js';
import { Module, type Weight } from './module.js';
import type { Init } from './init.js';
import { CONFIG_LIMITS, checkTensorArg, optionalBool, requireConfig, requireInt } from '../utils/config.js';

function checkLinearConfig(config: LinearConfig): void {
  requireConfig('Linear', config);
  requireInt('Linear', 'inFeatures', config.inFeatures, { min: 1, max: CONFIG_LIMITS.maxDim });
  requireInt('Linear', 'outFeatures', config.outFeatures, { min: 1, max: CONFIG_LIMITS.maxDim });
  optionalBool('Linear', 'bias', config.bias, true);
}

/** Config of {@link Linear}. */
export interface LinearConfig {
  /** Input features. */
  inFeatures: number;
  /** Output features. */
  outFeatures: number;
  /** Whether the layer has a bias. Default `true` (PyTorch's default). */
  bias?: boolean;
  /**
   * Weight initialiser. Default: xavier-uniform on the `[out, in]` layout, as
   * MAE's `_init_weights` does for every `nn.Linear`. The bias starts at zero.
   */
  init?: Init;
  /** Seed of the initial weights. Default 0. */
  seed?: number;
  name?: string;
}

/**
 * A fully connected layer `y = x W + b` over the last axis (PyTorch
 * `nn.Linear`). `weight` is stored `[in, out]`; PyTorch's `[out, in]` is
 * transposed once at import.
 *
 * Shapes: `x: [..., in]` -> `[..., out]`.
 */
export class Linear extends Module {
  static readonly className = 'MimkitLinear';
  readonly config: Required<Omit<LinearConfig, 'init' | 'name'>> & { init: Init };
  readonly weight: Weight;
  readonly bias: Weight | null;

  constructor(config: LinearConfig) {
    checkLinearConfig(config);
    super({ name: config.name, seed: config.seed });
    for (const key of ['inFeatures', 'outFeatures'] as const) {
      const v = config[key];
      if (!Number.isInteger(v) || v <= 0) {
        throw new Error(`Linear: ${key} must be a positive integer, got ${v}`);
      }
    }
    const init: Init = config.init ?? {
      kind: 'xavierUniform',
      fanIn: config.inFeatures,
      fanOut: config.outFeatures,
    };
    this.config = {
      inFeatures: config.inFeatures,
      outFeatures: config.outFeatures,
      bias: config.bias ?? true,
      seed: config.seed ?? 0,
      init,
    };
    this.weight = this.addParam('weight', [config.inFeatures, config.outFeatures], init, {
      layout: { kind: 'linear' },
    });
    this.bias = this.config.bias ? this.addParam('bias', [config.outFeatures], { kind: 'zeros' }) : null;
  }

  /** `x: [..., in]` -> `[..., out]`. */
  forward(x: tf.Tensor): tf.Tensor {
    checkTensorArg('Linear.forward', 'x', x, { what: '[..., inFeatures]', nonEmpty: false });
    if (x.shape[x.rank - 1] !== this.config.inFeatures) {
      throw new Error(
        `Linear: input last dimension must be inFeatures=${this.config.inFeatures}, got shape [${x.shape}]`,
      );
    }
    return linear(x, this.weight.read(), this.bias?.read() ?? null);
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return this.forward(Array.isArray(inputs) ? inputs[0]! : inputs);
  }

  override computeOutputShape(shape: (number | null)[]): (number | null)[] {
    return [...shape.slice(0, -1), this.config.outFeatures];
  }

  override getConfig(): serialization.ConfigDict {
    const { init: _init, ...rest } = this.config;
    return { ...super.getConfig(), ...rest };
  }
}
serialization.registerClass(Linear);
