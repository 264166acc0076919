import * as tf from '@tensorflow/tfjs-core';
import { attr, f32, one, reduceTo, type GradConfig } from './common.js';

/**
 * Gradients of element-wise kernels. Binary kernels broadcast, so each
 * operand's gradient is summed back to the operand's shape ({@link reduceTo});
 * tfjs's own Maximum, Minimum and SquaredDifference gradients skip this step.
 */

type Binary = (dy: tf.Tensor, a: tf.Tensor, b: tf.Tensor, y: tf.Tensor | undefined) => tf.Tensor;

/** A broadcasting binary kernel with inputs `a`, `b`. */
function binary(kernelName: string, da: Binary, db: Binary, saveOutput = false): GradConfig {
  return {
    kernelName,
    inputsToSave: ['a', 'b'],
    ...(saveOutput ? { outputsToSave: [true] } : {}),
    gradFunc: (dy, saved) => {
      const [a, b, y] = saved as [tf.Tensor, tf.Tensor, tf.Tensor | undefined];
      const g = one(dy);
      return {
        a: () => reduceTo(da(g, a, b, y), a.shape),
        b: () => reduceTo(db(g, a, b, y), b.shape),
      };
    },
  };
}

/** A unary kernel with input `x`, whose gradient needs its input. */
function unaryX(kernelName: string, dx: (dy: tf.Tensor, x: tf.Tensor) => tf.Tensor): GradConfig {
  return {
    kernelName,
    inputsToSave: ['x'],
    gradFunc: (dy, saved) => ({ x: () => dx(one(dy), f32(saved[0]!)) }),
  };
}

/** A unary kernel with input `x`, whose gradient needs its output `y`. */
function unaryY(kernelName: string, dx: (dy: tf.Tensor, y: tf.Tensor) => tf.Tensor): GradConfig {
  return {
    kernelName,
    outputsToSave: [true],
    gradFunc: (dy, saved) => ({ x: () => dx(one(dy), saved[0]!) }),
  };
}

const positive = (x: tf.Tensor): tf.Tensor => tf.cast(tf.greater(x, 0), 'float32');

