import * as tf from '@tensorflow/tfjs-core';
import { kMeans, type KMeansResult } from './kmeans.js';
import { checkTokenizerImages, patchVectors, PretrainedTokenizer } from './pretrained.js';
import type { PatchNorm, VisualTokenizer } from './types.js';

/** Options of `fit` on the k-means tokenizers. */
export interface KMeansFitOptions {
  /** Vocabulary size: number of clusters (default 512, iGPT's palette size). */
  k?: number;
  /** Maximum Lloyd iterations (default 20; stops early once assignments settle). */
  iterations?: number;
  /** Seed of sampling and k-means++ (default 0); the same seed gives the same codebook. */
  seed?: number;
  /**
   * Cluster a random subset of this many vectors (default 100,000): k-means++
   * seeding costs O(n k d) on the CPU.
   */
  sampleSize?: number;
}

/** What `fit` reports. */
export interface KMeansFitReport {
  /** Sum of squared distances of the clustered vectors to their centroids. */
  inertia: number;
  /** Lloyd iterations run. */
  iterations: number;
  /** Whether assignments settled before the iteration limit. */
  converged: boolean;
  /** Number of vectors clustered (after sampling). */
  samples: number;
}

/**
 * Shared machinery of the tokenizers whose codebook is fitted with k-means
 * on the user's images: once fitted, every call goes to a
 * {@link PretrainedTokenizer} holding the centroids, so a fitted tokenizer
 * saves (`toSafetensors`) and re-loads as a `PretrainedTokenizer` that gives
 * identical tokens.
 */
export abstract class KMeansTokenizer implements VisualTokenizer {
  /** Patch side in pixels. */
  readonly patchSize: number;
  /** Per-patch normalisation applied before clustering and lookup. */
  readonly patchNorm: PatchNorm;
  private readonly configuredChans: number | undefined;
  /** The fitted lookup, null until `fit`. */
  protected fitted: PretrainedTokenizer | null = null;

  /** @param name class name used in error messages. */
  protected constructor(
    protected readonly name: string,
    patchSize: number,
    patchNorm: PatchNorm,
    inChans: number | undefined,
  ) {
    if (!Number.isInteger(patchSize) || patchSize < 1) {
      throw new Error(`${name}: patchSize must be a positive integer, got ${patchSize}`);
    }
    if (patchNorm !== 'none' && patchNorm !== 'meanStd') {
      throw new Error(`${name}: patchNorm must be 'none' or 'meanStd', got ${JSON.stringify(patchNorm)}`);
    }
    if (inChans !== undefined && (!Number.isInteger(inChans) || inChans < 1)) {
      throw new Error(`${name}: inChans must be a positive integer, got ${inChans}`);
    }
    this.patchSize = patchSize;
    this.patchNorm = patchNorm;
    this.configuredChans = inChans;
  }

  /** Short name written to the saved file's config. */
  protected abstract get kind(): string;

  private lookup(method: string): PretrainedTokenizer {
    if (this.fitted === null) {
      throw new Error(`${this.name}.${method}: the tokenizer is not fitted; call fit(imgs) first`);
    }
    return this.fitted;
  }

  /** Whether `fit` has run. */
  get isFitted(): boolean {
    return this.fitted !== null;
  }

  /** Vocabulary size `k` (throws before `fit`). */
  get vocabSize(): number {
    return this.lookup('vocabSize').vocabSize;
  }

  /** Image channels: from the config, else from the fitted images (throws before `fit` if not configured). */
  get inChans(): number {
    if (this.fitted !== null) return this.fitted.inChans;
    if (this.configuredChans !== undefined) return this.configuredChans;
    return this.lookup('inChans').inChans;
  }

