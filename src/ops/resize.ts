import * as tf from '@tensorflow/tfjs-core';
import { matMul } from './matmul.js';
import { checkTensorArg, describeValue } from '../utils/config.js';

/**
 * Resizing as constant interpolation matrices: the weights of PyTorch's
 * `F.interpolate` are computed here in plain JS (float64, returned as
 * float32), and the resize itself is a matrix product per axis through
 * {@link matMul}. So it is differentiable with respect to the resized values
 * (a position table, a feature map) and runs on every backend without a
 * resize kernel.
 */

/** Interpolation of {@link interpolationMatrix}, PyTorch's `mode`. */
export type InterpolationMode = 'bicubic' | 'bilinear' | 'nearest';

/** Options of {@link interpolationMatrix}; defaults are PyTorch's `F.interpolate` defaults where it has one. */
export interface InterpolationOptions {
  /** Interpolation. Default `'bicubic'` (timm's and DINO's choice for position tables). */
  mode?: InterpolationMode;
  /**
   * PyTorch's `align_corners`: the corner pixels' centres of input and output
   * coincide (source coordinate `o * (in - 1) / (out - 1)`). Default false.
   * Not allowed with `'nearest'`.
   */
  alignCorners?: boolean;
  /**
   * PyTorch's `antialias=True` (`_upsample_bicubic2d_aa`,
   * `_upsample_bilinear2d_aa`): the filter is evaluated at the distances to
   * every input sample in its support, the taps that fall outside the input
   * are dropped (not clamped), and the weights are normalised to sum to 1;
   * when shrinking by `s = in / out > 1` the support is widened by `s` and
   * the filter stretched by `s`. The bicubic filter then uses `A = -0.5`
   * (PIL's), not `-0.75`. So antialias changes the result when enlarging too.
   * Default false (PyTorch's default; timm passes true). Not allowed with
   * `'nearest'`.
   */
  antialias?: boolean;
  /**
   * PyTorch's `scale_factor` (with `recompute_scale_factor` unset): the
   * source coordinate then uses `1 / scaleFactor` instead of `in / out`
   * (ignored with `alignCorners`, as in PyTorch). DINO resizes its table with
   * `scale_factor = (g + 0.1) / n`. Default: none (`in / out`).
   */
  scaleFactor?: number;
}

const CUBIC_A = -0.75; // PyTorch upsample_bicubic2d (Keys' kernel with A = -0.75)
const CUBIC_A_AA = -0.5; // PyTorch's antialiased bicubic uses PIL's A = -0.5

function cubic(x: number, a: number): number {
  const s = Math.abs(x);
  if (s <= 1) return ((a + 2) * s - (a + 3)) * s * s + 1;
  if (s < 2) return ((a * s - 5 * a) * s + 8 * a) * s - 4 * a;
  return 0;
}

function triangle(x: number): number {
  const s = Math.abs(x);
  return s < 1 ? 1 - s : 0;
}

/** Checks the options; returns them resolved. Throws before any work, naming the caller. */
function resolve(fn: string, inSize: number, outSize: number, opts: InterpolationOptions): Required<Omit<InterpolationOptions, 'scaleFactor'>> & { scaleFactor: number | undefined } {
  for (const [k, v] of [['inSize', inSize], ['outSize', outSize]] as const) {
    if (!Number.isInteger(v) || v <= 0) throw new Error(`${fn}: ${k} must be a positive integer, got ${v}`);
  }
  const mode = opts.mode ?? 'bicubic';
  if (mode !== 'bicubic' && mode !== 'bilinear' && mode !== 'nearest') {
    throw new Error(`${fn}: mode must be 'bicubic', 'bilinear' or 'nearest', got '${String(mode)}'`);
  }
  const alignCorners = opts.alignCorners ?? false;
  const antialias = opts.antialias ?? false;
  if (typeof alignCorners !== 'boolean') throw new Error(`${fn}: alignCorners must be a boolean, got ${String(alignCorners)}`);
  if (typeof antialias !== 'boolean') throw new Error(`${fn}: antialias must be a boolean, got ${String(antialias)}`);
  if (mode === 'nearest' && (alignCorners || antialias)) {
    throw new Error(`${fn}: mode 'nearest' takes neither alignCorners nor antialias (PyTorch refuses both), got alignCorners=${alignCorners}, antialias=${antialias}`);
  }
  const sf = opts.scaleFactor;
  if (sf !== undefined && !(Number.isFinite(sf) && sf > 0)) {
    throw new Error(`${fn}: scaleFactor must be a positive finite number, got ${String(sf)}`);
  }
  return { mode, alignCorners, antialias, scaleFactor: sf };
}

