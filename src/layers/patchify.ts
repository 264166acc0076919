import * as tf from '@tensorflow/tfjs-core';
import { describeValue } from '../utils/config.js';

function checkPatchSize(fn: string, p: number): void {
  if (!Number.isInteger(p) || p <= 0) {
    throw new Error(`${fn}: patchSize must be a positive integer, got ${p}`);
  }
}

/**
 * Cuts images into non-overlapping `p x p` patches and flattens each one, in
 * the pixel order of MAE's `patchify` (He et al., 2022, "Masked Autoencoders
 * Are Scalable Vision Learners"): patches in row-major grid order (token `n`
 * is grid row `n // (W/p)`, column `n % (W/p)`), each patch flattened as
 * (row in patch, column in patch, channel) with the channel fastest, so
 * element `(i * p + j) * C + c` of patch `(R, Q)` is pixel
 * `(R * p + i, Q * p + j, c)`.
 *
 * A pure reshape/transpose, so it is differentiable on every backend; images
 * may be non-square and have any number of channels.
 *
 * @param imgs `[B, H, W, C]` (NHWC), `H` and `W` multiples of `p`.
 * @param p patch size in pixels.
 * @returns `[B, (H/p) * (W/p), p * p * C]`.
 */
export function patchify(imgs: tf.Tensor, p: number): tf.Tensor3D {
  checkPatchSize('patchify', p);
  if (!(imgs instanceof tf.Tensor)) throw new Error(`patchify: imgs must be a tf.Tensor, got ${describeValue(imgs)}`);
  if (imgs.rank !== 4) {
    throw new Error(`patchify: imgs must have rank 4 [B, H, W, C] (NHWC), got shape [${imgs.shape}]`);
  }
  const [b, h, w, c] = imgs.shape as [number, number, number, number];
  if (h % p !== 0 || w % p !== 0) {
    throw new Error(
      `patchify: image size ${h}x${w} (imgs.shape=[${imgs.shape}]) is not divisible by patch size ${p}`,
    );
  }
  const gh = h / p;
  const gw = w / p;
  return tf.tidy(() => {
    const x = tf.reshape(imgs, [b, gh, p, gw, p, c]);
    const t = tf.transpose(x, [0, 1, 3, 2, 4, 5]);
    return tf.reshape(t, [b, gh * gw, p * p * c]) as tf.Tensor3D;
  });
}

/**
 * Inverse of {@link patchify}: lays flattened patches back out as images
 * (MAE's `unpatchify`, generalised to non-square grids and any channel count).
 *
 * @param x `[B, gridH * gridW, p * p * C]`, patches in row-major grid order.
 * @param p patch size in pixels.
 * @param gridH patch rows.
 * @param gridW patch columns.
 * @param channels channels `C` per pixel.
 * @returns `[B, gridH * p, gridW * p, C]` (NHWC).
 */
export function unpatchify(x: tf.Tensor, p: number, gridH: number, gridW: number, channels: number): tf.Tensor4D {
  checkPatchSize('unpatchify', p);
  for (const [name, v] of [['gridH', gridH], ['gridW', gridW], ['channels', channels]] as const) {
    if (!Number.isInteger(v) || v <= 0) {
      throw new Error(`unpatchify: ${name} must be a positive integer, got ${v}`);
    }
  }
  if (x.rank !== 3) {
    throw new Error(`unpatchify: x must have rank 3 [B, gridH*gridW, p*p*C], got shape [${x.shape}]`);
  }
  const [b, n, f] = x.shape as [number, number, number];
  if (n !== gridH * gridW) {
    throw new Error(`unpatchify: x has ${n} patches (shape [${x.shape}]), expected gridH*gridW = ${gridH * gridW}`);
  }
  if (f !== p * p * channels) {
    throw new Error(
      `unpatchify: x has ${f} features per patch (shape [${x.shape}]), expected p*p*channels = ${p * p * channels}`,
    );
  }
  return tf.tidy(() => {
    const t = tf.reshape(x, [b, gridH, gridW, p, p, channels]);
    const u = tf.transpose(t, [0, 1, 3, 2, 4, 5]);
    return tf.reshape(u, [b, gridH * p, gridW * p, channels]) as tf.Tensor4D;
  });
}
