/**
 * The beit3_model kind on configurations that the shared case does not cover
 * (image only with a vision mask and no sub-LN, text only with padding of
 * different lengths, one-channel image-text pairs with padding and a mask,
 * image-text without a padding input and eps 1e-6), written by
 * tests/conformance/gen/beit3_model.py from the upstream torchscale code at
 * the pinned commit.
 */
import * as tf from '@tensorflow/tfjs-core';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runConformance } from '../conformance/runner.js';

const CASES = fileURLToPath(new URL('../conformance/cases/', import.meta.url));

describe('generated beit3_model conformance cases (torchscale)', () => {
  it('every case passes, without leaking tensors', async () => {
    const before = tf.memory().numTensors;
    const run = await runConformance(CASES);
    const mine = run.results.filter((r) => r.kind === 'beit3_model');
    expect(mine.map((r) => r.name)).toEqual(['beit3_image_masked', 'beit3_pair_gray_nosubln', 'beit3_pair_nopad_eps', 'beit3_text_padding']);
    expect(mine.filter((r) => !r.passed).map((r) => r.line)).toEqual([]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
