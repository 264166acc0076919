import * as tf from '@tensorflow/tfjs-core';

/**
 * Config validation shared by every public constructor and function, so a
 * wrong-typed or out-of-range value is refused the same way everywhere, with
 * a message naming the class, the parameter, the value and what is expected,
 * BEFORE any tensor or weight is created (`MAE: decoderEmbedDim must be an
 * integer in [1, 65536], got 1000000000`).
 *
 * - `null` is never read as "use the default": only `undefined` (or an absent
 *   key) is.
 * - Booleans must be booleans (`'false'` is not read by truthiness).
 * - Seeds must be integers (`NaN`, `Infinity`, `0.7` and `'abc'` would all
 *   collapse to the same stream).
 * - Sizes are bounded by {@link CONFIG_LIMITS}, so a typo such as
 *   `depth: 1e9` fails at once instead of building for hours or aborting the
 *   process with an out-of-memory error that cannot be caught.
 */

/**
 * Upper bounds on sizes accepted by constructors and schedules. They are far
 * above any published model (ViT-g: width 1408, depth 40, 16 heads; images
 * of a few thousand pixels; schedules of a few million steps) and low enough
 * that a refused value is a mistake, not a model.
 */
export const CONFIG_LIMITS = {
  /** Any width: embedding, hidden, head and vocabulary dimensions. */
  maxDim: 1 << 16,
  /** Blocks in a stack. */
  maxDepth: 1024,
  /** Attention heads. */
  maxHeads: 1024,
  /** Image side, in pixels. */
  maxImageSize: 1 << 16,
  /** Patch side, in pixels. */
  maxPatchSize: 1 << 12,
  /** Image channels. */
  maxChannels: 1 << 12,
  /**
   * Estimated weights of one model (2^31, 8 GiB of float32; ViT-g has 1e9):
   * checked before anything is built.
   */
  maxParams: 2 ** 31,
  /** Entries of a precomputed schedule (epochs x iterations per epoch). */
  maxScheduleSteps: 1e8,
} as const;

/** A short, safe description of any value for an error message. */
export function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v);
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (Array.isArray(v)) return `an array of length ${v.length}`;
  if (v instanceof tf.Tensor) return `a ${v.dtype} tensor of shape [${v.shape.join(', ')}]`;
  if (typeof v === 'function') return 'a function';
  return `an object (${Object.prototype.toString.call(v).slice(8, -1)})`;
}

/**
 * The config object itself: `undefined` gives `{}`; `null`, arrays, strings
 * and other non-objects are refused (`new MAE('abc')` must not build a
 * default ViT-L). With `known`, a key outside it is refused too (a misspelt
 * option would otherwise be silently ignored).
 */
export function checkConfigObject<T extends object>(where: string, config: T | undefined, known?: readonly string[]): T {
  if (config === undefined) return {} as T;
  if (config === null || typeof config !== 'object' || Array.isArray(config) || config instanceof tf.Tensor) {
    throw new Error(`${where}: config must be an object (or omitted), got ${describeValue(config)}`);
  }
  if (known !== undefined) {
    const allowed = new Set(known);
    for (const k of Object.keys(config)) {
      if (!allowed.has(k)) {
        throw new Error(`${where}: unknown config key '${k}' (known keys: ${[...known].sort().join(', ')})`);
      }
    }
  }
  return config;
}

/** `v`, or `dflt` when `v` is `undefined` (NOT when it is `null`, unlike `??`). */
export function orDefault<T>(v: T | undefined, dflt: T): T {
  return v === undefined ? dflt : v;
}

/** Bounds of {@link requireInt} / {@link optionalInt}. */
export interface IntRange {
  /** Smallest allowed value. Default 1. */
  min?: number;
  /** Largest allowed value. Default `Number.MAX_SAFE_INTEGER`. */
  max?: number;
}

/** `v` must be an integer in `[min, max]` (default `[1, 2^53)`). */
export function requireInt(where: string, name: string, v: unknown, range: IntRange = {}): number {
  const min = range.min ?? 1;
  const max = range.max ?? Number.MAX_SAFE_INTEGER;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    const span = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `in [${min}, ${max}]`;
    throw new Error(`${where}: ${name} must be an integer ${span}, got ${describeValue(v)}`);
  }
  return v;
}

/** Like {@link requireInt}; `undefined` gives `dflt`. */
export function optionalInt(where: string, name: string, v: unknown, dflt: number, range: IntRange = {}): number {
  return v === undefined ? dflt : requireInt(where, name, v, range);
}

