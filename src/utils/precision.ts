import * as tf from '@tensorflow/tfjs-core';

/**
 * Whether the active backend stores floats in 16 bits: tfjs's WebGL backend
 * without float32 render targets (`WEBGL_RENDER_FLOAT32_ENABLED` false) or
 * with `WEBGL_FORCE_F16_TEXTURES`; for other backends,
 * `floatPrecision() === 16`. (WebGL's own `floatPrecision()` is not asked:
 * in tfjs 4.22 it answers 16 when float32 render targets are enabled, and
 * it reads back synchronously.)
 */
export function halfPrecisionBackend(): boolean {
  if (tf.getBackend() === 'webgl') {
    const env = tf.env();
    return env.getBool('WEBGL_FORCE_F16_TEXTURES') || !env.getBool('WEBGL_RENDER_FLOAT32_ENABLED');
  }
  const b = tf.backend() as { floatPrecision?: () => number };
  return typeof b.floatPrecision === 'function' && b.floatPrecision() === 16;
}
