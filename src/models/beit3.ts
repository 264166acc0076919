import * as tf from '@tensorflow/tfjs-core';
import { serialization } from '@tensorflow/tfjs-core';
import { TokenHead } from '../decoders/token_head.js';
import { keyPaddingMask } from '../layers/attention_mask.js';
import { LayerNorm } from '../layers/layer_norm.js';
import { Module, type Weight } from '../layers/module.js';
import { Multiway, MultiwayBlock } from '../layers/multiway.js';
import { toPair } from '../layers/patch_embed.js';
import { patchify } from '../layers/patchify.js';
import { maskedCrossEntropy } from '../losses/masked_cross_entropy.js';
import { linear } from '../ops/matmul.js';
import type { VisualTokenizer } from '../tokenizers/types.js';
import type { Rng } from '../utils/random.js';
import { readPatchMask } from './beit.js';
import { checkConfigObject, optionalOneOf } from '../utils/config.js';
import { checkpoint, refuseDropPath, resolveCheckpointing, type Checkpointing } from '../layers/checkpoint.js';
import { hostValues } from '../utils/host_values.js';

/**
 * BEiT-3 (Wang et al. 2023, "Image as a Foreign Language: BEiT Pretraining
 * for All Vision and Vision-Language Tasks") in torchscale's form
 * (`torchscale/model/BEiT3.py` `BEiT3`, as unilm's `beit3/modeling_utils.py`
 * `BEiT3Wrapper` builds it): one Multiway Transformer over image patches and
 * text tokens.
 */

/**
 * Config of {@link BEiT3}, torchscale's `EncoderConfig` meanings (its names
 * in parentheses). Defaults: BEiT-3 base (`_get_base_config`,
 * `beit3_base_patch16_224`).
 */
export interface BEiT3Config {
  /** Image side in pixels, or `[height, width]` (`img_size`). Default 224. */
  imgSize?: number | [number, number];
  /** Patch size (`patch_size`). Default 16. */
  patchSize?: number;
  /** Image channels (`in_chans`). Default 3. */
  inChans?: number;
  /** Token width `D` (`encoder_embed_dim`). Default 768. */
  embedDim?: number;
  /** Number of Multiway layers (`encoder_layers`). Default 12. */
  layers?: number;
  /** Attention heads (`encoder_attention_heads`). Default 12. */
  heads?: number;
  /** FFN hidden width (`encoder_ffn_embed_dim`). Default `4 * embedDim` (3072 for base). */
  ffnDim?: number;
  /** Text vocabulary (`vocab_size`). Default 64010 (BEiT-3's SentencePiece vocabulary). */
  vocabSize?: number;
  /**
   * Rows of the text position table `encoder.embed_positions.B`
   * (`max_source_positions`). Default 1024. Positions start at row 2
   * (fairseq), so a text holds at most `maxSourcePositions - 2` tokens.
   */
  maxSourcePositions?: number;
  /** Sub-LN in every layer (`subln`). Default `true`. */
  subln?: boolean;
  /** Epsilon of every LayerNorm (`layernorm_eps`). Default 1e-5. */
  layernormEps?: number;
  /**
   * Stochastic depth, linearly from 0 at the first layer to this value at
   * the last (`drop_path_rate`, torchscale's `torch.linspace`), used with
   * `training: true`. Default 0.
   */
  dropPathRate?: number;
  /**
   * Activation checkpointing of every Multiway layer (see the ViT's
   * `checkpointing`): the backward pass recomputes each layer instead of
   * keeping its intermediates, about a third more compute for a fraction of
   * the memory; gradients are unchanged. Not with drop path in training.
   * Default `'auto'`: on only when the estimated training memory of the
   * layers exceeds 1 GiB ({@link layers.resolveCheckpointing | resolveCheckpointing}).
   */
  checkpointing?: Checkpointing;
  /** Seed of the initial weights. Default 0. */
  seed?: number;
  /** Layer name. */
  name?: string;
}

/** A {@link BEiT3Config} with every default filled in and `imgSize` as `[height, width]`. */
export type ResolvedBEiT3Config = Required<Omit<BEiT3Config, 'name' | 'imgSize'>> & { imgSize: [number, number] };

/**
 * The inputs of {@link BEiT3.forwardFeatures}: an image, a text, or both
 * (torchscale `BEiT3.forward`'s `visual_tokens`, `textual_tokens`,
 * `text_padding_position`, `vision_masked_position`).
 */
export type Beit3Inputs = {
  /** `[B, H, W, C]` image (NHWC, the library's layout). */
  image?: tf.Tensor;
  /** int32 `[B, L]` token ids in `[0, vocabSize)`, `L <= maxSourcePositions - 2`. */
  text?: tf.Tensor;
  /**
   * `[B, L]` (bool, int32 or float32 0/1): 1 = padding (needs `text`). Padded
   * tokens are zeroed after the embedding and no query attends to them.
   */
  textPaddingPosition?: tf.Tensor;
  /**
   * `[B, Np]` or `[B, H/p, W/p]` (bool, int32 or float32 0/1): 1 = the patch
   * embedding is replaced by `vision_embed.mask_token` (needs `image`).
   */
  visionMaskedPosition?: tf.Tensor;
};

/** Options of {@link BEiT3.forwardFeatures}. */
export interface Beit3ForwardOptions {
  /** Training mode (drop path). Default `false`. */
  training?: boolean;
  /** Generator for drop path in this call. */
  rng?: Rng;
  /** Also return every layer's attention probabilities. Default `false`. */
  returnAttention?: boolean;
}

