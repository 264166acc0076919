import * as tf from '@tensorflow/tfjs-core';
import { serialization } from '@tensorflow/tfjs-core';
import { matMul } from '../ops/matmul.js';
import { checkAttnMask } from './attention_mask.js';
import type { Rng } from '../utils/random.js';
import { DropPath } from './drop_path.js';
import type { Init } from './init.js';
import { LayerNorm } from './layer_norm.js';
import { Linear } from './linear.js';
import { gelu } from './mlp.js';
import { Module } from './module.js';
import { CONFIG_LIMITS, checkTensorArg, checkTransformerStack, optionalBool, optionalNumber, requireConfig, requireInt } from '../utils/config.js';

/**
 * BEiT-3's Multiway Transformer (Wang et al. 2023, "Image as a Foreign
 * Language: BEiT Pretraining for All Vision and Vision-Language Tasks"), in
 * torchscale's form (`torchscale/architecture/encoder.py` `EncoderLayer` with
 * `multiway=True`, `torchscale/component/multiway_network.py`).
 *
 * The token axis is split at a position `s` given per call: tokens `[0, s)`
 * (vision) go through expert `A`, tokens `[s, T)` (language) through expert
 * `B`; `s = -1` sends every token to `A`, `s = 0` every token to `B`.
 */

/** Which expert: `A` vision, `B` language, `C` vision-language (BEiT-3's top layers). */
export type MultiwayExpert = 'A' | 'B' | 'C';

/** A module that maps `[B, T, ...]` to `[B, T, ...]` token-wise (what {@link Multiway} can wrap). */
export type TokenwiseModule = Module & { forward(x: tf.Tensor): tf.Tensor };

/** Config of {@link Multiway}. */
export interface MultiwayConfig<M extends TokenwiseModule> {
  /**
   * Builds one expert; called for `A`, `B` (and `C` when `withC`) with a seed
   * derived from the wrapper's seed and the expert's name, so the copies start
   * different, as torchscale's `copy.deepcopy` followed by the model's init.
   */
  create: (expert: MultiwayExpert, seed: number) => M;
  /**
   * Also build a third expert `C` (BEiT-3's vision-language FFN). Default
   * `false`: torchscale's `MultiwayNetwork` has two.
   */
  withC?: boolean;
  /** Seed of the experts. Default 0. */
  seed?: number;
  /** Layer name. */
  name?: string;
}

/** Options of {@link Multiway.forward}. */
export interface MultiwayForwardOptions {
  /**
   * Route every token through this expert instead of splitting (e.g. `'C'`
   * for image-text pairs in BEiT-3's top layers). Default: split by position.
   */
  expert?: MultiwayExpert;
}

/** Checks a split position against a token count `t`. */
function checkSplit(who: string, splitPosition: unknown, t: number): number {
  if (typeof splitPosition !== 'number' || !Number.isInteger(splitPosition) || splitPosition < -1 || splitPosition > t) {
    throw new Error(
      `${who}: splitPosition must be an integer in [-1, T=${t}] (-1: all tokens vision/A, 0: all language/B), got ${String(splitPosition)}`,
    );
  }
  return splitPosition;
}

/**
 * Two (or three) copies of a token-wise module, `A` and `B` (and `C`), under
 * the reference keys `<name>.A.*`, `<name>.B.*` (`<name>.C.*`). The forward
 * pass splits the token axis (axis 1) at `splitPosition`, runs `A` on the
 * first part and `B` on the rest, and concatenates (torchscale
 * `MultiwayNetwork`). Not serialisable on its own (it holds a factory); the
 * modules that own it are.
 *
 * Shapes: `x: [B, T, ...]` -> `[B, T, ...']`.
 */
export class Multiway<M extends TokenwiseModule> extends Module {
  static readonly className = 'MimkitMultiway';
  /** Vision expert. */
  readonly A: M;
  /** Language expert. */
  readonly B: M;
  /** Vision-language expert, or null. */
  readonly C: M | null;

