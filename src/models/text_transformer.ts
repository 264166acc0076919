import * as tf from '@tensorflow/tfjs-core';
import { serialization } from '@tensorflow/tfjs-core';
import { causalMask, combineMasks, keyPaddingMask } from '../layers/attention_mask.js';
import { Block } from '../layers/block.js';
import { resolveCheckpointing, runBlock, type Checkpointing } from '../layers/checkpoint.js';
import { initTensor } from '../layers/init.js';
import { LayerNorm } from '../layers/layer_norm.js';
import type { MlpActivation } from '../layers/mlp.js';
import { Module, type Weight } from '../layers/module.js';
import { linear } from '../ops/matmul.js';
import { deriveSeed } from '../utils/random.js';
import { optionalOneOf } from '../utils/config.js';
import { checkConfigObject, describeValue, optionalSeed, requireInt } from '../utils/config.js';
import { hostValues } from '../utils/host_values.js';

/**
 * How {@link TextTransformer} pools its tokens into one feature per text
 * (open_clip `text_global_pool`):
 * - `argmax`: the token at each row's largest id, CLIP's end-of-text token
 *   (EOT has the largest id of CLIP's vocabulary; open_clip's default);
 * - `first`: the first token (a class/SOT token, BERT style);
 * - `last`: the last position (all rows the same length, no padding);
 * - `none`: no pooling, every token is projected (`[B, L, E]`).
 */
export type TextPool = 'argmax' | 'first' | 'last' | 'none';

/** Config of {@link TextTransformer}. Defaults are CLIP's text tower (ViT-B/32, B/16: open_clip `CLIPTextCfg`). */
export interface TextTransformerConfig {
  /** Vocabulary size `V`. Default 49408 (CLIP's BPE vocabulary). */
  vocabSize?: number;
  /** Maximum sequence length (rows of `positional_embedding`). Default 77. */
  contextLength?: number;
  /** Token width `W`. Default 512. */
  width?: number;
  /** Attention heads; must divide `width`. Default 8. */
  heads?: number;
  /** Number of residual blocks. Default 12. */
  layers?: number;
  /** MLP hidden width `int(W * mlpRatio)`. Default 4. */
  mlpRatio?: number;
  /**
   * Output width `E` of `text_projection` `[W, E]`, or `null` for no
   * projection (features of width `W`). Default 512.
   */
  embedDim?: number | null;
  /** MLP activation: `'gelu'` (exact) or `'quickGelu'` (OpenAI weights, open_clip `quick_gelu=True`). Default `'gelu'`. */
  act?: MlpActivation;
  /** Causal self-attention (token `i` sees tokens `0 .. i`). Default `true` (CLIP; open_clip `no_causal_mask=False`). */
  causal?: boolean;
  /** Pooling, see {@link TextPool}. Default `'argmax'` (open_clip's default: EOT token). */
  pool?: TextPool;
  /** Layer-scale init value (`ls_1.gamma`, `ls_2.gamma` in open_clip), or `null` for none. Default `null` (open_clip `ls_init_value=None`). */
  lsInitValue?: number | null;
  /** LayerNorm epsilon. Default 1e-5 (PyTorch's default, which open_clip keeps). */
  normEps?: number;
  /**
   * Activation checkpointing of every block (see the ViT's `checkpointing`):
   * the backward pass recomputes each block instead of keeping its
   * intermediates, about a third more compute for a fraction of the memory;
   * gradients are unchanged. Default `'auto'`: on only when the estimated
   * training memory of the blocks exceeds 1 GiB
   * ({@link layers.resolveCheckpointing | resolveCheckpointing}).
   */
  checkpointing?: Checkpointing;
  /** Seed of the initial weights. Default 0. */
  seed?: number;
  /** Layer name. */
  name?: string;
}

/** Resolved config of {@link TextTransformer}. */
export type ResolvedTextTransformerConfig = Required<Omit<TextTransformerConfig, 'name'>>;

/** Options of the forward methods of {@link TextTransformer}. */
export interface TextForwardOptions {
  /**
   * `[B, L]` bool / 0-1 (true / 1 = padding): padded keys are masked out of
   * every attention (a key-padding mask, combined with the causal mask).
   * CLIP does not need it (its padding follows the EOT, which the causal
   * mask already hides), a non-causal tower does. Default none.
   */
  padding?: tf.Tensor;
}

