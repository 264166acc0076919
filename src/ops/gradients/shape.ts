import * as tf from '@tensorflow/tfjs-core';
import { attr, gatherParamsGrad, many, one, oneHotF, prod, zerosF, type GradConfig } from './common.js';

/** Gradients of kernels that move, select or copy elements. */

/**
 * Tile (also what `tf.broadcastTo` runs): output axis `i` is `reps[i]` copies
 * of input axis `i`, so view each tiled axis as `[reps, size]` and sum the
 * copies. Works for any rank (tfjs's own stops at 4).
 */
const tileGrad: GradConfig = {
  kernelName: 'Tile',
  inputsToSave: ['x'],
  gradFunc: (dy, saved, attrs) => {
    const x = saved[0]!;
    const reps = attr<number[]>(attrs, 'reps');
    return {
      x: () => {
        const split: number[] = [];
        const sumAxes: number[] = [];
        x.shape.forEach((size, i) => {
          if (reps[i]! > 1) {
            sumAxes.push(split.length);
            split.push(reps[i]!);
          }
          split.push(size);
        });
        const g = one(dy);
        return sumAxes.length === 0 ? tf.reshape(g, x.shape) : tf.reshape(tf.sum(tf.reshape(g, split), sumAxes), x.shape);
      },
    };
  },
};

/**
 * StridedSlice: view the upstream gradient with one axis per input axis (new
 * axes and shrunk axes both have size 1, so this is a reshape), scatter each
 * strided axis back with a one-hot product (as for gather), and zero-pad the
 * unit-stride axes.
 */
const stridedSliceGrad: GradConfig = {
  kernelName: 'StridedSlice',
  inputsToSave: ['x'],
  gradFunc: (dy, saved, attrs) => {
    const x = saved[0]!;
    const a = (name: string): number => attr<number>(attrs, name) ?? 0;
    const info = tf.slice_util.sliceInfo(
      x.shape,
      attr<number[]>(attrs, 'begin'),
      attr<number[]>(attrs, 'end'),
      attr<number[]>(attrs, 'strides'),
      a('beginMask'),
      a('endMask'),
      a('ellipsisMask'),
      a('newAxisMask'),
      a('shrinkAxisMask'),
    );
    return {
      x: () => {
        const sizes = x.shape.map((_, i) => {
          const s = info.strides[i]!;
          const len = s > 0 ? info.end[i]! - info.begin[i]! : info.begin[i]! - info.end[i]!;
          return len <= 0 ? 0 : Math.ceil(len / Math.abs(s));
        });
        if (sizes.some((s) => s === 0)) return zerosF(x.shape);
        let g = tf.reshape(one(dy), sizes);
        const paddings: Array<[number, number]> = [];
        x.shape.forEach((dim, i) => {
          const s = info.strides[i]!;
          if (s === 1) {
            paddings.push([info.begin[i]!, dim - info.begin[i]! - sizes[i]!]);
            return;
          }
          const idx = tf.tensor1d(
            Array.from({ length: sizes[i]! }, (_, k) => info.begin[i]! + k * s),
            'int32',
          );
          const shape = g.shape.slice();
          shape[i] = dim;
          g = gatherParamsGrad(shape, idx, g, i, 0);
          paddings.push([0, 0]);
        });
        return paddings.some(([b, e]) => b !== 0 || e !== 0) ? tf.pad(g, paddings) : g;
      },
    };
  },
};

/** DepthToSpace's adjoint is space-to-depth, written as reshape + transpose. */
const depthToSpaceGrad: GradConfig = {
  kernelName: 'DepthToSpace',
  inputsToSave: ['x'],
  gradFunc: (dy, saved, attrs) => {
    const x = saved[0]!;
    const bs = attr<number>(attrs, 'blockSize');
    const nchw = attr<string>(attrs, 'dataFormat') === 'NCHW';
    return {
      x: () => {
        const g = one(dy);
        if (!nchw) {
          const [b, h, w, c] = g.shape as [number, number, number, number];
          const t = tf.reshape(g, [b, h / bs, bs, w / bs, bs, c]);
          return tf.reshape(tf.transpose(t, [0, 1, 3, 2, 4, 5]), x.shape);
        }
        const [b, c, h, w] = g.shape as [number, number, number, number];
        const t = tf.reshape(g, [b, c, h / bs, bs, w / bs, bs]);
        return tf.reshape(tf.transpose(t, [0, 3, 5, 1, 2, 4]), x.shape);
      },
    };
  },
};

/** A resize kernel whose gradient kernel exists on every backend. */
function resizeGrad(kernelName: string, gradKernel: string): GradConfig {
  return {
    kernelName,
    inputsToSave: ['images'],
    gradFunc: (dy, saved, attrs) => ({
      images: () => tf.engine().runKernel(gradKernel, { dy: one(dy), images: saved[0]! }, attrs) as tf.Tensor,
    }),
  };
}