  constructor(config: MultiwayConfig<M>) {
    super({ name: config.name, seed: config.seed });
    if (typeof config.create !== 'function') {
      throw new Error(`Multiway: create must be a function (expert, seed) => module, got ${typeof config.create}`);
    }
    this.A = this.addModule('A', config.create('A', this.childSeed('A')));
    this.B = this.addModule('B', config.create('B', this.childSeed('B')));
    this.C = config.withC === true ? this.addModule('C', config.create('C', this.childSeed('C'))) : null;
  }

  /** The expert named `e` (throws for `C` when there is none). */
  expert(e: MultiwayExpert): M {
    if (e === 'A') return this.A;
    if (e === 'B') return this.B;
    if (e === 'C' && this.C) return this.C;
    throw new Error(`Multiway: expert must be 'A', 'B'${this.C ? " or 'C'" : ''} (this wrapper has ${this.C ? 'three' : 'no C'} experts), got '${String(e)}'`);
  }

  /**
   * Applies `f(expert, part)` to each part of `x` (tokens `[0, s)` with `A`,
   * `[s, T)` with `B`) and concatenates the results along the token axis.
   * Use it to call an expert with extra arguments.
   */
  route(
    x: tf.Tensor,
    splitPosition: number,
    f: (m: M, part: tf.Tensor) => tf.Tensor,
    options: MultiwayForwardOptions = {},
  ): tf.Tensor {
    if (!(x instanceof tf.Tensor) || x.rank < 2) {
      throw new Error(`Multiway: x must be a tensor [B, T, ...] with the tokens on axis 1, got ${x instanceof tf.Tensor ? `shape [${x.shape}]` : typeof x}`);
    }
    const t = x.shape[1]!;
    const s = checkSplit('Multiway', splitPosition, t);
    if (options.expert !== undefined) return f(this.expert(options.expert), x);
    if (s === -1 || s === t) return f(this.A, x);
    if (s === 0) return f(this.B, x);
    return tf.tidy(() => {
      const [xa, xb] = tf.split(x, [s, t - s], 1) as [tf.Tensor, tf.Tensor];
      return tf.concat([f(this.A, xa), f(this.B, xb)], 1);
    });
  }

  /** `x: [B, T, ...]` -> `[B, T, ...']`, each part through its expert's `forward`. */
  forward(x: tf.Tensor, splitPosition: number, options: MultiwayForwardOptions = {}): tf.Tensor {
    return this.route(x, splitPosition, (m, part) => m.forward(part), options);
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: { splitPosition?: number } = {}): tf.Tensor {
    return this.forward(Array.isArray(inputs) ? inputs[0]! : inputs, kwargs.splitPosition ?? -1);
  }
}

/** BEiT-3's initialiser of every Linear weight (`trunc_normal_(std=0.02)`, `_init_weights`); biases start at 0. */
const BEIT3_LINEAR_INIT: Init = { kind: 'truncNormal', std: 0.02 };

/** Config of {@link SubLnFeedForward}. */
export interface SubLnFeedForwardConfig {
  /** Input and output width `C`. */
  embedDim: number;
  /** Hidden width (`encoder_ffn_embed_dim`; 4C in BEiT-3). */
  ffnDim: number;
  /**
   * LayerNorm over the hidden activations before `fc2` (`ffn_layernorm`,
   * sub-LN of Magneto / Foundation Transformers). Default `true` (BEiT-3).
   */
  subln?: boolean;
  /** Epsilon of that LayerNorm. Default `1e-5` (BEiT-3's `layernorm_eps`). */
  layernormEps?: number;
  /** Seed of the initial weights. Default 0. */
  seed?: number;
  /** Layer name. */
  name?: string;
}

/**
 * torchscale's `FeedForwardNetwork`: `fc2(ffn_layernorm(GELU(fc1(x))))` with
 * the exact GELU; `ffn_layernorm` only with `subln`. Weights: `fc1`,
 * `ffn_layernorm` (sub-LN only), `fc2`.
 *
 * Shapes: `x: [..., C]` -> `[..., C]`.
 */
