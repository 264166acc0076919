import * as tf from '@tensorflow/tfjs-core';
import { serialization } from '@tensorflow/tfjs-core';
import { Block, type LayerScaleNaming } from '../layers/block.js';
import { resolveCheckpointing, runBlock, type Checkpointing } from '../layers/checkpoint.js';
import { RelativePositionBias } from '../layers/rel_pos_bias.js';
import type { QkvBias } from '../layers/attention.js';
import { LayerNorm } from '../layers/layer_norm.js';
import { Module, type Weight } from '../layers/module.js';
import { PatchEmbed, toPair } from '../layers/patch_embed.js';
import { posEmbedInit, type PosEmbedKind } from '../layers/pos_embed.js';
import { resamplePosTable, type InterpolationMode } from '../ops/resize.js';
import type { Rng } from '../utils/random.js';
import { checkVitBackboneConfig } from './vit_config_checks.js';
import { checkTensorArg } from '../utils/config.js';

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
   * Activation checkpointing of every block ({@link layers.checkpoint | checkpoint}): the
   * backward pass recomputes each block from its input instead of keeping
   * its intermediates, so a training step holds one `[B, T, D]` tensor per
   * block plus one block's intermediates, at the price of about a third
   * more compute. Gradients are unchanged. Not with drop path in training.
   * Mutable afterwards ({@link VisionTransformer.checkpointing}); MAE passes
   * it to its decoder blocks too. Default `'auto'`: on only for a forward
   * whose estimated training memory exceeds 1 GiB
   * ({@link layers.resolveCheckpointing | resolveCheckpointing}), e.g. an MAE
   * tiny-32 encoder seeing every patch at batch 64, so that it fits in
   * WASM's 4 GB heap; `true` or `false` to decide yourself.
   */
  checkpointing?: Checkpointing;
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
  /**
   * Accept images of any size divisible by the patch size (timm's
   * `dynamic_img_size`): the patch embedding takes the image's own grid, and
   * the position table is resized in-graph to that grid with
   * {@link VisionTransformerConfig.posEmbedResize} (differentiable: the
   * gradient reaches the stored table). Not available with a relative
   * position bias, whose tables are tied to one grid. Default `false`
   * (timm's `strict_img_size`: only `imgSize` is accepted).
   */
  dynamicImgSize?: boolean;
  /**
   * How the position table is resized for another grid when
   * `dynamicImgSize` is on. Default `{ mode: 'bicubic', antialias: true }`:
   * timm's dynamic path (`resample_abs_pos_embed`'s defaults). DINO's
   * `interpolate_pos_encoding` is `{ mode: 'bicubic', antialias: false,
   * scaleOffset: 0.1 }`.
   */
  posEmbedResize?: PosEmbedResize;
}

/**
 * How {@link VisionTransformer} resizes its position table for another grid
 * (see `interpolationMatrix` in `ops/resize` for the exact weights).
 */
