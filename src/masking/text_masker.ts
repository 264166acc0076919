import * as tf from '@tensorflow/tfjs-core';
import { checkInt, checkRatio, toRng, type RandomSource } from './common.js';
import { hostValues } from '../utils/host_values.js';

/** Options of {@link TextMasker}. */
export interface TextMaskerConfig {
  /** Vocabulary size; random replacements are drawn uniformly from `[0, vocabSize)`. Required. */
  vocabSize: number;
  /** Id of the `[MASK]` token, in `[0, vocabSize)`. Required. */
  maskTokenId: number;
  /**
   * Ids that are never selected (CLS/BOS, SEP/EOS, PAD, ...). Default `[]`;
   * pass your tokenizer's special ids, padding included (as HF masks padding
   * out of the selection).
   */
  specialTokenIds?: readonly number[];
  /**
   * Selection probability (or fraction, with `selection: 'exact'`) in
   * [0, 1]. Default 0.15: BERT's and BEiT-3's rate for plain text (BEiT-3
   * uses 0.5 for the text of image-text pairs).
   */
  maskProb?: number;
  /** Of the selected tokens, the share replaced by `[MASK]`. Default 0.8 (BERT). */
  replaceWithMask?: number;
  /**
   * Of the selected tokens, the share replaced by a random token; the rest
   * (`1 - replaceWithMask - replaceWithRandom`) stays unchanged. Default 0.1
   * (BERT: 80/10/10, so the model cannot rely on seeing `[MASK]`).
   */
  replaceWithRandom?: number;
  /** Label at positions that are not predicted. Default -100 (PyTorch's cross-entropy `ignore_index`). */
  ignoreIndex?: number;
  /**
   * How tokens are selected. `'bernoulli'` (default): each non-special token
   * independently with probability `maskProb`, as HF
   * `DataCollatorForLanguageModeling` does (the count varies). `'exact'`:
   * exactly `Math.round(maskProb * n)` of the `n` non-special tokens of each
   * sequence, chosen uniformly without replacement (a fixed fraction per
   * sequence, the way BEiT-3 and BEiT's image masking state their rates).
   */
  selection?: 'bernoulli' | 'exact';
}

/** Plain-array result of {@link TextMasker.maskArrays}, flattened row-major `[B * T]`. */
export interface TextMaskArrays {
  /** Number of sequences `B`. */
  batchSize: number;
  /** Sequence length `T`. */
  seqLen: number;
  /** The corrupted ids fed to the model. */
  inputIds: Int32Array;
  /** The original id at selected positions, `ignoreIndex` elsewhere. */
  labels: Int32Array;
  /** 0/1: 1 = selected for prediction (masked, replaced or kept), 0 = not. */
  mask: Uint8Array;
}

/**
 * Tensor result of {@link TextMasker.mask}: NEW tensors the caller disposes
 * (`tf.dispose(result)`).
 */
export type TextMaskResult = {
  /** int32 `[B, T]` corrupted ids. */
  inputIds: tf.Tensor2D;
  /** int32 `[B, T]` original id at selected positions, `ignoreIndex` elsewhere. */
  labels: tf.Tensor2D;
  /** float32 `[B, T]` 1 = selected for prediction, 0 = not. */
  mask: tf.Tensor2D;
};

/**
 * Masked language modeling corruption of BERT (Devlin et al., "BERT:
 * Pre-training of Deep Bidirectional Transformers for Language
 * Understanding", NAACL 2019), with the semantics of Hugging Face's
 * `DataCollatorForLanguageModeling`; used for BEiT-3's masked text modeling
 * (Wang et al., "Image as a Foreign Language", CVPR 2023).
 *
 * Selection: special tokens are never selected; others by `selection`
 * (Bernoulli(`maskProb`) per token, or an exact count per sequence). Each
 * selected token becomes `[MASK]` with probability `replaceWithMask`, a token
 * drawn uniformly from the whole vocabulary with probability
 * `replaceWithRandom` (as in HF, that draw may hit a special token or the
 * original), and stays unchanged otherwise. `labels` hold the original id at
 * every selected position and `ignoreIndex` elsewhere; `mask` is 1 at selected
 * positions (the library's convention: 1 = masked / predicted).
 *
 * Randomness: per sequence, the selection draws then, for each selected
 * token in order, one draw for its fate (and one more for a random token),
 * all from our seeded {@link utils.Rng | Rng} on the host.
 *
 * @example
 * ```ts
 * import { TextMasker, Rng } from 'mimkit';
 *
 * // BERT: 15% of the tokens; of those 80% [MASK], 10% random, 10% kept. Ids 0-2 are special.
 * const masker = new TextMasker({ vocabSize: 1000, maskTokenId: 3, specialTokenIds: [0, 1, 2] });
 * const { inputIds, labels } = masker.mask([[0, 17, 42, 99, 2]], new Rng(0));
 * // labels: the original id where a token was chosen, ignoreIndex (-100) elsewhere
 * ```
 */