export class SubLnFeedForward extends Module {
  static readonly className = 'MimkitSubLnFeedForward';
  /** Resolved config. */
  readonly config: Required<Omit<SubLnFeedForwardConfig, 'name'>>;
  /** `C -> ffnDim`. */
  readonly fc1: Linear;
  /** Sub-LN over the hidden width, or null. */
  readonly ffnLayernorm: LayerNorm | null;
  /** `ffnDim -> C`. */
  readonly fc2: Linear;

  constructor(config: SubLnFeedForwardConfig) {
    super({ name: config.name, seed: config.seed });
    for (const key of ['embedDim', 'ffnDim'] as const) {
      const v = config[key];
      if (!Number.isInteger(v) || v <= 0) throw new Error(`SubLnFeedForward: ${key} must be a positive integer, got ${String(v)}`);
    }
    const eps = config.layernormEps ?? 1e-5;
    if (!(typeof eps === 'number' && eps > 0)) {
      throw new Error(`SubLnFeedForward: layernormEps must be a positive number, got ${String(eps)}`);
    }
    this.config = {
      embedDim: config.embedDim,
      ffnDim: config.ffnDim,
      subln: config.subln ?? true,
      layernormEps: eps,
      seed: config.seed ?? 0,
    };
    const { embedDim, ffnDim } = this.config;
    this.fc1 = this.addModule(
      'fc1',
      new Linear({ inFeatures: embedDim, outFeatures: ffnDim, init: BEIT3_LINEAR_INIT, seed: this.childSeed('fc1') }),
    );
    this.ffnLayernorm = this.config.subln
      ? this.addModule('ffn_layernorm', new LayerNorm({ dim: ffnDim, eps, seed: this.childSeed('ffn_layernorm') }))
      : null;
    this.fc2 = this.addModule(
      'fc2',
      new Linear({ inFeatures: ffnDim, outFeatures: embedDim, init: BEIT3_LINEAR_INIT, seed: this.childSeed('fc2') }),
    );
  }

  /** `x: [..., C]` -> `[..., C]`. */
  forward(x: tf.Tensor): tf.Tensor {
    if (x.shape[x.rank - 1] !== this.config.embedDim) {
      throw new Error(`SubLnFeedForward: x last dimension must be embedDim=${this.config.embedDim}, got shape [${x.shape}]`);
    }
    return tf.tidy(() => {
      let h = gelu(this.fc1.forward(x));
      if (this.ffnLayernorm) h = this.ffnLayernorm.forward(h);
      return this.fc2.forward(h);
    });
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return this.forward(Array.isArray(inputs) ? inputs[0]! : inputs);
  }

  override getConfig(): serialization.ConfigDict {
    return { ...super.getConfig(), ...this.config };
  }
}
serialization.registerClass(SubLnFeedForward);

/** Config of {@link MultiwayBlock} (torchscale's argument names in camelCase). */
export interface MultiwayBlockConfig {
  /** Token width `C` (`encoder_embed_dim`). */
  embedDim: number;
  /** Attention heads (`encoder_attention_heads`); must divide `embedDim`. */
  heads: number;
  /** FFN hidden width (`encoder_ffn_embed_dim`). Default `4 * embedDim` (BEiT-3). */
  ffnDim?: number;
  /**
   * Sub-LN (Magneto): a LayerNorm on the attention output before `out_proj`
   * (`self_attn.inner_attn_ln`) and one inside the FFN (`ffn_layernorm`).
   * Default `true`, as BEiT-3.
   */
  subln?: boolean;
  /** Epsilon of every LayerNorm. Default `1e-5` (BEiT-3's `layernorm_eps`). */
  layernormEps?: number;
  /**
   * Add a third FFN expert `ffn.C` (the vision-language FFN that BEiT-3 uses
   * in its top layers for image-text pairs), selected per call with
   * `useVLExpert`. Default `false` (torchscale's layer has two experts).
   */
  vlExpert?: boolean;
  /** Stochastic-depth rate of both residual branches. Default 0 (off). */
  dropPath?: number;
  /** Seed of the initial weights and the drop-path generators. Default 0. */
  seed?: number;
  /** Layer name. */
  name?: string;
}

