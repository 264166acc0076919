import * as tf from '@tensorflow/tfjs-core';
import { parseSafetensors, serializeSafetensors, SafetensorsFile, type SafetensorsEntry } from '../io/safetensors.js';
import { patchify } from '../layers/patchify.js';
import { linear } from '../ops/matmul.js';
import { nearestCentroid } from './kmeans.js';
import type { PatchNorm, VisualTokenizer } from './types.js';
import { requireObject } from '../utils/config.js';

/** Value of `__metadata__.format` in the files {@link PretrainedTokenizer.toSafetensors} writes. */
export const TOKENIZER_FORMAT = 'mimkit.visual_tokenizer';

/** Configuration of a {@link PretrainedTokenizer}. */
export interface PretrainedTokenizerConfig {
  /** `[vocabSize, embedDim]` row-major code vectors. Copied. */
  codebook: Float32Array;
  /** Number of code vectors `K` (ids are `0 .. K-1`). */
  vocabSize: number;
  /** Side of the square patch one token covers, in pixels (1 = one token per pixel). */
  patchSize: number;
  /** Channels of the images. */
  inChans: number;
  /** Per-patch normalisation before projection/lookup (default `'none'`). */
  patchNorm?: PatchNorm;
  /**
   * Compare by cosine similarity: l2-normalise both the (projected) patch
   * features and the code vectors before the nearest-neighbour search
   * (default false: plain Euclidean). BEiT v2's VQ-KD tokenizer (Peng et al.
   * 2022) looks codes up this way in an l2-normalised codebook.
   */
  l2Normalize?: boolean;
  /**
   * Optional linear projection of the flattened patch (`p*p*C` values, MAE's
   * patchify order) to `embedDim` before the lookup, given in PyTorch's
   * `nn.Linear` layout: `weight` `[embedDim, p*p*C]`, `bias` `[embedDim]`.
   * Without it, `embedDim` must equal `p*p*C`.
   */
  proj?: { weight: Float32Array; bias?: Float32Array };
  /** Free-form name written to the file's config (default `'pretrained'`). */
  kind?: string;
}

/** Options of {@link PretrainedTokenizer.fromSafetensors}; each one given overrides the file's config. */
export interface LoadTokenizerOptions {
  /** Tensor holding the `[K, d]` codebook (default `'codebook'`; BEiT v2 VQ-KD: `quantize.embedding.weight`). */
  codebookKey?: string;
  /** Prefix of the optional projection tensors `<projKey>.weight` / `<projKey>.bias` (default `'proj'`). */
  projKey?: string;
  /** Patch size, if the file's config lacks it. */
  patchSize?: number;
  /** Image channels, if the file's config lacks it. */
  inChans?: number;
  /** Per-patch normalisation (default: the file's, else `'none'`). */
  patchNorm?: PatchNorm;
  /** Cosine lookup (default: the file's, else false). */
  l2Normalize?: boolean;
}

function fail(fn: string, msg: string): never {
  throw new Error(`${fn}: ${msg}`);
}

function checkPositiveInt(fn: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) fail(fn, `${name} must be a positive integer, got ${String(v)}`);
  return v;
}

function checkPatchNorm(fn: string, v: unknown): PatchNorm {
  if (v !== 'none' && v !== 'meanStd') fail(fn, `patchNorm must be 'none' or 'meanStd', got ${JSON.stringify(v)}`);
  return v;
}

/**
 * Validates `[B, H, W, C]` images for a tokenizer with patch size `p` and `c`
 * channels, before any tensor work.
 */
