/**
 * Resizing a checkpoint's position weights to the model's patch grid at load
 * time, as the references do when a checkpoint made at one image size is
 * used at another: absolute tables (`pos_embed`, `decoder_pos_embed`) with
 * PyTorch's `F.interpolate` (see `resamplePosTableData` in `ops/resize`), and
 * BEiT's relative position tables (`relative_position_bias_table`) with
 * timm's `resize_rel_pos_bias_table`. Pure data work, no tensor backend.
 */
import * as tf from '@tensorflow/tfjs-core';
import { PixelDecoder } from '../decoders/pixel_decoder.js';
import { Attention } from '../layers/attention.js';
import { Module, type Weight } from '../layers/module.js';
import { numRelativeDistance, RelativePositionBias } from '../layers/rel_pos_bias.js';
import { VisionTransformer } from '../models/vit.js';
import { resamplePosTableData, type InterpolationMode } from '../ops/resize.js';
import { checkTensorArg, describeValue } from '../utils/config.js';

/**
 * How an absolute position table is resized (PyTorch `F.interpolate`
 * arguments), and which reference does it so.
 */
export interface PosEmbedResample {
  /** Interpolation. Default `'bicubic'` (every reference). */
  mode?: InterpolationMode;
  /** PyTorch's `antialias`. Default: the converter's reference (timm: true; MAE, BEiT, SimMIM: false). */
  antialias?: boolean;
  /** PyTorch's `align_corners`. Default false (every reference). */
  alignCorners?: boolean;
}

/** The resampling a converter's reference uses, with where it comes from. */
export interface ConverterResample {
  mode: InterpolationMode;
  antialias: boolean;
  alignCorners: boolean;
  /** The reference code (`owner/repo path function @commit`). */
  reference: string;
}

/** timm's `checkpoint_filter_fn` (`resample_abs_pos_embed`, bicubic, antialias=True). */
export const TIMM_RESAMPLE: ConverterResample = Object.freeze({
  mode: 'bicubic',
  antialias: true,
  alignCorners: false,
  reference:
    'huggingface/pytorch-image-models timm/models/vision_transformer.py checkpoint_filter_fn -> ' +
    'timm/layers/pos_embed.py resample_abs_pos_embed @aa4b5850c1543fa488abf260f18390eda46cf85d',
});

/** MAE's `interpolate_pos_embed` (bicubic, align_corners=False, no antialias). */
export const MAE_RESAMPLE: ConverterResample = Object.freeze({
  mode: 'bicubic',
  antialias: false,
  alignCorners: false,
  reference: 'facebookresearch/mae util/pos_embed.py interpolate_pos_embed @efb2a8062c206524e35e47d04501ed4f544c0ae8',
});

/**
 * BEiT's fine-tuning loader (bicubic, align_corners=False, no antialias, for
 * `pos_embed`; SimMIM's ViT loader follows it). Its relative tables use
 * scipy's `interp2d(kind='cubic')` on a geometric grid; here they are
 * resized with timm's scipy-free `resize_rel_pos_bias_table` (the same grid,
 * linear interpolation), see {@link resizeRelPosBiasTableData}.
 */
export const BEIT_RESAMPLE: ConverterResample = Object.freeze({
  mode: 'bicubic',
  antialias: false,
  alignCorners: false,
  reference: 'microsoft/unilm beit/run_class_finetuning.py @768a3c873f598bb9b4d4dfb9267b099e35f8fe56',
});

/** Where the model's position weights sit on the patch grid. */
type Target =
  | { kind: 'abs'; grid: [number, number]; numPrefixTokens: number }
  | { kind: 'rel'; window: [number, number] };

/** Every position weight of a module (by its `namedWeights` key) with its grid. */
export function positionTargets(module: Module): Map<string, Target> {
  const byWeight = new Map<Weight, Target>();
  const seen = new Set<Module>();
  const visit = (m: Module): void => {
    if (seen.has(m)) return;
    seen.add(m);
    if (m instanceof VisionTransformer && m.posEmbed) {
      byWeight.set(m.posEmbed, { kind: 'abs', grid: m.gridSize, numPrefixTokens: m.numPrefixTokens });
    }
    if (m instanceof PixelDecoder) {
      byWeight.set(m.decoderPosEmbed, { kind: 'abs', grid: m.config.gridSize, numPrefixTokens: m.numPrefixTokens });
    }
    if (m instanceof RelativePositionBias) byWeight.set(m.table, { kind: 'rel', window: m.config.windowSize });
    if (m instanceof Attention && m.relativePositionBiasTable && m.config.relPosBias) {
      byWeight.set(m.relativePositionBiasTable, { kind: 'rel', window: m.config.relPosBias });
    }
    for (const c of m.children().values()) visit(c);
    // A part spliced into its parent's key level (MAE's encoder and decoder,
    // BEiT's encoder) is not a child of its own; it is a field of the parent.
    for (const v of Object.values(m)) if (v instanceof Module) visit(v);
  };
  visit(module);
  const out = new Map<string, Target>();
  for (const [k, w] of module.namedWeights()) {
    const t = byWeight.get(w);
    if (t) out.set(k, t);
  }
  return out;
}

