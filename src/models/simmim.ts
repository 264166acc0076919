import * as tf from '@tensorflow/tfjs-core';
import { serialization } from '@tensorflow/tfjs-core';
import { LinearPixelShuffleDecoder } from '../decoders/pixel_shuffle.js';
import { Module, type Weight } from '../layers/module.js';
import { maskedL1Loss } from '../losses/masked_l1.js';
import { beitEncoderConfig, beitInitWeights, resolveBeitBackbone, forwardWithMaskToken, readPatchMask, type BeitBackboneConfig } from './beit.js';
import { VisionTransformer, type VitForwardOptions } from './vit.js';
import { checkTensorArg } from '../utils/config.js';

/**
 * Config of {@link SimMIM}: the BEiT-form encoder's options
 * ({@link BeitBackboneConfig}; SimMIM's ViT is BEiT's). Defaults are SimMIM's
 * ViT-B/16 pretraining (`simmim_pretrain__vit_base__img224__800ep`) with an
 * absolute position table; the released checkpoint's position form
 * (`USE_APE: False`, `USE_SHARED_RPB: True`) is in the preset
 * {@link simmimVitBasePatch16}. SimMIM adds no option of its own: the
 * decoder is fixed by `patchSize` (its upscale factor) and `inChans`.
 */
export interface SimMIMConfig extends BeitBackboneConfig {}

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
 * Position: a learned absolute table `encoder.pos_embed` (`useAbsPosEmb`,
 * the default) and/or BEiT's relative position bias, shared by all blocks
 * (`useSharedRelPosBias`, as SimMIM's released ViT, which has no absolute
 * table) or one per block (`useRelPosBias`).
 *
 * Weights (SimMIM's names): `encoder.patch_embed.proj`, `encoder.cls_token`,
 * `encoder.pos_embed`, `encoder.rel_pos_bias.relative_position_bias_table`,
 * `encoder.mask_token`, `encoder.blocks.N.*` (`gamma_1`, `attn.q_bias`,
 * `attn.v_bias`, `attn.relative_position_bias_table`, ...), `encoder.norm`,
 * `decoder.0.weight`, `decoder.0.bias`.
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
    resolveBeitBackbone('SimMIM', config);
    super({ name: config.name, seed: config.seed });
    const c: ResolvedSimMIMConfig = resolveBeitBackbone('SimMIM', config);
    const encoderConfig = beitEncoderConfig('SimMIM', c, this.childSeed('encoder'));
    this.config = c;
    this.maskToken = this.addParam('encoder.mask_token', [1, 1, c.embedDim], { kind: 'truncNormal', std: 0.02 });
    this.encoder = this.addModule('encoder', new VisionTransformer(encoderConfig));
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

  /** A re-seeded model redoes its own initialisation from the new seed. */
  protected override onReseed(): void {
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
    this.checkNotDisposed();
    checkTensorArg('SimMIM', name, x, { rank: 4, what: '[B, H, W, C] images (NHWC)' });
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

/**
 * SimMIM ViT-Base/16 at 224 px as released
 * (`simmim_pretrain__vit_base__img224__800ep`): D 768, depth 12, 12 heads,
 * layer scale 0.1, a shared relative position bias and no absolute table
 * (`USE_APE: False`, `USE_SHARED_RPB: True`), so the released checkpoint loads.
 */
export const simmimVitBasePatch16: Readonly<SimMIMConfig> = Object.freeze({
  imgSize: 224, patchSize: 16, embedDim: 768, depth: 12, numHeads: 12, mlpRatio: 4, initValues: 0.1,
  useAbsPosEmb: false, useSharedRelPosBias: true,
});
/**
 * A tiny SimMIM for 32 px images: patch 4 (an 8x8 grid), D 192, depth 12, 3
 * heads; use `SimMIMMasker({ inputSize: 32, maskPatchSize: 8, modelPatchSize: 4 })`.
 */
export const simmimTiny: Readonly<SimMIMConfig> = Object.freeze({
  imgSize: 32, patchSize: 4, embedDim: 192, depth: 12, numHeads: 3, mlpRatio: 4, initValues: 0.1,
});
