import * as tf from '@tensorflow/tfjs-core';
import { serialization } from '@tensorflow/tfjs-core';
import { LinearPixelShuffleDecoder } from '../decoders/pixel_shuffle.js';
import type { QkvBias } from '../layers/attention.js';
import { Module, type Weight } from '../layers/module.js';
import { toPair } from '../layers/patch_embed.js';
import { maskedL1Loss } from '../losses/masked_l1.js';
import { beitInitWeights, forwardWithMaskToken, readPatchMask } from './beit.js';
import { VisionTransformer, type VitForwardOptions } from './vit.js';

/** Config of {@link SimMIM}. Defaults are SimMIM's ViT-B/16 pretraining (`simmim_pretrain__vit_base__img224__800ep`). */
export interface SimMIMConfig {
  /** Image size, a number (square) or `[height, width]`. Default 224. */
  imgSize?: number | [number, number];
  /** Patch size `p`; also the decoder's upscale factor (SimMIM's `encoder_stride` for a ViT). Default 16. */
  patchSize?: number;
  /** Image channels `C`. Default 3. */
  inChans?: number;
  /** Width `D`. Default 768. */
  embedDim?: number;
  /** Blocks. Default 12. */
  depth?: number;
  /** Heads. Default 12. */
  numHeads?: number;
  /** MLP ratio. Default 4. */
  mlpRatio?: number;
  /** Bias form of `qkv`. Default `'qv'` (SimMIM's ViT is BEiT's: `q_bias`, `v_bias`). */
  qkvBias?: QkvBias;
  /** Layer-scale init (`gamma_1`/`gamma_2`), `null` for none. Default 0.1 (SimMIM ViT config `INIT_VALUES`). */
  initValues?: number | null;
  /** Stochastic depth at the last block, used with `training: true`. Default 0.1 (SimMIM ViT-B pretraining). */
  dropPathRate?: number;
  /** LayerNorm epsilon. Default 1e-6. */
  normEps?: number;
  /** Seed of every initial weight. Default 0. */
  seed?: number;
  /** Layer name. */
  name?: string;
}

/** Output of {@link SimMIM.forward}: new tensors, the caller disposes them (`tf.dispose(out)`). */
export type SimMIMOutput = {
  /** Scalar: mean L1 over the masked pixels (and channels). */
  loss: tf.Scalar;
  /** `[B, H, W, C]` the reconstruction of the whole image. */
  xRec: tf.Tensor4D;
};

/** The config with every default filled in and the image/grid size as `[height, width]`. */
export type ResolvedSimMIMConfig = Required<Omit<SimMIMConfig, 'name' | 'imgSize'>> & { imgSize: [number, number] };

/**
 * SimMIM (Xie et al. 2021, "SimMIM: A Simple Framework for Masked Image
 * Modeling"; microsoft/SimMIM `models/simmim.py` with
 * `VisionTransformerForSimMIM`): a BEiT-form ViT encoder in which the masked
 * patch embeddings are replaced by a learned mask token, a one-layer decoder
 * (1x1 conv + pixel shuffle, {@link LinearPixelShuffleDecoder}) that predicts
 * every pixel, and an L1 loss on the masked pixels only.
 *
 * MASK CONVENTION: 1 = masked, 0 = visible, at the model's patch grid
 * (`SimMIMMasker` repeats each 32 px mask unit to it).
 *
 * Stages: {@link SimMIM.forwardEncoder} (features `[B, H/p, W/p, D]`),
 * {@link SimMIM.forwardDecoder} (image), {@link SimMIM.forwardLoss},
 * {@link SimMIM.forward} (all three).
 *
 * Weights (SimMIM's names): `encoder.patch_embed.proj`, `encoder.cls_token`,
 * `encoder.pos_embed` (learned absolute table; SimMIM's released ViT uses a
 * shared relative position bias instead, not implemented here),
 * `encoder.mask_token`, `encoder.blocks.N.*` (`gamma_1`, `attn.q_bias`,
 * `attn.v_bias`, ...), `encoder.norm`, `decoder.0.weight`, `decoder.0.bias`.
 *
 * Shapes: `x: [B, H, W, C]`, `mask: [B, H/p, W/p]` or `[B, L]` -> `xRec: [B, H, W, C]`.
 */