/** Integer square root or -1. */
function isqrt(n: number): number {
  const r = Math.round(Math.sqrt(n));
  return r * r === n ? r : -1;
}

/**
 * A plan to resize one checkpoint tensor (PyTorch layout) to the module's
 * shape, or the reason it cannot be; checked before anything is written.
 */
export type ResizePlan = { ok: (values: Float32Array) => Float32Array; from: string; to: string } | { error: string };

/**
 * How to resize a checkpoint's position weight of shape `src` to `want`
 * (both PyTorch layout), or null when `moduleKey` is not a position weight.
 * Absolute tables: the checkpoint's grid is taken as square (timm, MAE and
 * BEiT assume so: `sqrt(rows - prefix)`), the prefix rows are kept, the
 * target grid is the model's own. Relative tables: the source window is
 * square too, the three class-token rows at the end are kept.
 */
export function planPositionResize(
  targets: Map<string, Target>,
  moduleKey: string,
  src: readonly number[],
  want: readonly number[],
  resample: Required<PosEmbedResample>,
): ResizePlan | null {
  const target = targets.get(moduleKey);
  if (!target) return null;
  if (target.kind === 'abs') {
    const P = target.numPrefixTokens;
    const [gh, gw] = target.grid;
    const D = want[want.length - 1]!;
    if (src.length !== want.length || src[src.length - 1] !== D || (src.length === 3 && src[0] !== 1)) {
      return { error: `cannot resize '${moduleKey}' from [${src}] to [${want}]: only the number of rows may differ` };
    }
    const n = isqrt(src[src.length - 2]! - P);
    if (n <= 0) {
      return {
        error:
          `cannot resize '${moduleKey}': the checkpoint's ${src[src.length - 2]} rows minus ${P} prefix row(s) is not a ` +
          'square grid (the references assume the checkpoint was made on a square grid)',
      };
    }
    return {
      from: `${n}x${n}`,
      to: `${gh}x${gw}`,
      ok: (values) => resamplePosTableData(values, D, [n, n], [gh, gw], { ...resample, numPrefixTokens: P }),
    };
  }
  const [wh, ww] = target.window;
  const heads = want[1]!;
  const extra = want[0]! - (2 * wh - 1) * (2 * ww - 1);
  if (src.length !== 2 || src[1] !== heads) {
    return { error: `cannot resize '${moduleKey}' from [${src}] to [${want}]: the number of heads differs` };
  }
  const s = isqrt(src[0]! - extra);
  if (s <= 0 || s % 2 !== 1) {
    return {
      error: `cannot resize '${moduleKey}': the checkpoint's ${src[0]} rows minus ${extra} class-token rows is not a square (2W-1)x(2W-1) table`,
    };
  }
  return {
    from: `window ${(s + 1) / 2}x${(s + 1) / 2}`,
    to: `window ${wh}x${ww}`,
    ok: (values) => resizeRelPosBiasTableData(values, heads, [s, s], [2 * wh - 1, 2 * ww - 1], extra),
  };
}

/**
 * timm's 1-D source coordinates of `resize_rel_pos_bias_table`: the source
 * offsets `-n..n` (n = src // 2) are spread on a geometric progression with
 * ratio `q` chosen by bisection so that the outermost lands near `dst // 2`.
 */
function geometricCoords(src: number, dst: number): number[] {
  const half = Math.floor(src / 2);
  let left = 1.01;
  let right = 1.5;
  let q = 0;
  while (right - left > 1e-6) {
    q = (left + right) / 2;
    const gp = (1 - q ** half) / (1 - q);
    if (gp > Math.floor(dst / 2)) right = q;
    else left = q;
  }
  const dis: number[] = [];
  let cur = 1;
  for (let i = 0; i < half; i++) {
    dis.push(cur);
    cur += q ** (i + 1);
  }
  return [...[...dis].reverse().map((d) => -d), 0, ...dis];
}

/**
 * The `[dst, src]` weights of timm's `RegularGridInterpolator` (linear on an
 * uneven grid, clamped outside it) at the integer targets `-(dst//2) .. dst//2`.
 * Coordinates are float32 as in timm (`torch.tensor` of the Python floats).
 */
function geometricLinearMatrix(src: number, dst: number): Float64Array {
  const p = geometricCoords(src, dst).map(Math.fround);
  const t = Math.floor(dst / 2);
  const m = new Float64Array(dst * src);
  for (let o = 0; o < dst; o++) {
    const x = -t + o;
    let r = p.findIndex((v) => v >= x); // torch.bucketize(x, p), right=False
    if (r < 0 || r >= src) r = src - 1;
    const l = Math.max(r - 1, 0);
    let dl = Math.max(x - p[l]!, 0);
    let dr = Math.max(p[r]! - x, 0);
    if (dl === 0 && dr === 0) dl = dr = 1;
    m[o * src + l] += dr / (dl + dr);
    m[o * src + r] += dl / (dl + dr);
  }
  return m;
}

