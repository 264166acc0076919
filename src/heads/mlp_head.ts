import * as tf from '@tensorflow/tfjs-core';
import { serialization } from '@tensorflow/tfjs-core';
import { BatchNorm1d } from '../layers/batch_norm.js';
import { initTensor } from '../layers/init.js';
import { deriveSeed } from '../utils/random.js';
import { Linear } from '../layers/linear.js';
import { Module } from '../layers/module.js';
import { requireInt } from '../utils/config.js';

/** What follows the last Linear of an {@link MlpHead}. */
export type MlpHeadLastNorm = 'none' | 'bn' | 'bnNoAffine';

/** Config of {@link MlpHead}. Defaults are MoCo v3's `_build_mlp(num_layers, ..., last_bn=True)`. */
export interface MlpHeadConfig {
  /** Input width. */
  inFeatures: number;
  /** Width of every hidden layer. */
  hiddenFeatures: number;
  /** Output width. */
  outFeatures: number;
  /** Number of Linear layers (>= 1). Default 2. */
  numLayers?: number;
  /** Whether the hidden Linears have a bias. Default `false` (MoCo v3, SimSiam: a BN follows); BYOL `true`. */
  bias?: boolean;
  /** Whether the last Linear has a bias. Default `false` (MoCo v3); SimSiam's predictor and BYOL `true`. */
  lastBias?: boolean;
  /**
   * Norm after the last Linear. Default `'bnNoAffine'` (MoCo v3's and
   * SimSiam's projectors: "we further removed gamma in BN", after SimCLR);
   * `'none'` for SimSiam's and BYOL's predictors and MoCo v3's ResNet predictor.
   */
  lastNorm?: MlpHeadLastNorm;
  /** Epsilon of every BatchNorm. Default 1e-5 (PyTorch). */
  bnEps?: number;
  /** Momentum of every BatchNorm's running statistics. Default 0.1 (PyTorch). */
  bnMomentum?: number;
  /** Seed of the Linears' initial weights. Default 0. */
  seed?: number;
  name?: string;
}

/** Options of {@link MlpHead.forward}. */
export interface MlpHeadForwardOptions {
  /** BatchNorm with batch statistics (and running-statistics updates). Default `false`. */
  training?: boolean;
}

/**
 * The projection / prediction MLP of the Siamese self-supervised methods, in
 * the `nn.Sequential` form of MoCo v3's `_build_mlp` (Chen, Xie, He 2021),
 * SimSiam (Chen & He 2021) and BYOL (Grill et al. 2020), as lightly's heads
 * build them: for each hidden layer `Linear - BatchNorm1d - ReLU`, then the
 * last `Linear`, optionally followed by a BatchNorm (with or without affine).
 *
 * Keys are the `nn.Sequential` indices: with three layers and a last BN,
 * `0` Linear, `1` BN, (`2` ReLU), `3` Linear, `4` BN, (`5` ReLU), `6` Linear,
 * `7` BN (`0.weight`, `1.running_mean`, ...); the ReLUs have no keys.
 * Linears start as PyTorch's default `nn.Linear` (weight and bias uniform in
 * `+-1/sqrt(fan_in)`), the references' init of these heads.
 *
 * Shapes: `x: [N, inFeatures]` -> `[N, outFeatures]`. Training needs `N > 1`
 * (batch statistics).
 */
export class MlpHead extends Module {
  static readonly className = 'MimkitMlpHead';
  readonly config: Required<Omit<MlpHeadConfig, 'name'>>;
  /** The layers in order; `'relu'` marks an activation (no keys). */
  readonly layers: (Linear | BatchNorm1d | 'relu')[] = [];

