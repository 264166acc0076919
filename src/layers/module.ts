import * as tf from '@tensorflow/tfjs-core';
import { layers, LayerVariable } from '@tensorflow/tfjs-layers';
import { deriveSeed } from '../utils/random.js';
import { initTensor, type Init } from './init.js';
import { ensureGradients } from '../ops/gradients.js';
import { describeValue, optionalSeed } from '../utils/config.js';

/** A weight of a {@link Module}, as tfjs-layers holds it. */
export type Weight = LayerVariable;

/**
 * How a weight is laid out in the PyTorch reference, so import and export can
 * convert once at the boundary:
 * - `same`: identical shape and order (LayerNorm, biases, tokens, tables);
 * - `linear`: PyTorch `nn.Linear` `[out, in]`, stored here `[in, out]`;
 * - `convMatrix`: PyTorch `Conv2d` `[out, in, kh, kw]`, stored here as the
 *   matrix `[kh * kw * in, out]` whose row `(i * kw + j) * in + c` is kernel
 *   position `(i, j)`, input channel `c` (the NHWC patchify order).
 */
export type TorchLayout =
  | { kind: 'same' }
  | { kind: 'linear' }
  | { kind: 'convMatrix'; kh: number; kw: number; inChannels: number };

/** Options of {@link Module.addParam}. */
export interface ParamOptions {
  /** Whether an optimiser updates it. Default `true`. */
  trainable?: boolean;
  /** PyTorch layout of this weight. Default `{ kind: 'same' }`. */
  layout?: TorchLayout;
}

/**
 * Base class of every building block: a tfjs-layers `Layer` (so it composes
 * and serialises the host framework's way) that also knows its weights and
 * sub-modules by name, in the reference implementation's dotted `state_dict`
 * naming (`blocks.0.attn.qkv.weight`). Weight import and export go through
 * {@link Module.namedWeights}.
 *
 * Weights are created in the constructor (every dimension is known from the
 * config), each from its own seed derived from the module's seed and the
 * weight's name, so initial weights are reproducible.
 */
export abstract class Module extends layers.Layer {
  /** Own weights by local name (`weight`, `bias`, `cls_token`, ...). */
  private readonly ownWeights = new Map<string, Weight>();
  private readonly ownLayouts = new Map<string, TorchLayout>();
  /** Sub-modules by local name (`attn`, `mlp`, `blocks.0`, ...). */
  private readonly subModules = new Map<string, Module>();
  /** Sub-modules whose keys sit at this module's level (see {@link Module.addModule}). */
  private readonly splicedModules = new Set<string>();
  /** How each own weight was drawn, so {@link Module.reseed} can draw it again. */
  private readonly ownInits = new Map<string, Init>();
  /** Each own weight's own trainability (a fixed table is never trainable, whatever the module says). */
  private readonly ownTrainable = new Map<string, boolean>();
  /** Seed from which every weight seed of this module is derived. */
  protected seed: number;
  /** Whether the seed came from the author (constructor or {@link Module.reseed}), not the default. */
  private seedGiven: boolean;
  /** Set by {@link Module.dispose} (on this module and every sub-module). */
  private disposedFlag = false;

  constructor(args: { name?: string; seed?: number; trainable?: boolean } = {}) {
    // Checked here, before the Layer exists, so every subclass refuses a
    // wrong-typed name or seed the same way (`seed: 0.7` or `NaN` would
    // otherwise collapse to seed 0).
    const where = new.target.name;
    if (args.name !== undefined && typeof args.name !== 'string') {
      throw new Error(`${where}: name must be a string, got ${describeValue(args.name)}`);
    }
    const seed = optionalSeed(where, args.seed);
    super({ name: args.name, trainable: args.trainable ?? true });
    // Gradients are registered by the library itself, wherever it is imported.
    ensureGradients();
    this.seed = seed;
    this.seedGiven = args.seed !== undefined;
    this.built = true;
  }

  /** Whether {@link Module.dispose} has been called (on this module or a parent). */
  get isDisposed(): boolean {
    return this.disposedFlag;
  }

  /** Throws `<Class> '<name>' was disposed` if it was: a guard for the top of public methods. */
  protected checkNotDisposed(): void {
    if (this.disposedFlag) throw new Error(`${this.constructor.name} '${this.name}' was disposed`);
  }

  /**
   * For a constructor's `catch`: disposes every weight and sub-module built
   * so far, then rethrows `e`, so a constructor that fails partway leaks
   * nothing. (Configs are validated before anything is built; this is the
   * safety net for what validation cannot foresee.)
   */
  protected abandon(e: unknown): never {
    this.dispose();
    throw e;
  }

  /**
   * The class name tfjs-layers uses for default layer names and
   * serialisation: the static `className` when the class declares one, else
   * the JavaScript class name, so a user's subclass needs neither a `name`
   * nor a `className` to be constructed.
   */
  override getClassName(): string {
    const ctor = this.constructor as { className?: string; name: string };
    return Object.prototype.hasOwnProperty.call(ctor, 'className') && ctor.className ? ctor.className : ctor.name || 'Module';
  }