/** Output of {@link BEiT3.forwardFeatures}: new tensors, the caller disposes them. */
export type Beit3Features = {
  /**
   * `[B, T, D]` after the final multiway LayerNorm (torchscale's
   * `encoder_out`): `1 + Np` vision tokens (class token first) when there is
   * an image, then the `L` text tokens, padded ones included.
   */
  encoderOut: tf.Tensor3D;
  /** Tokens before it used the vision experts `A`, the rest `B`: `1 + Np` for image-text, -1 image only, 0 text only. */
  multiwaySplitPosition: number;
  /** Every layer's `[B, heads, T, T]` attention probabilities, with `returnAttention`. */
  attentions?: tf.Tensor4D[];
};

/** What {@link BEiT3.checkInputs} returns: sizes and host copies of the masks. */
export interface Beit3CheckedInputs {
  batch: number;
  textLen: number;
  padding: Float32Array | null;
  masked: Float32Array | null;
  maskedRows: Int32Array;
}

/**
 * torchscale's `VisionEmbedding` with a class token and a mask token:
 * a conv patch projection (kernel = stride = `p`, with bias; computed as
 * patchify + one matrix product), masked patches replaced by `mask_token`
 * (`t * (1 - w) + mask_token * w`), then `cls_token` prepended.
 * Weights: `proj.weight` (PyTorch `[D, C, p, p]`, layout `convMatrix`),
 * `proj.bias`, `cls_token` `[1, 1, D]`, `mask_token` `[1, 1, D]`. Init as
 * upstream: PyTorch's Conv2d default (`U(+-1/sqrt(C p p))` for weight and
 * bias), both tokens zero.
 *
 * Shapes: `[B, H, W, C]`, mask `[B, Np]` -> `[B, 1 + Np, D]`.
 */
export class Beit3VisionEmbedding extends Module {
  static readonly className = 'MimkitBeit3VisionEmbedding';
  /** Resolved config. */
  readonly config: { imgSize: [number, number]; patchSize: number; inChans: number; embedDim: number; seed: number };
  /** Patch grid `[rows, cols]`. */
  readonly gridSize: [number, number];
  /** `Np`. */
  readonly numPatches: number;
  /** `proj.weight` `[p*p*C, D]`. */
  readonly weight: Weight;
  /** `proj.bias` `[D]`. */
  readonly bias: Weight;
  /** `cls_token` `[1, 1, D]`. */
  readonly clsToken: Weight;
  /** `mask_token` `[1, 1, D]`. */
  readonly maskToken: Weight;

  constructor(config: { imgSize: number | [number, number]; patchSize: number; inChans: number; embedDim: number; seed?: number; name?: string }) {
    super({ name: config.name, seed: config.seed });
    const imgSize = toPair('imgSize', 'Beit3VisionEmbedding', config.imgSize);
    const { patchSize: p, inChans, embedDim } = config;
    for (const [k, v] of [['patchSize', p], ['inChans', inChans], ['embedDim', embedDim]] as const) {
      if (!Number.isInteger(v) || v <= 0) throw new Error(`Beit3VisionEmbedding: ${k} must be a positive integer, got ${String(v)}`);
    }
    if (imgSize[0] % p !== 0 || imgSize[1] % p !== 0) {
      throw new Error(`Beit3VisionEmbedding: imgSize ${imgSize[0]}x${imgSize[1]} is not divisible by patchSize ${p}`);
    }
    this.config = { imgSize, patchSize: p, inChans, embedDim, seed: config.seed ?? 0 };
    this.gridSize = [imgSize[0] / p, imgSize[1] / p];
    this.numPatches = this.gridSize[0] * this.gridSize[1];
    const fanIn = inChans * p * p;
    const bound = 1 / Math.sqrt(fanIn);
    this.weight = this.addParam('proj.weight', [fanIn, embedDim], { kind: 'uniform', low: -bound, high: bound }, {
      layout: { kind: 'convMatrix', kh: p, kw: p, inChannels: inChans },
    });
    this.bias = this.addParam('proj.bias', [embedDim], { kind: 'uniform', low: -bound, high: bound });
    this.clsToken = this.addParam('cls_token', [1, 1, embedDim], { kind: 'zeros' });
    this.maskToken = this.addParam('mask_token', [1, 1, embedDim], { kind: 'zeros' });
  }

  /**
   * `imgs [B, H, W, C]` and an optional float32 mask `[B, Np]` (1 = masked)
   * -> `[B, 1 + Np, D]`. The image size must be the configured one.
   */
  forward(imgs: tf.Tensor, masked?: tf.Tensor): tf.Tensor3D {
    const { imgSize, inChans, patchSize } = this.config;
    if (!(imgs instanceof tf.Tensor) || imgs.rank !== 4 || imgs.shape[1] !== imgSize[0] || imgs.shape[2] !== imgSize[1] || imgs.shape[3] !== inChans) {
      throw new Error(
        `Beit3VisionEmbedding: imgs must be [B, ${imgSize[0]}, ${imgSize[1]}, ${inChans}] (NHWC, imgSize ${imgSize[0]}x${imgSize[1]}), got ` +
          `${imgs instanceof tf.Tensor ? `shape [${imgs.shape}]` : String(imgs)}`,
      );
    }
    const b = imgs.shape[0]!;
    if (masked !== undefined && (masked.rank !== 2 || masked.shape[0] !== b || masked.shape[1] !== this.numPatches)) {
      throw new Error(`Beit3VisionEmbedding: masked must be [B=${b}, Np=${this.numPatches}], got shape [${masked.shape}]`);
    }
    return tf.tidy(() => {
      let t = linear(patchify(imgs, patchSize), this.weight.read(), this.bias.read());
      if (masked !== undefined) {
        const w = tf.expandDims(tf.cast(masked, 'float32'), 2);
        t = tf.add(tf.mul(t, tf.sub(1, w)), tf.mul(this.maskToken.read(), w));
      }
      const cls = tf.tile(this.clsToken.read(), [b, 1, 1]);
      return tf.concat([cls, t], 1) as tf.Tensor3D;
    });
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return this.forward(Array.isArray(inputs) ? inputs[0]! : inputs);
  }

