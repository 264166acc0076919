import * as tf from '@tensorflow/tfjs-core';
import { serialization } from '@tensorflow/tfjs-core';
import type { MlpActivation } from '../layers/mlp.js';
import { Module, type Weight } from '../layers/module.js';
import { CLIP_INIT_LOG_LOGIT_SCALE, clipLoss } from '../losses/clip.js';
import { l2Normalize, similarity } from '../losses/common.js';
import type { RandomSource } from '../masking/common.js';
import { ClipVisionTransformer, type ClipVisionConfig, type ClipVisionForwardOptions } from './clip_vision.js';
import { TextTransformer, type TextForwardOptions, type TextTransformerConfig } from './text_transformer.js';
import { checkConfigObject } from '../utils/config.js';

/** Config of {@link CLIP}. Defaults: open_clip `CLIP` with its default towers (ViT-B/16 image tower, 12-layer 512-wide text tower, E = 512). */
export interface CLIPConfig {
  /** Joint embedding width `E` (both towers' `embedDim` follow it). Default 512. */
  embedDim?: number;
  /** Image tower; its `embedDim`, `act` and `normEps` come from this config. */
  vision?: Omit<ClipVisionConfig, 'embedDim' | 'seed' | 'name'>;
  /** Text tower; its `embedDim`, `act` and `normEps` come from this config. */
  text?: Omit<TextTransformerConfig, 'embedDim' | 'seed' | 'name'>;
  /** QuickGELU `x sigmoid(1.702 x)` in every MLP (OpenAI's weights; open_clip `quick_gelu`). Default false (exact GELU). */
  quickGelu?: boolean;
  /** Initial `logit_scale` (its log). Default `ln(1 / 0.07)` (CLIP). */
  initLogitScale?: number;
  /** LayerNorm epsilon everywhere. Default 1e-5 (open_clip). */
  normEps?: number;
  /** Seed of the initial weights (and of FLIP's default patch sampling). Default 0. */
  seed?: number;
  /** Layer name. */
  name?: string;
}

/** Options of {@link CLIP.forward} and {@link CLIP.loss}. */
export interface ClipForwardOptions {
  /** Image tower options (training, FLIP `maskRatio`, `patchKeepIndices`, `random`). */
  image?: ClipVisionForwardOptions;
  /** Text tower options (`padding`). */
  text?: TextForwardOptions;
}

/**
 * Output of {@link CLIP.forward}: all new tensors (a type alias, so
 * `tf.tidy` accepts it and `tf.dispose(out)` frees it).
 */
export type ClipOutput = {
  /** L2-normalised image features `[B, E]`. */
  imageFeatures: tf.Tensor2D;
  /** L2-normalised text features `[B, E]`. */
  textFeatures: tf.Tensor2D;
  /** `exp(logit_scale)`, a scalar (what open_clip's `CLIP.forward` returns). */
  logitScale: tf.Scalar;
  /** `logitScale * imageFeatures @ textFeatures^T`, `[B, B]`. */
  logitsPerImage: tf.Tensor2D;
  /** Its transpose. */
  logitsPerText: tf.Tensor2D;
};

/**
 * CLIP (Radford et al. 2021, "Learning Transferable Visual Models From
 * Natural Language Supervision") in open_clip's form (`open_clip.model.CLIP`
 * with the built-in ViT and text transformer): an image tower
 * ({@link ClipVisionTransformer}, under `visual.`), a causal text tower
 * ({@link TextTransformer}, its keys at the top level as open_clip has them:
 * `token_embedding`, `positional_embedding`, `transformer.*`, `ln_final`,
 * `text_projection`) and `logit_scale` (the log of the logit scale). Trained
 * with the symmetric contrastive loss (`clipLoss`) on normalised features.
 *
 * Import and export open_clip checkpoints with the `openClipConverter`
 * (`src/io/converters_clip.ts`): it maps open_clip's block keys and `conv1`
 * onto the library's reused `Block` / `PatchEmbed` keys.
 */
export class CLIP extends Module {
  static readonly className: string = 'MimkitCLIP';
  /** Resolved top-level config (the towers hold their own). */
  readonly config: { embedDim: number; quickGelu: boolean; initLogitScale: number; normEps: number; seed: number };
  /** Image tower (`visual`). */
  readonly visual: ClipVisionTransformer;
  /** Text tower (keys at the top level). */
  readonly text: TextTransformer;
  /** `logit_scale` `[]`, the log of the scale. */
  readonly logitScale: Weight;

