import * as tf from '@tensorflow/tfjs-core';
import { serialization } from '@tensorflow/tfjs-core';
import { PixelDecoder } from '../decoders/pixel_decoder.js';
import { initTensor, type Init } from '../layers/init.js';
import { LayerNorm } from '../layers/layer_norm.js';
import { Linear } from '../layers/linear.js';
import { Module, type Weight } from '../layers/module.js';
import { toPair } from '../layers/patch_embed.js';
import { patchify, unpatchify } from '../layers/patchify.js';
import { sincosPosEmbed2dData } from '../layers/pos_embed.js';
import { maskedMseLoss } from '../losses/masked_mse.js';
import { normalizedPixelTargets } from '../losses/normalized_pixels.js';
import { RandomMasker, type MaskNoise, type RandomMaskSource } from '../masking/random_masker.js';
import { gatherTokens } from '../ops/permute.js';
import { deriveSeed, Rng } from '../utils/random.js';
import { VisionTransformer, type VitBackboneConfig } from './vit.js';
import { checkVitBackboneConfig } from './vit_config_checks.js';
import { CONFIG_LIMITS, checkConfigObject, checkTensorArg, checkTransformerStack, optionalBool, optionalInt, orDefault } from '../utils/config.js';

/** Every key of {@link MAEConfig}: anything else is refused (a misspelt option would be ignored). */
const MAE_CONFIG_KEYS = [
  'imgSize', 'patchSize', 'inChans', 'embedDim', 'depth', 'numHeads', 'mlpRatio', 'qkvBias', 'normEps', 'seed', 'name',
  'decoderEmbedDim', 'decoderDepth', 'decoderNumHeads', 'maskRatio', 'normPixLoss', 'target', 'downsampleSize', 'checkpointing',
] as const;

/**
 * What MAE's decoder predicts for each patch, and the loss compares against
 * (MSE on the removed patches):
 * - `pixels`: the patch's `p*p*C` values (MAE with `norm_pix_loss=False`);
 * - `normPixels`: the same, each patch normalised by its own mean and
 *   (unbiased) variance (MAE's `norm_pix_loss=True`, +0.5 top-1 in the paper);
 * - `meanColor`: the patch's mean colour, `C` values (ViT paper, appendix
 *   B.1.2, its best masked-patch-prediction target);
 * - `downsampled`: the patch average-pooled to `s x s`, `s*s*C` values (ViT
 *   appendix, "a 4x4 downsized version of the 16x16 patch").
 *
 * The ViT paper predicted 3-bit colours by classification; here the two ViT
 * targets are regressed with the same masked MSE as MAE's.
 */
export type MaeTarget = 'pixels' | 'normPixels' | 'meanColor' | 'downsampled';

/**
 * Config of {@link MAE}: the encoder's {@link VitBackboneConfig} (MAE's
 * defaults: `embedDim` 1024, `depth` 24, `numHeads` 16, `qkvBias` `'qkv'`;
 * `mlpRatio`, `qkvBias` and `normEps` apply to the decoder too) plus the
 * decoder and the masking. Defaults are `MaskedAutoencoderViT.__init__`'s
 * (ViT-L/16 encoder at 224 px, 512-wide 8-block decoder); see the presets
 * {@link maeVitBasePatch16} etc.
 */
export interface MAEConfig extends VitBackboneConfig {
  /** Decoder width `Dd` (a multiple of 4). Default 512: the paper's light decoder (under 10% of the encoder's compute per token). */
  decoderEmbedDim?: number;
  /** Decoder blocks. Default 8 (the paper's default; deeper helps linear probing). */
  decoderDepth?: number;
  /** Decoder heads. Default 16. */
  decoderNumHeads?: number;
  /** Fraction of patches removed, in [0, 1). Default 0.75 (the paper's best ratio). */
  maskRatio?: number;
  /**
   * MAE's flag: normalise each target patch (same as `target: 'normPixels'`).
   * Default `false` as `models_mae.py`; MAE's released pretraining runs pass
   * `--norm_pix_loss` (the paper's default target).
   */
  normPixLoss?: boolean;
  /** What to predict, see {@link MaeTarget}. Default `'normPixels'` if `normPixLoss`, else `'pixels'`. */
  target?: MaeTarget;
  /** Side `s` of the `downsampled` target (divides `patchSize`). Default 4 (ViT's 4x4 of a 16x16 patch). */
  downsampleSize?: number;
}

