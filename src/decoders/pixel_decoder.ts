import * as tf from '@tensorflow/tfjs-core';
import { serialization } from '@tensorflow/tfjs-core';
import type { QkvBias } from '../layers/attention.js';
import { Block } from '../layers/block.js';
import { LayerNorm } from '../layers/layer_norm.js';
import { Linear } from '../layers/linear.js';
import { Module, type Weight } from '../layers/module.js';
import { toPair } from '../layers/patch_embed.js';
import { sincosPosEmbed2dData } from '../layers/pos_embed.js';
import { restoreTokens } from '../ops/permute.js';
import type { Rng } from '../utils/random.js';
import {
  CONFIG_LIMITS,
  checkSize2d,
  checkTensorArg,
  checkTransformerStack,
  optionalBool,
  optionalOneOf,
  orDefault,
  requireConfig,
  requireInt,
} from '../utils/config.js';
import { resolveCheckpointing, runBlock, type Checkpointing } from '../layers/checkpoint.js';
import type { VitBackboneConfig } from '../models/vit.js';

/** Config of {@link PixelDecoder}. Defaults are MAE's (`mae_vit_*_dec512d8b`). */
export interface PixelDecoderConfig {
  /** Width of the encoder's latent tokens (the decoder's input). */
  encoderDim: number;
  /** Patch grid, `G` (square) or `[rows, cols]`: the number of positions to reconstruct. */
  gridSize: number | [number, number];
  /** Values predicted per patch, e.g. `p * p * C` for pixels (MAE's `decoder_pred` output). */
  outDim: number;
  /** Decoder width `Dd`. Default 512 (MAE: a narrow decoder is enough and cheap). */
  embedDim?: number;
  /** Decoder blocks. Default 8 (MAE's default; 1 block still fine-tunes well, but linear probing wants depth). */
  depth?: number;
  /** Attention heads per decoder block. Default 16 (MAE). */
  numHeads?: number;
  /** MLP hidden width ratio. Default 4. */
  mlpRatio?: number;
  /** Bias form of the decoder blocks' `qkv`. Default `'qkv'` (MAE: `qkv_bias=True`). */
  qkvBias?: QkvBias;
  /** Whether the latent starts with a class token (kept through the decoder, dropped from the output). Default `true` (MAE). */
  classToken?: boolean;
  /** LayerNorm epsilon. Default 1e-6 (MAE's `partial(nn.LayerNorm, eps=1e-6)`). */
  normEps?: number;
  /** Activation checkpointing of the decoder blocks, see {@link VitBackboneConfig.checkpointing}. Default `'auto'`. */
  checkpointing?: Checkpointing;
  /** Seed of the initial weights. Default 0. */
  seed?: number;
  /** Layer name. */
  name?: string;
}

/** Options of {@link PixelDecoder.forward}. */
export interface PixelDecoderForwardOptions {
  /** Training mode (drop path; none by default). Default false. */
  training?: boolean;
  /** Generator for drop path in this call. */
  rng?: Rng;
}

/** The config with every default filled in and the image/grid size as `[height, width]`. */
export type ResolvedPixelDecoderConfig = Required<Omit<PixelDecoderConfig, 'name' | 'gridSize'>> & { gridSize: [number, number] };

/**
 * MAE's lightweight transformer decoder (He et al. 2021, "Masked Autoencoders
 * Are Scalable Vision Learners", `models_mae.py` `forward_decoder`): it embeds
 * the encoder's latent of the VISIBLE patches, puts a shared learned
 * `mask_token` at every removed position (back in grid order), adds the fixed
 * sine-cosine `decoder_pos_embed`, runs `decoder_blocks`, `decoder_norm` and
 * the per-patch prediction `decoder_pred`.
 *
 * Weights (MAE's own names, so MAE checkpoints load unchanged):
 * `decoder_embed` (Linear `D -> Dd`), `mask_token` `[1, 1, Dd]`,
 * `decoder_pos_embed` `[1, P + L, Dd]` (fixed, non-trainable; stored as MAE
 * stores it), `decoder_blocks.<i>.*`, `decoder_norm`, `decoder_pred`
 * (Linear `Dd -> outDim`).
 *
 * Shapes: `latent: [B, P + K, D]` (K visible tokens in the encoder's order),
 * `idsRestore: int32 [B, L]` -> `[B, L, outDim]` in grid order, class token
 * dropped.
 */
