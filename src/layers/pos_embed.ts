import * as tf from '@tensorflow/tfjs-core';
import type { Init } from './init.js';
import { resamplePosTableData, type InterpolationMode } from '../ops/resize.js';

/**
 * Fixed 1-D sine-cosine embedding of positions (Vaswani et al., 2017; MAE's
 * `get_1d_sincos_pos_embed_from_grid`), computed in float64: with
 * `w_i = 10000^(-i / (D/2))`, row `m` is
 * `[sin(pos_m * w_0 .. w_{D/2-1}), cos(pos_m * w_0 .. w_{D/2-1})]`.
 *
 * @param embedDim `D`, even.
 * @param positions the positions (any real numbers).
 * @returns row-major `[positions.length, D]` values.
 */
export function sincos1d(embedDim: number, positions: ArrayLike<number>): Float64Array {
  if (!Number.isInteger(embedDim) || embedDim <= 0 || embedDim % 2 !== 0) {
    throw new Error(`sincos1d: embedDim must be a positive even integer, got ${embedDim}`);
  }
  const half = embedDim / 2;
  const omega = new Float64Array(half);
  for (let i = 0; i < half; i++) omega[i] = 1 / Math.pow(10000, i / half);
  const out = new Float64Array(positions.length * embedDim);
  for (let m = 0; m < positions.length; m++) {
    const pos = positions[m]!;
    const row = m * embedDim;
    for (let i = 0; i < half; i++) {
      const a = pos * omega[i]!;
      out[row + i] = Math.sin(a);
      out[row + half + i] = Math.cos(a);
    }
  }
  return out;
}

function gridPair(fn: string, gridSize: number | [number, number]): [number, number] {
  const g: [number, number] = typeof gridSize === 'number' ? [gridSize, gridSize] : [gridSize[0], gridSize[1]];
  if (!Number.isInteger(g[0]) || !Number.isInteger(g[1]) || g[0] <= 0 || g[1] <= 0) {
    throw new Error(`${fn}: gridSize must be a positive integer or [rows, cols] of them, got ${JSON.stringify(gridSize)}`);
  }
  return g;
}

/**
 * The values of {@link sincosPosEmbed2d} as a plain array (row-major
 * `[numPrefixTokens + rows * cols, D]`), for use as a fixed weight's initial
 * values without touching a tensor backend.
 *
 * @param numPrefixTokens all-zero rows put first (1 = MAE's class-token row).
 * @param rowFirst the first `D/2` channels encode the row and the last `D/2`
 *   the column (MoCo v3's `build_2d_sincos_position_embedding`); default
 *   false: column first (MAE).
 */
export function sincosPosEmbed2dData(
  embedDim: number,
  gridSize: number | [number, number],
  numPrefixTokens = 0,
  rowFirst = false,
): Float32Array {
  if (!Number.isInteger(embedDim) || embedDim <= 0 || embedDim % 4 !== 0) {
    throw new Error(`sincosPosEmbed2d: embedDim must be a positive multiple of 4, got ${embedDim}`);
  }
  if (!Number.isInteger(numPrefixTokens) || numPrefixTokens < 0) {
    throw new Error(`sincosPosEmbed2d: numPrefixTokens must be a non-negative integer, got ${numPrefixTokens}`);
  }
  const [rows, cols] = gridPair('sincosPosEmbed2d', gridSize);
  const n = rows * cols;
  const colPos = new Float64Array(n);
  const rowPos = new Float64Array(n);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      colPos[r * cols + c] = c;
      rowPos[r * cols + c] = r;
    }
  }
  const half = embedDim / 2;
  const embX = sincos1d(half, rowFirst ? rowPos : colPos);
  const embY = sincos1d(half, rowFirst ? colPos : rowPos);
  const out = new Float32Array((numPrefixTokens + n) * embedDim);
  for (let t = 0; t < n; t++) {
    const o = (numPrefixTokens + t) * embedDim;
    for (let i = 0; i < half; i++) {
      out[o + i] = embX[t * half + i]!;
      out[o + half + i] = embY[t * half + i]!;
    }
  }
  return out;
}

/**
 * Fixed 2-D sine-cosine position table, exactly MAE's
 * `get_2d_sincos_pos_embed` (He et al., 2022), generalised to non-square grids.
 * Grid cell (row `r`, column `c`) is row `r * cols + c`; its first `D/2`
 * channels are {@link sincos1d} of the column `c` (x) and the last `D/2` of
 * the row `r` (y). Computed in float64, returned as float32.
 *
 * @param embedDim `D`, a multiple of 4.
 * @param gridSize `G` (square grid) or `[rows, cols]`.
 * @param clsToken prepend an all-zero row for the class token (MAE). Default false.
 * @returns `[rows * cols, D]`, or `[1 + rows * cols, D]` with `clsToken`.
 */
export function sincosPosEmbed2d(
  embedDim: number,
  gridSize: number | [number, number],
  clsToken = false,
): tf.Tensor2D {
  const data = sincosPosEmbed2dData(embedDim, gridSize, clsToken ? 1 : 0);
  return tf.tensor2d(data, [data.length / embedDim, embedDim], 'float32');
}

/**
 * How a ViT adds absolute positions (timm `pos_embed`):
 * - `learned`: a trainable table, `trunc_normal(std 0.02)` (ViT, BEiT, SimMIM);
 * - `sincos`: the fixed {@link sincosPosEmbed2d} table, not trainable, with
 *   zero rows for prefix tokens (MAE);
 * - `sincosRowFirst`: the same table with the row's channels first and the
 *   column's last (MoCo v3's `VisionTransformerMoCo`; moco-v3 builds it with
 *   `torch.meshgrid(grid_w, grid_h)`, which on its square grids puts the row
 *   first), not trainable, zero prefix rows;
 * - `none`: no table (e.g. models with relative position bias only).
 */
