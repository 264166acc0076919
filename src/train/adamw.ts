import * as tf from '@tensorflow/tfjs-core';
import { halfPrecisionBackend } from '../utils/precision.js';
import {
  namedTrainableVariables,
  paramGroupsWeightDecay,
  type NamedVariables,
  type ParamGroup,
} from './param_groups.js';

/**
 * What {@link trainStep} needs of an optimiser: apply one set of gradients,
 * keyed by the `tf.Variable` name (as `tf.variableGrads` returns them).
 */
export interface GradientOptimizer {
  /** The variables the optimiser updates. */
  variables(): tf.Variable[];
  /** Applies one update; `lr` replaces the learning rate from this step on. */
  step(grads: tf.NamedTensorMap, lr?: number): void;
}

/** Config of {@link AdamW}. */
export interface AdamWConfig {
  /**
   * Learning rate. Default 1e-3 (PyTorch's). Recipes set it every step from a
   * schedule ({@link AdamW.setLearningRate} or the `lr` argument of
   * {@link AdamW.step}); MAE uses `blr * batch / 256` with `blr = 1.5e-4`.
   */
  lr?: number;
  /**
   * Coefficients of the running averages of the gradient and its square.
   * Default `[0.9, 0.999]` (PyTorch's, and BEiT's pretraining); MAE pretrains
   * with `[0.9, 0.95]`, which tracks the second moment faster and is more
   * stable at large batch sizes.
   */
  betas?: [number, number];
  /** Added to the denominator for numerical stability. Default 1e-8 (PyTorch's). */
  eps?: number;
  /**
   * The smallest `eps` used when the backend stores floats in 16 bits
   * ({@link halfPrecisionBackend}: tfjs's WebGL backend on devices without
   * float32 render targets, or with `WEBGL_FORCE_F16_TEXTURES`).
   * There `1e-8` is below float16's smallest subnormal (6e-8), the second
   * moment of small gradients underflows to 0 too, and `m / (0 + 0)` turns
   * every weight into NaN after one update; an eps of 1e-4 (a little above
   * float16's smallest normal, 6.1e-5) keeps the step bounded by
   * `lr * |m| / 1e-4`. Checked at every step, so the same optimiser is exact
   * PyTorch AdamW on 32-bit backends. Default 1e-4.
   */
  halfPrecisionEps?: number;
  /**
   * Decoupled weight decay of groups that do not set their own. Default 0.05
   * (MAE pretraining; PyTorch's own default is 0.01).
   */
  weightDecay?: number;
}

/** Optimiser state of one parameter (PyTorch's `state[p]`). */
export interface AdamWParamState {
  /** Number of updates this parameter received. */
  step: number;
  /** First moment (`exp_avg`), same shape as the parameter. */
  expAvg: tf.Tensor;
  /** Second moment (`exp_avg_sq`), same shape as the parameter. */
  expAvgSq: tf.Tensor;
}

/**
 * The exported state of an {@link AdamW}: per parameter (by dotted name) its
 * step count and moments. The tensors belong to whoever holds the state.
 */
export interface AdamWState {
  /** Learning rate at export time. */
  lr: number;
  /** State of every parameter that has been updated at least once. */
  params: Map<string, AdamWParamState>;
}

interface Slot {
  name: string;
  variable: tf.Variable;
  group: ResolvedGroup;
  step: number;
  expAvg: tf.Variable | null;
  expAvgSq: tf.Variable | null;
}

/** A parameter group as the optimiser holds it (weight decay and scale resolved). */
export interface ResolvedGroup {
  /** Label of the group. */
  readonly name: string;
  /** The group's parameters by dotted name. */
  readonly params: ReadonlyMap<string, tf.Variable>;
  /** Decoupled weight decay; mutable (DINO schedules it every step). */
  weightDecay: number;
  /** Factor on the learning rate; mutable. */
  lrScale: number;
}

export { halfPrecisionBackend } from '../utils/precision.js';

