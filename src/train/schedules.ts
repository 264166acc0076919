import { CONFIG_LIMITS } from '../utils/config.js';

/** Config of {@link cosineSchedule}. */
export interface CosineScheduleConfig {
  /** Peak learning rate, reached at the end of the warm-up. */
  baseLr: number;
  /** Final learning rate. Default 0 (MAE pretraining; MAE fine-tuning uses 1e-6). */
  minLr?: number;
  /**
   * Length of the linear warm-up from 0, in the unit of `t` (steps, or
   * fractional epochs as MAE counts). Default 0 (no warm-up).
   */
  warmupSteps?: number;
  /** Length of the whole schedule in the unit of `t`; must exceed `warmupSteps`. */
  totalSteps: number;
}

function finite(fn: string, key: string, v: number, min: number, minInclusive = true): void {
  if (!Number.isFinite(v) || (minInclusive ? v < min : v <= min)) {
    throw new Error(`${fn}: ${key} must be a finite number ${minInclusive ? '>=' : '>'} ${min}, got ${v}`);
  }
}

/**
 * Linear warm-up from 0 then half-cycle cosine to `minLr`: MAE's
 * `util/lr_sched.adjust_learning_rate` (He et al., "Masked Autoencoders Are
 * Scalable Vision Learners", 2022; the cosine part from Loshchilov & Hutter,
 * "SGDR", 2017), evaluated at any (fractional) point `t`:
 *
 * ```
 * t < warmup: lr = baseLr * t / warmup
 * otherwise:  lr = minLr + (baseLr - minLr) * 0.5 * (1 + cos(pi * (t - warmup) / (total - warmup)))
 * ```
 *
 * MAE calls it every iteration with `t = epoch + iter / itersPerEpoch`; pass
 * steps and `totalSteps` for the per-step variant. Past `totalSteps` the rate
 * stays at `minLr` (MAE never goes there; the bare formula would rise again).
 *
 * @returns `t -> lr`; `t` must be a finite number >= 0.
 */
export function cosineSchedule(config: CosineScheduleConfig): (t: number) => number {
  const fn = 'cosineSchedule';
  const { baseLr, totalSteps } = config;
  const minLr = config.minLr ?? 0;
  const warmup = config.warmupSteps ?? 0;
  finite(fn, 'baseLr', baseLr, 0);
  finite(fn, 'minLr', minLr, 0);
  finite(fn, 'warmupSteps', warmup, 0);
  finite(fn, 'totalSteps', totalSteps, 0, false);
  if (!(totalSteps > warmup)) {
    throw new Error(`${fn}: totalSteps must be > warmupSteps=${warmup}, got ${totalSteps}`);
  }
  return (t: number): number => {
    finite(fn, 't', t, 0);
    if (t < warmup) return (baseLr * t) / warmup;
    if (t >= totalSteps) return minLr;
    return minLr + (baseLr - minLr) * 0.5 * (1 + Math.cos((Math.PI * (t - warmup)) / (totalSteps - warmup)));
  };
}

/** Config of {@link cosineScheduler}. */
export interface CosineSchedulerConfig {
  /** Value at the end of the warm-up (the start of the cosine). */
  baseValue: number;
  /** Value the cosine heads to (reached only in the limit, as in DINO). */
  finalValue: number;
  /** Number of epochs. */
  epochs: number;
  /** Iterations per epoch. */
  nIterPerEpoch: number;
  /** Warm-up epochs. Default 0. */
  warmupEpochs?: number;
  /** Value at the first warm-up step. Default 0. */
  startWarmupValue?: number;
  /**
   * Warm-up length in iterations; when > 0 it replaces
   * `warmupEpochs * nIterPerEpoch` (BEiT's `warmup_steps`). Default -1 (unused).
   */
  warmupSteps?: number;
}