/**
 * Where the mask of one forward pass comes from. Give at most one of `noise`,
 * `seed` and `rng`; with none, the model's own generator (seeded from the
 * config's `seed`) is advanced, so successive steps get fresh masks.
 */
export interface MaeMaskOptions {
  /** Fraction removed, in [0, 1). Default: the config's `maskRatio`. */
  maskRatio?: number;
  /** Per-sample noise `[B, L]`: the `floor(L * (1 - maskRatio))` lowest-noise patches are kept (MAE's `random_masking`). */
  noise?: MaskNoise;
  /** Draw the noise from a fresh generator with this seed. */
  seed?: number;
  /** Draw the noise from this generator (advanced). */
  rng?: Rng;
}

/** Options of {@link MAE.forwardEncoder} and {@link MAE.forward}. */
export interface MaeForwardOptions extends MaeMaskOptions {
  /** Training mode (drop path; MAE uses none). Default false. */
  training?: boolean;
}

/** Output of {@link MAE.forwardEncoder}: new tensors, the caller disposes them (`tf.dispose(out)`). */
export type MaeEncoderOutput = {
  /** `[B, 1 + lenKeep, D]`: class token, then the kept patches in ascending-noise order, after `norm`. */
  latent: tf.Tensor3D;
  /** float32 `[B, L]` in grid order: 1 = removed, 0 = kept. */
  mask: tf.Tensor2D;
  /** int32 `[B, L]`: rank of each patch's noise (inverse of the noise argsort). */
  idsRestore: tf.Tensor2D;
  /** int32 `[B, lenKeep]`: the kept patches, in ascending-noise order. */
  idsKeep: tf.Tensor2D;
  /** Kept patches per sample, `floor(L * (1 - maskRatio))`. */
  lenKeep: number;
};

/** Output of {@link MAE.forward}: new tensors, the caller disposes them (`tf.dispose(out)`). */
export type MaeOutput = {
  /** Scalar: mean over removed patches of the per-patch MSE. */
  loss: tf.Scalar;
  /** `[B, L, targetDim]` predictions in grid order. */
  pred: tf.Tensor3D;
  /** float32 `[B, L]`: 1 = removed, 0 = kept. */
  mask: tf.Tensor2D;
  /** `[B, 1 + lenKeep, D]` encoder output. */
  latent: tf.Tensor3D;
  /** int32 `[B, L]`. */
  idsRestore: tf.Tensor2D;
};

/** The config with every default filled in and the image/grid size as `[height, width]`. */
export type ResolvedMAEConfig = Required<Omit<MAEConfig, 'name' | 'imgSize'>> & { imgSize: [number, number] };

