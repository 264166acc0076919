/**
 * The mae / simmim / beit_mim kinds on cases of other configurations than the
 * shared ones (grey and 2-channel images, non-square images, patch 2, no
 * qkv / q-v bias, no layer scale, no norm_pix_loss, other vocabularies,
 * relative position bias shared and per block, with and without the
 * absolute table, on non-square grids),
 * written by tests/conformance/gen/mim_cases.py (a float64 PyTorch
 * reimplementation of the README that reproduces the shared cases; see its
 * `--check` mode).
 */
import * as tf from '@tensorflow/tfjs-core';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runConformance } from '../conformance/runner.js';

const CASES = fileURLToPath(new URL('../conformance/gen/cases/', import.meta.url));

describe('generated MIM conformance cases', () => {
  it('every generated case passes, without leaking tensors', async () => {
    const before = tf.memory().numTensors;
    const run = await runConformance(CASES);
    expect(run.results.map((r) => r.name)).toEqual([
      'beit_layer_relpos', 'beit_noqv', 'beit_shared_relpos', 'beit_vocab100', 'mae_gray_nonsquare', 'mae_patch2',
      'simmim_layer_relpos', 'simmim_patch2', 'simmim_plain_gray', 'simmim_shared_relpos',
    ]);
    expect(run.results.filter((r) => !r.passed).map((r) => r.line)).toEqual([]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
