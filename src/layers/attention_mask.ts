import * as tf from '@tensorflow/tfjs-core';
import { halfPrecisionBackend } from '../utils/precision.js';

/**
 * The value an additive attention mask puts at a forbidden (query, key) pair:
 * `-1e9`. It acts as `-inf` after the softmax (`exp(-1e9 - max)` underflows to
 * exactly 0 in float32) but stays finite, so a row whose keys are all masked
 * gives a uniform distribution instead of NaN (`-inf - (-inf)`), and sums of
 * masks (causal + padding = `-2e9`) stay finite in float32. On a float16
 * backend (WebGL without float32 textures) `-1e9` rounds to `-inf`: masked
 * keys still get zero probability, but a fully masked row would become NaN
 * there, so never mask every key of a query you use.
 */
export const MASK_VALUE = -1e9;

/**
 * The masked value on a 16-bit float backend (`halfPrecisionBackend()`, e.g.
 * WebGL with float16 textures): `-1e4`. float16's largest finite value is
 * 65504, and `-1e9` did not survive the upload there (a CLIP text tower's
 * causal mask read back NaN and every loss was NaN); `-1e4` and a sum of two
 * masks (`-2e4`) stay finite, and `exp(-1e4 - max)` is still exactly 0.
 */
export const HALF_PRECISION_MASK_VALUE = -1e4;

/** {@link MASK_VALUE}, or {@link HALF_PRECISION_MASK_VALUE} on a 16-bit float backend. */
export function maskValue(): number {
  return halfPrecisionBackend() ? HALF_PRECISION_MASK_VALUE : MASK_VALUE;
}

/**
 * Additive causal mask `[n, n]` (GPT, CLIP's text tower: open_clip
 * `build_causal_mask`): entry `(query i, key j)` is 0 where `j <= i` and
 * {@link MASK_VALUE} (`-1e9`, effectively `-inf`, see there) where `j > i`,
 * so each token attends only to itself and earlier tokens. Add it to the
 * attention logits (`AttentionForwardOptions.attnMask`).
 */
export function causalMask(n: number): tf.Tensor2D {
  if (!Number.isInteger(n) || n <= 0) throw new Error(`causalMask: n must be a positive integer, got ${n}`);
  const data = new Float32Array(n * n);
  const v = maskValue();
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) data[i * n + j] = v;
  return tf.tensor2d(data, [n, n], 'float32');
}

/**
 * Additive key-padding mask: `padding [B, L]` (bool, or int/float 0/1 where
 * true / 1 marks a padded key) -> `[B, 1, 1, L]` with {@link MASK_VALUE}
 * (`-1e9`) at padded keys and 0 elsewhere; it broadcasts over heads and
 * queries when added to the `[B, heads, L, L]` logits, so no query attends
 * to a padded key (torch `key_padding_mask` convention: True = ignore).
 */
export function keyPaddingMask(padding: tf.Tensor): tf.Tensor4D {
  if (!(padding instanceof tf.Tensor) || padding.rank !== 2) {
    throw new Error(
      `keyPaddingMask: padding must be a [B, L] tensor (true / 1 = padded key), got ` +
        `${padding instanceof tf.Tensor ? `shape [${padding.shape}]` : String(padding)}`,
    );
  }
  if (padding.dtype === 'string' || padding.dtype === 'complex64') {
    throw new Error(`keyPaddingMask: padding must be bool, int32 or float32, got dtype ${padding.dtype}`);
  }
  const [b, l] = padding.shape as [number, number];
  return tf.tidy(() => {
    const isPad = tf.notEqual(padding, tf.scalar(0, padding.dtype));
    return tf.reshape(tf.where(isPad, tf.fill([b, l], maskValue()), tf.zeros([b, l])), [b, 1, 1, l]) as tf.Tensor4D;
  });
}

/** Broadcast shape of two shapes (numpy rules), or null when they do not broadcast. */
function broadcastShape(a: readonly number[], b: readonly number[]): number[] | null {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const x = a[a.length - n + i] ?? 1;
    const y = b[b.length - n + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) return null;
    out.push(x === 1 ? y : x);
  }
  return out;
}

/**
 * Sum of additive masks (e.g. `causalMask(L)` `[L, L]` and
 * `keyPaddingMask(p)` `[B, 1, 1, L]` -> `[B, 1, L, L]`), skipping
 * `null`/`undefined`; returns null when none is given. Shapes must broadcast
 * (checked before any tensor work). A pair forbidden by both masks gets
 * `-2e9`, still finite in float32.
 */
export function combineMasks(...masks: (tf.Tensor | null | undefined)[]): tf.Tensor | null {
  const given = masks.filter((m): m is tf.Tensor => m != null);
  let shape: number[] = [];
  for (const [i, m] of given.entries()) {
    if (!(m instanceof tf.Tensor) || m.dtype !== 'float32') {
      throw new Error(
        `combineMasks: mask ${i} must be a float32 additive mask, got ${m instanceof tf.Tensor ? `dtype ${m.dtype}` : String(m)}`,
      );
    }
    const s = broadcastShape(shape, m.shape);
    if (!s) throw new Error(`combineMasks: mask ${i} of shape [${m.shape}] does not broadcast with [${shape}]`);
    shape = s;
  }
  if (given.length === 0) return null;
  if (given.length === 1) return given[0]!.clone();
  return tf.tidy(() => given.slice(1).reduce((acc, m) => tf.add(acc, m), given[0]!));
}

/**
 * Throws, before any tensor work, unless `mask` is a float32 additive mask
 * broadcastable to the attention logits `[batch, heads, n, n]` in one of the
 * accepted forms: `[n, n]` (or `[1, n]`), or rank 4 `[1 | batch, 1 | heads,
 * 1 | n, n]` (e.g. `[B, 1, N, N]`, `[B, 1, 1, N]` from {@link keyPaddingMask},
 * `[1, 1, N, N]`). `owner` names the caller in the message.
 */
export function checkAttnMask(mask: unknown, batch: number, heads: number, n: number, owner: string): void {
  const expected =
    `an additive float32 mask broadcastable to [B=${batch}, heads=${heads}, N=${n}, N=${n}]: ` +
    `[N, N], [B, 1, N, N], [B, 1, 1, N] or [1, 1, N, N]`;
  if (!(mask instanceof tf.Tensor)) throw new Error(`${owner}: options.attnMask must be ${expected}, got ${String(mask)}`);
  if (mask.dtype !== 'float32') {
    throw new Error(
      `${owner}: options.attnMask must be ${expected}, got dtype ${mask.dtype} ` +
        `(turn a boolean padding mask into an additive one with keyPaddingMask)`,
    );
  }
  const s = mask.shape;
  const ok =
    (s.length === 2 && (s[0] === n || s[0] === 1) && s[1] === n) ||
    (s.length === 4 &&
      (s[0] === batch || s[0] === 1) &&
      (s[1] === heads || s[1] === 1) &&
      (s[2] === n || s[2] === 1) &&
      s[3] === n);
  if (!ok) throw new Error(`${owner}: options.attnMask must be ${expected}, got shape [${s}]`);
}
