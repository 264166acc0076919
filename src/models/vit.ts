import * as tf from '@tensorflow/tfjs-core';
import { serialization } from '@tensorflow/tfjs-core';
import { Block, type LayerScaleNaming } from '../layers/block.js';
import { runBlock } from '../layers/checkpoint.js';
import { RelativePositionBias } from '../layers/rel_pos_bias.js';
import type { QkvBias } from '../layers/attention.js';
import { LayerNorm } from '../layers/layer_norm.js';
import { Module, type Weight } from '../layers/module.js';
import { PatchEmbed, toPair } from '../layers/patch_embed.js';
import { posEmbedInit, type PosEmbedKind } from '../layers/pos_embed.js';
import type { Rng } from '../utils/random.js';

/**
 * The backbone fields that {@link VisionTransformerConfig} and the
 * pretraining models' configs (`MAEConfig`, `BEiTConfig`, `SimMIMConfig`)
 * share. Where the references' defaults differ, each field names the
 * per-model default; ViT-Base/16 at 224 px otherwise.
 */
export interface VitBackboneConfig {
  /** Image size, a number (square) or `[height, width]`. Default 224. */
  imgSize?: number | [number, number];
  /**
   * Patch size `p` in pixels (the image sides must be multiples of it).
   * Default 16. SimMIM also uses it as the decoder's upscale factor (its
   * `encoder_stride` for a ViT).
   */
  patchSize?: number;
  /** Image channels `C` (any count: 1 for grey images). Default 3. */
  inChans?: number;
  /**
   * Token width `D`. Default 768 (ViT-B: `VisionTransformer`, BEiT, SimMIM);
   * MAE 1024 (`MaskedAutoencoderViT`'s own default, ViT-L).
   */
  embedDim?: number;
  /** Number of blocks. Default 12; MAE 24 (ViT-L). */
  depth?: number;
  /** Attention heads per block; must divide `embedDim`. Default 12; MAE 16 (ViT-L). */
  numHeads?: number;
  /** MLP hidden width is `floor(D * mlpRatio)`. Default 4. */
  mlpRatio?: number;
  /**
   * Bias form of every fused `qkv`, see {@link QkvBias}. Default `'qkv'`
   * (timm ViT; MAE builds timm blocks with `qkv_bias=True`); BEiT and SimMIM
   * `'qv'` (`q_bias`, `v_bias`, no key bias).
   */
  qkvBias?: QkvBias;
  /** LayerNorm epsilon of every norm. Default 1e-6 (`partial(nn.LayerNorm, eps=1e-6)` in timm's ViT, MAE, BEiT and SimMIM). */
  normEps?: number;
  /**
   * Activation checkpointing of every block ({@link checkpoint}): the
   * backward pass recomputes each block from its input instead of keeping
   * its intermediates, so a training step holds one `[B, T, D]` tensor per
   * block plus one block's intermediates, at the price of about a third
   * more compute. Gradients are unchanged. Not with drop path in training.
   * Mutable afterwards ({@link VisionTransformer.checkpointing}); MAE passes
   * it to its decoder blocks too. Default `false`.
   */
  checkpointing?: boolean;
  /** Seed of every initial weight (and of the drop-path and mask generators). Default 0. */
  seed?: number;
  /** Layer name. */
  name?: string;
}

/** Config of {@link VisionTransformer}. Defaults are ViT-Base/16 at 224 px (timm `vit_base_patch16_224`). */
export interface VisionTransformerConfig extends VitBackboneConfig {
  /** Layer-scale init value, or `null` for none (no weights). Default `null` (ViT, MAE; BEiT uses 0.1). */
  initValues?: number | null;
  /** Layer-scale key naming (`ls1.gamma` vs `gamma_1`). Default `'timm'`. */
  layerScaleNaming?: LayerScaleNaming;
  /** Prepend a learned class token `cls_token`. Default `true` (ViT). */
  classToken?: boolean;
  /**
   * Absolute position table `pos_embed` `[1, P + N, D]`. Default `'learned'`
   * (ViT, BEiT, SimMIM); MAE uses the fixed `'sincos'` table (stored as a
   * non-trainable weight, zero row for the class token).
   */
  posEmbed?: PosEmbedKind;
  /** Stochastic depth: block `i` uses `dropPathRate * i / (depth - 1)` (timm's linear decay). Default 0. */
  dropPathRate?: number;
  /**
   * A relative position bias of its own in every block
   * (`blocks.N.attn.relative_position_bias_table`; BEiT's `use_rel_pos_bias`,
   * used by BEiT and SimMIM fine-tuning). Needs the class token. Default
   * `false`.
   */
  useRelPosBias?: boolean;
  /**
   * One relative position bias shared by every block
   * (`rel_pos_bias.relative_position_bias_table`, computed once per forward
   * pass; BEiT's `use_shared_rel_pos_bias`, used by the released BEiT and
   * SimMIM pretraining, usually with `posEmbed: 'none'`). Needs the class
   * token. Default `false`.
   */
  useSharedRelPosBias?: boolean;
}

