import * as tf from '@tensorflow/tfjs-core';
import { requireObject } from '../utils/config.js';

/**
 * Visualisation helpers for masked image modeling: lay images out in a grid
 * (for `encodePng` (png.ts) or a canvas), grey out the removed patches of a mask,
 * and paste the visible patches back into a reconstruction, as MAE's
 * visualisation notebook does (original | masked | reconstruction |
 * reconstruction + visible). Not training paths: they read tensors back to
 * the CPU (`dataSync`) where they must.
 */

/** An 8-bit image, rows top to bottom, channels interleaved (what `encodePng` (png.ts) takes). */
export interface GridImage {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** 1 (gray), 3 (RGB) or 4 (RGBA). */
  channels: 1 | 3 | 4;
  /** `height * width * channels` bytes. */
  data: Uint8Array;
}

/** An RGBA image with `ImageData`'s fields, for runtimes without `ImageData` (Node). */
export interface RgbaImage {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** `height * width * 4` bytes, RGBA. */
  data: Uint8ClampedArray;
}

/** Options of {@link imageGrid}. */
export interface ImageGridOptions {
  /** Pixels between images and around the border (default 2: enough to tell 28 px images apart). */
  padding?: number;
  /**
   * Colour of the padding, in the output's [0, 1] scale: one number (gray)
   * or one value per output channel (default 1, white, which separates dark
   * images such as Fashion-MNIST's).
   */
  background?: number | number[];
  /**
   * The value range of the input pixels, `[lo, hi]` mapped to 0 .. 255, values
   * outside clamped (default `[0, 1]`).
   */
  valueRange?: [number, number];
  /**
   * Undo a per-channel normalisation before mapping (`x * std + mean`), e.g.
   * ImageNet's `{mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225]}` as
   * MAE's notebook does. Default: none.
   */
  denormalize?: { mean: number[]; std: number[] };
}

function fail(fn: string, msg: string): never {
  throw new Error(`${fn}: ${msg}`);
}

/**
 * Lays out images in a grid: `rows[r]` (`[B_r, H, W, C]`, C = 1, 3 or 4)
 * becomes grid row `r`, its `B_r` images side by side. Every row must have the
 * same `H` and `W`; rows with fewer images leave background. The output has 1
 * channel if every row is gray, else 3 (gray rows replicated), or 4 if any row
 * is RGBA (alpha 255 elsewhere).
 *
 * @returns an 8-bit image of `height = pad + R * (H + pad)` and
 *   `width = pad + max_r(B_r) * (W + pad)`.
 */
