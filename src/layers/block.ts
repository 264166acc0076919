import * as tf from '@tensorflow/tfjs-core';
import { serialization } from '@tensorflow/tfjs-core';
import type { Rng } from '../utils/random.js';
import { Attention, type AttentionConfig, type AttentionForwardOptions, type QkvBias } from './attention.js';
import { DropPath } from './drop_path.js';
import { LayerNorm } from './layer_norm.js';
import { LayerScale } from './layer_scale.js';
import { Mlp, type MlpActivation } from './mlp.js';
import { Module, type Weight } from './module.js';
import { toPair } from './patch_embed.js';
import { checkTensorArg, checkTransformerStack, optionalNumber, orDefault, requireConfig } from '../utils/config.js';

/**
 * Key names of the layer-scale vectors: `timm` -> `ls1.gamma` / `ls2.gamma`
 * (timm `Block`), `beit` -> `gamma_1` / `gamma_2` (BEiT, BEiT v2, SimMIM).
 */
export type LayerScaleNaming = 'timm' | 'beit';

/** Config of {@link Block}. */
export interface BlockConfig {
  /** Token width `D`. */
  dim: number;
  /** Attention heads; must divide `dim`. */
  numHeads: number;
  /** MLP hidden width is `floor(dim * mlpRatio)`. Default 4 (ViT). */
  mlpRatio?: number;
  /** Bias form of the fused `qkv` projection, see {@link QkvBias}. Default `'qkv'` (timm ViT, MAE). */
  qkvBias?: QkvBias;
  /**
   * Initial value of the layer-scale vectors (CaiT). Default `null`: no layer
   * scale, and no weights created (timm `init_values=None`).
   */
  initValues?: number | null;
  /** Key naming of the layer-scale vectors. Default `'timm'`. */
  layerScaleNaming?: LayerScaleNaming;
  /** Stochastic-depth rate of both residual branches. Default 0 (off). */
  dropPath?: number;
  /** MLP activation. Default `'gelu'` (exact); `'quickGelu'` for OpenAI CLIP weights. */
  act?: MlpActivation;
  /** LayerNorm epsilon. Default 1e-6 (timm ViT, MAE, BEiT use `partial(nn.LayerNorm, eps=1e-6)`). */
  normEps?: number;
  /**
   * Patch grid `[rows, cols]` of the attention's own relative position bias
   * (`attn.relative_position_bias_table`, BEiT `window_size` with
   * `use_rel_pos_bias=True`), see {@link AttentionConfig.relPosBias}. Default
   * `null`: none.
   */
  relPosBias?: number | [number, number] | null;
  /** Seed of the initial weights and of the drop-path generators. Default 0. */
  seed?: number;
  /** Layer name. */
  name?: string;
}

/** Options of {@link Block.forward}. */
export interface BlockForwardOptions {
  /** Training mode (enables drop path). Default false. */
  training?: boolean;
  /** Also return the attention probabilities. Default false. */
  returnAttention?: boolean;
  /** Generator for drop path in this call, instead of the block's own ones. */
  rng?: Rng;
  /**
   * A shared relative position bias `[heads, N, N]` added to the attention
   * logits (BEiT's `rel_pos_bias`, computed once per forward pass by the
   * encoder), see {@link AttentionForwardOptions.relPosBias}. Default none.
   */
  relPosBias?: tf.Tensor;
  /**
   * An additive attention mask broadcastable to `[B, heads, N, N]` (causal
   * `[N, N]`, key padding `[B, 1, 1, N]`, ...), see
   * {@link AttentionForwardOptions.attnMask}. Default none.
   */
  attnMask?: tf.Tensor;
}

/** Output of {@link Block.forward}. */
export type BlockOutput = {
  /** `[B, N, D]`. */
  out: tf.Tensor3D;
  /** `[B, heads, N, N]`, when asked for. */
  attn?: tf.Tensor4D;
}

/**
 * The pre-norm transformer block of ViT (Dosovitskiy et al., 2021; timm
 * `Block`):
 * `x = x + drop_path(ls1(attn(norm1(x))))`, then
 * `x = x + drop_path(ls2(mlp(norm2(x))))`.
 *
 * Weights (timm names): `norm1`, `attn.qkv`, (`attn.q_bias`, `attn.v_bias`,
 * `attn.relative_position_bias_table`), `attn.proj`, `ls1.gamma` or `gamma_1`, `norm2`, `mlp.fc1`, `mlp.fc2`,
 * `ls2.gamma` or `gamma_2`.
 *
 * Shapes: `x: [B, N, D]` -> `[B, N, D]`.
 */
export class Block extends Module {
  static readonly className = 'MimkitBlock';
  /** Resolved config. */
  readonly config: {
    dim: number;
    numHeads: number;
    mlpRatio: number;
    qkvBias: QkvBias;
    initValues: number | null;
    layerScaleNaming: LayerScaleNaming;
    dropPath: number;
    normEps: number;
    relPosBias: [number, number] | null;
    act: MlpActivation;
    seed: number;
  };
  /** Norm before attention (`norm1`). */
  readonly norm1: LayerNorm;
  /** Self-attention (`attn`). */
  readonly attn: Attention;
  /** Norm before the MLP (`norm2`). */
  readonly norm2: LayerNorm;
  /** Feed-forward network (`mlp`). */
  readonly mlp: Mlp;
  /** Layer-scale vector of the attention branch (`ls1.gamma` or `gamma_1`), or null when off. */
  readonly gamma1: Weight | null;
  /** Layer-scale vector of the MLP branch (`ls2.gamma` or `gamma_2`), or null when off. */
  readonly gamma2: Weight | null;
  /** Stochastic depth of the attention branch. */
  readonly dropPath1: DropPath;
  /** Stochastic depth of the MLP branch. */
  readonly dropPath2: DropPath;