export function checkTokenizerImages(fn: string, imgs: tf.Tensor, p: number, c: number): void {
  if (!(imgs instanceof tf.Tensor) || imgs.rank !== 4) {
    fail(fn, `imgs must be a [B, H, W, C] tensor, got shape [${imgs instanceof tf.Tensor ? imgs.shape : typeof imgs}]`);
  }
  const [, h, w, ch] = imgs.shape as [number, number, number, number];
  if (ch !== c) fail(fn, `imgs has ${ch} channels (shape [${imgs.shape}]), expected inChans = ${c}`);
  if (h % p !== 0 || w % p !== 0) fail(fn, `image size ${h}x${w} is not divisible by patchSize ${p}`);
  if (imgs.dtype !== 'float32' && imgs.dtype !== 'int32') fail(fn, `imgs must be float32 or int32, got ${imgs.dtype}`);
}

/**
 * The vectors a tokenizer compares with its codebook: each `p x p` patch
 * flattened in MAE's patchify order, optionally normalised per patch.
 * `[B, H, W, C]` -> `[B * L, p*p*C]` float32 (call inside `tidy`).
 */
export function patchVectors(imgs: tf.Tensor, p: number, patchNorm: PatchNorm): tf.Tensor2D {
  const x = tf.cast(imgs, 'float32');
  const d = p * p * x.shape[3]!;
  let v = (p === 1 ? tf.reshape(x, [-1, d]) : tf.reshape(patchify(x, p), [-1, d])) as tf.Tensor2D;
  if (patchNorm === 'meanStd') {
    const mean = tf.mean(v, 1, true);
    const centred = tf.sub(v, mean);
    const variance = tf.div(tf.sum(tf.square(centred), 1, true), d - 1);
    v = tf.div(centred, tf.sqrt(tf.add(variance, 1e-6)));
  }
  return v;
}

/** `x / max(||x||, 1e-12)` per row (PyTorch's `F.normalize`). */
function l2Rows(x: tf.Tensor): tf.Tensor2D {
  return tf.div(x, tf.maximum(tf.norm(x, 'euclidean', 1, true), 1e-12)) as tf.Tensor2D;
}

/**
 * A visual tokenizer with a fixed codebook: each patch (optionally
 * normalised and linearly projected) gets the id of its nearest code vector.
 * It is what a k-means tokenizer becomes once fitted, and what a codebook
 * trained elsewhere loads into (`fromSafetensors`): a `codebook` `[K, d]`
 * plus an optional `proj` Linear, as in a simplified BEiT v2 VQ-KD lookup
 * (Peng et al. 2022, "BEiT v2: Masked Image Modeling with Vector-Quantized
 * Visual Tokenizers"), which compares l2-normalised features with an
 * l2-normalised codebook. BEiT's original dVAE tokenizer (a convolutional
 * network) is not of this form and needs its encoder ported as a model.
 *
 * File format (safetensors): `codebook` `[K, d]`, optional `proj.weight`
 * `[d, p*p*C]` and `proj.bias` `[d]` (PyTorch layout), and
 * `__metadata__.config` JSON with `patch_size`, `in_chans`, `vocab_size`,
 * `embed_dim`, `patch_norm` (`none` | `mean_std`), `l2_normalize`.
 */
export class PretrainedTokenizer implements VisualTokenizer {
  /** Number of code vectors. */
  readonly vocabSize: number;
  /** Patch side in pixels. */
  readonly patchSize: number;
  /** Image channels. */
  readonly inChans: number;
  /** Length `d` of a code vector. */
  readonly embedDim: number;
  /** Per-patch normalisation before the lookup. */
  readonly patchNorm: PatchNorm;
  /** Whether the lookup is by cosine similarity. */
  readonly l2Normalize: boolean;
  /** Name stored in the file's config. */
  readonly kind: string;
  private readonly codebookData: Float32Array;
  private readonly projData: { weight: Float32Array; bias?: Float32Array } | undefined;
  private readonly codebookTensor: tf.Tensor2D;
  private readonly searchTensor: tf.Tensor2D;
  private readonly projWeight: tf.Tensor2D | undefined;
  private readonly projBias: tf.Tensor1D | undefined;
  private disposed = false;