export class SimMIM extends Module {
  static readonly className = 'MimkitSimMIM';
  /** Resolved config. */
  readonly config: ResolvedSimMIMConfig;
  /** The BEiT-form encoder (`encoder.*`). */
  readonly encoder: VisionTransformer;
  /** `encoder.mask_token` `[1, 1, D]`. */
  readonly maskToken: Weight;
  /** The 1x1 conv + pixel shuffle decoder (`decoder.0.*`). */
  readonly decoder: LinearPixelShuffleDecoder;

  constructor(config: SimMIMConfig = {}) {
    super({ name: config.name, seed: config.seed });
    const c: ResolvedSimMIMConfig = {
      imgSize: toPair('imgSize', 'SimMIM', config.imgSize ?? 224),
      patchSize: config.patchSize ?? 16,
      inChans: config.inChans ?? 3,
      embedDim: config.embedDim ?? 768,
      depth: config.depth ?? 12,
      numHeads: config.numHeads ?? 12,
      mlpRatio: config.mlpRatio ?? 4,
      qkvBias: config.qkvBias ?? 'qv',
      initValues: config.initValues === undefined ? 0.1 : config.initValues,
      dropPathRate: config.dropPathRate ?? 0.1,
      normEps: config.normEps ?? 1e-6,
      seed: config.seed ?? 0,
    };
    this.config = c;
    this.maskToken = this.addParam('encoder.mask_token', [1, 1, c.embedDim], { kind: 'truncNormal', std: 0.02 });
    this.encoder = this.addModule(
      'encoder',
      new VisionTransformer({
        imgSize: c.imgSize,
        patchSize: c.patchSize,
        inChans: c.inChans,
        embedDim: c.embedDim,
        depth: c.depth,
        numHeads: c.numHeads,
        mlpRatio: c.mlpRatio,
        qkvBias: c.qkvBias,
        initValues: c.initValues,
        layerScaleNaming: 'beit',
        posEmbed: 'learned',
        dropPathRate: c.dropPathRate,
        normEps: c.normEps,
        seed: this.childSeed('encoder'),
      }),
    );
    this.decoder = this.addModule(
      'decoder',
      new LinearPixelShuffleDecoder({
        inFeatures: c.embedDim,
        encoderStride: c.patchSize,
        outChans: c.inChans,
        seed: this.childSeed('decoder'),
      }),
    );
    this.initializeWeights();
  }

  /**
   * SimMIM's ViT initialisation (BEiT's scheme, {@link beitInitWeights}):
   * `trunc_normal(0.02)` tokens, position table and Linear weights, depth-scaled
   * `attn.proj`/`mlp.fc2`, LayerNorm 1/0; the patch projection and the decoder
   * conv keep PyTorch's Conv2d default, as upstream.
   */
  initializeWeights(): void {
    beitInitWeights(this, this.encoder, [this.maskToken], this.seed, false);
  }

  /** Throws, before any tensor work, unless `x` is `[B, H, W, C]` at the configured size and channels. */
  private checkImages(name: string, x: tf.Tensor): void {
    const [h, w] = this.config.imgSize;
    const C = this.config.inChans;
    if (!(x instanceof tf.Tensor) || x.rank !== 4 || x.shape[1] !== h || x.shape[2] !== w || x.shape[3] !== C) {
      throw new Error(
        `SimMIM: ${name} has ${x instanceof tf.Tensor ? `shape [${x.shape}]` : String(x)}, expected [B, ${h}, ${w}, ${C}] (imgSize ${h}x${w}, inChans ${C}, NHWC)`,
      );
    }
  }

  /** The mask as float32 0/1 `[B * L]`, validated (shape `[B, L]` or `[B, H/p, W/p]`, values 0/1). */
  private maskWeights(mask: tf.Tensor, batch: number): Float32Array {
    return readPatchMask('SimMIM', 'mask', mask, batch, this.encoder.gridSize).weights;
  }