/** Options of the forward methods of {@link VisionTransformer}. */
export interface VitForwardOptions {
  /** Collect each block's attention probabilities. Default false. */
  returnAttention?: boolean;
  /** Training mode (drop path). Default false. */
  training?: boolean;
  /** Generator for drop path in this call, instead of the blocks' own ones. */
  rng?: Rng;
}

/** Output of {@link VisionTransformer.forwardFeatures} and {@link VisionTransformer.forwardTokens}. */
export interface VitFeatures {
  /** Normalised tokens `[B, T, D]` (`T = 1 + N` with the class token). */
  tokens: tf.Tensor3D;
  /** Per block `[B, heads, T, T]`, when asked for. */
  attentions?: tf.Tensor4D[];
}

/** The config with every default filled in and the image/grid size as `[height, width]`. */
export type ResolvedVitConfig = Required<Omit<VisionTransformerConfig, 'name' | 'imgSize'>> & { imgSize: [number, number] };

/**
 * The Vision Transformer encoder (Dosovitskiy et al., 2021; timm
 * `VisionTransformer` without its head): patch embedding, optional class
 * token, absolute position table, pre-norm blocks, final LayerNorm.
 *
 * With BEiT's relative position bias (Bao et al. 2021; `useRelPosBias`: one
 * table per block, `useSharedRelPosBias`: one table for all blocks), each
 * block adds a learned per-head bias for every 2-D patch offset to its
 * attention logits; it may replace the absolute table (`posEmbed: 'none'`).
 *
 * Weights (timm names): `cls_token` `[1, 1, D]`, `pos_embed` `[1, P + N, D]`,
 * `patch_embed.proj.*`, `rel_pos_bias.relative_position_bias_table`,
 * `blocks.<i>.*` (`blocks.<i>.attn.relative_position_bias_table`), `norm.*`. Init as timm/MAE:
 * `trunc_normal(0.02)` for the class token and a learned table, xavier-uniform
 * for every Linear and the patch projection, LayerNorm ones/zeros.
 *
 * The stages are separate methods so a pretraining model can run the encoder
 * on a subset of tokens (MAE): {@link VisionTransformer.embed} (patch tokens
 * with position), then {@link VisionTransformer.prependClassToken} and
 * {@link VisionTransformer.forwardTokens} (blocks and norm).
 */
export class VisionTransformer extends Module {
  static readonly className = 'MimkitVisionTransformer';
  /** Resolved config. */
  readonly config: ResolvedVitConfig;
  /** Prefix tokens before the patch tokens (1 with a class token, else 0). */
  readonly numPrefixTokens: number;
  /** Patch grid `[rows, cols]`. */
  readonly gridSize: [number, number];
  /** Patches per image. */
  readonly numPatches: number;
  /** Patch projection (`patch_embed`). */
  readonly patchEmbed: PatchEmbed;
  /** `cls_token` `[1, 1, D]`, or null without class token. */
  readonly clsToken: Weight | null;
  /** `pos_embed` `[1, P + N, D]`, or null with `posEmbed: 'none'`. */
  readonly posEmbed: Weight | null;
  /** The shared relative position bias (`rel_pos_bias`) with `useSharedRelPosBias`, else null. */
  readonly relPosBias: RelativePositionBias | null;
  /** The transformer blocks (`blocks.<i>`). */
  readonly blocks: Block[];
  /** Final `norm`. */
  readonly norm: LayerNorm;
  /** Whether training steps recompute each block in the backward pass (config `checkpointing`). */
  checkpointing: boolean;