export function imageGrid(rows: tf.Tensor[], options: ImageGridOptions = {}): GridImage {
  const fn = 'imageGrid';
  if (!Array.isArray(rows) || rows.length === 0) fail(fn, `rows must be a non-empty array of [B, H, W, C] tensors, got ${Array.isArray(rows) ? '[]' : typeof rows}`);
  const padding = options.padding ?? 2;
  if (!Number.isInteger(padding) || padding < 0) fail(fn, `padding must be a non-negative integer, got ${padding}`);
  const [lo, hi] = options.valueRange ?? [0, 1];
  if (!(Number.isFinite(lo) && Number.isFinite(hi) && hi > lo)) {
    fail(fn, `valueRange must be [lo, hi] with finite lo < hi, got [${options.valueRange}]`);
  }
  let h = -1;
  let w = -1;
  let maxB = 0;
  let outC = 1 as 1 | 3 | 4;
  rows.forEach((t, r) => {
    if (!(t instanceof tf.Tensor) || t.rank !== 4) {
      fail(fn, `rows[${r}] must be a rank-4 [B, H, W, C] tensor, got shape [${t instanceof tf.Tensor ? t.shape : typeof t}]`);
    }
    const [b, th, tw, c] = t.shape as [number, number, number, number];
    if (c !== 1 && c !== 3 && c !== 4) fail(fn, `rows[${r}] has ${c} channels (shape [${t.shape}]), expected 1, 3 or 4`);
    if (h < 0) {
      h = th;
      w = tw;
    } else if (th !== h || tw !== w) {
      fail(fn, `rows[${r}] has images of ${th}x${tw}, expected ${h}x${w} like rows[0]`);
    }
    maxB = Math.max(maxB, b);
    if (c === 4) outC = 4;
    else if (c === 3 && outC === 1) outC = 3;
  });
  const bg = options.background ?? 1;
  const bgArr = typeof bg === 'number' ? new Array<number>(outC).fill(bg) : bg;
  if (!Array.isArray(bgArr) || bgArr.length !== outC || bgArr.some((v) => !Number.isFinite(v))) {
    fail(fn, `background must be a number or ${outC} finite numbers (one per output channel), got ${JSON.stringify(bg)}`);
  }
  if (outC === 4 && typeof bg === 'number') bgArr[3] = 1;
  const den = options.denormalize;
  if (den !== undefined) {
    for (const [r, t] of rows.entries()) {
      const c = t.shape[3]!;
      if (den.mean.length !== c || den.std.length !== c) {
        fail(fn, `denormalize.mean/std must have ${c} values for rows[${r}] (shape [${t.shape}]), got ${den.mean.length}/${den.std.length}`);
      }
    }
  }
  const width = padding + Math.max(maxB, 1) * (w + padding);
  const height = padding + rows.length * (h + padding);
  const data = new Uint8Array(width * height * outC);
  const bgBytes = bgArr.map((v) => Math.round(Math.min(1, Math.max(0, v)) * 255));
  for (let i = 0; i < width * height; i++) for (let ch = 0; ch < outC; ch++) data[i * outC + ch] = bgBytes[ch]!;
  const scale = 255 / (hi - lo);
  rows.forEach((t, r) => {
    const [b, , , c] = t.shape as [number, number, number, number];
    const vals = t.dataSync();
    for (let i = 0; i < b; i++) {
      const x0 = padding + i * (w + padding);
      const y0 = padding + r * (h + padding);
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const src = ((i * h + y) * w + x) * c;
          const dst = ((y0 + y) * width + x0 + x) * outC;
          for (let ch = 0; ch < outC; ch++) {
            let v: number;
            if (ch < c) {
              v = Number(vals[src + ch]);
              if (den !== undefined) v = v * den.std[ch]! + den.mean[ch]!;
              v = (v - lo) * scale;
            } else if (ch === 3) {
              v = 255; // RGBA output, row without alpha
            } else {
              v = Number(vals[src]); // gray replicated to RGB
              if (den !== undefined) v = v * den.std[0]! + den.mean[0]!;
              v = (v - lo) * scale;
            }
            data[dst + ch] = Number.isNaN(v) ? 0 : Math.round(Math.min(255, Math.max(0, v)));
          }
        }
      }
    }
  });
  return { width, height, channels: outC, data };
}

/**
 * Converts a grid (1, 3 or 4 channels) to RGBA: a real `ImageData` (ready for
 * `ctx.putImageData`) when the runtime has one, else a plain
 * `{width, height, data: Uint8ClampedArray}` with the same fields.
 */
export function toImageData(grid: GridImage): ImageData | RgbaImage {
  requireObject('toImageData', 'grid', grid);
  const { width, height, channels, data } = grid;
  if (channels !== 1 && channels !== 3 && channels !== 4) {
    fail('toImageData', `grid.channels must be 1, 3 or 4, got ${channels}`);
  }
  if (data.length !== width * height * channels) {
    fail('toImageData', `grid.data has ${data.length} bytes, expected width*height*channels = ${width * height * channels}`);
  }
  const rgba = new Uint8ClampedArray(width * height * 4);
  for (let i = 0; i < width * height; i++) {
    if (channels === 1) {
      const g = data[i]!;
      rgba[i * 4] = g;
      rgba[i * 4 + 1] = g;
      rgba[i * 4 + 2] = g;
      rgba[i * 4 + 3] = 255;
    } else {
      rgba[i * 4] = data[i * channels]!;
      rgba[i * 4 + 1] = data[i * channels + 1]!;
      rgba[i * 4 + 2] = data[i * channels + 2]!;
      rgba[i * 4 + 3] = channels === 4 ? data[i * channels + 3]! : 255;
    }
  }
  const ctor = (globalThis as { ImageData?: typeof ImageData }).ImageData;
  if (typeof ctor === 'function') return new ctor(rgba, width, height);
  return { width, height, data: rgba };
}