  /** Builds a tokenizer from arrays; every size is checked against the others. */
  constructor(config: PretrainedTokenizerConfig) {
    const fn = 'PretrainedTokenizer';
    requireObject(fn, 'config', config);
    this.vocabSize = checkPositiveInt(fn, 'vocabSize', config.vocabSize);
    this.patchSize = checkPositiveInt(fn, 'patchSize', config.patchSize);
    this.inChans = checkPositiveInt(fn, 'inChans', config.inChans);
    this.patchNorm = checkPatchNorm(fn, config.patchNorm ?? 'none');
    this.l2Normalize = config.l2Normalize ?? false;
    if (typeof this.l2Normalize !== 'boolean') fail(fn, `l2Normalize must be a boolean, got ${String(this.l2Normalize)}`);
    this.kind = config.kind ?? 'pretrained';
    const patchDim = this.patchSize * this.patchSize * this.inChans;
    if (this.patchNorm === 'meanStd' && patchDim < 2) {
      fail(fn, `patchNorm 'meanStd' needs at least 2 values per patch, got patchSize*patchSize*inChans = ${patchDim}`);
    }
    const cb = config.codebook;
    if (!(cb instanceof Float32Array) || cb.length === 0 || cb.length % this.vocabSize !== 0) {
      fail(fn, `codebook must be a Float32Array of vocabSize * embedDim values, got ${cb?.length} values for vocabSize ${this.vocabSize}`);
    }
    this.embedDim = cb.length / this.vocabSize;
    if (!cb.every(Number.isFinite)) fail(fn, `codebook must hold finite values`);
    if (config.proj === undefined) {
      if (this.embedDim !== patchDim) {
        fail(
          fn,
          `codebook has embedDim ${this.embedDim} but patches have patchSize*patchSize*inChans = ${patchDim} values and no proj is given`,
        );
      }
    } else {
      const { weight, bias } = config.proj;
      if (!(weight instanceof Float32Array) || weight.length !== this.embedDim * patchDim) {
        fail(fn, `proj.weight must be a Float32Array [embedDim, p*p*C] = [${this.embedDim}, ${patchDim}], got ${weight?.length} values`);
      }
      if (bias !== undefined && (!(bias instanceof Float32Array) || bias.length !== this.embedDim)) {
        fail(fn, `proj.bias must be a Float32Array [embedDim] = [${this.embedDim}], got ${bias?.length} values`);
      }
    }
    this.codebookData = Float32Array.from(cb);
    this.projData =
      config.proj === undefined
        ? undefined
        : { weight: Float32Array.from(config.proj.weight), bias: config.proj.bias && Float32Array.from(config.proj.bias) };
    this.codebookTensor = tf.tensor2d(this.codebookData, [this.vocabSize, this.embedDim], 'float32');
    this.searchTensor = this.l2Normalize ? tf.tidy(() => l2Rows(this.codebookTensor)) : this.codebookTensor;
    if (this.projData !== undefined) {
      const w = this.projData.weight;
      // PyTorch [out, in] -> the library's [in, out], once, at import.
      this.projWeight = tf.tidy(() => tf.transpose(tf.tensor2d(w, [this.embedDim, patchDim], 'float32')) as tf.Tensor2D);
      this.projBias = this.projData.bias && tf.tensor1d(this.projData.bias, 'float32');
    }
  }

  private checkAlive(fn: string): void {
    if (this.disposed) fail(`PretrainedTokenizer.${fn}`, 'the tokenizer has been disposed');
  }

  /**
   * The vectors compared with the codebook: patches (MAE's patchify order),
   * normalised per patch, projected and l2-normalised as configured.
   * @param imgs `[B, H, W, C]`.
   * @returns `[B, L, embedDim]` float32.
   */
  features(imgs: tf.Tensor4D): tf.Tensor3D {
    this.checkAlive('features');
    checkTokenizerImages('PretrainedTokenizer.features', imgs, this.patchSize, this.inChans);
    const [b, h, w] = imgs.shape;
    const l = (h / this.patchSize) * (w / this.patchSize);
    return tf.tidy(() => tf.reshape(this.flatFeatures(imgs), [b, l, this.embedDim]) as tf.Tensor3D);
  }

