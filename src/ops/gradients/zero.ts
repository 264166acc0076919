import * as tf from '@tensorflow/tfjs-core';
import { type GradConfig } from './common.js';

/**
 * Kernels whose output is piecewise constant in their inputs (rounding,
 * comparisons, arg-max, one-hot): zero gradient, as tfjs does, so that a path
 * through them does not abort backpropagation.
 */
function zero(kernelName: string, inputs: string[]): GradConfig {
  return {
    kernelName,
    inputsToSave: inputs,
    gradFunc: (_dy, saved) => {
      const out: Record<string, () => tf.Tensor> = {};
      inputs.forEach((name, i) => {
        out[name] = () => tf.zeros(saved[i]!.shape, 'float32');
      });
      return out;
    },
  };
}

/** Zero gradients of piecewise-constant kernels. */
export const zeroGradients: GradConfig[] = [
  ...['Floor', 'Ceil', 'Round', 'Sign', 'Step', 'IsNan', 'IsInf', 'IsFinite', 'ZerosLike', 'OnesLike'].map((k) =>
    zero(k, ['x']),
  ),
  ...['ArgMax', 'ArgMin', 'LogicalNot'].map((k) => zero(k, ['x'])),
  zero('OneHot', ['indices']),
  ...['Equal', 'NotEqual', 'Greater', 'GreaterEqual', 'Less', 'LessEqual', 'LogicalAnd', 'LogicalOr'].map((k) =>
    zero(k, ['a', 'b']),
  ),
];
