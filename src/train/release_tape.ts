import * as tf from '@tensorflow/tfjs-core';

/**
 * Memory of a training step: tfjs-core (4.x) keeps every tensor its gradient
 * tape saved for the backward pass, and every intermediate gradient, until
 * the whole backward pass is over. A ViT step then holds the whole forward
 * pass plus all of its gradients at once (on WASM, an MAE tiny-32 step at
 * batch 64 grew the heap past 2 GB, and the encoder seeing every patch
 * aborted at the 4 GB heap).
 *
 * `releaseTapeEarly()`, called at the end of a loss function that runs under
 * `tf.variableGrads` / `tf.grads` (the library's `trainStep` does it), wraps
 * the gradient of every node recorded so far: when the backward pass moves
 * on from a node, the tensors that node saved and the gradients of its
 * outputs (no longer needed: tfjs visits nodes in reverse order of
 * recording, once each) are disposed at once instead of at the end. A
 * gradient that was handed back as another tensor's gradient (a gradient
 * function may pass `dy` through) is counted and kept while referenced.
 * Gradients are unchanged; only their lifetimes are shorter.
 *
 * It relies on tfjs-core's engine internals (`state.activeTape`, each tape
 * node's `gradient` and `saved`), as 4.x has them, and does nothing when
 * they are not there or when called inside a higher-order gradient.
 */
export function releaseTapeEarly(): void {
  const state = (tf.engine() as unknown as { state: Partial<EngineState> }).state;
  if (state.gradientDepth !== 1 || !Array.isArray(state.activeTape)) return;
  /** How many gradient slots of the engine hold each gradient tensor (a lower bound is never used). */
  const refs = new Map<tf.Tensor, number>();
  let pending: { dys: tf.Tensor[]; saved: tf.Tensor[] } | null = null;
  const flush = (): void => {
    if (pending === null) return;
    const { dys, saved } = pending;
    pending = null;
    for (const dy of dys) {
      const n = (refs.get(dy) ?? 1) - 1;
      if (n > 0) refs.set(dy, n);
      else {
        refs.delete(dy);
        dy.dispose();
      }
    }
    for (const t of saved) if (!refs.has(t)) t.dispose();
  };
  for (const node of state.activeTape) {
    const original = node.gradient;
    if (typeof original !== 'function' || node.releaseWrapped) continue;
    node.releaseWrapped = true;
    node.gradient = (dys: (tf.Tensor | null)[]) => {
      // The previous node's closures have all run by now: release its tensors.
      flush();
      const live = dys.filter((d): d is tf.Tensor => d instanceof tf.Tensor);
      // Each dy is held by (at least) its own output's slot.
      for (const dy of live) refs.set(dy, Math.max(refs.get(dy) ?? 0, 1));
      const closures = original(dys);
      pending = { dys: live, saved: node.saved ?? [] };
      const counted: Record<string, () => tf.Tensor> = {};
      for (const name of Object.keys(closures)) {
        counted[name] = () => {
          const g = closures[name]!();
          refs.set(g, (refs.get(g) ?? 0) + 1);
          return g;
        };
      }
      return counted;
    };
  }
}

/** The part of tfjs-core's engine state that {@link releaseTapeEarly} reads. */
interface EngineState {
  gradientDepth: number;
  activeTape: TapeNode[] | null;
}

interface TapeNode {
  saved?: tf.Tensor[];
  gradient?: (dys: (tf.Tensor | null)[]) => Record<string, () => tf.Tensor>;
  releaseWrapped?: boolean;
}
