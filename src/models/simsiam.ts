import * as tf from '@tensorflow/tfjs-core';
import { serialization } from '@tensorflow/tfjs-core';
import { MlpHead, simsiamPredictorConfig, simsiamProjectorConfig } from '../heads/mlp_head.js';
import { Linear } from '../layers/linear.js';
import { Module } from '../layers/module.js';
import { simsiamLoss } from '../losses/simsiam.js';
import { ProjectedViT } from './projected_vit.js';
import type { VitBackboneConfig, VisionTransformerConfig } from './vit.js';
import { checkConfigObject } from '../utils/config.js';

/** Config of {@link SimSiam}. Backbone defaults: ViT-S/16 at 224 px; heads: SimSiam's. */
export interface SimSiamConfig extends VitBackboneConfig {
  /** Projection width (`dim`). Default 2048. */
  dim?: number;
  /** Predictor bottleneck (`pred_dim`). Default 512. */
  predDim?: number;
}

/** Options of {@link SimSiam.forward} and {@link BYOL.forward}. */
export interface SiameseForwardOptions {
  /** BatchNorm with batch statistics (training). Default `true`. */
  training?: boolean;
}

/**
 * What {@link SimSiam.forward} and {@link BYOL.forward} return (a type alias,
 * so `tf.tidy` accepts it): the loss, the predictions `p1`, `p2` and the
 * (stop-gradient) targets `z1`, `z2`, all `[N, dim]`.
 */
export type SiameseOutput = { loss: tf.Scalar; p1: tf.Tensor2D; p2: tf.Tensor2D; z1: tf.Tensor2D; z2: tf.Tensor2D };

/** Shared view checks of the two-view models: same rank-4 shape, batch > 1 in training. */
export function checkViews(fn: string, x1: unknown, x2: unknown, training: boolean): void {
  for (const [name, x] of [['x1', x1], ['x2', x2]] as const) {
    if (!(x instanceof tf.Tensor) || x.rank !== 4) {
      throw new Error(`${fn}: ${name} must be [N, H, W, C] (NHWC), got ${x instanceof tf.Tensor ? `shape [${x.shape}]` : String(x)}`);
    }
  }
  const [a, b] = [x1 as tf.Tensor, x2 as tf.Tensor];
  if (!tf.util.arraysEqual(a.shape, b.shape)) {
    throw new Error(`${fn}: x1 and x2 must be two views of the same batch (same shape), got [${a.shape}] and [${b.shape}]`);
  }
  if (training && a.shape[0]! < 2) {
    throw new Error(`${fn}: training needs at least 2 images per view (BatchNorm batch statistics), got ${a.shape[0]}`);
  }
}

/** The ViT part of a backbone config. */
export function vitOf(c: VitBackboneConfig): VisionTransformerConfig {
  return {
    imgSize: c.imgSize ?? 224, patchSize: c.patchSize ?? 16, inChans: c.inChans ?? 3, embedDim: c.embedDim ?? 384,
    depth: c.depth ?? 12, numHeads: c.numHeads ?? 6, mlpRatio: c.mlpRatio ?? 4, qkvBias: c.qkvBias ?? 'qkv', normEps: c.normEps ?? 1e-6,
  };
}

/**
 * SimSiam (Chen & He 2021, "Exploring Simple Siamese Representation
 * Learning", facebookresearch/simsiam `simsiam/builder.py`) on a ViT: one
 * encoder (backbone + 3-layer BN projector ending in a BN without affine)
 * shared by both views, a 2-layer bottleneck predictor, and the symmetrised
 * negative cosine with a stop-gradient on the projections
 * ({@link simsiamLoss}): no negatives, no momentum encoder; the
 * stop-gradient alone prevents collapse.
 *
 * Keys: `encoder.*` (ViT names, projector under `encoder.head.<i>`),
 * `predictor.<i>`. The reference's ResNet keeps the projector under
 * `encoder.fc`; rename with a converter when loading one.
 */
export class SimSiam extends Module {
  static readonly className = 'MimkitSimSiam';
  readonly encoder: ProjectedViT;
  readonly predictor: MlpHead;

  constructor(config: SimSiamConfig = {}) {
    super({ name: checkConfigObject('SimSiam', config).name, seed: config.seed });
    const vit = vitOf(config);
    const dim = config.dim ?? 2048;
    this.encoder = this.addModule(
      'encoder',
      new ProjectedViT({ vit, head: simsiamProjectorConfig(vit.embedDim!, dim), seed: this.childSeed('encoder') }),
    );
    this.predictor = this.addModule(
      'predictor',
      new MlpHead({ ...simsiamPredictorConfig(dim, config.predDim ?? 512), seed: this.childSeed('predictor') }),
    );
    // "hack: not use bias as it is followed by BN" (simsiam/builder.py): the projector's last bias is frozen.
    const last = this.encoder.head.layers.filter((l) => l instanceof Linear).at(-1) as Linear;
    if (last.bias) last.bias.trainable = false;
  }

  /** Two views `[N, H, W, C]` -> loss, predictions and projections. */
  forward(x1: tf.Tensor, x2: tf.Tensor, options: SiameseForwardOptions = {}): SiameseOutput {
    const training = options.training ?? true;
    checkViews('SimSiam.forward', x1, x2, training);
    return tf.tidy(() => {
      const z1 = this.encoder.forward(x1, { training });
      const z2 = this.encoder.forward(x2, { training });
      const p1 = this.predictor.forward(z1, { training });
      const p2 = this.predictor.forward(z2, { training });
      return { loss: simsiamLoss(p1, p2, z1, z2), p1, p2, z1, z2 };
    });
  }

  override call(): tf.Tensor {
    throw new Error('SimSiam: call forward(x1, x2)');
  }

  override getConfig(): serialization.ConfigDict {
    return { ...super.getConfig() };
  }
}
serialization.registerClass(SimSiam);
