import * as tf from '@tensorflow/tfjs-core';
import { Module } from '../../src/index.js';

/** A module holding zero-initialised weights at given names, to mirror a model's naming. */
class Bag extends Module {
  static readonly className = 'TestTrainBag';
  param(name: string, shape: number[], values?: number[]): void {
    const init = values ? { kind: 'values' as const, values: Float32Array.from(values) } : { kind: 'zeros' as const };
    this.addParam(name, shape, init);
  }
  child(name: string): Bag {
    const existing = this.children().get(name);
    if (existing) return existing as Bag;
    return this.addModule(name, new Bag({ name: `${this.name}_${name.replace(/\./g, '_')}` }));
  }
}

/**
 * A Module whose `namedWeights()` keys are exactly `spec`'s keys (dotted names
 * are split into nested sub-modules at every dot but the last).
 */
export function moduleFromNames(spec: Record<string, number[]>): Module {
  const root = new Bag({});
  for (const [name, shape] of Object.entries(spec)) {
    const parts = name.split('.');
    let m = root;
    for (const p of parts.slice(0, -1)) m = m.child(p);
    m.param(parts[parts.length - 1]!, shape);
  }
  return root;
}

/** Max absolute difference of a tensor and an array. */
export function maxDiff(t: tf.Tensor, want: number[]): number {
  const got = t.dataSync();
  expectLen(got.length, want.length);
  let d = 0;
  for (let i = 0; i < want.length; i++) d = Math.max(d, Math.abs(got[i]! - want[i]!));
  return d;
}

function expectLen(a: number, b: number): void {
  if (a !== b) throw new Error(`length ${a} != ${b}`);
}