  /**
   * Fits the codebook: k-means (k-means++ seeding) over the patch vectors of
   * `imgs` (every pixel's colour when `patchSize` is 1). Re-fitting replaces
   * the previous codebook.
   * @param imgs `[B, H, W, C]` training images, sides multiples of `patchSize`.
   */
  fit(imgs: tf.Tensor4D, options: KMeansFitOptions = {}): KMeansFitReport {
    const fn = `${this.name}.fit`;
    const c = this.configuredChans ?? (imgs instanceof tf.Tensor && imgs.rank === 4 ? imgs.shape[3]! : -1);
    checkTokenizerImages(fn, imgs, this.patchSize, c);
    const d = this.patchSize * this.patchSize * c;
    if (this.patchNorm === 'meanStd' && d < 2) {
      throw new Error(`${fn}: patchNorm 'meanStd' needs at least 2 values per patch, got patchSize*patchSize*inChans = ${d}`);
    }
    const k = options.k ?? 512;
    const sampleSize = options.sampleSize ?? 100_000;
    if (!Number.isInteger(k) || k < 1) throw new Error(`${fn}: k must be a positive integer, got ${k}`);
    const vectors = tf.tidy(() => patchVectors(imgs, this.patchSize, this.patchNorm));
    const data = vectors.dataSync() as Float32Array;
    const n = vectors.shape[0];
    vectors.dispose();
    const used = Math.min(n, sampleSize);
    if (k > used) {
      throw new Error(`${fn}: k must be at most the number of ${this.patchSize === 1 ? 'pixels' : 'patches'} clustered (${used}), got ${k}`);
    }
    const result: KMeansResult = kMeans(data, d, {
      k,
      iterations: options.iterations ?? 20,
      seed: options.seed ?? 0,
      sampleSize: used,
    });
    const next = new PretrainedTokenizer({
      codebook: result.centroids,
      vocabSize: k,
      patchSize: this.patchSize,
      inChans: c,
      patchNorm: this.patchNorm,
      kind: this.kind,
    });
    this.fitted?.dispose();
    this.fitted = next;
    return { inertia: result.inertia, iterations: result.iterations, converged: result.converged, samples: used };
  }

  /**
   * Token ids: the nearest centroid of every patch.
   * @param imgs `[B, H, W, C]`.
   * @returns int32 `[B, L]`, row-major grid order.
   */
  tokenize(imgs: tf.Tensor4D): tf.Tensor2D {
    const t = this.lookup('tokenize');
    checkTokenizerImages(`${this.name}.tokenize`, imgs, this.patchSize, t.inChans);
    return t.tokenize(imgs);
  }

  /** The `[k, p*p*C]` codebook (centroids), row-major copy. */
  getCodebook(): Float32Array {
    return this.lookup('getCodebook').getCodebook();
  }

  /** The fitted codebook as a {@link PretrainedTokenizer} file (safetensors bytes). */
  toSafetensors(): Uint8Array {
    return this.lookup('toSafetensors').toSafetensors();
  }

  /** Frees the codebook; `fit` may be called again afterwards. */
  dispose(): void {
    this.fitted?.dispose();
    this.fitted = null;
  }

  /** The centroid vectors of ids, `[...ids.shape, p*p*C]` (see {@link PretrainedTokenizer.decode}). */
  protected decodeVectors(method: string, ids: tf.Tensor): tf.Tensor {
    return this.lookup(method).decode(ids);
  }
}

/** Configuration of a {@link PatchCodebookTokenizer}. */
export interface PatchCodebookTokenizerConfig {
  /** Patch side in pixels; must equal the model's patch size for BEiT-style training (no default: it is the model's choice). */
  patchSize: number;
  /**
   * Per-patch normalisation before clustering (default `'none'`).
   * `'meanStd'` clusters texture rather than brightness (MAE's per-patch
   * normalisation, which made its pixel targets better).
   */
  patchNorm?: PatchNorm;
  /** Expected image channels (default: taken from the images given to `fit`). */
  inChans?: number;
}

/**
 * A visual tokenizer whose codebook is a k-means clustering of image patches
 * (each `p x p` patch flattened in MAE's patchify order). A light stand-in
 * for BEiT's learned dVAE tokenizer (Bao et al. 2022) that needs no
 * pretraining: a BEiT-style model predicts the cluster id of each masked
 * patch.
 *
 * @example
 * const tok = new PatchCodebookTokenizer({ patchSize: 4 });
 * tok.fit(trainImgs, { k: 256, seed: 1 });
 * const ids = tok.tokenize(imgs); // int32 [B, (H/4)*(W/4)]
 */
export class PatchCodebookTokenizer extends KMeansTokenizer {
  /** Builds an unfitted tokenizer; call `fit` before `tokenize`. */
  constructor(config: PatchCodebookTokenizerConfig) {
    super('PatchCodebookTokenizer', config?.patchSize, config?.patchNorm ?? 'none', config?.inChans);
  }

  protected get kind(): string {
    return 'patch_kmeans';
  }

  /**
   * The centroid patches of token ids.
   * @returns `[...ids.shape, p*p*C]`, normalised values when `patchNorm` is `'meanStd'`.
   */
  decode(ids: tf.Tensor): tf.Tensor {
    return this.decodeVectors('decode', ids);
  }
}