  /**
   * SimMIM's encoder: mask tokens at the masked patches, class token and
   * position, blocks, norm; the patch tokens laid out as a feature map.
   *
   * @param x `[B, H, W, C]`.
   * @param mask `[B, H/p, W/p]` or `[B, L]`, 1 = masked.
   * @returns `[B, H/p, W/p, D]` (token `n` at row `n // (W/p)`, column `n % (W/p)`).
   */
  forwardEncoder(x: tf.Tensor, mask: tf.Tensor, options: VitForwardOptions = {}): tf.Tensor4D {
    this.checkImages('x', x);
    const B = x.shape[0]!;
    const w = this.maskWeights(mask, B);
    const [gh, gw] = this.encoder.gridSize;
    return tf.tidy(() => {
      const z = forwardWithMaskToken(this.encoder, this.maskToken.read(), x, tf.tensor2d(w, [B, gh * gw]), options);
      return tf.reshape(z, [B, gh, gw, this.config.embedDim]) as tf.Tensor4D;
    });
  }

  /** SimMIM's decoder: features `[B, H/p, W/p, D]` -> reconstruction `[B, H, W, C]`. */
  forwardDecoder(features: tf.Tensor): tf.Tensor4D {
    return this.decoder.forward(features);
  }

  /**
   * SimMIM's loss: `sum |x - xRec| * m / (sum m + 1e-5) / C` over pixels, `m`
   * the mask upsampled to pixels (counted once per pixel, not per channel).
   *
   * @param x `[B, H, W, C]`.
   * @param xRec `[B, H, W, C]`.
   * @param mask `[B, H/p, W/p]` or `[B, L]`, 1 = masked.
   */
  forwardLoss(x: tf.Tensor, xRec: tf.Tensor, mask: tf.Tensor): tf.Scalar {
    this.checkImages('x', x);
    this.checkImages('xRec', xRec);
    const B = x.shape[0]!;
    const w = this.maskWeights(mask, B);
    const [gh, gw] = this.encoder.gridSize;
    const m = tf.tensor3d(w, [B, gh, gw]);
    try {
      return maskedL1Loss(x, xRec, m, this.config.inChans);
    } finally {
      m.dispose();
    }
  }

  /**
   * The pretraining forward pass: encoder with mask tokens, one-layer
   * decoder, L1 on masked pixels.
   *
   * @param x `[B, H, W, C]`.
   * @param mask `[B, H/p, W/p]` or `[B, L]` 0/1 (float32, int32 or bool), 1 = masked.
   * @returns `{ loss, xRec [B, H, W, C] }` (new tensors).
   */
  forward(x: tf.Tensor, mask: tf.Tensor, options: VitForwardOptions = {}): SimMIMOutput {
    this.checkImages('x', x);
    this.maskWeights(mask, x.shape[0]!);
    const z = this.forwardEncoder(x, mask, options);
    try {
      const xRec = this.forwardDecoder(z);
      return { loss: this.forwardLoss(x, xRec, mask), xRec };
    } finally {
      z.dispose();
    }
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: { training?: boolean } = {}): tf.Tensor[] {
    if (!Array.isArray(inputs) || inputs.length !== 2) throw new Error('SimMIM.call: inputs must be [x, mask]');
    const out = this.forward(inputs[0]!, inputs[1]!, { training: kwargs.training });
    return [out.loss, out.xRec];
  }

  override getConfig(): serialization.ConfigDict {
    return { ...super.getConfig(), ...this.config };
  }
}
serialization.registerClass(SimMIM);

/** SimMIM ViT-Base/16 at 224 px (absolute position table here): D 768, depth 12, 12 heads, layer scale 0.1. */
export const simmimVitBasePatch16: Readonly<SimMIMConfig> = Object.freeze({
  imgSize: 224, patchSize: 16, embedDim: 768, depth: 12, numHeads: 12, mlpRatio: 4, initValues: 0.1,
});
/**
 * A tiny SimMIM for 32 px images: patch 4 (an 8x8 grid), D 192, depth 12, 3
 * heads; use `SimMIMMasker({ inputSize: 32, maskPatchSize: 8, modelPatchSize: 4 })`.
 */
export const simmimTiny: Readonly<SimMIMConfig> = Object.freeze({
  imgSize: 32, patchSize: 4, embedDim: 192, depth: 12, numHeads: 3, mlpRatio: 4, initValues: 0.1,
});
