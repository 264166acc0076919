import * as tf from '@tensorflow/tfjs-core';
import { serialization } from '@tensorflow/tfjs-core';
import { linear, matMul } from '../ops/matmul.js';
import { checkAttnMask } from './attention_mask.js';
import { Linear } from './linear.js';
import { Module, type Weight } from './module.js';
import { toPair } from './patch_embed.js';
import { gatherRelativePositionBias, numRelativeDistance, relativePositionIndex } from './rel_pos_bias.js';
import { CONFIG_LIMITS, checkTensorArg, optionalBool, optionalInt, requireConfig, requireInt } from '../utils/config.js';

/**
 * Where the fused `qkv` projection gets its bias:
 * - `qkv`: its own `qkv.bias` `[3D]` (timm `qkv_bias=True`, ViT, MAE);
 * - `none`: no bias (timm `qkv_bias=False`);
 * - `qv`: BEiT's form: separate `q_bias` and `v_bias` `[D]` parameters, the
 *   bias used is `[q_bias, zeros(D), v_bias]` (no key bias: it cancels in the
 *   softmax), as BEiT, BEiT v2 and SimMIM's ViT.
 */
export type QkvBias = 'qkv' | 'none' | 'qv';

/** Config of {@link Attention}. */
export interface AttentionConfig {
  /** Token width `D`. */
  dim: number;
  /** Number of heads; must divide `dim`. Default 8 (timm `Attention`). */
  numHeads?: number;
  /**
   * Bias of the `qkv` projection. Default `'qkv'`: timm's `VisionTransformer`
   * default (`qkv_bias=True`), which every published ViT/MAE checkpoint has
   * (timm's bare `Attention` defaults to no bias).
   */
  qkvBias?: QkvBias;
  /** Whether the output projection `proj` has a bias. Default `true` (timm). */
  projBias?: boolean;
  /**
   * The patch grid `[rows, cols]` (a number for a square grid) of this
   * layer's own relative position bias (BEiT `Attention(window_size=...)`,
   * used with `use_rel_pos_bias=True`, as in BEiT and SimMIM fine-tuning):
   * creates `relative_position_bias_table`
   * `[(2 rows - 1)(2 cols - 1) + 3, heads]` (zeros, as upstream) and adds its
   * bias (see `RelativePositionBias`) to the logits; the input must then be
   * the class token followed by the `rows * cols` patches. Default `null`:
   * none (no weight, no work).
   */
  relPosBias?: number | [number, number] | null;
  /** Seed of the initial weights. Default 0. */
  seed?: number;
  /** Layer name. */
  name?: string;
}

/** Options of {@link Attention.forward}. */
export interface AttentionForwardOptions {
  /** Also return the attention probabilities. Default false. */
  returnAttention?: boolean;
  /**
   * An external bias `[heads, N, N]` added to the logits before the softmax
   * (after this layer's own relative position bias, if any): BEiT's shared
   * `rel_pos_bias`, computed once per forward pass by the encoder
   * (`RelativePositionBias.forward()`). Default none.
   */
  relPosBias?: tf.Tensor;
  /**
   * An additive float32 mask added to the logits before the softmax (after
   * any relative position bias), broadcastable to `[B, heads, N, N]`:
   * `[N, N]` (e.g. `causalMask(N)`), `[B, 1, N, N]`, `[B, 1, 1, N]` (e.g.
   * `keyPaddingMask(padding)`) or `[1, 1, N, N]`; 0 = attend, `-1e9`
   * (`MASK_VALUE`) = never attend. Validated before any tensor work. Default
   * none.
   */
  attnMask?: tf.Tensor;
}

/** Output of {@link Attention.forward}. */
export type AttentionOutput = {
  /** `[B, N, D]`. */
  out: tf.Tensor3D;
  /** `[B, heads, N, N]` softmax probabilities over keys, when asked for. */
  attn?: tf.Tensor4D;
}

/** Per-head queries, keys and values, each `[B, heads, N, D/heads]`. */
export type QkvHeads = {
  /** Queries (unscaled). */
  q: tf.Tensor4D;
  /** Keys. */
  k: tf.Tensor4D;
  /** Values. */
  v: tf.Tensor4D;
}

/**
 * Multi-head self-attention (Vaswani et al., 2017) in timm's ViT form
 * (`timm.models.vision_transformer.Attention`): one fused `qkv` Linear whose
 * output channels `[0, D)` are q, `[D, 2D)` k and `[2D, 3D)` v; head `h` owns
 * channels `[h*d, (h+1)*d)` with `d = D / heads`;
 * `attn = softmax(q k^T * d^-0.5)` over keys; heads concatenated back in the
 * same order and projected by `proj`.
 *
 * With BEiT's relative position bias (own table, config `relPosBias`, and/or
 * a shared bias passed to `forward`), the logits become
 * `q k^T * d^-0.5 + bias` before the softmax.
 *
 * Weights (timm/BEiT names): `qkv.weight`, `qkv.bias` (mode `qkv`), `q_bias`
 * and `v_bias` (mode `qv`), `relative_position_bias_table` (with
 * `relPosBias`), `proj.weight`, `proj.bias`.
 *
 * Shapes: `x: [B, N, D]` -> `out: [B, N, D]`, `attn: [B, heads, N, N]`.
 */
