import * as tf from '@tensorflow/tfjs-core';
import { serialization } from '@tensorflow/tfjs-core';
import { MlpHead, byolHeadConfig } from '../heads/mlp_head.js';
import { Module } from '../layers/module.js';
import { byolLoss } from '../losses/byol.js';
import { EMA } from '../train/ema.js';
import { freezeWeights, ProjectedViT } from './projected_vit.js';
import { checkViews, vitOf, type SiameseForwardOptions, type SiameseOutput } from './simsiam.js';
import type { VitBackboneConfig } from './vit.js';
import { checkConfigObject } from '../utils/config.js';

/** Config of {@link BYOL}. Backbone defaults: ViT-S/16 at 224 px; heads: the paper's. */
export interface BYOLConfig extends VitBackboneConfig {
  /** Projection width. Default 256. */
  projectionSize?: number;
  /** Hidden width of the projector and predictor. Default 4096. */
  hiddenSize?: number;
  /** Base target momentum `tau` (cosine-scheduled to 1 in the paper). Default 0.996. */
  momentum?: number;
}

/**
 * BYOL (Grill et al. 2020, "Bootstrap Your Own Latent") on a ViT: an online
 * encoder (backbone + projector) and predictor learn to predict the target
 * encoder's projection of the other view; the target is an EMA of the
 * online encoder ({@link BYOL.updateTarget}, after each optimiser step as in
 * the paper), never trained by gradient; loss {@link byolLoss} (both
 * directions summed, stop-gradient on the targets).
 *
 * Keys (byol-pytorch's attribute names): `online_encoder.*`,
 * `online_predictor.<i>`, `target_encoder.*`.
 */
export class BYOL extends Module {
  static readonly className = 'MimkitBYOL';
  readonly onlineEncoder: ProjectedViT;
  readonly onlinePredictor: MlpHead;
  readonly targetEncoder: ProjectedViT;
  private readonly ema: EMA;

  constructor(config: BYOLConfig = {}) {
    super({ name: checkConfigObject('BYOL', config).name, seed: config.seed });
    const momentum = config.momentum ?? 0.996;
    if (!(typeof momentum === 'number' && momentum >= 0 && momentum <= 1)) {
      throw new Error(`BYOL: momentum must be a number in [0, 1], got ${String(momentum)}`);
    }
    const vit = vitOf(config);
    const proj = config.projectionSize ?? 256;
    const hidden = config.hiddenSize ?? 4096;
    const encoder = (name: string) =>
      new ProjectedViT({ vit, head: byolHeadConfig(vit.embedDim!, proj, hidden), seed: this.childSeed(name) });
    this.onlineEncoder = this.addModule('online_encoder', encoder('online_encoder'));
    this.onlinePredictor = this.addModule(
      'online_predictor',
      new MlpHead({ ...byolHeadConfig(proj, proj, hidden), seed: this.childSeed('online_predictor') }),
    );
    this.targetEncoder = this.addModule('target_encoder', encoder('target_encoder'));
    freezeWeights(this.targetEncoder);
    this.ema = new EMA(this.onlineEncoder.parameters(), this.targetEncoder.parameters(), { momentum });
    this.ema.update(0); // the target starts as a copy
  }

  /** `target = m * target + (1 - m) * online` over the parameters (not BatchNorm buffers); default the config's momentum. */
  updateTarget(m?: number): void {
    if (m !== undefined && !(typeof m === 'number' && m >= 0 && m <= 1)) {
      throw new Error(`BYOL.updateTarget: m must be a number in [0, 1], got ${String(m)}`);
    }
    this.ema.update(m);
  }

  /** Two views `[N, H, W, C]` -> loss, online predictions `p` and target projections `z`. */
  forward(x1: tf.Tensor, x2: tf.Tensor, options: SiameseForwardOptions = {}): SiameseOutput {
    const training = options.training ?? true;
    checkViews('BYOL.forward', x1, x2, training);
    return tf.tidy(() => {
      const p1 = this.onlinePredictor.forward(this.onlineEncoder.forward(x1, { training }), { training });
      const p2 = this.onlinePredictor.forward(this.onlineEncoder.forward(x2, { training }), { training });
      const z1 = this.targetEncoder.forward(x1, { training });
      const z2 = this.targetEncoder.forward(x2, { training });
      return { loss: byolLoss(p1, p2, z1, z2), p1, p2, z1, z2 };
    });
  }

  override call(): tf.Tensor {
    throw new Error('BYOL: call forward(x1, x2)');
  }

  override getConfig(): serialization.ConfigDict {
    return { ...super.getConfig() };
  }
}
serialization.registerClass(BYOL);