/**
 * Masked Autoencoder (He et al. 2021, "Masked Autoencoders Are Scalable
 * Vision Learners"; `models_mae.py` `MaskedAutoencoderViT`).
 *
 * MASK CONVENTION: in every mask, 1 = removed (hidden from the encoder,
 * predicted, counted in the loss), 0 = kept.
 *
 * The forward pass is four stages, each a method so a user can replace one:
 * 1. {@link MAE.forwardEncoder}: patch embedding + fixed sin-cos position,
 *    per-sample random masking (keep the lowest-noise patches, in
 *    ascending-noise order), class token, encoder blocks on the VISIBLE
 *    patches only (no mask tokens: the paper's 3x speed-up), `norm`;
 * 2. {@link MAE.forwardDecoder}: MAE's light decoder ({@link PixelDecoder}):
 *    mask tokens back in grid order, decoder blocks, per-patch prediction;
 * 3. {@link MAE.forwardLoss}: MSE on removed patches against
 *    {@link MAE.forwardTarget} (pixels, per-patch normalised pixels, or a
 *    ViT-style mean colour / downsampled patch);
 * 4. {@link MAE.forward}: the three chained.
 *
 * Weights carry MAE's own `state_dict` names (`patch_embed.proj`,
 * `cls_token`, `pos_embed`, `blocks.N.*`, `norm`, `decoder_embed`,
 * `mask_token`, `decoder_pos_embed`, `decoder_blocks.N.*`, `decoder_norm`,
 * `decoder_pred`), so an MAE checkpoint loads with the identity converter.
 *
 * Shapes: `imgs: [B, H, W, C]` (NHWC), `L = (H/p)(W/p)` patches; any channel
 * count, non-square images allowed.
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { MAE, maeMicro, AdamW, trainStep } from 'mimkit';
 *
 * const mae = new MAE({ ...maeMicro, imgSize: 32, inChans: 1, normPixLoss: true, seed: 0 });
 * const opt = new AdamW(mae, { lr: 1.5e-4, betas: [0.9, 0.95], weightDecay: 0.05 });
 * const imgs = tf.randomUniform([8, 32, 32, 1]) as tf.Tensor4D; // NHWC
 * const { loss } = trainStep(() => mae.forward(imgs, { training: true }).loss, mae, opt);
 * const out = mae.forward(imgs, { seed: 1 }); // { loss, pred [B, L, p*p*C], mask [B, L] (1 = removed), ... }
 * ```
 */
export class MAE extends Module {
  static readonly className = 'MimkitMAE';
  /** Resolved config. */
  readonly config: ResolvedMAEConfig;
  /** The ViT encoder (fixed sin-cos `pos_embed`); its weights sit at the top level of {@link MAE.namedWeights}. */
  readonly encoder: VisionTransformer;
  /** MAE's decoder; its weights (`decoder_*`, `mask_token`) sit at the top level too. */
  readonly decoder: PixelDecoder;
  /** Values predicted per patch: `p*p*C`, `C` (`meanColor`) or `s*s*C` (`downsampled`). */
  readonly targetDim: number;
  /** Patch grid `[rows, cols]`. */
  readonly gridSize: [number, number];
  /** Patches per image `L`. */
  readonly numPatches: number;
  /** The model's own mask generator, used when a forward call names no noise source. */
  private maskRng: Rng;

