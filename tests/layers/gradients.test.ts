/**
 * One generic test walks every building block: each trainable variable gets
 * a non-zero gradient, no output or gradient is NaN, and forward + backward
 * leaves no tensor behind.
 */
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { Attention, Block, LayerScale, Mlp, PatchEmbed, type Module } from '../../src/layers/index.js';
import { VisionTransformer } from '../../src/models/vit.js';
import { seededNormal } from './helpers.js';

interface Case {
  name: string;
  make: () => Module;
  input: number[];
  forward: (m: Module, x: tf.Tensor) => tf.Tensor[];
}

const D = 8;
const cases: Case[] = [
  { name: 'PatchEmbed', make: () => new PatchEmbed({ imgSize: [8, 4], patchSize: 2, inChans: 3, embedDim: D, seed: 1 }), input: [2, 8, 4, 3], forward: (m, x) => [(m as PatchEmbed).forward(x)] },
  ...(['qkv', 'none', 'qv'] as const).map((qkvBias) => ({
    name: `Attention qkvBias=${qkvBias}`,
    make: () => new Attention({ dim: D, numHeads: 2, qkvBias, seed: 2 }),
    input: [2, 5, D],
    forward: (m: Module, x: tf.Tensor) => {
      const r = (m as Attention).forward(x, { returnAttention: true });
      return [r.out, r.attn!];
    },
  })),
  { name: 'Mlp', make: () => new Mlp({ inFeatures: D, seed: 3 }), input: [2, 5, D], forward: (m, x) => [(m as Mlp).forward(x)] },
  { name: 'LayerScale', make: () => new LayerScale({ dim: D, initValues: 0.1 }), input: [2, 5, D], forward: (m, x) => [(m as LayerScale).forward(x)] },
  { name: 'Block', make: () => new Block({ dim: D, numHeads: 2, seed: 4 }), input: [2, 5, D], forward: (m, x) => [(m as Block).forward(x).out] },
  {
    name: 'Block with layer scale (timm), drop path, training',
    make: () => new Block({ dim: D, numHeads: 2, initValues: 0.1, dropPath: 0.1, seed: 5 }),
    input: [2, 5, D],
    forward: (m, x) => [(m as Block).forward(x, { training: true }).out],
  },
  {
    name: 'Block BEiT form (qv, gamma_1/gamma_2)',
    make: () => new Block({ dim: D, numHeads: 2, initValues: 0.1, layerScaleNaming: 'beit', qkvBias: 'qv', seed: 6 }),
    input: [2, 5, D],
    forward: (m, x) => [(m as Block).forward(x).out],
  },
  {
    name: 'VisionTransformer (learned table)',
    make: () => new VisionTransformer({ imgSize: 8, patchSize: 4, embedDim: D, depth: 2, numHeads: 2, seed: 7 }),
    input: [2, 8, 8, 3],
    forward: (m, x) => {
      const r = (m as VisionTransformer).forwardFeatures(x, { returnAttention: true });
      return [r.tokens, ...r.attentions!];
    },
  },
  {
    name: 'VisionTransformer (sincos, layer scale, drop path)',
    make: () => new VisionTransformer({ imgSize: [4, 8], patchSize: 2, inChans: 1, embedDim: D, depth: 2, numHeads: 2, posEmbed: 'sincos', initValues: 0.1, dropPathRate: 0.1, seed: 8 }),
    input: [2, 4, 8, 1],
    forward: (m, x) => [(m as VisionTransformer).forwardFeatures(x, { training: true }).tokens],
  },
];

describe('every block: gradients reach every trainable variable', () => {
  it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const m = c.make();
    const x = seededNormal(c.input, 11);
    const vars = m.trainableVariables();
    expect(vars.length).toBeGreaterThan(0);
    // Random projection of the outputs: a plain sum would give exact zeros
    // for LayerNorm's weight and the softmax (rows sum to 1).
    const probe = (m2: tf.Tensor[]) => m2.map((o, i) => seededNormal(o.shape, 100 + i));
    const shapes = tf.tidy(() => c.forward(m, x).map((o) => o.shape));
    const weights = probe(shapes.map((s) => tf.zeros(s)));
    const before = tf.memory().numTensors;
    const outs: tf.Tensor[] = [];
    const { value, grads } = tf.variableGrads(() => {
      const os = c.forward(m, x);
      for (const o of os) outs.push(tf.keep(o.clone()));
      return tf.addN(os.map((o, i) => tf.sum(tf.mul(o, weights[i]!)))) as tf.Scalar;
    }, vars);
    for (const o of outs) expect(Array.from(o.dataSync()).some(Number.isNaN)).toBe(false);
    expect(Number.isFinite(value.dataSync()[0])).toBe(true);
    expect(Object.keys(grads).length).toBe(vars.length);
    for (const v of vars) {
      const g = grads[v.name]!;
      expect(g.shape).toEqual(v.shape);
      const a = g.dataSync();
      expect(a.some(Number.isNaN)).toBe(false);
      expect(a.some((e) => e !== 0), `gradient of ${v.name} is all zero`).toBe(true);
    }
    tf.dispose([value, ...Object.values(grads), ...outs]);
    expect(tf.memory().numTensors).toBe(before);
    m.dispose();
    tf.dispose([x, ...weights]);
  });
});