function checkLr(fn: string, lr: number): void {
  if (!Number.isFinite(lr) || lr < 0) {
    throw new Error(`${fn}: lr must be a finite number >= 0, got ${lr}`);
  }
}

function checkWd(fn: string, wd: number): void {
  if (!Number.isFinite(wd) || wd < 0) {
    throw new Error(`${fn}: weightDecay must be a finite number >= 0, got ${wd}`);
  }
}

/**
 * AdamW (Loshchilov & Hutter, "Decoupled Weight Decay Regularization", ICLR
 * 2019), with the exact update of PyTorch's `torch.optim.AdamW` (no amsgrad):
 * for each parameter `p` with gradient `g`, at its step `t`,
 *
 * ```
 * p  = p * (1 - lr * wd)                    // decoupled decay, before Adam
 * m  = m + (1 - beta1) * (g - m)
 * v  = beta2 * v + (1 - beta2) * g * g
 * p  = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
 * ```
 *
 * where `lr = lr * group.lrScale` and `wd = group.weightDecay`. Parameters
 * come in groups ({@link ParamGroup}); given a Module or a name map, the
 * optimiser builds two groups by the no-decay rule of
 * {@link paramGroupsWeightDecay} (weights with two or more dimensions decay;
 * biases, norms, position tables, class and mask tokens do not). Pass explicit
 * groups (one group with all parameters) to decay everything as a bare
 * `torch.optim.AdamW(model.parameters())` would.
 *
 * Moment buffers are `tf.Variable`s created at a parameter's first update and
 * freed by {@link AdamW.dispose}. Parameters without a gradient in a step are
 * left alone and their step count does not advance (PyTorch's `grad is None`).
 *
 * @example
 * ```ts
 * import { AdamW, MAE, maeMicro, paramGroupsWeightDecay } from 'mimkit';
 *
 * const model = new MAE({ ...maeMicro, seed: 0 });
 * // Matrices decay; biases, norms, tokens and position tables do not.
 * const opt = new AdamW(paramGroupsWeightDecay(model, { weightDecay: 0.05 }), { lr: 1.5e-4, betas: [0.9, 0.95] });
 * ```
 */
export class AdamW implements GradientOptimizer {
  /** The parameter groups, in order. */
  readonly groups: readonly ResolvedGroup[];
  private readonly beta1: number;
  private readonly beta2: number;
  private readonly eps: number;
  private readonly halfPrecisionEps: number;
  private learningRate: number;
  private readonly byName = new Map<string, Slot>();
  private readonly byVariable = new Map<string, Slot>();