  constructor(config: MAEConfig = {}) {
    // Everything is checked under the user's names before any part exists.
    checkVitBackboneConfig('MAE', config, { embedDim: 1024, depth: 24, numHeads: 16, qkvBias: 'qkv' });
    checkConfigObject('MAE', config, MAE_CONFIG_KEYS);
    const decoderDim = checkTransformerStack('MAE', {
      dim: ['decoderEmbedDim', orDefault(config.decoderEmbedDim, 512)],
      depth: ['decoderDepth', orDefault(config.decoderDepth, 8)],
      numHeads: ['decoderNumHeads', orDefault(config.decoderNumHeads, 16)],
      mlpRatio: ['mlpRatio', orDefault(config.mlpRatio, 4)],
    }).dim;
    if (decoderDim % 4 !== 0) throw new Error(`MAE: decoderEmbedDim ${decoderDim} must be a multiple of 4 (sine-cosine decoder_pos_embed)`);
    const encoderDim = (orDefault(config.embedDim, 1024)) as number;
    if (encoderDim % 4 !== 0) throw new Error(`MAE: embedDim ${encoderDim} must be a multiple of 4 (sine-cosine pos_embed)`);
    optionalBool('MAE', 'normPixLoss', config.normPixLoss, false);
    optionalInt('MAE', 'downsampleSize', config.downsampleSize, 4, { min: 1, max: CONFIG_LIMITS.maxPatchSize });
    super({ name: config.name, seed: config.seed });
    const normPixLoss = config.normPixLoss ?? (config.target === undefined ? false : config.target === 'normPixels');
    const c: ResolvedMAEConfig = {
      imgSize: toPair('imgSize', 'MAE', config.imgSize ?? 224),
      patchSize: config.patchSize ?? 16,
      inChans: config.inChans ?? 3,
      embedDim: config.embedDim ?? 1024,
      depth: config.depth ?? 24,
      numHeads: config.numHeads ?? 16,
      decoderEmbedDim: config.decoderEmbedDim ?? 512,
      decoderDepth: config.decoderDepth ?? 8,
      decoderNumHeads: config.decoderNumHeads ?? 16,
      mlpRatio: config.mlpRatio ?? 4,
      qkvBias: config.qkvBias ?? 'qkv',
      normEps: config.normEps ?? 1e-6,
      checkpointing: config.checkpointing ?? 'auto',
      maskRatio: config.maskRatio ?? 0.75,
      normPixLoss,
      target: config.target ?? (normPixLoss ? 'normPixels' : 'pixels'),
      downsampleSize: config.downsampleSize ?? 4,
      seed: config.seed ?? 0,
    };
    checkMaskRatio(c.maskRatio, 'maskRatio');
    if (!['pixels', 'normPixels', 'meanColor', 'downsampled'].includes(c.target)) {
      throw new Error(`MAE: target must be 'pixels', 'normPixels', 'meanColor' or 'downsampled', got '${String(c.target)}'`);
    }
    if (c.normPixLoss !== (c.target === 'normPixels')) {
      throw new Error(`MAE: normPixLoss ${c.normPixLoss} contradicts target '${c.target}' (normPixLoss means target 'normPixels')`);
    }
    const p = c.patchSize;
    if (c.target === 'downsampled') {
      const s = c.downsampleSize;
      if (!Number.isInteger(s) || s <= 0 || p % s !== 0) {
        throw new Error(`MAE: downsampleSize must be a positive integer dividing patchSize ${p}, got ${s}`);
      }
    }
    this.config = c;
    this.targetDim =
      c.target === 'meanColor' ? c.inChans : c.target === 'downsampled' ? c.downsampleSize ** 2 * c.inChans : p * p * c.inChans;
    if (c.target === 'normPixels' && this.targetDim < 2) {
      throw new Error(`MAE: target 'normPixels' needs at least 2 values per patch (p*p*C), got ${this.targetDim}`);
    }
    // MAE keeps encoder and decoder weights at the top of its state_dict.
    this.encoder = this.addModule('encoder', new VisionTransformer({
      imgSize: c.imgSize,
      patchSize: p,
      inChans: c.inChans,
      embedDim: c.embedDim,
      depth: c.depth,
      numHeads: c.numHeads,
      mlpRatio: c.mlpRatio,
      qkvBias: c.qkvBias,
      posEmbed: 'sincos',
      normEps: c.normEps,
      checkpointing: c.checkpointing,
      seed: this.childSeed('encoder'),
    }), { spliceKeys: true });
    this.gridSize = this.encoder.gridSize;
    this.numPatches = this.encoder.numPatches;
    this.decoder = this.addModule('decoder', new PixelDecoder({
      encoderDim: c.embedDim,
      gridSize: this.gridSize,
      outDim: this.targetDim,
      embedDim: c.decoderEmbedDim,
      depth: c.decoderDepth,
      numHeads: c.decoderNumHeads,
      mlpRatio: c.mlpRatio,
      qkvBias: c.qkvBias,
      normEps: c.normEps,
      checkpointing: c.checkpointing,
      seed: this.childSeed('decoder'),
    }), { spliceKeys: true });
    this.maskRng = new Rng(deriveSeed(c.seed, 'mask'));
    // Initialised once: every sub-module has already drawn its weights with
    // MAE's scheme (see initializeWeights); only the class token differs (the
    // ViT's default is a truncated normal), and it is D numbers.
    this.initClassToken();
  }

  /** `cls_token` ~ normal(std 0.02), from the seed the encoder drew it with. */
  private initClassToken(): void {
    const w = this.encoder.clsToken;
    if (w === null) return;
    const t = initTensor({ kind: 'normal', std: 0.02 }, w.shape as number[], deriveSeed(this.encoder.config.seed, 'cls_token'));
    w.write(t);
    t.dispose();
  }

  /** A re-seeded model redoes its own initialisation from the new seed. */
  protected override onReseed(): void {
    this.maskRng = new Rng(deriveSeed(this.config.seed, 'mask'));
    this.initializeWeights();
  }