/**
 * Checks `ids` (int32 `[B, L]`, `1 <= L <= contextLength`, every id in
 * `[0, vocabSize)`) before any tensor work and returns its values.
 * `owner` names the caller in the message.
 */
export function checkTokenIds(owner: string, ids: unknown, vocabSize: number, contextLength: number): Int32Array {
  if (!(ids instanceof tf.Tensor) || ids.rank !== 2 || ids.dtype !== 'int32') {
    throw new Error(
      `${owner}: ids must be an int32 tensor [B, L] of token ids, got ` +
        `${ids instanceof tf.Tensor ? `${ids.dtype} shape [${ids.shape}]` : String(ids)}`,
    );
  }
  const [b, l] = ids.shape as [number, number];
  if (b < 1 || l < 1 || l > contextLength) {
    throw new Error(`${owner}: ids must be [B >= 1, 1 <= L <= contextLength=${contextLength}], got shape [${ids.shape}]`);
  }
  const data = hostValues(ids) as Int32Array;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (v < 0 || v >= vocabSize) {
      throw new Error(
        `${owner}: ids[${Math.floor(i / l)}][${i % l}] = ${v} is outside the vocabulary [0, vocabSize=${vocabSize})`,
      );
    }
  }
  return data;
}

/**
 * Re-draws the weights of open_clip-style blocks as open_clip's text tower
 * does (`TextTransformer.init_parameters`): `in_proj_weight ~ N(0, W^-0.5)`,
 * `out_proj.weight` and `c_proj.weight ~ N(0, W^-0.5 (2 layers)^-0.5)`,
 * `c_fc.weight ~ N(0, (2W)^-0.5)` (biases as constructed).
 */
export function openClipInitBlocks(blocks: readonly Block[], width: number, seed: number): void {
  if (!Array.isArray(blocks) || blocks.some((b) => !(b instanceof Block))) {
    throw new Error(`openClipInitBlocks: blocks must be an array of Blocks, got ${describeValue(blocks)}`);
  }
  requireInt('openClipInitBlocks', 'width', width);
  optionalSeed('openClipInitBlocks', seed);
  const layers = blocks.length;
  const projStd = width ** -0.5 * (2 * layers) ** -0.5;
  const attnStd = width ** -0.5;
  const fcStd = (2 * width) ** -0.5;
  blocks.forEach((b, i) => {
    const set = (w: Weight, std: number, name: string) => {
      const t = initTensor({ kind: 'normal', std }, w.shape as number[], deriveSeed(seed, `resblocks.${i}.${name}`));
      w.write(t);
      t.dispose();
    };
    set(b.attn.qkv.weight, attnStd, 'in_proj_weight');
    set(b.attn.proj.weight, projStd, 'out_proj');
    set(b.mlp.fc1.weight, fcStd, 'c_fc');
    set(b.mlp.fc2.weight, projStd, 'c_proj');
  });
}

/**
 * The text encoder of CLIP (Radford et al. 2021, "Learning Transferable
 * Visual Models From Natural Language Supervision"; open_clip
 * `TextTransformer` / `CLIP.encode_text`): token embedding plus a learned
 * position table, pre-norm residual blocks with a causal (and optionally
 * key-padding) attention mask, a final LayerNorm, pooling (EOT by default)
 * and a plain projection matrix (`x @ text_projection`).
 *
 * Weights (open_clip names; the blocks reuse the library's `Block`, whose
 * keys `norm1`, `attn.qkv`, `attn.proj`, `ls1.gamma`, `norm2`, `mlp.fc1`,
 * `mlp.fc2`, `ls2.gamma` the `openClip` converter maps from open_clip's
 * `ln_1`, `attn.in_proj_weight`/`in_proj_bias`, `attn.out_proj`, `ls_1.gamma`,
 * `ln_2`, `mlp.c_fc`, `mlp.c_proj`, `ls_2.gamma`):
 * `token_embedding.weight` `[V, W]`, `positional_embedding` `[ctx, W]`,
 * `transformer.resblocks.<i>.*`, `ln_final`, `text_projection` `[W, E]`.
 * Init as open_clip: token embedding `N(0, 0.02)`, positions `N(0, 0.01)`,
 * blocks by {@link openClipInitBlocks}, projection `N(0, W^-0.5)`.
 *
 * Shapes: `ids: [B, L]` int32, `L <= contextLength` -> `[B, E]` (`[B, L, E]`
 * with pool `'none'`).
 */