  override getConfig(): serialization.ConfigDict {
    return { ...super.getConfig(), ...this.config };
  }
}
serialization.registerClass(Beit3VisionEmbedding);

/** Fills in {@link BEiT3Config}'s defaults and validates it (before any weight exists). */
export function resolveBeit3Config(who: string, config: BEiT3Config): ResolvedBEiT3Config {
  const embedDim = config.embedDim ?? 768;
  const c: ResolvedBEiT3Config = {
    imgSize: toPair('imgSize', who, config.imgSize ?? 224),
    patchSize: config.patchSize ?? 16,
    inChans: config.inChans ?? 3,
    embedDim,
    layers: config.layers ?? 12,
    heads: config.heads ?? 12,
    ffnDim: config.ffnDim ?? 4 * embedDim,
    vocabSize: config.vocabSize ?? 64010,
    maxSourcePositions: config.maxSourcePositions ?? 1024,
    subln: config.subln ?? true,
    layernormEps: config.layernormEps ?? 1e-5,
    dropPathRate: config.dropPathRate ?? 0,
    checkpointing: optionalOneOf(who, 'checkpointing', config.checkpointing, 'auto' as Checkpointing, [true, false, 'auto']),
    seed: config.seed ?? 0,
  };
  for (const k of ['patchSize', 'inChans', 'embedDim', 'layers', 'heads', 'ffnDim'] as const) {
    if (!Number.isInteger(c[k]) || c[k] <= 0) throw new Error(`${who}: ${k} must be a positive integer, got ${String(c[k])}`);
  }
  if (c.embedDim % c.heads !== 0) throw new Error(`${who}: heads=${c.heads} must divide embedDim=${c.embedDim}`);
  if (!Number.isInteger(c.vocabSize) || c.vocabSize < 1) throw new Error(`${who}: vocabSize must be a positive integer, got ${String(c.vocabSize)}`);
  if (!Number.isInteger(c.maxSourcePositions) || c.maxSourcePositions < 3) {
    throw new Error(`${who}: maxSourcePositions must be an integer >= 3 (rows 0 and 1 are never used), got ${String(c.maxSourcePositions)}`);
  }
  if (typeof c.subln !== 'boolean') throw new Error(`${who}: subln must be a boolean, got ${String(c.subln)}`);
  if (!(typeof c.layernormEps === 'number' && c.layernormEps > 0)) {
    throw new Error(`${who}: layernormEps must be a positive number (BEiT-3 uses 1e-5), got ${String(c.layernormEps)}`);
  }
  if (!(typeof c.dropPathRate === 'number' && c.dropPathRate >= 0 && c.dropPathRate < 1)) {
    throw new Error(`${who}: dropPathRate must be a number in [0, 1), got ${String(c.dropPathRate)}`);
  }
  return c;
}

/** A `[B, L]` 0/1 mask (bool, int32 or float32) read on the host and validated; 1 = `what`. */
function readZeroOne(who: string, name: string, m: unknown, b: number, l: number, what: string): Float32Array {
  if (!(m instanceof tf.Tensor) || m.rank !== 2 || m.shape[0] !== b || m.shape[1] !== l) {
    throw new Error(`${who}: ${name} must be [B=${b}, L=${l}] (1 = ${what}), got ${m instanceof tf.Tensor ? `shape [${m.shape}]` : String(m)}`);
  }
  if (m.dtype !== 'bool' && m.dtype !== 'int32' && m.dtype !== 'float32') {
    throw new Error(`${who}: ${name} must be bool, int32 or float32, got ${m.dtype}`);
  }
  const data = hostValues(m);
  const out = new Float32Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const v = Number(data[i]);
    if (v !== 0 && v !== 1) throw new Error(`${who}: ${name} must hold only 0 and 1 (1 = ${what}), got ${v} at [${Math.floor(i / l)}][${i % l}]`);
    out[i] = v;
  }
  return out;
}

/** First row of a position table that is used (fairseq's offset: rows 0 and 1 are padding and unused). */
const POSITION_OFFSET = 2;

