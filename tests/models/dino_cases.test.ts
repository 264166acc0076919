/**
 * The dino_model kind on cases of other configurations than the shared one
 * (head depth 1 and 2, norm_last_layer off, a global crop larger than the
 * table's grid, patch 4, one channel, equal crop sizes), written by the
 * upstream dino code through tests/conformance/gen/dino_model.py.
 */
import * as tf from '@tensorflow/tfjs-core';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runConformance } from '../conformance/runner.js';

const CASES = fileURLToPath(new URL('../conformance/cases/', import.meta.url));

describe('generated dino_model conformance cases', () => {
  it('every dino_model case passes, without leaking tensors', async () => {
    const before = tf.memory().numTensors;
    const run = await runConformance(CASES);
    const dino = run.results.filter((r) => r.kind === 'dino_model');
    expect(dino.map((r) => r.name)).toEqual(['dino_model_nlayers1_free', 'dino_model_nlayers2_equal', 'dino_model_patch4_deep']);
    expect(dino.filter((r) => !r.passed).map((r) => r.line)).toEqual([]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
