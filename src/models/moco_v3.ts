import * as tf from '@tensorflow/tfjs-core';
import { serialization } from '@tensorflow/tfjs-core';
import { MlpHead, mocoV3PredictorConfig, mocoV3ProjectorConfig } from '../heads/mlp_head.js';
import { initTensor } from '../layers/init.js';
import { Module } from '../layers/module.js';
import { mocoV3Loss } from '../losses/moco_v3.js';
import { EMA } from '../train/ema.js';
import { deriveSeed } from '../utils/random.js';
import { freezeWeights, ProjectedViT } from './projected_vit.js';
import type { VitBackboneConfig } from './vit.js';
import { checkConfigObject, describeValue, optionalSeed } from '../utils/config.js';

/**
 * Config of {@link MoCoV3}. Defaults are moco-v3's ViT recipe
 * (`vit_small`: ViT-S/16 with 12 heads, `--moco-dim 256 --moco-mlp-dim 4096
 * --moco-t 0.2 --moco-m 0.99 --stop-grad-conv1`).
 */
export interface MoCoV3Config extends VitBackboneConfig {
  /** Output width of the projector and predictor (`dim`). Default 256. */
  dim?: number;
  /** Hidden width of the projector and predictor MLPs (`mlp_dim`). Default 4096. */
  mlpDim?: number;
  /** Softmax temperature `T` of the loss. Default 0.2 (ViT; the builder's own default is 1.0, used for ResNets). */
  T?: number;
  /** Base momentum of the cosine schedule (`--moco-m`); see {@link MoCoV3.momentumAt}. Default 0.99. */
  momentum?: number;
  /**
   * Keep the patch projection at its random initialisation
   * (`stop_grad_conv1`, the paper's fix for training instability, Sec. 4.2).
   * Its weights are not trainable; the momentum update still averages them.
   * Default `true`.
   */
  stopGradConv1?: boolean;
  /**
   * How the momentum encoder starts: `'copy'` of the base encoder's
   * parameters (`MoCo.__init__`), or `'random'` weights of its own. Default `'copy'`.
   */
  momentumInit?: 'copy' | 'random';
  /** Linear layers of the projector (`head`). Default 3 (`MoCo_ViT`). */
  projectorLayers?: number;
  /** Linear layers of the predictor. Default 2. */
  predictorLayers?: number;
  /** BatchNorm epsilon. Default 1e-5. */
  bnEps?: number;
}

/** The config with every default filled in. */
export type ResolvedMoCoV3Config = Required<Omit<MoCoV3Config, 'name' | 'imgSize'>> & { imgSize: number | [number, number] };

/** Options of {@link MoCoV3.forward}. */
export interface MoCoV3ForwardOptions {
  /**
   * Training mode: BatchNorm with each call's batch statistics (updating
   * the running estimates), as moco-v3 trains. Default `true`; `false` uses
   * the running statistics (evaluation).
   */
  training?: boolean;
}

/**
 * What {@link MoCoV3.forward} returns (a type alias, so `tf.tidy` accepts
 * it): the loss and its two terms, the projections `z = f_base(x)`, the
 * queries `q = predictor(z)` and the keys `k = f_momentum(x)`, all `[N, dim]`.
 */
export type MoCoV3Output = {
  loss: tf.Scalar;
  lossQ1K2: tf.Scalar;
  lossQ2K1: tf.Scalar;
  z1: tf.Tensor2D;
  z2: tf.Tensor2D;
  q1: tf.Tensor2D;
  q2: tf.Tensor2D;
  k1: tf.Tensor2D;
  k2: tf.Tensor2D;
};

