import * as tf from '@tensorflow/tfjs-core';
import { releaseTapeEarly } from './release_tape.js';
import { ensureGradients } from '../ops/gradients.js';
import { shareWasmIdentity } from '../ops/wasm_identity.js';
import { Module } from '../layers/module.js';
import type { GradientOptimizer } from './adamw.js';
import { clipGradNorm, clipGradNormTensor, globalGradNorm, normTensor } from './clip_grad.js';
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
 */
export function trainStep(
  lossFn: () => tf.Scalar,
  variables: NamedVariables | tf.Variable[],
  optimizer: GradientOptimizer,
  options: TrainStepOptions = {},
): TrainStepResult {
  const vars = checkStep('trainStep', lossFn, variables, optimizer, options);
  const { clipNorm, lr } = options;
  const checkFinite = options.checkFinite === true;

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
    if (checkFinite) {
      const flags = finiteFlags(grads);
      try {
        checkAllFinite('trainStep', loss, grads, flags.dataSync());
      } finally {
        flags.dispose();
      }
    }
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
  const vars = checkStep('trainStepAsync', lossFn, variables, optimizer, options);
  const { clipNorm, lr } = options;
  const { value, grads } = variableGradsOrRelease(lossFn, vars);
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
    if (options.checkFinite === true) {
      // The update must wait for this one read: a non-finite step is refused before it.
      const flags = finiteFlags(grads);
      try {
        checkAllFinite('trainStepAsync', (await value.data())[0]!, grads, await flags.data());
      } finally {
        flags.dispose();
      }
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
  lossFn: unknown,
  variables: NamedVariables | tf.Variable[],
  optimizer: GradientOptimizer,
  options: TrainStepOptions,
): tf.Variable[] {
  ensureGradients();
  if (typeof lossFn !== 'function') throw new Error(`${fn}: lossFn must be a function returning a scalar, got ${describeValue(lossFn)}`);
  if (options === null || typeof options !== 'object') throw new Error(`${fn}: options must be an object, got ${describeValue(options)}`);
  const { clipNorm, lr } = options;
  optionalBool(fn, 'checkFinite', options.checkFinite, false);
  optionalBool(fn, 'returnGradNorm', options.returnGradNorm, false);
  if (optimizer === null || typeof optimizer !== 'object' || typeof optimizer.step !== 'function' || typeof optimizer.variables !== 'function') {
    throw new Error(`${fn}: optimizer must be a GradientOptimizer (e.g. AdamW), got ${describeValue(optimizer)}`);
  }
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
  if (variables instanceof Module && variables.isDisposed) throw new Error(`${fn}: ${variables.constructor.name} '${variables.name}' was disposed`);
  if (vars.length === 0) throw new Error(`${fn}: variables must hold at least one trainable variable, got 0`);
  const known = new Set(optimizer.variables().map((v) => v.name));
  for (const v of vars) {
    if (!known.has(v.name)) {
      throw new Error(`${fn}: variable '${v.name}' is not one of the optimiser's parameters`);
    }
  }
  return vars;
}

/**
 * `tf.variableGrads`, but if `lossFn` throws (a bug, or a library check
 * refusing its input halfway through a forward pass), the tensors that the
 * gradient tape saved for the backward pass are released. tfjs keeps them
 * outside every `tidy` scope until a backward pass consumes them, so
 * without this each failed step would leak the whole forward pass.
 */
function variableGradsOrRelease(lossFn: () => tf.Scalar, vars: tf.Variable[]): { value: tf.Scalar; grads: tf.NamedTensorMap } {
  // WASM: tensors saved for the backward pass share memory instead of being copied.
  shareWasmIdentity();
  try {
    return tf.variableGrads(() => {
      const loss = lossFn();
      releaseTapeEarly();
      return loss;
    }, vars);
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

/** One 0/1 flag per gradient (in `Object.keys` order): all of its values finite. */
function finiteFlags(grads: tf.NamedTensorMap): tf.Tensor1D {
  return tf.tidy(() => tf.concat(Object.keys(grads).map((n) => tf.reshape(tf.all(tf.isFinite(grads[n]!)), [1]))) as tf.Tensor1D);
}

/** Throws if the loss or any gradient (by its flag from {@link finiteFlags}) is NaN or +-Infinity. */
function checkAllFinite(fn: string, loss: number, grads: tf.NamedTensorMap, ok: ArrayLike<number>): void {
  if (!Number.isFinite(loss)) {
    throw new Error(`${fn}: the loss is ${loss} (checkFinite); no update was made, weights and optimiser state are unchanged`);
  }
  const names = Object.keys(grads);
  const bad = names.filter((_, i) => !ok[i]);
  if (bad.length > 0) {
    throw new Error(
      `${fn}: non-finite gradient for ${bad.length} variable(s), first '${bad[0]}' (checkFinite; loss ${loss}); ` +
        'no update was made, weights and optimiser state are unchanged',
    );
  }
}