/**
 * The BEiT-3 backbone (torchscale `BEiT3`; unilm `BEiT3Wrapper.beit3`): a
 * Multiway Transformer encoder over the image's class token and patches and
 * the text's tokens jointly.
 *
 * 1. Vision: patch embedding, masked patches replaced by the mask token,
 *    class token prepended, plus rows `2 .. 2 + Np` of
 *    `encoder.embed_positions.A` (fairseq positions start at 2).
 * 2. Text: `text_embed` rows of the ids plus rows `2 .. 1 + L` of
 *    `encoder.embed_positions.B`.
 * 3. Vision tokens then text tokens; the multiway split is at `1 + Np` for
 *    image-text (vision experts `A` before, language experts `B` after), -1
 *    for an image alone (all `A`), 0 for a text alone (all `B`).
 * 4. Padded text tokens are zeroed and, in every layer, masked as keys
 *    (`keyPaddingMask`: no token attends to padding); padded queries are
 *    computed like the others.
 * 5. `layers` pre-norm {@link MultiwayBlock}s (sub-LN by default), then the
 *    multiway `encoder.layer_norm`.
 *
 * No embedding scale or LayerNorm, no relative position bias, no output
 * layer (`_get_base_config`). Not included: the vision-language FFN expert
 * that the paper adds in the top layers (torchscale's `BEiT3` and the
 * released checkpoints have none).
 *
 * Weights, torchscale's names (unilm's checkpoints put `beit3.` in front:
 * load them with `beit3Converter`): `text_embed.weight` `[vocab, D]`,
 * `vision_embed.{proj.weight, proj.bias, cls_token, mask_token}`,
 * `encoder.embed_positions.A.weight` `[Np + 3, D]`,
 * `encoder.embed_positions.B.weight` `[maxSourcePositions, D]`,
 * `encoder.layers.<i>.*` (see {@link MultiwayBlock}),
 * `encoder.layer_norm.{A,B}.*`. Init as upstream: Linear
 * `trunc_normal(0.02)`, zero biases, LayerNorm 1/0, `text_embed`
 * `N(0, D^-0.5)`, position tables `N(0, 1)` (PyTorch's `nn.Embedding`),
 * conv as PyTorch's default, zero class and mask tokens.
 *
 * Shapes: `image [B, H, W, C]` (NHWC), `text [B, L]` ->
 * `encoderOut [B, T, D]`, `T = (1 + Np if image) + (L if text)`.
 */
export class BEiT3 extends Module {
  static readonly className = 'MimkitBEiT3';
  /** Resolved config. */
  readonly config: ResolvedBEiT3Config;
  /** `text_embed.weight` `[vocabSize, D]`. */
  readonly textEmbed: Weight;
  /** `vision_embed`. */
  readonly visionEmbed: Beit3VisionEmbedding;
  /** `encoder.embed_positions.A.weight` `[Np + 3, D]` (vision). */
  readonly visionPositions: Weight;
  /** `encoder.embed_positions.B.weight` `[maxSourcePositions, D]` (text). */
  readonly textPositions: Weight;
  /** `encoder.layers.<i>`. */
  readonly layers: MultiwayBlock[] = [];
  /** `encoder.layer_norm` (multiway). */
  readonly layerNorm: Multiway<LayerNorm>;
  /** Whether training steps recompute each layer in the backward pass (config `checkpointing`; mutable). */
  checkpointing: Checkpointing;

  constructor(config: BEiT3Config = {}) {
    super({ name: checkConfigObject('BEiT3', config).name, seed: config.seed });
    const c = resolveBeit3Config('BEiT3', config);
    this.config = c;
    this.checkpointing = c.checkpointing;
    const D = c.embedDim;
    this.textEmbed = this.addParam('text_embed.weight', [c.vocabSize, D], { kind: 'normal', std: D ** -0.5 });
    this.visionEmbed = this.addModule(
      'vision_embed',
      new Beit3VisionEmbedding({ imgSize: c.imgSize, patchSize: c.patchSize, inChans: c.inChans, embedDim: D, seed: this.childSeed('vision_embed') }),
    );
    this.visionPositions = this.addParam('encoder.embed_positions.A.weight', [this.visionEmbed.numPatches + 1 + POSITION_OFFSET, D], {
      kind: 'normal',
      std: 1,
    });
    this.textPositions = this.addParam('encoder.embed_positions.B.weight', [c.maxSourcePositions, D], { kind: 'normal', std: 1 });
    for (let i = 0; i < c.layers; i++) {
      const key = `encoder.layers.${i}`;
      const dropPath = c.layers > 1 ? (c.dropPathRate * i) / (c.layers - 1) : 0;
      this.layers.push(
        this.addModule(
          key,
          new MultiwayBlock({
            embedDim: D,
            heads: c.heads,
            ffnDim: c.ffnDim,
            subln: c.subln,
            layernormEps: c.layernormEps,
            dropPath,
            seed: this.childSeed(key),
          }),
        ),
      );
    }
    this.layerNorm = this.addModule(
      'encoder.layer_norm',
      new Multiway<LayerNorm>({
        seed: this.childSeed('encoder.layer_norm'),
        create: (_e, seed) => new LayerNorm({ dim: D, eps: c.layernormEps, seed }),
      }),
    );
  }

  /** Patches per image `Np`. */
  get numPatches(): number {
    return this.visionEmbed.numPatches;
  }

  /** The longest text: `maxSourcePositions - 2`. */
  get maxTextLength(): number {
    return this.config.maxSourcePositions - POSITION_OFFSET;
  }