/**
 * The `[outSize, inSize]` matrix `M` of a 1-D resize, so that
 * `out[o] = sum_i M[o, i] * in[i]`: exactly the weights of PyTorch's
 * `F.interpolate(x, size=outSize or scale_factor=scaleFactor, mode,
 * align_corners, antialias)` along one axis (2-D resizes are separable: one
 * matrix per axis).
 *
 * Without antialias (aten `UpSample.h`): scale `s = in / out` (or
 * `1 / scaleFactor`; `(in - 1) / (out - 1)` with `alignCorners`), source
 * coordinate `x = s * (o + 0.5) - 0.5` (`s * o` with `alignCorners`; clamped
 * at 0 for bilinear only). Bicubic: taps `floor(x) - 1 .. floor(x) + 2`
 * clamped to `[0, in - 1]`, cubic convolution weights with `A = -0.75`.
 * Bilinear: taps `floor(x)` and the next one (the last sample repeated at the
 * border). Nearest: `min(floor(o * s), in - 1)`.
 *
 * With `antialias`, see {@link InterpolationOptions.antialias}. Rows sum to 1
 * (up to rounding); `in == out` without `scaleFactor` gives the identity.
 */
export function interpolationMatrix(inSize: number, outSize: number, opts: InterpolationOptions = {}): Float32Array {
  const { mode, alignCorners, antialias, scaleFactor } = resolve('interpolationMatrix', inSize, outSize, opts);
  const m = new Float64Array(outSize * inSize);
  // aten area_pixel_compute_scale
  const scale = alignCorners
    ? outSize > 1 ? (inSize - 1) / (outSize - 1) : 0
    : scaleFactor !== undefined ? 1 / scaleFactor : inSize / outSize;
  const add = (o: number, i: number, w: number): void => {
    const k = Math.min(Math.max(i, 0), inSize - 1);
    m[o * inSize + k] += w;
  };
  for (let o = 0; o < outSize; o++) {
    if (mode === 'nearest') {
      // aten nearest_idx: the scale is a float, the index floor(o * scale).
      const src = Math.floor(Math.fround(o * Math.fround(scale)));
      add(o, Math.min(src, inSize - 1), 1);
    } else if (antialias) {
      // aten _compute_index_ranges_weights / _compute_weights_aa (float input:
      // align_corners_delta = 0).
      const interpSize = mode === 'bicubic' ? 4 : 2;
      const support = scale >= 1 ? interpSize * 0.5 * scale : interpSize * 0.5;
      const invScale = scale >= 1 ? 1 / scale : 1;
      const center = scale * (o + 0.5);
      const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
      const xmax = Math.min(Math.trunc(center + support + 0.5), inSize);
      const ws: number[] = [];
      let total = 0;
      for (let j = xmin; j < xmax; j++) {
        const x = (j - center + 0.5) * invScale;
        const w = mode === 'bicubic' ? cubic(x, CUBIC_A_AA) : triangle(x);
        ws.push(w);
        total += w;
      }
      for (let j = xmin; j < xmax; j++) add(o, j, total !== 0 ? ws[j - xmin]! / total : 0);
    } else {
      // aten area_pixel_compute_source_index, then guard_index_and_lambda.
      let src = alignCorners ? scale * o : scale * (o + 0.5) - 0.5;
      if (mode === 'bilinear' && !alignCorners) src = Math.max(src, 0);
      const i0 = Math.min(Math.floor(src), inSize - 1);
      const t = Math.min(Math.max(src - i0, 0), 1);
      if (mode === 'bilinear') {
        add(o, i0, 1 - t);
        add(o, i0 < inSize - 1 ? i0 + 1 : i0, t);
      } else {
        add(o, i0 - 1, cubic(t + 1, CUBIC_A));
        add(o, i0, cubic(t, CUBIC_A));
        add(o, i0 + 1, cubic(1 - t, CUBIC_A));
        add(o, i0 + 2, cubic(2 - t, CUBIC_A));
      }
    }
  }
  return Float32Array.from(m);
}

