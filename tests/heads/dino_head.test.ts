import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { DINOHead } from '../../src/heads/index.js';
import { WeightNormLinear } from '../../src/layers/index.js';
import { exportWeights, loadWeights } from '../../src/io/index.js';
import { Rng } from '../../src/utils/random.js';

/** Row-major matrix product of plain arrays `[n, k] x [k, m]`. */
function matmul(a: Float32Array | number[], b: Float32Array | number[], n: number, k: number, m: number): Float64Array {
  const out = new Float64Array(n * m);
  for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) {
    let s = 0;
    for (let t = 0; t < k; t++) s += a[i * k + t]! * b[t * m + j]!;
    out[i * m + j] = s;
  }
  return out;
}

const erf = (x: number): number => {
  // Abramowitz-Stegun 7.1.26 is too coarse; use a series/continued fraction via Math (float64).
  const t = 1 / (1 + 0.5 * Math.abs(x));
  const y = 1 - t * Math.exp(-x * x - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
    t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return x >= 0 ? y : -y;
};

describe('WeightNormLinear', () => {
  it('computes x (g * v / |v|) with PyTorch layouts [out, in] and [out, 1], by hand', () => {
    const before = tf.memory().numTensors;
    const layer = new WeightNormLinear({ inFeatures: 3, outFeatures: 2, seed: 4 });
    const vTorch = [1, 2, 2, 0, 3, 4]; // rows: |(1,2,2)| = 3, |(0,3,4)| = 5
    const gTorch = [2, 0.5];
    const src = new Map<string, tf.Tensor>([
      ['weight_v', tf.tensor2d(vTorch, [2, 3])],
      ['weight_g', tf.tensor2d(gTorch, [2, 1])],
    ]);
    loadWeights(layer, src);
    tf.dispose([...src.values()]);
    const x = tf.tensor2d([1, 1, 1, -1, 0.5, 2], [2, 3]);
    const y = layer.forward(x);
    const want = [
      (2 * (1 + 2 + 2)) / 3, (0.5 * (0 + 3 + 4)) / 5,
      (2 * (-1 + 1 + 4)) / 3, (0.5 * (0 + 1.5 + 8)) / 5,
    ];
    expect(y.shape).toEqual([2, 2]);
    const got = y.dataSync();
    want.forEach((w, i) => expect(got[i]).toBeCloseTo(w, 5));
    const out = exportWeights(layer);
    expect(out.get('weight_v')!.shape).toEqual([2, 3]);
    expect([...out.get('weight_v')!.dataSync()]).toEqual(vTorch);
    expect(out.get('weight_g')!.shape).toEqual([2, 1]);
    tf.dispose([x, y, ...out.values()]);
    layer.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('fixedNorm freezes weight_g; without it both weights get gradients', () => {
    const fixed = new WeightNormLinear({ inFeatures: 4, outFeatures: 3, fixedNorm: true });
    expect([...fixed.namedWeights()].filter(([, w]) => w.trainable).map(([k]) => k)).toEqual(['weight_v']);
    const free = new WeightNormLinear({ inFeatures: 4, outFeatures: 3 });
    const x = tf.randomNormal([5, 4], 0, 1, 'float32', 1);
    const { grads, value } = tf.variableGrads(() => tf.sum(tf.square(free.forward(x))) as tf.Scalar, free.trainableVariables());
    expect(Object.keys(grads)).toHaveLength(2);
    for (const g of Object.values(grads)) expect(tf.max(tf.abs(g)).dataSync()[0]).toBeGreaterThan(0);
    tf.dispose([x, value, ...Object.values(grads)]);
    fixed.dispose();
    free.dispose();
  });

  it('rejects bad sizes and inputs before any tensor work', () => {
    const before = tf.memory().numTensors;
    expect(() => new WeightNormLinear({ inFeatures: 0, outFeatures: 2 })).toThrow(/inFeatures must be a positive integer, got 0/);
    const l = new WeightNormLinear({ inFeatures: 3, outFeatures: 2 });
    const n = tf.memory().numTensors;
    const x = tf.zeros([2, 4]);
    expect(() => l.forward(x)).toThrow(/inFeatures=3, got shape \[2,4\]/);
    x.dispose();
    expect(tf.memory().numTensors).toBe(n);
    l.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('DINOHead', () => {
  it.each([
    [1, ['mlp.weight', 'mlp.bias']],
    [2, ['mlp.0.weight', 'mlp.0.bias', 'mlp.2.weight', 'mlp.2.bias']],
    [3, ['mlp.0.weight', 'mlp.0.bias', 'mlp.2.weight', 'mlp.2.bias', 'mlp.4.weight', 'mlp.4.bias']],
  ])('nlayers %i: dino key names, shapes [B, K]', (nlayers, mlpKeys) => {
    const before = tf.memory().numTensors;
    const head = new DINOHead({ inDim: 8, outDim: 10, nlayers, hiddenDim: 12, bottleneckDim: 5, seed: 3 });
    expect([...head.namedWeights().keys()]).toEqual([...mlpKeys, 'last_layer.weight_v', 'last_layer.weight_g']);
    const x = tf.randomNormal([4, 8], 0, 1, 'float32', 2);
    const y = head.forward(x);
    expect(y.shape).toEqual([4, 10]);
    const z = head.forwardBottleneck(x);
    const norms = tf.norm(z, 'euclidean', 1);
    for (const v of norms.dataSync()) expect(v).toBeCloseTo(1, 5);
    tf.dispose([x, y, z, norms]);
    head.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('matches a hand computation: MLP with exact GELU, l2-normalise, weight-normalised last layer', () => {
    const head = new DINOHead({ inDim: 3, outDim: 4, nlayers: 2, hiddenDim: 5, bottleneckDim: 2, normLastLayer: false, seed: 9 });
    const rng = new Rng(1);
    const rand = (n: number) => Array.from({ length: n }, () => rng.normal());
    const torch: Record<string, { shape: number[]; data: number[] }> = {
      'mlp.0.weight': { shape: [5, 3], data: rand(15) },
      'mlp.0.bias': { shape: [5], data: rand(5) },
      'mlp.2.weight': { shape: [2, 5], data: rand(10) },
      'mlp.2.bias': { shape: [2], data: rand(2) },
      'last_layer.weight_v': { shape: [4, 2], data: rand(8) },
      'last_layer.weight_g': { shape: [4, 1], data: rand(4) },
    };
    const src = new Map(Object.entries(torch).map(([k, v]) => [k, tf.tensor(v.data, v.shape)]));
    loadWeights(head, src);
    tf.dispose([...src.values()]);
    const xs = rand(6);
    const x = tf.tensor2d(xs, [2, 3]);
    const got = head.forward(x).arraySync() as number[][];
    x.dispose();
    const T = (w: { shape: number[]; data: number[] }) => {
      const [o, i] = w.shape as [number, number];
      return Array.from({ length: i * o }, (_, k) => w.data[(k % o) * i + Math.floor(k / o)]!);
    };
    for (let b = 0; b < 2; b++) {
      let h = Array.from(matmul(xs.slice(b * 3, b * 3 + 3), T(torch['mlp.0.weight']!), 1, 3, 5)).map((v, j) => v + torch['mlp.0.bias']!.data[j]!);
      h = h.map((v) => 0.5 * v * (1 + erf(v / Math.SQRT2)));
      let z = Array.from(matmul(h, T(torch['mlp.2.weight']!), 1, 5, 2)).map((v, j) => v + torch['mlp.2.bias']!.data[j]!);
      const nz = Math.max(Math.hypot(...z), 1e-12);
      z = z.map((v) => v / nz);
      for (let k = 0; k < 4; k++) {
        const v = torch['last_layer.weight_v']!.data.slice(2 * k, 2 * k + 2);
        const g = torch['last_layer.weight_g']!.data[k]!;
        const want = (g * (z[0]! * v[0]! + z[1]! * v[1]!)) / Math.hypot(...v);
        expect(got[b]![k]).toBeCloseTo(want, 4);
      }
    }
    head.dispose();
  });

  it('normLastLayer (default) keeps weight_g at 1 and out of the trainable set; off, it trains', () => {
    const on = new DINOHead({ inDim: 4, outDim: 6, nlayers: 2, hiddenDim: 8, bottleneckDim: 3 });
    expect(on.config).toMatchObject({ outDim: 6, normLastLayer: true });
    expect([...on.lastLayer.weightG.read().dataSync()]).toEqual([1, 1, 1, 1, 1, 1]);
    const names = (h: DINOHead) => [...h.namedWeights()].filter(([, w]) => w.trainable).map(([k]) => k);
    expect(names(on)).not.toContain('last_layer.weight_g');
    expect(on.trainableVariables()).toHaveLength(5);
    const off = new DINOHead({ inDim: 4, outDim: 6, nlayers: 2, hiddenDim: 8, bottleneckDim: 3, normLastLayer: false });
    expect(names(off)).toContain('last_layer.weight_g');
    on.dispose();
    off.dispose();
  });

  it('paper defaults: 65536 outputs, 3 layers, hidden 2048, bottleneck 256; dino init (trunc normal 0.02, zero bias)', () => {
    const head = new DINOHead({ inDim: 16 });
    expect(head.config).toEqual({ inDim: 16, outDim: 65536, nlayers: 3, hiddenDim: 2048, bottleneckDim: 256, normLastLayer: true, seed: 0 });
    const w = Float32Array.from(head.layers[0]!.weight.read().dataSync());
    let ss = 0;
    for (const v of w) ss += v * v;
    const std = Math.sqrt(ss / w.length);
    expect(std).toBeGreaterThan(0.015);
    expect(std).toBeLessThan(0.02);
    expect(w.every((v) => Math.abs(v) <= 0.04 + 1e-7)).toBe(true);
    expect(Float32Array.from(head.layers[0]!.bias!.read().dataSync()).every((v) => v === 0)).toBe(true);
    // Sibling layers draw from different seeds.
    expect(head.layers[1]!.weight.read().dataSync()[0]).not.toBe(head.layers[2]!.weight.read().dataSync()[0]);
    head.dispose();
  });

  it('every trainable weight gets a non-zero gradient', () => {
    const head = new DINOHead({ inDim: 4, outDim: 6, nlayers: 3, hiddenDim: 8, bottleneckDim: 3, normLastLayer: false, seed: 2 });
    const x = tf.randomNormal([5, 4], 0, 1, 'float32', 3);
    const { value, grads } = tf.variableGrads(() => tf.sum(tf.square(tf.sin(head.forward(x)))) as tf.Scalar, head.trainableVariables());
    expect(Object.keys(grads)).toHaveLength(8);
    for (const g of Object.values(grads)) expect(tf.max(tf.abs(g)).dataSync()[0]).toBeGreaterThan(0);
    tf.dispose([x, value, ...Object.values(grads)]);
    head.dispose();
  });

  it('errors name the parameter, the value and what was expected, leaking nothing', () => {
    const before = tf.memory().numTensors;
    expect(() => new DINOHead({ inDim: 4, nlayers: 0 })).toThrow(/DINOHead: nlayers must be a positive integer, got 0/);
    expect(() => new DINOHead({ inDim: 4, outDim: 2.5 })).toThrow(/outDim must be a positive integer, got 2.5/);
    expect(() => new DINOHead({ inDim: 4, normLastLayer: 1 as unknown as boolean })).toThrow(/normLastLayer must be a boolean, got 1/);
    expect(tf.memory().numTensors).toBe(before);
    const head = new DINOHead({ inDim: 4, outDim: 6, nlayers: 1, bottleneckDim: 3 });
    const n = tf.memory().numTensors;
    const x = tf.zeros([2, 5]);
    expect(() => head.forward(x)).toThrow(/DINOHead: x must be \[B, inDim=4\], got shape \[2,5\]/);
    x.dispose();
    expect(tf.memory().numTensors).toBe(n);
    head.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