  /** Validates every input (shapes, batch sizes, ids, 0/1 masks) before any tensor work. */
  checkInputs(who: string, inputs: Beit3Inputs): Beit3CheckedInputs {
    if (inputs === null || typeof inputs !== 'object') {
      throw new Error(`${who}: inputs must be an object { image?, text?, textPaddingPosition?, visionMaskedPosition? }, got ${String(inputs)}`);
    }
    const { image, text, textPaddingPosition: pad, visionMaskedPosition: vmask } = inputs;
    if (image === undefined && text === undefined) throw new Error(`${who}: inputs need an image, a text or both, got neither`);
    const { imgSize, inChans, vocabSize } = this.config;
    let batch = -1;
    if (image !== undefined) {
      if (!(image instanceof tf.Tensor) || image.rank !== 4 || image.shape[1] !== imgSize[0] || image.shape[2] !== imgSize[1] || image.shape[3] !== inChans) {
        throw new Error(
          `${who}: inputs.image must be [B, ${imgSize[0]}, ${imgSize[1]}, ${inChans}] (NHWC, imgSize ${imgSize[0]}x${imgSize[1]}, inChans ${inChans}), got ` +
            `${image instanceof tf.Tensor ? `shape [${image.shape}]` : String(image)}`,
        );
      }
      if (image.dtype !== 'float32') throw new Error(`${who}: inputs.image must be float32, got ${image.dtype}`);
      batch = image.shape[0]!;
    }
    let textLen = 0;
    if (text !== undefined) {
      if (!(text instanceof tf.Tensor) || text.rank !== 2 || text.dtype !== 'int32') {
        throw new Error(
          `${who}: inputs.text must be an int32 tensor [B, L] of token ids, got ${text instanceof tf.Tensor ? `${text.dtype} shape [${text.shape}]` : String(text)}`,
        );
      }
      const [b, l] = text.shape as [number, number];
      if (batch >= 0 && b !== batch) {
        throw new Error(`${who}: inputs.text has batch size ${b} but inputs.image has ${batch}; an image-text batch needs one text per image`);
      }
      if (l < 1 || l > this.maxTextLength) {
        throw new Error(`${who}: inputs.text has length ${l}, expected 1 <= L <= maxSourcePositions - 2 = ${this.maxTextLength}`);
      }
      const ids = hostValues(text);
      for (let i = 0; i < ids.length; i++) {
        const v = ids[i]!;
        if (v < 0 || v >= vocabSize) {
          throw new Error(`${who}: inputs.text[${Math.floor(i / l)}][${i % l}] = ${v} is outside the vocabulary [0, vocabSize=${vocabSize})`);
        }
      }
      batch = b;
      textLen = l;
    }
    let padding: Float32Array | null = null;
    if (pad !== undefined) {
      if (text === undefined) throw new Error(`${who}: inputs.textPaddingPosition needs inputs.text`);
      padding = readZeroOne(who, 'inputs.textPaddingPosition', pad, batch, textLen, 'padding');
    }
    let masked: Float32Array | null = null;
    let maskedRows: Int32Array = new Int32Array(0);
    if (vmask !== undefined) {
      if (image === undefined) throw new Error(`${who}: inputs.visionMaskedPosition needs inputs.image`);
      const r = readPatchMask(who, 'inputs.visionMaskedPosition', vmask, batch, this.visionEmbed.gridSize);
      masked = r.weights;
      maskedRows = r.rows;
    }
    return { batch, textLen, padding, masked, maskedRows };
  }

  /** `forwardFeatures` after validation. */
  private features(inputs: Beit3Inputs, chk: Beit3CheckedInputs, options: Beit3ForwardOptions): Beit3Features {
    const { batch: B, textLen: L, padding, masked } = chk;
    const Np = this.numPatches;
    const D = this.config.embedDim;
    const hasImage = inputs.image !== undefined;
    const hasText = inputs.text !== undefined;
    const split = hasImage && hasText ? 1 + Np : hasImage ? -1 : 0;
    const r = tf.tidy(() => {
      const parts: tf.Tensor[] = [];
      if (hasImage) {
        const w = masked ? tf.tensor2d(masked, [B, Np]) : undefined;
        const v = this.visionEmbed.forward(inputs.image!, w);
        parts.push(tf.add(v, tf.slice(this.visionPositions.read(), [POSITION_OFFSET, 0], [1 + Np, D])));
      }
      if (hasText) {
        const ids = tf.reshape(inputs.text!, [B * L]);
        const t = tf.reshape(tf.gather(this.textEmbed.read(), ids), [B, L, D]);
        parts.push(tf.add(t, tf.slice(this.textPositions.read(), [POSITION_OFFSET, 0], [L, D])));
      }
      let x = parts.length === 1 ? parts[0]! : tf.concat(parts, 1);
      let attnMask: tf.Tensor | undefined;
      if (padding) {
        const pad = tf.tensor2d(padding, [B, L]);
        const full = hasImage ? tf.concat([tf.zeros([B, 1 + Np]), pad], 1) : pad;
        x = tf.mul(x, tf.expandDims(tf.sub(1, full), 2));
        attnMask = keyPaddingMask(full);
      }
      const attentions: tf.Tensor[] = [];
      // Attention maps are forward-only: no checkpointing when they are asked for.
      const ckpt = options.returnAttention !== true && resolveCheckpointing(this.checkpointing, this.layers, x, options.training);
      for (const layer of this.layers) {
        if (ckpt) {
          refuseDropPath(layer, options.training, 'BEiT3 checkpointing');
          const fwd = (t: tf.Tensor, ...m: tf.Tensor[]): tf.Tensor =>
            layer.forward(t, { splitPosition: split, attnMask: m[0], training: options.training }).out;
          x = checkpoint(layer, fwd, x, ...(attnMask ? [attnMask] : []));
          continue;
        }
        const o = layer.forward(x, {
          splitPosition: split,
          attnMask,
          training: options.training,
          rng: options.rng,
          returnAttention: options.returnAttention,
        });
        x = o.out;
        if (o.attn) attentions.push(o.attn);
      }
      const out = this.layerNorm.forward(x, split);
      return { out, attentions };
    });
    return {
      encoderOut: r.out as tf.Tensor3D,
      multiwaySplitPosition: split,
      ...(options.returnAttention === true ? { attentions: r.attentions as tf.Tensor4D[] } : {}),
    };
  }

