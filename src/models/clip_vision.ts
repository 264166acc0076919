import * as tf from '@tensorflow/tfjs-core';
import { serialization } from '@tensorflow/tfjs-core';
import { AttentionalPooler } from '../layers/attentional_pooler.js';
import { Block } from '../layers/block.js';
import { resolveCheckpointing, runBlock, type Checkpointing } from '../layers/checkpoint.js';
import { LayerNorm } from '../layers/layer_norm.js';
import type { MlpActivation } from '../layers/mlp.js';
import { Module, type Weight } from '../layers/module.js';
import { PatchEmbed, toPair } from '../layers/patch_embed.js';
import { RandomMasker } from '../masking/random_masker.js';
import type { RandomSource } from '../masking/common.js';
import { linear } from '../ops/matmul.js';
import { gatherTokens } from '../ops/permute.js';
import { optionalOneOf } from '../utils/config.js';
import { checkConfigObject } from '../utils/config.js';
import { hostValues } from '../utils/host_values.js';

/** Config of {@link ClipVisionTransformer}. Defaults: open_clip `CLIPVisionCfg` (ViT-B/16 at 224 px, output 512). */
export interface ClipVisionConfig {
  /** Image size, a number (square) or `[height, width]`. Default 224. */
  imageSize?: number | [number, number];
  /** Patch size `p`. Default 16. */
  patchSize?: number;
  /** Image channels. Default 3 (open_clip's `conv1` always takes 3). */
  inChans?: number;
  /** Token width `W`. Default 768. */
  width?: number;
  /** Number of residual blocks. Default 12. */
  layers?: number;
  /** Width of one head; `heads = width / headWidth`. Default 64 (open_clip `head_width`). */
  headWidth?: number;
  /** MLP hidden width `int(W * mlpRatio)`. Default 4. */
  mlpRatio?: number;
  /** Output width `E` (open_clip `output_dim` = CLIP `embed_dim`). Default 512. */
  embedDim?: number;
  /** MLP activation. Default `'gelu'`; `'quickGelu'` for OpenAI weights. */
  act?: MlpActivation;
  /** Layer-scale init value (`ls_1.gamma`, `ls_2.gamma`), or `null` for none. Default `null`. */
  lsInitValue?: number | null;
  /**
   * Attentional pooling (open_clip `attentional_pool=True`, CoCa): an
   * `attn_pool` of `attnPoolerQueries` queries over the tokens replaces the
   * class-token readout; `ln_post` is then over `E`. Default `false`.
   */
  attentionalPool?: boolean;
  /** Queries of the attentional pooler. Default 256. */
  attnPoolerQueries?: number;
  /** Heads of the attentional pooler. Default 8. */
  attnPoolerHeads?: number;
  /**
   * FLIP / open_clip patch dropout: the fraction of patch tokens dropped in
   * training (class token always kept; `K = max(1, int(N (1 - p)))` kept).
   * Default 0 (off).
   */
  patchDropout?: number;
  /** Skip `ln_pre` (open_clip `no_ln_pre`). Default `false`. */
  noLnPre?: boolean;
  /** Readout: `'tok'` (class token, or first query) or `'avg'` (mean of the other tokens). Default `'tok'`. */
  poolType?: 'tok' | 'avg';
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

/** Resolved config of {@link ClipVisionTransformer}. */
export type ResolvedClipVisionConfig = Required<Omit<ClipVisionConfig, 'name' | 'imageSize'>> & { imageSize: [number, number] };

/** Options of {@link ClipVisionTransformer.forward}. */
export interface ClipVisionForwardOptions {
  /**
   * Training mode: with `patchDropout > 0` (or `maskRatio`), a random subset
   * of the patches is kept (FLIP). Default false (all patches, as open_clip's
   * `PatchDropout` in eval).
   */
  training?: boolean;
  /** Overrides config `patchDropout` for this call (0 = all patches, FLIP's unmasked tuning). */
  maskRatio?: number;
  /**
   * The patches to keep, int32 `[B, K]` (0-based among the `N` patches, any
   * order): used instead of random dropout, in training or not (what the
   * `clip_model` conformance files give).
   */
  patchKeepIndices?: tf.Tensor;
  /** Where the random dropout gets its noise: a seed or an `Rng` the loop advances. Default: a seed drawn from `Math.random`. */
  random?: RandomSource;
}

/**
 * The image tower of CLIP (Radford et al. 2021) in open_clip's form
 * (`open_clip.transformer.VisionTransformer`): a bias-free patch convolution
 * `conv1`, a class embedding and learned position table, optional FLIP patch
 * dropout (Li et al. 2023, "Scaling Language-Image Pre-training via
 * Masking"), `ln_pre`, pre-norm residual blocks, then `ln_post` on the class
 * token (or attentional pooling) and the projection `x @ proj`.
 *
 * Weights (open_clip names under `visual.` in a CLIP; `conv1.proj.weight`
 * and the blocks' timm keys are what the `openClip` converter maps from
 * `conv1.weight` and open_clip's block keys): `conv1.proj.weight`,
 * `class_embedding` `[W]`, `positional_embedding` `[1 + N, W]`, `ln_pre`,
 * `transformer.resblocks.<i>.*`, `attn_pool.*`, `ln_post`, `proj` `[W, E]`
 * (`[E, E]` with attentional pooling). Init as open_clip: class and position
 * embedding and `proj` `N(0, W^-0.5)`; blocks the library's `Block` default
 * (open_clip leaves them at PyTorch's defaults).
 *
 * Shapes: `imgs: [B, H, W, C]` (NHWC) -> `[B, E]`.
 */
export class ClipVisionTransformer extends Module {
  static readonly className = 'MimkitClipVisionTransformer';
  /** Resolved config. */
  readonly config: ResolvedClipVisionConfig;
  /** Heads per block (`width / headWidth`). */
  readonly heads: number;
  /** Patches per image `N`. */
  readonly numPatches: number;
  /** `conv1` (no bias). */
  readonly conv1: PatchEmbed;
  /** `class_embedding` `[W]`. */
  readonly classEmbedding: Weight;
  /** `positional_embedding` `[1 + N, W]`. */
  readonly positionalEmbedding: Weight;
  /** `ln_pre`, or null with `noLnPre`. */
  readonly lnPre: LayerNorm | null;
  /** `transformer.resblocks.<i>`. */
  readonly blocks: Block[];
  /** `attn_pool`, with `attentionalPool`. */
  readonly attnPool: AttentionalPooler | null;
  /** `ln_post`. */
  readonly lnPost: LayerNorm;
  /** `proj`. */
  readonly proj: Weight;
  /** Whether training steps recompute each block in the backward pass (config `checkpointing`; mutable). */
  checkpointing: Checkpointing;