  constructor(config: CLIPConfig = {}) {
    super({ name: checkConfigObject('CLIP', config).name, seed: config.seed });
    const c = {
      embedDim: config.embedDim ?? 512,
      quickGelu: config.quickGelu ?? false,
      initLogitScale: config.initLogitScale ?? CLIP_INIT_LOG_LOGIT_SCALE,
      normEps: config.normEps ?? 1e-5,
      seed: config.seed ?? 0,
    };
    if (!Number.isFinite(c.initLogitScale)) throw new Error(`CLIP: initLogitScale must be a finite number (a log), got ${c.initLogitScale}`);
    this.config = c;
    const act: MlpActivation = c.quickGelu ? 'quickGelu' : 'gelu';
    this.visual = this.addModule(
      'visual',
      new ClipVisionTransformer({ ...config.vision, embedDim: c.embedDim, act, normEps: c.normEps, seed: this.childSeed('visual') }),
    );
    this.text = this.addModule(
      'text',
      new TextTransformer({ ...config.text, embedDim: c.embedDim, act, normEps: c.normEps, seed: this.childSeed('text') }),
      { spliceKeys: true },
    );
    this.logitScale = this.addParam('logit_scale', [], { kind: 'constant', value: c.initLogitScale });
  }

  /** Image features `[B, E]` (open_clip `encode_image`); `normalize` divides by the norm. */
  encodeImage(images: tf.Tensor, options: ClipVisionForwardOptions & { normalize?: boolean } = {}): tf.Tensor2D {
    const f = this.visual.forward(images, options);
    if (!options.normalize) return f;
    return tf.tidy(() => {
      const n = l2Normalize(f) as tf.Tensor2D;
      f.dispose();
      return n;
    });
  }

  /** Text features `[B, E]` from ids `[B, L]` (open_clip `encode_text`); `normalize` divides by the norm. */
  encodeText(ids: tf.Tensor, options: TextForwardOptions & { normalize?: boolean } = {}): tf.Tensor2D {
    const f = this.text.forward(ids, options) as tf.Tensor2D;
    if (!options.normalize) return f;
    return tf.tidy(() => {
      const n = l2Normalize(f) as tf.Tensor2D;
      f.dispose();
      return n;
    });
  }

  /**
   * Throws, before any tensor work, unless images and ids are tensors with
   * one text per image, every id is in the vocabulary and the options fit.
   */
  protected checkPair(images: tf.Tensor, ids: tf.Tensor, options: ClipForwardOptions): void {
    if (!(images instanceof tf.Tensor) || images.rank !== 4) {
      throw new Error(`CLIP: images must be [B, H, W, C] (NHWC), got ${images instanceof tf.Tensor ? `shape [${images.shape}]` : String(images)}`);
    }
    if (!(ids instanceof tf.Tensor) || ids.rank !== 2) {
      throw new Error(`CLIP: ids must be an int32 tensor [B, L], got ${ids instanceof tf.Tensor ? `shape [${ids.shape}]` : String(ids)}`);
    }
    if (images.shape[0] !== ids.shape[0]) {
      throw new Error(`CLIP: ids must have one row per image (B=${images.shape[0]}), got ${ids.shape[0]} rows (ids shape [${ids.shape}])`);
    }
    this.visual.checkInputs(images, this.imageOptions(options));
    this.text.checkInputs(ids, options.text);
  }

  /** Hook for FLIP: the image options of a call. */
  protected imageOptions(options: ClipForwardOptions): ClipVisionForwardOptions {
    return options.image ?? {};
  }

  /**
   * open_clip `CLIP.forward` plus `get_logits`: normalised features of both
   * towers, `exp(logit_scale)` and the logits `[B, B]` both ways.
   */
  forward(images: tf.Tensor, ids: tf.Tensor, options: ClipForwardOptions = {}): ClipOutput {
    this.checkPair(images, ids, options);
    return tf.tidy(() => {
      const imageFeatures = this.encodeImage(images, { ...this.imageOptions(options), normalize: true });
      const textFeatures = this.encodeText(ids, { ...options.text, normalize: true });
      const logitScale = tf.exp(this.logitScale.read()) as tf.Scalar;
      const logitsPerImage = tf.mul(logitScale, similarity(imageFeatures, textFeatures)) as tf.Tensor2D;
      return { imageFeatures, textFeatures, logitScale, logitsPerImage, logitsPerText: tf.transpose(logitsPerImage) as tf.Tensor2D };
    });
  }

