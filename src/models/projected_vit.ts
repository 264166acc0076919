import * as tf from '@tensorflow/tfjs-core';
import { serialization } from '@tensorflow/tfjs-core';
import { MlpHead, type MlpHeadConfig } from '../heads/mlp_head.js';
import { batchNormBuffers } from '../layers/batch_norm.js';
import { Module, type Weight } from '../layers/module.js';
import { VisionTransformer, type VisionTransformerConfig } from './vit.js';
import { requireConfig, describeValue } from '../utils/config.js';

/** Config of {@link ProjectedViT}. */
export interface ProjectedViTConfig {
  /** The backbone (a class token is required: its output feeds the head). */
  vit: VisionTransformerConfig;
  /** The projector; its `inFeatures` must be the ViT's `embedDim`. */
  head: MlpHeadConfig;
  seed?: number;
  name?: string;
}

/** Options of {@link ProjectedViT.forward}. */
export interface ProjectedViTForwardOptions {
  /** BatchNorm batch statistics (and running-statistics updates), drop path. Default `false`. */
  training?: boolean;
}

/**
 * A ViT whose class token goes through a projection MLP, the encoder of the
 * Siamese methods (MoCo v3's `base_encoder` with its `head` replaced by the
 * projector, SimSiam's and BYOL's online and target encoders).
 *
 * Keys: the ViT's own (timm names, `patch_embed.*`, `blocks.N.*`, `norm.*`)
 * at this module's level, and the projector under `head.*`, as moco-v3's
 * `VisionTransformerMoCo` state_dict holds them.
 *
 * Shapes: `imgs [N, H, W, C]` -> `[N, head.outFeatures]`.
 */
export class ProjectedViT extends Module {
  static readonly className = 'MimkitProjectedViT';
  /** The backbone. */
  readonly vit: VisionTransformer;
  /** The projector (`head`). */
  readonly head: MlpHead;

  constructor(config: ProjectedViTConfig) {
    super({ name: requireConfig('ProjectedViT', config).name, seed: config.seed });
    if (config.vit === null || typeof config.vit !== 'object' || Array.isArray(config.vit)) {
      throw new Error(`ProjectedViT: vit must be a VisionTransformer config object, got ${describeValue(config.vit)}`);
    }
    if (config.vit.classToken === false) {
      throw new Error('ProjectedViT: the ViT needs its class token (classToken false), whose output feeds the head');
    }
    const embedDim = config.vit.embedDim ?? 768;
    if (config.head.inFeatures !== embedDim) {
      throw new Error(`ProjectedViT: head.inFeatures must be the ViT's embedDim ${embedDim}, got ${config.head.inFeatures}`);
    }
    this.vit = this.addModule('vit', new VisionTransformer({ ...config.vit, seed: this.childSeed('vit') }), { spliceKeys: true });
    this.head = this.addModule('head', new MlpHead({ ...config.head, seed: this.childSeed('head') }));
  }

  /** Class-token features `[N, D]` after the final norm (the backbone's output, what a probe reads). */
  features(imgs: tf.Tensor, options: ProjectedViTForwardOptions = {}): tf.Tensor2D {
    const tokens = this.vit.forward(imgs, { training: options.training });
    try {
      return tf.tidy(() => tf.squeeze(tf.slice(tokens, [0, 0, 0], [-1, 1, -1]), [1]) as tf.Tensor2D);
    } finally {
      tokens.dispose();
    }
  }

  /** `imgs [N, H, W, C]` -> projections `[N, outFeatures]`. */
  forward(imgs: tf.Tensor, options: ProjectedViTForwardOptions = {}): tf.Tensor2D {
    if (!(imgs instanceof tf.Tensor) || imgs.rank !== 4) {
      throw new Error(`ProjectedViT: imgs must be [N, H, W, C] (NHWC), got ${imgs instanceof tf.Tensor ? `shape [${imgs.shape}]` : String(imgs)}`);
    }
    if (options.training && imgs.shape[0]! < 2) {
      throw new Error(`ProjectedViT: training needs more than one image for BatchNorm's batch statistics, got N=${imgs.shape[0]}`);
    }
    return tf.tidy(() => this.head.forward(this.features(imgs, options), options));
  }

  /**
   * The weights an EMA averages: every weight except the BatchNorm buffers,
   * trainable or not (PyTorch's `parameters()`: a frozen patch projection
   * and a fixed position table are parameters too), keyed by name.
   */
  parameters(): Map<string, Weight> {
    const buffers = batchNormBuffers(this);
    return new Map([...this.namedWeights()].filter(([, w]) => !buffers.has(w)));
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: { training?: boolean } = {}): tf.Tensor {
    return this.forward(Array.isArray(inputs) ? inputs[0]! : inputs, { training: kwargs.training });
  }

  override computeOutputShape(shape: (number | null)[]): (number | null)[] {
    return [shape[0] ?? null, this.head.config.outFeatures];
  }

  override getConfig(): serialization.ConfigDict {
    return { ...super.getConfig() };
  }
}
serialization.registerClass(ProjectedViT);

/** Sets every weight of `module` non-trainable (an EMA target, a frozen teacher). */
export function freezeWeights(module: Module): void {
  for (const w of module.namedWeights().values()) w.trainable = false;
}