export class TextTransformer extends Module {
  static readonly className = 'MimkitTextTransformer';
  /** Resolved config. */
  readonly config: ResolvedTextTransformerConfig;
  /** `token_embedding.weight` `[V, W]`. */
  readonly tokenEmbedding: Weight;
  /** `positional_embedding` `[ctx, W]`. */
  readonly positionalEmbedding: Weight;
  /** `transformer.resblocks.<i>`. */
  readonly blocks: Block[];
  /** `ln_final`. */
  readonly lnFinal: LayerNorm;
  /** `text_projection` `[W, E]`, or null with `embedDim: null`. */
  readonly textProjection: Weight | null;
  /** Whether training steps recompute each block in the backward pass (config `checkpointing`; mutable). */
  checkpointing: Checkpointing;

  constructor(config: TextTransformerConfig = {}) {
    super({ name: checkConfigObject('TextTransformer', config).name, seed: config.seed });
    const c: ResolvedTextTransformerConfig = {
      vocabSize: config.vocabSize ?? 49408,
      contextLength: config.contextLength ?? 77,
      width: config.width ?? 512,
      heads: config.heads ?? 8,
      layers: config.layers ?? 12,
      mlpRatio: config.mlpRatio ?? 4,
      embedDim: config.embedDim === undefined ? 512 : config.embedDim,
      act: config.act ?? 'gelu',
      causal: config.causal ?? true,
      pool: config.pool ?? 'argmax',
      lsInitValue: config.lsInitValue ?? null,
      normEps: config.normEps ?? 1e-5,
      checkpointing: optionalOneOf('TextTransformer', 'checkpointing', config.checkpointing, 'auto' as Checkpointing, [true, false, 'auto']),
      seed: config.seed ?? 0,
    };
    const posInt = (k: 'vocabSize' | 'contextLength' | 'width' | 'heads') => {
      if (!Number.isInteger(c[k]) || c[k] <= 0) throw new Error(`TextTransformer: ${k} must be a positive integer, got ${c[k]}`);
    };
    posInt('vocabSize');
    posInt('contextLength');
    posInt('width');
    posInt('heads');
    this.checkpointing = c.checkpointing;
    if (!Number.isInteger(c.layers) || c.layers < 0) throw new Error(`TextTransformer: layers must be a non-negative integer, got ${c.layers}`);
    if (c.width % c.heads !== 0) throw new Error(`TextTransformer: width ${c.width} is not divisible by heads ${c.heads}`);
    if (c.embedDim !== null && (!Number.isInteger(c.embedDim) || c.embedDim <= 0)) {
      throw new Error(`TextTransformer: embedDim must be a positive integer or null, got ${c.embedDim}`);
    }
    if (!['argmax', 'first', 'last', 'none'].includes(c.pool)) {
      throw new Error(`TextTransformer: pool must be 'argmax', 'first', 'last' or 'none', got '${String(c.pool)}'`);
    }
    if (typeof c.causal !== 'boolean') throw new Error(`TextTransformer: causal must be a boolean, got ${String(c.causal)}`);
    this.config = c;
    this.tokenEmbedding = this.addParam('token_embedding.weight', [c.vocabSize, c.width], { kind: 'normal', std: 0.02 });
    this.positionalEmbedding = this.addParam('positional_embedding', [c.contextLength, c.width], { kind: 'normal', std: 0.01 });
    this.blocks = [];
    for (let i = 0; i < c.layers; i++) {
      this.blocks.push(
        this.addModule(
          `transformer.resblocks.${i}`,
          new Block({
            dim: c.width,
            numHeads: c.heads,
            mlpRatio: c.mlpRatio,
            qkvBias: 'qkv',
            initValues: c.lsInitValue,
            act: c.act,
            normEps: c.normEps,
            seed: this.childSeed(`transformer.resblocks.${i}`),
          }),
        ),
      );
    }
    openClipInitBlocks(this.blocks, c.width, this.childSeed('init'));
    this.lnFinal = this.addModule('ln_final', new LayerNorm({ dim: c.width, eps: c.normEps }));
    this.textProjection =
      c.embedDim === null ? null : this.addParam('text_projection', [c.width, c.embedDim], { kind: 'normal', std: c.width ** -0.5 });
  }