  /**
   * @param params a Module or name map (split by the no-decay rule), or
   *   explicit parameter groups.
   * @param config hyperparameters; see {@link AdamWConfig}.
   */
  constructor(params: NamedVariables | ParamGroup[], config: AdamWConfig = {}) {
    if (params === null || typeof params !== 'object') {
      throw new Error(`AdamW: params must be a Module, a Map of tf.Variables or an array of parameter groups, got ${params === null ? 'null' : typeof params}`);
    }
    if (config === null || typeof config !== 'object') throw new Error(`AdamW: config must be an object (or omitted), got ${String(config)}`);
    const lr = config.lr ?? 1e-3;
    checkLr('AdamW', lr);
    const betas = config.betas ?? [0.9, 0.999];
    if (!Array.isArray(betas) || betas.length !== 2) {
      throw new Error(`AdamW: betas must be a pair [beta1, beta2], got ${JSON.stringify(betas)}`);
    }
    betas.forEach((b, i) => {
      if (!Number.isFinite(b) || b < 0 || b >= 1) {
        throw new Error(`AdamW: betas[${i}] must be in [0, 1), got ${b}`);
      }
    });
    const eps = config.eps ?? 1e-8;
    if (!Number.isFinite(eps) || eps < 0) {
      throw new Error(`AdamW: eps must be a finite number >= 0, got ${eps}`);
    }
    const halfPrecisionEps = config.halfPrecisionEps ?? 1e-4;
    if (!Number.isFinite(halfPrecisionEps) || halfPrecisionEps < 0) {
      throw new Error(`AdamW: halfPrecisionEps must be a finite number >= 0, got ${halfPrecisionEps}`);
    }
    const weightDecay = config.weightDecay ?? 0.05;
    checkWd('AdamW', weightDecay);
    this.learningRate = lr;
    this.halfPrecisionEps = halfPrecisionEps;
    this.beta1 = betas[0];
    this.beta2 = betas[1];
    this.eps = eps;

    const raw: ParamGroup[] = Array.isArray(params)
      ? params
      : paramGroupsWeightDecay(params, { weightDecay });
    const groups: ResolvedGroup[] = [];
    raw.forEach((g, gi) => {
      const label = g.name ?? `group_${gi}`;
      if (!(g.params instanceof Map)) {
        throw new Error(`AdamW: groups[${gi}] (${label}).params must be a Map<string, tf.Variable>`);
      }
      const gwd = g.weightDecay ?? weightDecay;
      checkWd(`AdamW: groups[${gi}] (${label})`, gwd);
      const scale = g.lrScale ?? 1;
      if (!Number.isFinite(scale) || scale < 0) {
        throw new Error(`AdamW: groups[${gi}] (${label}).lrScale must be a finite number >= 0, got ${scale}`);
      }
      // Normalise entries (a group may hold LayerVariables via a name map).
      const vars = namedTrainableVariables(g.params);
      const group: ResolvedGroup = { name: label, params: vars, weightDecay: gwd, lrScale: scale };
      for (const [name, variable] of vars) {
        if (this.byName.has(name)) {
          throw new Error(`AdamW: parameter '${name}' appears in more than one group`);
        }
        if (this.byVariable.has(variable.name)) {
          throw new Error(`AdamW: variable '${variable.name}' (parameter '${name}') appears twice`);
        }
        if (variable.dtype !== 'float32') {
          throw new Error(`AdamW: parameter '${name}' must be float32, got ${variable.dtype}`);
        }
        const slot: Slot = { name, variable, group, step: 0, expAvg: null, expAvgSq: null };
        this.byName.set(name, slot);
        this.byVariable.set(variable.name, slot);
      }
      groups.push(group);
    });
    this.groups = groups;
  }

  /** The current base learning rate (before each group's `lrScale`). */
  get lr(): number {
    return this.learningRate;
  }

  /** Sets the base learning rate for the following steps. */
  setLearningRate(lr: number): void {
    checkLr('AdamW.setLearningRate', lr);
    this.learningRate = lr;
  }

  /**
   * Sets the weight decay of every group that decays (weight decay > 0),
   * leaving no-decay groups at zero: DINO schedules the decay this way
   * (`param_groups[0]["weight_decay"] = wd_schedule[it]`).
   */
  setWeightDecay(weightDecay: number): void {
    checkWd('AdamW.setWeightDecay', weightDecay);
    for (const g of this.groups) if (g.weightDecay > 0) g.weightDecay = weightDecay;
  }

  /**
   * The eps this step uses: `eps`, raised to `halfPrecisionEps` when the
   * active backend stores floats in 16 bits.
   */
  effectiveEps(): number {
    return halfPrecisionBackend() ? Math.max(this.eps, this.halfPrecisionEps) : this.eps;
  }

  /** Every variable the optimiser updates, in group order. */
  variables(): tf.Variable[] {
    return [...this.byName.values()].map((s) => s.variable);
  }

  /** Parameter names, in group order. */
  names(): string[] {
    return [...this.byName.keys()];
  }

  private slotFor(key: string): Slot {
    const s = this.byVariable.get(key) ?? this.byName.get(key);
    if (s === undefined) {
      throw new Error(`AdamW.step: gradient '${key}' matches no parameter of the optimiser (expected a tf.Variable name or a parameter name)`);
    }
    return s;
  }