export class TextMasker {
  /** Name for configs and logs. */
  static readonly className = 'TextMasker';
  /** Vocabulary size. */
  readonly vocabSize: number;
  /** `[MASK]` id. */
  readonly maskTokenId: number;
  /** Ids never selected. */
  readonly specialTokenIds: readonly number[];
  /** Selection probability / fraction. */
  readonly maskProb: number;
  /** Share of selected tokens replaced by `[MASK]`. */
  readonly replaceWithMask: number;
  /** Share of selected tokens replaced by a random token. */
  readonly replaceWithRandom: number;
  /** Label of unselected positions. */
  readonly ignoreIndex: number;
  /** Selection mode. */
  readonly selection: 'bernoulli' | 'exact';
  private readonly special: Set<number>;

  /** @param config see {@link TextMaskerConfig}; validated here. */
  constructor(config: TextMaskerConfig) {
    const who = 'TextMasker';
    if (config === null || typeof config !== 'object') {
      throw new Error(`${who}: config must be an object with { vocabSize, maskTokenId }, got ${String(config)}`);
    }
    this.vocabSize = checkInt(who, 'vocabSize', config.vocabSize, 1);
    this.maskTokenId = checkInt(who, 'maskTokenId', config.maskTokenId, 0);
    if (this.maskTokenId >= this.vocabSize) {
      throw new Error(`${who}: maskTokenId ${this.maskTokenId} must be < vocabSize ${this.vocabSize}`);
    }
    const special = config.specialTokenIds ?? [];
    if (!Array.isArray(special)) {
      throw new Error(`${who}: specialTokenIds must be an array of integers, got ${String(special)}`);
    }
    special.forEach((id, i) => checkInt(who, `specialTokenIds[${i}]`, id, Number.MIN_SAFE_INTEGER));
    this.specialTokenIds = special.slice();
    this.special = new Set(special);
    this.maskProb = checkRatio(who, 'maskProb', config.maskProb ?? 0.15, true);
    this.replaceWithMask = checkRatio(who, 'replaceWithMask', config.replaceWithMask ?? 0.8, true);
    this.replaceWithRandom = checkRatio(who, 'replaceWithRandom', config.replaceWithRandom ?? 0.1, true);
    if (this.replaceWithMask + this.replaceWithRandom > 1 + 1e-12) {
      throw new Error(
        `${who}: replaceWithMask ${this.replaceWithMask} + replaceWithRandom ${this.replaceWithRandom} must be <= 1`,
      );
    }
    this.ignoreIndex = checkInt(who, 'ignoreIndex', config.ignoreIndex ?? -100, Number.MIN_SAFE_INTEGER);
    const selection = config.selection ?? 'bernoulli';
    if (selection !== 'bernoulli' && selection !== 'exact') {
      throw new Error(`${who}: selection must be 'bernoulli' or 'exact', got ${String(selection)}`);
    }
    this.selection = selection;
  }

  /** The full config (defaults filled in). */
  getConfig(): Required<TextMaskerConfig> {
    return {
      vocabSize: this.vocabSize,
      maskTokenId: this.maskTokenId,
      specialTokenIds: this.specialTokenIds.slice(),
      maskProb: this.maskProb,
      replaceWithMask: this.replaceWithMask,
      replaceWithRandom: this.replaceWithRandom,
      ignoreIndex: this.ignoreIndex,
      selection: this.selection,
    };
  }