  constructor(config: VisionTransformerConfig = {}) {
    super({ name: config.name, seed: config.seed });
    const c: ResolvedVitConfig = {
      imgSize: toPair('imgSize', 'VisionTransformer', config.imgSize ?? 224),
      patchSize: config.patchSize ?? 16,
      inChans: config.inChans ?? 3,
      embedDim: config.embedDim ?? 768,
      depth: config.depth ?? 12,
      numHeads: config.numHeads ?? 12,
      mlpRatio: config.mlpRatio ?? 4,
      qkvBias: config.qkvBias ?? 'qkv',
      initValues: config.initValues ?? null,
      layerScaleNaming: config.layerScaleNaming ?? 'timm',
      classToken: config.classToken ?? true,
      posEmbed: config.posEmbed ?? 'learned',
      dropPathRate: config.dropPathRate ?? 0,
      normEps: config.normEps ?? 1e-6,
      useRelPosBias: config.useRelPosBias ?? false,
      useSharedRelPosBias: config.useSharedRelPosBias ?? false,
      checkpointing: config.checkpointing ?? false,
      seed: config.seed ?? 0,
    };
    if (!Number.isInteger(c.depth) || c.depth < 0) {
      throw new Error(`VisionTransformer: depth must be a non-negative integer, got ${c.depth}`);
    }
    if (!Number.isInteger(c.embedDim) || c.embedDim <= 0) {
      throw new Error(`VisionTransformer: embedDim must be a positive integer, got ${c.embedDim}`);
    }
    if (!Number.isInteger(c.numHeads) || c.numHeads <= 0 || c.embedDim % c.numHeads !== 0) {
      throw new Error(`VisionTransformer: embedDim ${c.embedDim} is not divisible by numHeads ${c.numHeads}`);
    }
    if (!(c.dropPathRate >= 0 && c.dropPathRate <= 1)) {
      throw new Error(`VisionTransformer: dropPathRate must be in [0, 1], got ${c.dropPathRate}`);
    }
    if (c.posEmbed !== 'learned' && c.posEmbed !== 'sincos' && c.posEmbed !== 'none') {
      throw new Error(`VisionTransformer: posEmbed must be 'learned', 'sincos' or 'none', got '${String(c.posEmbed)}'`);
    }
    if (c.posEmbed === 'sincos' && c.embedDim % 4 !== 0) {
      throw new Error(`VisionTransformer: embedDim ${c.embedDim} must be a multiple of 4 for posEmbed 'sincos'`);
    }
    for (const k of ['useRelPosBias', 'useSharedRelPosBias'] as const) {
      if (typeof c[k] !== 'boolean') throw new Error(`VisionTransformer: ${k} must be a boolean, got ${String(c[k])}`);
      if (c[k] && !c.classToken) {
        throw new Error(`VisionTransformer: ${k} needs the class token (BEiT's table has class-token entries), but classToken is false`);
      }
    }
    this.config = c;
    this.checkpointing = c.checkpointing;
    this.numPrefixTokens = c.classToken ? 1 : 0;
    this.patchEmbed = this.addModule(
      'patch_embed',
      new PatchEmbed({
        imgSize: c.imgSize,
        patchSize: c.patchSize,
        inChans: c.inChans,
        embedDim: c.embedDim,
        seed: this.childSeed('patch_embed'),
      }),
    );
    this.gridSize = this.patchEmbed.gridSize;
    this.numPatches = this.patchEmbed.numPatches;
    this.clsToken = c.classToken
      ? this.addParam('cls_token', [1, 1, c.embedDim], { kind: 'truncNormal', std: 0.02 })
      : null;
    const pe = posEmbedInit(c.posEmbed, c.embedDim, this.gridSize, this.numPrefixTokens);
    this.posEmbed = pe
      ? this.addParam('pos_embed', [1, this.numPrefixTokens + this.numPatches, c.embedDim], pe.init, {
          trainable: pe.trainable,
        })
      : null;
    this.relPosBias = c.useSharedRelPosBias
      ? this.addModule(
          'rel_pos_bias',
          new RelativePositionBias({ windowSize: this.gridSize, numHeads: c.numHeads, seed: this.childSeed('rel_pos_bias') }),
        )
      : null;
    this.blocks = [];
    for (let i = 0; i < c.depth; i++) {
      const rate = c.depth > 1 ? (c.dropPathRate * i) / (c.depth - 1) : 0;
      this.blocks.push(
        this.addModule(
          `blocks.${i}`,
          new Block({
            dim: c.embedDim,
            numHeads: c.numHeads,
            mlpRatio: c.mlpRatio,
            qkvBias: c.qkvBias,
            initValues: c.initValues,
            layerScaleNaming: c.layerScaleNaming,
            dropPath: rate,
            normEps: c.normEps,
            relPosBias: c.useRelPosBias ? this.gridSize : null,
            seed: this.childSeed(`blocks.${i}`),
          }),
        ),
      );
    }
    this.norm = this.addModule('norm', new LayerNorm({ dim: c.embedDim, eps: c.normEps }));
  }