  private flatFeatures(imgs: tf.Tensor): tf.Tensor2D {
    let v: tf.Tensor2D = patchVectors(imgs, this.patchSize, this.patchNorm);
    if (this.projWeight !== undefined) v = linear(v, this.projWeight, this.projBias) as tf.Tensor2D;
    if (this.l2Normalize) v = l2Rows(v);
    return v;
  }

  /**
   * Token id of every patch: the nearest code vector (squared Euclidean
   * distance, or cosine similarity with `l2Normalize`); ties go to the lowest id.
   * @param imgs `[B, H, W, C]`, `C = inChans`, sides multiples of `patchSize`.
   * @returns int32 `[B, L]`, patches in row-major grid order.
   */
  tokenize(imgs: tf.Tensor4D): tf.Tensor2D {
    this.checkAlive('tokenize');
    checkTokenizerImages('PretrainedTokenizer.tokenize', imgs, this.patchSize, this.inChans);
    const [b, h, w] = imgs.shape;
    const l = (h / this.patchSize) * (w / this.patchSize);
    return tf.tidy(() => {
      const ids = nearestCentroid(this.flatFeatures(imgs), this.searchTensor);
      return tf.reshape(ids, [b, l]) as tf.Tensor2D;
    });
  }

  /**
   * The code vectors of token ids (as stored, not l2-normalised).
   * Reads the ids back to check their range (a visualisation path, not a
   * training one).
   * @param ids int32 ids of any shape, each in `[0, vocabSize)`.
   * @returns float32 `[...ids.shape, embedDim]`.
   */
  decode(ids: tf.Tensor): tf.Tensor {
    this.checkAlive('decode');
    if (!(ids instanceof tf.Tensor) || ids.dtype !== 'int32') {
      fail('PretrainedTokenizer.decode', `ids must be an int32 tensor, got ${ids instanceof tf.Tensor ? ids.dtype : typeof ids}`);
    }
    const vals = ids.dataSync();
    for (let i = 0; i < vals.length; i++) {
      const v = vals[i]!;
      if (v < 0 || v >= this.vocabSize) {
        fail('PretrainedTokenizer.decode', `ids must be in [0, ${this.vocabSize}), got ${v} at flat index ${i}`);
      }
    }
    return tf.tidy(() => tf.reshape(tf.gather(this.codebookTensor, tf.reshape(ids, [-1])), [...ids.shape, this.embedDim]));
  }

  /** A copy of the `[vocabSize, embedDim]` codebook, row-major. */
  getCodebook(): Float32Array {
    return Float32Array.from(this.codebookData);
  }

  /** The config of the file this tokenizer writes (snake_case, PyTorch-style). */
  fileConfig(): Record<string, unknown> {
    return {
      tokenizer: this.kind,
      vocab_size: this.vocabSize,
      embed_dim: this.embedDim,
      patch_size: this.patchSize,
      in_chans: this.inChans,
      patch_norm: this.patchNorm === 'meanStd' ? 'mean_std' : 'none',
      l2_normalize: this.l2Normalize,
      has_proj: this.projData !== undefined,
    };
  }

  /** Serialises the tokenizer as a safetensors file that {@link PretrainedTokenizer.fromSafetensors} reads back. */
  toSafetensors(): Uint8Array {
    this.checkAlive('toSafetensors');
    const entries: Record<string, SafetensorsEntry> = {
      codebook: { dtype: 'F32', shape: [this.vocabSize, this.embedDim], data: this.codebookData },
    };
    if (this.projData !== undefined) {
      const patchDim = this.patchSize * this.patchSize * this.inChans;
      entries['proj.weight'] = { dtype: 'F32', shape: [this.embedDim, patchDim], data: this.projData.weight };
      if (this.projData.bias) entries['proj.bias'] = { dtype: 'F32', shape: [this.embedDim], data: this.projData.bias };
    }
    return serializeSafetensors(entries, { format: TOKENIZER_FORMAT, config: JSON.stringify(this.fileConfig()) });
  }

