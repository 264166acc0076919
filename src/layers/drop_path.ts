import * as tf from '@tensorflow/tfjs-core';
import { serialization } from '@tensorflow/tfjs-core';
import { Rng } from '../utils/random.js';
import { Module } from './module.js';
import { checkConfigObject, optionalBool, optionalNumber } from '../utils/config.js';

function checkRate(owner: string, rate: number): void {
  if (!(typeof rate === 'number' && rate >= 0 && rate <= 1)) {
    throw new Error(`${owner}: rate must be a number in [0, 1], got ${rate}`);
  }
}

/**
 * Stochastic depth per sample (Huang et al., 2016, "Deep Networks with
 * Stochastic Depth"; timm `drop_path`): each sample's residual branch is
 * zeroed with probability `rate`, and kept samples are scaled by
 * `1 / (1 - rate)` (with `scaleByKeep`) so the expectation is unchanged.
 *
 * The keep/drop draw comes from `rng` (the library's seeded generator, one
 * uniform per sample), not from the backend, so runs are reproducible on
 * every backend. Identity (returns `x` itself) when `rate` is 0 or not
 * `training`.
 *
 * @param x `[B, ...]`, one sample per leading index.
 * @returns same shape as `x`.
 */
export function dropPath(
  x: tf.Tensor,
  rate: number,
  rng: Rng,
  options: { training?: boolean; scaleByKeep?: boolean } = {},
): tf.Tensor {
  if (!(x instanceof tf.Tensor)) throw new Error(`dropPath: x must be a tf.Tensor, got ${x === null ? 'null' : typeof x}`);
  checkRate('dropPath', rate);
  if (rate === 0 || !options.training) return x;
  if (x.rank < 1) throw new Error(`dropPath: x must have a batch axis, got shape [${x.shape}]`);
  const keepProb = 1 - rate;
  const b = x.shape[0]!;
  const scale = (options.scaleByKeep ?? true) && keepProb > 0 ? 1 / keepProb : 1;
  const mask = new Float32Array(b);
  for (let i = 0; i < b; i++) mask[i] = Math.floor(keepProb + rng.uniform()) * scale;
  return tf.tidy(() => tf.mul(x, tf.tensor(mask, [b, ...x.shape.slice(1).map(() => 1)], 'float32')));
}

/** Config of {@link DropPath}. */
export interface DropPathConfig {
  /** Probability of dropping a sample's branch. Default 0 (off; timm). */
  rate?: number;
  /** Scale kept samples by `1 / (1 - rate)`. Default `true` (timm `scale_by_keep`). */
  scaleByKeep?: boolean;
  /**
   * Seed of the module's own generator. Default 0. The generator advances by
   * one uniform per sample at every training call, so a given seed and
   * sequence of calls reproduces the same drops; {@link DropPath.reset}
   * restarts it.
   */
  seed?: number;
  /** Layer name. */
  name?: string;
}

/**
 * Stochastic depth as a module (timm `DropPath`), see {@link dropPath}. Has
 * no weights; with rate 0 it is the identity and draws nothing.
 */
export class DropPath extends Module {
  static readonly className = 'MimkitDropPath';
  /** Resolved config. */
  readonly config: { rate: number; scaleByKeep: boolean; seed: number };
  private rng: Rng;
  /** Number of training calls that drew a mask since construction or reset. */
  step = 0;

  constructor(config: DropPathConfig = {}) {
    checkConfigObject('DropPath', config);
    optionalNumber('DropPath', 'rate', config.rate, 0, { min: 0, max: 1 });
    optionalBool('DropPath', 'scaleByKeep', config.scaleByKeep, true);
    super({ name: config.name, seed: config.seed });
    const rate = config.rate ?? 0;
    checkRate('DropPath', rate);
    this.config = { rate, scaleByKeep: config.scaleByKeep ?? true, seed: config.seed ?? 0 };
    this.rng = new Rng(this.config.seed);
  }

  /** A re-seeded module restarts its generator from the new seed. */
  protected override onReseed(): void {
    this.reset(this.config.seed);
  }

  /** Restarts the generator from `seed` (default: the config's seed). */
  reset(seed: number = this.config.seed): void {
    this.rng = new Rng(seed);
    this.step = 0;
  }

  /**
   * `x: [B, ...]` -> same shape. `rng` overrides the module's own generator
   * for this call (e.g. one generator shared by a whole training loop).
   */
  forward(x: tf.Tensor, options: { training?: boolean; rng?: Rng } = {}): tf.Tensor {
    if (this.config.rate === 0 || !options.training) return x;
    if (!options.rng) this.step++;
    return dropPath(x, this.config.rate, options.rng ?? this.rng, {
      training: true,
      scaleByKeep: this.config.scaleByKeep,
    });
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: { training?: boolean } = {}): tf.Tensor {
    return this.forward(Array.isArray(inputs) ? inputs[0]! : inputs, { training: kwargs.training });
  }

  override getConfig(): serialization.ConfigDict {
    return { ...super.getConfig(), ...this.config };
  }
}
serialization.registerClass(DropPath);