  /**
   * Corrupts a batch of token ids given flat, row-major: `ids` holds
   * `B * seqLen` integers. Returns plain arrays; `ids` is not modified.
   */
  maskArrays(ids: Int32Array | readonly number[], seqLen: number, random: RandomSource): TextMaskArrays {
    const who = 'TextMasker';
    checkInt(who, 'seqLen', seqLen, 1);
    if (!(ids instanceof Int32Array) && !Array.isArray(ids)) {
      throw new Error(`${who}: ids must be an Int32Array or a number array, got ${String(ids)}`);
    }
    if (ids.length === 0 || ids.length % seqLen !== 0) {
      throw new Error(`${who}: ids length ${ids.length} must be a positive multiple of seqLen ${seqLen}`);
    }
    for (let i = 0; i < ids.length; i++) {
      if (!Number.isInteger(ids[i])) {
        throw new Error(`${who}: ids must be integers, got ${ids[i]} at flat index ${i}`);
      }
      if (ids[i]! < 0 || ids[i]! >= this.vocabSize) {
        throw new Error(`${who}: ids must be in [0, vocabSize=${this.vocabSize}), got ${ids[i]} at flat index ${i}`);
      }
    }
    const rng = toRng(who, random);
    const batchSize = ids.length / seqLen;
    const inputIds = Int32Array.from(ids);
    const labels = new Int32Array(ids.length).fill(this.ignoreIndex);
    const mask = new Uint8Array(ids.length);
    const keepShare = this.replaceWithMask + this.replaceWithRandom;
    for (let b = 0; b < batchSize; b++) {
      const off = b * seqLen;
      const candidates: number[] = [];
      for (let t = 0; t < seqLen; t++) if (!this.special.has(ids[off + t]!)) candidates.push(off + t);
      if (this.selection === 'bernoulli') {
        for (const p of candidates) if (rng.uniform() < this.maskProb) mask[p] = 1;
      } else {
        const count = Math.round(this.maskProb * candidates.length);
        // partial Fisher-Yates: the first `count` entries become a uniform sample
        for (let i = 0; i < count; i++) {
          const j = i + Math.floor(rng.uniform() * (candidates.length - i));
          const tmp = candidates[i]!;
          candidates[i] = candidates[j]!;
          candidates[j] = tmp;
          mask[candidates[i]!] = 1;
        }
      }
      for (let t = 0; t < seqLen; t++) {
        const p = off + t;
        if (mask[p] !== 1) continue;
        labels[p] = ids[p]!;
        const u = rng.uniform();
        if (u < this.replaceWithMask) inputIds[p] = this.maskTokenId;
        else if (u < keepShare) inputIds[p] = rng.randint(0, this.vocabSize - 1);
      }
    }
    return { batchSize, seqLen, inputIds, labels, mask };
  }

  /**
   * Corrupts a batch of token ids given as an int32 tensor `[B, T]` or rows
   * `number[][]`. Returns new tensors (the caller disposes them). Reading a
   * tensor downloads it (`dataSync`): masking is data preparation, not part
   * of the differentiated step.
   */
  mask(ids: tf.Tensor2D | readonly (readonly number[])[], random: RandomSource): TextMaskResult {
    const who = 'TextMasker';
    let flat: Int32Array | number[];
    let seqLen: number;
    if (ids instanceof tf.Tensor) {
      if (ids.rank !== 2 || ids.dtype !== 'int32') {
        throw new Error(`${who}: ids tensor must be int32 [B, T], got ${ids.dtype} [${ids.shape.join(', ')}]`);
      }
      seqLen = ids.shape[1];
      flat = hostValues(ids) as Int32Array;
    } else if (Array.isArray(ids) && ids.length > 0 && ids.every((r) => Array.isArray(r))) {
      seqLen = ids[0]!.length;
      if (ids.some((r) => r.length !== seqLen)) {
        throw new Error(`${who}: ids rows must all have the same length ${seqLen}, got [${ids.map((r) => r.length).join(', ')}]`);
      }
      flat = ids.flat();
    } else {
      throw new Error(`${who}: ids must be an int32 tensor [B, T] or non-empty number[][], got ${String(ids)}`);
    }
    const a = this.maskArrays(flat, seqLen, random);
    const shape: [number, number] = [a.batchSize, a.seqLen];
    return {
      inputIds: tf.tensor2d(a.inputIds, shape, 'int32'),
      labels: tf.tensor2d(a.labels, shape, 'int32'),
      mask: tf.tensor2d(Float32Array.from(a.mask), shape, 'float32'),
    };
  }
}