  /**
   * The encoder over an image, a text or both (torchscale `BEiT3.forward`).
   * Every input is validated first (shapes, matching batch sizes, ids inside
   * the vocabulary, 0/1 masks); nothing is allocated when one is wrong.
   *
   * @returns `encoderOut [B, T, D]` and the split position (new tensors).
   */
  forwardFeatures(inputs: Beit3Inputs, options: Beit3ForwardOptions = {}): Beit3Features {
    const chk = this.checkInputs('BEiT3', inputs);
    return this.features(inputs, chk, options);
  }

  /** `encoderOut [B, T, D]` of {@link BEiT3.forwardFeatures}. */
  forward(inputs: Beit3Inputs, options: Beit3ForwardOptions = {}): tf.Tensor3D {
    return this.forwardFeatures(inputs, { ...options, returnAttention: false }).encoderOut;
  }

  /**
   * The vision part `[B, 1 + Np, D]` (class token first) and the text part
   * `[B, L, D]` of an `encoderOut` (new tensors; absent parts are omitted).
   */
  splitTokens(encoderOut: tf.Tensor, inputs: Pick<Beit3Inputs, 'image' | 'text'>): { vision?: tf.Tensor3D; text?: tf.Tensor3D } {
    const nv = inputs.image !== undefined ? 1 + this.numPatches : 0;
    const nt = inputs.text !== undefined ? inputs.text.shape[1]! : 0;
    if (!(encoderOut instanceof tf.Tensor) || encoderOut.rank !== 3 || encoderOut.shape[1] !== nv + nt) {
      throw new Error(`BEiT3.splitTokens: encoderOut must be [B, ${nv + nt}, D] for these inputs, got ${encoderOut instanceof tf.Tensor ? `shape [${encoderOut.shape}]` : String(encoderOut)}`);
    }
    const [b, , d] = encoderOut.shape as [number, number, number];
    return {
      ...(nv > 0 ? { vision: tf.slice(encoderOut, [0, 0, 0], [b, nv, d]) as tf.Tensor3D } : {}),
      ...(nt > 0 ? { text: tf.slice(encoderOut, [0, nv, 0], [b, nt, d]) as tf.Tensor3D } : {}),
    };
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: { training?: boolean } = {}): tf.Tensor {
    const [image, text] = Array.isArray(inputs) ? inputs : [inputs];
    return this.forward({ image, text }, { training: kwargs.training });
  }

  override getConfig(): serialization.ConfigDict {
    return { ...super.getConfig(), ...this.config };
  }
}
serialization.registerClass(BEiT3);

/** Config of {@link BEiT3Mdm}: the backbone's and the visual-token vocabulary. */
export interface BEiT3MdmConfig extends BEiT3Config {
  /** Visual-token vocabulary, the `mim_head` width. Default 8192 (BEiT v2's VQ-KD codebook, BEiT-3's tokenizer). */
  visualVocabSize?: number;
}

/** Inputs of {@link BEiT3Mdm.forwardMdm}: the backbone's, with the targets. */
export type Beit3MdmInputs = Beit3Inputs & {
  /**
   * The visual tokens of the image's patches, the targets at the patches
   * that `visionMaskedPosition` masks: int32 `[B, Np]` (every patch; only the
   * masked ones are used), or a {@link VisualTokenizer} that tokenizes
   * `image` (vocabulary `visualVocabSize`, the model's patch grid).
   */
  visualTokens?: tf.Tensor | VisualTokenizer;
  /**
   * int32 `[B, L]`: the original id at the text positions to predict,
   * `-100` elsewhere (`TextMasker`'s `labels`; `text` then holds the
   * corrupted ids).
   */
  textLabels?: tf.Tensor;
};

/** Output of {@link BEiT3Mdm.forwardMdm}: new tensors, the caller disposes them (`tf.dispose(out)`). */
export type Beit3MdmOutput = {
  /** Scalar: the sum of the terms present (`imageLoss + textLoss`). */
  loss: tf.Scalar;
  /** Scalar: mean cross-entropy over the masked patches (when the image has masked patches). */
  imageLoss?: tf.Scalar;
  /** `[Mi, visualVocabSize]` logits of the masked patches, row-major (sample, patch). */
  imageLogits?: tf.Tensor2D;
  /** int32 `[Mi]` their visual tokens. */
  imageLabels?: tf.Tensor1D;
  /** Scalar: mean cross-entropy over the text positions to predict. */
  textLoss?: tf.Scalar;
  /** `[Mt, vocabSize]` logits of those positions, row-major (sample, position). */
  textLogits?: tf.Tensor2D;
  /** int32 `[Mt]` their original ids. */
  textLabels?: tf.Tensor1D;
};

/**
 * BEiT-3's pretraining objective, masked data modeling (Wang et al. 2023,
 * sec. 2.2): one {@link BEiT3} sees masked images, masked texts or masked
 * image-text pairs; masked patches predict their visual tokens (`mim_head`,
 * a Linear over `visualVocabSize`, as BEiT's `lm_head`) and masked words
 * their ids (`mlm_head`, a Linear over the text vocabulary); the loss is the
 * sum of the two mean cross-entropies over the masked positions. BEiT-3
 * masks 40% of the patches block-wise (`BlockwiseMasker`), 15% of the
 * tokens of plain texts and 50% of those of image-text pairs (`TextMasker`).
 * The pretraining code is not released: the heads' names are this library's.
 *
 * Weights: `beit3.*` (the backbone, the names of unilm's `BEiT3Wrapper`, so
 * a released checkpoint loads into `model.beit3` with `beit3Converter`),
 * `mim_head.{weight,bias}`, `mlm_head.{weight,bias}`.
 */
