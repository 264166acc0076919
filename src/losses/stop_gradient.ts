import * as tf from '@tensorflow/tfjs-core';

let sg: ((x: tf.Tensor) => tf.Tensor) | undefined;

/**
 * Stop-gradient (PyTorch `x.detach()`, TensorFlow `tf.stop_gradient`): the
 * identity in the forward pass, a zero gradient in the backward pass.
 * tfjs-core has no such op, so it is a `tf.customGrad` whose gradient is
 * zeros. Used for the targets of SimSiam/BYOL (the `z` branch), DINO's teacher
 * output, MoCo's keys and TinyMIM's teacher relations.
 *
 * Returns a new tensor (the caller disposes it, or a `tf.tidy` does).
 */
export function stopGradient<T extends tf.Tensor>(x: T): T {
  if (!(x instanceof tf.Tensor)) {
    throw new Error(`stopGradient: x must be a tf.Tensor, got ${typeof x}`);
  }
  if (sg === undefined) {
    sg = tf.customGrad(((t: tf.Tensor) => ({
      value: tf.clone(t),
      gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy),
    })) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (x: tf.Tensor) => tf.Tensor;
  }
  return sg(x) as T;
}