export interface PosEmbedResize {
  /** Interpolation. Default `'bicubic'` (timm, DINO). */
  mode?: InterpolationMode;
  /** PyTorch's `antialias`. Default `true` (timm's `resample_abs_pos_embed`); DINO: `false`. */
  antialias?: boolean;
  /**
   * When set, resize by `scale_factor = (g + scaleOffset) / n` per axis (new
   * grid `g`, stored grid `n`) instead of to the size `g`: DINO's
   * `interpolate_pos_encoding` uses `0.1` ("to avoid floating point error").
   * Default: unset (resize to the size, as timm).
   */
  scaleOffset?: number;
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
export type VitFeatures = {
  /** Normalised tokens `[B, T, D]` (`T = 1 + N` with the class token). */
  tokens: tf.Tensor3D;
  /** Per block `[B, heads, T, T]`, when asked for. */
  attentions?: tf.Tensor4D[];
}

/** Options of {@link VisionTransformer.forwardIntermediates}. */
export interface VitIntermediatesOptions {
  /** A number `n`: the last `n` blocks; an array: those blocks (negative from the end). Default every block. */
  indices?: number | number[];
  /** Pass each intermediate through the final `norm`. Default false (timm). */
  norm?: boolean;
  /** Training mode (drop path). Default false. */
  training?: boolean;
  /** Generator for drop path in this call. */
  rng?: Rng;
}

/**
 * Output of {@link VisionTransformer.forwardIntermediates} (a type alias, so
 * `tf.tidy` accepts it): `tokens` `[B, P + N, D]` after the final norm, and
 * `intermediates`, the hidden states `[B, P + N, D]` after the requested
 * blocks, in block order.
 */
export type VitIntermediates = { tokens: tf.Tensor3D; intermediates: tf.Tensor3D[] };

/** The config with every default filled in and the image/grid size as `[height, width]`. */
export type ResolvedVitConfig = Required<Omit<VisionTransformerConfig, 'name' | 'imgSize' | 'posEmbedResize'>> & {
  imgSize: [number, number];
  posEmbedResize: { mode: InterpolationMode; antialias: boolean; scaleOffset?: number };
};

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
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { VisionTransformer, vitSmall } from 'mimkit';
 *
 * const vit = new VisionTransformer({ ...vitSmall, imgSize: 64, patchSize: 8, seed: 0 });
 * const { tokens } = vit.forwardFeatures(tf.zeros([2, 64, 64, 3])); // [2, 1 + 64, 384]
 * const cls = tf.slice(tokens, [0, 0, 0], [2, 1, 384]); // class-token features
 * ```
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
  checkpointing: Checkpointing;

  constructor(config: VisionTransformerConfig = {}) {
    checkVitBackboneConfig('VisionTransformer', config, { embedDim: 768, depth: 12, numHeads: 12, qkvBias: 'qkv' });
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
      dynamicImgSize: config.dynamicImgSize ?? false,
      posEmbedResize: {
        mode: config.posEmbedResize?.mode ?? 'bicubic',
        antialias: config.posEmbedResize?.antialias ?? true,
        ...(config.posEmbedResize?.scaleOffset !== undefined ? { scaleOffset: config.posEmbedResize.scaleOffset } : {}),
      },
      checkpointing: config.checkpointing ?? 'auto',
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
    if (c.posEmbed !== 'learned' && c.posEmbed !== 'sincos' && c.posEmbed !== 'sincosRowFirst' && c.posEmbed !== 'none') {
      throw new Error(`VisionTransformer: posEmbed must be 'learned', 'sincos', 'sincosRowFirst' or 'none', got '${String(c.posEmbed)}'`);
    }
    if ((c.posEmbed === 'sincos' || c.posEmbed === 'sincosRowFirst') && c.embedDim % 4 !== 0) {
      throw new Error(`VisionTransformer: embedDim ${c.embedDim} must be a multiple of 4 for posEmbed 'sincos'`);
    }
    for (const k of ['useRelPosBias', 'useSharedRelPosBias'] as const) {
      if (typeof c[k] !== 'boolean') throw new Error(`VisionTransformer: ${k} must be a boolean, got ${String(c[k])}`);
      if (c[k] && !c.classToken) {
        throw new Error(`VisionTransformer: ${k} needs the class token (BEiT's table has class-token entries), but classToken is false`);
      }
    }
    if (typeof c.dynamicImgSize !== 'boolean') {
      throw new Error(`VisionTransformer: dynamicImgSize must be a boolean, got ${String(c.dynamicImgSize)}`);
    }
    if (c.dynamicImgSize && (c.useRelPosBias || c.useSharedRelPosBias)) {
      throw new Error(
        'VisionTransformer: dynamicImgSize is not available with a relative position bias (useRelPosBias / useSharedRelPosBias): ' +
          'its tables are tied to one grid; build the model at the new imgSize instead',
      );
    }
    const rs = c.posEmbedResize;
    if (rs.mode !== 'bicubic' && rs.mode !== 'bilinear' && rs.mode !== 'nearest') {
      throw new Error(`VisionTransformer: posEmbedResize.mode must be 'bicubic', 'bilinear' or 'nearest', got '${String(rs.mode)}'`);
    }
    if (typeof rs.antialias !== 'boolean' || (rs.mode === 'nearest' && rs.antialias)) {
      throw new Error(`VisionTransformer: posEmbedResize.antialias must be a boolean (false with mode 'nearest'), got ${String(rs.antialias)}`);
    }
    if (rs.scaleOffset !== undefined && !(Number.isFinite(rs.scaleOffset) && rs.scaleOffset >= 0 && rs.scaleOffset < 1)) {
      throw new Error(`VisionTransformer: posEmbedResize.scaleOffset must be a number in [0, 1), got ${String(rs.scaleOffset)}`);
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
        strictImgSize: !c.dynamicImgSize,
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

  /** The patch grid `[rows, cols]` of an image `[B, H, W, C]` (not validated). */
  gridOf(imgs: tf.Tensor): [number, number] {
    const p = this.config.patchSize;
    return [Math.floor(imgs.shape[1]! / p), Math.floor(imgs.shape[2]! / p)];
  }

  /**
   * The position table `[1, P + rows * cols, D]` for a patch grid: the stored
   * `pos_embed` at the model's own grid, otherwise (with `dynamicImgSize`)
   * the table resized in-graph with `posEmbedResize` (prefix rows kept), so
   * gradients reach `pos_embed`. Throws for another grid without
   * `dynamicImgSize`, and with `posEmbed: 'none'`. Use inside `tf.tidy`: the
   * result may be the stored weight's own tensor.
   */
  posEmbedFor(gridSize: [number, number]): tf.Tensor3D {
    if (!this.posEmbed) throw new Error("VisionTransformer.posEmbedFor: this model has no position table (posEmbed: 'none')");
    const [gh, gw] = gridSize;
    const [nh, nw] = this.gridSize;
    if (gh === nh && gw === nw) return this.posEmbed.read() as tf.Tensor3D;
    if (!this.config.dynamicImgSize) {
      throw new Error(
        `VisionTransformer.posEmbedFor: grid ${gh}x${gw} differs from the model's ${nh}x${nw} grid and dynamicImgSize is false`,
      );
    }
    const { mode, antialias, scaleOffset } = this.config.posEmbedResize;
    const scaleFactor: [number, number] | undefined =
      scaleOffset === undefined ? undefined : [(gh + scaleOffset) / nh, (gw + scaleOffset) / nw];
    return resamplePosTable(this.posEmbed.read(), this.gridSize, gridSize, {
      mode,
      antialias,
      scaleFactor,
      numPrefixTokens: this.numPrefixTokens,
    }) as tf.Tensor3D;
  }

  /**
   * Adds the patch rows of the position table (`pos_embed[:, P:]`) to a full
   * grid of patch tokens `[B, N, D]` (identity with `posEmbed: 'none'`). `N`
   * is `numPatches`, or, with `dynamicImgSize`, `rows * cols` of the given
   * `gridSize` (the table is then resized, see {@link VisionTransformer.posEmbedFor}).
   */
  addPosEmbed(tokens: tf.Tensor, gridSize: [number, number] = this.gridSize): tf.Tensor3D {
    const D = this.config.embedDim;
    const n = gridSize[0] * gridSize[1];
    if (tokens.rank !== 3 || tokens.shape[1] !== n || tokens.shape[2] !== D) {
      throw new Error(
        `VisionTransformer.addPosEmbed: tokens must be [B, ${gridSize[0]}*${gridSize[1]}=${n} patches, embedDim=${D}], got shape [${tokens.shape}]`,
      );
    }
    if (!this.posEmbed) return tokens as tf.Tensor3D;
    if ((gridSize[0] !== this.gridSize[0] || gridSize[1] !== this.gridSize[1]) && !this.config.dynamicImgSize) {
      throw new Error(
        `VisionTransformer.addPosEmbed: grid ${gridSize[0]}x${gridSize[1]} differs from the model's ${this.gridSize[0]}x${this.gridSize[1]} grid and dynamicImgSize is false`,
      );
    }
    return tf.tidy(() => tf.add(tokens, tf.slice(this.posEmbedFor(gridSize), [0, this.numPrefixTokens, 0], [1, n, D])) as tf.Tensor3D);
  }

  /**
   * Patch embedding plus position: `imgs [B, H, W, C]` -> `[B, N, D]` (no
   * class token), MAE's first step. With `dynamicImgSize`, `H` and `W` may
   * be any multiples of the patch size (`N = (H/p)(W/p)`).
   */
  embed(imgs: tf.Tensor): tf.Tensor3D {
    return tf.tidy(() => this.addPosEmbed(this.patchTokens(imgs), this.gridOf(imgs)));
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
    const T = this.numPrefixTokens + this.numPatches; // dynamicImgSize excludes the relative bias
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
      const ckpt = resolveCheckpointing(this.checkpointing, this.blocks, x, options.training);
      for (const blk of this.blocks) {
        const o = runBlock(blk, x, {
          training: options.training,
          returnAttention: options.returnAttention,
          rng: options.rng,
          relPosBias: shared,
        }, ckpt);
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

  /**
   * The whole encoder: `imgs [B, H, W, C]` -> normalised tokens `[B, P + N, D]`
   * (and attentions). With `dynamicImgSize`, any image whose sides are
   * multiples of the patch size (`N = (H/p)(W/p)`).
   */
  forwardFeatures(imgs: tf.Tensor, options: VitForwardOptions = {}): VitFeatures {
    checkTensorArg('VisionTransformer.forwardFeatures', 'imgs', imgs, { rank: 4, what: '[B, H, W, C] images' });
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

  /**
   * The final tokens and the hidden states after chosen blocks (timm's
   * `forward_intermediates`): `imgs [B, H, W, C]` ->
   * `{ tokens: [B, P + N, D] (normalised), intermediates: [B, P + N, D][] }`,
   * one per requested block, in block order. `indices`: a number `n` takes
   * the last `n` blocks, an array takes those blocks (negative counts from
   * the end); default every block. Intermediates are the blocks' raw
   * outputs, or passed through the final `norm` with `norm: true` (timm's
   * default is false). Used by feature distillation (TinyMIM) and dense heads.
   */
  forwardIntermediates(imgs: tf.Tensor, options: VitIntermediatesOptions = {}): VitIntermediates {
    if (imgs.rank !== 4) {
      throw new Error(`VisionTransformer.forwardIntermediates: imgs must have rank 4 [B, H, W, C] (NHWC), got shape [${imgs.shape}]`);
    }
    const take = this.intermediateIndices(options.indices);
    const norm = options.norm ?? false;
    return tf.tidy(() => {
      let x: tf.Tensor = this.prependClassToken(this.embed(imgs));
      const shared = this.relPosBias ? this.relPosBias.forward() : undefined;
      const intermediates: tf.Tensor3D[] = [];
      this.blocks.forEach((blk, i) => {
        x = blk.forward(x, { training: options.training, rng: options.rng, relPosBias: shared }).out;
        if (take.has(i)) intermediates.push((norm ? this.norm.forward(x) : x) as tf.Tensor3D);
      });
      return { tokens: this.norm.forward(x) as tf.Tensor3D, intermediates };
    });
  }

  /** Block indices of {@link VisionTransformer.forwardIntermediates}, validated. */
  private intermediateIndices(indices: number | number[] | undefined): Set<number> {
    const depth = this.blocks.length;
    const fn = 'VisionTransformer.forwardIntermediates';
    if (indices === undefined) return new Set(this.blocks.map((_, i) => i));
    if (typeof indices === 'number') {
      if (!Number.isInteger(indices) || indices < 0 || indices > depth) {
        throw new Error(`${fn}: indices as a number takes the last n blocks, so it must be an integer in [0, depth=${depth}], got ${indices}`);
      }
      return new Set(Array.from({ length: indices }, (_, k) => depth - indices + k));
    }
    if (!Array.isArray(indices)) throw new Error(`${fn}: indices must be a number or an array of block indices, got ${String(indices)}`);
    const out = new Set<number>();
    for (const i of indices) {
      if (!Number.isInteger(i) || i < -depth || i >= depth) {
        throw new Error(`${fn}: indices must be block indices in [-${depth}, ${depth - 1}] (depth ${depth}), got ${JSON.stringify(indices)}`);
      }
      out.add(i < 0 ? depth + i : i);
    }
    return out;
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
