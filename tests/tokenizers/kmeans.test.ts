import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { kMeans, nearestCentroid } from '../../src/tokenizers/kmeans.js';
import { Rng } from '../../src/utils/random.js';

/** `perCluster` points around each centre, uniform noise of +-`noise`, shuffled; returns points and true labels. */
function blobs(centres: number[][], perCluster: number, noise: number, seed: number): { x: Float32Array; y: number[] } {
  const rng = new Rng(seed);
  const dim = centres[0]!.length;
  const order = rng.shuffle(Array.from({ length: centres.length * perCluster }, (_, i) => i % centres.length));
  const x = new Float32Array(order.length * dim);
  order.forEach((c, i) => {
    for (let t = 0; t < dim; t++) x[i * dim + t] = centres[c]![t]! + rng.uniformRange(-noise, noise);
  });
  return { x, y: order };
}

describe('kMeans', () => {
  const centres = [
    [0, 0],
    [10, 0],
    [0, 10],
    [10, 10],
  ];

  it('recovers well-separated clusters: exact means, a pure partition, the right inertia', () => {
    const { x, y } = blobs(centres, 50, 0.5, 1);
    const before = tf.memory().numTensors;
    const r = kMeans(x, 2, { k: 4, seed: 1 });
    expect(tf.memory().numTensors).toBe(before);
    expect(r.converged).toBe(true);
    // Every true cluster maps to exactly one label, and the labels differ.
    const labelOf = new Map<number, number>();
    y.forEach((c, i) => {
      if (!labelOf.has(c)) labelOf.set(c, r.assignments[i]!);
      expect(r.assignments[i]).toBe(labelOf.get(c));
    });
    expect(new Set(labelOf.values()).size).toBe(4);
    // Each centroid is the float64 mean of its true cluster.
    let inertia = 0;
    for (let c = 0; c < 4; c++) {
      const mean = [0, 0];
      let n = 0;
      y.forEach((yc, i) => {
        if (yc !== c) return;
        mean[0] += x[2 * i]!;
        mean[1] += x[2 * i + 1]!;
        n++;
      });
      mean[0] /= n;
      mean[1] /= n;
      const l = labelOf.get(c)!;
      expect(r.centroids[2 * l]).toBeCloseTo(mean[0]!, 5);
      expect(r.centroids[2 * l + 1]).toBeCloseTo(mean[1]!, 5);
      y.forEach((yc, i) => {
        if (yc === c) inertia += (x[2 * i]! - mean[0]!) ** 2 + (x[2 * i + 1]! - mean[1]!) ** 2;
      });
    }
    expect(r.inertia).toBeCloseTo(inertia, 3);
  });

  it('is deterministic: the same seed gives the same codebook bit for bit', () => {
    const { x } = blobs(centres, 40, 3, 2);
    const a = kMeans(x, 2, { k: 6, seed: 5, sampleSize: 100 });
    const b = kMeans(x, 2, { k: 6, seed: 5, sampleSize: 100 });
    expect(Array.from(a.centroids)).toEqual(Array.from(b.centroids));
    expect(Array.from(a.assignments)).toEqual(Array.from(b.assignments));
    expect(a.assignments.length).toBe(100);
    const c = kMeans(x, 2, { k: 6, seed: 6, sampleSize: 100 });
    expect(Array.from(c.centroids)).not.toEqual(Array.from(a.centroids));
  });

  it('handles duplicate points (k-means++ with zero distances, empty clusters)', () => {
    const x = new Float32Array([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 5, 5]); // five (1,1) and one (5,5)
    const r = kMeans(x, 2, { k: 3, seed: 0 });
    expect(r.inertia).toBe(0);
    expect(Array.from(r.centroids).every(Number.isFinite)).toBe(true);
    const ids = Array.from(r.assignments);
    expect(ids[5]).not.toBe(ids[0]);
    expect(new Set(ids.slice(0, 5)).size).toBe(1);
  });

  it('k = 1 is the mean; iterations 0 keeps the k-means++ seeds (data points)', () => {
    const x = new Float32Array([0, 2, 4, 10]);
    const r = kMeans(x, 1, { k: 1 });
    expect(Array.from(r.centroids)).toEqual([4]);
    expect(r.inertia).toBe(16 + 4 + 0 + 36);
    const s = kMeans(x, 1, { k: 2, iterations: 0, seed: 3 });
    for (const c of s.centroids) expect([0, 2, 4, 10]).toContain(c);
  });

  it('rejects bad input naming parameter, value and expectation', () => {
    const x = new Float32Array(6);
    expect(() => kMeans(x, 0, { k: 1 })).toThrow(/dim must be a positive integer, got 0/);
    expect(() => kMeans(x, 4, { k: 1 })).toThrow(/points must be a Float32Array of n \* dim values, got 6 values for dim 4/);
    expect(() => kMeans(x, 2, { k: 0 })).toThrow(/k must be a positive integer, got 0/);
    expect(() => kMeans(x, 2, { k: 4 })).toThrow(/k must be at most the number of points used \(3\), got 4/);
    expect(() => kMeans(x, 2, { k: 2, sampleSize: 1 })).toThrow(/k must be at most the number of points used \(1\), got 2/);
    expect(() => kMeans(x, 2, { k: 1, iterations: -1 })).toThrow(/iterations must be a non-negative integer, got -1/);
    expect(() => kMeans(new Float32Array([0, NaN]), 1, { k: 1 })).toThrow(/points must be finite, got NaN at index 1/);
  });
});

describe('nearestCentroid', () => {
  it('picks the nearest centroid, ties to the lowest index (hand example)', () => {
    const x = tf.tensor2d([[0, 0], [3, 0], [1.4, 0], [1.5, 0], [2, 5]]);
    const c = tf.tensor2d([[0, 0], [3, 0], [2, 4]]);
    const before = tf.memory().numTensors;
    const ids = nearestCentroid(x, c);
    expect(tf.memory().numTensors).toBe(before + 1);
    expect(ids.dtype).toBe('int32');
    expect(Array.from(ids.dataSync())).toEqual([0, 1, 0, 0, 2]);
    tf.dispose([x, c, ids]);
  });

  it('is exact across row chunks for a large codebook (16384 integer centroids)', () => {
    const k = 1 << 14;
    const cents = new Float32Array(2 * k);
    for (let j = 0; j < k; j++) {
      cents[2 * j] = j % 128;
      cents[2 * j + 1] = Math.floor(j / 128);
    }
    const rng = new Rng(4);
    const n = 600; // 256 rows per chunk at this k: 3 chunks
    const want: number[] = [];
    const pts = new Float32Array(2 * n);
    for (let i = 0; i < n; i++) {
      const j = rng.randint(0, k - 1);
      want.push(j);
      pts[2 * i] = j % 128;
      pts[2 * i + 1] = Math.floor(j / 128);
    }
    const x = tf.tensor2d(pts, [n, 2]);
    const c = tf.tensor2d(cents, [k, 2]);
    const ids = nearestCentroid(x, c);
    expect(Array.from(ids.dataSync())).toEqual(want);
    tf.dispose([x, c, ids]);
  });

  it('rejects mismatched shapes', () => {
    const x = tf.zeros([3, 2]) as tf.Tensor2D;
    const c = tf.zeros([4, 3]) as tf.Tensor2D;
    expect(() => nearestCentroid(x, c)).toThrow(/same d, got x.shape=\[3,2\], centroids.shape=\[4,3\]/);
    tf.dispose([x, c]);
  });
});
