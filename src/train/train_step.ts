import * as tf from '@tensorflow/tfjs-core';
import { ensureGradients } from '../ops/gradients.js';
import { Module } from '../layers/module.js';
import type { GradientOptimizer } from './adamw.js';
import { clipGradNorm, globalGradNorm } from './clip_grad.js';
import { namedTrainableVariables, type NamedVariables } from './param_groups.js';
import { describeValue, optionalBool } from '../utils/config.js';

/** Options of {@link trainStep}. */
export interface TrainStepOptions {
  /**
   * Clip gradients to this global L2 norm before the update
   * ({@link clipGradNorm}). Default: no clipping (MAE pretraining; MAE
   * fine-tuning and BEiT use 3.0 or none, DINO 3.0).
   */
  clipNorm?: number;
  /** Learning rate for this step and after (passed to the optimiser). Default: unchanged. */
  lr?: number;
  /** Also compute the global gradient norm when not clipping. Default false. */
  returnGradNorm?: boolean;
  /**
   * Refuse a non-finite loss or gradient: throw (naming the loss or the
   * first non-finite gradient) BEFORE the optimiser's update, so the
   * weights and the optimiser's state stay as they were. Costs one extra
   * reduction over the gradients and one data read per step. Default
   * `false` (one NaN input pixel then silently turns the weights into NaN).
   */
  checkFinite?: boolean;
}

/** Result of {@link trainStep}. */
export type TrainStepResult = {
  /** The loss before the update. */
  loss: number;
  /** Global L2 norm of the gradients before clipping; `null` unless clipped or asked for. */
  gradNorm: number | null;
}

/**
 * One optimisation step: the gradients of `lossFn` with respect to
 * `variables` (`tf.variableGrads`), optional clipping by global norm, the
 * optimiser's update; every intermediate tensor is disposed, so the tensor
 * count stays flat across steps once the optimiser's state exists.
 *
 * @param lossFn builds the scalar loss from the current variables.
 * @param variables what to differentiate: a Module (its trainable weights),
 *   a name map, or a list; each must belong to `optimizer`.
 * @param optimizer e.g. {@link AdamW}.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { AdamW, Linear, cosineSchedule, trainStep } from 'mimkit';
 *
 * const head = new Linear({ inFeatures: 4, outFeatures: 1, seed: 0 });
 * const opt = new AdamW(head, { lr: 1e-2 });
 * const lr = cosineSchedule({ baseLr: 1e-2, warmupSteps: 5, totalSteps: 100 });
 * const x = tf.randomNormal([16, 4]);
 * const y = tf.randomNormal([16, 1]);
 * for (let step = 0; step < 100; step++) {
 *   const { loss } = trainStep(() => tf.losses.meanSquaredError(y, head.forward(x)) as tf.Scalar, head, opt, { lr: lr(step + 1), clipNorm: 1 });
 *   if (step % 10 === 0) console.log(step, loss);
 * }
 * ```
 */
