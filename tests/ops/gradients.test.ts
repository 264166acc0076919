import * as tf from '@tensorflow/tfjs-core';
// As in real use: under Node, tfjs-layers' build registers tfjs's stock
// gradients at import (before ensureGradients runs), so the suite checks the
// gradients that are actually in effect, then the library's own ones alone.
import '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPLACES_STOCK, ensureGradients, registerGradients } from '../../src/ops/gradients.js';
import { setGatherOneHotLimit } from '../../src/ops/gradients/common.js';
import { gradientConfigs } from '../../src/ops/gradients/index.js';
import { Rng } from '../../src/utils/random.js';

/**
 * Every gradient the library registers is checked against a central finite
 * difference of the scalar objective `sum(w * f(inputs))` (fixed pseudo-random
 * `w`, so gradients are not uniform), on the backend of the current project
 * (the vitest setup runs this file on cpu and on wasm). Each case also
 * proves, with tf.profile, that its forward pass really runs the kernels it
 * claims to cover, and that forward + backward leak no tensor.
 */

const H = 1e-2; // float32 central difference: error ~ eps*|L|/H + H^2 f'''/6
const RTOL = 1e-2;

function shapeSize(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Uniform values in [lo, hi). */
function rand(shape: number[], seed: number, lo = -1, hi = 1): tf.Tensor {
  const r = new Rng(seed);
  return tf.tensor(Array.from({ length: shapeSize(shape) }, () => r.uniformRange(lo, hi)), shape);
}

/**
 * Distinct values at least 0.11 apart, none within 0.13 of zero, shuffled, with
 * random signs: kinks (relu, abs, max, clip) and ties stay farther than H.
 */
function spaced(shape: number[], seed: number, scale = 1): tf.Tensor {
  const r = new Rng(seed);
  const n = shapeSize(shape);
  const v = Array.from({ length: n }, (_, k) => (0.13 + 0.11 * k) * scale * (r.uniform() < 0.5 ? -1 : 1));
  for (let i = n - 1; i > 0; i--) {
    const j = r.randint(0, i);
    [v[i], v[j]] = [v[j]!, v[i]!];
  }
  return tf.tensor(v, shape);
}

/** Deterministic weights for the objective sum(w * y). */
function weights(shape: number[]): tf.Tensor {
  return tf.tensor(
    Array.from({ length: shapeSize(shape) }, (_, i) => Math.sin(1.7 * i + 0.3) + 0.1),
    shape,
  );
}

interface Case {
  name: string;
  /** Kernels whose gradient this case exercises (checked to run). */
  kernels: string[];
  inputs: () => tf.Tensor[];
  f: (...xs: tf.Tensor[]) => tf.Tensor;
  /**
   * The same function computed another way, used for the finite differences
   * where a backend's forward kernel is wrong (see the batchDims gathers).
   */
  reference?: (...xs: tf.Tensor[]) => tf.Tensor;
}

/**
 * `tf.gather(x, ids, 1, 1)` for x [B, L, ...] written with batchDims 0 on the
 * flattened [B*L, ...] tensor. Why: tfjs-backend-wasm 4.22's GatherV2 returns
 * wrong rows when batchDims > 0 (unless each batch has exactly 2 indices), so
 * finite differences of the kernel itself would be meaningless there.
 */
function gatherBatched(x: tf.Tensor, ids: number[][], axis: number): tf.Tensor {
  const b = x.shape[0]!;
  const outer = x.shape.slice(1, axis).reduce((p, q) => p * q, 1);
  const n = x.shape[axis]!;
  const flatIds = ids.flatMap((row, i) => Array.from({ length: outer }, (_, o) => row.map((id) => (i * outer + o) * n + id))).flat();
  const rows = tf.gather(tf.reshape(x, [b * outer * n, ...x.shape.slice(axis + 1)]), tf.tensor1d(flatIds, 'int32'));
  return tf.reshape(rows, [...x.shape.slice(0, axis), ids[0]!.length, ...x.shape.slice(axis + 1)]);
}

const ints = (values: number[] | number[][], shape?: number[]): tf.Tensor =>
  tf.tensor(values as number[], shape, 'int32');
const mask = (b: tf.Tensor): tf.Tensor => tf.cast(b, 'float32');

const cases: Case[] = [
  // ---- broadcasting binary arithmetic
  { name: 'add [2,3]+[3]', kernels: ['Add'], inputs: () => [rand([2, 3], 1), rand([3], 2)], f: (a, b) => tf.add(a!, b!) },
  {
    name: 'add [2,1,3]+[4,1] (both broadcast)',
    kernels: ['Add'],
    inputs: () => [rand([2, 1, 3], 3), rand([4, 1], 4)],
    f: (a, b) => tf.add(a!, b!),
  },
  { name: 'sub [2,3]-[2,1]', kernels: ['Sub'], inputs: () => [rand([2, 3], 5), rand([2, 1], 6)], f: (a, b) => tf.sub(a!, b!) },
  { name: 'mul [3]*[2,3]', kernels: ['Multiply'], inputs: () => [rand([3], 7), rand([2, 3], 8)], f: (a, b) => tf.mul(a!, b!) },
  {
    name: 'div [2,3]/[1,3]',
    kernels: ['RealDiv'],
    inputs: () => [rand([2, 3], 9), rand([1, 3], 10, 0.5, 1.5)],
    f: (a, b) => tf.div(a!, b!),
  },
  {
    name: 'squaredDifference [2,3],[3]',
    kernels: ['SquaredDifference'],
    inputs: () => [rand([2, 3], 11), rand([3], 12)],
    f: (a, b) => tf.squaredDifference(a!, b!),
  },
  {
    name: 'maximum [2,3],[3]',
    kernels: ['Maximum'],
    inputs: () => {
      const all = spaced([9], 13);
      const [a, b] = tf.split(all, [6, 3]);
      return [tf.reshape(a!, [2, 3]), b!];
    },
    f: (a, b) => tf.maximum(a!, b!),
  },
  {
    name: 'minimum [3],[2,3]',
    kernels: ['Minimum'],
    inputs: () => {
      const all = spaced([9], 14);
      const [a, b] = tf.split(all, [3, 6]);
      return [a!, tf.reshape(b!, [2, 3])];
    },
    f: (a, b) => tf.minimum(a!, b!),
  },
  {
    name: 'pow: base [2,3] and exponent [3]',
    kernels: ['Pow'],
    inputs: () => [rand([2, 3], 15, 0.5, 2), rand([3], 16, -1.5, 1.5)],
    f: (a, b) => tf.pow(a!, b!),
  },
  {
    name: 'mod [2,3] % [3]',
    kernels: ['Mod'],
    inputs: () => [tf.tensor2d([[0.4, 2.1, 3.3], [-0.3, -2.0, 1.1]]), tf.tensor1d([1, 1.5, 2])],
    f: (a, b) => tf.mod(a!, b!),
  },
  { name: 'addN', kernels: ['AddN'], inputs: () => [rand([2, 3], 17), rand([2, 3], 18)], f: (a, b) => tf.addN([a!, b!, a!]) },
  // ---- unary
  { name: 'neg', kernels: ['Neg'], inputs: () => [rand([5], 19)], f: (x) => tf.neg(x!) },
  { name: 'square', kernels: ['Square'], inputs: () => [rand([5], 20)], f: (x) => tf.square(x!) },
  { name: 'sqrt', kernels: ['Sqrt'], inputs: () => [rand([5], 21, 0.5, 2)], f: (x) => tf.sqrt(x!) },
  { name: 'rsqrt', kernels: ['Rsqrt'], inputs: () => [rand([5], 22, 0.5, 2)], f: (x) => tf.rsqrt(x!) },
  {
    name: 'reciprocal',
    kernels: ['Reciprocal'],
    inputs: () => [tf.mul(rand([5], 23, 0.6, 2), tf.tensor1d([1, -1, 1, -1, 1]))],
    f: (x) => tf.reciprocal(x!),
  },
  { name: 'exp', kernels: ['Exp'], inputs: () => [rand([5], 24)], f: (x) => tf.exp(x!) },
  { name: 'expm1', kernels: ['Expm1'], inputs: () => [rand([5], 25)], f: (x) => tf.expm1(x!) },
  { name: 'log', kernels: ['Log'], inputs: () => [rand([5], 26, 0.5, 2)], f: (x) => tf.log(x!) },
  { name: 'log1p', kernels: ['Log1p'], inputs: () => [rand([5], 27, -0.5, 1)], f: (x) => tf.log1p(x!) },
  { name: 'abs', kernels: ['Abs'], inputs: () => [spaced([6], 28)], f: (x) => tf.abs(x!) },
  { name: 'relu', kernels: ['Relu'], inputs: () => [spaced([6], 29)], f: (x) => tf.relu(x!) },
  {
    name: 'relu6',
    kernels: ['Relu6'],
    inputs: () => [tf.tensor1d([-1.2, -0.3, 0.4, 2.5, 5.5, 6.4, 7.1])],
    f: (x) => tf.relu6(x!),
  },
  { name: 'leakyRelu', kernels: ['LeakyRelu'], inputs: () => [spaced([6], 30)], f: (x) => tf.leakyRelu(x!, 0.2) },
  { name: 'elu', kernels: ['Elu'], inputs: () => [spaced([6], 31)], f: (x) => tf.elu(x!) },
  { name: 'sigmoid', kernels: ['Sigmoid'], inputs: () => [rand([5], 32, -3, 3)], f: (x) => tf.sigmoid(x!) },
  { name: 'tanh', kernels: ['Tanh'], inputs: () => [rand([5], 33, -2, 2)], f: (x) => tf.tanh(x!) },
  { name: 'softplus', kernels: ['Softplus'], inputs: () => [rand([5], 34, -3, 3)], f: (x) => tf.softplus(x!) },
  { name: 'erf', kernels: ['Erf'], inputs: () => [rand([5], 35, -2, 2)], f: (x) => tf.erf(x!) },
  { name: 'sin', kernels: ['Sin'], inputs: () => [rand([5], 36, -3, 3)], f: (x) => tf.sin(x!) },
  { name: 'cos', kernels: ['Cos'], inputs: () => [rand([5], 37, -3, 3)], f: (x) => tf.cos(x!) },
  { name: 'clipByValue', kernels: ['ClipByValue'], inputs: () => [spaced([8], 38)], f: (x) => tf.clipByValue(x!, -0.5, 0.5) },
  {
    name: 'where with a broadcast branch',
    kernels: ['Select', 'Tile'],
    inputs: () => [rand([2, 3], 39), rand([3], 40)],
    f: (t, e) => tf.where(tf.tensor2d([[1, 0, 1], [0, 0, 1]], [2, 3], 'bool'), t!, e!),
  },
  // ---- reductions, softmax, scans
  { name: 'sum axis 1', kernels: ['Sum'], inputs: () => [rand([2, 3, 2], 41)], f: (x) => tf.sum(x!, 1) },
  { name: 'sum all, keepDims', kernels: ['Sum'], inputs: () => [rand([2, 3], 42)], f: (x) => tf.square(tf.sum(x!, undefined, true)) },
  { name: 'mean axes [0,2] keepDims', kernels: ['Mean'], inputs: () => [rand([2, 3, 2], 43)], f: (x) => tf.mean(x!, [0, 2], true) },
  { name: 'mean all', kernels: ['Mean'], inputs: () => [rand([2, 3], 44)], f: (x) => tf.square(tf.mean(x!)) },
  { name: 'max axis -1', kernels: ['Max'], inputs: () => [spaced([2, 4], 45)], f: (x) => tf.max(x!, -1) },
  { name: 'max all, keepDims', kernels: ['Max'], inputs: () => [spaced([2, 3], 46)], f: (x) => tf.max(x!, undefined, true) },
  { name: 'min axis 0', kernels: ['Min'], inputs: () => [spaced([3, 2], 47)], f: (x) => tf.min(x!, 0) },
  { name: 'prod axis 1', kernels: ['Prod'], inputs: () => [rand([2, 3, 2], 48, 0.5, 1.5)], f: (x) => tf.prod(x!, 1) },
  {
    name: 'prod axes [0,2] with a zero',
    kernels: ['Prod'],
    inputs: () => [tf.tensor3d([[[0.9, 1.1], [0, 1.2]], [[1.3, 0.8], [0.7, -1.1]]])],
    f: (x) => tf.prod(x!, [0, 2]),
  },
  { name: 'softmax', kernels: ['Softmax'], inputs: () => [rand([2, 4], 49, -2, 2)], f: (x) => tf.softmax(x!) },
  { name: 'cumsum axis 1', kernels: ['Cumsum'], inputs: () => [rand([2, 4], 50)], f: (x) => tf.cumsum(x!, 1) },
  {
    name: 'cumsum axis 0, exclusive, reverse',
    kernels: ['Cumsum'],
    inputs: () => [rand([4, 2], 51)],
    f: (x) => tf.cumsum(x!, 0, true, true),
  },
  // ---- shape, slicing, joining
  { name: 'reshape', kernels: ['Reshape'], inputs: () => [rand([2, 3], 52)], f: (x) => tf.mul(tf.reshape(x!, [3, 2]), tf.tensor1d([1, 2])) },
  { name: 'expandDims', kernels: ['ExpandDims'], inputs: () => [rand([2, 3], 53)], f: (x) => tf.mul(tf.expandDims(x!, 1), rand([2, 2, 3], 99)) },
  { name: 'transpose', kernels: ['Transpose'], inputs: () => [rand([2, 3, 4], 54)], f: (x) => tf.transpose(x!, [2, 0, 1]) },
  { name: 'clone (Identity)', kernels: ['Identity'], inputs: () => [rand([4], 55)], f: (x) => tf.square(tf.clone(x!)) },
  { name: 'cast', kernels: ['Cast'], inputs: () => [rand([4], 56)], f: (x) => tf.square(tf.cast(x!, 'float32')) },
  {
    name: 'concat axis 1',
    kernels: ['Concat'],
    inputs: () => [rand([2, 1], 57), rand([2, 3], 58), rand([2, 2], 59)],
    f: (a, b, c) => tf.concat([a!, b!, c!], 1),
  },
  { name: 'stack axis 1', kernels: ['Pack'], inputs: () => [rand([3], 60), rand([3], 61)], f: (a, b) => tf.stack([a!, b!], 1) },
  {
    name: 'unstack axis 1, two of three parts used',
    kernels: ['Unpack'],
    inputs: () => [rand([2, 3, 2], 62)],
    f: (x) => {
      const p = tf.unstack(x!, 1);
      return tf.add(tf.mul(p[0]!, 2), p[2]!);
    },
  },
  { name: 'unstack of a size-1 axis', kernels: ['Unpack'], inputs: () => [rand([1, 3], 63)], f: (x) => tf.square(tf.unstack(x!)[0]!) },
  {
    name: 'split [2,3] on axis 1, second part used',
    kernels: ['SplitV'],
    inputs: () => [rand([2, 5], 64)],
    f: (x) => tf.square(tf.split(x!, [2, 3], 1)[1]!),
  },
  { name: 'slice with size -1', kernels: ['Slice'], inputs: () => [rand([3, 4], 65)], f: (x) => tf.slice(x!, [1, 1], [2, -1]) },
  {
    name: 'stridedSlice with strides 2',
    kernels: ['StridedSlice'],
    inputs: () => [rand([4, 5, 3], 66)],
    f: (x) => tf.stridedSlice(x!, [1, 0, 0], [4, 5, 3], [2, 2, 1]),
  },
  {
    name: 'stridedSlice with negative strides',
    kernels: ['StridedSlice'],
    inputs: () => [rand([4, 5, 3], 67)],
    f: (x) => tf.stridedSlice(x!, [3, 4, 0], [0, 0, 3], [-1, -2, 1]),
  },
  {
    name: 'stridedSlice with a shrunk axis',
    kernels: ['StridedSlice'],
    inputs: () => [rand([4, 5, 3], 68)],
    f: (x) => tf.stridedSlice(x!, [2, 1, 0], [3, 4, 3], [1, 1, 1], 0, 0, 0, 0, 1),
  },
  {
    name: 'stridedSlice with a new axis',
    kernels: ['StridedSlice'],
    inputs: () => [rand([4, 5, 3], 69)],
    f: (x) => tf.stridedSlice(x!, [1, 0], [3, 0], [1, 1], 0, 0, 0, 2, 0),
  },
  {
    name: 'stridedSlice with ellipsis and masks',
    kernels: ['StridedSlice'],
    inputs: () => [rand([4, 5, 3], 70)],
    f: (x) => tf.stridedSlice(x!, [0, 1], [0, 3], [1, 1], 0, 0, 1, 0, 0),
  },
  {
    name: 'stridedSlice with begin/end masks',
    kernels: ['StridedSlice'],
    inputs: () => [rand([4, 5, 3], 71)],
    f: (x) => tf.stridedSlice(x!, [2, 1, 1], [0, 3, 0], [1, 1, 2], 1, 5),
  },
  { name: 'pad', kernels: ['PadV2'], inputs: () => [rand([2, 3], 72)], f: (x) => tf.pad(x!, [[1, 0], [2, 1]], 0.5) },
  {
    name: 'mirrorPad reflect',
    kernels: ['MirrorPad'],
    inputs: () => [rand([3, 4], 73)],
    f: (x) => tf.mirrorPad(x!, [[1, 2], [2, 1]], 'reflect'),
  },
  {
    name: 'mirrorPad symmetric',
    kernels: ['MirrorPad'],
    inputs: () => [rand([3, 4], 74)],
    f: (x) => tf.mirrorPad(x!, [[2, 1], [0, 3]], 'symmetric'),
  },
  { name: 'tile', kernels: ['Tile'], inputs: () => [rand([2, 1, 3], 75)], f: (x) => tf.tile(x!, [2, 3, 1]) },
  {
    name: 'tile rank 5',
    kernels: ['Tile'],
    inputs: () => [rand([1, 2, 1, 2, 1], 76)],
    f: (x) => tf.tile(x!, [2, 1, 2, 1, 3]),
  },
  { name: 'broadcastTo', kernels: ['Tile'], inputs: () => [rand([1, 3], 77)], f: (x) => tf.broadcastTo(x!, [2, 2, 3]) },
  { name: 'reverse', kernels: ['Reverse'], inputs: () => [rand([2, 3, 2], 78)], f: (x) => tf.reverse(x!, [0, 2]) },
  // ---- gathers (one-hot product gradient) and top-k
  {
    name: 'gather axis 0 with repeated indices',
    kernels: ['GatherV2'],
    inputs: () => [rand([5, 3], 79)],
    f: (x) => tf.gather(x!, ints([4, 0, 4, 2]), 0),
  },
  {
    name: 'gather axis 1, 2-D indices',
    kernels: ['GatherV2'],
    inputs: () => [rand([3, 4], 80)],
    f: (x) => tf.gather(x!, ints([[0, 3], [3, 3]], [2, 2]), 1),
  },
  {
    name: 'gather last axis of a rank-3 tensor',
    kernels: ['GatherV2'],
    inputs: () => [rand([2, 3, 4], 81)],
    f: (x) => tf.gather(x!, ints([1, 1, 3]), 2),
  },
  {
    name: 'gather tokens [B,L,D], axis 1, batchDims 1',
    kernels: ['GatherV2'],
    inputs: () => [rand([2, 5, 3], 82)],
    f: (x) => tf.gather(x!, ints([[0, 4, 4], [1, 1, 3]], [2, 3]), 1, 1),
    reference: (x) => gatherBatched(x!, [[0, 4, 4], [1, 1, 3]], 1),
  },
  {
    name: 'gather axis 2, batchDims 1 (outer and inner axes)',
    kernels: ['GatherV2'],
    inputs: () => [rand([2, 3, 4, 2], 83)],
    f: (x) => tf.gather(x!, ints([[3, 0, 1], [2, 2, 0]], [2, 3]), 2, 1),
    reference: (x) => gatherBatched(x!, [[3, 0, 1], [2, 2, 0]], 2),
  },
  {
    name: 'gather from a size-1 axis',
    kernels: ['GatherV2'],
    inputs: () => [rand([3, 1, 2], 84)],
    f: (x) => tf.gather(x!, ints([0, 0]), 1),
  },
  { name: 'topk values', kernels: ['TopK'], inputs: () => [spaced([2, 5], 85)], f: (x) => tf.topk(x!, 3).values },
  {
    name: 'depthToSpace NHWC',
    kernels: ['DepthToSpace'],
    inputs: () => [rand([1, 2, 2, 8], 86)],
    f: (x) => tf.depthToSpace(x! as tf.Tensor4D, 2),
  },
  {
    name: 'resizeBilinear',
    kernels: ['ResizeBilinear'],
    inputs: () => [rand([1, 3, 3, 2], 87)],
    f: (x) => tf.image.resizeBilinear(x! as tf.Tensor4D, [5, 4]),
  },
  {
    name: 'resizeNearestNeighbor',
    kernels: ['ResizeNearestNeighbor'],
    inputs: () => [rand([1, 2, 3, 1], 88)],
    f: (x) => tf.image.resizeNearestNeighbor(x! as tf.Tensor4D, [4, 5]),
  },
  // ---- tf.matMul (BatchMatMul kernel), all flags and broadcast batches
  ...([
    [false, false],
    [false, true],
    [true, false],
    [true, true],
  ] as const).map(
    ([ta, tb], i): Case => ({
      name: `tf.matMul transposeA=${ta} transposeB=${tb}`,
      kernels: ['BatchMatMul'],
      inputs: () => [rand(ta ? [2, 4, 3] : [2, 3, 4], 90 + i), rand(tb ? [2, 2, 4] : [2, 4, 2], 95 + i)],
      f: (a, b) => tf.matMul(a!, b!, ta, tb),
    }),
  ),
  {
    name: 'tf.matMul with broadcast batch [2,3,4] x [1,4,2]',
    kernels: ['BatchMatMul'],
    inputs: () => [rand([2, 3, 4], 100), rand([1, 4, 2], 101)],
    f: (a, b) => tf.matMul(a!, b!),
  },
  // ---- piecewise-constant kernels: zero gradient, so the total is the other path's
  {
    name: 'floor, ceil, round',
    kernels: ['Floor', 'Ceil', 'Round'],
    inputs: () => [tf.tensor1d([0.3, -1.2, 2.7, 1.2, -0.3])],
    f: (x) => tf.mul(x!, tf.add(tf.add(tf.floor(x!), tf.ceil(x!)), tf.round(x!))),
  },
  {
    name: 'sign, step',
    kernels: ['Sign', 'Step'],
    inputs: () => [spaced([5], 102)],
    f: (x) => tf.mul(x!, tf.add(tf.sign(x!), tf.step(x!))),
  },
  {
    name: 'isNaN, isInf, isFinite',
    kernels: ['IsNan', 'IsInf', 'IsFinite'],
    inputs: () => [rand([4], 103)],
    f: (x) => tf.mul(x!, tf.add(tf.add(mask(tf.isNaN(x!)), mask(tf.isInf(x!))), mask(tf.isFinite(x!)))),
  },
  {
    name: 'zerosLike, onesLike',
    kernels: ['ZerosLike', 'OnesLike'],
    inputs: () => [rand([4], 104)],
    f: (x) => tf.mul(tf.add(x!, tf.zerosLike(x!)), tf.onesLike(x!)),
  },
  {
    name: 'argMax, argMin',
    kernels: ['ArgMax', 'ArgMin'],
    inputs: () => [spaced([2, 3], 105)],
    f: (x) => tf.add(tf.sum(x!, 1), tf.cast(tf.add(tf.argMax(x!, 1), tf.argMin(x!, 1)), 'float32')),
  },
  {
    name: 'oneHot of cast values',
    kernels: ['OneHot'],
    inputs: () => [tf.tensor1d([0.4, 2.5, 3.3, 1.7])],
    f: (x) => tf.mul(x!, tf.sum(tf.cast(tf.oneHot(tf.cast(x!, 'int32') as tf.Tensor1D, 4), 'float32'), -1)),
  },
  {
    name: 'comparisons',
    kernels: ['Equal', 'NotEqual', 'Greater', 'GreaterEqual', 'Less', 'LessEqual'],
    inputs: () => {
      const all = spaced([8], 106);
      const [a, b] = tf.split(all, 2);
      return [a!, b!];
    },
    f: (a, b) => {
      const c = [tf.equal(a!, b!), tf.notEqual(a!, b!), tf.greater(a!, b!), tf.greaterEqual(a!, b!), tf.less(a!, b!), tf.lessEqual(a!, b!)];
      return tf.mul(a!, tf.addN(c.map(mask)));
    },
  },
  {
    name: 'logical and, or, not',
    kernels: ['LogicalAnd', 'LogicalOr', 'LogicalNot'],
    inputs: () => [spaced([6], 107)],
    f: (x) => {
      const pos = tf.greater(x!, 0);
      const big = tf.greater(tf.abs(x!), 0.4);
      return tf.mul(x!, tf.add(mask(tf.logicalAnd(pos, big)), mask(tf.logicalOr(tf.logicalNot(pos), big))));
    },
  },
];

/** `sum(w * f(xs))` as a JS number. */
function objective(c: Case, xs: tf.Tensor[], w: tf.Tensor): number {
  return tf.tidy(() => tf.sum(tf.mul((c.reference ?? c.f)(...xs), w)).dataSync()[0]!);
}

/** Central finite differences of the objective, per input element. */
function numericGrads(c: Case, xs: tf.Tensor[], w: tf.Tensor): Float32Array[] {
  return xs.map((x, i) => {
    const base = x.dataSync().slice();
    const out = new Float32Array(base.length);
    for (let j = 0; j < base.length; j++) {
      const eval1 = (delta: number): number => {
        const v = base.slice();
        v[j] = v[j]! + delta;
        const xi = tf.tensor(v, x.shape);
        const args = xs.slice();
        args[i] = xi;
        const value = objective(c, args, w);
        xi.dispose();
        return value;
      };
      out[j] = (eval1(H) - eval1(-H)) / (2 * H);
    }
    return out;
  });
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, label: string): void {
  expect(actual.length, label).toBe(expected.length);
  for (let k = 0; k < expected.length; k++) {
    const e = expected[k]!;
    const a = actual[k]!;
    if (!(Math.abs(a - e) <= RTOL * Math.max(1, Math.abs(e)))) {
      throw new Error(`${label}: element ${k}: analytic ${a} vs finite difference ${e}`);
    }
  }
}

/** Defines one finite-difference test per case, against the registry in effect. */
function finiteDifferenceTests(): void {
  for (const c of cases) {
    it(c.name, async () => {
      const xs = c.inputs();
      const wShape = tf.tidy(() => c.f(...xs).shape);
      if (c.reference && tf.getBackend() === 'cpu') {
        // The reference computes the same function (checked where the kernel is right).
        tf.tidy(() => {
          expect(Array.from(c.reference!(...xs).dataSync())).toEqual(Array.from(c.f(...xs).dataSync()));
        });
      }
      const w = weights(wShape);
      const loss = (...args: tf.Tensor[]): tf.Tensor => tf.sum(tf.mul(c.f(...args), w));

      // The forward pass really runs the kernels this case claims to cover.
      const profile = await tf.profile(() => loss(...xs));
      tf.dispose(profile.result as tf.Tensor);
      for (const k of c.kernels) expect(profile.kernelNames, `kernel ${k} runs`).toContain(k);

      const before = tf.memory().numTensors;
      const analytic = tf.grads(loss)(xs);
      const values = analytic.map((g) => g.dataSync().slice());
      analytic.forEach((g, i) => expect(g.shape, `gradient ${i} shape`).toEqual(xs[i]!.shape));
      tf.dispose(analytic);
      expect(tf.memory().numTensors, 'no tensor leaked by forward + backward').toBe(before);

      const numeric = numericGrads(c, xs, w);
      values.forEach((v, i) => expectClose(v, numeric[i]!, `${c.name}, input ${i}`));
      tf.dispose([...xs, w]);
    });
  }
}

beforeAll(() => {
  ensureGradients();
});

describe('gradients in effect after ensureGradients (stock tfjs gradients present)', () => {
  it('keeps stock gradients except those the library replaces', () => {
    const stockKept = gradientConfigs.filter((g) => tf.getGradient(g.kernelName) !== g).map((g) => g.kernelName);
    // tfjs-layers registered e.g. Add's stock gradient, and it is kept.
    expect(stockKept).toContain('Add');
    for (const k of Object.keys(REPLACES_STOCK)) expect(stockKept, k).not.toContain(k);
  });
  finiteDifferenceTests();
});

describe("the library's own gradient functions match finite differences", () => {
  const saved = new Map<string, tf.GradConfig | undefined>();
  beforeAll(() => {
    for (const g of gradientConfigs) {
      saved.set(g.kernelName, tf.getGradient(g.kernelName));
      tf.registerGradient(g);
    }
  });
  afterAll(() => {
    for (const [k, g] of saved) {
      tf.unregisterGradient(k);
      if (g) tf.registerGradient(g);
    }
  });
  finiteDifferenceTests();

  it('LogSoftmax and BroadcastTo (kernels no op runs today) have correct gradients', () => {
    const byName = new Map(gradientConfigs.map((g) => [g.kernelName, g]));
    tf.tidy(() => {
      // LogSoftmax: d/dx_i sum_j dy_j (x_j - lse(x)) = dy_i - softmax_i * sum(dy).
      const x = tf.tensor2d([[0.1, -0.5, 1.2], [2.0, 0.3, -1.0]]);
      const y = tf.logSoftmax(x);
      const dy = tf.tensor2d([[1, -2, 0.5], [0.3, 0.2, -1]]);
      const g = byName.get('LogSoftmax')!.gradFunc(dy, [y], { axis: -1 })['logits']!();
      const sm = tf.softmax(x).arraySync() as number[][];
      const d = dy.arraySync() as number[][];
      const want = sm.map((row, r) => row.map((s, i) => d[r]![i]! - s * d[r]!.reduce((a, b) => a + b, 0)));
      expectClose(g.dataSync(), want.flat(), 'LogSoftmax');
      // BroadcastTo [2,1,3] -> [2,4,3]: sum over the broadcast axis, kept.
      const dy2 = rand([2, 4, 3], 108);
      const g2 = byName.get('BroadcastTo')!.gradFunc(dy2, [], { shape: [2, 4, 3], inputShape: [2, 1, 3] })['x']!();
      expect(g2.shape).toEqual([2, 1, 3]);
      expectClose(g2.dataSync(), tf.sum(dy2, 1, true).dataSync(), 'BroadcastTo');
    });
  });

  it('covers every kernel the library registers a gradient for', () => {
    const covered = new Set([...cases.flatMap((c) => c.kernels), 'LogSoftmax', 'BroadcastTo']);
    const registered = gradientConfigs.map((g) => g.kernelName);
    expect(new Set(registered).size, 'one gradient per kernel').toBe(registered.length);
    expect(registered.filter((k) => !covered.has(k))).toEqual([]);
    // The cases above ran against these very functions.
    for (const g of gradientConfigs) expect(tf.getGradient(g.kernelName), g.kernelName).toBe(g);
  });
});

describe('GatherV2 gradient', () => {
  /** Hand scatter-add: dParams[b, idx[b, k], d] += dy[b, k, d]. */
  function scatterAdd(b: number, l: number, d: number, idx: number[][], dy: number[][][]): number[] {
    const out = new Array<number>(b * l * d).fill(0);
    for (let i = 0; i < b; i++)
      for (let k = 0; k < idx[i]!.length; k++)
        for (let j = 0; j < d; j++) out[(i * l + idx[i]![k]!) * d + j] += dy[i]![k]![j]!;
    return out;
  }

  it('is the same on cpu and wasm, and equals a hand scatter-add (batchDims 1, repeated ids)', async () => {
    const original = tf.getBackend();
    const idx = [
      [4, 0, 4],
      [1, 3, 1],
    ];
    const dyValues = [
      [
        [1, 2],
        [3, 4],
        [5, 6],
      ],
      [
        [-1, 0.5],
        [2, -2],
        [0.25, 1],
      ],
    ];
    const results: Record<string, number[]> = {};
    try {
      for (const backend of ['cpu', 'wasm']) {
        await tf.setBackend(backend);
        results[backend] = tf.tidy(() => {
          const x = rand([2, 5, 2], 109);
          const dy = tf.tensor3d(dyValues);
          const g = tf.grad((p: tf.Tensor) => tf.gather(p, tf.tensor2d(idx, [2, 3], 'int32'), 1, 1))(x, dy);
          return Array.from(g.dataSync());
        });
      }
    } finally {
      await tf.setBackend(original);
    }
    const want = scatterAdd(2, 5, 2, idx, dyValues);
    expect(results['cpu']).toEqual(want);
    expect(results['wasm']).toEqual(want);
  });

  it('gives the same values through the one-hot product and the ScatterNd path', () => {
    const configs: Array<{ shape: number[]; ids: number[][] | number[]; axis: number; batchDims: number }> = [
      { shape: [5, 3], ids: [4, 0, 4, 2], axis: 0, batchDims: 0 },
      { shape: [3, 4], ids: [[0, 3], [3, 3]], axis: 1, batchDims: 0 },
      { shape: [2, 5, 3], ids: [[0, 4, 4], [1, 1, 3]], axis: 1, batchDims: 1 },
      { shape: [2, 3, 4, 2], ids: [[3, 0, 1], [2, 2, 0]], axis: 2, batchDims: 1 },
    ];
    const gradWith = (limit: number, c: (typeof configs)[number]): number[] => {
      const old = setGatherOneHotLimit(limit);
      try {
        return tf.tidy(() => {
          const x = rand(c.shape, 111);
          const ids = tf.tensor(c.ids as number[], undefined, 'int32');
          const y = tf.gather(x, ids, c.axis, c.batchDims);
          const g = tf.grad((p: tf.Tensor) => tf.sum(tf.mul(tf.gather(p, ids, c.axis, c.batchDims), weights(y.shape))))(x);
          return Array.from(g.dataSync());
        });
      } finally {
        setGatherOneHotLimit(old);
      }
    };
    for (const c of configs) {
      const viaOneHot = gradWith(Number.POSITIVE_INFINITY, c);
      const viaScatter = gradWith(0, c);
      viaScatter.forEach((v, i) => expect(v, `${JSON.stringify(c)} element ${i}`).toBeCloseTo(viaOneHot[i]!, 5));
    }
  });

  it('scatters into a large table (ScatterNd path by default) with exact values', () => {
    tf.tidy(() => {
      const n = 20000;
      const table = tf.zeros([n, 2]);
      const idsList = [19999, 7, 7, 0, 12345];
      const ids = tf.tensor1d(idsList, 'int32');
      const dy = tf.tensor2d([[1, 2], [3, 4], [5, 6], [7, 8], [9, 10]]);
      const g = tf.grad((t: tf.Tensor) => tf.gather(t, ids))(table, dy).arraySync() as number[][];
      expect(g[19999]).toEqual([1, 2]);
      expect(g[7]).toEqual([8, 10]);
      expect(g[0]).toEqual([7, 8]);
      expect(g[12345]).toEqual([9, 10]);
      expect(g.flat().reduce((a, b) => a + b, 0)).toBe(55);
    });
  });

  it('flows to an embedding table (batchDims 0) with exact scatter-add values', () => {
    tf.tidy(() => {
      const table = rand([4, 2], 110);
      const ids = tf.tensor2d([[3, 3], [0, 1]], [2, 2], 'int32');
      const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.gather(t, ids), 2)))(table);
      expect(Array.from(g.dataSync())).toEqual([2, 2, 2, 2, 0, 0, 4, 4]);
    });
  });
});