function hwPair(fn: string, name: string, v: number | [number, number]): [number, number] {
  const p: [number, number] = typeof v === 'number' ? [v, v] : Array.isArray(v) && v.length === 2 ? [v[0], v[1]] : [NaN, NaN];
  if (!p.every((x) => Number.isInteger(x) && x > 0)) {
    throw new Error(`${fn}: ${name} must be a positive integer or [height, width] of them, got ${JSON.stringify(v)}`);
  }
  return p;
}

/** Per-axis options of a 2-D resize: `scaleFactor` may differ by axis. */
export interface ResizeOptions extends Omit<InterpolationOptions, 'scaleFactor'> {
  /** PyTorch's `scale_factor`, one number or `[height, width]`; see {@link InterpolationOptions.scaleFactor}. */
  scaleFactor?: number | [number, number];
}

function axisOpts(o: ResizeOptions, axis: 0 | 1): InterpolationOptions {
  const sf = o.scaleFactor;
  return { mode: o.mode, alignCorners: o.alignCorners, antialias: o.antialias, scaleFactor: Array.isArray(sf) ? sf[axis] : sf };
}

/**
 * Resizes an NHWC image or feature map `[B, H, W, C]` (or `[H, W, C]`) to
 * `outHW` as PyTorch's `F.interpolate` does on the NCHW tensor (see
 * {@link interpolationMatrix}): one constant matrix per axis, applied with two
 * {@link matMul}s, so gradients flow to `x` on every backend.
 *
 * @param outHW output `[height, width]`, or one number for a square output.
 */
export function resizeGrid(x: tf.Tensor, outHW: number | [number, number], opts: ResizeOptions = {}): tf.Tensor {
  const fn = 'resizeGrid';
  checkTensorArg(fn, 'x', x);
  if (x.rank !== 3 && x.rank !== 4) {
    throw new Error(`${fn}: x must be [B, H, W, C] or [H, W, C] (NHWC), got shape [${x.shape}]`);
  }
  const [oh, ow] = hwPair(fn, 'outHW', outHW);
  const B = x.rank === 4 ? x.shape[0]! : 1;
  const [h, w, c] = x.shape.slice(-3) as [number, number, number];
  const mh = interpolationMatrixChecked(fn, h, oh, axisOpts(opts, 0));
  const mw = interpolationMatrixChecked(fn, w, ow, axisOpts(opts, 1));
  if (h === oh && w === ow && (opts.scaleFactor === undefined || copiesWhenSameSize(opts))) return tf.clone(x);
  return tf.tidy(() => {
    // Rows: [H, B*W*C] -> [oh, B*W*C]; columns: [W, oh*B*C] -> [ow, oh*B*C].
    const x4 = tf.reshape(x, [B, h, w, c]);
    const rowsFirst = tf.reshape(tf.transpose(x4, [1, 0, 2, 3]), [h, B * w * c]);
    const r = tf.reshape(matMul(tf.tensor2d(mh, [oh, h]), rowsFirst), [oh, B, w, c]);
    const colsFirst = tf.reshape(tf.transpose(r, [2, 0, 1, 3]), [w, oh * B * c]);
    const y = tf.reshape(matMul(tf.tensor2d(mw, [ow, w]), colsFirst), [ow, oh, B, c]);
    const out = tf.transpose(y, [2, 1, 0, 3]);
    return x.rank === 4 ? out : tf.reshape(out, [oh, ow, c]);
  });
}

