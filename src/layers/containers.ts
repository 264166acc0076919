import * as tf from '@tensorflow/tfjs-core';
import { serialization } from '@tensorflow/tfjs-core';
import { Module } from './module.js';

/** Options shared by the containers: a layer name and the seed their unseeded parts are drawn from. */
export type ContainerOptions = {
  /** Layer name. */
  name?: string;
  /**
   * Seed of the parts built without one: part `key` is re-drawn from
   * `deriveSeed(seed, key)` (see `Module.reseed`). Default: 0, or the
   * parent's seed and this container's key once a parent adopts it.
   */
  seed?: number;
};

/**
 * An ordered list of modules whose weights are keyed `0.`, `1.`, ... under
 * the list's own key, as PyTorch's `nn.ModuleList` (`blocks.3.attn.qkv.weight`).
 * Iterable; parts built without a seed get distinct seeds from the list's.
 */
export class ModuleList<M extends Module = Module> extends Module implements Iterable<M> {
  static readonly className = 'MimkitModuleList';
  private readonly items: M[] = [];

  constructor(modules: readonly M[] = [], options: ContainerOptions = {}) {
    super({ name: options.name, seed: options.seed });
    if (!Array.isArray(modules)) throw new Error(`ModuleList: modules must be an array of Modules, got ${typeof modules}`);
    modules.forEach((m, i) => {
      if (!(m instanceof Module)) throw new Error(`ModuleList: modules[${i}] must be a Module, got ${m === null ? 'null' : typeof m}`);
    });
    for (const m of modules) this.append(m);
  }

  /** Adds `module` under the next index; returns this list. */
  append(module: M): this {
    if (!(module instanceof Module)) throw new Error(`ModuleList.append: module must be a Module, got ${module === null ? 'null' : typeof module}`);
    this.addModule(String(this.items.length), module);
    this.items.push(module);
    return this;
  }

  /** The module at `index` (negative counts from the end). */
  get(index: number): M {
    const i = index < 0 ? this.items.length + index : index;
    if (!Number.isInteger(index) || i < 0 || i >= this.items.length) {
      throw new Error(`ModuleList.get: index must be an integer in [${-this.items.length}, ${this.items.length}), got ${index}`);
    }
    return this.items[i]!;
  }

  /** Number of modules. */
  get length(): number {
    return this.items.length;
  }

  [Symbol.iterator](): Iterator<M> {
    return this.items[Symbol.iterator]();
  }
}
serialization.registerClass(ModuleList);

/**
 * Modules by name, keyed `<name>.` under the dictionary's own key, as
 * PyTorch's `nn.ModuleDict`; insertion order is kept.
 */
export class ModuleDict<M extends Module = Module> extends Module {
  static readonly className = 'MimkitModuleDict';
  private readonly items = new Map<string, M>();

  constructor(modules: Readonly<Record<string, M>> = {}, options: ContainerOptions = {}) {
    super({ name: options.name, seed: options.seed });
    if (modules === null || typeof modules !== 'object' || Array.isArray(modules)) {
      throw new Error(`ModuleDict: modules must be an object of Modules by name, got ${modules === null ? 'null' : typeof modules}`);
    }
    for (const [k, m] of Object.entries(modules)) {
      if (!(m instanceof Module)) throw new Error(`ModuleDict: modules['${k}'] must be a Module, got ${m === null ? 'null' : typeof m}`);
    }
    for (const [k, m] of Object.entries(modules)) this.set(k, m);
  }

  /** Adds `module` under `key` (a key with no dot; taken keys are refused); returns this. */
  set(key: string, module: M): this {
    if (typeof key !== 'string' || key === '' || key.includes('.')) {
      throw new Error(`ModuleDict.set: key must be a non-empty string without '.', got '${String(key)}'`);
    }
    if (this.items.has(key)) throw new Error(`ModuleDict.set: key '${key}' is already taken`);
    if (!(module instanceof Module)) throw new Error(`ModuleDict.set: module must be a Module, got ${module === null ? 'null' : typeof module}`);
    this.addModule(key, module);
    this.items.set(key, module);
    return this;
  }

  /** The module under `key`. */
  get(key: string): M {
    const m = this.items.get(key);
    if (m === undefined) throw new Error(`ModuleDict.get: no module under key '${key}'; keys are [${[...this.items.keys()].join(', ')}]`);
    return m;
  }

  /** Whether `key` holds a module. */
  has(key: string): boolean {
    return this.items.has(key);
  }

  /** Keys in insertion order. */
  keys(): string[] {
    return [...this.items.keys()];
  }

  /** `[key, module]` pairs in insertion order. */
  entries(): [string, M][] {
    return [...this.items.entries()];
  }

  /** Number of modules. */
  get size(): number {
    return this.items.size;
  }
}
serialization.registerClass(ModuleDict);

/** Options passed by {@link Sequential.forward} to every step. */
export type SequentialForwardOptions = {
  /** Training mode (batch statistics, dropout, drop path). Default false. */
  training?: boolean;
};

/** A module that maps one tensor to one tensor (a `Linear`, a `LayerNorm`, a `BatchNorm1d`). */
export type TensorModule = Module & { forward(x: tf.Tensor, options?: SequentialForwardOptions): tf.Tensor };

/** One step of a {@link Sequential}: a tensor-to-tensor module, or a weightless function (an activation). */
export type SequentialStep = TensorModule | ((x: tf.Tensor) => tf.Tensor);

/**
 * Steps applied in order, as PyTorch's `nn.Sequential`: step `i` has key `i`
 * whether it holds weights or not, so the weight names match the reference's
 * (`head.0.weight`, `head.1.running_mean`, `head.3.weight` with a ReLU at 2).
 * A function step (an activation) has no weights.
 */
export class Sequential extends Module {
  static readonly className = 'MimkitSequential';
  /** The steps in order. */
  readonly steps: readonly SequentialStep[];

  constructor(steps: readonly SequentialStep[], options: ContainerOptions = {}) {
    super({ name: options.name, seed: options.seed });
    if (!Array.isArray(steps)) throw new Error(`Sequential: steps must be an array, got ${typeof steps}`);
    steps.forEach((s, i) => {
      const ok = s instanceof Module ? typeof (s as { forward?: unknown }).forward === 'function' : typeof s === 'function';
      if (!ok) {
        throw new Error(`Sequential: steps[${i}] must be a Module with forward(x) or a function of a tensor, got ${s === null ? 'null' : typeof s}`);
      }
    });
    steps.forEach((s, i) => {
      if (s instanceof Module) this.addModule(String(i), s);
    });
    this.steps = [...steps];
  }

  /** Runs every step on `x` in order (inside one `tf.tidy`). */
  forward(x: tf.Tensor, options: SequentialForwardOptions = {}): tf.Tensor {
    if (!(x instanceof tf.Tensor)) throw new Error(`Sequential.forward: x must be a tensor, got ${x === null ? 'null' : typeof x}`);
    return tf.tidy(() => {
      let y = x;
      for (const s of this.steps) y = s instanceof Module ? s.forward(y, options) : s(y);
      return y;
    });
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: { training?: boolean } = {}): tf.Tensor {
    return this.forward(Array.isArray(inputs) ? inputs[0]! : inputs, { training: kwargs.training });
  }
}
serialization.registerClass(Sequential);