/**
 * MoCo v3 (Chen, Xie, He 2021, "An Empirical Study of Training
 * Self-Supervised Vision Transformers"; facebookresearch/moco-v3
 * `moco/builder.py` `MoCo_ViT`, `vits.py`): a base encoder (ViT with the
 * fixed row-first sine-cosine table, class token -> 3-layer BN projector)
 * and a predictor give queries `q`; a momentum encoder (same architecture,
 * an EMA of the base encoder's parameters) gives keys `k`; the loss is
 * `ctr(q1, k2) + ctr(q2, k1)`, each scaled by `2T` ({@link mocoV3Loss}).
 *
 * One {@link MoCoV3.forward} is one training forward of the reference, in
 * its order: `z = f_base(x)` and `q = predictor(z)` for each view (separate
 * calls, separate batch statistics), then the momentum update with `m`,
 * then the keys with the updated momentum encoder. Gradients reach the base
 * encoder (except a frozen patch projection) and the predictor, never the
 * momentum encoder, whose weights are all non-trainable: give the whole
 * model to the optimiser.
 *
 * Keys (moco-v3's `state_dict`): `base_encoder.*` and `momentum_encoder.*`
 * (timm ViT names plus the projector `head.<i>`), `predictor.<i>`. BatchNorm's
 * int64 `num_batches_tracked` buffers are counters on the modules: load and
 * save with `loadWeightsWithBatchNorm` / `saveWeightsWithBatchNorm` and
 * `mocoV3Converter`.
 */
export class MoCoV3 extends Module {
  static readonly className = 'MimkitMoCoV3';
  readonly config: ResolvedMoCoV3Config;
  /** `base_encoder`: ViT + projector, trained by gradient. */
  readonly baseEncoder: ProjectedViT;
  /** `momentum_encoder`: same architecture, updated only by the momentum update. */
  readonly momentumEncoder: ProjectedViT;
  /** `predictor`. */
  readonly predictor: MlpHead;
  private readonly ema: EMA;

  constructor(config: MoCoV3Config = {}) {
    super({ name: checkConfigObject('MoCoV3', config).name, seed: config.seed });
    const c: ResolvedMoCoV3Config = {
      imgSize: config.imgSize ?? 224,
      patchSize: config.patchSize ?? 16,
      inChans: config.inChans ?? 3,
      embedDim: config.embedDim ?? 384,
      depth: config.depth ?? 12,
      numHeads: config.numHeads ?? 12,
      mlpRatio: config.mlpRatio ?? 4,
      qkvBias: config.qkvBias ?? 'qkv',
      normEps: config.normEps ?? 1e-6,
      checkpointing: config.checkpointing ?? 'auto',
      seed: config.seed ?? 0,
      dim: config.dim ?? 256,
      mlpDim: config.mlpDim ?? 4096,
      T: config.T ?? 0.2,
      momentum: config.momentum ?? 0.99,
      stopGradConv1: config.stopGradConv1 ?? true,
      momentumInit: config.momentumInit ?? 'copy',
      projectorLayers: config.projectorLayers ?? 3,
      predictorLayers: config.predictorLayers ?? 2,
      bnEps: config.bnEps ?? 1e-5,
    };
    if (!(typeof c.T === 'number' && c.T > 0 && Number.isFinite(c.T))) {
      throw new Error(`MoCoV3: T (temperature) must be a finite number > 0, got ${c.T}`);
    }
    checkMomentum('MoCoV3', 'momentum', c.momentum);
    if (c.momentumInit !== 'copy' && c.momentumInit !== 'random') {
      throw new Error(`MoCoV3: momentumInit must be 'copy' or 'random', got '${String(c.momentumInit)}'`);
    }
    for (const k of ['dim', 'mlpDim', 'projectorLayers', 'predictorLayers'] as const) {
      if (!Number.isInteger(c[k]) || c[k] < 1) throw new Error(`MoCoV3: ${k} must be a positive integer, got ${c[k]}`);
    }
    this.config = c;
    const encoder = (name: string) => {
      const seed = this.childSeed(name);
      const enc = new ProjectedViT({
        vit: {
          imgSize: c.imgSize, patchSize: c.patchSize, inChans: c.inChans, embedDim: c.embedDim, depth: c.depth,
          numHeads: c.numHeads, mlpRatio: c.mlpRatio, qkvBias: c.qkvBias, normEps: c.normEps,
          classToken: true, posEmbed: 'sincosRowFirst', checkpointing: c.checkpointing,
        },
        head: { ...mocoV3ProjectorConfig(c.embedDim, c.mlpDim, c.dim), numLayers: c.projectorLayers, bnEps: c.bnEps },
        seed,
      });
      mocoV3InitWeights(enc, seed);
      return enc;
    };
    this.baseEncoder = this.addModule('base_encoder', encoder('base_encoder'));
    this.momentumEncoder = this.addModule('momentum_encoder', encoder('momentum_encoder'));
    this.predictor = this.addModule(
      'predictor',
      new MlpHead({
        ...mocoV3PredictorConfig(c.dim, c.mlpDim), numLayers: c.predictorLayers, bnEps: c.bnEps, seed: this.childSeed('predictor'),
      }),
    );
    if (c.stopGradConv1) freezeWeights(this.baseEncoder.vit.patchEmbed);
    freezeWeights(this.momentumEncoder); // "not update by gradient"
    this.ema = new EMA(this.baseEncoder.parameters(), this.momentumEncoder.parameters(), { momentum: c.momentum });
    if (c.momentumInit === 'copy') this.ema.update(0);
  }