/**
 * aten's (non-antialiased) bilinear kernel copies the input when the whole
 * 2-D size is unchanged, even when a `scale_factor` would move the samples;
 * bicubic, nearest and the antialiased kernels do not.
 */
function copiesWhenSameSize(o: ResizeOptions): boolean {
  return (o.mode ?? 'bicubic') === 'bilinear' && !(o.antialias ?? false);
}

function interpolationMatrixChecked(fn: string, inSize: number, outSize: number, o: InterpolationOptions): Float32Array {
  resolve(fn, inSize, outSize, o);
  return interpolationMatrix(inSize, outSize, o);
}

/** Options of {@link resamplePosTable}. */
export interface ResamplePosTableOptions extends ResizeOptions {
  /** Leading rows (class/register tokens) kept unchanged. Default 1 (class token). */
  numPrefixTokens?: number;
}

/**
 * Resizes the patch rows of an absolute position table in-graph: the first
 * `numPrefixTokens` rows are kept, the `fromGrid` rows (row-major) are viewed
 * as a `[rows, cols, D]` map, resized to `toGrid` with {@link resizeGrid}'s
 * matrices (two {@link matMul}s) and flattened row-major again. This is
 * timm's `resample_abs_pos_embed` (`F.interpolate` on the table laid out as
 * `[1, D, rows, cols]`) and DINO's `interpolate_pos_encoding` (with
 * `scaleFactor`), differentiable with respect to the table. Returns the table
 * itself (a new handle) when the grids are equal and no `scaleFactor` is given.
 *
 * @param table `[1, P + rows * cols, D]` (or `[P + rows * cols, D]`).
 * @returns `[1, P + newRows * newCols, D]` (same rank as `table`).
 */
export function resamplePosTable(
  table: tf.Tensor,
  fromGrid: number | [number, number],
  toGrid: number | [number, number],
  opts: ResamplePosTableOptions = {},
): tf.Tensor {
  const fn = 'resamplePosTable';
  checkTensorArg(fn, 'table', table);
  const [fh, fw] = hwPair(fn, 'fromGrid', fromGrid);
  const [th, tw] = hwPair(fn, 'toGrid', toGrid);
  const P = opts.numPrefixTokens ?? 1;
  if (!Number.isInteger(P) || P < 0) throw new Error(`${fn}: numPrefixTokens must be a non-negative integer, got ${P}`);
  if (!(table.rank === 3 && table.shape[0] === 1) && table.rank !== 2) {
    throw new Error(`${fn}: table must be [1, P+N, D] or [P+N, D], got shape [${table.shape}]`);
  }
  const t = table.shape[table.rank - 2]!;
  const D = table.shape[table.rank - 1]!;
  if (t !== P + fh * fw) {
    throw new Error(`${fn}: table has ${t} rows (shape [${table.shape}]), expected numPrefixTokens + fromGrid = ${P} + ${fh}*${fw} = ${P + fh * fw}`);
  }
  const mh = interpolationMatrixChecked(fn, fh, th, axisOpts(opts, 0));
  const mw = interpolationMatrixChecked(fn, fw, tw, axisOpts(opts, 1));
  if (fh === th && fw === tw && (opts.scaleFactor === undefined || copiesWhenSameSize(opts))) return tf.clone(table);
  return tf.tidy(() => {
    const t2 = tf.reshape(table, [t, D]);
    const grid = tf.slice(t2, [P, 0], [fh * fw, D]);
    // Rows: [fh, fw*D] -> [th, fw*D]; columns: [fw, th*D] -> [tw, th*D].
    const r = tf.reshape(matMul(tf.tensor2d(mh, [th, fh]), tf.reshape(grid, [fh, fw * D])), [th, fw, D]);
    const cFirst = tf.reshape(tf.transpose(r, [1, 0, 2]), [fw, th * D]);
    const y = tf.reshape(matMul(tf.tensor2d(mw, [tw, fw]), cFirst), [tw, th, D]);
    const patches = tf.reshape(tf.transpose(y, [1, 0, 2]), [th * tw, D]);
    const out = P > 0 ? tf.concat([tf.slice(t2, [0, 0], [P, D]), patches], 0) : patches;
    return table.rank === 3 ? tf.reshape(out, [1, P + th * tw, D]) : out;
  });
}