  constructor(config: MlpHeadConfig) {
    super({ name: config.name, seed: config.seed });
    const c: Required<Omit<MlpHeadConfig, 'name'>> = {
      inFeatures: config.inFeatures,
      hiddenFeatures: config.hiddenFeatures,
      outFeatures: config.outFeatures,
      numLayers: config.numLayers ?? 2,
      bias: config.bias ?? false,
      lastBias: config.lastBias ?? false,
      lastNorm: config.lastNorm ?? 'bnNoAffine',
      bnEps: config.bnEps ?? 1e-5,
      bnMomentum: config.bnMomentum ?? 0.1,
      seed: config.seed ?? 0,
    };
    for (const k of ['inFeatures', 'hiddenFeatures', 'outFeatures'] as const) {
      if (!Number.isInteger(c[k]) || c[k] <= 0) throw new Error(`MlpHead: ${k} must be a positive integer, got ${c[k]}`);
    }
    if (!Number.isInteger(c.numLayers) || c.numLayers < 1) {
      throw new Error(`MlpHead: numLayers must be an integer >= 1, got ${c.numLayers}`);
    }
    if (c.lastNorm !== 'none' && c.lastNorm !== 'bn' && c.lastNorm !== 'bnNoAffine') {
      throw new Error(`MlpHead: lastNorm must be 'none', 'bn' or 'bnNoAffine', got '${String(c.lastNorm)}'`);
    }
    this.config = c;
    const bn = (i: number, dim: number, affine: boolean) =>
      this.addModule(`${i}`, new BatchNorm1d({ numFeatures: dim, eps: c.bnEps, momentum: c.bnMomentum, affine }));
    let i = 0;
    for (let l = 0; l < c.numLayers; l++) {
      const last = l === c.numLayers - 1;
      const dIn = l === 0 ? c.inFeatures : c.hiddenFeatures;
      const dOut = last ? c.outFeatures : c.hiddenFeatures;
      const bound = 1 / Math.sqrt(dIn);
      this.layers.push(
        this.addModule(
          `${i}`,
          new Linear({
            inFeatures: dIn,
            outFeatures: dOut,
            bias: last ? c.lastBias : c.bias,
            init: { kind: 'uniform', low: -bound, high: bound },
            seed: this.childSeed(`${i}`),
          }),
        ),
      );
      const lin = this.layers[this.layers.length - 1] as Linear;
      if (lin.bias) {
        // PyTorch's nn.Linear bias init, U(+-1/sqrt(fan_in)) (the library's Linear starts biases at zero).
        const b = initTensor({ kind: 'uniform', low: -bound, high: bound }, [dOut], deriveSeed(this.childSeed(`${i}`), 'bias'));
        lin.bias.write(b);
        b.dispose();
      }
      i++;
      if (!last) {
        this.layers.push(bn(i++, dOut, true), 'relu');
        i++;
      } else if (c.lastNorm !== 'none') {
        this.layers.push(bn(i++, dOut, c.lastNorm === 'bn'));
      }
    }
  }

  /** `x: [N, inFeatures]` -> `[N, outFeatures]`. */
  forward(x: tf.Tensor, options: MlpHeadForwardOptions = {}): tf.Tensor2D {
    const { inFeatures } = this.config;
    if (!(x instanceof tf.Tensor) || x.rank !== 2 || x.shape[1] !== inFeatures) {
      throw new Error(
        `MlpHead: x must be [N, inFeatures=${inFeatures}], got ${x instanceof tf.Tensor ? `shape [${x.shape}]` : String(x)}`,
      );
    }
    if (options.training && x.shape[0]! < 2 && this.layers.some((l) => l instanceof BatchNorm1d)) {
      throw new Error(`MlpHead: training needs more than one row for BatchNorm's batch statistics, got N=${x.shape[0]}`);
    }
    return tf.tidy(() => {
      let h = x;
      for (const layer of this.layers) {
        if (layer === 'relu') h = tf.relu(h);
        else if (layer instanceof Linear) h = layer.forward(h);
        else h = layer.forward(h, { training: options.training });
      }
      return h as tf.Tensor2D;
    });
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: { training?: boolean } = {}): tf.Tensor {
    return this.forward(Array.isArray(inputs) ? inputs[0]! : inputs, { training: kwargs.training });
  }