  /**
   * MAE's `initialize_weights`, drawn from seeds derived from the model seed:
   * - `pos_embed`, `decoder_pos_embed`: the fixed 2-D sin-cos tables (zero
   *   class row): MAE found fixed tables as good as learned ones, and fixed
   *   ones cannot drift for positions the encoder rarely sees;
   * - `patch_embed.proj.weight`: xavier-uniform of the kernel viewed as a
   *   `[D, p*p*C]` matrix (MAE: "initialize like nn.Linear instead of
   *   nn.Conv2d"), bias left at the conv default;
   * - `cls_token`, `mask_token`: normal(std 0.02) (timm's trunc_normal is no
   *   different at this std);
   * - every Linear: xavier-uniform weight (MAE's choice over timm's
   *   trunc_normal, following the official JAX ViT), zero bias;
   * - every LayerNorm: weight 1, bias 0.
   *
   * The constructor already initialises this way, once: each sub-module
   * draws its weights with these initialisers from its own seed. This method
   * re-draws every one of them from those same seeds, so it restores the
   * initial weights (after construction it changes nothing); the patch
   * projection's bias is left as it is, as upstream.
   */
  initializeWeights(): void {
    const { embedDim, decoderEmbedDim, patchSize: p, inChans } = this.config;
    const set = (w: Weight | null, init: Init, seed: number): void => {
      if (w === null) return;
      const t = initTensor(init, w.shape as number[], seed);
      w.write(t);
      t.dispose();
    };
    // Each seed is the one Module.addParam derived it from: deriveSeed(owner seed, local name).
    set(this.encoder.posEmbed, { kind: 'values', values: sincosPosEmbed2dData(embedDim, this.gridSize, 1) }, 0);
    set(this.decoder.decoderPosEmbed, { kind: 'values', values: sincosPosEmbed2dData(decoderEmbedDim, this.gridSize, 1) }, 0);
    const pe = this.encoder.patchEmbed;
    const fanIn = p * p * inChans;
    set(pe.weight, { kind: 'xavierUniform', fanIn, fanOut: embedDim }, deriveSeed(pe.config.seed, 'proj.weight'));
    this.initClassToken();
    set(this.decoder.maskToken, { kind: 'normal', std: 0.02 }, deriveSeed(this.decoder.config.seed, 'mask_token'));
    const visit = (m: Module): void => {
      if (m instanceof Linear) {
        const { inFeatures, outFeatures, seed } = m.config;
        set(m.weight, { kind: 'xavierUniform', fanIn: inFeatures, fanOut: outFeatures }, deriveSeed(seed, 'weight'));
        set(m.bias, { kind: 'zeros' }, 0);
      } else if (m instanceof LayerNorm) {
        set(m.weight, { kind: 'ones' }, 0);
        set(m.bias, { kind: 'zeros' }, 0);
      }
      for (const child of m.children().values()) visit(child);
    };
    visit(this);
  }

  /** Throws, before any tensor work, unless `imgs` is `[B, H, W, C]` at the configured size and channels. */
  private checkImages(name: string, imgs: tf.Tensor): void {
    this.checkNotDisposed();
    const [h, w] = this.config.imgSize;
    const C = this.config.inChans;
    if (!(imgs instanceof tf.Tensor) || imgs.rank !== 4) {
      throw new Error(
        `MAE: ${name} must be a rank-4 tensor [B, H, W, C] (NHWC), got ${imgs instanceof tf.Tensor ? `shape [${imgs.shape}]` : String(imgs)}`,
      );
    }
    if (imgs.shape[1] !== h || imgs.shape[2] !== w || imgs.shape[3] !== C) {
      throw new Error(
        `MAE: ${name} has shape [${imgs.shape}], expected [B, ${h}, ${w}, ${C}] (imgSize ${h}x${w}, inChans ${C}, NHWC)`,
      );
    }
    if (imgs.dtype !== 'float32') throw new Error(`MAE: ${name} must be float32, got ${imgs.dtype}`);
    checkTensorArg('MAE', name, imgs, { rank: 4, what: '[B, H, W, C] images (NHWC)' });
  }