  /**
   * The training loss: `clipLoss` (open_clip `ClipLoss`) of the normalised
   * features with this model's `logit_scale`; a scalar for `trainStep`.
   * Clamp the scale after each optimiser step as CLIP does
   * (`clampLogitScale(model.logitScale)`).
   */
  loss(images: tf.Tensor, ids: tf.Tensor, options: ClipForwardOptions = {}): tf.Scalar {
    this.checkPair(images, ids, options);
    return tf.tidy(() => {
      const img = this.encodeImage(images, { ...this.imageOptions(options), normalize: true });
      const txt = this.encodeText(ids, { ...options.text, normalize: true });
      // The model's own parameter is a log scale by construction: no read
      // back to check it (a synchronous GPU read on WebGL/WebGPU every step).
      return clipLoss(img, txt, this.logitScale.read(), { checkLogitScale: false }).loss;
    });
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    if (!Array.isArray(inputs) || inputs.length !== 2) throw new Error('CLIP: call expects [images, ids]');
    const out = this.forward(inputs[0]!, inputs[1]!);
    const r = out.logitsPerImage;
    tf.dispose([out.imageFeatures, out.textFeatures, out.logitScale, out.logitsPerText]);
    return r;
  }

  override getConfig(): serialization.ConfigDict {
    return { ...super.getConfig(), ...this.config };
  }
}
serialization.registerClass(CLIP);

/** Config of {@link FLIP}: a CLIP config plus the image masking ratio. */
export interface FLIPConfig extends CLIPConfig {
  /** Fraction of image patches dropped in training, in [0, 1). Default 0.5 (FLIP's main setting; 0.75 also in the paper). */
  maskRatio?: number;
}

/**
 * FLIP (Li et al. 2023, "Scaling Language-Image Pre-training via Masking"):
 * a {@link CLIP} whose image tower, in training, sees only a random
 * `1 - maskRatio` of the patches (per image, MAE's random masking; the
 * class token is always kept), which makes each step cheaper and allows
 * larger batches. Same weights and names as CLIP (open_clip trains FLIP as
 * CLIP with `patch_dropout`).
 *
 * - `forward`/`loss` with `{ image: { training: true } }` mask at `maskRatio`;
 * - `{ image: { patchKeepIndices } }` keeps given patches (conformance);
 * - `{ image: { training: true, maskRatio: 0 } }`, or `flip.unmasked = true`,
 *   trains on all patches: FLIP's final unmasked tuning phase;
 * - evaluation (`training` false) always sees every patch.
 */
export class FLIP extends CLIP {
  static override readonly className: string = 'MimkitFLIP';
  /** Fraction of patches dropped in training. */
  readonly maskRatio: number;
  /** Unmasked tuning: when true, training sees every patch. Default false. */
  unmasked = false;

  constructor(config: FLIPConfig = {}) {
    checkConfigObject('FLIP', config);
    const maskRatio = config.maskRatio ?? 0.5;
    if (!(typeof maskRatio === 'number' && maskRatio >= 0 && maskRatio < 1)) {
      throw new Error(`FLIP: maskRatio must be in [0, 1), got ${maskRatio}`);
    }
    super({ ...config, vision: { ...config.vision, patchDropout: maskRatio } });
    this.maskRatio = maskRatio;
  }

  protected override imageOptions(options: ClipForwardOptions): ClipVisionForwardOptions {
    const o = options.image ?? {};
    return this.unmasked && o.maskRatio === undefined ? { ...o, maskRatio: 0 } : o;
  }

  /** The image options of a masked training step with a given random source. */
  static trainingOptions(random: RandomSource, maskRatio?: number): ClipForwardOptions {
    return { image: { training: true, random, ...(maskRatio === undefined ? {} : { maskRatio }) } };
  }
}
serialization.registerClass(FLIP);

/** open_clip `ViT-B-32`: image 224, patch 32, width 768, 12 layers (12 heads); text 77 x 512, 8 heads, 12 layers; E = 512. */
export const clipVitB32: Readonly<CLIPConfig> = Object.freeze({
  embedDim: 512,
  vision: { imageSize: 224, patchSize: 32, width: 768, layers: 12, headWidth: 64 },
  text: { contextLength: 77, vocabSize: 49408, width: 512, heads: 8, layers: 12 },
});

/** open_clip `ViT-B-16`: as {@link clipVitB32} with patch 16. */
export const clipVitB16: Readonly<CLIPConfig> = Object.freeze({
  embedDim: 512,
  vision: { imageSize: 224, patchSize: 16, width: 768, layers: 12, headWidth: 64 },
  text: { contextLength: 77, vocabSize: 49408, width: 512, heads: 8, layers: 12 },
});

/** OpenAI's released ViT-B/32 (open_clip `ViT-B-32-quickgelu`): {@link clipVitB32} with QuickGELU. */
export const clipVitB32QuickGelu: Readonly<CLIPConfig> = Object.freeze({ ...clipVitB32, quickGelu: true });