export type PosEmbedKind = 'learned' | 'sincos' | 'sincosRowFirst' | 'none';

/**
 * Initialiser and trainability of a `[1, numPrefixTokens + rows * cols, D]`
 * position table of the given kind, or null for `none` (an option that is
 * off creates no weight).
 */
export function posEmbedInit(
  kind: PosEmbedKind,
  embedDim: number,
  gridSize: number | [number, number],
  numPrefixTokens: number,
): { init: Init; trainable: boolean } | null {
  switch (kind) {
    case 'none':
      return null;
    case 'learned':
      return { init: { kind: 'truncNormal', std: 0.02 }, trainable: true };
    case 'sincos':
      return { init: { kind: 'values', values: sincosPosEmbed2dData(embedDim, gridSize, numPrefixTokens) }, trainable: false };
    case 'sincosRowFirst':
      return { init: { kind: 'values', values: sincosPosEmbed2dData(embedDim, gridSize, numPrefixTokens, true) }, trainable: false };
    default:
      throw new Error(`posEmbedInit: kind must be 'learned', 'sincos', 'sincosRowFirst' or 'none', got '${String(kind)}'`);
  }
}

/** Interpolation of {@link resamplePosEmbed} (PyTorch's `mode`). */
export type ResampleMode = InterpolationMode;

/** Options of {@link resamplePosEmbed}. */
export interface ResamplePosEmbedOptions {
  /** Interpolation. Default `'bicubic'` (timm's default). */
  mode?: ResampleMode;
  /**
   * PyTorch's `antialias` (see `interpolationMatrix` in `ops/resize`).
   * Default `true`: timm's `resample_abs_pos_embed`, `checkpoint_filter_fn`
   * and its dynamic-size path. MAE's `interpolate_pos_embed`, BEiT's and
   * DINO's resizing use `false`.
   */
  antialias?: boolean;
  /** PyTorch's `align_corners`. Default false (every reference above). */
  alignCorners?: boolean;
  /** Leading rows (class/register tokens) copied unchanged. Default 1 (class token). */
  numPrefixTokens?: number;
}

/**
 * Resamples an absolute position table to another patch grid, as timm's
 * `resample_abs_pos_embed` (huggingface/pytorch-image-models
 * `timm/layers/pos_embed.py`): the prefix rows are kept, the grid rows are
 * viewed as a `[rows, cols, D]` image and resized with PyTorch's
 * `F.interpolate(mode, align_corners, antialias)` (defaults: bicubic,
 * `align_corners=False`, `antialias=True` as timm), then flattened back
 * row-major. Used to fine-tune or run a model at another resolution.
 *
 * A one-off weight conversion on the table's values (the weights of
 * `interpolationMatrix`, applied in float64), not differentiable; for a
 * resize inside a training graph use `resamplePosTable` (`ops/resize`), which
 * uses the same matrices.
 *
 * @param table `[1, P + oldRows * oldCols, D]` (or without the leading 1).
 * @param oldGrid the table's grid, `G` or `[rows, cols]`.
 * @param newGrid the target grid.
 * @returns a new table of the same rank, `[1, P + newRows * newCols, D]`.
 */
export function resamplePosEmbed(
  table: tf.Tensor,
  oldGrid: number | [number, number],
  newGrid: number | [number, number],
  options: ResamplePosEmbedOptions = {},
): tf.Tensor {
  if (!(table instanceof tf.Tensor)) throw new Error(`resamplePosEmbed: table must be a tf.Tensor, got ${table === null ? 'null' : typeof table}`);
  const mode = options.mode ?? 'bicubic';
  const P = options.numPrefixTokens ?? 1;
  if (mode !== 'bicubic' && mode !== 'bilinear' && mode !== 'nearest') {
    throw new Error(`resamplePosEmbed: mode must be 'bicubic', 'bilinear' or 'nearest', got '${String(mode)}'`);
  }
  if (!Number.isInteger(P) || P < 0) {
    throw new Error(`resamplePosEmbed: numPrefixTokens must be a non-negative integer, got ${P}`);
  }
  const antialias = options.antialias ?? mode !== 'nearest';
  const [oh, ow] = gridPair('resamplePosEmbed', oldGrid);
  const [nh, nw] = gridPair('resamplePosEmbed', newGrid);
  if (!(table.rank === 3 && table.shape[0] === 1) && table.rank !== 2) {
    throw new Error(`resamplePosEmbed: table must be [1, P+N, D] or [P+N, D], got shape [${table.shape}]`);
  }
  const t = table.shape[table.rank - 2]!;
  const D = table.shape[table.rank - 1]!;
  if (t !== P + oh * ow) {
    throw new Error(
      `resamplePosEmbed: table has ${t} rows (shape [${table.shape}]), expected numPrefixTokens + oldGrid = ${P} + ${oh}*${ow} = ${P + oh * ow}`,
    );
  }
  const outShape = table.rank === 3 ? [1, P + nh * nw, D] : [P + nh * nw, D];
  const out = resamplePosTableData(table.dataSync() as Float32Array, D, [oh, ow], [nh, nw], {
    mode,
    antialias,
    alignCorners: options.alignCorners ?? false,
    numPrefixTokens: P,
  });
  return tf.tensor(out, outShape, 'float32');
}