  /** The noise source of one call (validated, no tensor work). */
  private maskSource(options: MaeMaskOptions): RandomMaskSource {
    const given = (['noise', 'seed', 'rng'] as const).filter((k) => options[k] !== undefined);
    if (given.length > 1) {
      throw new Error(`MAE: give at most one of noise, seed and rng, got ${given.join(' and ')}`);
    }
    if (options.noise !== undefined) return { noise: options.noise };
    if (options.seed !== undefined) return options.seed;
    return options.rng ?? this.maskRng;
  }

  /**
   * MAE's `forward_encoder`: embed all patches (with position), keep
   * `floor(L * (1 - maskRatio))` of them per sample (the lowest noise, in
   * ascending-noise order), prepend `cls_token + pos_embed[0]`, run the
   * blocks and `norm` on those tokens only.
   *
   * @param imgs `[B, H, W, C]`.
   * @returns `latent [B, 1 + lenKeep, D]`, `mask [B, L]` (1 = removed),
   *   `idsRestore [B, L]`, `idsKeep [B, lenKeep]` (new tensors).
   */
  forwardEncoder(imgs: tf.Tensor, options: MaeForwardOptions = {}): MaeEncoderOutput {
    this.checkImages('imgs', imgs);
    const maskRatio = checkMaskRatio(options.maskRatio ?? this.config.maskRatio, 'options.maskRatio');
    const source = this.maskSource(options);
    const B = imgs.shape[0]!;
    const m = new RandomMasker({ maskRatio }).mask(B, this.numPatches, source);
    tf.dispose(m.idsShuffle);
    try {
      const latent = tf.tidy(() => {
        const visible = gatherTokens(this.encoder.embed(imgs), m.idsKeep, { validate: false });
        const tokens = this.encoder.prependClassToken(visible);
        return this.encoder.forwardTokens(tokens, { training: options.training, rng: options.rng }).tokens;
      });
      return { latent, mask: m.mask, idsRestore: m.idsRestore, idsKeep: m.idsKeep, lenKeep: m.lenKeep };
    } catch (e) {
      tf.dispose([m.mask, m.idsRestore, m.idsKeep]);
      throw e;
    }
  }

  /**
   * MAE's `forward_decoder` ({@link PixelDecoder.forward}).
   *
   * @param latent `[B, 1 + lenKeep, D]` from {@link MAE.forwardEncoder}.
   * @param idsRestore int32 `[B, L]`.
   * @returns `pred [B, L, targetDim]` in grid order.
   */
  forwardDecoder(latent: tf.Tensor3D, idsRestore: tf.Tensor2D, options: { training?: boolean; rng?: Rng } = {}): tf.Tensor3D {
    return this.decoder.forward(latent, idsRestore, options);
  }

  /**
   * The regression target of each patch (see {@link MaeTarget}), in grid
   * order: `imgs [B, H, W, C]` -> `[B, L, targetDim]`. Pixels are flattened as
   * MAE's `patchify`: (row in patch, column in patch, channel), channel
   * fastest.
   */
  forwardTarget(imgs: tf.Tensor): tf.Tensor3D {
    this.checkImages('imgs', imgs);
    const { patchSize: p, inChans: C, target, downsampleSize: s } = this.config;
    return tf.tidy(() => {
      const patches = patchify(imgs, p);
      const [B, L] = patches.shape;
      switch (target) {
        case 'pixels':
          return patches;
        case 'normPixels':
          return normalizedPixelTargets(patches, { eps: 1e-6 }) as tf.Tensor3D;
        case 'meanColor':
          return tf.mean(tf.reshape(patches, [B, L, p * p, C]), 2) as tf.Tensor3D;
        case 'downsampled': {
          const f = p / s;
          const pooled = tf.mean(tf.reshape(patches, [B * L, s, f, s, f, C]), [2, 4]);
          return tf.reshape(pooled, [B, L, s * s * C]) as tf.Tensor3D;
        }
      }
    });
  }