describe('ensureGradients registration', () => {
  it('keeps a gradient that is already registered and fills in missing ones', () => {
    const neg = tf.getGradient('Neg');
    const erf = tf.getGradient('Erf');
    const mine: tf.GradConfig = { kernelName: 'Neg', gradFunc: (dy) => ({ x: () => tf.mul(dy as tf.Tensor, 7) }) };
    try {
      tf.unregisterGradient('Neg');
      tf.registerGradient(mine);
      tf.unregisterGradient('Erf');
      const changed = registerGradients();
      expect(changed).toEqual(['Erf']);
      expect(tf.getGradient('Neg')).toBe(mine);
      const g = tf.tidy(() => Array.from(tf.grad((x: tf.Tensor) => tf.neg(x))(tf.tensor1d([1, 2])).dataSync()));
      expect(g).toEqual([7, 7]);
    } finally {
      tf.unregisterGradient('Neg');
      if (neg) tf.registerGradient(neg);
      if (tf.getGradient('Erf') !== erf) {
        tf.unregisterGradient('Erf');
        if (erf) tf.registerGradient(erf);
      }
    }
  });

  it('replaces a stock gradient listed in REPLACES_STOCK, also when it is registered later', () => {
    const ours = gradientConfigs.find((g) => g.kernelName === 'GatherV2')!;
    const stock: tf.GradConfig = { kernelName: 'GatherV2', gradFunc: () => ({}) };
    try {
      tf.registerGradient(stock); // e.g. @tensorflow/tfjs imported after the library
      ensureGradients();
      expect(tf.getGradient('GatherV2')).toBe(ours);
      tf.registerGradient(stock);
      expect(registerGradients()).toEqual(['GatherV2']);
      expect(tf.getGradient('GatherV2')).toBe(ours);
    } finally {
      tf.registerGradient(ours);
    }
  });

  it('is idempotent and cheap after the first call', () => {
    const before = gradientConfigs.map((g) => tf.getGradient(g.kernelName));
    const t0 = performance.now();
    for (let i = 0; i < 10_000; i++) ensureGradients();
    // A few registry look-ups per call (~3 us here); generous for a loaded CI.
    expect(performance.now() - t0).toBeLessThan(500);
    expect(gradientConfigs.map((g) => tf.getGradient(g.kernelName))).toEqual(before);
  });
});