/** Bounds of {@link requireNumber}. */
export interface NumberRange {
  min?: number;
  max?: number;
  /** `min` itself is refused. Default false. */
  minExclusive?: boolean;
  /** `max` itself is refused. Default false. */
  maxExclusive?: boolean;
}

/** `v` must be a finite number within the range. */
export function requireNumber(where: string, name: string, v: unknown, range: NumberRange = {}): number {
  const { min, max, minExclusive = false, maxExclusive = false } = range;
  const ok =
    typeof v === 'number' &&
    Number.isFinite(v) &&
    (min === undefined || (minExclusive ? v > min : v >= min)) &&
    (max === undefined || (maxExclusive ? v < max : v <= max));
  if (!ok) {
    const parts: string[] = [];
    if (min !== undefined) parts.push(`${minExclusive ? '>' : '>='} ${min}`);
    if (max !== undefined) parts.push(`${maxExclusive ? '<' : '<='} ${max}`);
    throw new Error(`${where}: ${name} must be a finite number${parts.length ? ` ${parts.join(' and ')}` : ''}, got ${describeValue(v)}`);
  }
  return v as number;
}

/** Like {@link requireNumber}; `undefined` gives `dflt`. */
export function optionalNumber(where: string, name: string, v: unknown, dflt: number, range: NumberRange = {}): number {
  return v === undefined ? dflt : requireNumber(where, name, v, range);
}

/** `v` must be `true` or `false`; `undefined` gives `dflt`. */
export function optionalBool(where: string, name: string, v: unknown, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  if (typeof v !== 'boolean') throw new Error(`${where}: ${name} must be a boolean, got ${describeValue(v)}`);
  return v;
}

/** `v` must be one of `choices`; `undefined` gives `dflt`. */
export function optionalOneOf<T extends string | number | boolean | null>(
  where: string,
  name: string,
  v: unknown,
  dflt: T,
  choices: readonly T[],
): T {
  if (v === undefined) return dflt;
  if (!choices.includes(v as T)) {
    throw new Error(`${where}: ${name} must be one of ${choices.map((c) => describeValue(c)).join(', ')}, got ${describeValue(v)}`);
  }
  return v as T;
}

/** `v` must be a string; `undefined` gives `dflt`. */
export function optionalString(where: string, name: string, v: unknown, dflt: string): string {
  if (v === undefined) return dflt;
  if (typeof v !== 'string') throw new Error(`${where}: ${name} must be a string, got ${describeValue(v)}`);
  return v;
}

/**
 * A seed: a safe integer (any sign); `undefined` gives `dflt` (0). `NaN`,
 * `Infinity`, fractions and strings are refused, since they would silently
 * all give the same stream.
 */
export function optionalSeed(where: string, v: unknown, dflt = 0, name = 'seed'): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) {
    throw new Error(`${where}: ${name} must be a safe integer, got ${describeValue(v)}`);
  }
  return v;
}

/** Options of {@link checkTensorArg}. */
export interface TensorArgSpec {
  /** Exact rank. */
  rank?: number;
  /** Allowed dtypes. Default `['float32']`. */
  dtypes?: readonly tf.DataType[];
  /** What the tensor is, for the message (`'[B, H, W, C] images'`). */
  what?: string;
  /** Refuse a zero-size leading (batch) axis. Default true. */
  nonEmpty?: boolean;
}

/**
 * Checks a tensor argument before any tensor work: a live `tf.Tensor` of the
 * given rank and dtype (float32 unless said: int32 or bool images are
 * refused, not silently cast) with a non-empty batch axis (several backends
 * divide by the batch size: tfjs-wasm throws `RuntimeError: divide by zero`).
 */
export function checkTensorArg(where: string, name: string, x: unknown, spec: TensorArgSpec = {}): asserts x is tf.Tensor {
  const what = spec.what !== undefined ? ` ${spec.what}` : '';
  if (!(x instanceof tf.Tensor)) throw new Error(`${where}: ${name} must be a tf.Tensor${what}, got ${describeValue(x)}`);
  if (x.isDisposed) throw new Error(`${where}: ${name} is a disposed tensor`);
  if (spec.rank !== undefined && x.rank !== spec.rank) {
    throw new Error(`${where}: ${name} must have rank ${spec.rank}${what}, got shape [${x.shape.join(',')}]`);
  }
  const dtypes = spec.dtypes ?? ['float32'];
  if (!dtypes.includes(x.dtype)) {
    throw new Error(`${where}: ${name} must be ${dtypes.join(' or ')}, got dtype ${x.dtype} (cast it first, e.g. tf.cast(x, '${dtypes[0]}'))`);
  }
  if ((spec.nonEmpty ?? true) && x.rank > 0 && x.shape[0] === 0) {
    throw new Error(`${where}: ${name} has an empty batch (shape [${x.shape.join(', ')}]); at least one sample is needed`);
  }
}