export class Attention extends Module {
  static readonly className = 'MimkitAttention';
  /** Resolved config. */
  readonly config: {
    dim: number;
    numHeads: number;
    qkvBias: QkvBias;
    projBias: boolean;
    relPosBias: [number, number] | null;
    seed: number;
  };
  /** Width of one head, `D / heads`. */
  readonly headDim: number;
  /** `d^-0.5`. */
  readonly scale: number;
  /** Fused q/k/v projection `D -> 3D`. */
  readonly qkv: Linear;
  /** `q_bias` `[D]` in mode `qv`, else null. */
  readonly qBias: Weight | null;
  /** `v_bias` `[D]` in mode `qv`, else null. */
  readonly vBias: Weight | null;
  /** Output projection `D -> D`. */
  readonly proj: Linear;
  /** `relative_position_bias_table` `[R, heads]` with `relPosBias`, else null. */
  readonly relativePositionBiasTable: Weight | null;
  /** `relative_position_index` (`T * T` row-major, a constant of the grid) with `relPosBias`, else null. */
  readonly relativePositionIndex: Int32Array | null;

  constructor(config: AttentionConfig) {
    requireConfig('Attention', config);
    requireInt('Attention', 'dim', config.dim, { min: 1, max: CONFIG_LIMITS.maxDim });
    optionalInt('Attention', 'numHeads', config.numHeads, 8, { min: 1, max: CONFIG_LIMITS.maxHeads });
    optionalBool('Attention', 'projBias', config.projBias, true);
    super({ name: config.name, seed: config.seed });
    const dim = config.dim;
    const numHeads = config.numHeads ?? 8;
    const qkvBias = config.qkvBias ?? 'qkv';
    if (!Number.isInteger(dim) || dim <= 0) throw new Error(`Attention: dim must be a positive integer, got ${dim}`);
    if (!Number.isInteger(numHeads) || numHeads <= 0) {
      throw new Error(`Attention: numHeads must be a positive integer, got ${numHeads}`);
    }
    if (dim % numHeads !== 0) {
      throw new Error(`Attention: dim ${dim} is not divisible by numHeads ${numHeads}`);
    }
    if (qkvBias !== 'qkv' && qkvBias !== 'none' && qkvBias !== 'qv') {
      throw new Error(`Attention: qkvBias must be 'qkv', 'none' or 'qv', got '${String(qkvBias)}'`);
    }
    const relPosBias = config.relPosBias == null ? null : toPair('relPosBias', 'Attention', config.relPosBias);
    this.config = { dim, numHeads, qkvBias, projBias: config.projBias ?? true, relPosBias, seed: config.seed ?? 0 };
    this.headDim = dim / numHeads;
    this.scale = Math.pow(this.headDim, -0.5);
    this.qkv = this.addModule(
      'qkv',
      new Linear({ inFeatures: dim, outFeatures: 3 * dim, bias: qkvBias === 'qkv', seed: this.childSeed('qkv') }),
    );
    // BEiT initialises q_bias / v_bias to zeros.
    this.qBias = qkvBias === 'qv' ? this.addParam('q_bias', [dim], { kind: 'zeros' }) : null;
    this.vBias = qkvBias === 'qv' ? this.addParam('v_bias', [dim], { kind: 'zeros' }) : null;
    // BEiT leaves the table at zeros (every offset starts unbiased).
    this.relativePositionBiasTable = relPosBias
      ? this.addParam('relative_position_bias_table', [numRelativeDistance(relPosBias), numHeads], { kind: 'zeros' })
      : null;
    this.relativePositionIndex = relPosBias ? relativePositionIndex(relPosBias) : null;
    this.proj = this.addModule(
      'proj',
      new Linear({ inFeatures: dim, outFeatures: dim, bias: this.config.projBias, seed: this.childSeed('proj') }),
    );
  }

  private validate(x: tf.Tensor): void {
    if (x.rank !== 3 || x.shape[2] !== this.config.dim) {
      throw new Error(`Attention: x must be [B, N, dim=${this.config.dim}], got shape [${x.shape}]`);
    }
  }

  /**
   * Throws, before any tensor work, unless `n` tokens fit this layer's own
   * relative position table (class token + `rows * cols` patches) and `bias`
   * (when given) is `[heads, n, n]`. Blocks and encoders call it before their
   * own tensor work.
   */
  checkRelPosBias(n: number, bias: tf.Tensor | undefined): void {
    const { relPosBias, numHeads } = this.config;
    if (relPosBias && n !== relPosBias[0] * relPosBias[1] + 1) {
      throw new Error(
        `Attention: x has ${n} tokens, but the relative position bias of this layer (relPosBias ${relPosBias[0]}x${relPosBias[1]}) ` +
          `needs the class token and ${relPosBias[0] * relPosBias[1]} patches: ${relPosBias[0] * relPosBias[1] + 1} tokens`,
      );
    }
    if (bias === undefined) return;
    if (!(bias instanceof tf.Tensor) || bias.rank !== 3 || bias.shape[0] !== numHeads || bias.shape[1] !== n || bias.shape[2] !== n) {
      throw new Error(
        `Attention: options.relPosBias must be a tensor [heads=${numHeads}, N=${n}, N=${n}], got ` +
          `${bias instanceof tf.Tensor ? `shape [${bias.shape}]` : String(bias)}`,
      );
    }
  }