  override computeOutputShape(shape: (number | null)[]): (number | null)[] {
    return [shape[0] ?? null, this.config.outFeatures];
  }

  override getConfig(): serialization.ConfigDict {
    return { ...super.getConfig(), ...this.config };
  }
}
serialization.registerClass(MlpHead);

/**
 * MoCo v3's ViT projector (`MoCo_ViT`, `_build_mlp(3, D, mlp_dim, dim)`):
 * 3 layers, BN + ReLU between, last BN without affine. Defaults `mlpDim`
 * 4096, `dim` 256 (`--moco-mlp-dim`, `--moco-dim`).
 */
export function mocoV3ProjectorConfig(inFeatures: number, mlpDim = 4096, dim = 256): MlpHeadConfig {
  requireInt('mocoV3ProjectorConfig', 'inFeatures', inFeatures);
  requireInt('mocoV3ProjectorConfig', 'mlpDim', mlpDim);
  requireInt('mocoV3ProjectorConfig', 'dim', dim);
  return { inFeatures, hiddenFeatures: mlpDim, outFeatures: dim, numLayers: 3, lastNorm: 'bnNoAffine' };
}

/**
 * MoCo v3's predictor (`_build_mlp(2, dim, mlp_dim, dim)`, last BN without
 * affine in `MoCo_ViT`; `MoCo_ResNet`'s has none: `lastNorm: 'none'`).
 */
export function mocoV3PredictorConfig(dim = 256, mlpDim = 4096): MlpHeadConfig {
  requireInt('mocoV3PredictorConfig', 'dim', dim);
  requireInt('mocoV3PredictorConfig', 'mlpDim', mlpDim);
  return { inFeatures: dim, hiddenFeatures: mlpDim, outFeatures: dim, numLayers: 2, lastNorm: 'bnNoAffine' };
}

/**
 * SimSiam's projector (`simsiam/builder.py`): three layers
 * `prev_dim -> prev_dim -> prev_dim -> dim`, BN + ReLU between, the last
 * Linear (the backbone's old `fc`, its bias frozen in the reference) then BN
 * without affine. Default `dim` 2048; `hidden` = the backbone width.
 */
export function simsiamProjectorConfig(inFeatures: number, dim = 2048, hidden = inFeatures): MlpHeadConfig {
  requireInt('simsiamProjectorConfig', 'inFeatures', inFeatures);
  requireInt('simsiamProjectorConfig', 'dim', dim);
  requireInt('simsiamProjectorConfig', 'hidden', hidden);
  return { inFeatures, hiddenFeatures: hidden, outFeatures: dim, numLayers: 3, lastBias: true, lastNorm: 'bnNoAffine' };
}

/** SimSiam's predictor: `dim -> pred_dim` (BN, ReLU) `-> dim` with a bias, no last BN. Defaults 2048, 512. */
export function simsiamPredictorConfig(dim = 2048, predDim = 512): MlpHeadConfig {
  requireInt('simsiamPredictorConfig', 'dim', dim);
  requireInt('simsiamPredictorConfig', 'predDim', predDim);
  return { inFeatures: dim, hiddenFeatures: predDim, outFeatures: dim, numLayers: 2, lastBias: true, lastNorm: 'none' };
}

/**
 * BYOL's projector and predictor (byol-pytorch `MLP`): `Linear(bias) - BN -
 * ReLU - Linear(bias)`. Defaults hidden 4096, projection 256 (the paper's).
 */
export function byolHeadConfig(inFeatures: number, projectionSize = 256, hidden = 4096): MlpHeadConfig {
  requireInt('byolHeadConfig', 'inFeatures', inFeatures);
  requireInt('byolHeadConfig', 'projectionSize', projectionSize);
  requireInt('byolHeadConfig', 'hidden', hidden);
  return {
    inFeatures, hiddenFeatures: hidden, outFeatures: projectionSize, numLayers: 2, bias: true, lastBias: true, lastNorm: 'none',
  };
}
