import * as tf from '@tensorflow/tfjs-core';
import { ensureGradients } from '../ops/gradients.js';
import { checkFloat, checkInteger, checkRank, checkSameShape, fmtShape } from './common.js';

/**
 * SimMIM's reconstruction loss (Xie et al. 2022, "SimMIM: a Simple Framework
 * for Masked Image Modeling", `models/simmim.py`): the L1 distance on masked
 * pixels,
 * `sum_{b,y,x,c} |x - xRec| * m(b,y,x) / (sum_{b,y,x} m + 1e-5) / inChans`,
 * where `m` is the mask upsampled to pixels (each mask cell covers a block of
 * `H/h x W/w` pixels). The denominator counts masked pixels once, not once per
 * channel; dividing by `inChans` makes it a per-value mean, as upstream.
 *
 * Shapes (NHWC): `x`, `xRec: [B, H, W, C]`; `mask: [B, h, w]` with `h | H`
 * and `w | W` (the patch-resolution mask, or `[B, H, W]` at pixel
 * resolution), 1 = masked. `inChans` defaults to `C` and must equal it (it is
 * SimMIM's `in_chans`). Returns a scalar.
 */
export function maskedL1Loss(x: tf.Tensor, xRec: tf.Tensor, mask: tf.Tensor, inChans?: number): tf.Scalar {
  ensureGradients();
  const fn = 'maskedL1Loss';
  checkRank(fn, 'x', x, 4, '[B, H, W, C] images (NHWC)');
  checkFloat(fn, 'x', x);
  checkRank(fn, 'xRec', xRec, 4, '[B, H, W, C] reconstructions (NHWC)');
  checkSameShape(fn, 'x', x, 'xRec', xRec);
  checkFloat(fn, 'xRec', xRec);
  checkRank(fn, 'mask', mask, 3, '[B, h, w] 1 = masked');
  const [b, hh, ww, c] = x.shape as [number, number, number, number];
  const [mb, mh, mw] = mask.shape as [number, number, number];
  if (mb !== b || mh <= 0 || mw <= 0 || hh % mh !== 0 || ww % mw !== 0) {
    throw new Error(
      `${fn}: mask must be [B=${b}, h, w] with h dividing H=${hh} and w dividing W=${ww}, got ${fmtShape(mask)}`,
    );
  }
  if (mask.dtype !== 'float32' && mask.dtype !== 'bool' && mask.dtype !== 'int32') {
    throw new Error(`${fn}: mask must be float32, int32 or bool, got dtype ${mask.dtype}`);
  }
  const chans = inChans ?? c;
  checkInteger(fn, 'inChans', chans, 1);
  if (chans !== c) {
    throw new Error(`${fn}: inChans must equal the channel count of x (last axis, NHWC) ${c}, got ${chans}`);
  }
  const fy = hh / mh;
  const fx = ww / mw;
  return tf.tidy(() => {
    const m = mask.dtype === 'float32' ? mask : tf.cast(mask, 'float32');
    // Sum |x - xRec| over each mask cell's pixels and channels, then weight
    // by the cell: the same sum as upsampling the mask, without building it.
    const err = tf.reshape(tf.abs(tf.sub(x, xRec)), [b, mh, fy, mw, fx, c]);
    const perCell = tf.sum(err, [2, 4, 5]);
    const num = tf.sum(tf.mul(perCell, m));
    const den = tf.add(tf.mul(tf.sum(m), fy * fx), 1e-5);
    return tf.div(tf.div(num, den), chans) as tf.Scalar;
  });
}