/** Options of {@link MultiwayBlock.forward}. */
export interface MultiwayBlockForwardOptions {
  /**
   * Tokens `[0, s)` use the vision experts `A`, `[s, T)` the language experts
   * `B`; `-1`: all `A` (image only), `0`: all `B` (text only). Default `-1`.
   */
  splitPosition?: number;
  /**
   * Send every token through the vision-language FFN expert `C` (the block
   * must have `vlExpert`). The LayerNorms and projections still follow
   * `splitPosition`. Default `false`.
   */
  useVLExpert?: boolean;
  /** Also return the attention probabilities. Default `false`. */
  returnAttention?: boolean;
  /**
   * Additive attention mask added to the logits before the softmax, float32,
   * broadcastable to `[B, heads, T, T]` (`[T, T]`, `[B, 1, T, T]`,
   * `[B, 1, 1, T]` from `keyPaddingMask`, `[1, 1, T, T]`); torchscale's
   * `key_padding_mask` (BEiT-3's text padding) is `keyPaddingMask(padding)`.
   * Default none.
   */
  attnMask?: tf.Tensor;
  /** Training mode (enables drop path). Default `false`. */
  training?: boolean;
  /** Generator for drop path in this call, instead of the block's own ones. */
  rng?: Rng;
}

/** Options of {@link MultiwayAttention.forward}. */
export interface MultiwayAttentionForwardOptions {
  /** Also return the attention probabilities. Default `false`. */
  returnAttention?: boolean;
  /** Additive mask on the logits, see {@link MultiwayBlockForwardOptions.attnMask}. Default none. */
  attnMask?: tf.Tensor;
}

/** Output of {@link MultiwayBlock.forward}. */
export type MultiwayBlockOutput = {
  /** `[B, T, C]`. */
  out: tf.Tensor3D;
  /** `[B, heads, T, T]` softmax probabilities over all keys, when asked for. */
  attn?: tf.Tensor4D;
}

/**
 * Multi-head attention with multiway projections (torchscale
 * `MultiheadAttention` with `multiway=True`): `q_proj`, `k_proj`, `v_proj`,
 * `out_proj` (with biases) and, with sub-LN, `inner_attn_ln` exist as `A`/`B`
 * copies; the scores and softmax are shared: every query attends to all `T`
 * keys of both modalities, `softmax((q * d^-0.5) k^T + attnMask)`.
 *
 * Shapes: `x: [B, T, C]` -> `out: [B, T, C]`, `attn: [B, heads, T, T]`.
 */
export class MultiwayAttention extends Module {
  static readonly className = 'MimkitMultiwayAttention';
  /** Resolved config. */
  readonly config: { embedDim: number; heads: number; subln: boolean; layernormEps: number; seed: number };
  /** `d^-0.5` with `d = C / heads`. */
  readonly scaling: number;
  /** Query projection experts. */
  readonly qProj: Multiway<Linear>;
  /** Key projection experts. */
  readonly kProj: Multiway<Linear>;
  /** Value projection experts. */
  readonly vProj: Multiway<Linear>;
  /** Sub-LN experts on the merged heads, or null. */
  readonly innerAttnLn: Multiway<LayerNorm> | null;
  /** Output projection experts. */
  readonly outProj: Multiway<Linear>;