/**
 * timm's `resize_rel_pos_bias_table` (without scipy, its default) on plain
 * values: the `[sh * sw, heads]` relative table (row-major over offsets
 * `(dy, dx)`) is resampled per head to `[dh * dw, heads]` by linear
 * interpolation on timm's geometric source grid; the last `numExtra` rows
 * (BEiT's three class-token entries) are kept.
 *
 * @param values row-major `[sh * sw + numExtra, heads]`.
 * @param srcSize `[2 Wh - 1, 2 Ww - 1]` of the checkpoint.
 * @param dstSize `[2 Wh' - 1, 2 Ww' - 1]` of the model.
 */
export function resizeRelPosBiasTableData(
  values: ArrayLike<number>,
  heads: number,
  srcSize: [number, number],
  dstSize: [number, number],
  numExtra = 3,
): Float32Array {
  const fn = 'resizeRelPosBiasTableData';
  if (values === null || typeof values !== 'object' || typeof values.length !== 'number') {
    throw new Error(`${fn}: values must be an array or typed array of numbers, got ${describeValue(values)}`);
  }
  if (!Number.isInteger(heads) || heads < 1) throw new Error(`${fn}: heads must be a positive integer, got ${describeValue(heads)}`);
  for (const [name, v] of [['srcSize', srcSize], ['dstSize', dstSize]] as const) {
    if (!Array.isArray(v) || v.length !== 2 || !v.every((x) => Number.isInteger(x) && x > 0)) {
      throw new Error(`${fn}: ${name} must be [rows, cols] of positive integers, got ${describeValue(v)}`);
    }
  }
  if (!Number.isInteger(numExtra) || numExtra < 0) throw new Error(`${fn}: numExtra must be a non-negative integer, got ${describeValue(numExtra)}`);
  const [sh, sw] = srcSize;
  const [dh, dw] = dstSize;
  if (values.length !== (sh * sw + numExtra) * heads) {
    throw new Error(`resizeRelPosBiasTableData: values has ${values.length} entries, expected (${sh}*${sw} + ${numExtra}) * ${heads}`);
  }
  const out = new Float32Array((dh * dw + numExtra) * heads);
  if (sh === dh && sw === dw) {
    out.set(Array.from(values));
    return out;
  }
  const my = geometricLinearMatrix(sh, dh);
  const mx = geometricLinearMatrix(sw, dw);
  for (let y = 0; y < dh; y++) {
    for (let x = 0; x < dw; x++) {
      for (let h = 0; h < heads; h++) {
        let acc = 0;
        for (let i = 0; i < sh; i++) {
          const wy = my[y * sh + i]!;
          if (wy === 0) continue;
          for (let j = 0; j < sw; j++) {
            const wx = mx[x * sw + j]!;
            if (wx !== 0) acc += wy * wx * values[(i * sw + j) * heads + h]!;
          }
        }
        out[(y * dw + x) * heads + h] = acc;
      }
    }
  }
  for (let k = 0; k < numExtra * heads; k++) out[dh * dw * heads + k] = values[sh * sw * heads + k]!;
  return out;
}

/**
 * Resizes a BEiT relative position bias table
 * (`relative_position_bias_table`, `[(2Wh-1)(2Ww-1) + 3, heads]`) made for
 * a square `fromWindow` patch grid to `toWindow`, as timm's
 * `resize_rel_pos_bias_table` does when it loads a BEiT checkpoint at another
 * size (its scipy-free default; huggingface/pytorch-image-models
 * `timm/layers/pos_embed_rel.py` @aa4b5850). A one-off weight conversion, not
 * differentiable.
 *
 * @returns a new `[(2 toWindow[0] - 1)(2 toWindow[1] - 1) + 3, heads]` table.
 */
export function resizeRelPosBiasTable(
  table: tf.Tensor,
  fromWindow: number | [number, number],
  toWindow: number | [number, number],
): tf.Tensor2D {
  const fn = 'resizeRelPosBiasTable';
  checkTensorArg(fn, 'table', table);
  const pair = (name: string, v: number | [number, number]): [number, number] => {
    const p: [number, number] = typeof v === 'number' ? [v, v] : [v[0], v[1]];
    if (!p.every((x) => Number.isInteger(x) && x > 0)) {
      throw new Error(`${fn}: ${name} must be a positive integer or [rows, cols] of them, got ${JSON.stringify(v)}`);
    }
    return p;
  };
  const [fh, fw] = pair('fromWindow', fromWindow);
  const [th, tw] = pair('toWindow', toWindow);
  if (table.rank !== 2 || table.shape[0] !== numRelativeDistance([fh, fw])) {
    throw new Error(`${fn}: table must be [${numRelativeDistance([fh, fw])}, heads] for a ${fh}x${fw} window, got shape [${table.shape}]`);
  }
  const heads = table.shape[1]!;
  const out = resizeRelPosBiasTableData(table.dataSync(), heads, [2 * fh - 1, 2 * fw - 1], [2 * th - 1, 2 * tw - 1], 3);
  return tf.tensor2d(out, [numRelativeDistance([th, tw]), heads], 'float32');
}