export function trainStep(
  lossFn: () => tf.Scalar,
  variables: NamedVariables | tf.Variable[],
  optimizer: GradientOptimizer,
  options: TrainStepOptions = {},
): TrainStepResult {
  ensureGradients();
  if (typeof lossFn !== 'function') throw new Error(`trainStep: lossFn must be a function returning a scalar, got ${describeValue(lossFn)}`);
  if (options === null || typeof options !== 'object') throw new Error(`trainStep: options must be an object, got ${describeValue(options)}`);
  const { clipNorm, lr } = options;
  const checkFinite = optionalBool('trainStep', 'checkFinite', options.checkFinite, false);
  optionalBool('trainStep', 'returnGradNorm', options.returnGradNorm, false);
  if (optimizer === null || typeof optimizer !== 'object' || typeof optimizer.step !== 'function' || typeof optimizer.variables !== 'function') {
    throw new Error(`trainStep: optimizer must be a GradientOptimizer (e.g. AdamW), got ${describeValue(optimizer)}`);
  }
  if (clipNorm !== undefined && (!Number.isFinite(clipNorm) || clipNorm <= 0)) {
    throw new Error(`trainStep: clipNorm must be a finite number > 0, got ${clipNorm}`);
  }
  if (lr !== undefined && (!Number.isFinite(lr) || lr < 0)) {
    throw new Error(`trainStep: lr must be a finite number >= 0, got ${lr}`);
  }
  let vars: tf.Variable[];
  if (Array.isArray(variables)) vars = variables;
  else if (variables instanceof Module || variables instanceof Map) vars = [...namedTrainableVariables(variables).values()];
  else throw new Error('trainStep: variables must be a Module, a Map<string, Variable> or a tf.Variable[]');
  if (variables instanceof Module && variables.isDisposed) throw new Error(`trainStep: ${variables.constructor.name} '${variables.name}' was disposed`);
  if (vars.length === 0) throw new Error('trainStep: variables must hold at least one trainable variable, got 0');
  const known = new Set(optimizer.variables().map((v) => v.name));
  for (const v of vars) {
    if (!known.has(v.name)) {
      throw new Error(`trainStep: variable '${v.name}' is not one of the optimiser's parameters`);
    }
  }

  const { value, grads } = variableGradsOrRelease(lossFn, vars);
  let clipped: tf.NamedTensorMap | null = null;
  try {
    let gradNorm: number | null = null;
    let toApply = grads;
    if (clipNorm !== undefined) {
      const c = clipGradNorm(grads, clipNorm);
      clipped = c.grads;
      gradNorm = c.totalNorm;
      toApply = c.grads;
    } else if (options.returnGradNorm === true) {
      gradNorm = globalGradNorm(grads);
    }
    const loss = value.dataSync()[0]!;
    if (checkFinite) checkAllFinite(loss, grads);
    optimizer.step(toApply, lr);
    return { loss, gradNorm };
  } finally {
    value.dispose();
    tf.dispose(grads);
    if (clipped !== null) tf.dispose(clipped);
  }
}

/**
 * `tf.variableGrads`, but if `lossFn` throws (a bug, or a library check
 * refusing its input halfway through a forward pass), the tensors that the
 * gradient tape saved for the backward pass are released. tfjs keeps them
 * outside every `tidy` scope until a backward pass consumes them, so
 * without this each failed step would leak the whole forward pass.
 */
function variableGradsOrRelease(lossFn: () => tf.Scalar, vars: tf.Variable[]): { value: tf.Scalar; grads: tf.NamedTensorMap } {
  try {
    return tf.variableGrads(lossFn, vars);
  } catch (e) {
    const state = (tf.engine() as unknown as { state: EngineTapeState }).state;
    if (state.gradientDepth === 0 && state.activeTape) {
      for (const node of state.activeTape) for (const t of node.saved ?? []) t.dispose();
      state.activeTape = null;
    }
    throw e;
  }
}

/** The part of tfjs-core's engine state that {@link variableGradsOrRelease} cleans. */
interface EngineTapeState {
  gradientDepth: number;
  activeTape: { saved?: tf.Tensor[] }[] | null;
}

/** Throws if the loss or any gradient holds NaN or +-Infinity (one data read). */
function checkAllFinite(loss: number, grads: tf.NamedTensorMap): void {
  if (!Number.isFinite(loss)) {
    throw new Error(`trainStep: the loss is ${loss} (checkFinite); no update was made, weights and optimiser state are unchanged`);
  }
  const names = Object.keys(grads);
  const flags = tf.tidy(() => {
    const perGrad = names.map((n) => tf.reshape(tf.all(tf.isFinite(grads[n]!)), [1]));
    return tf.concat(perGrad);
  });
  const ok = flags.dataSync();
  flags.dispose();
  const bad = names.filter((_, i) => !ok[i]);
  if (bad.length > 0) {
    throw new Error(
      `trainStep: non-finite gradient for ${bad.length} variable(s), first '${bad[0]}' (checkFinite; loss ${loss}); ` +
        'no update was made, weights and optimiser state are unchanged',
    );
  }
}