  constructor(config: ClipVisionConfig = {}) {
    super({ name: checkConfigObject('ClipVisionTransformer', config).name, seed: config.seed });
    const c: ResolvedClipVisionConfig = {
      imageSize: toPair('imageSize', 'ClipVisionTransformer', config.imageSize ?? 224),
      patchSize: config.patchSize ?? 16,
      inChans: config.inChans ?? 3,
      width: config.width ?? 768,
      layers: config.layers ?? 12,
      headWidth: config.headWidth ?? 64,
      mlpRatio: config.mlpRatio ?? 4,
      embedDim: config.embedDim ?? 512,
      act: config.act ?? 'gelu',
      lsInitValue: config.lsInitValue ?? null,
      attentionalPool: config.attentionalPool ?? false,
      attnPoolerQueries: config.attnPoolerQueries ?? 256,
      attnPoolerHeads: config.attnPoolerHeads ?? 8,
      patchDropout: config.patchDropout ?? 0,
      noLnPre: config.noLnPre ?? false,
      poolType: config.poolType ?? 'tok',
      normEps: config.normEps ?? 1e-5,
      checkpointing: optionalOneOf('ClipVisionTransformer', 'checkpointing', config.checkpointing, 'auto' as Checkpointing, [true, false, 'auto']),
      seed: config.seed ?? 0,
    };
    for (const k of ['width', 'headWidth', 'embedDim'] as const) {
      if (!Number.isInteger(c[k]) || c[k] <= 0) throw new Error(`ClipVisionTransformer: ${k} must be a positive integer, got ${c[k]}`);
    }
    if (!Number.isInteger(c.layers) || c.layers < 0) {
      throw new Error(`ClipVisionTransformer: layers must be a non-negative integer, got ${c.layers}`);
    }
    if (c.width % c.headWidth !== 0) {
      throw new Error(`ClipVisionTransformer: width ${c.width} is not divisible by headWidth ${c.headWidth}`);
    }
    if (!(c.patchDropout >= 0 && c.patchDropout < 1)) {
      throw new Error(`ClipVisionTransformer: patchDropout must be in [0, 1), got ${c.patchDropout}`);
    }
    if (c.poolType !== 'tok' && c.poolType !== 'avg') {
      throw new Error(`ClipVisionTransformer: poolType must be 'tok' or 'avg', got '${String(c.poolType)}'`);
    }
    this.config = c;
    this.checkpointing = c.checkpointing;
    this.heads = c.width / c.headWidth;
    const W = c.width;
    this.conv1 = this.addModule(
      'conv1',
      new PatchEmbed({ imgSize: c.imageSize, patchSize: c.patchSize, inChans: c.inChans, embedDim: W, bias: false, seed: this.childSeed('conv1') }),
    );
    this.numPatches = this.conv1.numPatches;
    const scale = W ** -0.5;
    this.classEmbedding = this.addParam('class_embedding', [W], { kind: 'normal', std: scale });
    this.positionalEmbedding = this.addParam('positional_embedding', [1 + this.numPatches, W], { kind: 'normal', std: scale });
    this.lnPre = c.noLnPre ? null : this.addModule('ln_pre', new LayerNorm({ dim: W, eps: c.normEps }));
    this.blocks = [];
    for (let i = 0; i < c.layers; i++) {
      this.blocks.push(
        this.addModule(
          `transformer.resblocks.${i}`,
          new Block({
            dim: W,
            numHeads: this.heads,
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
    this.attnPool = c.attentionalPool
      ? this.addModule(
          'attn_pool',
          new AttentionalPooler({
            dim: c.embedDim,
            contextDim: W,
            numHeads: c.attnPoolerHeads,
            numQueries: c.attnPoolerQueries,
            normEps: c.normEps,
            seed: this.childSeed('attn_pool'),
          }),
        )
      : null;
    const poolDim = c.attentionalPool ? c.embedDim : W;
    this.lnPost = this.addModule('ln_post', new LayerNorm({ dim: poolDim, eps: c.normEps }));
    this.proj = this.addParam('proj', [poolDim, c.embedDim], { kind: 'normal', std: scale });
  }

  /** Output width `E`. */
  get outputDim(): number {
    return this.config.embedDim;
  }

  /** Number of patches kept by patch dropout at ratio `p`: `max(1, int(N (1 - p)))` (open_clip `PatchDropout`). */
  numKept(p: number = this.config.patchDropout): number {
    return Math.max(1, Math.floor(this.numPatches * (1 - p)));
  }

  /**
   * Throws, before any tensor work, unless `imgs` is `[B, H, W, C]` of this
   * tower's image size and channels and the options fit it
   * (`patchKeepIndices` int32 `[B, K]` with ids in `[0, N)`, `maskRatio` in
   * [0, 1)); returns the drop ratio in effect for this call.
   */
  checkInputs(imgs: tf.Tensor, options: ClipVisionForwardOptions = {}): number {
    const { imageSize, inChans } = this.config;
    if (!(imgs instanceof tf.Tensor) || imgs.rank !== 4 || imgs.shape[1] !== imageSize[0] || imgs.shape[2] !== imageSize[1] || imgs.shape[3] !== inChans) {
      throw new Error(
        `ClipVisionTransformer: imgs must be [B, ${imageSize[0]}, ${imageSize[1]}, ${inChans}] (NHWC), got ` +
          `${imgs instanceof tf.Tensor ? `shape [${imgs.shape}]` : String(imgs)}`,
      );
    }
    const b = imgs.shape[0]!;
    const k = options.patchKeepIndices;
    if (k !== undefined) {
      if (!(k instanceof tf.Tensor) || k.rank !== 2 || k.dtype !== 'int32' || k.shape[0] !== b || k.shape[1]! < 1 || k.shape[1]! > this.numPatches) {
        throw new Error(
          `ClipVisionTransformer: options.patchKeepIndices must be int32 [B=${b}, K] with 1 <= K <= numPatches=${this.numPatches}, got ` +
            `${k instanceof tf.Tensor ? `${k.dtype} shape [${k.shape}]` : String(k)}`,
        );
      }
      const v = hostValues(k);
      for (let i = 0; i < v.length; i++) {
        if (v[i]! < 0 || v[i]! >= this.numPatches) {
          throw new Error(`ClipVisionTransformer: options.patchKeepIndices holds ${v[i]}, outside [0, numPatches=${this.numPatches})`);
        }
      }
      return 0;
    }
    const p = options.maskRatio ?? this.config.patchDropout;
    if (!(typeof p === 'number' && p >= 0 && p < 1)) throw new Error(`ClipVisionTransformer: options.maskRatio must be in [0, 1), got ${p}`);
    return options.training ? p : 0;
  }

  /**
   * Tokens before `ln_pre`: `imgs [B, H, W, C]` -> `[B, 1 + N, W]` (class
   * token first, position embedding added).
   */
  embed(imgs: tf.Tensor): tf.Tensor3D {
    return tf.tidy(() => {
      const patches = this.conv1.forward(imgs);
      const b = patches.shape[0];
      const W = this.config.width;
      const cls = tf.tile(tf.reshape(this.classEmbedding.read(), [1, 1, W]), [b, 1, 1]);
      return tf.add(tf.concat([cls, patches], 1), this.positionalEmbedding.read()) as tf.Tensor3D;
    });
  }

  /** Keeps the class token and the patch tokens `keep [B, K]` (0-based among the patches, in that order): `[B, 1 + K, W]`. */
  keepPatches(tokens: tf.Tensor3D, keep: tf.Tensor2D): tf.Tensor3D {
    return tf.tidy(() => {
      const [b, t, w] = tokens.shape;
      const cls = tf.slice(tokens, [0, 0, 0], [b, 1, w]);
      const patches = tf.slice(tokens, [0, 1, 0], [b, t - 1, w]);
      return tf.concat([cls, gatherTokens(patches, keep)], 1) as tf.Tensor3D;
    });
  }

  /**
   * Image features `imgs [B, H, W, C]` -> `[B, E]` (not normalised), open_clip
   * `VisionTransformer.forward`; with patch dropout in training or given
   * `patchKeepIndices` (FLIP), the blocks see the class token and the kept
   * patches only.
   */
  forward(imgs: tf.Tensor, options: ClipVisionForwardOptions = {}): tf.Tensor2D {
    const p = this.checkInputs(imgs, options);
    const b = imgs.shape[0]!;
    let keep: tf.Tensor2D | null = (options.patchKeepIndices as tf.Tensor2D | undefined) ?? null;
    let owned = false;
    if (!keep && p > 0) {
      const masker = new RandomMasker({ maskRatio: p });
      const m = masker.mask(b, this.numPatches, options.random ?? Math.floor(Math.random() * 2 ** 31));
      keep = m.idsKeep;
      owned = true;
      tf.dispose([m.idsShuffle, m.idsRestore, m.mask]);
    }
    try {
      return tf.tidy(() => {
        let x: tf.Tensor3D = this.embed(imgs);
        if (keep) x = this.keepPatches(x, keep);
        if (this.lnPre) x = this.lnPre.forward(x) as tf.Tensor3D;
        const ckpt = resolveCheckpointing(this.checkpointing, this.blocks, x, options.training);
        for (const blk of this.blocks) x = runBlock(blk, x, { training: options.training }, ckpt).out;
        if (this.attnPool) x = this.attnPool.forward(x);
        x = this.lnPost.forward(x) as tf.Tensor3D;
        const [bb, t, w] = x.shape;
        const pooled =
          this.config.poolType === 'tok'
            ? tf.reshape(tf.slice(x, [0, 0, 0], [bb, 1, w]), [bb, w])
            : tf.mean(tf.slice(x, [0, 1, 0], [bb, t - 1, w]), 1);
        return linear(pooled, this.proj.read()) as tf.Tensor2D;
      });
    } finally {
      if (owned) keep!.dispose();
    }
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: { training?: boolean } = {}): tf.Tensor {
    return this.forward(Array.isArray(inputs) ? inputs[0]! : inputs, { training: kwargs.training });
  }

  override getConfig(): serialization.ConfigDict {
    return { ...super.getConfig(), ...this.config };
  }
}
serialization.registerClass(ClipVisionTransformer);