export class BEiT3Mdm extends Module {
  static readonly className = 'MimkitBEiT3Mdm';
  /** Resolved config. */
  readonly config: ResolvedBEiT3Config & { visualVocabSize: number };
  /** The backbone. */
  readonly beit3: BEiT3;
  /** Visual-token head `D -> visualVocabSize`. */
  readonly mimHead: TokenHead;
  /** Word head `D -> vocabSize`. */
  readonly mlmHead: TokenHead;

  constructor(config: BEiT3MdmConfig = {}) {
    super({ name: checkConfigObject('BEiT3Mdm', config).name, seed: config.seed });
    const visualVocabSize = config.visualVocabSize ?? 8192;
    if (!Number.isInteger(visualVocabSize) || visualVocabSize < 2) {
      throw new Error(`BEiT3Mdm: visualVocabSize must be an integer >= 2, got ${String(visualVocabSize)}`);
    }
    const { visualVocabSize: _v, name: _n, ...backbone } = config;
    this.beit3 = this.addModule('beit3', new BEiT3({ ...backbone, seed: this.childSeed('beit3') }));
    this.config = { ...this.beit3.config, seed: config.seed ?? 0, visualVocabSize };
    const D = this.beit3.config.embedDim;
    this.mimHead = this.addModule('mim_head', new TokenHead({ inFeatures: D, vocabSize: visualVocabSize, seed: this.childSeed('mim_head') }));
    this.mlmHead = this.addModule('mlm_head', new TokenHead({ inFeatures: D, vocabSize: this.beit3.config.vocabSize, seed: this.childSeed('mlm_head') }));
  }

  /** Validates the targets; returns the labels and flat rows of each term. */
  private targets(inputs: Beit3MdmInputs, chk: Beit3CheckedInputs): {
    image: { rows: Int32Array; labels: Int32Array } | null;
    text: { rows: Int32Array; labels: Int32Array } | null;
  } {
    const who = 'BEiT3Mdm';
    const Np = this.beit3.numPatches;
    let image: { rows: Int32Array; labels: Int32Array } | null = null;
    const vt = inputs.visualTokens;
    if (vt !== undefined) {
      if (inputs.visionMaskedPosition === undefined) {
        throw new Error(`${who}: inputs.visualTokens needs inputs.visionMaskedPosition (which patches to predict)`);
      }
      let ids: ArrayLike<number>;
      if (vt instanceof tf.Tensor) {
        if (vt.dtype !== 'int32' || vt.rank !== 2 || vt.shape[0] !== chk.batch || vt.shape[1] !== Np) {
          throw new Error(`${who}: inputs.visualTokens must be int32 [B=${chk.batch}, Np=${Np}], got ${vt.dtype} shape [${vt.shape}]`);
        }
        ids = hostValues(vt);
      } else if (vt !== null && typeof vt === 'object' && typeof (vt as VisualTokenizer).tokenize === 'function') {
        const tok = vt as VisualTokenizer;
        if (tok.vocabSize !== this.config.visualVocabSize) {
          throw new Error(`${who}: the tokenizer's vocabSize ${tok.vocabSize} does not match visualVocabSize ${this.config.visualVocabSize}`);
        }
        const [gh, gw] = this.beit3.visionEmbed.gridSize;
        const [h, w] = this.config.imgSize;
        if (h / tok.patchSize !== gh || w / tok.patchSize !== gw || tok.inChans !== this.config.inChans) {
          throw new Error(
            `${who}: the tokenizer (patch ${tok.patchSize}, ${tok.inChans} channels) does not give the model's ${gh}x${gw} grid on ${h}x${w}x${this.config.inChans} images`,
          );
        }
        const t = tok.tokenize(inputs.image as tf.Tensor4D);
        ids = t.dataSync();
        t.dispose();
      } else {
        throw new Error(`${who}: inputs.visualTokens must be an int32 [B, Np] tensor or a VisualTokenizer, got ${String(vt)}`);
      }
      const rows = chk.maskedRows;
      const labels = new Int32Array(rows.length);
      for (let k = 0; k < rows.length; k++) {
        const v = ids[rows[k]!]!;
        if (!Number.isInteger(v) || v < 0 || v >= this.config.visualVocabSize) {
          throw new Error(`${who}: visual token ${v} at masked patch ${rows[k]! % Np} of sample ${Math.floor(rows[k]! / Np)} is outside [0, visualVocabSize=${this.config.visualVocabSize})`);
        }
        labels[k] = v;
      }
      if (rows.length > 0) image = { rows, labels };
    }
    let text: { rows: Int32Array; labels: Int32Array } | null = null;
    const tl = inputs.textLabels;
    if (tl !== undefined) {
      if (inputs.text === undefined) throw new Error(`${who}: inputs.textLabels needs inputs.text`);
      if (!(tl instanceof tf.Tensor) || tl.dtype !== 'int32' || tl.rank !== 2 || tl.shape[0] !== chk.batch || tl.shape[1] !== chk.textLen) {
        throw new Error(
          `${who}: inputs.textLabels must be int32 [B=${chk.batch}, L=${chk.textLen}] (-100 where nothing is predicted), got ` +
            `${tl instanceof tf.Tensor ? `${tl.dtype} shape [${tl.shape}]` : String(tl)}`,
        );
      }
      const data = hostValues(tl);
      const rows: number[] = [];
      const labels: number[] = [];
      const V = this.config.vocabSize;
      for (let i = 0; i < data.length; i++) {
        const v = data[i]!;
        if (v === -100) continue;
        if (v < 0 || v >= V) {
          throw new Error(`${who}: inputs.textLabels[${Math.floor(i / chk.textLen)}][${i % chk.textLen}] = ${v} is neither -100 nor inside [0, vocabSize=${V})`);
        }
        rows.push(i);
        labels.push(v);
      }
      if (rows.length > 0) text = { rows: Int32Array.from(rows), labels: Int32Array.from(labels) };
    }
    if (image === null && text === null) {
      throw new Error(
        `${who}: nothing to predict: give visualTokens with at least one masked patch (visionMaskedPosition) and/or textLabels with at least one id other than -100`,
      );
    }
    return { image, text };
  }