  /**
   * Creates a weight. `name` is the reference's local key (`weight`, `bias`,
   * `gamma`); `init` draws from a seed derived from the module seed and name.
   */
  protected addParam(name: string, shape: number[], init: Init, options: ParamOptions = {}): Weight {
    const trainable = options.trainable ?? true;
    if (this.ownWeights.has(name) || this.subModules.has(name)) {
      throw new Error(`${this.getClassName()}: duplicate weight name '${name}'`);
    }
    const value = initTensor(init, shape, deriveSeed(this.seed, name));
    const v = new LayerVariable(value, 'float32', `${this.name}/${name}`, trainable && this.trainable);
    value.dispose();
    this.ownWeights.set(name, v);
    this.ownLayouts.set(name, options.layout ?? { kind: 'same' });
    this.ownInits.set(name, init);
    this.ownTrainable.set(name, trainable);
    return v;
  }

  /**
   * Registers a sub-module under its reference key and returns it. With
   * `{ spliceKeys: true }` its weights and sub-modules appear at this
   * module's own key level, without the `name.` prefix: for a reference that
   * keeps a part's weights at the top of its `state_dict` (MAE's encoder and
   * decoder, BEiT's encoder), while the part stays a reusable module here.
   *
   * A module built without an explicit `seed` is re-drawn here from
   * `deriveSeed(this seed, name)` (see {@link Module.reseed}), as PyTorch's
   * global generator would give each new part its own values: two sibling
   * `Linear`s built without seeds never start identical, and the parent's
   * seed decides them. A frozen parent freezes what it adopts.
   */
  protected addModule<M extends Module>(name: string, module: M, options: { spliceKeys?: boolean } = {}): M {
    if (this.ownWeights.has(name) || this.subModules.has(name)) {
      throw new Error(`${this.getClassName()}: duplicate sub-module name '${name}'`);
    }
    const existing = this.namedWeights();
    this.subModules.set(name, module);
    if (options.spliceKeys) this.splicedModules.add(name);
    const p = this.childPrefix('', name);
    for (const key of module.namedWeights(p).keys()) {
      if (existing.has(key)) {
        this.subModules.delete(name);
        this.splicedModules.delete(name);
        // The refused part would be unreachable: free its weights.
        module.dispose();
        throw new Error(`${this.getClassName() ?? this.constructor.name}: sub-module '${name}' brings weight key '${key}', which this module already has`);
      }
    }
    if (!module.seedGiven) module.reseed(deriveSeed(this.seed, name));
    if (!this.trainable) module.trainable = false;
    return module;
  }

  /**
   * Re-draws every weight of this module and its sub-modules as if the module
   * had been built with `seed`: own weights from `deriveSeed(seed, name)` with
   * their initialisers, each sub-module from `deriveSeed(seed, key)`, then
   * {@link Module.onReseed} (a model's own initialisation scheme). Called by
   * {@link Module.addModule} for parts built without a seed.
   */
  reseed(seed: number): void {
    if (!Number.isFinite(seed)) throw new Error(`${this.getClassName()}.reseed: seed must be a finite number, got ${String(seed)}`);
    this.seed = seed;
    this.seedGiven = true;
    // Resolved configs record their seed; keep it truthful (they are plain objects).
    const config = (this as unknown as { config?: { seed?: unknown } }).config;
    if (config && typeof config === 'object' && typeof config.seed === 'number' && !Object.isFrozen(config)) config.seed = seed;
    for (const [name, w] of this.ownWeights) {
      const t = initTensor(this.ownInits.get(name)!, w.shape as number[], deriveSeed(seed, name));
      w.write(t);
      t.dispose();
    }
    for (const [name, m] of this.subModules) m.reseed(deriveSeed(seed, name));
    this.onReseed();
  }

  /**
   * Hook run at the end of {@link Module.reseed}, after every weight was
   * re-drawn: a module whose initialisation is more than its weights'
   * initialisers (BEiT's depth rescaling, a generator's state) redoes it here.
   */
  protected onReseed(): void {}

  /**
   * Whether an optimiser trains this module's weights. Setting it to false
   * freezes every weight of the module and its sub-modules (PyTorch's
   * `requires_grad_(False)`); setting it to true unfreezes them, except the
   * weights that are fixed by construction (a sine-cosine table, running
   * statistics).
   */
  override get trainable(): boolean {
    return this.trainable_;
  }

  override set trainable(value: boolean) {
    if (typeof value !== 'boolean') throw new Error(`${this.getClassName()}: trainable must be a boolean, got ${String(value)}`);
    this.trainable_ = value;
    // Called by the base constructor before this class's fields exist.
    if (this.ownWeights === undefined) return;
    for (const [name, w] of this.ownWeights) w.trainable = value && this.ownTrainable.get(name)!;
    for (const m of this.subModules.values()) m.trainable = value;
  }

  /** Freezes every weight of this module and its sub-modules; returns this. */
  freeze(): this {
    this.trainable = false;
    return this;
  }