/** An image or grid size: a positive integer or `[height, width]`, each at most `max`. */
export function checkSize2d(where: string, name: string, v: unknown, max: number = CONFIG_LIMITS.maxImageSize): [number, number] {
  const ok = (x: unknown): x is number => typeof x === 'number' && Number.isInteger(x) && x >= 1 && x <= max;
  if (ok(v)) return [v, v];
  if (Array.isArray(v) && v.length === 2 && ok(v[0]) && ok(v[1])) return [v[0], v[1]];
  const got = Array.isArray(v) ? `[${v.map((x) => describeValue(x)).join(', ')}]` : describeValue(v);
  throw new Error(`${where}: ${name} must be an integer in [1, ${max}] or [height, width] of such, got ${got}`);
}

/** Names and values of a transformer stack's sizes, for {@link checkTransformerStack}. */
export interface TransformerStackSpec {
  /** `[userName, value]` of the width, e.g. `['decoderEmbedDim', 512]`. */
  dim: [string, unknown];
  /** `[userName, value]` of the number of blocks. */
  depth: [string, unknown];
  /** `[userName, value]` of the number of heads. */
  numHeads: [string, unknown];
  /** `[userName, value]` of the MLP ratio. */
  mlpRatio: [string, unknown];
  /** Extra tokens-by-width weights (position tables): their element count. */
  extraParams?: number;
}

/**
 * Checks a transformer stack's sizes under the USER's parameter names
 * (`MAE: decoderEmbedDim ...`, not an inner part's `PixelDecoder: embedDim`):
 * integer width, depth and heads within {@link CONFIG_LIMITS}, width
 * divisible by heads, MLP ratio > 0, and a parameter estimate
 * (`depth * (4 + 2 * mlpRatio) * dim^2`) under `maxParams`, so nothing is
 * built for a model that could not fit in memory.
 */
export function checkTransformerStack(where: string, spec: TransformerStackSpec): { dim: number; depth: number; numHeads: number; mlpRatio: number } {
  const dim = requireInt(where, spec.dim[0], spec.dim[1], { min: 1, max: CONFIG_LIMITS.maxDim });
  const depth = requireInt(where, spec.depth[0], spec.depth[1], { min: 0, max: CONFIG_LIMITS.maxDepth });
  const numHeads = requireInt(where, spec.numHeads[0], spec.numHeads[1], { min: 1, max: CONFIG_LIMITS.maxHeads });
  if (dim % numHeads !== 0) {
    throw new Error(`${where}: ${spec.dim[0]} ${dim} is not divisible by ${spec.numHeads[0]} ${numHeads}`);
  }
  const mlpRatio = requireNumber(where, spec.mlpRatio[0], spec.mlpRatio[1], { min: 0, minExclusive: true, max: 64 });
  checkParamBudget(where, depth * (4 + 2 * mlpRatio) * dim * dim + (spec.extraParams ?? 0), `${spec.dim[0]} ${dim}, ${spec.depth[0]} ${depth}`);
  return { dim, depth, numHeads, mlpRatio };
}

/** Refuses a model whose estimated parameter count exceeds `CONFIG_LIMITS.maxParams`. */
export function checkParamBudget(where: string, estimate: number, what: string): void {
  if (!(estimate <= CONFIG_LIMITS.maxParams)) {
    throw new Error(
      `${where}: ${what} would need about ${estimate.toExponential(2)} weights, above the limit of ` +
        `${CONFIG_LIMITS.maxParams.toExponential(2)} (CONFIG_LIMITS.maxParams); nothing was built`,
    );
  }
}

/** A required config object: like {@link checkConfigObject}, but `undefined` is refused too. */
export function requireConfig<T extends object>(where: string, config: T | undefined, known?: readonly string[]): T {
  if (config === undefined) throw new Error(`${where}: a config object is required, got undefined`);
  return checkConfigObject(where, config, known);
}

/** `x` must be a live `tf.Tensor` (any dtype, rank or size). */
export function requireTensor(where: string, name: string, x: unknown): asserts x is tf.Tensor {
  if (!(x instanceof tf.Tensor)) throw new Error(`${where}: ${name} must be a tf.Tensor, got ${describeValue(x)}`);
  if (x.isDisposed) throw new Error(`${where}: ${name} is a disposed tensor`);
}

/** `v` must be a non-null object (not an array); for options and image records. */
export function requireObject(where: string, name: string, v: unknown): void {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    throw new Error(`${where}: ${name} must be an object, got ${describeValue(v)}`);
  }
}