  /**
   * Masked data modeling: the backbone on the (masked) inputs, the heads at
   * the masked positions, the two mean cross-entropies and their sum. Every
   * input and target is validated before any tensor work.
   */
  forwardMdm(inputs: Beit3MdmInputs, options: Beit3ForwardOptions = {}): Beit3MdmOutput {
    const chk = this.beit3.checkInputs('BEiT3Mdm', inputs);
    const tg = this.targets(inputs, chk);
    const Np = this.beit3.numPatches;
    return tf.tidy(() => {
      const f = this.beit3.forwardFeatures(inputs, { training: options.training, rng: options.rng });
      const parts = this.beit3.splitTokens(f.encoderOut, inputs);
      const out: Beit3MdmOutput = { loss: tf.scalar(0) };
      const losses: tf.Scalar[] = [];
      if (tg.image) {
        const [b, , d] = parts.vision!.shape;
        const patches = tf.slice(parts.vision!, [0, 1, 0], [b, Np, d]);
        const logits = this.mimHead.forwardMasked(patches, tf.tensor1d(tg.image.rows, 'int32'));
        const labels = tf.tensor1d(tg.image.labels, 'int32');
        out.imageLogits = logits;
        out.imageLabels = labels;
        out.imageLoss = maskedCrossEntropy(logits, labels);
        losses.push(out.imageLoss);
      }
      if (tg.text) {
        const logits = this.mlmHead.forwardMasked(parts.text!, tf.tensor1d(tg.text.rows, 'int32'));
        const labels = tf.tensor1d(tg.text.labels, 'int32');
        out.textLogits = logits;
        out.textLabels = labels;
        out.textLoss = maskedCrossEntropy(logits, labels);
        losses.push(out.textLoss);
      }
      out.loss = (losses.length === 1 ? tf.clone(losses[0]!) : tf.addN(losses)) as tf.Scalar;
      return out;
    });
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: { training?: boolean } = {}): tf.Tensor {
    return this.beit3.call(inputs, kwargs);
  }

  override getConfig(): serialization.ConfigDict {
    return { ...super.getConfig(), ...this.config };
  }
}
serialization.registerClass(BEiT3Mdm);

/**
 * BEiT-3 base as released (unilm `_get_base_config`,
 * `beit3_base_patch16_224`): D 768, 12 layers, 12 heads, FFN 3072,
 * vocabulary 64010, 1024 text positions, sub-LN, eps 1e-5.
 */
export const beit3BasePatch16: Readonly<BEiT3Config> = Object.freeze({
  imgSize: 224, patchSize: 16, embedDim: 768, layers: 12, heads: 12, ffnDim: 3072, vocabSize: 64010, maxSourcePositions: 1024,
});
/** BEiT-3 large (unilm `_get_large_config`, `beit3_large_patch16_224`): D 1024, 24 layers, 16 heads, FFN 4096. */
export const beit3LargePatch16: Readonly<BEiT3Config> = Object.freeze({
  imgSize: 224, patchSize: 16, embedDim: 1024, layers: 24, heads: 16, ffnDim: 4096, vocabSize: 64010, maxSourcePositions: 1024,
});
/** A tiny BEiT-3 for 32 px images (patch 4, 64 patches): D 64, 4 layers, 4 heads, a 256-word vocabulary, 32 text positions. */
export const beit3Tiny: Readonly<BEiT3Config> = Object.freeze({
  imgSize: 32, patchSize: 4, embedDim: 64, layers: 4, heads: 4, ffnDim: 256, vocabSize: 256, maxSourcePositions: 32,
});

/**
 * The names BEiT-3 exempts from weight decay (unilm `BEiT3Wrapper.no_weight_decay`:
 * the vision position table and the class token, under the backbone's own
 * keys and under `BEiT3Mdm`'s `beit3.` prefix), plus the mask token; biases
 * and LayerNorm weights are exempt by the usual rule. For
 * `paramGroupsWeightDecay(model, { noDecay: BEIT3_NO_WEIGHT_DECAY })`. (As
 * upstream, the text table `embed_positions.B` and `text_embed` decay.)
 */
export const BEIT3_NO_WEIGHT_DECAY: readonly string[] = Object.freeze([
  'cls_token',
  'mask_token',
  'encoder.embed_positions.A.weight',
  'beit3.encoder.embed_positions.A.weight',
]);
