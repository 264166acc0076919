import * as tf from '@tensorflow/tfjs-core';
import { attr, one, prod, type GradConfig } from './common.js';

/** Gradients of reductions, softmax and scans. */

type Axis = number | number[] | null | undefined;

/** Reduced axes, normalised (null or undefined: all axes). */
function axesOf(axis: Axis, shape: number[]): number[] {
  return axis == null ? shape.map((_, i) => i) : tf.util.parseAxisParam(axis, shape);
}

/** `t` with the reduced axes restored as size 1, so it broadcasts against x. */
function keepDims(t: tf.Tensor, xShape: number[], axes: number[]): tf.Tensor {
  return t.rank < xShape.length ? tf.reshape(t, tf.backend_util.expandShapeToKeepDim(t.shape, axes)) : t;
}

/** Sum and Mean spread the upstream gradient evenly over the reduced axes. */
function spread(kernelName: string, divide: boolean): GradConfig {
  return {
    kernelName,
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const x = saved[0]!;
      const axes = axesOf(attr<Axis>(attrs, 'axis'), x.shape);
      return {
        x: () => {
          const g = tf.broadcastTo(keepDims(one(dy), x.shape, axes), x.shape);
          return divide ? tf.div(g, prod(axes.map((a) => x.shape[a]!))) : g;
        },
      };
    },
  };
}

/** Max and Min route the gradient to every element equal to the extremum. */
function extremum(kernelName: string, axisAttr: string): GradConfig {
  return {
    kernelName,
    inputsToSave: ['x'],
    outputsToSave: [true],
    gradFunc: (dy, saved, attrs) => {
      const [x, y] = saved as [tf.Tensor, tf.Tensor];
      const axes = axesOf(attr<Axis>(attrs, axisAttr), x.shape);
      return {
        x: () =>
          tf.mul(keepDims(one(dy), x.shape, axes), tf.cast(tf.equal(x, keepDims(y, x.shape, axes)), 'float32')),
      };
    },
  };
}

/**
 * Prod: d/dx_i prod_j x_j = prod_{j != i} x_j, computed as the product of an
 * exclusive cumulative product from the left and one from the right (exact
 * with zeros, unlike y / x). The reduced axes are moved last and flattened.
 */
const prodGrad: GradConfig = {
  kernelName: 'Prod',
  inputsToSave: ['x'],
  gradFunc: (dy, saved, attrs) => {
    const x = saved[0]!;
    const axes = axesOf(attr<Axis>(attrs, 'axis'), x.shape);
    return {
      x: () => {
        const perm = tf.backend_util.getAxesPermutation(axes, x.rank);
        const xp = perm === null ? x : tf.transpose(x, perm);
        const kept = xp.shape.slice(0, x.rank - axes.length);
        const flat = tf.reshape(xp, [...kept, -1]);
        const last = kept.length;
        const others = tf.mul(tf.cumprod(flat, last, true, false), tf.cumprod(flat, last, true, true));
        const g = tf.mul(others, tf.reshape(one(dy), [...kept, 1]));
        const back = tf.reshape(g, xp.shape);
        return perm === null ? back : tf.transpose(back, tf.backend_util.getUndoAxesPermutation(perm));
      },
    };
  },
};

/** Gradients of Sum, Mean, Max, Min, Prod, Softmax, LogSoftmax and Cumsum. */
export const reduceGradients: GradConfig[] = [
  spread('Sum', false),
  spread('Mean', true),
  extremum('Max', 'reductionIndices'),
  extremum('Min', 'axis'),
  prodGrad,
  {
    kernelName: 'Softmax',
    outputsToSave: [true],
    gradFunc: (dy, saved, attrs) => {
      const y = saved[0]!;
      const dim = attr<number | number[]>(attrs, 'dim');
      const dyY = tf.mul(one(dy), y);
      return { logits: () => tf.sub(dyY, tf.mul(tf.sum(dyY, dim, true), y)) };
    },
  },
  {
    kernelName: 'LogSoftmax',
    outputsToSave: [true],
    gradFunc: (dy, saved, attrs) => {
      const y = saved[0]!;
      const axis = attr<number | number[]>(attrs, 'axis');
      const g = one(dy);
      return { logits: () => tf.sub(g, tf.mul(tf.sum(g, axis, true), tf.exp(y))) };
    },
  },
  {
    // The adjoint of a cumulative sum is the cumulative sum in the other direction.
    kernelName: 'Cumsum',
    gradFunc: (dy, _saved, attrs) => ({
      x: () =>
        tf.cumsum(one(dy), attr<number>(attrs, 'axis'), attr<boolean>(attrs, 'exclusive'), !attr<boolean>(attrs, 'reverse')),
    }),
  },
];
