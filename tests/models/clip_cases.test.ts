/**
 * The clip_model kind on open_clip configurations that the shared case does
 * not cover (QuickGELU with layer scale, attentional pooling with and without
 * width == embed_dim, 'avg' pooling without ln_pre, FLIP patch dropout with
 * the kept indices), written by tests/conformance/gen/clip_model.py from the
 * upstream open_clip code at the pinned commit.
 */
import * as tf from '@tensorflow/tfjs-core';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runConformance } from '../conformance/runner.js';

const CASES = fileURLToPath(new URL('../conformance/cases/', import.meta.url));

describe('generated clip_model conformance cases (open_clip)', () => {
  it('every case passes, without leaking tensors', async () => {
    const before = tf.memory().numTensors;
    const run = await runConformance(CASES);
    // The folder also holds other kinds' generated cases (their own tests check them).
    const mine = run.results.filter((r) => r.kind === 'clip_model');
    expect(mine.map((r) => r.name)).toEqual(['clip_attnpool', 'clip_attnpool_square', 'clip_quickgelu_ls', 'flip_patch_dropout']);
    expect(mine.filter((r) => !r.passed).map((r) => r.line)).toEqual([]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
