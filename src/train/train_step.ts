import * as tf from '@tensorflow/tfjs-core';
import { ensureGradients } from '../ops/gradients.js';
import { Module } from '../layers/module.js';
import type { GradientOptimizer } from './adamw.js';
import { clipGradNorm, clipGradNormTensor, globalGradNorm, normTensor } from './clip_grad.js';
import { namedTrainableVariables, type NamedVariables } from './param_groups.js';

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
}

/** Result of {@link trainStep}. */
export interface TrainStepResult {
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
 */
export function trainStep(
  lossFn: () => tf.Scalar,
  variables: NamedVariables | tf.Variable[],
  optimizer: GradientOptimizer,
  options: TrainStepOptions = {},
): TrainStepResult {
  const vars = checkStep('trainStep', variables, optimizer, options);
  const { clipNorm, lr } = options;
  const { value, grads } = tf.variableGrads(lossFn, vars);
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
    optimizer.step(toApply, lr);
    return { loss, gradNorm };
  } finally {
    value.dispose();
    tf.dispose(grads);
    if (clipped !== null) tf.dispose(clipped);
  }
}

/**
 * {@link trainStep} for WebGL and WebGPU in a browser: the same update, but
 * the loss and the gradient norm are read back with `data()` (never
 * `dataSync()`), after the clipping and the optimiser's update have been
 * queued, so the main thread never blocks on the GPU and the backend works
 * while the numbers travel back. A synchronous read on WebGPU can fail
 * (`mapAsync ... A valid external Instance reference no longer exists`) and
 * lose the device; on WebGL it stalls the page. Under Node (cpu, wasm) both
 * forms give the same result; {@link trainStep} stays the simpler one there.
 *
 * Do not start the next step before the promise settles: the optimiser's
 * state is shared.
 */
export async function trainStepAsync(
  lossFn: () => tf.Scalar,
  variables: NamedVariables | tf.Variable[],
  optimizer: GradientOptimizer,
  options: TrainStepOptions = {},
): Promise<TrainStepResult> {
  const vars = checkStep('trainStepAsync', variables, optimizer, options);
  const { clipNorm, lr } = options;
  const { value, grads } = tf.variableGrads(lossFn, vars);
  let clipped: tf.NamedTensorMap | null = null;
  let norm: tf.Scalar | null = null;
  try {
    let toApply = grads;
    if (clipNorm !== undefined) {
      const c = clipGradNormTensor('trainStepAsync', grads, clipNorm);
      clipped = c.grads;
      norm = c.totalNorm;
      toApply = c.grads;
    } else if (options.returnGradNorm === true) {
      norm = normTensor(Object.values(grads));
    }
    optimizer.step(toApply, lr);
    const [lossData, normData] = await Promise.all([value.data(), norm === null ? null : norm.data()]);
    return { loss: lossData[0]!, gradNorm: normData === null ? null : normData[0]! };
  } finally {
    value.dispose();
    tf.dispose(grads);
    if (clipped !== null) tf.dispose(clipped);
    if (norm !== null) norm.dispose();
  }
}

/** Validates a step's arguments before any tensor work; returns the variables to differentiate. */
function checkStep(
  fn: string,
  variables: NamedVariables | tf.Variable[],
  optimizer: GradientOptimizer,
  options: TrainStepOptions,
): tf.Variable[] {
  ensureGradients();
  const { clipNorm, lr } = options;
  if (clipNorm !== undefined && (!Number.isFinite(clipNorm) || clipNorm <= 0)) {
    throw new Error(`${fn}: clipNorm must be a finite number > 0, got ${clipNorm}`);
  }
  if (lr !== undefined && (!Number.isFinite(lr) || lr < 0)) {
    throw new Error(`${fn}: lr must be a finite number >= 0, got ${lr}`);
  }
  let vars: tf.Variable[];
  if (Array.isArray(variables)) vars = variables;
  else if (variables instanceof Module || variables instanceof Map) vars = [...namedTrainableVariables(variables).values()];
  else throw new Error(`${fn}: variables must be a Module, a Map<string, Variable> or a tf.Variable[]`);
  if (vars.length === 0) throw new Error(`${fn}: variables must hold at least one trainable variable, got 0`);
  const known = new Set(optimizer.variables().map((v) => v.name));
  for (const v of vars) {
    if (!known.has(v.name)) {
      throw new Error(`${fn}: variable '${v.name}' is not one of the optimiser's parameters`);
    }
  }
  return vars;
}