  /**
   * Applies one AdamW update.
   *
   * @param grads gradients keyed by `tf.Variable` name (what
   *   `tf.variableGrads` returns) or by the parameter's dotted name; not
   *   disposed here. Parameters missing from `grads` are not updated.
   * @param lr if given, the base learning rate from this step on (as
   *   {@link AdamW.setLearningRate}).
   */
  step(grads: tf.NamedTensorMap, lr?: number): void {
    if (lr !== undefined) this.setLearningRate(lr);
    // Validate everything before touching any tensor.
    const work: [Slot, tf.Tensor][] = [];
    const seen = new Set<Slot>();
    for (const [key, g] of Object.entries(grads)) {
      const slot = this.slotFor(key);
      if (seen.has(slot)) throw new Error(`AdamW.step: two gradients for parameter '${slot.name}'`);
      seen.add(slot);
      if (!tf.util.arraysEqual(g.shape, slot.variable.shape)) {
        throw new Error(
          `AdamW.step: gradient of '${slot.name}' must have shape [${slot.variable.shape}], got [${g.shape}]`,
        );
      }
      work.push([slot, g]);
    }
    const b1 = this.beta1;
    const b2 = this.beta2;
    const eps = this.effectiveEps();
    for (const [slot, g] of work) {
      if (slot.expAvg === null || slot.expAvgSq === null) {
        slot.expAvg = tf.tidy(() => tf.variable(tf.zerosLike(slot.variable), false));
        slot.expAvgSq = tf.tidy(() => tf.variable(tf.zerosLike(slot.variable), false));
      }
      const m = slot.expAvg;
      const v = slot.expAvgSq;
      slot.step += 1;
      const t = slot.step;
      const groupLr = this.learningRate * slot.group.lrScale;
      const wd = slot.group.weightDecay;
      const stepSize = groupLr / (1 - b1 ** t);
      const bc2Sqrt = Math.sqrt(1 - b2 ** t);
      tf.tidy(() => {
        const grad = g.dtype === 'float32' ? g : tf.cast(g, 'float32');
        let p: tf.Tensor = slot.variable;
        if (wd !== 0) p = tf.mul(p, 1 - groupLr * wd);
        // exp_avg.lerp_(grad, 1 - beta1), exp_avg_sq.mul_(beta2).addcmul_(grad, grad, 1 - beta2)
        const m1 = tf.add(m, tf.mul(tf.sub(grad, m), 1 - b1));
        const v1 = tf.add(tf.mul(v, b2), tf.mul(tf.mul(grad, grad), 1 - b2));
        const denom = tf.add(tf.div(tf.sqrt(v1), bc2Sqrt), eps);
        const p1 = tf.sub(p, tf.mul(tf.div(m1, denom), stepSize));
        m.assign(m1);
        v.assign(v1);
        slot.variable.assign(p1);
      });
    }
  }

  /**
   * A copy of the optimiser state (for checkpoints): per parameter name its
   * step count and moments as new tensors, which the caller disposes.
   */
  getState(): AdamWState {
    const params = new Map<string, AdamWParamState>();
    for (const s of this.byName.values()) {
      if (s.expAvg === null || s.expAvgSq === null) continue;
      params.set(s.name, { step: s.step, expAvg: tf.clone(s.expAvg), expAvgSq: tf.clone(s.expAvgSq) });
    }
    return { lr: this.learningRate, params };
  }

