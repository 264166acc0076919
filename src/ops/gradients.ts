import * as tf from '@tensorflow/tfjs-core';
import { gradientConfigs } from './gradients/index.js';

/**
 * Why this exists: `@tensorflow/tfjs-core` registers no gradient functions.
 * Depending on how tfjs is loaded, the stock ones may or may not be there:
 * tfjs-layers' Node build and the `@tensorflow/tfjs` union package register
 * them at import, the ESM builds that bundlers and vitest load do not. And
 * some stock gradients fail where the library needs them (see
 * {@link REPLACES_STOCK}). So the library carries its own gradients, written
 * with public tfjs-core ops, for every kernel its maths can reach.
 */

/**
 * Kernels whose stock tfjs 4.22 gradient fails in cases the library meets,
 * with the reason. For these the library's gradient replaces whatever is
 * registered; every other existing registration is kept. Each reason is a
 * failing case in `tests/ops/gradients.test.ts` when the stock one is used.
 */
export const REPLACES_STOCK: Readonly<Record<string, string>> = {
  GatherV2: 'needs UnsortedSegmentSum (absent on WASM), and chained tensor methods for batchDims > 0',
  Prod: 'uses chained tensor methods, which the Node build of tfjs-core does not install',
  Cumsum: 'transposes its result for a non-last axis, giving the wrong shape',
  Unpack: 'fails when the kernel has a single output (unstack of a size-1 axis)',
  MirrorPad: 'slices the padded gradient instead of folding the mirrored copies back',
  Tile: 'supports rank <= 4 only (broadcastTo runs Tile)',
  BatchMatMul: 'does not sum over broadcast batch dimensions',
  SquaredDifference: 'does not sum over broadcast axes',
  Maximum: 'does not sum over broadcast axes',
  Minimum: 'does not sum over broadcast axes',
};

const preferred = gradientConfigs.filter((c) => c.kernelName in REPLACES_STOCK);
let registeredOnce = false;

/**
 * Registers the library's gradient for every kernel that has none, and for
 * the kernels of {@link REPLACES_STOCK} whatever is registered; returns the
 * kernel names it (re)registered. Any other existing registration (a user's,
 * or the stock ones of `@tensorflow/tfjs`) is kept.
 */
export function registerGradients(): string[] {
  const changed: string[] = [];
  for (const config of gradientConfigs) {
    const current = tf.getGradient(config.kernelName);
    if (current === config) continue;
    if (current === undefined || config.kernelName in REPLACES_STOCK) {
      tf.registerGradient(config);
      changed.push(config.kernelName);
    }
  }
  return changed;
}

/**
 * Makes every kernel the library uses differentiable on every backend:
 * registers (with `tf.registerGradient`) a gradient for each such kernel that
 * has none, keeping existing registrations except for ten stock tfjs gradients
 * that fail in cases the library meets (the gather gradient on WASM, and
 * broadcasting, tiling and scan cases; listed with reasons in
 * `src/ops/gradients.ts`). Call it before the forward
 * pass you will differentiate; the library calls it in every module
 * constructor and loss. Idempotent and cheap after the first call (it then
 * only re-asserts those few kernels, in case tfjs was imported later).
 */
export function ensureGradients(): void {
  if (!registeredOnce) {
    registerGradients();
    registeredOnce = true;
    return;
  }
  for (const config of preferred) {
    if (tf.getGradient(config.kernelName) !== config) tf.registerGradient(config);
  }
}