  /** Patch tokens without position: `imgs [B, H, W, C]` -> `[B, N, D]`. */
  patchTokens(imgs: tf.Tensor): tf.Tensor3D {
    return this.patchEmbed.forward(imgs);
  }

  /**
   * Adds the patch rows of the position table (`pos_embed[:, P:]`) to a full
   * grid of patch tokens `[B, N, D]` (identity with `posEmbed: 'none'`).
   */
  addPosEmbed(tokens: tf.Tensor): tf.Tensor3D {
    const D = this.config.embedDim;
    if (tokens.rank !== 3 || tokens.shape[1] !== this.numPatches || tokens.shape[2] !== D) {
      throw new Error(
        `VisionTransformer.addPosEmbed: tokens must be [B, numPatches=${this.numPatches}, embedDim=${D}], got shape [${tokens.shape}]`,
      );
    }
    if (!this.posEmbed) return tokens as tf.Tensor3D;
    const pos = this.posEmbed;
    return tf.tidy(() => tf.add(tokens, tf.slice(pos.read(), [0, this.numPrefixTokens, 0], [1, this.numPatches, D])) as tf.Tensor3D);
  }

  /** Patch embedding plus position: `imgs [B, H, W, C]` -> `[B, N, D]` (no class token), MAE's first step. */
  embed(imgs: tf.Tensor): tf.Tensor3D {
    return tf.tidy(() => this.addPosEmbed(this.patchTokens(imgs)));
  }

  /**
   * Prepends `cls_token + pos_embed[:, 0]` to tokens `[B, n, D]` (any `n`, e.g.
   * MAE's visible tokens) -> `[B, 1 + n, D]`; identity without class token.
   */
  prependClassToken(tokens: tf.Tensor): tf.Tensor3D {
    const D = this.config.embedDim;
    if (tokens.rank !== 3 || tokens.shape[2] !== D) {
      throw new Error(
        `VisionTransformer.prependClassToken: tokens must be [B, n, embedDim=${D}], got shape [${tokens.shape}]`,
      );
    }
    const cls = this.clsToken;
    if (!cls) return tokens as tf.Tensor3D;
    return tf.tidy(() => {
      let c = cls.read();
      if (this.posEmbed) c = tf.add(c, tf.slice(this.posEmbed.read(), [0, 0, 0], [1, 1, D]));
      const b = tokens.shape[0]!;
      return tf.concat([tf.tile(c, [b, 1, 1]), tokens], 1) as tf.Tensor3D;
    });
  }