  /**
   * The momentum update `momentum = m * momentum + (1 - m) * base` of every
   * parameter of the momentum encoder (not the BatchNorm buffers; the
   * frozen patch projection and the fixed position table included, as
   * PyTorch's `parameters()`). `m` in [0, 1].
   */
  updateMomentumEncoder(m: number): void {
    checkMomentum('MoCoV3.updateMomentumEncoder', 'm', m);
    if (m === 1) return; // m * w + 0 * base is w itself
    this.ema.update(m);
  }

  /**
   * MoCo v3's momentum at a step: the cosine schedule from the base
   * `config.momentum` to 1 (`adjust_moco_momentum`:
   * `1 - 0.5 (1 + cos(pi * step / total)) (1 - m)`), `step` in [0, total].
   */
  momentumAt(step: number, total: number): number {
    if (!Number.isFinite(total) || total <= 0) throw new Error(`MoCoV3.momentumAt: total must be a finite number > 0, got ${total}`);
    if (!Number.isFinite(step) || step < 0 || step > total) {
      throw new Error(`MoCoV3.momentumAt: step must be in [0, total=${total}], got ${step}`);
    }
    const m = this.config.momentum;
    return 1 - 0.5 * (1 + Math.cos((Math.PI * step) / total)) * (1 - m);
  }

  /**
   * One training forward (`loss = model(x1, x2, m)`): `x1`, `x2`
   * `[N, H, W, C]` are two views of the same `N` images; `m` is this
   * step's momentum, applied to the momentum encoder before it computes the
   * keys (pass 1 to leave it unchanged, e.g. for a held-out loss).
   */
  forward(x1: tf.Tensor, x2: tf.Tensor, m: number, options: MoCoV3ForwardOptions = {}): MoCoV3Output {
    const fn = 'MoCoV3.forward';
    const [H, W] = typeof this.config.imgSize === 'number' ? [this.config.imgSize, this.config.imgSize] : this.config.imgSize;
    for (const [name, x] of [['x1', x1], ['x2', x2]] as const) {
      if (!(x instanceof tf.Tensor) || x.rank !== 4 || x.shape[1] !== H || x.shape[2] !== W || x.shape[3] !== this.config.inChans) {
        throw new Error(
          `${fn}: ${name} must be [N, ${H}, ${W}, ${this.config.inChans}] (NHWC), got ${x instanceof tf.Tensor ? `shape [${x.shape}]` : String(x)}`,
        );
      }
    }
    if (x1.shape[0] !== x2.shape[0]) {
      throw new Error(`${fn}: x1 and x2 must be two views of the same batch, got ${x1.shape[0]} and ${x2.shape[0]} images`);
    }
    checkMomentum(fn, 'm', m);
    const training = options.training ?? true;
    if (training && x1.shape[0]! < 2) {
      throw new Error(`${fn}: training needs at least 2 images per view (BatchNorm batch statistics and in-batch negatives), got ${x1.shape[0]}`);
    }
    return tf.tidy(() => {
      const z1 = this.baseEncoder.forward(x1, { training });
      const z2 = this.baseEncoder.forward(x2, { training });
      const q1 = this.predictor.forward(z1, { training });
      const q2 = this.predictor.forward(z2, { training });
      this.updateMomentumEncoder(m);
      const k1 = this.momentumEncoder.forward(x1, { training });
      const k2 = this.momentumEncoder.forward(x2, { training });
      const { loss, lossQ1K2, lossQ2K1 } = mocoV3Loss(q1, q2, k1, k2, { temperature: this.config.T });
      return { loss, lossQ1K2, lossQ2K1, z1, z2, q1, q2, k1, k2 };
    });
  }