export class PixelDecoder extends Module {
  static readonly className = 'MimkitPixelDecoder';
  /** Resolved config. */
  readonly config: ResolvedPixelDecoderConfig;
  /** Prefix tokens (1 with a class token). */
  readonly numPrefixTokens: number;
  /** Patches `L = rows * cols`. */
  readonly numPatches: number;
  /** `decoder_embed`: `D -> Dd`. */
  readonly decoderEmbed: Linear;
  /** `mask_token` `[1, 1, Dd]`. */
  readonly maskToken: Weight;
  /** `decoder_pos_embed` `[1, P + L, Dd]`, fixed. */
  readonly decoderPosEmbed: Weight;
  /** `decoder_blocks`. */
  readonly blocks: Block[];
  /** `decoder_norm`. */
  readonly decoderNorm: LayerNorm;
  /** `decoder_pred`: `Dd -> outDim`. */
  readonly decoderPred: Linear;
  /** Whether training steps recompute each decoder block in the backward pass (config `checkpointing`). */
  checkpointing: Checkpointing;

  constructor(config: PixelDecoderConfig) {
    requireConfig('PixelDecoder', config);
    requireInt('PixelDecoder', 'encoderDim', config.encoderDim, { min: 1, max: CONFIG_LIMITS.maxDim });
    requireInt('PixelDecoder', 'outDim', config.outDim, { min: 1, max: CONFIG_LIMITS.maxDim });
    checkSize2d('PixelDecoder', 'gridSize', config.gridSize, 4096);
    checkTransformerStack('PixelDecoder', { dim: ['embedDim', orDefault(config.embedDim, 512)], depth: ['depth', orDefault(config.depth, 8)], numHeads: ['numHeads', orDefault(config.numHeads, 16)], mlpRatio: ['mlpRatio', orDefault(config.mlpRatio, 4)] });
    optionalBool('PixelDecoder', 'classToken', config.classToken, true);
    optionalOneOf('PixelDecoder', 'checkpointing', config.checkpointing, 'auto', [true, false, 'auto'] as const);
    super({ name: config.name, seed: config.seed });
    const c: ResolvedPixelDecoderConfig = {
      encoderDim: config.encoderDim,
      gridSize: toPair('gridSize', 'PixelDecoder', config.gridSize),
      outDim: config.outDim,
      embedDim: config.embedDim ?? 512,
      depth: config.depth ?? 8,
      numHeads: config.numHeads ?? 16,
      mlpRatio: config.mlpRatio ?? 4,
      qkvBias: config.qkvBias ?? 'qkv',
      classToken: config.classToken ?? true,
      normEps: config.normEps ?? 1e-6,
      checkpointing: config.checkpointing ?? 'auto',
      seed: config.seed ?? 0,
    };
    for (const k of ['encoderDim', 'outDim', 'embedDim', 'numHeads'] as const) {
      if (!Number.isInteger(c[k]) || c[k] <= 0) throw new Error(`PixelDecoder: ${k} must be a positive integer, got ${c[k]}`);
    }
    if (!Number.isInteger(c.depth) || c.depth < 0) {
      throw new Error(`PixelDecoder: depth must be a non-negative integer, got ${c.depth}`);
    }
    if (c.embedDim % 4 !== 0) {
      throw new Error(`PixelDecoder: embedDim ${c.embedDim} must be a multiple of 4 (sine-cosine decoder_pos_embed)`);
    }
    if (c.embedDim % c.numHeads !== 0) {
      throw new Error(`PixelDecoder: embedDim ${c.embedDim} is not divisible by numHeads ${c.numHeads}`);
    }
    this.config = c;
    this.checkpointing = c.checkpointing;
    this.numPrefixTokens = c.classToken ? 1 : 0;
    this.numPatches = c.gridSize[0] * c.gridSize[1];
    const Dd = c.embedDim;
    this.decoderEmbed = this.addModule(
      'decoder_embed',
      new Linear({ inFeatures: c.encoderDim, outFeatures: Dd, seed: this.childSeed('decoder_embed') }),
    );
    this.maskToken = this.addParam('mask_token', [1, 1, Dd], { kind: 'normal', std: 0.02 });
    this.decoderPosEmbed = this.addParam(
      'decoder_pos_embed',
      [1, this.numPrefixTokens + this.numPatches, Dd],
      { kind: 'values', values: sincosPosEmbed2dData(Dd, c.gridSize, this.numPrefixTokens) },
      { trainable: false },
    );
    this.blocks = [];
    for (let i = 0; i < c.depth; i++) {
      this.blocks.push(
        this.addModule(
          `decoder_blocks.${i}`,
          new Block({
            dim: Dd,
            numHeads: c.numHeads,
            mlpRatio: c.mlpRatio,
            qkvBias: c.qkvBias,
            normEps: c.normEps,
            seed: this.childSeed(`decoder_blocks.${i}`),
          }),
        ),
      );
    }
    this.decoderNorm = this.addModule('decoder_norm', new LayerNorm({ dim: Dd, eps: c.normEps }));
    this.decoderPred = this.addModule(
      'decoder_pred',
      new Linear({ inFeatures: Dd, outFeatures: c.outDim, seed: this.childSeed('decoder_pred') }),
    );
  }