/** Gradients of element-wise arithmetic and activation kernels. */
export const elementwiseGradients: GradConfig[] = [
  binary('Add', (dy) => dy, (dy) => dy),
  binary('Sub', (dy) => dy, (dy) => tf.neg(dy)),
  binary('Multiply', (dy, _a, b) => tf.mul(dy, f32(b)), (dy, a) => tf.mul(dy, f32(a))),
  binary(
    'RealDiv',
    (dy, _a, b) => tf.div(dy, f32(b)),
    (dy, a, b) => tf.neg(tf.div(tf.mul(dy, f32(a)), tf.square(f32(b)))),
  ),
  binary(
    'SquaredDifference',
    (dy, a, b) => tf.mul(dy, tf.mul(tf.sub(a, b), 2)),
    (dy, a, b) => tf.mul(dy, tf.mul(tf.sub(b, a), 2)),
  ),
  binary(
    'Maximum',
    (dy, a, b) => tf.mul(dy, tf.cast(tf.greaterEqual(a, b), 'float32')),
    (dy, a, b) => tf.mul(dy, tf.cast(tf.less(a, b), 'float32')),
  ),
  binary(
    'Minimum',
    (dy, a, b) => tf.mul(dy, tf.cast(tf.lessEqual(a, b), 'float32')),
    (dy, a, b) => tf.mul(dy, tf.cast(tf.greater(a, b), 'float32')),
  ),
  binary(
    'Pow',
    // d/da a^b = b a^(b-1); d/db a^b = a^b log(a), taken as 0 where a <= 0.
    (dy, a, b) => tf.mul(dy, tf.mul(f32(b), tf.pow(f32(a), tf.sub(f32(b), 1)))),
    (dy, a, _b, y) => {
      const logA = tf.where(tf.greater(a, 0), tf.log(f32(a)), tf.zerosLike(f32(a)));
      return tf.mul(dy, tf.mul(f32(y!), logA));
    },
    true,
  ),
  binary(
    'Mod',
    (dy) => dy,
    (dy, a, b) => tf.mul(dy, tf.neg(tf.floor(tf.div(f32(a), f32(b))))),
  ),
  {
    kernelName: 'AddN',
    saveAllInputs: true,
    gradFunc: (dy, saved) => {
      const g = one(dy);
      const out: Record<number, () => tf.Tensor> = {};
      saved.forEach((_, i) => {
        out[i] = () => tf.clone(g);
      });
      return out;
    },
  },
  { kernelName: 'Neg', gradFunc: (dy) => ({ x: () => tf.neg(one(dy)) }) },
  unaryX('Square', (dy, x) => tf.mul(dy, tf.mul(x, 2))),
  unaryY('Sqrt', (dy, y) => tf.div(dy, tf.mul(y, 2))),
  // d/dx x^(-1/2) = -x^(-3/2) / 2 = -y^3 / 2
  unaryY('Rsqrt', (dy, y) => tf.mul(dy, tf.mul(tf.pow(y, 3), -0.5))),
  unaryY('Reciprocal', (dy, y) => tf.neg(tf.mul(dy, tf.square(y)))),
  unaryY('Exp', (dy, y) => tf.mul(dy, y)),
  unaryX('Expm1', (dy, x) => tf.mul(dy, tf.exp(x))),
  unaryX('Log', (dy, x) => tf.div(dy, x)),
  unaryX('Log1p', (dy, x) => tf.div(dy, tf.add(x, 1))),
  // sign(0) = 0, as PyTorch (tfjs uses 1 there); the central difference agrees.
  unaryX('Abs', (dy, x) => tf.mul(dy, tf.sign(x))),
  unaryX('Relu', (dy, x) => tf.mul(dy, positive(x))),
  unaryX('Relu6', (dy, x) => tf.mul(dy, tf.cast(tf.logicalAnd(tf.greater(x, 0), tf.less(x, 6)), 'float32'))),
  {
    kernelName: 'LeakyRelu',
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const alpha = attr<number>(attrs, 'alpha');
      return { x: () => tf.where(tf.greater(saved[0]!, 0), one(dy), tf.mul(one(dy), alpha)) };
    },
  },
  // elu(x) = x for x > 0, exp(x) - 1 otherwise, so elu' = 1 or y + 1.
  unaryY('Elu', (dy, y) => tf.where(tf.greater(y, 0), dy, tf.mul(dy, tf.add(y, 1)))),
  unaryY('Sigmoid', (dy, y) => tf.mul(dy, tf.mul(y, tf.sub(1, y)))),
  unaryY('Tanh', (dy, y) => tf.mul(dy, tf.sub(1, tf.square(y)))),
  unaryX('Softplus', (dy, x) => tf.mul(dy, tf.sigmoid(x))),
  unaryX('Erf', (dy, x) => tf.mul(dy, tf.mul(tf.exp(tf.neg(tf.square(x))), 2 / Math.sqrt(Math.PI)))),
  unaryX('Sin', (dy, x) => tf.mul(dy, tf.cos(x))),
  unaryX('Cos', (dy, x) => tf.mul(dy, tf.neg(tf.sin(x)))),
  {
    kernelName: 'ClipByValue',
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const lo = attr<number>(attrs, 'clipValueMin');
      const hi = attr<number>(attrs, 'clipValueMax');
      const x = saved[0]!;
      const inside = tf.logicalAnd(tf.greaterEqual(x, lo), tf.lessEqual(x, hi));
      return { x: () => tf.mul(one(dy), tf.cast(inside, 'float32')) };
    },
  },
  {
    kernelName: 'Select',
    inputsToSave: ['condition'],
    gradFunc: (dy, saved) => {
      const g = one(dy);
      const cond = saved[0]!;
      // A rank-1 condition with higher-rank branches selects whole rows.
      const c =
        cond.rank === 1 && g.rank > 1 ? tf.reshape(cond, [cond.shape[0]!, ...g.shape.slice(1).map(() => 1)]) : cond;
      const mask = tf.cast(c, 'float32');
      return {
        condition: () => tf.zeros(cond.shape, 'float32'),
        t: () => tf.mul(g, mask),
        e: () => tf.mul(g, tf.sub(1, mask)),
      };
    },
  },
];