  constructor(config: BlockConfig) {
    // numHeads is required, as in timm's Block (Attention alone defaults to 8).
    requireConfig('Block', config);
    checkTransformerStack('Block', { dim: ['dim', config.dim], depth: ['depth', 1], numHeads: ['numHeads', config.numHeads], mlpRatio: ['mlpRatio', orDefault(config.mlpRatio, 4)] });
    optionalNumber('Block', 'dropPath', config.dropPath, 0, { min: 0, max: 1 });
    optionalNumber('Block', 'normEps', config.normEps, 1e-6, { min: 0, minExclusive: true });
    super({ name: config.name, seed: config.seed });
    const c = {
      dim: config.dim,
      numHeads: config.numHeads,
      mlpRatio: config.mlpRatio ?? 4,
      qkvBias: config.qkvBias ?? 'qkv',
      initValues: config.initValues ?? null,
      layerScaleNaming: config.layerScaleNaming ?? 'timm',
      dropPath: config.dropPath ?? 0,
      normEps: config.normEps ?? 1e-6,
      relPosBias: config.relPosBias == null ? null : toPair('relPosBias', 'Block', config.relPosBias),
      act: config.act ?? 'gelu',
      seed: config.seed ?? 0,
    };
    if (c.layerScaleNaming !== 'timm' && c.layerScaleNaming !== 'beit') {
      throw new Error(`Block: layerScaleNaming must be 'timm' or 'beit', got '${String(c.layerScaleNaming)}'`);
    }
    if (c.initValues !== null && !Number.isFinite(c.initValues)) {
      throw new Error(`Block: initValues must be a finite number or null, got ${c.initValues}`);
    }
    this.config = c;
    this.norm1 = this.addModule('norm1', new LayerNorm({ dim: c.dim, eps: c.normEps }));
    this.attn = this.addModule(
      'attn',
      new Attention({
        dim: c.dim,
        numHeads: c.numHeads,
        qkvBias: c.qkvBias,
        relPosBias: c.relPosBias,
        seed: this.childSeed('attn'),
      }),
    );
    let g1: Weight | null = null;
    let g2: Weight | null = null;
    if (c.initValues !== null) {
      if (c.layerScaleNaming === 'timm') {
        g1 = this.addModule('ls1', new LayerScale({ dim: c.dim, initValues: c.initValues })).gamma;
      } else {
        g1 = this.addParam('gamma_1', [c.dim], { kind: 'constant', value: c.initValues });
      }
    }
    this.norm2 = this.addModule('norm2', new LayerNorm({ dim: c.dim, eps: c.normEps }));
    this.mlp = this.addModule('mlp', new Mlp({ inFeatures: c.dim, mlpRatio: c.mlpRatio, act: c.act, seed: this.childSeed('mlp') }));
    if (c.initValues !== null) {
      if (c.layerScaleNaming === 'timm') {
        g2 = this.addModule('ls2', new LayerScale({ dim: c.dim, initValues: c.initValues })).gamma;
      } else {
        g2 = this.addParam('gamma_2', [c.dim], { kind: 'constant', value: c.initValues });
      }
    }
    this.gamma1 = g1;
    this.gamma2 = g2;
    // No weights; registered so children() mirrors timm's module tree.
    this.dropPath1 = this.addModule('drop_path1', new DropPath({ rate: c.dropPath, seed: this.childSeed('drop_path1') }));
    this.dropPath2 = this.addModule('drop_path2', new DropPath({ rate: c.dropPath, seed: this.childSeed('drop_path2') }));
  }

  /** `x: [B, N, D]` -> `{ out: [B, N, D], attn?: [B, heads, N, N] }`. */
  forward(x: tf.Tensor, options: BlockForwardOptions = {}): BlockOutput {
    checkTensorArg('Block.forward', 'x', x, { rank: 3, what: '[B, N, dim]' });
    if (x.rank !== 3 || x.shape[2] !== this.config.dim) {
      throw new Error(`Block: x must be [B, N, dim=${this.config.dim}], got shape [${x.shape}]`);
    }
    this.attn.checkRelPosBias(x.shape[1]!, options.relPosBias);
    this.attn.checkAttnMask(x.shape[0]!, x.shape[1]!, options.attnMask);
    const dp = { training: options.training, rng: options.rng };
    const r = tf.tidy(() => {
      const a = this.attn.forward(this.norm1.forward(x), {
        returnAttention: options.returnAttention,
        relPosBias: options.relPosBias,
        attnMask: options.attnMask,
      });
      let h = a.out as tf.Tensor;
      if (this.gamma1) h = tf.mul(h, this.gamma1.read());
      const x1 = tf.add(x, this.dropPath1.forward(h, dp));
      let m = this.mlp.forward(this.norm2.forward(x1));
      if (this.gamma2) m = tf.mul(m, this.gamma2.read());
      const out = tf.add(x1, this.dropPath2.forward(m, dp));
      const res: { [k: string]: tf.Tensor } = { out };
      if (a.attn) res.attn = a.attn;
      return res;
    });
    return { out: r.out as tf.Tensor3D, ...(r.attn ? { attn: r.attn as tf.Tensor4D } : {}) };
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: { training?: boolean } = {}): tf.Tensor {
    return this.forward(Array.isArray(inputs) ? inputs[0]! : inputs, { training: kwargs.training }).out;
  }

  override getConfig(): serialization.ConfigDict {
    return { ...super.getConfig(), ...this.config };
  }
}
serialization.registerClass(Block);