/** Gradients of reshaping, slicing, joining, gathering and copying kernels. */
export const shapeGradients: GradConfig[] = [
  {
    kernelName: 'Reshape',
    inputsToSave: ['x'],
    gradFunc: (dy, saved) => ({ x: () => tf.reshape(one(dy), saved[0]!.shape) }),
  },
  {
    kernelName: 'ExpandDims',
    inputsToSave: ['input'],
    gradFunc: (dy, saved) => ({ input: () => tf.reshape(one(dy), saved[0]!.shape) }),
  },
  {
    kernelName: 'Transpose',
    gradFunc: (dy, _saved, attrs) => ({
      x: () => tf.transpose(one(dy), tf.backend_util.getUndoAxesPermutation(attr<number[]>(attrs, 'perm'))),
    }),
  },
  { kernelName: 'Identity', gradFunc: (dy) => ({ x: () => tf.cast(one(dy), 'float32') }) },
  { kernelName: 'Cast', gradFunc: (dy) => ({ x: () => tf.clone(one(dy)) }) },
  {
    kernelName: 'Concat',
    saveAllInputs: true,
    gradFunc: (dy, saved, attrs) => {
      const axis = tf.util.parseAxisParam(attr<number>(attrs, 'axis'), saved[0]!.shape)[0]!;
      const parts = tf.split(one(dy), saved.map((t) => t.shape[axis]!), axis);
      const out: Record<number, () => tf.Tensor> = {};
      parts.forEach((p, i) => {
        out[i] = () => p;
      });
      return out;
    },
  },
  {
    kernelName: 'Pack',
    saveAllInputs: true,
    gradFunc: (dy, _saved, attrs) => {
      const parts = tf.unstack(one(dy), attr<number>(attrs, 'axis'));
      const out: Record<number, () => tf.Tensor> = {};
      parts.forEach((p, i) => {
        out[i] = () => p;
      });
      return out;
    },
  },
  {
    kernelName: 'Unpack',
    gradFunc: (dy, _saved, attrs) => ({ value: () => tf.stack(many(dy), attr<number>(attrs, 'axis')) }),
  },
  {
    kernelName: 'SplitV',
    gradFunc: (dy, _saved, attrs) => ({ x: () => tf.concat(many(dy), attr<number>(attrs, 'axis')) }),
  },
  {
    kernelName: 'Slice',
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const x = saved[0]!;
      const [begin, size] = tf.slice_util.parseSliceParams(
        x,
        attr<number | number[]>(attrs, 'begin'),
        attr<number | number[]>(attrs, 'size'),
      ) as [number[], number[]];
      const paddings = x.shape.map((d, i): [number, number] => [begin[i]!, d - begin[i]! - size[i]!]);
      return { x: () => tf.pad(one(dy), paddings) };
    },
  },
  stridedSliceGrad,
  {
    kernelName: 'PadV2',
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const begin = attr<Array<[number, number]>>(attrs, 'paddings').map((p) => p[0]);
      return { x: () => tf.slice(one(dy), begin, saved[0]!.shape) };
    },
  },
  {
    kernelName: 'MirrorPad',
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      // Reflected copies also receive gradient; fold them back onto the source.
      const x = saved[0]!;
      const paddings = attr<Array<[number, number]>>(attrs, 'paddings');
      const offset = attr<string>(attrs, 'mode') === 'reflect' ? 1 : 0;
      return {
        x: () => {
          let g = one(dy);
          x.shape.forEach((dim, axis) => {
            const [before, after] = paddings[axis]!;
            if (before === 0 && after === 0) return;
            // Output position p along this axis reads input position src(p).
            const src = Array.from({ length: before + dim + after }, (_, p) => {
              const q = p - before;
              if (q < 0) return -q - 1 + offset;
              if (q >= dim) return 2 * dim - q - 1 - offset;
              return q;
            });
            const shape = g.shape.slice();
            shape[axis] = dim;
            g = gatherParamsGrad(shape, tf.tensor1d(src, 'int32'), g, axis, 0);
          });
          return g;
        },
      };
    },
  },
  tileGrad,
  {
    kernelName: 'BroadcastTo',
    gradFunc: (dy, _saved, attrs) => {
      const inputShape = attr<number[]>(attrs, 'inputShape');
      const g = one(dy);
      const axes = g.shape.map((d, i) => (inputShape[i] === 1 && d !== 1 ? i : -1)).filter((i) => i >= 0);
      return { x: () => (axes.length > 0 ? tf.sum(g, axes, true) : tf.clone(g)) };
    },
  },
  {
    kernelName: 'Reverse',
    gradFunc: (dy, _saved, attrs) => ({ x: () => tf.reverse(one(dy), attr<number | number[]>(attrs, 'dims')) }),
  },
  {
    kernelName: 'GatherV2',
    inputsToSave: ['x', 'indices'],
    gradFunc: (dy, saved, attrs) => {
      const [x, indices] = saved as [tf.Tensor, tf.Tensor];
      const axis = tf.util.parseAxisParam(attr<number>(attrs, 'axis'), x.shape)[0]!;
      const batchDims = attr<number>(attrs, 'batchDims') ?? 0;
      return {
        x: () => gatherParamsGrad(x.shape, indices, one(dy), axis, batchDims),
        indices: () => zerosF(indices.shape),
      };
    },
  },
  {
    // values = x gathered at the top-k indices of the last axis.
    kernelName: 'TopK',
    inputsToSave: ['x'],
    outputsToSave: [false, true],
    gradFunc: (dy, saved) => {
      const [x, indices] = saved as [tf.Tensor, tf.Tensor];
      return {
        x: () => {
          const n = x.shape[x.rank - 1]!;
          const k = indices.shape[indices.rank - 1]!;
          const m = prod(x.shape.slice(0, -1));
          const oh = tf.reshape(oneHotF(indices, n), [m, k, n]);
          const dv = tf.reshape(many(dy)[0]!, [m, k, 1]);
          return tf.reshape(tf.sum(tf.mul(oh, dv), 1), x.shape);
        },
      };
    },
  },
  depthToSpaceGrad,
  resizeGrad('ResizeBilinear', 'ResizeBilinearGrad'),
  resizeGrad('ResizeNearestNeighbor', 'ResizeNearestNeighborGrad'),
];
