/**
 * Helpers shared by the model tests: the gradient walk (every trainable
 * variable gets a finite, non-zero gradient), a short AdamW training loop that
 * records losses and tensor counts, weight comparison, and the "throws before
 * any tensor work" check.
 */
import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'vitest';
import type { Module } from '../../src/layers/module.js';
import { AdamW } from '../../src/train/adamw.js';
import { trainStep } from '../../src/train/train_step.js';

/**
 * Differentiates `lossFn` w.r.t. every trainable variable of `model`; each
 * gradient must be finite and not all zero. Forward + backward must leave no
 * tensor behind. Returns the names of the variables (dotted keys).
 */
export function expectEveryGradient(model: Module, lossFn: () => tf.Scalar): string[] {
  const named = [...model.namedWeights()].filter(([, w]) => w.trainable);
  const vars = model.trainableVariables();
  expect(vars.length).toBe(named.length);
  const before = tf.memory().numTensors;
  const { value, grads } = tf.variableGrads(lossFn, vars);
  expect(Number.isFinite(value.dataSync()[0]!)).toBe(true);
  const byVar = new Map(named.map(([k, w]) => [(w.read() as tf.Variable).name, k]));
  for (const v of vars) {
    const g = grads[v.name];
    const key = byVar.get(v.name) ?? v.name;
    expect(g, `no gradient for ${key}`).toBeDefined();
    const a = g!.dataSync();
    expect(a.some((e) => !Number.isFinite(e)), `non-finite gradient for ${key}`).toBe(false);
    expect(a.some((e) => e !== 0), `gradient of ${key} is all zero`).toBe(true);
  }
  tf.dispose([value, ...Object.values(grads)]);
  expect(tf.memory().numTensors).toBe(before);
  return named.map(([k]) => k);
}

/**
 * `steps` AdamW steps (weight decay 0) through `trainStep`; returns the losses
 * and the tensor count after each step. The optimiser is disposed at the end.
 */
export function train(model: Module, lossFn: () => tf.Scalar, steps: number, lr: number): { losses: number[]; counts: number[] } {
  const opt = new AdamW(model, { lr, weightDecay: 0 });
  const losses: number[] = [];
  const counts: number[] = [];
  try {
    for (let i = 0; i < steps; i++) {
      losses.push(trainStep(lossFn, model, opt).loss);
      counts.push(tf.memory().numTensors);
    }
  } finally {
    opt.dispose();
  }
  return { losses, counts };
}

/** Every weight of `a` and `b` has the same key, shape and bit-identical values. */
export function expectSameWeights(a: Module, b: Module): void {
  const wa = a.namedWeights();
  const wb = b.namedWeights();
  expect([...wa.keys()]).toEqual([...wb.keys()]);
  for (const [k, w] of wa) {
    const x = w.read().dataSync();
    const y = wb.get(k)!.read().dataSync();
    expect(x.length, k).toBe(y.length);
    for (let i = 0; i < x.length; i++) {
      if (!Object.is(x[i], y[i])) throw new Error(`weight ${k} differs at ${i}: ${x[i]} vs ${y[i]}`);
    }
  }
}

/** `fn` throws an Error matching `pattern` and allocates no tensor before throwing. */
export function expectThrowsEarly(fn: () => unknown, pattern: RegExp): void {
  const before = tf.memory().numTensors;
  expect(fn).toThrow(pattern);
  expect(tf.memory().numTensors).toBe(before);
}

/** Deterministic pseudo-random float32 values in [0, 1) (a tiny LCG, same on every backend). */
export function uniformTensor(shape: number[], seed: number): tf.Tensor {
  let s = (seed * 2654435761) >>> 0;
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 4294967296;
  }
  return tf.tensor(out, shape, 'float32');
}