  /** Redoes open_clip's block initialisation after {@link Module.reseed} re-drew the weights. */
  protected override onReseed(): void {
    openClipInitBlocks(this.blocks, this.config.width, this.childSeed('init'));
  }

  /** Width of the output features: `embedDim`, or `width` without projection. */
  get outputDim(): number {
    return this.config.embedDim ?? this.config.width;
  }

  /**
   * Throws, before any tensor work, unless `ids` is int32 `[B, L]` with
   * `L <= contextLength` and every id in the vocabulary, and
   * `options.padding` (when given) is `[B, L]`; returns the ids' values.
   */
  checkInputs(ids: tf.Tensor, options: TextForwardOptions = {}): Int32Array {
    const data = checkTokenIds('TextTransformer', ids, this.config.vocabSize, this.config.contextLength);
    const p = options.padding;
    if (p !== undefined && (!(p instanceof tf.Tensor) || !tf.util.arraysEqual(p.shape, ids.shape))) {
      throw new Error(
        `TextTransformer: options.padding must be a [B, L] = [${ids.shape}] tensor (true / 1 = padding), got ` +
          `${p instanceof tf.Tensor ? `shape [${p.shape}]` : String(p)}`,
      );
    }
    return data;
  }

  /**
   * The blocks' tokens after `ln_final`: `ids [B, L]` -> `[B, L, W]`
   * (token embedding + positions, blocks with the causal / padding mask,
   * final norm), open_clip `encode_text` before pooling.
   */
  forwardTokens(ids: tf.Tensor, options: TextForwardOptions = {}): tf.Tensor3D {
    this.checkInputs(ids, options);
    return this.tokens(ids, options);
  }

  private tokens(ids: tf.Tensor, options: TextForwardOptions): tf.Tensor3D {
    const [b, l] = ids.shape as [number, number];
    const W = this.config.width;
    return tf.tidy(() => {
      const emb = tf.reshape(tf.gather(this.tokenEmbedding.read(), tf.reshape(ids, [b * l])), [b, l, W]);
      let x = tf.add(emb, tf.slice(this.positionalEmbedding.read(), [0, 0], [l, W]));
      const mask = combineMasks(
        this.config.causal ? causalMask(l) : null,
        options.padding ? keyPaddingMask(options.padding) : null,
      );
      const ckpt = resolveCheckpointing(this.checkpointing, this.blocks, x);
      for (const blk of this.blocks) x = runBlock(blk, x, mask ? { attnMask: mask } : {}, ckpt).out;
      return this.lnFinal.forward(x) as tf.Tensor3D;
    });
  }

  /**
   * Pools normalised tokens `[B, L, W]` (config `pool`; `argmax` needs the
   * ids' values, row by row) -> `[B, W]` (`[B, L, W]` for `'none'`).
   */
  private poolTokens(x: tf.Tensor3D, ids: Int32Array): tf.Tensor {
    const [b, l, w] = x.shape;
    const pool = this.config.pool;
    if (pool === 'none') return x;
    const rows = new Int32Array(b);
    for (let i = 0; i < b; i++) {
      if (pool === 'first') rows[i] = i * l;
      else if (pool === 'last') rows[i] = i * l + l - 1;
      else {
        let best = 0;
        for (let j = 1; j < l; j++) if (ids[i * l + j]! > ids[i * l + best]!) best = j; // first maximum, as torch.argmax
        rows[i] = i * l + best;
      }
    }
    return tf.tidy(() => tf.gather(tf.reshape(x, [b * l, w]), tf.tensor1d(rows, 'int32')));
  }

  /**
   * Text features: `ids [B, L]` -> `[B, E]` (not normalised; `[B, L, E]` with
   * pool `'none'`), open_clip `encode_text(text, normalize=False)`.
   */
  forward(ids: tf.Tensor, options: TextForwardOptions = {}): tf.Tensor {
    const data = this.checkInputs(ids, options);
    return tf.tidy(() => {
      const pooled = this.poolTokens(this.tokens(ids, options), data);
      return this.textProjection ? linear(pooled, this.textProjection.read()) : pooled;
    });
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return this.forward(Array.isArray(inputs) ? inputs[0]! : inputs);
  }

  override getConfig(): serialization.ConfigDict {
    return { ...super.getConfig(), ...this.config };
  }
}
serialization.registerClass(TextTransformer);
