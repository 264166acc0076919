/**
 * The `pos_resize` cases of tests/conformance/cases/ (written by
 * tests/conformance/gen/pos_resize_cases.py from the pinned upstream timm and
 * MAE code): timm's `resample_abs_pos_embed` with antialias on and off, MAE's
 * `interpolate_pos_embed`, timm's `resize_rel_pos_bias_table`, up and down.
 */
import * as tf from '@tensorflow/tfjs-core';
import { copyFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { runConformance } from './runner.js';

const CASES = fileURLToPath(new URL('./cases/', import.meta.url));

describe('pos_resize conformance cases', () => {
  // Only this kind's files (the folder holds other kinds' cases too).
  const dir = mkdtempSync(join(tmpdir(), 'mimkit-pos-resize-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('every case passes (antialias on/off, absolute and relative tables), without leaking tensors', async () => {
    const files = readdirSync(CASES).filter((f) => f.startsWith('pos_resize_') && f.endsWith('.safetensors'));
    for (const f of files) copyFileSync(join(CASES, f), join(dir, f));
    const before = tf.memory().numTensors;
    const run = await runConformance(dir);
    expect(run.results.map((r) => r.name)).toEqual([
      'pos_resize_mae_224_to_160', 'pos_resize_mae_224_to_256', 'pos_resize_rel_10_to_7', 'pos_resize_rel_4_to_6x5',
      'pos_resize_rel_7_to_10', 'pos_resize_timm_aa_224_to_160', 'pos_resize_timm_aa_224_to_256', 'pos_resize_timm_aa_nonsquare',
      'pos_resize_timm_aa_noprefix', 'pos_resize_timm_noaa_224_to_160', 'pos_resize_timm_noaa_224_to_256', 'pos_resize_timm_noaa_nonsquare',
    ]);
    expect(run.results.filter((r) => !r.passed).map((r) => r.line)).toEqual([]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