  /**
   * MAE's `forward_loss`: `sum_l mask_l * mean_k (pred - target)^2 / sum_l mask_l`.
   *
   * @param imgs `[B, H, W, C]`.
   * @param pred `[B, L, targetDim]`.
   * @param mask `[B, L]`, 1 = removed.
   * @returns a scalar.
   */
  forwardLoss(imgs: tf.Tensor, pred: tf.Tensor, mask: tf.Tensor): tf.Scalar {
    this.checkImages('imgs', imgs);
    const B = imgs.shape[0]!;
    const want = [B, this.numPatches, this.targetDim];
    if (!(pred instanceof tf.Tensor) || !tf.util.arraysEqual(pred.shape, want)) {
      throw new Error(`MAE: pred must have shape [${want}] ([B, L, targetDim]), got ${pred instanceof tf.Tensor ? `[${pred.shape}]` : String(pred)}`);
    }
    if (!(mask instanceof tf.Tensor) || !tf.util.arraysEqual(mask.shape, [B, this.numPatches])) {
      throw new Error(`MAE: mask must have shape [${B}, ${this.numPatches}] ([B, L], 1 = removed), got ${mask instanceof tf.Tensor ? `[${mask.shape}]` : String(mask)}`);
    }
    const target = this.forwardTarget(imgs);
    try {
      return maskedMseLoss(pred, target, mask);
    } finally {
      target.dispose();
    }
  }

  /**
   * The whole pretraining step's forward pass: encoder on the visible
   * patches, decoder, loss on the removed ones.
   *
   * @param imgs `[B, H, W, C]`.
   * @returns `{ loss, pred [B, L, targetDim], mask [B, L], latent, idsRestore }`
   *   (new tensors; inside `tf.variableGrads`/`trainStep` return `.loss`).
   */
  forward(imgs: tf.Tensor, options: MaeForwardOptions = {}): MaeOutput {
    const enc = this.forwardEncoder(imgs, options);
    let pred: tf.Tensor3D | null = null;
    try {
      pred = this.forwardDecoder(enc.latent, enc.idsRestore, options);
      const loss = this.forwardLoss(imgs, pred, enc.mask);
      enc.idsKeep.dispose();
      return { loss, pred, mask: enc.mask, latent: enc.latent, idsRestore: enc.idsRestore };
    } catch (e) {
      tf.dispose([enc.latent, enc.mask, enc.idsRestore, enc.idsKeep]);
      if (pred) pred.dispose();
      throw e;
    }
  }

  /**
   * Predictions laid out as images, for visualisation: `pred [B, L,
   * targetDim]` -> `[B, H, W, C]`. With `normPixels`, each patch is mapped
   * back with the mean and variance of the same patch of `imgs` (required
   * then); `meanColor` fills each patch with its colour; `downsampled` is
   * upsampled by repetition.
   */
  predToImages(pred: tf.Tensor, imgs?: tf.Tensor): tf.Tensor4D {
    const { patchSize: p, inChans: C, target, downsampleSize: s } = this.config;
    const [gh, gw] = this.gridSize;
    if (!(pred instanceof tf.Tensor) || pred.rank !== 3 || pred.shape[1] !== this.numPatches || pred.shape[2] !== this.targetDim) {
      throw new Error(`MAE: pred must be [B, ${this.numPatches}, ${this.targetDim}], got ${pred instanceof tf.Tensor ? `shape [${pred.shape}]` : String(pred)}`);
    }
    if (target === 'normPixels') {
      if (imgs === undefined) throw new Error("MAE.predToImages: imgs is required for target 'normPixels' (each patch's mean and variance)");
      this.checkImages('imgs', imgs);
      if (imgs.shape[0] !== pred.shape[0]) throw new Error(`MAE.predToImages: imgs batch ${imgs.shape[0]} != pred batch ${pred.shape[0]}`);
    }
    return tf.tidy(() => {
      const B = pred.shape[0]!;
      const L = this.numPatches;
      let full: tf.Tensor = pred;
      if (target === 'normPixels') {
        const patches = patchify(imgs!, p);
        const k = p * p * C;
        const mean = tf.mean(patches, -1, true);
        const variance = tf.div(tf.sum(tf.square(tf.sub(patches, mean)), -1, true), k - 1);
        full = tf.add(tf.mul(pred, tf.sqrt(tf.add(variance, 1e-6))), mean);
      } else if (target === 'meanColor') {
        full = tf.reshape(tf.tile(tf.reshape(pred, [B, L, 1, C]), [1, 1, p * p, 1]), [B, L, p * p * C]);
      } else if (target === 'downsampled') {
        // Each of the s x s values fills an f x f block: repeat along the
        // columns, then along the rows (two rank-3 tiles; tfjs-backend-webgpu
        // runs a rank-6 tile on the CPU after a synchronous read).
        const f = p / s;
        const cols = tf.tile(tf.reshape(pred, [B * L * s * s, 1, C]), [1, f, 1]);
        const up = tf.tile(tf.reshape(cols, [B * L * s, 1, s * f * C]), [1, f, 1]);
        full = tf.reshape(up, [B, L, p * p * C]);
      }
      return unpatchify(full, p, gh, gw, C);
    });
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: { training?: boolean } = {}): tf.Tensor[] {
    const out = this.forward(Array.isArray(inputs) ? inputs[0]! : inputs, { training: kwargs.training });
    tf.dispose([out.latent, out.idsRestore]);
    return [out.loss, out.pred, out.mask];
  }