  override call(): tf.Tensor {
    throw new Error('MoCoV3: call forward(x1, x2, m) (two views and a momentum)');
  }

  override getConfig(): serialization.ConfigDict {
    return { ...super.getConfig(), ...this.config } as serialization.ConfigDict;
  }
}
serialization.registerClass(MoCoV3);

function checkMomentum(fn: string, name: string, m: unknown): void {
  if (typeof m !== 'number' || !Number.isFinite(m) || m < 0 || m > 1) {
    throw new Error(`${fn}: ${name} (momentum) must be a number in [0, 1], got ${String(m)}`);
  }
}

/**
 * moco-v3's `VisionTransformerMoCo` initialisation on top of the library's
 * (xavier-uniform Linears, zero biases): each of q, k, v of a fused `qkv`
 * gets its own xavier bound `sqrt(6 / (D + D))` instead of the fused
 * `sqrt(6 / (3D + D))`, the class token `normal(std 1e-6)`, the patch
 * projection `uniform(+-sqrt(6 / (3 p^2 + D)))` with zero bias (moco-v3 writes
 * 3 for the channels).
 */
export function mocoV3InitWeights(encoder: ProjectedViT, seed: number): void {
  if (!(encoder instanceof ProjectedViT)) throw new Error(`mocoV3InitWeights: encoder must be a ProjectedViT, got ${describeValue(encoder)}`);
  optionalSeed('mocoV3InitWeights', seed);
  const vit = encoder.vit;
  const D = vit.config.embedDim;
  const write = (w: { shape: (number | null)[]; write(t: tf.Tensor): void }, init: Parameters<typeof initTensor>[0], name: string) => {
    const t = initTensor(init, w.shape as number[], deriveSeed(seed, name));
    try {
      w.write(t);
    } finally {
      t.dispose();
    }
  };
  vit.blocks.forEach((blk, i) => {
    const val = Math.sqrt(6 / (D + D));
    write(blk.attn.qkv.weight, { kind: 'uniform', low: -val, high: val }, `blocks.${i}.attn.qkv.weight`);
  });
  if (vit.clsToken) write(vit.clsToken, { kind: 'normal', std: 1e-6 }, 'cls_token');
  const p = vit.config.patchSize;
  const val = Math.sqrt(6 / (3 * p * p + D));
  write(vit.patchEmbed.weight, { kind: 'uniform', low: -val, high: val }, 'patch_embed.proj.weight');
  if (vit.patchEmbed.bias) write(vit.patchEmbed.bias, { kind: 'zeros' }, 'patch_embed.proj.bias');
}

/** moco-v3 `vit_small` (ViT-S/16, D 384, depth 12, **12** heads) with its ViT recipe's heads: dim 256, mlp_dim 4096, T 0.2, m 0.99. */
export const mocoV3VitSmall: Readonly<MoCoV3Config> = Object.freeze({
  imgSize: 224, patchSize: 16, embedDim: 384, depth: 12, numHeads: 12, mlpRatio: 4, dim: 256, mlpDim: 4096, T: 0.2, momentum: 0.99,
});
/** moco-v3 `vit_base` (ViT-B/16, D 768, depth 12, 12 heads): dim 256, mlp_dim 4096, T 0.2, m 0.99. */
export const mocoV3VitBase: Readonly<MoCoV3Config> = Object.freeze({
  imgSize: 224, patchSize: 16, embedDim: 768, depth: 12, numHeads: 12, mlpRatio: 4, dim: 256, mlpDim: 4096, T: 0.2, momentum: 0.99,
});