  constructor(config: { embedDim: number; heads: number; subln?: boolean; layernormEps?: number; seed?: number; name?: string }) {
    super({ name: config.name, seed: config.seed });
    const { embedDim, heads } = config;
    if (!Number.isInteger(embedDim) || embedDim <= 0) {
      throw new Error(`MultiwayAttention: embedDim must be a positive integer, got ${String(embedDim)}`);
    }
    if (!Number.isInteger(heads) || heads <= 0 || embedDim % heads !== 0) {
      throw new Error(`MultiwayAttention: heads must be a positive integer dividing embedDim=${embedDim}, got ${String(heads)}`);
    }
    const eps = config.layernormEps ?? 1e-5;
    if (!(typeof eps === 'number' && eps > 0)) {
      throw new Error(`MultiwayAttention: layernormEps must be a positive number, got ${String(eps)}`);
    }
    this.config = { embedDim, heads, subln: config.subln ?? true, layernormEps: eps, seed: config.seed ?? 0 };
    this.scaling = (embedDim / heads) ** -0.5;
    const proj = (name: string) =>
      this.addModule(
        name,
        new Multiway<Linear>({
          seed: this.childSeed(name),
          create: (_e, seed) => new Linear({ inFeatures: embedDim, outFeatures: embedDim, init: BEIT3_LINEAR_INIT, seed }),
        }),
      );
    this.kProj = proj('k_proj');
    this.vProj = proj('v_proj');
    this.qProj = proj('q_proj');
    this.outProj = proj('out_proj');
    this.innerAttnLn = this.config.subln
      ? this.addModule(
          'inner_attn_ln',
          new Multiway<LayerNorm>({
            seed: this.childSeed('inner_attn_ln'),
            create: (_e, seed) => new LayerNorm({ dim: embedDim, eps, seed }),
          }),
        )
      : null;
  }

  /** `x: [B, T, C]` -> `{out: [B, T, C], attn?: [B, heads, T, T]}`. */
  forward(x: tf.Tensor, splitPosition: number, options: MultiwayAttentionForwardOptions = {}): MultiwayBlockOutput {
    const { embedDim: c, heads } = this.config;
    if (!(x instanceof tf.Tensor) || x.rank !== 3 || x.shape[2] !== c) {
      throw new Error(`MultiwayAttention: x must be [B, T, embedDim=${c}], got ${x instanceof tf.Tensor ? `shape [${x.shape}]` : typeof x}`);
    }
    const [b, t] = x.shape as [number, number, number];
    checkSplit('MultiwayAttention', splitPosition, t);
    const mask = options.attnMask;
    if (mask !== undefined) checkAttnMask(mask, b, heads, t, 'MultiwayAttention');
    const d = c / heads;
    const r = tf.tidy(() => {
      const split = (y: tf.Tensor) => tf.reshape(tf.transpose(tf.reshape(y, [b, t, heads, d]), [0, 2, 1, 3]), [b * heads, t, d]);
      const q = split(tf.mul(this.qProj.forward(x, splitPosition), this.scaling));
      const k = split(this.kProj.forward(x, splitPosition));
      const v = split(this.vProj.forward(x, splitPosition));
      let logits = matMul(q, k, false, true);
      if (mask !== undefined) logits = tf.reshape(tf.add(tf.reshape(logits, [b, heads, t, t]), mask), [b * heads, t, t]);
      const probs = tf.softmax(logits, -1);
      const o = tf.reshape(tf.transpose(tf.reshape(matMul(probs, v), [b, heads, t, d]), [0, 2, 1, 3]), [b, t, c]);
      const normed = this.innerAttnLn ? this.innerAttnLn.forward(o, splitPosition) : o;
      const out = this.outProj.forward(normed, splitPosition);
      const res: Record<string, tf.Tensor> = { out };
      if (options.returnAttention === true) res.attn = tf.reshape(probs, [b, heads, t, t]);
      return res;
    });
    return { out: r.out as tf.Tensor3D, ...(r.attn ? { attn: r.attn as tf.Tensor4D } : {}) };
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: { splitPosition?: number } = {}): tf.Tensor {
    return this.forward(Array.isArray(inputs) ? inputs[0]! : inputs, kwargs.splitPosition ?? -1).out;
  }

