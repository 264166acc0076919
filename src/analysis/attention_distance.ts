import * as tf from '@tensorflow/tfjs-core';
import { describeValue, requireInt, requireNumber } from '../utils/config.js';

/** Options of {@link meanAttentionDistance}. */
export interface AttentionDistanceOptions {
  /** Patch grid `[rows, cols]` (or `G` for a square grid). */
  gridSize: number | [number, number];
  /** Patch size in pixels (distances are in pixels). */
  patchSize: number;
  /** Leading non-patch tokens (class token) whose rows and columns are dropped. Default 1. */
  numPrefixTokens?: number;
}

function resolve(fn: string, attn: tf.Tensor, o: AttentionDistanceOptions): { rows: number; cols: number; p: number; P: number } {
  const g = typeof o.gridSize === 'number' ? [o.gridSize, o.gridSize] : o.gridSize;
  if (!Array.isArray(g) || g.length !== 2 || !g.every((v) => Number.isInteger(v) && v > 0)) {
    throw new Error(`${fn}: gridSize must be a positive integer or [rows, cols], got ${JSON.stringify(o.gridSize)}`);
  }
  const [rows, cols] = g as [number, number];
  const p = o.patchSize;
  if (!(typeof p === 'number' && p > 0)) throw new Error(`${fn}: patchSize must be a positive number, got ${p}`);
  const P = o.numPrefixTokens ?? 1;
  if (!Number.isInteger(P) || P < 0) {
    throw new Error(`${fn}: numPrefixTokens must be a non-negative integer, got ${P}`);
  }
  if (attn.rank !== 4 || attn.shape[2] !== attn.shape[3]) {
    throw new Error(`${fn}: attn must be [B, heads, T, T], got shape [${attn.shape}]`);
  }
  if (attn.shape[2] !== P + rows * cols) {
    throw new Error(
      `${fn}: attn has T=${attn.shape[2]} tokens (shape [${attn.shape}]), expected numPrefixTokens + rows*cols = ${P} + ${rows}*${cols} = ${P + rows * cols}`,
    );
  }
  return { rows, cols, p, P };
}

/**
 * Pixel distances between patch centres, `[N, N]` with `N = rows * cols`
 * (patch `n` at row `n // cols`, column `n % cols`), computed in float64.
 */
export function patchDistanceMatrix(rows: number, cols: number, patchSize: number): tf.Tensor2D {
  requireInt('patchDistanceMatrix', 'rows', rows, { min: 1, max: 4096 });
  requireInt('patchDistanceMatrix', 'cols', cols, { min: 1, max: 4096 });
  requireNumber('patchDistanceMatrix', 'patchSize', patchSize, { min: 0, minExclusive: true });
  const n = rows * cols;
  const d = new Float32Array(n * n);
  for (let a = 0; a < n; a++) {
    const ra = Math.floor(a / cols);
    const ca = a % cols;
    for (let b = 0; b < n; b++) {
      const dr = ra - Math.floor(b / cols);
      const dc = ca - (b % cols);
      d[a * n + b] = patchSize * Math.sqrt(dr * dr + dc * dc);
    }
  }
  return tf.tensor2d(d, [n, n]);
}

/**
 * Mean attention distance per head (Dosovitskiy et al., 2021, Fig. 7; used by
 * Xie et al., 2022, "Revealing the Dark Secrets of Masked Image Modeling", to
 * show that MIM keeps local attention in every layer): for each sample and
 * head, the mean over query patches `n` of `sum_m attn[n, m] * dist(n, m)`
 * over key patches `m`, with `dist` the pixel distance between patch centres.
 * Prefix-token rows and columns are dropped and the remaining rows are NOT
 * renormalised: attention paid to the class token contributes nothing.
 *
 * @param attn `[B, heads, P + N, P + N]` attention probabilities.
 * @returns `[B, heads]`, in pixels.
 */
export function meanAttentionDistance(attn: tf.Tensor, options: AttentionDistanceOptions): tf.Tensor2D {
  const { rows, cols, p, P } = resolve('meanAttentionDistance', attn, options);
  const n = rows * cols;
  return tf.tidy(() => {
    const [b, h] = attn.shape as [number, number, number, number];
    const patches = tf.slice(attn, [0, 0, P, P], [b, h, n, n]);
    const weighted = tf.sum(tf.mul(patches, patchDistanceMatrix(rows, cols, p)), -1);
    return tf.mean(weighted, -1) as tf.Tensor2D;
  });
}

/**
 * {@link meanAttentionDistance} averaged over the batch, one value per head:
 * `[B, heads, T, T]` -> `[heads]`.
 */
export function meanAttentionDistancePerHead(attn: tf.Tensor, options: AttentionDistanceOptions): tf.Tensor1D {
  resolve('meanAttentionDistancePerHead', attn, options);
  return tf.tidy(() => tf.mean(meanAttentionDistance(attn, options), 0) as tf.Tensor1D);
}

/**
 * Mean attention distance of every layer and head, averaged over the batch
 * (the per-layer scatter plots of ViT and "Dark secrets of MIM"):
 * per-layer `[B, heads, T, T]` -> `[layers, heads]`.
 */
export function attentionDistanceByLayer(attentions: tf.Tensor[], options: AttentionDistanceOptions): tf.Tensor2D {
  if (!Array.isArray(attentions)) throw new Error(`attentionDistanceByLayer: attentions must be an array of [B, heads, T, T] tensors, got ${describeValue(attentions)}`);
  if (attentions.length === 0) throw new Error('attentionDistanceByLayer: attentions must hold at least one layer, got 0');
  attentions.forEach((a, i) => {
    try {
      resolve('attentionDistanceByLayer', a, options);
    } catch (e) {
      throw new Error(`${(e as Error).message} (layer ${i})`);
    }
  });
  return tf.tidy(() => tf.stack(attentions.map((a) => meanAttentionDistancePerHead(a, options))) as tf.Tensor2D);
}
