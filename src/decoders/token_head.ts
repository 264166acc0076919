import * as tf from '@tensorflow/tfjs-core';
import { serialization } from '@tensorflow/tfjs-core';
import { Module, type Weight } from '../layers/module.js';
import { linear } from '../ops/matmul.js';
import { CONFIG_LIMITS, checkTensorArg, optionalInt, requireConfig, requireInt } from '../utils/config.js';

/** Config of {@link TokenHead}. */
export interface TokenHeadConfig {
  /** Token width `D`. */
  inFeatures: number;
  /** Visual-token vocabulary `V`. Default 8192 (BEiT's DALL-E tokenizer). */
  vocabSize?: number;
  /** Seed of the initial weights. Default 0. */
  seed?: number;
  /** Layer name. */
  name?: string;
}

/**
 * BEiT's masked-image-modeling head (Bao et al. 2021, "BEiT: BERT
 * Pre-Training of Image Transformers", `modeling_pretrain.py` `lm_head`): a
 * Linear `D -> V` giving logits over the visual-token vocabulary. Weights:
 * `weight` (PyTorch `[V, D]`, layout `linear`, stored `[D, V]`), `bias` `[V]`;
 * init as BEiT: `trunc_normal(std 0.02)` weight, zero bias.
 *
 * Shapes: {@link TokenHead.forward}: `[..., D]` -> `[..., V]`;
 * {@link TokenHead.forwardMasked}: tokens `[B, L, D]` and the masked
 * positions -> `[M, V]`.
 */
export class TokenHead extends Module {
  static readonly className = 'MimkitTokenHead';
  /** Resolved config. */
  readonly config: { inFeatures: number; vocabSize: number; seed: number };
  /** `weight` `[D, V]`. */
  readonly weight: Weight;
  /** `bias` `[V]`. */
  readonly bias: Weight;

  constructor(config: TokenHeadConfig) {
    requireConfig('TokenHead', config);
    requireInt('TokenHead', 'inFeatures', config.inFeatures, { min: 1, max: CONFIG_LIMITS.maxDim });
    optionalInt('TokenHead', 'vocabSize', config.vocabSize, 8192, { min: 2, max: CONFIG_LIMITS.maxDim * 16 });
    super({ name: config.name, seed: config.seed });
    const c = { inFeatures: config.inFeatures, vocabSize: config.vocabSize ?? 8192, seed: config.seed ?? 0 };
    if (!Number.isInteger(c.inFeatures) || c.inFeatures <= 0) {
      throw new Error(`TokenHead: inFeatures must be a positive integer, got ${c.inFeatures}`);
    }
    if (!Number.isInteger(c.vocabSize) || c.vocabSize < 2) {
      throw new Error(`TokenHead: vocabSize must be an integer >= 2, got ${c.vocabSize}`);
    }
    this.config = c;
    this.weight = this.addParam('weight', [c.inFeatures, c.vocabSize], { kind: 'truncNormal', std: 0.02 }, {
      layout: { kind: 'linear' },
    });
    this.bias = this.addParam('bias', [c.vocabSize], { kind: 'zeros' });
  }

  /** Vocabulary size `V` (the head's output width). */
  get vocabSize(): number {
    return this.config.vocabSize;
  }

  /** Logits over the vocabulary: `[..., D]` -> `[..., V]`. */
  forward(x: tf.Tensor): tf.Tensor {
    checkTensorArg('TokenHead.forward', 'x', x, { what: '[..., inFeatures]', nonEmpty: false });
    const D = this.config.inFeatures;
    if (!(x instanceof tf.Tensor) || x.shape[x.rank - 1] !== D) {
      throw new Error(`TokenHead: x must be [..., inFeatures=${D}], got ${x instanceof tf.Tensor ? `shape [${x.shape}]` : String(x)}`);
    }
    return linear(x, this.weight.read(), this.bias.read());
  }

  /**
   * Logits at the masked positions only, as BEiT: `x[bool_masked_pos]` keeps
   * the masked tokens in row-major (sample, patch) order.
   *
   * @param tokens `[B, L, D]` patch tokens (class token already dropped).
   * @param maskedRows int32 `[M]` flat indices `b * L + l` of the masked
   *   tokens, ascending (what `BEiT` builds from its mask).
   * @returns `[M, V]`.
   */
  forwardMasked(tokens: tf.Tensor, maskedRows: tf.Tensor1D): tf.Tensor2D {
    const D = this.config.inFeatures;
    if (!(tokens instanceof tf.Tensor) || tokens.rank !== 3 || tokens.shape[2] !== D) {
      throw new Error(`TokenHead: tokens must be [B, L, inFeatures=${D}], got ${tokens instanceof tf.Tensor ? `shape [${tokens.shape}]` : String(tokens)}`);
    }
    if (!(maskedRows instanceof tf.Tensor) || maskedRows.rank !== 1 || maskedRows.dtype !== 'int32') {
      throw new Error(`TokenHead: maskedRows must be an int32 [M] tensor, got ${maskedRows instanceof tf.Tensor ? `${maskedRows.dtype} [${maskedRows.shape}]` : String(maskedRows)}`);
    }
    return tf.tidy(() => this.forward(tf.gather(tf.reshape(tokens, [-1, D]), maskedRows)) as tf.Tensor2D);
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return this.forward(Array.isArray(inputs) ? inputs[0]! : inputs);
  }

  override computeOutputShape(shape: (number | null)[]): (number | null)[] {
    return [...shape.slice(0, -1), this.config.vocabSize];
  }

  override getConfig(): serialization.ConfigDict {
    return { ...super.getConfig(), ...this.config };
  }
}
serialization.registerClass(TokenHead);
