import * as tf from '@tensorflow/tfjs-core';
import { serialization } from '@tensorflow/tfjs-core';
import { Linear } from '../layers/linear.js';
import { gelu } from '../layers/mlp.js';
import { Module } from '../layers/module.js';
import { WeightNormLinear } from '../layers/weight_norm_linear.js';

/** Config of {@link DINOHead} (dino's `DINOHead` arguments in camelCase). Defaults are the paper's. */
export interface DINOHeadConfig {
  /** Input width: the backbone's feature width `D` (`in_dim`). */
  inDim: number;
  /** Output width `K`, the number of prototypes (`out_dim`). Default 65536 (the paper's). */
  outDim?: number;
  /**
   * Linear layers of the MLP before the bottleneck (`nlayers`, at least 1).
   * Default 3 (the paper: D -> 2048 -> 2048 -> 256).
   */
  nlayers?: number;
  /** Hidden width of the MLP (`hidden_dim`, unused when `nlayers` is 1). Default 2048. */
  hiddenDim?: number;
  /** Width of the l2-normalised bottleneck (`bottleneck_dim`). Default 256. */
  bottleneckDim?: number;
  /**
   * Fix the last layer's weight norm at 1 (`norm_last_layer`): `weight_g` is
   * not trainable. Default `true`. The paper's ViT-S runs set it `false` for
   * a little accuracy; `true` is more stable (dino's README: ViT-B).
   */
  normLastLayer?: boolean;
  /** Seed of the initial weights. Default 0. */
  seed?: number;
  name?: string;
}

/** The config with every default filled in. */
export type ResolvedDINOHeadConfig = Required<Omit<DINOHeadConfig, 'name'>>;

/**
 * DINO's projection head (Caron et al. 2021, "Emerging Properties in
 * Self-Supervised Vision Transformers", `vision_transformer.py` `DINOHead`,
 * without BatchNorm): an MLP of `nlayers` Linears
 * `D -> hidden -> ... -> hidden -> bottleneck` with an exact GELU between
 * them, l2-normalisation (`x / max(|x|, 1e-12)`), then a weight-normalised
 * Linear without bias to `K` outputs ({@link WeightNormLinear}; its weight
 * norm fixed at 1 with `normLastLayer`). The bottleneck and the normalisation
 * keep the `K`-way softmax of DINO's loss well conditioned.
 *
 * Weights (dino's names): `mlp.0`, `mlp.2`, ..., `mlp.<2(nlayers-1)>` (the
 * indices of `nn.Sequential(Linear, GELU, Linear, ...)`), or the single
 * Linear `mlp` when `nlayers` is 1; `last_layer.weight_v` (PyTorch
 * `[K, bottleneck]`), `last_layer.weight_g` (PyTorch `[K, 1]`). Init as dino's
 * `_init_weights`: `trunc_normal(0.02)` MLP weights, zero biases, the last
 * layer as PyTorch's Linear default with `weight_g = 1`.
 *
 * Shapes: `x: [B, inDim]` -> `[B, outDim]`.
 */
export class DINOHead extends Module {
  static readonly className = 'MimkitDINOHead';
  readonly config: ResolvedDINOHeadConfig;
  /** The MLP's Linears, in order (`mlp.0`, `mlp.2`, ... or `mlp`). */
  readonly layers: Linear[];
  /** The weight-normalised last layer (`last_layer`). */
  readonly lastLayer: WeightNormLinear;

  constructor(config: DINOHeadConfig) {
    super({ name: config.name, seed: config.seed });
    if (config === null || typeof config !== 'object') throw new Error(`DINOHead: config must be an object, got ${String(config)}`);
    const c: ResolvedDINOHeadConfig = {
      inDim: config.inDim,
      outDim: config.outDim ?? 65536,
      nlayers: config.nlayers ?? 3,
      hiddenDim: config.hiddenDim ?? 2048,
      bottleneckDim: config.bottleneckDim ?? 256,
      normLastLayer: config.normLastLayer ?? true,
      seed: config.seed ?? 0,
    };
    for (const key of ['inDim', 'outDim', 'nlayers', 'hiddenDim', 'bottleneckDim'] as const) {
      if (!Number.isInteger(c[key]) || c[key] <= 0) throw new Error(`DINOHead: ${key} must be a positive integer, got ${String(c[key])}`);
    }
    if (typeof c.normLastLayer !== 'boolean') {
      throw new Error(`DINOHead: normLastLayer must be a boolean, got ${String(c.normLastLayer)}`);
    }
    this.config = c;
    const dims = c.nlayers === 1 ? [c.inDim, c.bottleneckDim] : [c.inDim, ...Array<number>(c.nlayers - 1).fill(c.hiddenDim), c.bottleneckDim];
    this.layers = [];
    for (let i = 0; i + 1 < dims.length; i++) {
      const key = c.nlayers === 1 ? 'mlp' : `mlp.${2 * i}`;
      this.layers.push(
        this.addModule(key, new Linear({
          inFeatures: dims[i]!,
          outFeatures: dims[i + 1]!,
          init: { kind: 'truncNormal', std: 0.02 },
          seed: this.childSeed(key),
        })),
      );
    }
    this.lastLayer = this.addModule('last_layer', new WeightNormLinear({
      inFeatures: c.bottleneckDim,
      outFeatures: c.outDim,
      fixedNorm: c.normLastLayer,
      seed: this.childSeed('last_layer'),
    }));
  }

  /** The l2-normalised bottleneck features: `x: [B, inDim]` -> `[B, bottleneckDim]`. */
  forwardBottleneck(x: tf.Tensor): tf.Tensor2D {
    const { inDim } = this.config;
    if (!(x instanceof tf.Tensor) || x.rank !== 2 || x.shape[1] !== inDim) {
      throw new Error(`DINOHead: x must be [B, inDim=${inDim}], got ${x instanceof tf.Tensor ? `shape [${x.shape}]` : typeof x}`);
    }
    return tf.tidy(() => {
      let h: tf.Tensor = x;
      this.layers.forEach((l, i) => {
        h = l.forward(h);
        if (i < this.layers.length - 1) h = gelu(h);
      });
      return tf.div(h, tf.maximum(tf.norm(h, 'euclidean', -1, true), 1e-12)) as tf.Tensor2D;
    });
  }

  /** `x: [B, inDim]` -> logits `[B, outDim]`. */
  forward(x: tf.Tensor): tf.Tensor2D {
    const z = this.forwardBottleneck(x);
    try {
      return this.lastLayer.forward(z) as tf.Tensor2D;
    } finally {
      z.dispose();
    }
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return this.forward(Array.isArray(inputs) ? inputs[0]! : inputs);
  }

  override computeOutputShape(shape: (number | null)[]): (number | null)[] {
    return [shape[0] ?? null, this.config.outDim];
  }

  override getConfig(): serialization.ConfigDict {
    return { ...super.getConfig(), ...this.config };
  }
}
serialization.registerClass(DINOHead);