  /** Undoes {@link Module.freeze}; returns this. */
  unfreeze(): this {
    this.trainable = true;
    return this;
  }

  /** The key prefix of sub-module `name` under `p` (`p` ends with a dot or is empty). */
  private childPrefix(p: string, name: string): string {
    return this.splicedModules.has(name) ? p.replace(/\.$/, '') : p + name;
  }

  /** Seed for a sub-module named `name` (derived, so siblings differ). */
  protected childSeed(name: string): number {
    return deriveSeed(this.seed, name);
  }

  /**
   * Every weight of this module and its sub-modules, keyed by dotted path in
   * the reference naming (`prefix` is prepended, with a dot).
   */
  namedWeights(prefix = ''): Map<string, Weight> {
    const out = new Map<string, Weight>();
    const p = prefix === '' ? '' : `${prefix}.`;
    for (const [k, v] of this.ownWeights) out.set(p + k, v);
    for (const [k, m] of this.subModules) {
      for (const [kk, v] of m.namedWeights(this.childPrefix(p, k))) out.set(kk, v);
    }
    return out;
  }

  /** The PyTorch layout of every weight, keyed like {@link Module.namedWeights}. */
  namedLayouts(prefix = ''): Map<string, TorchLayout> {
    const out = new Map<string, TorchLayout>();
    const p = prefix === '' ? '' : `${prefix}.`;
    for (const [k, v] of this.ownLayouts) out.set(p + k, v);
    for (const [k, m] of this.subModules) {
      for (const [kk, v] of m.namedLayouts(this.childPrefix(p, k))) out.set(kk, v);
    }
    return out;
  }

  /**
   * Sub-modules by key, in registration order; a spliced sub-module is
   * replaced by its own children, so the keys match {@link Module.namedWeights}.
   */
  children(): Map<string, Module> {
    const out = new Map<string, Module>();
    for (const [k, m] of this.subModules) {
      if (this.splicedModules.has(k)) for (const [kk, c] of m.children()) out.set(kk, c);
      else out.set(k, m);
    }
    return out;
  }

  override get trainableWeights(): LayerVariable[] {
    if (!this.trainable_) return [];
    return [...this.namedWeights().values()].filter((w) => w.trainable);
  }

  override set trainableWeights(_w: LayerVariable[]) {
    throw new Error(`${this.getClassName()}: weights are managed by name; use namedWeights()`);
  }

  override get nonTrainableWeights(): LayerVariable[] {
    const all = [...this.namedWeights().values()];
    return this.trainable_ ? all.filter((w) => !w.trainable) : all;
  }

  override set nonTrainableWeights(_w: LayerVariable[]) {
    throw new Error(`${this.getClassName()}: weights are managed by name; use namedWeights()`);
  }

  /** The tfjs variables to optimise (what `tf.variableGrads` takes). */
  trainableVariables(): tf.Variable[] {
    return this.trainableWeights.map((w) => w.read() as tf.Variable);
  }

  /** Number of scalar weights (trainable and not). */
  override countParams(): number {
    let n = 0;
    for (const w of this.namedWeights().values()) n += w.shape.reduce((a, b) => a! * b!, 1)!;
    return n;
  }

  /**
   * Disposes every weight of this module and its sub-modules. Idempotent: a
   * second call does nothing. Afterwards, any use of the module (a forward
   * pass, `trainableVariables()`, `loadWeights`, ...) throws
   * `<Class> '<name>' was disposed` instead of a tfjs internal error.
   */
  override dispose(): { refCountAfterDispose: number; numDisposedVariables: number } {
    if (this.disposedFlag) return { refCountAfterDispose: 0, numDisposedVariables: 0 };
    const message = `${this.constructor.name} '${this.name}' was disposed`;
    let n = 0;
    for (const w of this.namedWeights().values()) {
      const val = (w as unknown as { val: tf.Variable }).val;
      if (val !== undefined && !val.isDisposed) {
        val.dispose();
        n++;
      }
      // Every later read or write of this weight says what happened.
      const refuse = (): never => {
        throw new Error(message);
      };
      Object.defineProperty(w, 'read', { value: refuse, configurable: true });
      Object.defineProperty(w, 'write', { value: refuse, configurable: true });
      Object.defineProperty(w, 'dispose', { value: () => undefined, configurable: true });
    }
    this.markDisposed();
    return { refCountAfterDispose: 0, numDisposedVariables: n };
  }

  private markDisposed(): void {
    this.disposedFlag = true;
    for (const m of this.subModules.values()) m.markDisposed();
  }
}

/**
 * Throws unless `m` is a live {@link Module}: for functions that take one
 * (`exportWeights`, `saveWeights`, ...), so `null` or a disposed model is
 * named instead of failing inside.
 */
export function checkModuleArg(where: string, name: string, m: unknown): asserts m is Module {
  if (!(m instanceof Module)) throw new Error(`${where}: ${name} must be a Module, got ${describeValue(m)}`);
  if (m.isDisposed) throw new Error(`${where}: ${m.constructor.name} '${m.name}' was disposed`);
}