  /**
   * Loads a tokenizer from a safetensors file (bytes or a parsed file): the
   * codebook tensor, the optional projection, and the config from
   * `__metadata__.config` (options override it, and supply what a foreign
   * file lacks).
   */
  static fromSafetensors(file: Uint8Array | ArrayBuffer | SafetensorsFile, options: LoadTokenizerOptions = {}): PretrainedTokenizer {
    const fn = 'PretrainedTokenizer.fromSafetensors';
    const st = file instanceof SafetensorsFile ? file : parseSafetensors(file);
    let cfg: Record<string, unknown> = {};
    const rawCfg = st.metadata.config;
    if (rawCfg !== undefined) {
      try {
        const parsed: unknown = JSON.parse(rawCfg);
        if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
        cfg = parsed as Record<string, unknown>;
      } catch (e) {
        fail(fn, `__metadata__.config must be a JSON object, got ${JSON.stringify(rawCfg.slice(0, 80))} (${(e as Error).message})`);
      }
    }
    const codebookKey = options.codebookKey ?? 'codebook';
    if (!st.has(codebookKey)) fail(fn, `the file has no codebook tensor '${codebookKey}' (it has: ${st.names().join(', ')})`);
    const info = st.info(codebookKey);
    if (info.shape.length !== 2) fail(fn, `codebook '${codebookKey}' must be [K, d], got shape [${info.shape}]`);
    const patchSize = options.patchSize ?? cfg.patch_size;
    const inChans = options.inChans ?? cfg.in_chans;
    if (patchSize === undefined) fail(fn, `patchSize is missing: the file's config has no patch_size; pass options.patchSize`);
    if (inChans === undefined) fail(fn, `inChans is missing: the file's config has no in_chans; pass options.inChans`);
    let patchNorm: unknown = options.patchNorm;
    if (patchNorm === undefined) {
      const v = cfg.patch_norm ?? 'none';
      patchNorm = v === 'mean_std' ? 'meanStd' : v;
    }
    const l2Normalize = options.l2Normalize ?? cfg.l2_normalize ?? false;
    if (typeof l2Normalize !== 'boolean') fail(fn, `l2_normalize in the file's config must be a boolean, got ${JSON.stringify(l2Normalize)}`);
    const projKey = options.projKey ?? 'proj';
    let proj: PretrainedTokenizerConfig['proj'];
    if (st.has(`${projKey}.weight`)) {
      proj = { weight: st.float32(`${projKey}.weight`) };
      const wShape = st.info(`${projKey}.weight`).shape;
      if (wShape.length !== 2 || wShape[0] !== info.shape[1]) {
        fail(fn, `'${projKey}.weight' must be [embedDim, p*p*C] with embedDim = ${info.shape[1]}, got shape [${wShape}]`);
      }
      if (st.has(`${projKey}.bias`)) proj.bias = st.float32(`${projKey}.bias`);
    } else if (st.has(`${projKey}.bias`)) {
      fail(fn, `the file has '${projKey}.bias' but no '${projKey}.weight'`);
    }
    return new PretrainedTokenizer({
      codebook: st.float32(codebookKey),
      vocabSize: info.shape[0]!,
      patchSize: patchSize as number,
      inChans: inChans as number,
      patchNorm: checkPatchNorm(fn, patchNorm),
      l2Normalize,
      proj,
      kind: typeof cfg.tokenizer === 'string' ? cfg.tokenizer : 'pretrained',
    });
  }

  /** Frees the codebook and projection tensors. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (this.searchTensor !== this.codebookTensor) this.searchTensor.dispose();
    this.codebookTensor.dispose();
    this.projWeight?.dispose();
    this.projBias?.dispose();
  }
}