/**
 * A per-iteration cosine schedule as an array, DINO/BEiT's
 * `utils.cosine_scheduler(base_value, final_value, epochs, niter_per_ep,
 * warmup_epochs, start_warmup_value, warmup_steps)` (Caron et al., "Emerging
 * Properties in Self-Supervised Vision Transformers", 2021; Bao et al.,
 * "BEiT", 2022): `np.linspace(start, base, W)` for the `W` warm-up iterations
 * (both ends included), then for `i = 0 .. n-1` with `n = epochs * nIter - W`,
 * `final + 0.5 * (base - final) * (1 + cos(pi * i / n))`.
 *
 * DINO uses it for the learning rate, the weight decay (0.04 -> 0.4) and the
 * teacher momentum (0.996 -> 1).
 *
 * @returns `epochs * nIterPerEpoch` values.
 */
export function cosineScheduler(config: CosineSchedulerConfig): number[] {
  const fn = 'cosineScheduler';
  const { baseValue, finalValue, epochs, nIterPerEpoch } = config;
  const warmupEpochs = config.warmupEpochs ?? 0;
  const start = config.startWarmupValue ?? 0;
  const warmupSteps = config.warmupSteps ?? -1;
  finite(fn, 'baseValue', baseValue, -Infinity, false);
  finite(fn, 'finalValue', finalValue, -Infinity, false);
  finite(fn, 'startWarmupValue', start, -Infinity, false);
  for (const [k, v] of [['epochs', epochs], ['nIterPerEpoch', nIterPerEpoch], ['warmupEpochs', warmupEpochs]] as const) {
    if (!Number.isInteger(v) || v < 0) throw new Error(`${fn}: ${k} must be an integer >= 0, got ${v}`);
  }
  if (!Number.isInteger(warmupSteps)) {
    throw new Error(`${fn}: warmupSteps must be an integer (<= 0 for unused), got ${warmupSteps}`);
  }
  const total = epochs * nIterPerEpoch;
  if (total > CONFIG_LIMITS.maxScheduleSteps) {
    // The table is materialised: a huge one would abort the process with an
    // out-of-memory error that cannot be caught. Use cosineSchedule (a
    // function of the step) for longer runs.
    throw new Error(
      `${fn}: epochs * nIterPerEpoch = ${total} exceeds the ${CONFIG_LIMITS.maxScheduleSteps} entries a precomputed schedule may hold (CONFIG_LIMITS.maxScheduleSteps); use cosineSchedule for a step function`,
    );
  }
  const warmupIters = warmupSteps > 0 ? warmupSteps : warmupEpochs * nIterPerEpoch;
  if (warmupIters > total) {
    throw new Error(`${fn}: warm-up of ${warmupIters} iterations must not exceed epochs * nIterPerEpoch = ${total}`);
  }
  const out: number[] = [];
  // (BEiT builds the warm-up only when warmup_epochs > 0 as well, and then
  // fails its length assertion; here warmup_steps alone suffices.)
  const w = warmupIters;
  for (let i = 0; i < w; i++) {
    // np.linspace(start, base, w): endpoint included; one point gives `start`.
    out.push(w === 1 ? start : start + ((baseValue - start) * i) / (w - 1));
  }
  const n = total - w;
  for (let i = 0; i < n; i++) {
    out.push(finalValue + 0.5 * (baseValue - finalValue) * (1 + Math.cos((Math.PI * i) / n)));
  }
  return out;
}

/**
 * The momentum of a target (teacher) network at step `k` of `K` (BYOL, Grill
 * et al., 2020; DINO's teacher): `1 - (1 - base) * (cos(pi * k / K) + 1) / 2`,
 * rising from `base` at `k = 0` to 1 at `k = K`.
 *
 * @param base initial momentum in [0, 1] (BYOL 0.996, DINO 0.996, MoCo v3 0.99).
 * @param step current step `k`, in [0, total].
 * @param total number of steps `K` > 0.
 */
export function cosineMomentum(base: number, step: number, total: number): number {
  if (!Number.isFinite(base) || base < 0 || base > 1) {
    throw new Error(`cosineMomentum: base must be in [0, 1], got ${base}`);
  }
  if (!Number.isFinite(total) || total <= 0) {
    throw new Error(`cosineMomentum: total must be a finite number > 0, got ${total}`);
  }
  if (!Number.isFinite(step) || step < 0 || step > total) {
    throw new Error(`cosineMomentum: step must be in [0, total=${total}], got ${step}`);
  }
  return 1 - ((1 - base) * (Math.cos((Math.PI * step) / total) + 1)) / 2;
}