  /**
   * Runs the blocks and the final norm on given tokens `[B, T, D]` (prefix
   * tokens included, position already added). With a relative position bias
   * the tokens must be the whole image (`T = 1 + numPatches`, class token
   * first); the shared bias is computed once here and added in every block.
   */
  forwardTokens(tokens: tf.Tensor, options: VitForwardOptions = {}): VitFeatures {
    const D = this.config.embedDim;
    if (tokens.rank !== 3 || tokens.shape[2] !== D) {
      throw new Error(
        `VisionTransformer.forwardTokens: tokens must be [B, T, embedDim=${D}], got shape [${tokens.shape}]`,
      );
    }
    const { useRelPosBias, useSharedRelPosBias } = this.config;
    const T = this.numPrefixTokens + this.numPatches;
    if ((useRelPosBias || useSharedRelPosBias) && tokens.shape[1] !== T) {
      throw new Error(
        `VisionTransformer.forwardTokens: got ${tokens.shape[1]} tokens, but the relative position bias needs the class token ` +
          `and all ${this.numPatches} patches of the ${this.gridSize[0]}x${this.gridSize[1]} grid (T = ${T}); it has no entries for a subset of patches`,
      );
    }
    const r = tf.tidy(() => {
      let x = tokens as tf.Tensor;
      const attentions: tf.Tensor[] = [];
      const shared = this.relPosBias ? this.relPosBias.forward() : undefined;
      for (const blk of this.blocks) {
        const o = runBlock(blk, x, {
          training: options.training,
          returnAttention: options.returnAttention,
          rng: options.rng,
          relPosBias: shared,
        }, this.checkpointing);
        x = o.out;
        if (o.attn) attentions.push(o.attn);
      }
      return { tokens: this.norm.forward(x), attentions };
    });
    return {
      tokens: r.tokens as tf.Tensor3D,
      ...(options.returnAttention ? { attentions: r.attentions as tf.Tensor4D[] } : {}),
    };
  }

  /** The whole encoder: `imgs [B, H, W, C]` -> normalised tokens `[B, P + N, D]` (and attentions). */
  forwardFeatures(imgs: tf.Tensor, options: VitForwardOptions = {}): VitFeatures {
    // Validate the image before allocating anything.
    if (imgs.rank !== 4) {
      throw new Error(`VisionTransformer: imgs must have rank 4 [B, H, W, C] (NHWC), got shape [${imgs.shape}]`);
    }
    const tokens = tf.tidy(() => this.prependClassToken(this.embed(imgs)));
    try {
      return this.forwardTokens(tokens, options);
    } finally {
      tokens.dispose();
    }
  }

  /** `imgs [B, H, W, C]` -> `[B, P + N, D]` (tokens of {@link VisionTransformer.forwardFeatures}). */
  forward(imgs: tf.Tensor, options: VitForwardOptions = {}): tf.Tensor3D {
    return this.forwardFeatures(imgs, { ...options, returnAttention: false }).tokens;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: { training?: boolean } = {}): tf.Tensor {
    return this.forward(Array.isArray(inputs) ? inputs[0]! : inputs, { training: kwargs.training });
  }

  override computeOutputShape(shape: (number | null)[]): (number | null)[] {
    return [shape[0] ?? null, this.numPrefixTokens + this.numPatches, this.config.embedDim];
  }

  override getConfig(): serialization.ConfigDict {
    return { ...super.getConfig(), ...this.config };
  }
}
serialization.registerClass(VisionTransformer);

/** ViT-Tiny/16 at 224 px (DeiT-Ti): D 192, depth 12, 3 heads. */
export const vitTiny: Readonly<VisionTransformerConfig> = Object.freeze({
  imgSize: 224, patchSize: 16, embedDim: 192, depth: 12, numHeads: 3, mlpRatio: 4,
});
/** ViT-Small/16 at 224 px (DeiT-S): D 384, depth 12, 6 heads. */
export const vitSmall: Readonly<VisionTransformerConfig> = Object.freeze({
  imgSize: 224, patchSize: 16, embedDim: 384, depth: 12, numHeads: 6, mlpRatio: 4,
});
/** ViT-Base/16 at 224 px (ViT paper): D 768, depth 12, 12 heads. */
export const vitBase: Readonly<VisionTransformerConfig> = Object.freeze({
  imgSize: 224, patchSize: 16, embedDim: 768, depth: 12, numHeads: 12, mlpRatio: 4,
});
/** ViT-Large/16 at 224 px (ViT paper): D 1024, depth 24, 16 heads. */
export const vitLarge: Readonly<VisionTransformerConfig> = Object.freeze({
  imgSize: 224, patchSize: 16, embedDim: 1024, depth: 24, numHeads: 16, mlpRatio: 4,
});
/**
 * ViT-Huge at 224 px (ViT paper): D 1280, depth 32, 16 heads, patch 16 here
 * for uniformity; the published ViT-H and MAE ViT-H use patch 14
 * (`{ ...vitHuge, patchSize: 14 }`).
 */
export const vitHuge: Readonly<VisionTransformerConfig> = Object.freeze({
  imgSize: 224, patchSize: 16, embedDim: 1280, depth: 32, numHeads: 16, mlpRatio: 4,
});