  override getConfig(): serialization.ConfigDict {
    return { ...super.getConfig(), ...this.config };
  }
}
serialization.registerClass(MultiwayAttention);

/**
 * One BEiT-3 Multiway Transformer encoder layer (torchscale `EncoderLayer`
 * with `multiway=True`, pre-norm, no DeepNorm):
 * `x = x + self_attn(self_attn_layer_norm(x))`, then
 * `x = x + ffn(final_layer_norm(x))`, where every LayerNorm, projection and
 * the FFN are multiway (`A` for tokens before `splitPosition`, `B` after) and
 * the attention is shared over all tokens. Parameter keys as torchscale:
 * `self_attn_layer_norm.{A,B}`, `self_attn.{q,k,v,out}_proj.{A,B}`,
 * `self_attn.inner_attn_ln.{A,B}` (sub-LN), `final_layer_norm.{A,B}`,
 * `ffn.{A,B}.fc1/fc2/ffn_layernorm` (sub-LN), and `ffn.C.*` with `vlExpert`.
 * Linear weights start from BEiT-3's `trunc_normal_(std=0.02)`, biases 0.
 *
 * Shapes: `x: [B, T, C]` -> `out: [B, T, C]`, `attn: [B, heads, T, T]`.
 */
export class MultiwayBlock extends Module {
  static readonly className = 'MimkitMultiwayBlock';
  /** Resolved config. */
  readonly config: Required<Omit<MultiwayBlockConfig, 'name'>>;
  /** Pre-attention LayerNorm experts. */
  readonly selfAttnLayerNorm: Multiway<LayerNorm>;
  /** Shared attention with multiway projections. */
  readonly selfAttn: MultiwayAttention;
  /** Pre-FFN LayerNorm experts. */
  readonly finalLayerNorm: Multiway<LayerNorm>;
  /** FFN experts (`A`, `B`, and `C` with `vlExpert`). */
  readonly ffn: Multiway<SubLnFeedForward>;
  private readonly dropPath1: DropPath;
  private readonly dropPath2: DropPath;

  constructor(config: MultiwayBlockConfig) {
    requireConfig('MultiwayBlock', config);
    checkTransformerStack('MultiwayBlock', { dim: ['embedDim', config.embedDim], depth: ['depth', 1], numHeads: ['heads', config.heads], mlpRatio: ['mlpRatio', 1] });
    if (config.ffnDim !== undefined) requireInt('MultiwayBlock', 'ffnDim', config.ffnDim, { min: 1, max: CONFIG_LIMITS.maxDim * 64 });
    optionalBool('MultiwayBlock', 'subln', config.subln, true);
    optionalBool('MultiwayBlock', 'vlExpert', config.vlExpert, false);
    optionalNumber('MultiwayBlock', 'dropPath', config.dropPath, 0, { min: 0, max: 1 });
    super({ name: config.name, seed: config.seed });
    const { embedDim, heads } = config;
    if (!Number.isInteger(embedDim) || embedDim <= 0) {
      throw new Error(`MultiwayBlock: embedDim must be a positive integer, got ${String(embedDim)}`);
    }
    if (!Number.isInteger(heads) || heads <= 0 || embedDim % heads !== 0) {
      throw new Error(`MultiwayBlock: heads must be a positive integer dividing embedDim=${embedDim}, got ${String(heads)}`);
    }
    const ffnDim = config.ffnDim ?? 4 * embedDim;
    if (!Number.isInteger(ffnDim) || ffnDim <= 0) {
      throw new Error(`MultiwayBlock: ffnDim must be a positive integer, got ${String(ffnDim)}`);
    }
    const eps = config.layernormEps ?? 1e-5;
    if (!(typeof eps === 'number' && eps > 0)) {
      throw new Error(`MultiwayBlock: layernormEps must be a positive number (BEiT-3 uses 1e-5), got ${String(eps)}`);
    }
    this.config = {
      embedDim,
      heads,
      ffnDim,
      subln: config.subln ?? true,
      layernormEps: eps,
      vlExpert: config.vlExpert ?? false,
      dropPath: config.dropPath ?? 0,
      seed: config.seed ?? 0,
    };
    const { subln } = this.config;
    const ln = (name: string) =>
      new Multiway<LayerNorm>({ seed: this.childSeed(name), create: (_e, seed) => new LayerNorm({ dim: embedDim, eps, seed }) });
    this.selfAttn = this.addModule(
      'self_attn',
      new MultiwayAttention({ embedDim, heads, subln, layernormEps: eps, seed: this.childSeed('self_attn') }),
    );
    this.selfAttnLayerNorm = this.addModule('self_attn_layer_norm', ln('self_attn_layer_norm'));
    this.ffn = this.addModule(
      'ffn',
      new Multiway<SubLnFeedForward>({
        seed: this.childSeed('ffn'),
        withC: this.config.vlExpert,
        create: (_e, seed) => new SubLnFeedForward({ embedDim, ffnDim, subln, layernormEps: eps, seed }),
      }),
    );
    this.finalLayerNorm = this.addModule('final_layer_norm', ln('final_layer_norm'));
    this.dropPath1 = this.addModule('drop_path1', new DropPath({ rate: this.config.dropPath, seed: this.childSeed('drop_path1') }));
    this.dropPath2 = this.addModule('drop_path2', new DropPath({ rate: this.config.dropPath, seed: this.childSeed('drop_path2') }));
  }