  /**
   * Throws, before any tensor work, unless `mask` (when given) is an additive
   * float32 mask broadcastable to `[batch, heads, n, n]`, see
   * {@link AttentionForwardOptions.attnMask}.
   */
  checkAttnMask(batch: number, n: number, mask: tf.Tensor | undefined): void {
    if (mask !== undefined) checkAttnMask(mask, batch, this.config.numHeads, n, 'Attention');
  }

  /**
   * The per-head q, k, v of `x` (before scaling), each `[B, heads, N, d]`;
   * exposed for relation distillation (TinyMIM) and analysis.
   */
  projectQkv(x: tf.Tensor): QkvHeads {
    this.validate(x);
    return tf.tidy(() => {
      const [b, n] = x.shape as [number, number, number];
      const { dim, numHeads } = this.config;
      // Three products with column slices of the fused weight rather than
      // one product split afterwards: splitting the [B, N, 3D] output along
      // its last axis copies it strided (tfjs-wasm's SplitV took ~15% of an
      // MAE step), while the weight slices are small. Same values, same names.
      const w = this.qkv.weight.read();
      const fused = this.qkv.bias?.read() ?? null;
      // BEiT's mode: q_bias and v_bias, no key bias.
      const biases = this.qBias && this.vBias
        ? [this.qBias.read(), null, this.vBias.read()]
        : [0, 1, 2].map((i) => (fused ? tf.slice(fused, [i * dim], [dim]) : null));
      const [q, k, v] = [0, 1, 2].map((i) => {
        const y = linear(x, tf.slice(w, [0, i * dim], [dim, dim]), biases[i]);
        return tf.transpose(tf.reshape(y, [b, n, numHeads, this.headDim]), [0, 2, 1, 3]);
      }) as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
      return { q, k, v };
    });
  }

  /**
   * `x: [B, N, D]` -> `{ out: [B, N, D], attn?: [B, heads, N, N] }`; with
   * `options.relPosBias` `[heads, N, N]` and `options.attnMask` (additive,
   * broadcastable to `[B, heads, N, N]`) added to the logits.
   */
  forward(x: tf.Tensor, options: AttentionForwardOptions = {}): AttentionOutput {
    checkTensorArg('Attention.forward', 'x', x, { rank: 3, what: '[B, N, dim]' });
    this.validate(x);
    this.checkRelPosBias(x.shape[1]!, options.relPosBias);
    this.checkAttnMask(x.shape[0]!, x.shape[1]!, options.attnMask);
    const result = tf.tidy(() => {
      const [b, n] = x.shape as [number, number, number];
      const { dim, numHeads } = this.config;
      const d = this.headDim;
      const { q, k, v } = this.projectQkv(x);
      const q3 = tf.reshape(tf.mul(q, this.scale), [b * numHeads, n, d]);
      const k3 = tf.reshape(k, [b * numHeads, n, d]);
      const v3 = tf.reshape(v, [b * numHeads, n, d]);
      let logits = matMul(q3, k3, false, true);
      const table = this.relativePositionBiasTable;
      if (table || options.relPosBias || options.attnMask) {
        let l4 = tf.reshape(logits, [b, numHeads, n, n]);
        if (table) l4 = tf.add(l4, gatherRelativePositionBias(table.read(), this.relativePositionIndex!));
        if (options.relPosBias) l4 = tf.add(l4, options.relPosBias);
        if (options.attnMask) l4 = tf.add(l4, options.attnMask);
        logits = tf.reshape(l4, [b * numHeads, n, n]);
      }
      const probs = tf.softmax(logits, -1);
      const o = tf.reshape(matMul(probs, v3), [b, numHeads, n, d]);
      const merged = tf.reshape(tf.transpose(o, [0, 2, 1, 3]), [b, n, dim]);
      const out = this.proj.forward(merged) as tf.Tensor3D;
      const r: { [k: string]: tf.Tensor } = { out };
      if (options.returnAttention) r.attn = tf.reshape(probs, [b, numHeads, n, n]);
      return r;
    });
    return { out: result.out as tf.Tensor3D, ...(result.attn ? { attn: result.attn as tf.Tensor4D } : {}) };
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return this.forward(Array.isArray(inputs) ? inputs[0]! : inputs).out;
  }

  override getConfig(): serialization.ConfigDict {
    return { ...super.getConfig(), ...this.config };
  }
}
serialization.registerClass(Attention);