  /** Throws, before any tensor work, unless `latent` and `idsRestore` fit this decoder. */
  private validate(latent: tf.Tensor, idsRestore: tf.Tensor): void {
    const { encoderDim } = this.config;
    const P = this.numPrefixTokens;
    const L = this.numPatches;
    if (!(latent instanceof tf.Tensor) || latent.rank !== 3 || latent.shape[2] !== encoderDim) {
      throw new Error(
        `PixelDecoder: latent must be [B, ${P} + K, encoderDim=${encoderDim}], got ${latent instanceof tf.Tensor ? `shape [${latent.shape}]` : String(latent)}`,
      );
    }
    const [b, t] = latent.shape as [number, number, number];
    if (!(idsRestore instanceof tf.Tensor) || idsRestore.rank !== 2 || idsRestore.shape[0] !== b || idsRestore.shape[1] !== L) {
      throw new Error(
        `PixelDecoder: idsRestore must be int32 [B=${b}, L=${L}], got ${idsRestore instanceof tf.Tensor ? `shape [${idsRestore.shape}]` : String(idsRestore)}`,
      );
    }
    if (idsRestore.dtype !== 'int32') throw new Error(`PixelDecoder: idsRestore must have dtype int32, got ${idsRestore.dtype}`);
    if (t < P + 1 || t - P > L) {
      throw new Error(`PixelDecoder: latent has ${t} tokens (shape [${latent.shape}]), expected ${P} prefix + 1..${L} visible tokens`);
    }
  }

  /**
   * MAE's `forward_decoder`.
   *
   * @param latent `[B, P + K, D]`: the encoder output (class token first,
   *   then the K visible tokens in the encoder's (ascending-noise) order).
   * @param idsRestore int32 `[B, L]`: grid position `i` takes element
   *   `idsRestore[b, i]` of `[visible tokens, mask tokens]`.
   * @returns `[B, L, outDim]` predictions in grid order (class token dropped).
   */
  forward(latent: tf.Tensor, idsRestore: tf.Tensor2D, options: PixelDecoderForwardOptions = {}): tf.Tensor3D {
    checkTensorArg('PixelDecoder.forward', 'latent', latent, { rank: 3, what: '[B, P + lenKeep, encoderDim]' });
    checkTensorArg('PixelDecoder.forward', 'idsRestore', idsRestore, { rank: 2, dtypes: ['int32'], what: '[B, L]' });
    this.validate(latent, idsRestore);
    return tf.tidy(() => {
      const P = this.numPrefixTokens;
      const [b, t] = latent.shape as [number, number, number];
      const Dd = this.config.embedDim;
      const x = this.decoderEmbed.forward(latent) as tf.Tensor3D;
      const visible = tf.slice(x, [0, P, 0], [b, t - P, Dd]);
      // Mask tokens appended after the visible tokens, then unshuffled to grid order.
      let h: tf.Tensor = restoreTokens(visible, this.maskToken.read() as tf.Tensor3D, idsRestore);
      if (P > 0) h = tf.concat([tf.slice(x, [0, 0, 0], [b, P, Dd]), h], 1);
      h = tf.add(h, this.decoderPosEmbed.read());
      const ckpt = resolveCheckpointing(this.checkpointing, this.blocks, h, options.training);
      for (const blk of this.blocks) h = runBlock(blk, h, { training: options.training, rng: options.rng }, ckpt).out;
      const pred = this.decoderPred.forward(this.decoderNorm.forward(h));
      return tf.slice(pred, [0, P, 0], [b, this.numPatches, this.config.outDim]) as tf.Tensor3D;
    });
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: { training?: boolean } = {}): tf.Tensor {
    if (!Array.isArray(inputs) || inputs.length !== 2) {
      throw new Error('PixelDecoder.call: inputs must be [latent, idsRestore]');
    }
    return this.forward(inputs[0]!, inputs[1] as tf.Tensor2D, { training: kwargs.training });
  }

  override computeOutputShape(shape: (number | null)[] | (number | null)[][]): (number | null)[] {
    const first = (Array.isArray(shape[0]) ? shape[0] : shape) as (number | null)[];
    return [first[0] ?? null, this.numPatches, this.config.outDim];
  }

  override getConfig(): serialization.ConfigDict {
    return { ...super.getConfig(), ...this.config };
  }
}
serialization.registerClass(PixelDecoder);