  override getConfig(): serialization.ConfigDict {
    return { ...super.getConfig(), ...this.config };
  }
}
serialization.registerClass(MAE);

function checkMaskRatio(v: unknown, name: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v >= 1) {
    throw new Error(`MAE: ${name} must be a number in [0, 1), got ${String(v)}`);
  }
  return v;
}

/** MAE ViT-Base/16 (`mae_vit_base_patch16_dec512d8b`): D 768, depth 12, 12 heads; decoder 512 wide, 8 blocks, 16 heads. */
export const maeVitBasePatch16: Readonly<MAEConfig> = Object.freeze({
  imgSize: 224, patchSize: 16, embedDim: 768, depth: 12, numHeads: 12,
  decoderEmbedDim: 512, decoderDepth: 8, decoderNumHeads: 16, mlpRatio: 4,
});
/** MAE ViT-Large/16 (`mae_vit_large_patch16_dec512d8b`): D 1024, depth 24, 16 heads; decoder 512d8b. */
export const maeVitLargePatch16: Readonly<MAEConfig> = Object.freeze({
  imgSize: 224, patchSize: 16, embedDim: 1024, depth: 24, numHeads: 16,
  decoderEmbedDim: 512, decoderDepth: 8, decoderNumHeads: 16, mlpRatio: 4,
});
/** MAE ViT-Huge/14 (`mae_vit_huge_patch14_dec512d8b`): D 1280, depth 32, 16 heads; decoder 512d8b. */
export const maeVitHugePatch14: Readonly<MAEConfig> = Object.freeze({
  imgSize: 224, patchSize: 14, embedDim: 1280, depth: 32, numHeads: 16,
  decoderEmbedDim: 512, decoderDepth: 8, decoderNumHeads: 16, mlpRatio: 4,
});
/**
 * A tiny MAE for 32 px images (CIFAR-size; 8x8 = 64 patches of 4 px): ViT-Ti
 * width (D 192, 3 heads) at depth 12, decoder 128 wide, 4 blocks, 4 heads.
 * Trainable in a browser; set `inChans: 1` and `imgSize: 28` for MNIST-like data.
 */
export const maeTiny: Readonly<MAEConfig> = Object.freeze({
  imgSize: 32, patchSize: 4, embedDim: 192, depth: 12, numHeads: 3,
  decoderEmbedDim: 128, decoderDepth: 4, decoderNumHeads: 4, mlpRatio: 4,
});
/** An even smaller MAE for 32 px images (quick experiments): D 128, depth 6, 4 heads; decoder 64 wide, 2 blocks, 4 heads. */
export const maeMicro: Readonly<MAEConfig> = Object.freeze({
  imgSize: 32, patchSize: 4, embedDim: 128, depth: 6, numHeads: 4,
  decoderEmbedDim: 64, decoderDepth: 2, decoderNumHeads: 4, mlpRatio: 4,
});
