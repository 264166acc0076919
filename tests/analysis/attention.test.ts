import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import {
  attentionDistanceByLayer,
  attentionHeadDiversity,
  attentionMaps,
  meanAttentionDistance,
  meanAttentionDistancePerHead,
  patchDistanceMatrix,
} from '../../src/analysis/index.js';
import { VisionTransformer } from '../../src/models/vit.js';
import { run as attentionDistanceKind } from '../conformance/kinds/attention_distance.js';
import { checkKind, expectClose, loadCase, seededNormal } from '../layers/helpers.js';

describe('meanAttentionDistance', () => {
  it('hand example: class token dropped, no renormalisation, pixel distances', () => {
    // Grid 1x2 of 4-pixel patches, one class token. Head 0: patch 0 gives 0.5 to the class token
    // and 0.25 to each patch -> 0.25 * 4 = 1; patch 1 attends fully to patch 0 -> 4; mean 2.5.
    // Head 1: each patch splits 0.5 / 0.5 over the patches -> 2 each; mean 2.
    const attn = tf.tensor4d([
      [
        [[1, 0, 0], [0.5, 0.25, 0.25], [0, 1, 0]],
        [[1, 0, 0], [0, 0.5, 0.5], [0, 0.5, 0.5]],
      ],
    ]);
    const before = tf.memory().numTensors;
    const d = meanAttentionDistance(attn, { gridSize: [1, 2], patchSize: 4 });
    expect(d.shape).toEqual([1, 2]);
    expectClose(d, [2.5, 2], 1e-6, 0);
    d.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('distance matrix: row-major patches, Euclidean between centres', () => {
    const m = patchDistanceMatrix(2, 3, 2).arraySync();
    expect(m[0]![5]).toBeCloseTo(2 * Math.sqrt(1 + 4), 5); // (0,0) -> (1,2)
    expect(m[1]![4]).toBe(2); // (0,1) -> (1,1)
    expect(m[2]![2]).toBe(0);
  });

  it('reproduces the attention_distance conformance case (kind and direct)', async () => {
    await checkKind('attention_distance', attentionDistanceKind);
    const c = loadCase('attention_distance');
    const cfg = c.config as { grid_size: [number, number]; patch_size: number; num_prefix_tokens: number };
    const d = meanAttentionDistance(c.tensor('input.attn'), { gridSize: cfg.grid_size, patchSize: cfg.patch_size, numPrefixTokens: cfg.num_prefix_tokens });
    expectClose(d, c.tensor('expect.distance'), 1e-4, 1e-4);
    // Batch average per head.
    const perHead = meanAttentionDistancePerHead(c.tensor('input.attn'), { gridSize: cfg.grid_size, patchSize: cfg.patch_size });
    expectClose(perHead, tf.mean(c.tensor('expect.distance'), 0), 1e-4, 1e-4);
  });

  it('by layer: [layers, heads] batch averages; no prefix tokens; non-square grid', () => {
    const uniform = tf.fill([2, 3, 6, 6], 1 / 6);
    const self = tf.tile(tf.reshape(tf.eye(6), [1, 1, 6, 6]), [2, 3, 1, 1]);
    const opts = { gridSize: [2, 3] as [number, number], patchSize: 1, numPrefixTokens: 0 };
    const byLayer = attentionDistanceByLayer([uniform, self], opts);
    expect(byLayer.shape).toEqual([2, 3]);
    // Uniform attention on a 2x3 grid: mean over all ordered pairs of distances / 6.
    const dm = patchDistanceMatrix(2, 3, 1).dataSync();
    const meanDist = Array.from(dm).reduce((a, b) => a + b, 0) / 36;
    expectClose(byLayer, [meanDist, meanDist, meanDist, 0, 0, 0], 1e-6, 1e-6);
  });

  it('rejects attention that does not match the grid, before any tensor work', () => {
    const attn = tf.zeros([1, 2, 10, 10]);
    const before = tf.memory().numTensors;
    expect(() => meanAttentionDistance(attn, { gridSize: [3, 3], patchSize: 4, numPrefixTokens: 0 })).toThrow(
      /attn has T=10 tokens .*expected numPrefixTokens \+ rows\*cols = 0 \+ 3\*3 = 9/,
    );
    expect(() => meanAttentionDistance(attn, { gridSize: 3, patchSize: 0 })).toThrow(/patchSize must be a positive number, got 0/);
    expect(() => attentionDistanceByLayer([], { gridSize: 3, patchSize: 4 })).toThrow(/at least one layer/);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('attentionMaps', () => {
  it('returns one [B, heads, T, T] probability map per block from a ViT', () => {
    const vit = new VisionTransformer({ imgSize: [8, 12], patchSize: 4, embedDim: 8, depth: 3, numHeads: 2, seed: 1 });
    const x = seededNormal([2, 8, 12, 3], 5);
    const before = tf.memory().numTensors;
    const maps = attentionMaps(vit, x);
    expect(maps.map((m) => m.shape)).toEqual([[2, 2, 7, 7], [2, 2, 7, 7], [2, 2, 7, 7]]);
    const sums = tf.sum(maps[2]!, -1);
    expectClose(sums, new Array(2 * 2 * 7).fill(1), 1e-5, 0);
    const d = attentionDistanceByLayer(maps, { gridSize: vit.gridSize, patchSize: 4 });
    expect(d.shape).toEqual([3, 2]);
    tf.dispose([...maps, sums, d]);
    expect(tf.memory().numTensors).toBe(before);
    vit.dispose();
  });
});

describe('attentionHeadDiversity', () => {
  it('mean pairwise KL between heads (hand example); zero for identical heads', () => {
    const attn = tf.tensor4d([[[[0.5, 0.5], [0.5, 0.5]], [[0.9, 0.1], [0.9, 0.1]]]]);
    const kl01 = 0.5 * Math.log(0.5 / 0.9) + 0.5 * Math.log(0.5 / 0.1);
    const kl10 = 0.9 * Math.log(0.9 / 0.5) + 0.1 * Math.log(0.1 / 0.5);
    expectClose(attentionHeadDiversity(attn), [(kl01 + kl10) / 2], 1e-6, 1e-5);
    const same = tf.tensor4d([[[[0.2, 0.8], [0.6, 0.4]], [[0.2, 0.8], [0.6, 0.4]]]]);
    expectClose(attentionHeadDiversity(same), [0], 1e-6, 0);
  });

  it('rejects fewer than two heads and a non-square map', () => {
    expect(() => attentionHeadDiversity(tf.zeros([1, 1, 3, 3]))).toThrow(/at least 2 heads, got 1/);
    expect(() => attentionHeadDiversity(tf.zeros([1, 2, 3, 4]))).toThrow(/attn must be \[B, heads, T, T\], got shape \[1,2,3,4\]/);
  });
});
