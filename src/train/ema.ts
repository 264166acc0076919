import * as tf from '@tensorflow/tfjs-core';
import { namedVariables, type NamedVariables } from './param_groups.js';
import { requireObject } from '../utils/config.js';

/** Config of {@link EMA}. */
export interface EMAConfig {
  /**
   * Default momentum `m` of {@link EMA.update} (`target = m * target + (1 - m)
   * * source`). Default 0.996 (DINO's and BYOL's base teacher momentum; MoCo
   * v3 uses 0.99, timm's EMA weights 0.9998). Usually scheduled per step with
   * {@link cosineMomentum}.
   */
  momentum?: number;
}

function checkMomentum(fn: string, m: number): void {
  if (!Number.isFinite(m) || m < 0 || m > 1) {
    throw new Error(`${fn}: momentum must be in [0, 1], got ${m}`);
  }
}

function toNamed(fn: string, arg: string, x: NamedVariables | tf.Variable[]): Map<string, tf.Variable> {
  if (x === null || typeof x !== 'object') {
    throw new Error(`${fn}: ${arg} must be a Module, a Map of tf.Variables or an array of them, got ${x === null ? 'null' : typeof x}`);
  }
  if (Array.isArray(x)) {
    const out = new Map<string, tf.Variable>();
    x.forEach((v, i) => {
      if (!(v instanceof tf.Variable)) throw new Error(`${fn}: ${arg}[${i}] must be a tf.Variable`);
      out.set(String(i), v);
    });
    return out;
  }
  return namedVariables(x);
}

/**
 * Exponential moving average of a set of variables (the source, e.g. a
 * student or online encoder) into a target set (a momentum encoder, DINO's
 * teacher, or EMA weights for evaluation):
 * `target = m * target + (1 - m) * source`, with the momentum settable per
 * call. This is MoCo's momentum update (He et al., 2020; MoCo v3, Chen et al.,
 * 2021), BYOL's target network (Grill et al., 2020) and DINO's teacher (Caron
 * et al., 2021).
 *
 * Source and target are paired by name (two Modules of the same architecture,
 * or name maps) or by position (two variable lists); every weight takes part,
 * trainable or not, as PyTorch's `parameters()` does. Without a target, the
 * EMA keeps its own copy of the source (timm's `ModelEmaV2`), read with
 * {@link EMA.targets} and freed by {@link EMA.dispose}.
 */
export class EMA {
  private readonly pairs: { name: string; source: tf.Variable; target: tf.Variable }[] = [];
  private readonly owned: boolean;
  private momentumValue: number;

  /**
   * @param source the variables to average (left unchanged).
   * @param target the variables that receive the average; omit to let the
   *   EMA allocate a copy of `source`.
   * @param config default momentum.
   */
  constructor(
    source: NamedVariables | tf.Variable[],
    target?: NamedVariables | tf.Variable[],
    config: EMAConfig = {},
  ) {
    if (source === null || typeof source !== 'object') {
      throw new Error(`EMA: source must be a Module, a Map<string, Variable> or a tf.Variable[], got ${source === null ? 'null' : typeof source}`);
    }
    requireObject('EMA', 'config', config);
    const momentum = config.momentum ?? 0.996;
    checkMomentum('EMA', momentum);
    this.momentumValue = momentum;
    const src = toNamed('EMA', 'source', source);
    if (src.size === 0) throw new Error('EMA: source must hold at least one variable, got 0');
    if (target === undefined) {
      this.owned = true;
      for (const [name, s] of src) {
        const t = tf.tidy(() => tf.variable(tf.clone(s), false));
        this.pairs.push({ name, source: s, target: t });
      }
      return;
    }
    this.owned = false;
    const tgt = toNamed('EMA', 'target', target);
    const missing = [...src.keys()].filter((k) => !tgt.has(k));
    const extra = [...tgt.keys()].filter((k) => !src.has(k));
    if (missing.length > 0 || extra.length > 0) {
      throw new Error(
        `EMA: source and target must hold the same names; missing in target: [${missing.join(', ')}], ` +
          `missing in source: [${extra.join(', ')}]`,
      );
    }
    for (const [name, s] of src) {
      const t = tgt.get(name)!;
      if (!tf.util.arraysEqual(s.shape, t.shape)) {
        throw new Error(`EMA: '${name}' has shape [${s.shape}] in source but [${t.shape}] in target`);
      }
      if (s === t) throw new Error(`EMA: '${name}' is the same variable in source and target`);
      this.pairs.push({ name, source: s, target: t });
    }
  }

  /** The default momentum of {@link EMA.update}. */
  get momentum(): number {
    return this.momentumValue;
  }

  /** Sets the default momentum. */
  setMomentum(momentum: number): void {
    checkMomentum('EMA.setMomentum', momentum);
    this.momentumValue = momentum;
  }

  /**
   * One update `target = m * target + (1 - m) * source` (no gradient flows).
   * @param momentum this step's `m`; default the current momentum.
   */
  update(momentum?: number): void {
    const m = momentum ?? this.momentumValue;
    checkMomentum('EMA.update', m);
    tf.tidy(() => {
      for (const { source, target } of this.pairs) {
        target.assign(tf.add(tf.mul(target, m), tf.mul(source, 1 - m)));
      }
    });
  }

  /** The target variables by name (list positions `'0'`, `'1'`, ... for lists). */
  targets(): Map<string, tf.Variable> {
    return new Map(this.pairs.map((p) => [p.name, p.target]));
  }

  /** Frees the copies the EMA allocated itself; a given target is left alone. */
  dispose(): void {
    if (!this.owned) return;
    for (const p of this.pairs) if (!p.target.isDisposed) p.target.dispose();
  }
}
