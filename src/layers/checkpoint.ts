import * as tf from '@tensorflow/tfjs-core';
import type { Block, BlockForwardOptions, BlockOutput } from './block.js';
import { Module } from './module.js';
import { checkTensorArg, describeValue } from '../utils/config.js';

/**
 * Activation checkpointing (Chen et al., "Training Deep Nets with Sublinear
 * Memory Cost", 2016; PyTorch's `torch.utils.checkpoint`): `fn(x, ...extra)`
 * is computed without recording its intermediates for the backward pass;
 * the backward pass runs `fn` again on the saved inputs and differentiates
 * that recomputation. Only the inputs of each checkpointed part stay alive
 * between forward and backward, at the price of a second forward of the part
 * (about a third more work per training step).
 *
 * Gradients flow to `x`, to every `extra` tensor and to the trainable
 * variables of `module` (which `fn` must read itself, as a Module's forward
 * does); they equal the non-checkpointed ones. `fn` must be deterministic:
 * a random part (drop path, dropout) would draw differently when recomputed.
 *
 * @param module the part whose trainable variables `fn` reads.
 * @param fn the part's forward, returning one tensor.
 * @param x the part's input.
 * @param extra further tensor inputs that need gradients (a shared relative
 *   position bias).
 */
export function checkpoint(
  module: Module,
  fn: (x: tf.Tensor, ...extra: tf.Tensor[]) => tf.Tensor,
  x: tf.Tensor,
  ...extra: tf.Tensor[]
): tf.Tensor {
  if (!(module instanceof Module)) throw new Error(`checkpoint: module must be a Module, got ${describeValue(module)}`);
  if (typeof fn !== 'function') throw new Error(`checkpoint: fn must be a function, got ${describeValue(fn)}`);
  checkTensorArg('checkpoint', 'x', x);
  extra.forEach((e, i) => checkTensorArg('checkpoint', `extra[${i}]`, e));
  const vars = module.trainableVariables();
  const nIn = 1 + extra.length;
  const f = tf.customGrad(((...args: unknown[]) => {
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const inputs = args.slice(0, nIn) as tf.Tensor[];
    save(inputs);
    return {
      value: fn(inputs[0]!, ...inputs.slice(1)),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const xs = [...saved, ...vars];
        // A gradient computed inside a backward pass: tfjs's engine starts a
        // fresh tape for it and clears the tape when done, which is the
        // outer pass's tape (still to be cleaned up by the outer pass).
        const state = tf.engine().state as unknown as { activeTape: unknown };
        const outerTape = state.activeTape;
        try {
          const { value, grads } = tf.engine().gradients(() => fn(saved[0]!, ...saved.slice(1)), xs, dy, true);
          value.dispose();
          return grads.map((g, i) => g ?? tf.zerosLike(xs[i]!));
        } finally {
          state.activeTape = outerTape;
        }
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return (f as unknown as (...t: tf.Tensor[]) => tf.Tensor)(x, ...extra, ...vars);
}

/**
 * Activation checkpointing of a transformer stack: `true` (always), `false`
 * (never) or `'auto'`: on exactly when the stack's estimated training
 * memory ({@link stackActivationBytes}) exceeds {@link AUTO_CHECKPOINT_BYTES}
 * and no block has drop path in a training call (a recomputation would draw
 * another path, so `'auto'` then stays off instead of throwing).
 */
export type Checkpointing = boolean | 'auto';

/** The budget of `checkpointing: 'auto'` for one stack: 1 GiB. */
export const AUTO_CHECKPOINT_BYTES = 2 ** 30;

/**
 * Bytes a training step holds per token, per channel and per block of a
 * stack without checkpointing: 280, measured on tfjs-wasm 4.22 (the heap of
 * an MAE tiny-32 step at batch 64 over the encoder's and decoder's tokens,
 * mask ratios 0.75 and 0, with the tape released early by `trainStep`).
 */
export const ACTIVATION_BYTES_PER_ELEMENT = 280;

/** Estimated training memory of `depth` blocks of width `dim` over `[batch, tokens]`. */
export function stackActivationBytes(batch: number, tokens: number, dim: number, depth: number): number {
  for (const [name, v] of [['batch', batch], ['tokens', tokens], ['dim', dim], ['depth', depth]] as const) {
    if (!Number.isInteger(v) || v < 0) throw new Error(`stackActivationBytes: ${name} must be an integer >= 0, got ${describeValue(v)}`);
  }
  return batch * tokens * dim * depth * ACTIVATION_BYTES_PER_ELEMENT;
}

/**
 * Whether a stack of `blocks` (`Block`s, `MultiwayBlock`s: anything with a
 * `config.dropPath`) checkpoints a forward of `x` `[B, T, D]` under
 * `setting` (see {@link Checkpointing}).
 */
export function resolveCheckpointing(
  setting: Checkpointing,
  blocks: readonly { readonly config: { readonly dropPath: number } }[],
  x: tf.Tensor,
  training?: boolean,
): boolean {
  if (setting !== true && setting !== false && setting !== 'auto') {
    throw new Error(`resolveCheckpointing: setting must be true, false or 'auto', got ${describeValue(setting)}`);
  }
  if (!Array.isArray(blocks)) throw new Error(`resolveCheckpointing: blocks must be an array of Blocks, got ${describeValue(blocks)}`);
  checkTensorArg('resolveCheckpointing', 'x', x);
  if (setting !== 'auto') return setting;
  if (blocks.length === 0 || x.rank !== 3) return false;
  if (training && blocks.some((b) => b.config.dropPath > 0)) return false;
  const [b, t, d] = x.shape as [number, number, number];
  return stackActivationBytes(b, t, d, blocks.length) > AUTO_CHECKPOINT_BYTES;
}

/**
 * Throws when a checkpointed `layer` (anything with a `name` and a
 * `config.dropPath`) would run with drop path in training mode: the
 * recomputation would draw another path, so the gradients would be wrong.
 * `who` starts the message.
 */
export function refuseDropPath(layer: { readonly name: string; readonly config: { readonly dropPath: number } }, training: boolean | undefined, who: string): void {
  if (training && layer.config.dropPath > 0) {
    throw new Error(
      `${who}: block '${layer.name}' has drop path ${layer.config.dropPath} in training mode; a recomputed block would ` +
        'draw another path. Turn checkpointing off or set the drop path rate to 0',
    );
  }
}

/**
 * One transformer block's forward as a stack runs it, checkpointed
 * ({@link layers.checkpoint | checkpoint}) when `checkpointing` is set and the call allows it:
 * not when attention maps are asked for (they are forward-only), and not in
 * training mode with drop path (a recomputation would draw another path),
 * which throws instead of silently giving other gradients.
 */
export function runBlock(
  blk: Block,
  x: tf.Tensor,
  options: BlockForwardOptions,
  checkpointing: boolean,
): BlockOutput {
  if (!checkpointing || options.returnAttention) return blk.forward(x, options);
  refuseDropPath(blk, options.training, 'checkpointing');
  // The relative position bias and the attention mask go through as inputs
  // of the checkpointed function, so the recomputation sees the same tensors.
  const names = (['relPosBias', 'attnMask'] as const).filter((k) => options[k] !== undefined);
  const fwd = (t: tf.Tensor, ...e: tf.Tensor[]): tf.Tensor =>
    blk.forward(t, { training: options.training, ...Object.fromEntries(names.map((k, i) => [k, e[i]])) }).out;
  const out = checkpoint(blk, fwd, x, ...names.map((k) => options[k]!));
  return { out: out as tf.Tensor3D };
}