  /**
   * Restores a state from {@link AdamW.getState} (values are copied; the
   * caller keeps ownership of `state`). Parameters absent from `state` start
   * afresh; every name and shape is checked before anything changes.
   */
  setState(state: AdamWState): void {
    checkLr('AdamW.setState', state.lr);
    for (const [name, ps] of state.params) {
      const s = this.byName.get(name);
      if (s === undefined) throw new Error(`AdamW.setState: state for unknown parameter '${name}'`);
      if (!Number.isInteger(ps.step) || ps.step < 1) {
        throw new Error(`AdamW.setState: step of '${name}' must be an integer >= 1, got ${ps.step}`);
      }
      for (const [k, tns] of [['expAvg', ps.expAvg], ['expAvgSq', ps.expAvgSq]] as const) {
        if (!tf.util.arraysEqual(tns.shape, s.variable.shape)) {
          throw new Error(
            `AdamW.setState: ${k} of '${name}' must have shape [${s.variable.shape}], got [${tns.shape}]`,
          );
        }
      }
    }
    this.reset();
    this.learningRate = state.lr;
    for (const [name, ps] of state.params) {
      const s = this.byName.get(name)!;
      s.step = ps.step;
      s.expAvg = tf.tidy(() => tf.variable(tf.cast(ps.expAvg, 'float32'), false));
      s.expAvgSq = tf.tidy(() => tf.variable(tf.cast(ps.expAvgSq, 'float32'), false));
    }
  }

  private reset(): void {
    for (const s of this.byName.values()) {
      s.expAvg?.dispose();
      s.expAvgSq?.dispose();
      s.expAvg = null;
      s.expAvgSq = null;
      s.step = 0;
    }
  }

  /**
   * Frees the moment buffers and resets every step count; the parameters are
   * untouched. The optimiser stays usable and starts again from zero moments.
   */
  dispose(): void {
    this.reset();
  }
}

/**
 * Flattens an {@link AdamWState} into named tensors for a checkpoint file
 * (safetensors or tfjs weights): `<param>.exp_avg`, `<param>.exp_avg_sq`
 * (float32, the parameter's shape), `<param>.step` (int32 scalar), and `lr`
 * (float32 scalar). The moments are the state's own tensors, not copies.
 */
export function adamWStateToTensors(state: AdamWState): Map<string, tf.Tensor> {
  const out = new Map<string, tf.Tensor>();
  out.set('lr', tf.scalar(state.lr, 'float32'));
  for (const [name, s] of state.params) {
    out.set(`${name}.exp_avg`, s.expAvg);
    out.set(`${name}.exp_avg_sq`, s.expAvgSq);
    out.set(`${name}.step`, tf.scalar(s.step, 'int32'));
  }
  return out;
}

/**
 * The inverse of {@link adamWStateToTensors}: reads `lr` and every
 * `<param>.exp_avg` / `.exp_avg_sq` / `.step` triple (each name must have all
 * three). The moments in the result are the map's own tensors; the `lr` and
 * `step` scalars are read and may be disposed by the caller.
 */
export function adamWStateFromTensors(tensors: ReadonlyMap<string, tf.Tensor>): AdamWState {
  const lrT = tensors.get('lr');
  if (lrT === undefined || lrT.size !== 1) {
    throw new Error(`adamWStateFromTensors: tensors must hold a scalar 'lr', got ${lrT === undefined ? 'none' : `shape [${lrT.shape}]`}`);
  }
  const params = new Map<string, AdamWParamState>();
  const suffixes = ['.exp_avg_sq', '.exp_avg', '.step'];
  const names = new Set<string>();
  for (const key of tensors.keys()) {
    if (key === 'lr') continue;
    const sfx = suffixes.find((s) => key.endsWith(s));
    if (sfx === undefined) {
      throw new Error(`adamWStateFromTensors: unexpected key '${key}' (expected 'lr' or '<param>.exp_avg', '.exp_avg_sq', '.step')`);
    }
    names.add(key.slice(0, -sfx.length));
  }
  for (const name of names) {
    const [m, v, st] = ['.exp_avg', '.exp_avg_sq', '.step'].map((s) => tensors.get(name + s));
    if (m === undefined || v === undefined || st === undefined || st.size !== 1) {
      throw new Error(`adamWStateFromTensors: parameter '${name}' needs '${name}.exp_avg', '${name}.exp_avg_sq' and a scalar '${name}.step'`);
    }
    params.set(name, { step: st.dataSync()[0]!, expAvg: m, expAvgSq: v });
  }
  return { lr: lrT.dataSync()[0]!, params };
}