/**
 * {@link resamplePosTable} on plain values, without a tensor backend (for
 * weight conversion at load time): the same matrices, applied in float64.
 *
 * @param values row-major `[P + fromRows * fromCols, D]`.
 * @returns row-major `[P + toRows * toCols, D]`.
 */
export function resamplePosTableData(
  values: ArrayLike<number>,
  embedDim: number,
  fromGrid: [number, number],
  toGrid: [number, number],
  opts: ResamplePosTableOptions = {},
): Float32Array {
  const fn = 'resamplePosTableData';
  if (values === null || typeof values !== 'object' || typeof values.length !== 'number') {
    throw new Error(`${fn}: values must be an array or typed array of numbers, got ${describeValue(values)}`);
  }
  if (!Number.isInteger(embedDim) || embedDim < 1) throw new Error(`${fn}: embedDim must be a positive integer, got ${describeValue(embedDim)}`);
  const [fh, fw] = hwPair(fn, 'fromGrid', fromGrid);
  const [th, tw] = hwPair(fn, 'toGrid', toGrid);
  const P = opts.numPrefixTokens ?? 1;
  const D = embedDim;
  if (!Number.isInteger(P) || P < 0) throw new Error(`${fn}: numPrefixTokens must be a non-negative integer, got ${P}`);
  if (values.length !== (P + fh * fw) * D) {
    throw new Error(`${fn}: values has ${values.length} entries, expected (${P} + ${fh}*${fw}) * ${D} = ${(P + fh * fw) * D}`);
  }
  const mh = interpolationMatrixChecked(fn, fh, th, axisOpts(opts, 0));
  const mw = interpolationMatrixChecked(fn, fw, tw, axisOpts(opts, 1));
  const out = new Float32Array((P + th * tw) * D);
  for (let k = 0; k < P * D; k++) out[k] = values[k]!;
  if (fh === th && fw === tw && (opts.scaleFactor === undefined || copiesWhenSameSize(opts))) {
    for (let k = P * D; k < out.length; k++) out[k] = values[k]!;
    return out;
  }
  // Columns first into [fh, tw, D], then rows.
  const mid = new Float64Array(fh * tw * D);
  for (let r = 0; r < fh; r++) {
    for (let c = 0; c < tw; c++) {
      const o = (r * tw + c) * D;
      for (let j = 0; j < fw; j++) {
        const w = mw[c * fw + j]!;
        if (w === 0) continue;
        const s = (P + r * fw + j) * D;
        for (let ch = 0; ch < D; ch++) mid[o + ch] += w * values[s + ch]!;
      }
    }
  }
  const acc = new Float64Array(D);
  for (let r = 0; r < th; r++) {
    for (let c = 0; c < tw; c++) {
      acc.fill(0);
      for (let i = 0; i < fh; i++) {
        const w = mh[r * fh + i]!;
        if (w === 0) continue;
        const s = (i * tw + c) * D;
        for (let ch = 0; ch < D; ch++) acc[ch] += w * mid[s + ch]!;
      }
      out.set(acc, (P + r * tw + c) * D);
    }
  }
  return out;
}