/** Validates `imgs` `[B, H, W, C]` against a patch mask `[B, L]`; returns the grid size. */
function checkMask(fn: string, imgs: tf.Tensor, mask: tf.Tensor, patchSize: number): [number, number] {
  if (!(imgs instanceof tf.Tensor) || imgs.rank !== 4) {
    fail(fn, `imgs must be a [B, H, W, C] tensor, got shape [${imgs instanceof tf.Tensor ? imgs.shape : typeof imgs}]`);
  }
  const [b, h, w] = imgs.shape as [number, number, number, number];
  if (!Number.isInteger(patchSize) || patchSize < 1) fail(fn, `patchSize must be a positive integer, got ${patchSize}`);
  if (h % patchSize !== 0 || w % patchSize !== 0) {
    fail(fn, `image size ${h}x${w} is not divisible by patchSize ${patchSize}`);
  }
  const gh = h / patchSize;
  const gw = w / patchSize;
  if (!(mask instanceof tf.Tensor) || mask.rank !== 2 || mask.shape[0] !== b || mask.shape[1] !== gh * gw) {
    fail(
      fn,
      `mask must be [B, L] = [${b}, ${gh * gw}] (a ${gh}x${gw} grid of ${patchSize}px patches), got shape [${mask instanceof tf.Tensor ? mask.shape : typeof mask}]`,
    );
  }
  return [gh, gw];
}

/**
 * The per-pixel mask `[B, H, W, 1]` (float32, 1 = removed) of a patch mask
 * `[B, L]` in row-major grid order (call inside `tidy`).
 */
function pixelMask(mask: tf.Tensor, gh: number, gw: number, p: number): tf.Tensor {
  const b = mask.shape[0]!;
  // Rows, then columns, each a rank-4 tile: tfjs-backend-webgpu runs a tile
  // of rank 5 or more on the CPU after a synchronous read, which fails in a page.
  const rows = tf.reshape(tf.tile(tf.reshape(tf.cast(mask, 'float32'), [b, gh, 1, gw]), [1, 1, p, 1]), [b, gh * p, gw, 1]);
  return tf.reshape(tf.tile(rows, [1, 1, 1, p]), [b, gh * p, gw * p, 1]);
}

function fillValues(fn: string, fill: number | number[], c: number): number[] {
  const arr = typeof fill === 'number' ? [fill] : fill;
  if (!Array.isArray(arr) || (arr.length !== 1 && arr.length !== c) || arr.some((v) => !Number.isFinite(v))) {
    fail(fn, `fill must be a finite number or ${c} finite numbers (one per channel), got ${JSON.stringify(fill)}`);
  }
  return arr;
}

/** Options of {@link maskedImage}. */
export interface MaskedImageOptions {
  /** Value of removed pixels: a number or one per channel (default 0.5, mid-gray in [0, 1] images). */
  fill?: number | number[];
}

/**
 * MAE's "masked" panel: the images with every removed patch (mask 1) set to
 * `fill`. `imgs` `[B, H, W, C]`, `mask` `[B, L]` (1 = removed, 0 = kept; bool,
 * int or float) over the `(H/p) x (W/p)` patch grid in row-major order.
 * @returns `[B, H, W, C]` float32.
 */
export function maskedImage(
  imgs: tf.Tensor,
  mask: tf.Tensor,
  patchSize: number,
  options: MaskedImageOptions = {},
): tf.Tensor4D {
  const fn = 'maskedImage';
  const [gh, gw] = checkMask(fn, imgs, mask, patchSize);
  const fill = fillValues(fn, options.fill ?? 0.5, imgs.shape[3]!);
  return tf.tidy(() => {
    const m = pixelMask(mask, gh, gw, patchSize);
    const x = tf.cast(imgs, 'float32');
    return tf.add(tf.mul(x, tf.sub(1, m)), tf.mul(tf.tensor1d(fill, 'float32'), m));
  }) as tf.Tensor4D;
}

/**
 * MAE's "reconstruction + visible" panel: `pred` where the patch was removed
 * (mask 1), the original `imgs` where it was kept:
 * `imgs * (1 - mask) + pred * mask`. `pred` and `imgs` are `[B, H, W, C]`
 * (unpatchify a `[B, L, p*p*C]` prediction first), `mask` `[B, L]`.
 * @returns `[B, H, W, C]` float32.
 */
export function pasteVisible(pred: tf.Tensor, imgs: tf.Tensor, mask: tf.Tensor, patchSize: number): tf.Tensor4D {
  const fn = 'pasteVisible';
  if (pred.rank !== 4 || imgs.rank !== 4 || pred.shape.some((d, i) => d !== imgs.shape[i])) {
    fail(fn, `pred must have the shape of imgs [${imgs.shape}] ([B, H, W, C]), got [${pred.shape}]`);
  }
  const [gh, gw] = checkMask(fn, imgs, mask, patchSize);
  return tf.tidy(() => {
    const m = pixelMask(mask, gh, gw, patchSize);
    const x = tf.cast(imgs, 'float32');
    const p = tf.cast(pred, 'float32');
    return tf.add(tf.mul(x, tf.sub(1, m)), tf.mul(p, m));
  }) as tf.Tensor4D;
}