  /** `x: [B, T, C]` -> `{out: [B, T, C], attn?: [B, heads, T, T]}`. */
  forward(x: tf.Tensor, options: MultiwayBlockForwardOptions = {}): MultiwayBlockOutput {
    checkTensorArg('MultiwayBlock.forward', 'x', x, { rank: 3, what: '[B, N, embedDim]' });
    const c = this.config.embedDim;
    if (!(x instanceof tf.Tensor) || x.rank !== 3 || x.shape[2] !== c) {
      throw new Error(`MultiwayBlock: x must be [B, T, embedDim=${c}], got ${x instanceof tf.Tensor ? `shape [${x.shape}]` : typeof x}`);
    }
    const s = checkSplit('MultiwayBlock', options.splitPosition ?? -1, x.shape[1]!);
    if (options.useVLExpert === true && !this.config.vlExpert) {
      throw new Error('MultiwayBlock: useVLExpert needs a block built with vlExpert: true (no ffn.C expert)');
    }
    if (options.attnMask !== undefined) {
      checkAttnMask(options.attnMask, x.shape[0]!, this.config.heads, x.shape[1]!, 'MultiwayBlock');
    }
    const dp = { training: options.training, rng: options.rng };
    const r = tf.tidy(() => {
      const a = this.selfAttn.forward(this.selfAttnLayerNorm.forward(x, s), s, {
        returnAttention: options.returnAttention,
        attnMask: options.attnMask,
      });
      const x1 = tf.add(x, this.dropPath1.forward(a.out, dp));
      const h = this.finalLayerNorm.forward(x1, s);
      const f = this.ffn.forward(h, s, options.useVLExpert === true ? { expert: 'C' } : {});
      const out = tf.add(x1, this.dropPath2.forward(f, dp));
      const res: Record<string, tf.Tensor> = { out };
      if (a.attn) res.attn = a.attn;
      return res;
    });
    return { out: r.out as tf.Tensor3D, ...(r.attn ? { attn: r.attn as tf.Tensor4D } : {}) };
  }

  override call(
    inputs: tf.Tensor | tf.Tensor[],
    kwargs: { splitPosition?: number; training?: boolean } = {},
  ): tf.Tensor {
    return this.forward(Array.isArray(inputs) ? inputs[0]! : inputs, {
      splitPosition: kwargs.splitPosition,
      training: kwargs.training,
    }).out;
  }

  override getConfig(): serialization.ConfigDict {
    return { ...super.getConfig(), ...this.config };
  }
}
serialization.registerClass(MultiwayBlock);
